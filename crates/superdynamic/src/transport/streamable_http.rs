//! The MCP Streamable HTTP client for both protocol generations (basic/versioning.mdx "Terminology"):
//!
//! - **modern** (2026-07-28, [`modern`]): stateless; every request carries `params._meta` and the
//!   `MCP-Protocol-Version` / `Mcp-Method` / `Mcp-Name` / `Mcp-Param-*` headers; no `initialize`, no session, no
//!   GET, no DELETE.
//! - **legacy** (2025-03-26, 2025-06-18, 2025-11-25): basic/transports.mdx "Streamable HTTP" and
//!   basic/lifecycle.mdx. The first request runs `initialize` → `notifications/initialized`; afterwards every
//!   HTTP request carries the negotiated `MCP-Protocol-Version` and the `Mcp-Session-Id` (if the server gave one).
//!
//! Every message is its own POST to the one endpoint. A request's answer is either one JSON body or an SSE stream.
//! Unless told otherwise ([`TransportOptions::generation_hint`]) the client is dual-era: it sends the modern
//! request first and falls back to `initialize` on the answers basic/versioning.mdx "Backward Compatibility with
//! Initialization-Based Versions" lists.

mod listen;
mod modern;

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use futures_util::StreamExt;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use url::Url;
use zeroize::Zeroizing;

use super::era::{Generation, MODERN_PROTOCOL_VERSION};
use super::error::TransportError;
use super::handler::{DefaultHandler, ServerMessageHandler};
use super::headers::ParamHeader;
use super::jsonrpc::{ErrorResponse, Message, Notification, Request, RequestId, Response};
use super::sse::{SseError, SseEvent, SseLimits, SseParser};
use crate::secret::AccessToken;

/// The initialize-based (legacy) protocol versions this transport speaks, newest first. The modern ones are
/// [`MODERN_PROTOCOL_VERSIONS`](super::era::MODERN_PROTOCOL_VERSIONS).
pub const SUPPORTED_PROTOCOL_VERSIONS: [&str; 3] = ["2025-11-25", "2025-06-18", "2025-03-26"];
/// The version requested in `initialize` by default ("SHOULD be the latest version supported by the client",
/// basic/lifecycle.mdx "Version Negotiation"). The modern version is
/// [`MODERN_PROTOCOL_VERSION`](super::era::MODERN_PROTOCOL_VERSION).
pub const LATEST_PROTOCOL_VERSION: &str = "2025-11-25";

const SESSION_ID_HEADER: &str = "mcp-session-id";
const PROTOCOL_VERSION_HEADER: &str = "mcp-protocol-version";
const LAST_EVENT_ID_HEADER: &str = "last-event-id";
/// basic/transports.mdx "Sending Messages to the Server" 2: list both content types.
const ACCEPT_POST: &str = "application/json, text/event-stream";
/// basic/transports.mdx "Listening for Messages from the Server" 2.
const ACCEPT_SSE: &str = "text/event-stream";
/// Reconnection delay when the server never sent `retry` (WHATWG leaves the default to the client).
const DEFAULT_RECONNECT_DELAY: Duration = Duration::from_secs(1);
/// Upper bound on a server-requested `retry`, so a hostile value cannot park a request forever.
const MAX_RECONNECT_DELAY: Duration = Duration::from_secs(60);
/// How much of an error body is read, and how much of it goes into [`TransportError::HttpStatus`].
const EXCERPT_READ_BYTES: usize = 4096;
const EXCERPT_CHARS: usize = 300;

/// Settings of a [`StreamableHttp`].
#[derive(Debug, Clone)]
pub struct TransportOptions {
    /// `clientInfo.name` in `initialize`.
    pub client_name: String,
    /// `clientInfo.version` in `initialize`.
    pub client_version: String,
    /// The version requested in `initialize`.
    pub protocol_version: String,
    /// Per request: the wait for response headers and, on a stream, the longest idle gap between chunks. Never a
    /// total deadline: a stream that keeps sending is not cut.
    pub request_timeout: Duration,
    /// Largest JSON response body read.
    pub max_json_body: usize,
    /// Bounds for SSE lines and events.
    pub sse_limits: SseLimits,
    /// Resumptions (GET with `Last-Event-ID`) in a row without a new message before a request gives up (legacy).
    pub max_resume_attempts: u32,
    /// The generation to start with, e.g. what [`StreamableHttp::generation`] said in an earlier run for this
    /// server. `None`: send the modern request first and fall back to `initialize` if the server is legacy.
    /// `Some(Legacy)`: go straight to `initialize`. `Some(Modern)`: same as `None`, but documents intent. A hint
    /// is re-checked if it turns out wrong (basic/versioning.mdx: "re-probing if the cached assumption later
    /// fails").
    pub generation_hint: Option<Generation>,
    /// Modern MRTR: the most `input_required` rounds one request may go through before giving up.
    pub max_input_rounds: u32,
    /// Modern: how often a request whose SSE response stream broke before the response is re-issued (with a
    /// new id; 2026-07-28 streams are not resumable).
    pub max_stream_reissues: u32,
    /// Legacy sessions: when to open the session's GET stream, kept open in the background for server requests
    /// and notifications not tied to one of our requests (basic/transports.mdx "Listening for Messages from the
    /// Server").
    pub server_stream: ServerStream,
    /// Extra headers sent on every HTTP request to the endpoint (e.g. an API key a gateway wants). They never
    /// replace a header the protocol sets (`Authorization`, `Mcp-Session-Id`, `MCP-Protocol-Version`, …).
    pub extra_headers: HeaderMap,
}

impl Default for TransportOptions {
    fn default() -> Self {
        Self {
            client_name: "superdynamic".to_owned(),
            client_version: env!("CARGO_PKG_VERSION").to_owned(),
            protocol_version: LATEST_PROTOCOL_VERSION.to_owned(),
            request_timeout: Duration::from_secs(60),
            max_json_body: 8 * 1024 * 1024,
            sse_limits: SseLimits::default(),
            max_resume_attempts: 5,
            generation_hint: None,
            max_input_rounds: 8,
            max_stream_reissues: 2,
            server_stream: ServerStream::Always,
            extra_headers: HeaderMap::new(),
        }
    }
}

/// When a legacy session opens its GET stream for messages the server sends outside a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerStream {
    /// Right after `initialize`: for long-lived clients that relay list changes at any time (the proxy).
    Always,
    /// Before the session's first request that may lead the server to ask something back (anything but a
    /// `*/list` listing or `ping`): servers built on the TypeScript SDK send a tool's elicitation there. A
    /// one-shot listing then costs one request fewer.
    BeforeFirstCall,
    Never,
}

/// What `initialize` negotiated.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionInfo {
    /// The version the server answered with; sent as `MCP-Protocol-Version` from then on.
    pub protocol_version: String,
    /// `serverInfo` as sent (name, version, title …), `Null` if absent.
    pub server_info: Value,
    /// The server's `capabilities`, `{}` if absent.
    pub capabilities: Value,
    pub instructions: Option<String>,
    /// The `Mcp-Session-Id` the server assigned, if any. Not a credential, but not to be shared either
    /// (2025-11-25 basic/transports.mdx "Session Management" 1).
    pub session_id: Option<String>,
}

struct Session {
    info: SessionInfo,
    /// Distinguishes sessions so a task that saw a 404 forgets only the session it used.
    generation: u64,
    /// Whether this session's GET stream was opened (or tried).
    stream_started: std::sync::atomic::AtomicBool,
}

struct Inner {
    http: reqwest::Client,
    endpoint: Url,
    options: TransportOptions,
    handler: RwLock<Arc<dyn ServerMessageHandler>>,
    next_id: AtomicI64,
    next_generation: AtomicU64,
    session: Mutex<Option<Arc<Session>>>,
    /// Only one task runs `initialize` at a time; the others wait and reuse its session.
    init_lock: tokio::sync::Mutex<()>,
    era: Mutex<EraState>,
    /// Modern: the `x-mcp-header` annotations of each tool seen in `tools/list`, by tool name.
    tool_headers: Mutex<HashMap<String, Vec<ParamHeader>>>,
    /// Modern: a complete `tools/list` was seen (or tried), so an unknown tool needs no fetch before a call.
    tools_listed: std::sync::atomic::AtomicBool,
    /// Legacy: the background task reading the session's GET stream.
    listener: Mutex<Option<tokio::task::AbortHandle>>,
    /// The newest bearer token a caller gave, for answers the listener sends.
    last_bearer: Mutex<Option<AccessToken>>,
    /// Modern: return `input_required` results to the caller instead of answering them through the handler.
    input_passthrough: std::sync::atomic::AtomicBool,
}

/// What is known about the server's generation.
#[derive(Debug, Clone, Default)]
struct EraState {
    /// Established by an answer in this run.
    confirmed: Option<Generation>,
    /// The caller's hint, or what a probe suggested; not yet confirmed.
    assumed: Option<Generation>,
    /// The version `initialize` asks for when a -32022 answer named a legacy one.
    legacy_version: Option<String>,
}

/// An MCP Streamable HTTP client for one endpoint. Cloning is cheap and clones share the session; all methods
/// take `&self` and may run concurrently.
#[derive(Clone)]
pub struct StreamableHttp {
    inner: Arc<Inner>,
}

impl fmt::Debug for StreamableHttp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamableHttp")
            .field("endpoint", &self.inner.endpoint.as_str())
            .field("session", &self.session())
            .finish_non_exhaustive()
    }
}

/// The headers that identify one HTTP request's place in a session.
#[derive(Clone, Copy)]
struct Ctx<'a> {
    session_id: Option<&'a str>,
    protocol_version: Option<&'a str>,
    bearer: Option<&'a AccessToken>,
}

impl<'a> Ctx<'a> {
    fn for_session(session: &'a Session, bearer: Option<&'a AccessToken>) -> Self {
        Self {
            session_id: session.info.session_id.as_deref(),
            protocol_version: Some(&session.info.protocol_version),
            bearer,
        }
    }
}

impl StreamableHttp {
    pub fn new(http: reqwest::Client, endpoint: Url, options: TransportOptions) -> Self {
        let era = EraState { assumed: options.generation_hint, ..EraState::default() };
        Self {
            inner: Arc::new(Inner {
                http,
                endpoint,
                options,
                handler: RwLock::new(Arc::new(DefaultHandler)),
                next_id: AtomicI64::new(1),
                next_generation: AtomicU64::new(1),
                session: Mutex::new(None),
                init_lock: tokio::sync::Mutex::new(()),
                era: Mutex::new(era),
                tool_headers: Mutex::new(HashMap::new()),
                tools_listed: std::sync::atomic::AtomicBool::new(false),
                listener: Mutex::new(None),
                last_bearer: Mutex::new(None),
                input_passthrough: std::sync::atomic::AtomicBool::new(false),
            }),
        }
    }

    /// Builder form of [`StreamableHttp::set_handler`].
    pub fn with_handler(self, handler: Arc<dyn ServerMessageHandler>) -> Self {
        self.set_handler(handler);
        self
    }

    /// Replaces the handler for server→client requests and notifications (for all clones).
    pub fn set_handler(&self, handler: Arc<dyn ServerMessageHandler>) {
        *self.inner.handler.write().unwrap_or_else(|poison| poison.into_inner()) = handler;
    }

    /// Modern: when `true`, an `InputRequiredResult` (MRTR) is returned from [`Self::request`] as it came, for a
    /// caller that relays it to a modern peer which answers and retries itself (the stdio proxy). Default
    /// `false`: the handler answers input requests and the transport retries.
    pub fn set_input_passthrough(&self, on: bool) {
        self.inner.input_passthrough.store(on, Ordering::Relaxed);
    }

    pub fn endpoint(&self) -> &Url {
        &self.inner.endpoint
    }

    pub fn options(&self) -> &TransportOptions {
        &self.inner.options
    }

    /// The current session, if `initialize` has run (legacy only: the modern generation has no sessions).
    pub fn session(&self) -> Option<SessionInfo> {
        self.current_session().map(|s| s.info.clone())
    }

    /// The generation this server was found to speak, `None` until an answer settled it (a
    /// [`TransportOptions::generation_hint`] alone does not count). Callers may store it (it is serde
    /// serializable) and pass it as the hint next time.
    pub fn generation(&self) -> Option<Generation> {
        self.lock_era().confirmed
    }

    /// Starts from `generation` (one a store remembered for this server) unless an answer or an earlier hint
    /// already settled it; the same as [`TransportOptions::generation_hint`], after construction.
    pub fn assume_generation(&self, generation: Generation) {
        let mut era = self.lock_era();
        if era.confirmed.is_none() && era.assumed.is_none() {
            era.assumed = Some(generation);
        }
    }

    /// The protocol version in use: `2026-07-28` once the modern generation is confirmed, the session's version
    /// once `initialize` has run, `None` before.
    pub fn protocol_version(&self) -> Option<String> {
        match self.generation() {
            Some(Generation::Modern) => Some(MODERN_PROTOCOL_VERSION.to_owned()),
            _ => self.session().map(|s| s.protocol_version),
        }
    }

    /// Sends one JSON-RPC request and returns its `result`. `bearer`, when given, goes in
    /// `Authorization: Bearer …` on every HTTP request this call makes.
    ///
    /// Modern: `params._meta` and the request metadata headers are added, `input_required` results are
    /// answered through the handler and the request retried (MRTR), and a `tools/list` result loses the tools
    /// whose `x-mcp-header` annotations are invalid. Legacy: a session is initialized first if there is none.
    /// A 401/403 is returned as [`TransportError::Unauthorized`] / [`TransportError::Forbidden`] whatever the
    /// generation, and says nothing about it: negotiation continues on the next call.
    pub async fn request(
        &self,
        method: &str,
        params: Option<Value>,
        bearer: Option<&AccessToken>,
    ) -> Result<Value, TransportError> {
        // streamable-http.mdx "Client Behavior" 3: a tools/call needs the tool's inputSchema to mirror its
        // x-mcp-header parameters. The listing doubles as a side-effect-free first (probe) request.
        if method == "tools/call" && self.needs_tool_schemas(params.as_ref()) {
            self.fetch_tool_schemas(bearer).await?;
        }
        let era = self.lock_era().clone();
        match era.confirmed.or(era.assumed) {
            Some(Generation::Legacy) => {
                if era.confirmed.is_none()
                    && let Err(err) = self.ensure_session(bearer).await
                {
                    // A remembered "legacy" may be stale: if `initialize` is refused the way a modern-only
                    // server refuses it, try the modern request once (basic/versioning.mdx "re-probing if the
                    // cached assumption later fails").
                    if !refused_like_a_modern_server(&err) {
                        return Err(err);
                    }
                    return match self.modern_request(method, params, bearer, true).await? {
                        modern::Outcome::Result(result) => {
                            // `initialize` was refused, so whatever this answer looked like, it is not legacy.
                            self.confirm(Generation::Modern);
                            Ok(result)
                        }
                        modern::Outcome::Legacy { .. } => Err(err),
                    };
                }
                self.legacy_request(method, params, bearer).await
            }
            Some(Generation::Modern) | None => {
                let probing = era.confirmed != Some(Generation::Modern);
                match self.modern_request(method, params.clone(), bearer, probing).await? {
                    modern::Outcome::Result(result) => Ok(result),
                    modern::Outcome::Legacy { reason, version } => {
                        tracing::info!(%reason, "the MCP server is legacy; falling back to initialize");
                        self.assume_legacy(version);
                        self.legacy_request(method, params, bearer).await
                    }
                }
            }
        }
    }

    /// The legacy request: initialize if needed, then the request in the session.
    async fn legacy_request(
        &self,
        method: &str,
        params: Option<Value>,
        bearer: Option<&AccessToken>,
    ) -> Result<Value, TransportError> {
        let mut retried = false;
        self.note_bearer(bearer);
        loop {
            let session = self.ensure_session(bearer).await?;
            let listing = method.ends_with("/list") || method == "ping";
            if self.inner.options.server_stream == ServerStream::BeforeFirstCall && !listing {
                self.start_server_stream(&session).await;
            }
            let ctx = Ctx::for_session(&session, bearer);
            // basic/index.mdx "Requests": a fresh id for every request, never reused in the session.
            let request = Request { id: self.next_id(), method: method.to_owned(), params: params.clone() };
            match self.call(&ctx, &request).await {
                // basic/transports.mdx "Session Management" 4: a 404 to a request carrying a session id means
                // the session is gone; start a new one (without the old id) and retry once.
                Err(TransportError::SessionExpired) => {
                    self.forget_session(&session);
                    if retried {
                        return Err(TransportError::SessionExpired);
                    }
                    retried = true;
                }
                other => return other,
            }
        }
    }

    /// Sends one JSON-RPC notification. Legacy: initializing a session first if there is none. Modern: POSTed
    /// with `MCP-Protocol-Version` and `Mcp-Method` (2026-07-28 defines no client notifications on HTTP, so this
    /// is for extensions). With the generation still unknown, `server/discover` settles it first.
    pub async fn notify(
        &self,
        method: &str,
        params: Option<Value>,
        bearer: Option<&AccessToken>,
    ) -> Result<(), TransportError> {
        let era = self.lock_era().clone();
        if era.confirmed.or(era.assumed) != Some(Generation::Legacy) {
            if era.confirmed != Some(Generation::Modern) {
                match self.modern_request("server/discover", None, bearer, true).await? {
                    modern::Outcome::Result(_) => {}
                    modern::Outcome::Legacy { reason, version } => {
                        tracing::info!(%reason, "the MCP server is legacy; falling back to initialize");
                        self.assume_legacy(version);
                        return self.legacy_notify(method, params, bearer).await;
                    }
                }
            }
            return self.modern_notify(method, params, bearer).await;
        }
        self.legacy_notify(method, params, bearer).await
    }

    async fn legacy_notify(
        &self,
        method: &str,
        params: Option<Value>,
        bearer: Option<&AccessToken>,
    ) -> Result<(), TransportError> {
        let message = Message::Notification(Notification { method: method.to_owned(), params });
        let mut retried = false;
        loop {
            let session = self.ensure_session(bearer).await?;
            let ctx = Ctx::for_session(&session, bearer);
            match self.post_message(&ctx, &message, method).await {
                Err(TransportError::SessionExpired) => {
                    self.forget_session(&session);
                    if retried {
                        return Err(TransportError::SessionExpired);
                    }
                    retried = true;
                }
                other => return other,
            }
        }
    }

    /// Ends the session: HTTP DELETE with the `Mcp-Session-Id` (basic/transports.mdx "Session Management" 5).
    /// 405 (the server does not let clients end sessions) and 404 (already gone) count as success. No-op without
    /// a session. The session is forgotten locally unless the server answered 401/403, so the caller can retry
    /// with a fresh token.
    pub async fn close(&self, bearer: Option<&AccessToken>) -> Result<(), TransportError> {
        self.stop_listener();
        let Some(session) = self.current_session() else {
            return Ok(());
        };
        if session.info.session_id.is_none() {
            self.forget_session(&session);
            return Ok(());
        }
        let result = self.delete_session(&Ctx::for_session(&session, bearer)).await;
        if !matches!(&result, Err(e) if e.is_auth()) {
            self.forget_session(&session);
        }
        result
    }

    fn next_id(&self) -> RequestId {
        RequestId::Number(self.inner.next_id.fetch_add(1, Ordering::Relaxed))
    }

    fn handler(&self) -> Arc<dyn ServerMessageHandler> {
        self.inner.handler.read().unwrap_or_else(|poison| poison.into_inner()).clone()
    }

    fn lock_era(&self) -> MutexGuard<'_, EraState> {
        self.inner.era.lock().unwrap_or_else(|poison| poison.into_inner())
    }

    fn confirm(&self, generation: Generation) {
        let mut era = self.lock_era();
        era.confirmed = Some(generation);
        era.assumed = None;
    }

    /// A probe said "legacy": `initialize` next (with `version` if a -32022 answer named one); confirmed once
    /// `initialize` succeeds.
    fn assume_legacy(&self, version: Option<String>) {
        let mut era = self.lock_era();
        era.confirmed = None;
        era.assumed = Some(Generation::Legacy);
        if version.is_some() {
            era.legacy_version = version;
        }
    }

    fn lock_session(&self) -> MutexGuard<'_, Option<Arc<Session>>> {
        self.inner.session.lock().unwrap_or_else(|poison| poison.into_inner())
    }

    fn current_session(&self) -> Option<Arc<Session>> {
        self.lock_session().clone()
    }

    /// Forgets `session` unless another task already replaced it.
    fn forget_session(&self, session: &Session) {
        let mut current = self.lock_session();
        if current.as_ref().is_some_and(|c| c.generation == session.generation) {
            *current = None;
        }
    }

    async fn ensure_session(&self, bearer: Option<&AccessToken>) -> Result<Arc<Session>, TransportError> {
        if let Some(session) = self.current_session() {
            return Ok(session);
        }
        let _guard = self.inner.init_lock.lock().await;
        if let Some(session) = self.current_session() {
            return Ok(session);
        }
        let session = Arc::new(self.initialize(bearer).await?);
        *self.lock_session() = Some(session.clone());
        self.confirm(Generation::Legacy);
        self.note_bearer(bearer);
        if self.inner.options.server_stream == ServerStream::Always {
            self.start_server_stream(&session).await;
        }
        Ok(session)
    }

    /// Opens the session's GET stream once (waiting briefly until it is open, so a server request that follows
    /// our next request has somewhere to go).
    async fn start_server_stream(&self, session: &Arc<Session>) {
        if !session.stream_started.swap(true, Ordering::AcqRel) {
            self.start_listener(session.clone()).await;
        }
    }

    /// basic/lifecycle.mdx "Initialization": `initialize` (protocolVersion, capabilities, clientInfo), then
    /// `notifications/initialized`.
    async fn initialize(&self, bearer: Option<&AccessToken>) -> Result<Session, TransportError> {
        let options = &self.inner.options;
        // A -32022 answer to the modern probe may have named the legacy version to use.
        let version = self.lock_era().legacy_version.clone().unwrap_or_else(|| options.protocol_version.clone());
        let capabilities = self.handler().client_capabilities();
        let request = Request {
            id: self.next_id(),
            method: "initialize".to_owned(),
            params: Some(json!({
                "protocolVersion": version,
                "capabilities": capabilities,
                "clientInfo": {"name": options.client_name, "version": options.client_version},
            })),
        };
        // "Session Management" 4: a new session starts without a session id; the server's id is adopted from
        // the InitializeResult's response headers.
        let ctx = Ctx { session_id: None, protocol_version: None, bearer };
        let mut assigned_id = None;
        let result = self.call_adopting(&ctx, &request, &mut assigned_id).await?;
        let Value::Object(result) = result else {
            return Err(TransportError::Protocol("the initialize result is not a JSON object".to_owned()));
        };
        let offered = result.get("protocolVersion").and_then(Value::as_str).ok_or_else(|| {
            TransportError::Protocol("the initialize result has no protocolVersion string".to_owned())
        })?;
        if !SUPPORTED_PROTOCOL_VERSIONS.contains(&offered) {
            // "Version Negotiation": the client SHOULD disconnect, so end the session the server opened.
            if assigned_id.is_some() {
                let ctx = Ctx { session_id: assigned_id.as_deref(), protocol_version: None, bearer };
                if let Err(err) = self.delete_session(&ctx).await {
                    tracing::debug!(%err, "could not end the session of an incompatible server");
                }
            }
            return Err(TransportError::UnsupportedProtocolVersion { offered: offered.to_owned() });
        }
        let info = SessionInfo {
            protocol_version: offered.to_owned(),
            server_info: result.get("serverInfo").cloned().unwrap_or(Value::Null),
            capabilities: result.get("capabilities").cloned().unwrap_or_else(|| json!({})),
            instructions: result.get("instructions").and_then(Value::as_str).map(str::to_owned),
            session_id: assigned_id,
        };
        // "Protocol Version Header": from here on every request carries the negotiated version.
        let ctx =
            Ctx { session_id: info.session_id.as_deref(), protocol_version: Some(&info.protocol_version), bearer };
        let initialized =
            Message::Notification(Notification { method: "notifications/initialized".to_owned(), params: None });
        self.post_message(&ctx, &initialized, "notifications/initialized").await?;
        Ok(Session {
            info,
            generation: self.inner.next_generation.fetch_add(1, Ordering::Relaxed),
            stream_started: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// [`Self::call`] for `initialize`: records the `Mcp-Session-Id` of the response in `assigned_id` and
    /// uses it (for answers to server requests) while the response stream is read.
    async fn call_adopting(
        &self,
        ctx: &Ctx<'_>,
        request: &Request,
        assigned_id: &mut Option<String>,
    ) -> Result<Value, TransportError> {
        let response = self.post_request(ctx, request).await?;
        *assigned_id = session_id_from(response.headers())?;
        let ctx = Ctx { session_id: assigned_id.as_deref(), ..*ctx };
        // basic/utilities/cancellation: "The initialize request MUST NOT be cancelled by clients", so no
        // cancellation on timeout here.
        self.read_response(response, &ctx, request).await
    }

    /// POSTs a request and waits for its response. On a timeout, sends `notifications/cancelled` (basic/lifecycle.mdx
    /// "Timeouts": the sender SHOULD issue a cancellation notification and stop waiting).
    async fn call(&self, ctx: &Ctx<'_>, request: &Request) -> Result<Value, TransportError> {
        let result = match self.post_request(ctx, request).await {
            Ok(response) => self.read_response(response, ctx, request).await,
            Err(err) => Err(err),
        };
        if matches!(result, Err(TransportError::Timeout { .. })) {
            self.cancel(ctx, &request.id, "request timed out").await;
        }
        result
    }

    async fn post_request(&self, ctx: &Ctx<'_>, request: &Request) -> Result<reqwest::Response, TransportError> {
        let body = request.to_value().to_string();
        let response = self.send(Method::POST, ctx, None, Some(body), &request.method).await?;
        self.check_status(response, ctx).await
    }

    /// basic/transports.mdx "Sending Messages to the Server" 5: the client MUST handle both a JSON body and
    /// an SSE stream.
    async fn read_response(
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
            if parser.finish() {
                tracing::debug!("the response stream ended in the middle of an event");
            }
            if parser.last_event_id().is_empty() {
                return Err(TransportError::Protocol(format!(
                    "the stream closed before the response to `{}` arrived, and no event id allows resuming it",
                    request.method
                )));
            }
            if resumes_without_progress >= options.max_resume_attempts {
                return Err(TransportError::Protocol(format!(
                    "the stream for `{}` closed before the response; gave up after {} resumption attempts",
                    request.method, options.max_resume_attempts
                )));
            }
            resumes_without_progress += 1;
            // 2025-11-25 "Sending Messages to the Server" 6: the client MUST wait the `retry` time before
            // reconnecting.
            let delay = parser.retry().unwrap_or(DEFAULT_RECONNECT_DELAY).min(MAX_RECONNECT_DELAY);
            tokio::time::sleep(delay).await;
            response = self.resume(ctx, parser.last_event_id(), &request.method).await?;
            parser.reset_stream();
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
    async fn answer_server_request(&self, ctx: &Ctx<'_>, request: Request) {
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

    /// GET with `Last-Event-ID` to resume a stream (2025-11-25 "Resumability and Redelivery" 2).
    async fn resume(
        &self,
        ctx: &Ctx<'_>,
        last_event_id: &str,
        method: &str,
    ) -> Result<reqwest::Response, TransportError> {
        let response = self.send_with(Method::GET, ctx, ACCEPT_SSE, Some(last_event_id), None, method).await?;
        if response.status() == StatusCode::METHOD_NOT_ALLOWED {
            return Err(TransportError::Protocol(format!(
                "the stream closed before the response to `{method}` arrived, and the server does not allow resuming it (GET → 405)"
            )));
        }
        let response = self.check_status(response, ctx).await?;
        match content_type(response.headers()).as_deref() {
            Some("text/event-stream") => Ok(response),
            other => Err(TransportError::Protocol(format!(
                "resuming the stream for `{method}` returned content type {}; expected text/event-stream",
                other.unwrap_or("(none)")
            ))),
        }
    }

    /// POSTs a notification or a response (basic/transports.mdx "Sending Messages to the Server" 4: accepted →
    /// 202; 200 and 204 are tolerated, and any body is ignored).
    async fn post_message(&self, ctx: &Ctx<'_>, message: &Message, what: &str) -> Result<(), TransportError> {
        let body = message.to_value().to_string();
        let response = self.send(Method::POST, ctx, None, Some(body), what).await?;
        self.check_status(response, ctx).await.map(drop)
    }

    /// Best-effort `notifications/cancelled` (basic/utilities/cancellation).
    async fn cancel(&self, ctx: &Ctx<'_>, id: &RequestId, reason: &str) {
        let message = Message::Notification(Notification {
            method: "notifications/cancelled".to_owned(),
            params: Some(json!({"requestId": id.to_value(), "reason": reason})),
        });
        if let Err(err) = self.post_message(ctx, &message, "notifications/cancelled").await {
            tracing::debug!(%err, "could not send notifications/cancelled");
        }
    }

    async fn delete_session(&self, ctx: &Ctx<'_>) -> Result<(), TransportError> {
        let response = self.send(Method::DELETE, ctx, None, None, "the session DELETE").await?;
        // "Session Management" 5: the server MAY answer 405; 404 means the session is already gone.
        if matches!(response.status(), StatusCode::METHOD_NOT_ALLOWED | StatusCode::NOT_FOUND) {
            return Ok(());
        }
        self.check_status(response, ctx).await.map(drop)
    }

    async fn send(
        &self,
        method: Method,
        ctx: &Ctx<'_>,
        last_event_id: Option<&str>,
        body: Option<String>,
        what: &str,
    ) -> Result<reqwest::Response, TransportError> {
        self.send_with(method, ctx, ACCEPT_POST, last_event_id, body, what).await
    }

    /// Sends one HTTP request, waiting at most `request_timeout` for the response headers.
    async fn send_with(
        &self,
        method: Method,
        ctx: &Ctx<'_>,
        accept: &'static str,
        last_event_id: Option<&str>,
        body: Option<String>,
        what: &str,
    ) -> Result<reqwest::Response, TransportError> {
        let headers = headers(ctx, accept, last_event_id)?;
        self.send_headers(method, headers, body, what).await
    }

    /// Sends one HTTP request with exactly these headers, waiting at most `request_timeout` for the response
    /// headers.
    async fn send_headers(
        &self,
        method: Method,
        headers: HeaderMap,
        body: Option<String>,
        what: &str,
    ) -> Result<reqwest::Response, TransportError> {
        let mut headers = headers;
        for (name, value) in &self.inner.options.extra_headers {
            if !headers.contains_key(name) {
                headers.insert(name.clone(), value.clone());
            }
        }
        let mut builder = self.inner.http.request(method, self.inner.endpoint.clone()).headers(headers);
        if let Some(body) = body {
            builder = builder.header(CONTENT_TYPE, "application/json").body(body);
        }
        let after = self.inner.options.request_timeout;
        let timeout = || TransportError::Timeout { what: format!("the response headers for `{what}`"), after };
        match tokio::time::timeout(after, builder.send()).await {
            Err(_) => Err(timeout()),
            Ok(Err(err)) if err.is_timeout() => Err(timeout()),
            Ok(Err(err)) => {
                Err(TransportError::Connect { url: self.inner.endpoint.to_string(), source: err.without_url() })
            }
            Ok(Ok(response)) => Ok(response),
        }
    }

    /// Maps non-2xx statuses to errors.
    async fn check_status(
        &self,
        response: reqwest::Response,
        ctx: &Ctx<'_>,
    ) -> Result<reqwest::Response, TransportError> {
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        match status {
            StatusCode::UNAUTHORIZED => {
                Err(TransportError::Unauthorized { www_authenticate: www_authenticate(response.headers()) })
            }
            StatusCode::FORBIDDEN => {
                Err(TransportError::Forbidden { www_authenticate: www_authenticate(response.headers()) })
            }
            // "Session Management" 3-4: 404 for a session id = the session was terminated.
            StatusCode::NOT_FOUND if ctx.session_id.is_some() => Err(TransportError::SessionExpired),
            _ => Err(TransportError::HttpStatus { status: status.as_u16(), body: self.excerpt(response).await }),
        }
    }

    /// Reads a JSON body of at most `max_json_body` bytes, with the idle timeout between chunks.
    async fn read_json_body(&self, response: reqwest::Response, method: &str) -> Result<Vec<u8>, TransportError> {
        let limit = self.inner.options.max_json_body;
        if response.content_length().is_some_and(|len| len > limit as u64) {
            return Err(TransportError::BodyTooLarge { limit });
        }
        let after = self.inner.options.request_timeout;
        let mut stream = response.bytes_stream();
        let mut body = Vec::new();
        loop {
            match tokio::time::timeout(after, stream.next()).await {
                Err(_) => {
                    return Err(TransportError::Timeout {
                        what: format!("the body of the response to `{method}`"),
                        after,
                    });
                }
                Ok(None) => return Ok(body),
                Ok(Some(Err(err))) => {
                    return Err(TransportError::Protocol(format!(
                        "the connection broke while reading the response to `{method}`: {}",
                        err.without_url()
                    )));
                }
                Ok(Some(Ok(chunk))) => {
                    if body.len().saturating_add(chunk.len()) > limit {
                        return Err(TransportError::BodyTooLarge { limit });
                    }
                    body.extend_from_slice(&chunk);
                }
            }
        }
    }

    /// A short, single-line excerpt of an error body; reading stops early and never fails.
    async fn excerpt(&self, response: reqwest::Response) -> String {
        excerpt_of(&self.read_prefix(response, EXCERPT_READ_BYTES).await)
    }

    /// At most `max` bytes of a body; reading stops early (idle timeout, broken connection) and never fails.
    async fn read_prefix(&self, response: reqwest::Response, max: usize) -> Vec<u8> {
        let after = self.inner.options.request_timeout;
        let mut stream = response.bytes_stream();
        let mut body = Vec::new();
        while body.len() < max {
            match tokio::time::timeout(after, stream.next()).await {
                Ok(Some(Ok(chunk))) => {
                    let room = max - body.len();
                    body.extend_from_slice(chunk.get(..room).unwrap_or(&chunk));
                }
                _ => break,
            }
        }
        body
    }
}

/// A short, single-line excerpt of a body.
fn excerpt_of(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut excerpt = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if excerpt.is_empty() {
        return "(empty body)".to_owned();
    }
    if let Some((cut, _)) = excerpt.char_indices().nth(EXCERPT_CHARS) {
        excerpt.truncate(cut);
        excerpt.push('…');
    }
    excerpt
}

/// `initialize` answered the way a modern-only server answers it (basic/versioning.mdx: "the server rejects
/// `initialize` with a JSON-RPC error"; on HTTP "rejected per server validation with `400 Bad Request`").
fn refused_like_a_modern_server(err: &TransportError) -> bool {
    match err {
        // A dual-era server that answers `initialize` with the modern version.
        TransportError::UnsupportedProtocolVersion { offered } => {
            super::era::MODERN_PROTOCOL_VERSIONS.contains(&offered.as_str())
        }
        TransportError::HttpStatus { status, .. } => matches!(status, 400 | 404),
        TransportError::Rpc { code, .. } => matches!(
            *code,
            -32601
                | -32602
                | modern::HEADER_MISMATCH
                | modern::MISSING_CLIENT_CAPABILITY
                | modern::UNSUPPORTED_PROTOCOL_VERSION
        ),
        _ => false,
    }
}

enum EventOutcome {
    /// A priming event, or an event type other than `message`.
    Ignored,
    /// A server request or notification, handled.
    Message,
    /// The response to our request.
    Response(Value),
}

/// The headers common to every request of a session.
fn headers(ctx: &Ctx<'_>, accept: &'static str, last_event_id: Option<&str>) -> Result<HeaderMap, TransportError> {
    let mut headers = HeaderMap::new();
    headers.insert(ACCEPT, HeaderValue::from_static(accept));
    if let Some(token) = ctx.bearer {
        let value = Zeroizing::new(format!("Bearer {}", token.secret()));
        let mut value = HeaderValue::from_str(&value).map_err(|_| {
            TransportError::Protocol("the access token contains characters that cannot go in an HTTP header".to_owned())
        })?;
        value.set_sensitive(true);
        headers.insert(AUTHORIZATION, value);
    }
    // "Session Management" 2: echo the session id on all later requests.
    if let Some(id) = ctx.session_id {
        headers.insert(HeaderName::from_static(SESSION_ID_HEADER), header_value(id, "session id")?);
    }
    // "Protocol Version Header" (2025-06-18+): MUST be sent on all requests after initialize.
    if let Some(version) = ctx.protocol_version {
        headers.insert(HeaderName::from_static(PROTOCOL_VERSION_HEADER), header_value(version, "protocol version")?);
    }
    if let Some(id) = last_event_id {
        headers.insert(HeaderName::from_static(LAST_EVENT_ID_HEADER), header_value(id, "SSE event id")?);
    }
    Ok(headers)
}

fn header_value(value: &str, what: &str) -> Result<HeaderValue, TransportError> {
    HeaderValue::from_str(value)
        .map_err(|_| TransportError::Protocol(format!("the server's {what} cannot be sent back in an HTTP header")))
}

/// "Session Management" 1: the session id MUST only contain visible ASCII (0x21–0x7E).
fn session_id_from(headers: &HeaderMap) -> Result<Option<String>, TransportError> {
    let Some(value) = headers.get(SESSION_ID_HEADER) else {
        return Ok(None);
    };
    let bytes = value.as_bytes();
    if bytes.is_empty() || !bytes.iter().all(|b| (0x21..=0x7e).contains(b)) {
        return Err(TransportError::Protocol(
            "the server's Mcp-Session-Id is empty or has characters outside visible ASCII (0x21-0x7E)".to_owned(),
        ));
    }
    Ok(Some(String::from_utf8_lossy(bytes).into_owned()))
}

/// Every `WWW-Authenticate` value, in order (a server may send one per scheme).
fn www_authenticate(headers: &HeaderMap) -> Vec<String> {
    headers.get_all(WWW_AUTHENTICATE).iter().map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()).collect()
}

/// The media type without parameters, lowercased.
fn content_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(CONTENT_TYPE)?.to_str().ok()?;
    let media_type = value.split(';').next().unwrap_or_default().trim();
    Some(media_type.to_ascii_lowercase())
}

/// Turns a response message into the request's result, checking the id echoes ours (basic/index.mdx
/// "Responses": "Responses MUST include the same ID as the request they correspond to").
fn expect_response(message: Message, request: &Request) -> Result<Value, TransportError> {
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

fn sse_error(err: SseError, method: &str) -> TransportError {
    tracing::debug!(%err, method, "SSE stream rejected");
    match err {
        SseError::LineTooLong { limit } | SseError::EventTooLarge { limit } => TransportError::BodyTooLarge { limit },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_must_be_visible_ascii() {
        let mut headers = HeaderMap::new();
        assert_eq!(session_id_from(&headers).unwrap(), None);
        headers.insert(SESSION_ID_HEADER, HeaderValue::from_static("abc-123_~!"));
        assert_eq!(session_id_from(&headers).unwrap().as_deref(), Some("abc-123_~!"));
        headers.insert(SESSION_ID_HEADER, HeaderValue::from_static("has space"));
        assert!(session_id_from(&headers).is_err());
        headers.insert(SESSION_ID_HEADER, HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap());
        assert!(session_id_from(&headers).is_err());
    }

    #[test]
    fn content_type_ignores_parameters_and_case() {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("Application/JSON; charset=utf-8"));
        assert_eq!(content_type(&headers).as_deref(), Some("application/json"));
    }

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
