//! The modern (2026-07-28) request path: per-request `_meta` and metadata headers, version negotiation with a
//! fall-back to the legacy generation, MRTR `input_required` rounds, `x-mcp-header` mirroring and
//! HeaderMismatch recovery, and non-resumable per-request SSE streams.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use futures_util::StreamExt;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode};
use serde_json::{Map, Value, json};

use super::{
    ACCEPT_POST, Ctx, SESSION_ID_HEADER, SUPPORTED_PROTOCOL_VERSIONS, StreamableHttp, content_type, excerpt_of,
    headers, sse_error, www_authenticate,
};
use crate::secret::AccessToken;
use crate::transport::era::{Generation, MODERN_PROTOCOL_VERSION, request_meta, with_meta};
use crate::transport::error::TransportError;
use crate::transport::headers::{self as mcp_headers, ParamHeader, name_source};
use crate::transport::jsonrpc::{
    ErrorResponse, METHOD_NOT_FOUND, Message, Notification, Request, Response, RpcErrorObject,
};
use crate::transport::sse::SseParser;

/// `HeaderMismatch` (basic/transports/streamable-http.mdx "Server Validation").
pub(super) const HEADER_MISMATCH: i64 = -32020;
/// `MissingRequiredClientCapabilityError` (basic/index.mdx "Per-request protocol fields").
pub(super) const MISSING_CLIENT_CAPABILITY: i64 = -32021;
/// `UnsupportedProtocolVersionError` (basic/versioning.mdx "Protocol Version Negotiation").
pub(super) const UNSUPPORTED_PROTOCOL_VERSION: i64 = -32022;

/// How much of a non-2xx body is read looking for a JSON-RPC error.
const ERROR_BODY_LIMIT: usize = 64 * 1024;
/// Pages read when re-listing tools after a HeaderMismatch.
const MAX_RELIST_PAGES: usize = 100;

/// What a modern request came to.
pub(super) enum Outcome {
    Result(Value),
    /// The server is legacy: fall back to `initialize` (with `version`, when a -32022 answer named one).
    Legacy {
        reason: String,
        version: Option<String>,
    },
}

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

enum Negotiated {
    RetryModern,
    Legacy(Outcome),
}

enum ResultKind {
    Complete,
    InputRequired,
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

    /// MRTR (basic/patterns/mrtr.mdx "Client Requirements"): answers every input request through the handler.
    /// Returns the `inputResponses` (when the server sent `inputRequests`) and the `requestState` to echo.
    async fn gather_inputs(
        &self,
        result: &Value,
        method: &str,
    ) -> Result<(Option<Value>, Option<String>), TransportError> {
        let bad = |what: &str| {
            TransportError::Protocol(format!("the input_required result of `{method}` is invalid: {what}"))
        };
        let requests = match result.get("inputRequests") {
            None | Some(Value::Null) => None,
            Some(Value::Object(map)) => Some(map),
            Some(_) => return Err(bad("inputRequests is not an object")),
        };
        let state = match result.get("requestState") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(bad("requestState is not a string")),
        };
        if requests.is_none() && state.is_none() {
            return Err(bad("it has neither inputRequests nor requestState"));
        }
        let Some(requests) = requests else {
            // "If the InputRequiredResult does not contain the inputRequests field, the client MAY retry the
            // original request immediately."
            return Ok((None, state));
        };
        let handler = self.handler();
        let mut responses = Map::new();
        for (key, input) in requests {
            let Some(input_method) = input.get("method").and_then(Value::as_str) else {
                return Err(bad(&format!("input request {key:?} has no method")));
            };
            let params = input.get("params").cloned();
            match handler.handle_input_request(input_method, params).await {
                Ok(value) => {
                    responses.insert(key.clone(), value);
                }
                Err(error) => {
                    return Err(TransportError::InputUnavailable {
                        key: key.clone(),
                        method: input_method.to_owned(),
                        reason: error.message,
                    });
                }
            }
        }
        Ok((Some(Value::Object(responses)), state))
    }

    /// Drops the tools whose `x-mcp-header` annotations are invalid from a `tools/list` page and remembers the
    /// annotations of the others (streamable-http.mdx "Schema Extension": the client "MUST exclude the invalid
    /// tool from the result of tools/list" and "SHOULD log a warning").
    fn screen_tools_page(&self, mut result: Value) -> Value {
        let found = screen_tools(&mut result);
        self.lock_tool_headers().extend(found);
        if matches!(result.get("nextCursor"), None | Some(Value::Null)) {
            // The last page: every tool has been seen (assuming the caller read the earlier pages).
            self.inner.tools_listed.store(true, Ordering::Relaxed);
        }
        result
    }

    /// Whether a tools/call must first learn the tool's `x-mcp-header` annotations: the server is not known to
    /// be legacy, the tool was not in any listing, and no complete listing has been seen or tried yet.
    pub(super) fn needs_tool_schemas(&self, params: Option<&Value>) -> bool {
        let Some(tool) = params.and_then(|p| p.get("name")).and_then(Value::as_str) else {
            return false;
        };
        let era = self.lock_era().clone();
        era.confirmed.or(era.assumed) != Some(Generation::Legacy)
            && !self.inner.tools_listed.load(Ordering::Relaxed)
            && !self.lock_tool_headers().contains_key(tool)
    }

    /// Reads every `tools/list` page (the generation negotiated on the way) to learn the tools' annotations.
    /// Tried once per transport; failures other than 401/403 only mean the call goes without `Mcp-Param-*`
    /// headers (a HeaderMismatch answer then triggers a re-list).
    pub(super) async fn fetch_tool_schemas(&self, bearer: Option<&AccessToken>) -> Result<(), TransportError> {
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_RELIST_PAGES {
            let probing = self.lock_era().confirmed != Some(Generation::Modern);
            let params = cursor.take().map(|c| json!({ "cursor": c }));
            match self.modern_request("tools/list", params, bearer, probing).await {
                Ok(Outcome::Result(result)) => {
                    // A lenient legacy server may have answered: then the call goes the legacy way.
                    if self.lock_era().assumed == Some(Generation::Legacy) {
                        break;
                    }
                    match result.get("nextCursor") {
                        Some(Value::String(next)) => cursor = Some(next.clone()),
                        _ => break,
                    }
                }
                Ok(Outcome::Legacy { reason, version }) => {
                    tracing::info!(%reason, "the MCP server is legacy; falling back to initialize");
                    self.assume_legacy(version);
                    break;
                }
                Err(err) if err.is_auth() => return Err(err),
                Err(err) => {
                    tracing::debug!(%err, "could not list tools before tools/call");
                    break;
                }
            }
        }
        self.inner.tools_listed.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// Reads every page of `tools/list` again and replaces the remembered annotations.
    async fn relist_tools(&self, bearer: Option<&AccessToken>) -> Result<(), TransportError> {
        let mut all = HashMap::new();
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_RELIST_PAGES {
            let params = cursor.take().map(|c| json!({ "cursor": c }));
            let mut result = self.modern_plain("tools/list", params, bearer).await?;
            all.extend(screen_tools(&mut result));
            // server/utilities/pagination.mdx: only an absent or null nextCursor ends the list ("" is a cursor).
            match result.get("nextCursor") {
                Some(Value::String(next)) => cursor = Some(next.clone()),
                _ => {
                    *self.lock_tool_headers() = all;
                    self.inner.tools_listed.store(true, Ordering::Relaxed);
                    return Ok(());
                }
            }
        }
        Err(TransportError::Protocol(format!("tools/list returned more than {MAX_RELIST_PAGES} pages")))
    }

    fn lock_tool_headers(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<ParamHeader>>> {
        self.inner.tool_headers.lock().unwrap_or_else(|poison| poison.into_inner())
    }
}

fn modern_ctx(bearer: Option<&AccessToken>) -> Ctx<'_> {
    Ctx { session_id: None, protocol_version: Some(MODERN_PROTOCOL_VERSION), bearer }
}

fn method_header(method: &str) -> Result<HeaderValue, TransportError> {
    HeaderValue::from_str(method)
        .map_err(|_| TransportError::Protocol(format!("the method name {method:?} cannot go in the Mcp-Method header")))
}

/// Removes invalid tools from a `tools/list` result; returns the annotations of the valid ones by name.
fn screen_tools(result: &mut Value) -> Vec<(String, Vec<ParamHeader>)> {
    let Some(tools) = result.get_mut("tools").and_then(Value::as_array_mut) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    tools.retain(|tool| {
        let name = tool.get("name").and_then(Value::as_str).unwrap_or_default();
        match mcp_headers::tool_param_headers(tool) {
            Ok(params) => {
                found.push((name.to_owned(), params));
                true
            }
            Err(reason) => {
                tracing::warn!(tool = name, %reason, "rejecting a tool definition with an invalid x-mcp-header");
                false
            }
        }
    });
    found
}

/// The original params plus this round's `inputResponses` and `requestState` ("the client MUST echo back the
/// exact value"; without one in the result, none is sent).
fn with_input(params: Option<Value>, responses: Option<Value>, state: Option<String>) -> Result<Value, TransportError> {
    let mut obj = match params {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(obj)) => obj,
        Some(_) => {
            return Err(TransportError::Protocol(
                "request params must be a JSON object to carry inputResponses".to_owned(),
            ));
        }
    };
    obj.remove("inputResponses");
    obj.remove("requestState");
    if let Some(responses) = responses {
        obj.insert("inputResponses".into(), responses);
    }
    if let Some(state) = state {
        obj.insert("requestState".into(), Value::String(state));
    }
    Ok(Value::Object(obj))
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

/// schema.mdx `Result.resultType`: "when a client receives a result from a server implementing an earlier
/// protocol version (which does not include resultType), the client MUST treat the absent field as complete".
fn result_kind(result: &Value, method: &str) -> Result<ResultKind, TransportError> {
    match result.get("resultType") {
        None | Some(Value::Null) => Ok(ResultKind::Complete),
        Some(Value::String(kind)) if kind == "complete" => Ok(ResultKind::Complete),
        Some(Value::String(kind)) if kind == "input_required" => Ok(ResultKind::InputRequired),
        Some(other) => Err(TransportError::Protocol(format!(
            "the result of `{method}` has resultType {other}, which this client does not know"
        ))),
    }
}

/// basic/versioning.mdx "Protocol Version Negotiation": "The client SHOULD select a mutually supported version
/// from the supported list and retry the request, or surface an error to the user if no compatible version
/// exists." This client speaks one modern version: if the list names it, the request is retried once with it;
/// otherwise the newest legacy version both speak is used, through `initialize`.
fn negotiate(error: &RpcErrorObject, retried: bool) -> Result<Negotiated, TransportError> {
    let supported: Vec<&str> = error
        .data
        .as_ref()
        .and_then(|d| d.get("supported"))
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if supported.is_empty() {
        return Err(TransportError::UnsupportedProtocolVersion {
            offered: "(no version listed in data.supported)".to_owned(),
        });
    }
    if supported.contains(&MODERN_PROTOCOL_VERSION) && !retried {
        return Ok(Negotiated::RetryModern);
    }
    match SUPPORTED_PROTOCOL_VERSIONS.iter().find(|v| supported.contains(v)) {
        Some(version) => Ok(Negotiated::Legacy(Outcome::Legacy {
            reason: format!("UnsupportedProtocolVersionError; the server supports {}", supported.join(", ")),
            version: Some((*version).to_owned()),
        })),
        None => Err(TransportError::UnsupportedProtocolVersion { offered: supported.join(", ") }),
    }
}

/// A recognized modern JSON-RPC error (streamable-http.mdx "Backward Compatibility": "modern servers also use
/// 400 for UnsupportedProtocolVersionError, MissingRequiredClientCapabilityError, and header-validation
/// failures"; an unknown method is "404 Not Found and a JSON-RPC error with code -32601").
fn is_modern_error(status: u16, code: i64) -> bool {
    matches!(code, HEADER_MISMATCH | MISSING_CLIENT_CAPABILITY | UNSUPPORTED_PROTOCOL_VERSION)
        || (status == 404 && code == METHOD_NOT_FOUND)
}

/// A 4xx that, without a recognized modern error body, identifies a legacy server (basic/versioning.mdx
/// compatibility matrix: "the modern request returns a 4xx without a recognized modern error body, and the
/// client falls back to initialize"). 401/403 are the OAuth layer's, 408/429 are transient.
fn is_legacy_status(status: u16) -> bool {
    (400..500).contains(&status) && !matches!(status, 401 | 403 | 408 | 429)
}

/// Methods without side effects, safe to send twice.
fn is_read(method: &str) -> bool {
    matches!(
        method,
        "tools/list"
            | "resources/list"
            | "resources/templates/list"
            | "resources/read"
            | "prompts/list"
            | "prompts/get"
            | "server/discover"
            | "ping"
            | "completion/complete"
    )
}

fn rpc_error(error: RpcErrorObject) -> TransportError {
    TransportError::Rpc { code: error.code, message: error.message, data: error.data }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_picks_the_newest_common_legacy_version() {
        let err = |supported: Value| RpcErrorObject {
            code: UNSUPPORTED_PROTOCOL_VERSION,
            message: "Unsupported protocol version".into(),
            data: Some(json!({"supported": supported, "requested": "2026-07-28"})),
        };
        match negotiate(&err(json!(["2025-06-18", "2025-11-25", "2024-11-05"])), false) {
            Ok(Negotiated::Legacy(Outcome::Legacy { version, .. })) => {
                assert_eq!(version.as_deref(), Some("2025-11-25"))
            }
            _ => panic!("expected a legacy version"),
        }
        match negotiate(&err(json!(["2027-01-01", "2024-11-05"])), false) {
            Err(TransportError::UnsupportedProtocolVersion { offered }) => {
                assert_eq!(offered, "2027-01-01, 2024-11-05")
            }
            _ => panic!("expected UnsupportedProtocolVersion"),
        }
        // Our own version listed: retried once, then an error, unless a legacy version is listed too.
        assert!(matches!(negotiate(&err(json!(["2026-07-28"])), false), Ok(Negotiated::RetryModern)));
        assert!(matches!(
            negotiate(&err(json!(["2026-07-28"])), true),
            Err(TransportError::UnsupportedProtocolVersion { .. })
        ));
        assert!(matches!(negotiate(&err(json!(["2026-07-28", "2025-11-25"])), true), Ok(Negotiated::Legacy(_))));
        assert!(negotiate(&RpcErrorObject::new(UNSUPPORTED_PROTOCOL_VERSION, "x"), false).is_err());
    }

    #[test]
    fn classifies_errors_and_statuses() {
        assert!(is_modern_error(400, HEADER_MISMATCH));
        assert!(is_modern_error(400, MISSING_CLIENT_CAPABILITY));
        assert!(is_modern_error(404, METHOD_NOT_FOUND));
        assert!(!is_modern_error(400, METHOD_NOT_FOUND));
        assert!(!is_modern_error(400, -32000));
        for s in [400, 404, 405, 406, 415, 422] {
            assert!(is_legacy_status(s), "{s}");
        }
        for s in [200, 202, 401, 403, 408, 429, 500, 503] {
            assert!(!is_legacy_status(s), "{s}");
        }
    }

    #[test]
    fn result_types() {
        assert!(matches!(result_kind(&json!({"tools": []}), "m"), Ok(ResultKind::Complete)));
        assert!(matches!(result_kind(&json!({"resultType": "complete"}), "m"), Ok(ResultKind::Complete)));
        assert!(matches!(result_kind(&json!({"resultType": "input_required"}), "m"), Ok(ResultKind::InputRequired)));
        assert!(result_kind(&json!({"resultType": "task"}), "m").is_err());
        assert!(result_kind(&json!({"resultType": 1}), "m").is_err());
    }

    #[test]
    fn retry_params_carry_only_this_rounds_input() {
        let original = Some(json!({"name": "t", "arguments": {"a": 1}, "requestState": "stale"}));
        let p = with_input(original.clone(), Some(json!({"k": {"action": "accept"}})), None).unwrap();
        assert_eq!(p["name"], "t");
        assert_eq!(p["inputResponses"]["k"]["action"], "accept");
        assert!(p.get("requestState").is_none(), "no requestState without one in the result");
        let p = with_input(original, None, Some("opaque".into())).unwrap();
        assert_eq!(p["requestState"], "opaque");
        assert!(p.get("inputResponses").is_none());
    }

    #[test]
    fn invalid_tools_are_screened_out() {
        let mut result = json!({"tools": [
            {"name": "good", "inputSchema": {"type": "object", "properties": {
                "region": {"type": "string", "x-mcp-header": "Region"}}}},
            {"name": "bad", "inputSchema": {"type": "object", "properties": {
                "n": {"type": "number", "x-mcp-header": "N"}}}},
            {"name": "plain", "inputSchema": {"type": "object"}}
        ]});
        let found = screen_tools(&mut result);
        let names: Vec<&str> =
            result["tools"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["good", "plain"]);
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].1[0].name, "Region");
    }
}
