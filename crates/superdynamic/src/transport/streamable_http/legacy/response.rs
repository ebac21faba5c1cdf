//! A legacy request's answer (basic/transports.mdx "Sending Messages to the Server" 5): one JSON body, or an
//! SSE stream that may carry server requests and notifications before the response.

use std::fmt;

use futures_util::StreamExt;
use reqwest::Method;
use serde_json::{Value, json};

use crate::transport::error::TransportError;
use crate::transport::jsonrpc::{ErrorResponse, Message, Notification, Request, RequestId, Response};
use crate::transport::sse::{SseEvent, SseParser};
use crate::transport::streamable_http::StreamableHttp;
use crate::transport::streamable_http::wire::{Ctx, content_type, sse_error};

enum EventOutcome {
    /// A priming event, or an event type other than `message`.
    Ignored,
    /// A server request or notification, handled.
    Message,
    /// The response to our request.
    Response(Value),
}

impl StreamableHttp {
    /// POSTs a request and waits for its response. On a timeout, sends `notifications/cancelled` (basic/lifecycle.mdx
    /// "Timeouts": the sender SHOULD issue a cancellation notification and stop waiting).
    pub(super) async fn call(&self, ctx: &Ctx<'_>, request: &Request) -> Result<Value, TransportError> {
        let result = match self.post_request(ctx, request).await {
            Ok(response) => self.read_response(response, ctx, request).await,
            Err(err) => Err(err),
        };
        if matches!(result, Err(TransportError::Timeout { .. })) {
            self.cancel(ctx, &request.id, "request timed out").await;
        }
        result
    }

    pub(super) async fn post_request(
        &self,
        ctx: &Ctx<'_>,
        request: &Request,
    ) -> Result<reqwest::Response, TransportError> {
        let body = request.to_value().to_string();
        let response = self.send(Method::POST, ctx, None, Some(body), &request.method).await?;
        self.check_status(response, ctx).await
    }

    /// basic/transports.mdx "Sending Messages to the Server" 5: the client MUST handle both a JSON body and
    /// an SSE stream.
    pub(super) async fn read_response(
        &self,
        response: reqwest::Response,
        ctx: &Ctx<'_>,
        request: &Request,
    ) -> Result<Value, TransportError> {
        match content_type(response.headers()).as_deref() {
            Some("application/json") => {
                let body = self.read_json_body(response, &request.method).await?;
                let message = Message::parse_slice(&body)
                    .map_err(|e| TransportError::Protocol(format!("the response to `{}` is {e}", request.method)))?;
                expect_response(message, request)
            }
            Some("text/event-stream") => self.read_stream(response, ctx, request).await,
            other => Err(TransportError::Protocol(format!(
                "the server answered `{}` with HTTP {} and content type {}; expected application/json or text/event-stream",
                request.method,
                response.status().as_u16(),
                other.unwrap_or("(none)"),
            ))),
        }
    }

    /// Reads an SSE response until the response with our id arrives, handing server requests and
    /// notifications to the handler on the way, and resuming with `Last-Event-ID` when the connection closes
    /// early (2025-11-25 basic/transports.mdx "Resumability and Redelivery").
    async fn read_stream(
        &self,
        mut response: reqwest::Response,
        ctx: &Ctx<'_>,
        request: &Request,
    ) -> Result<Value, TransportError> {
        let options = &self.inner.options;
        let mut parser = SseParser::new(options.sse_limits);
        let mut events = Vec::new();
        let mut resumes_without_progress = 0u32;
        loop {
            let mut stream = response.bytes_stream();
            loop {
                // The timeout bounds the idle gap, never the whole stream.
                let chunk = match tokio::time::timeout(options.request_timeout, stream.next()).await {
                    Err(_) => {
                        return Err(TransportError::Timeout {
                            what: format!("the next event of the response to `{}`", request.method),
                            after: options.request_timeout,
                        });
                    }
                    Ok(None) => break,
                    Ok(Some(Err(err))) => {
                        // "Disconnection MAY occur at any time": handled like a close.
                        tracing::debug!(%err, "the response stream broke");
                        break;
                    }
                    Ok(Some(Ok(chunk))) => chunk,
                };
                let fed = parser.feed(&chunk, &mut events);
                for event in events.drain(..) {
                    match self.on_event(event, ctx, request).await? {
                        EventOutcome::Response(result) => return Ok(result),
                        // Only a real message counts as progress; priming events alone do not.
                        EventOutcome::Message => resumes_without_progress = 0,
                        EventOutcome::Ignored => {}
                    }
                }
                fed.map_err(|err| sse_error(err, &request.method))?;
            }
            response = self.resume_closed_stream(ctx, request, &mut parser, &mut resumes_without_progress).await?;
        }
    }

    /// Handles one SSE event.
    async fn on_event(
        &self,
        event: SseEvent,
        ctx: &Ctx<'_>,
        request: &Request,
    ) -> Result<EventOutcome, TransportError> {
        // 2025-11-25: a priming event has an id and empty data; it only sets the resume cursor.
        if event.data.trim().is_empty() {
            return Ok(EventOutcome::Ignored);
        }
        if event.event != "message" {
            tracing::debug!(event = %event.event, "ignoring a non-message SSE event");
            return Ok(EventOutcome::Ignored);
        }
        let bad = |e: &dyn fmt::Display| {
            TransportError::Protocol(format!("an event on the stream for `{}` is invalid: {e}", request.method))
        };
        let value: Value = serde_json::from_str(&event.data).map_err(|e| bad(&e))?;
        // 2025-03-26 let one event carry a JSON-RPC batch; later versions send one message per event.
        let items = match value {
            Value::Array(items) if !items.is_empty() => items,
            other => vec![other],
        };
        for item in items {
            match Message::from_value(item).map_err(|e| bad(&e))? {
                Message::Request(server_request) => {
                    self.answer_server_request(ctx, server_request).await;
                }
                Message::Notification(n) => {
                    self.handler().handle_notification(&n.method, n.params);
                }
                response => {
                    return expect_response(response, request).map(EventOutcome::Response);
                }
            }
        }
        Ok(EventOutcome::Message)
    }

    /// Runs the handler on a server→client request and POSTs the answer back. Failures are logged: the
    /// server decides what a missing answer means for the request in flight.
    pub(super) async fn answer_server_request(&self, ctx: &Ctx<'_>, request: Request) {
        let handler = self.handler();
        let outcome = handler.handle_request(&request.method, request.params).await;
        let answer = match outcome {
            Ok(result) => Message::Response(Response { id: request.id, result }),
            Err(error) => Message::Error(ErrorResponse { id: Some(request.id), error }),
        };
        let what = format!("the answer to the server's `{}`", request.method);
        if let Err(err) = self.post_message(ctx, &answer, &what).await {
            tracing::warn!(%err, method = %request.method, "could not send the answer to a server request");
        }
    }

    /// Best-effort `notifications/cancelled` (basic/utilities/cancellation).
    pub(super) async fn cancel(&self, ctx: &Ctx<'_>, id: &RequestId, reason: &str) {
        let message = Message::Notification(Notification {
            method: "notifications/cancelled".to_owned(),
            params: Some(json!({"requestId": id.to_value(), "reason": reason})),
        });
        if let Err(err) = self.post_message(ctx, &message, "notifications/cancelled").await {
            tracing::debug!(%err, "could not send notifications/cancelled");
        }
    }
}

/// Turns a response message into the request's result, checking the id echoes ours (basic/index.mdx
/// "Responses": "Responses MUST include the same ID as the request they correspond to").
pub(super) fn expect_response(message: Message, request: &Request) -> Result<Value, TransportError> {
    let method = &request.method;
    match message {
        Message::Response(response) if response.id == request.id => Ok(response.result),
        Message::Error(ErrorResponse { id, error }) if id.is_none() || id.as_ref() == Some(&request.id) => {
            Err(TransportError::Rpc { code: error.code, message: error.message, data: error.data })
        }
        Message::Response(Response { id, .. }) | Message::Error(ErrorResponse { id: Some(id), .. }) => {
            Err(TransportError::Protocol(format!(
                "the response to `{method}` has id {id}, but the request had id {}",
                request.id
            )))
        }
        Message::Error(ErrorResponse { id: None, .. }) => {
            Err(TransportError::Protocol(format!("unexpected error without id for `{method}`")))
        }
        Message::Request(_) | Message::Notification(_) => Err(TransportError::Protocol(format!(
            "the server answered `{method}` with a request or notification instead of a response"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_responses_map_to_rpc_or_protocol_errors() {
        let request = Request { id: RequestId::Number(4), method: "tools/call".into(), params: None };
        let ok = Message::parse_str(r#"{"jsonrpc":"2.0","id":4,"result":{"a":1}}"#).unwrap();
        assert_eq!(expect_response(ok, &request).unwrap(), json!({"a": 1}));
        let wrong = Message::parse_str(r#"{"jsonrpc":"2.0","id":5,"result":{}}"#).unwrap();
        assert!(matches!(expect_response(wrong, &request), Err(TransportError::Protocol(_))));
        let string_id = Message::parse_str(r#"{"jsonrpc":"2.0","id":"4","result":{}}"#).unwrap();
        assert!(matches!(expect_response(string_id, &request), Err(TransportError::Protocol(_))));
        let err =
            Message::parse_str(r#"{"jsonrpc":"2.0","id":4,"error":{"code":-32602,"message":"unknown tool"}}"#).unwrap();
        assert!(matches!(expect_response(err, &request), Err(TransportError::Rpc { code: -32602, .. })));
    }
}
