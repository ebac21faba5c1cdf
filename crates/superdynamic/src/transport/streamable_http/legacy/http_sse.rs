//! The HTTP+SSE transport of 2024-11-05 (2024-11-05 basic/transports.mdx "HTTP with SSE"), still the only one
//! many hosted servers offer: a GET opens an event stream whose first `endpoint` event names the URI to POST
//! messages to; the server answers each POST with 202 and sends every response, request and notification on
//! the stream. The initialize-based session runs over it unchanged; closing the stream ends the session.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use futures_util::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::sync::oneshot;
use url::Url;

use super::response::expect_response;
use crate::secret::AccessToken;
use crate::transport::error::TransportError;
use crate::transport::jsonrpc::{Message, Request, RequestId};
use crate::transport::sse::{SseLimits, SseParser};
use crate::transport::streamable_http::wire::{ACCEPT_SSE, Ctx, content_type, excerpt_of};
use crate::transport::streamable_http::{Inner, StreamableHttp};

/// The protocol version of the HTTP+SSE era, accepted from servers on that transport only.
pub(in crate::transport::streamable_http) const SSE_PROTOCOL_VERSION: &str = "2024-11-05";

/// Requests waiting for their response on the stream, by id; `None` once the stream has closed.
type Pending = Mutex<Option<HashMap<RequestId, oneshot::Sender<Message>>>>;

/// One open event stream and the endpoint it named.
pub(in crate::transport::streamable_http) struct SseChannel {
    post_url: Url,
    pending: Arc<Pending>,
    reader: tokio::task::AbortHandle,
}

impl Drop for SseChannel {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl SseChannel {
    /// The request context for this channel: POSTs go to the endpoint; no session id header (the endpoint URI
    /// identifies the session), and a protocol version header only for versions that define it.
    pub(in crate::transport::streamable_http) fn ctx<'a>(
        &'a self,
        protocol_version: &'a str,
        bearer: Option<&'a AccessToken>,
    ) -> Ctx<'a> {
        let versioned = !protocol_version.is_empty() && protocol_version != SSE_PROTOCOL_VERSION;
        Ctx {
            session_id: None,
            protocol_version: versioned.then_some(protocol_version),
            bearer,
            post_to: Some(&self.post_url),
        }
    }

    fn expect(&self, id: &RequestId) -> Result<oneshot::Receiver<Message>, TransportError> {
        let (sender, receiver) = oneshot::channel();
        let mut pending = self.pending.lock().unwrap_or_else(|poison| poison.into_inner());
        match pending.as_mut() {
            Some(map) => {
                map.insert(id.clone(), sender);
                Ok(receiver)
            }
            // The stream closed since the session was looked up: a new session is needed.
            None => Err(TransportError::SessionExpired),
        }
    }

    fn forget(&self, id: &RequestId) {
        if let Some(map) = self.pending.lock().unwrap_or_else(|poison| poison.into_inner()).as_mut() {
            map.remove(id);
        }
    }
}

impl StreamableHttp {
    /// Whether sessions are opened over HTTP+SSE (decided by [`TransportOrder`](super::super::TransportOrder)
    /// and, for `http-first`, by the endpoint's refusal of Streamable HTTP).
    pub(in crate::transport::streamable_http) fn uses_sse(&self) -> bool {
        self.inner.sse_wire.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub(in crate::transport::streamable_http) fn set_sse(&self, on: bool) {
        self.inner.sse_wire.store(on, std::sync::atomic::Ordering::Relaxed);
    }

    /// Opens the event stream and waits for its `endpoint` event. An answer that is not an event stream is
    /// [`TransportError::NoEventStream`]; 401 and 403 are the OAuth layer's as everywhere.
    pub(in crate::transport::streamable_http) async fn open_sse(
        &self,
        generation: u64,
        bearer: Option<&AccessToken>,
    ) -> Result<SseChannel, TransportError> {
        let ctx = Ctx { session_id: None, protocol_version: None, bearer, post_to: None };
        let response = self.send_with(Method::GET, &ctx, ACCEPT_SSE, None, None, "the HTTP+SSE event stream").await?;
        let status = response.status();
        if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
            return Err(self.check_status(response, &ctx).await.err().unwrap_or(TransportError::SessionExpired));
        }
        let media_type = content_type(response.headers());
        if !status.is_success() || media_type.as_deref() != Some("text/event-stream") {
            return Err(TransportError::NoEventStream {
                status: status.as_u16(),
                content_type: media_type.unwrap_or_else(|| "no content type".to_owned()),
            });
        }
        let pending: Arc<Pending> = Arc::new(Mutex::new(Some(HashMap::new())));
        let (endpoint_sender, endpoint) = oneshot::channel();
        let reader = Reader {
            transport: Arc::downgrade(&self.inner),
            pending: pending.clone(),
            endpoint: Some(endpoint_sender),
            base: self.inner.endpoint.clone(),
            generation,
        };
        let task = tokio::spawn(reader.run(response, self.inner.options.sse_limits));
        let reader = task.abort_handle();
        let after = self.inner.options.request_timeout;
        match tokio::time::timeout(after, endpoint).await {
            Ok(Ok(Ok(post_url))) => Ok(SseChannel { post_url, pending, reader }),
            Ok(Ok(Err(err))) => {
                reader.abort();
                Err(err)
            }
            Ok(Err(_)) => Err(TransportError::Protocol(
                "the HTTP+SSE event stream ended before its `endpoint` event named where to send messages".to_owned(),
            )),
            Err(_) => {
                reader.abort();
                Err(TransportError::Timeout { what: "the `endpoint` event of the HTTP+SSE stream".to_owned(), after })
            }
        }
    }

    /// POSTs a request to the channel's endpoint and waits for its response on the stream. On a timeout,
    /// `notifications/cancelled` follows (basic/lifecycle.mdx "Timeouts"), except for `initialize`, which
    /// "MUST NOT be cancelled" (basic/utilities/cancellation).
    pub(in crate::transport::streamable_http) async fn sse_call(
        &self,
        channel: &SseChannel,
        ctx: &Ctx<'_>,
        request: &Request,
    ) -> Result<Value, TransportError> {
        let answer = channel.expect(&request.id)?;
        let body = request.to_value().to_string();
        let posted = match self.send(Method::POST, ctx, None, Some(body), &request.method).await {
            // The endpoint URI carries the session: 404 means the server forgot it (for `initialize`, that the
            // endpoint is broken: nothing to retry).
            Ok(response) if response.status() == StatusCode::NOT_FOUND && request.method != "initialize" => {
                Err(TransportError::SessionExpired)
            }
            Ok(response) => self.check_status(response, ctx).await.map(drop),
            Err(err) => Err(err),
        };
        if let Err(err) = posted {
            channel.forget(&request.id);
            return Err(err);
        }
        let after = self.inner.options.request_timeout;
        match tokio::time::timeout(after, answer).await {
            Ok(Ok(message)) => expect_response(message, request),
            Ok(Err(_)) => Err(TransportError::Protocol(format!(
                "the server closed the HTTP+SSE event stream before answering `{}`",
                request.method
            ))),
            Err(_) => {
                channel.forget(&request.id);
                if request.method != "initialize" {
                    self.cancel(ctx, &request.id, "request timed out").await;
                }
                Err(TransportError::Timeout {
                    what: format!("the response to `{}` on the HTTP+SSE stream", request.method),
                    after,
                })
            }
        }
    }
}

/// The background task reading one event stream. It holds the transport weakly, so dropping every handle
/// of the transport drops the channel, which stops the task.
struct Reader {
    transport: Weak<Inner>,
    pending: Arc<Pending>,
    endpoint: Option<oneshot::Sender<Result<Url, TransportError>>>,
    base: Url,
    generation: u64,
}

impl Reader {
    async fn run(mut self, response: reqwest::Response, limits: SseLimits) {
        let mut parser = SseParser::new(limits);
        let mut events = Vec::new();
        let mut stream = response.bytes_stream();
        while let Some(Ok(chunk)) = stream.next().await {
            let fed = parser.feed(&chunk, &mut events);
            for event in events.drain(..) {
                match event.event.as_str() {
                    "endpoint" => {
                        if let Some(sender) = self.endpoint.take() {
                            let _ = sender.send(post_url(&self.base, &event.data));
                        }
                    }
                    "message" => self.on_message(&event.data),
                    other => tracing::debug!(event = other, "ignoring an HTTP+SSE event of unknown type"),
                }
            }
            if let Err(err) = fed {
                tracing::warn!(%err, "the HTTP+SSE event stream broke its limits; closing it");
                break;
            }
        }
        tracing::debug!("the HTTP+SSE event stream closed");
        // Waiting requests fail (their senders drop) and the next request opens a new session.
        *self.pending.lock().unwrap_or_else(|poison| poison.into_inner()) = None;
        if let Some(inner) = self.transport.upgrade() {
            StreamableHttp { inner }.forget_generation(self.generation);
        }
    }

    fn on_message(&self, data: &str) {
        let message = serde_json::from_str::<Value>(data)
            .map_err(|e| e.to_string())
            .and_then(|v| Message::from_value(v).map_err(|e| e.to_string()));
        let message = match message {
            Ok(message) => message,
            Err(err) => {
                tracing::warn!(%err, excerpt = %excerpt_of(data.as_bytes()), "ignoring an invalid HTTP+SSE message");
                return;
            }
        };
        let id = match &message {
            Message::Response(response) => Some(response.id.clone()),
            Message::Error(error) => error.id.clone(),
            Message::Request(_) | Message::Notification(_) => None,
        };
        if let Some(id) = id {
            let waiter =
                self.pending.lock().unwrap_or_else(|poison| poison.into_inner()).as_mut().and_then(|m| m.remove(&id));
            match waiter {
                Some(waiter) => {
                    let _ = waiter.send(message);
                }
                None => tracing::debug!(%id, "ignoring an HTTP+SSE response nobody waits for"),
            }
            return;
        }
        let Some(inner) = self.transport.upgrade() else {
            return;
        };
        let transport = StreamableHttp { inner };
        match message {
            Message::Notification(n) => transport.handler().handle_notification(&n.method, n.params),
            Message::Request(request) => {
                // Answered in its own task, so responses keep flowing while the handler works.
                let generation = self.generation;
                tokio::spawn(async move {
                    let Some(session) = transport.current_session().filter(|s| s.generation == generation) else {
                        return;
                    };
                    let bearer = transport.latest_bearer();
                    transport.answer_server_request(&Ctx::for_session(&session, bearer.as_ref()), request).await;
                });
            }
            Message::Response(_) | Message::Error(_) => {}
        }
    }
}

/// The `endpoint` event's URI, resolved against the stream's URL. It must stay on the stream's origin: the
/// access token goes with every POST (the TypeScript SDK's SSE client refuses other origins likewise).
fn post_url(base: &Url, data: &str) -> Result<Url, TransportError> {
    let url = base
        .join(data.trim())
        .map_err(|e| TransportError::Protocol(format!("the HTTP+SSE `endpoint` event is not a URI reference ({e})")))?;
    if url.origin() != base.origin() {
        return Err(TransportError::Protocol(format!(
            "the HTTP+SSE `endpoint` event names another origin ({}) than the server's ({}); refusing to send the \
             access token there",
            url.origin().ascii_serialization(),
            base.origin().ascii_serialization()
        )));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_resolves_against_the_stream_and_stays_on_its_origin() {
        let base = Url::parse("https://mcp.example.com/v1/sse").unwrap();
        assert_eq!(
            post_url(&base, "/messages?sessionId=abc").unwrap().as_str(),
            "https://mcp.example.com/messages?sessionId=abc"
        );
        assert_eq!(post_url(&base, " messages?s=1\n").unwrap().as_str(), "https://mcp.example.com/v1/messages?s=1");
        assert_eq!(post_url(&base, "https://mcp.example.com/m").unwrap().as_str(), "https://mcp.example.com/m");
        for other in
            ["https://evil.example/m", "http://mcp.example.com/m", "https://mcp.example.com:8443/m", "//evil.example/m"]
        {
            let err = post_url(&base, other).unwrap_err().to_string();
            assert!(err.contains("another origin"), "{other}: {err}");
        }
    }
}
