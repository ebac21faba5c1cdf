//! The modern (2026-07-28) request path: per-request `_meta` and metadata headers, version negotiation with a
//! fall-back to the legacy generation, MRTR `input_required` rounds, `x-mcp-header` mirroring and
//! HeaderMismatch recovery, and non-resumable per-request SSE streams
//! (the answers that decide the generation are in `negotiation`).
//!
//! `mrtr` answers `input_required` results; `tool_schemas` keeps the tools' `x-mcp-header` annotations.

mod mrtr;
mod tool_schemas;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::StreamableHttp;
use super::negotiation::{
    HEADER_MISMATCH, Negotiated, Outcome, UNSUPPORTED_PROTOCOL_VERSION, is_legacy_status, is_modern_error, is_read,
    negotiate,
};
use super::wire::{
    ACCEPT_POST, Ctx, SESSION_ID_HEADER, content_type, excerpt_of, headers, sse_error, www_authenticate,
};
use crate::secret::AccessToken;
use crate::transport::era::{Generation, MODERN_PROTOCOL_VERSION, request_meta, with_meta};
use crate::transport::error::TransportError;
use crate::transport::headers::{self as mcp_headers, name_source};
use crate::transport::jsonrpc::{ErrorResponse, Message, Notification, Request, Response, RpcErrorObject};
use crate::transport::sse::SseParser;
use futures_util::StreamExt;
use mrtr::{ResultKind, result_kind, with_input};
use std::sync::atomic::Ordering;

/// How much of a non-2xx body is read looking for a JSON-RPC error.
const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// One HTTP exchange.
enum Attempt {
    Result(Value),
    /// A JSON-RPC error for our request, with the HTTP status it came with.
    Rpc {
        status: u16,
        error: RpcErrorObject,
    },
    /// A non-2xx status without a JSON-RPC error body.
    Status {
        status: u16,
        body: String,
    },
    /// The SSE response stream ended before the response.
    StreamBroken,
}

impl StreamableHttp {
    /// One modern request, through MRTR rounds, a HeaderMismatch re-list and stream re-issues. With `probing`,
    /// an answer that identifies a legacy server gives [`Outcome::Legacy`] instead of an error.
    pub(super) async fn modern_request(
        &self,
        method: &str,
        params: Option<Value>,
        bearer: Option<&AccessToken>,
        probing: bool,
    ) -> Result<Outcome, TransportError> {
        let options = &self.inner.options;
        // MRTR: the inputResponses / requestState of the retry, replaced every round.
        let mut input: Option<(Option<Value>, Option<String>)> = None;
        let mut rounds = 0u32;
        let mut relisted = false;
        let mut reissues = 0u32;
        let mut version_retried = false;
        loop {
            let call_params = match &input {
                None => params.clone(),
                Some((responses, state)) => Some(with_input(params.clone(), responses.clone(), state.clone())?),
            };
            // A new id for every attempt: retries are independent requests (basic/patterns/mrtr.mdx "Client
            // Requirements" 3; CHECKLIST 15b.8 for re-issued streams).
            let request = self.modern_message(method, call_params)?;
            let (attempt, minted_session) = self.modern_attempt(&request, bearer).await?;
            match attempt {
                // A modern server "MUST include" resultType (schema.mdx `Result`); a legacy one never does. Without
                // it while probing, a legacy server served the request under legacy semantics (versioning.mdx
                // matrix: it may "even process an era-ambiguous method under legacy semantics"). A read is sent
                // again through `initialize`; anything else keeps its answer (no second execution) and
                // `initialize` starts with the next request. (An `Mcp-Session-Id` alone proves nothing: some
                // dual-era servers send one on every answer.)
                Attempt::Result(result) if probing && result.get("resultType").is_none() => {
                    if is_read(method) {
                        return Ok(Outcome::Legacy {
                            reason: "the result has no resultType".to_owned(),
                            version: None,
                        });
                    }
                    tracing::info!(
                        method,
                        "the MCP server answered like a legacy server; using initialize from now on"
                    );
                    self.assume_legacy(None);
                    return Ok(Outcome::Result(result));
                }
                // A stream that ends early under a session id: the legacy path can resume it (Last-Event-ID),
                // where the modern path could only send the request again.
                Attempt::StreamBroken if probing && minted_session => {
                    return Ok(Outcome::Legacy {
                        reason: "the response stream ended early and carried an Mcp-Session-Id".to_owned(),
                        version: None,
                    });
                }
                Attempt::Result(result) => {
                    self.confirm(Generation::Modern);
                    match result_kind(&result, method)? {
                        ResultKind::Complete => {
                            let result = if method == "tools/list" { self.screen_tools_page(result) } else { result };
                            return Ok(Outcome::Result(result));
                        }
                        // A caller that relays to a modern peer (the stdio proxy) hands the InputRequiredResult
                        // on as is; the peer answers it and retries with `inputResponses` / `requestState`.
                        ResultKind::InputRequired if self.inner.input_passthrough.load(Ordering::Relaxed) => {
                            return Ok(Outcome::Result(result));
                        }
                        ResultKind::InputRequired => {
                            rounds += 1;
                            if rounds > options.max_input_rounds {
                                return Err(TransportError::InputUnavailable {
                                    key: String::new(),
                                    method: method.to_owned(),
                                    reason: format!(
                                        "the server still asked for input after {} rounds",
                                        options.max_input_rounds
                                    ),
                                });
                            }
                            input = Some(self.gather_inputs(&result, method).await?);
                            reissues = 0;
                        }
                    }
                }
                Attempt::Rpc { status, error } => {
                    if error.code == UNSUPPORTED_PROTOCOL_VERSION {
                        match negotiate(&error, version_retried)? {
                            Negotiated::RetryModern => {
                                // The server lists our version after all (e.g. it rejected a first choice it
                                // took for another): retry it once, as "a mutually supported version".
                                version_retried = true;
                                continue;
                            }
                            Negotiated::Legacy(outcome) => return Ok(outcome),
                        }
                    }
                    // "If the server rejects a request with a HeaderMismatch error … the client SHOULD call
                    // tools/list to check for changes to the tool's inputSchema, then retry" (streamable-http.mdx
                    // "Client Behavior"). Once.
                    if error.code == HEADER_MISMATCH && method == "tools/call" && !relisted {
                        self.confirm(Generation::Modern);
                        relisted = true;
                        tracing::info!("the MCP server reported a header mismatch; re-listing tools and retrying once");
                        self.relist_tools(bearer).await?;
                        continue;
                    }
                    if is_modern_error(status, error.code) {
                        self.confirm(Generation::Modern);
                    } else if probing && is_legacy_status(status) {
                        return Ok(Outcome::Legacy {
                            reason: format!("HTTP {status} with JSON-RPC error {}: {}", error.code, error.message),
                            version: None,
                        });
                    }
                    return Err(rpc_error(error));
                }
                Attempt::Status { status, body } => {
                    // streamable-http.mdx "Backward Compatibility": "If the body is empty or is not a recognized
                    // modern JSON-RPC error, fall back to initialize".
                    if probing && is_legacy_status(status) {
                        return Ok(Outcome::Legacy { reason: format!("HTTP {status}: {body}"), version: None });
                    }
                    return Err(TransportError::HttpStatus { status, body });
                }
                Attempt::StreamBroken => {
                    reissues += 1;
                    if reissues > options.max_stream_reissues {
                        return Err(TransportError::Protocol(format!(
                            "the response stream for `{method}` closed before the response {} times; gave up",
                            options.max_stream_reissues + 1
                        )));
                    }
                    // streamable-http.mdx "Receiving Messages": "Resumable SSE streams via Last-Event-ID are not
                    // supported", so the request is sent again.
                    tracing::debug!(method, "the response stream broke; re-issuing the request");
                }
            }
        }
    }

    /// A modern request without MRTR or HeaderMismatch handling (used to re-list tools).
    async fn modern_plain(
        &self,
        method: &str,
        params: Option<Value>,
        bearer: Option<&AccessToken>,
    ) -> Result<Value, TransportError> {
        let mut reissues = 0u32;
        loop {
            let request = self.modern_message(method, params.clone())?;
            match self.modern_attempt(&request, bearer).await?.0 {
                Attempt::Result(result) => return Ok(result),
                Attempt::Rpc { error, .. } => return Err(rpc_error(error)),
                Attempt::Status { status, body } => {
                    return Err(TransportError::HttpStatus { status, body });
                }
                Attempt::StreamBroken => {
                    reissues += 1;
                    if reissues > self.inner.options.max_stream_reissues {
                        return Err(TransportError::Protocol(format!(
                            "the response stream for `{method}` kept closing before the response"
                        )));
                    }
                }
            }
        }
    }

    /// POSTs a notification with the modern headers; 202 (any 2xx) is success.
    pub(super) async fn modern_notify(
        &self,
        method: &str,
        params: Option<Value>,
        bearer: Option<&AccessToken>,
    ) -> Result<(), TransportError> {
        let ctx = modern_ctx(bearer);
        let mut headers = headers(&ctx, ACCEPT_POST, None)?;
        headers.insert(HeaderName::from_static(mcp_headers::METHOD), method_header(method)?);
        let body = Message::Notification(Notification { method: method.to_owned(), params }).to_value().to_string();
        let response = self.send_headers(Method::POST, headers, Some(body), method).await?;
        self.check_status(response, &ctx).await.map(drop)
    }

    /// The request with a fresh id and the per-request protocol fields in `params._meta` (basic/index.mdx
    /// "Per-request protocol fields": protocolVersion and clientCapabilities required, clientInfo SHOULD).
    fn modern_message(&self, method: &str, params: Option<Value>) -> Result<Request, TransportError> {
        let options = &self.inner.options;
        let meta = request_meta(
            MODERN_PROTOCOL_VERSION,
            self.handler().client_capabilities(),
            &options.client_name,
            &options.client_version,
        );
        let params = with_meta(params, &meta).map_err(TransportError::Protocol)?;
        Ok(Request { id: self.next_id(), method: method.to_owned(), params: Some(params) })
    }

    /// streamable-http.mdx "Request Metadata": `MCP-Protocol-Version`, `Mcp-Method`, `Mcp-Name` (tools/call,
    /// resources/read, prompts/get) and, for tools/call, `Mcp-Param-{Name}` from the tool's `x-mcp-header`
    /// annotations. No `Mcp-Session-Id`, ever.
    fn modern_headers(&self, request: &Request, bearer: Option<&AccessToken>) -> Result<HeaderMap, TransportError> {
        let mut headers = headers(&modern_ctx(bearer), ACCEPT_POST, None)?;
        headers.insert(HeaderName::from_static(mcp_headers::METHOD), method_header(&request.method)?);
        let params = request.params.as_ref();
        if let Some(name) = name_source(&request.method, params) {
            headers.insert(HeaderName::from_static(mcp_headers::NAME), mcp_headers::header_value(name));
        }
        if request.method == "tools/call"
            && let Some(tool) = params.and_then(|p| p.get("name")).and_then(Value::as_str)
        {
            let arguments = params.and_then(|p| p.get("arguments"));
            let tools = self.lock_tool_headers();
            for param in tools.get(tool).map(Vec::as_slice).unwrap_or_default() {
                if let (Some(name), Some(value)) = (param.header_name(), param.value_in(arguments))
                    && let Ok(value) = HeaderValue::from_str(&value)
                {
                    headers.insert(name, value);
                }
            }
        }
        Ok(headers)
    }

    /// POSTs one request and reads its answer; the flag says whether the response carried an `Mcp-Session-Id`.
    async fn modern_attempt(
        &self,
        request: &Request,
        bearer: Option<&AccessToken>,
    ) -> Result<(Attempt, bool), TransportError> {
        let headers = self.modern_headers(request, bearer)?;
        let body = request.to_value().to_string();
        let response = self.send_headers(Method::POST, headers, Some(body), &request.method).await?;
        let minted_session = response.headers().contains_key(SESSION_ID_HEADER);
        self.read_modern_answer(response, request).await.map(|a| (a, minted_session))
    }

    async fn read_modern_answer(
        &self,
        response: reqwest::Response,
        request: &Request,
    ) -> Result<Attempt, TransportError> {
        let status = response.status();
        match status {
            // 401/403 belong to the OAuth layer and say nothing about the protocol generation.
            StatusCode::UNAUTHORIZED => {
                return Err(TransportError::Unauthorized { www_authenticate: www_authenticate(response.headers()) });
            }
            StatusCode::FORBIDDEN => {
                return Err(TransportError::Forbidden { www_authenticate: www_authenticate(response.headers()) });
            }
            s if !s.is_success() => {
                let limit = ERROR_BODY_LIMIT.min(self.inner.options.max_json_body);
                let body = self.read_prefix(response, limit).await;
                return Ok(match Message::parse_slice(&body) {
                    Ok(Message::Error(ErrorResponse { id, error }))
                        if id.is_none() || id.as_ref() == Some(&request.id) =>
                    {
                        Attempt::Rpc { status: s.as_u16(), error }
                    }
                    _ => Attempt::Status { status: s.as_u16(), body: excerpt_of(&body) },
                });
            }
            _ => {}
        }
        match content_type(response.headers()).as_deref() {
            Some("application/json") => {
                let body = self.read_json_body(response, &request.method).await?;
                let message = Message::parse_slice(&body)
                    .map_err(|e| TransportError::Protocol(format!("the response to `{}` is {e}", request.method)))?;
                answer(message, request, status.as_u16())
            }
            Some("text/event-stream") => self.read_modern_stream(response, request).await,
            other => Err(TransportError::Protocol(format!(
                "the server answered `{}` with HTTP {} and content type {}; expected application/json or text/event-stream",
                request.method,
                status.as_u16(),
                other.unwrap_or("(none)"),
            ))),
        }
    }

    /// A per-request SSE stream (streamable-http.mdx "Receiving Messages"): notifications go to the handler,
    /// then the response. No `Last-Event-ID`: a stream that ends early is [`Attempt::StreamBroken`].
    async fn read_modern_stream(
        &self,
        response: reqwest::Response,
        request: &Request,
    ) -> Result<Attempt, TransportError> {
        let options = &self.inner.options;
        let method = &request.method;
        let mut parser = SseParser::new(options.sse_limits);
        let mut events = Vec::new();
        let mut stream = response.bytes_stream();
        loop {
            // The timeout bounds the idle gap, never the whole stream. Dropping the stream on return closes
            // it, which is the cancellation signal (basic/patterns/cancellation.mdx "Streamable HTTP").
            let chunk = match tokio::time::timeout(options.request_timeout, stream.next()).await {
                Err(_) => {
                    return Err(TransportError::Timeout {
                        what: format!("the next event of the response to `{method}`"),
                        after: options.request_timeout,
                    });
                }
                Ok(None) => return Ok(Attempt::StreamBroken),
                Ok(Some(Err(err))) => {
                    tracing::debug!(%err, "the response stream broke");
                    return Ok(Attempt::StreamBroken);
                }
                Ok(Some(Ok(chunk))) => chunk,
            };
            let fed = parser.feed(&chunk, &mut events);
            for event in events.drain(..) {
                if event.data.trim().is_empty() {
                    continue;
                }
                if event.event != "message" {
                    tracing::debug!(event = %event.event, "ignoring a non-message SSE event");
                    continue;
                }
                let message = Message::parse_str(&event.data).map_err(|e| {
                    TransportError::Protocol(format!("an event on the stream for `{method}` is invalid: {e}"))
                })?;
                match message {
                    Message::Notification(n) => {
                        self.handler().handle_notification(&n.method, n.params);
                    }
                    // "The server MUST NOT send independent JSON-RPC requests on this stream"; a modern client
                    // never POSTs responses, so there is nothing to do with one.
                    Message::Request(r) => {
                        tracing::warn!(method = %r.method, "ignoring a server request on a 2026-07-28 response stream");
                    }
                    other => return answer(other, request, 200),
                }
            }
            fed.map_err(|err| sse_error(err, method))?;
        }
    }
}

fn modern_ctx(bearer: Option<&AccessToken>) -> Ctx<'_> {
    Ctx { session_id: None, protocol_version: Some(MODERN_PROTOCOL_VERSION), bearer, post_to: None }
}

fn method_header(method: &str) -> Result<HeaderValue, TransportError> {
    HeaderValue::from_str(method)
        .map_err(|_| TransportError::Protocol(format!("the method name {method:?} cannot go in the Mcp-Method header")))
}

/// A response message (JSON body or SSE event) as an [`Attempt`], checking the id echoes ours.
fn answer(message: Message, request: &Request, status: u16) -> Result<Attempt, TransportError> {
    let method = &request.method;
    match message {
        Message::Response(Response { id, result }) if id == request.id => Ok(Attempt::Result(result)),
        Message::Error(ErrorResponse { id, error }) if id.is_none() || id.as_ref() == Some(&request.id) => {
            Ok(Attempt::Rpc { status, error })
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

fn rpc_error(error: RpcErrorObject) -> TransportError {
    TransportError::Rpc { code: error.code, message: error.message, data: error.data }
}
