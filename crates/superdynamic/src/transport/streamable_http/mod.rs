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
//!
//! Files: `options` (settings), `wire` (one HTTP exchange: headers, status, bounded reads), `negotiation` (which
//! generation, and the answers that decide it), `legacy/` (sessions, responses and their SSE streams, resumption,
//! the session's GET stream, and the same session over the 2024-11-05 HTTP+SSE transport) and `modern/` (the
//! stateless request, MRTR, `x-mcp-header` tool annotations). [`TransportOrder`] says whether HTTP+SSE is tried,
//! and when.

mod legacy;
mod modern;
mod negotiation;
mod options;
mod wire;

pub use legacy::SessionInfo;
pub use options::{ServerStream, TransportOptions, TransportOrder};

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use serde_json::Value;
use url::Url;

use super::era::Generation;
use super::error::TransportError;
use super::handler::{DefaultHandler, ServerMessageHandler};
use super::headers::ParamHeader;
use super::jsonrpc::RequestId;
use crate::secret::AccessToken;
use legacy::Session;
use negotiation::{EraState, Outcome, refused_like_a_modern_server};

/// The initialize-based (legacy) protocol versions this transport speaks, newest first. The modern ones are
/// [`MODERN_PROTOCOL_VERSIONS`](super::era::MODERN_PROTOCOL_VERSIONS).
pub const SUPPORTED_PROTOCOL_VERSIONS: [&str; 3] = ["2025-11-25", "2025-06-18", "2025-03-26"];

/// The version requested in `initialize` by default ("SHOULD be the latest version supported by the client",
/// basic/lifecycle.mdx "Version Negotiation"). The modern version is
/// [`MODERN_PROTOCOL_VERSION`](super::era::MODERN_PROTOCOL_VERSION).
pub const LATEST_PROTOCOL_VERSION: &str = "2025-11-25";

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
    /// Sessions open over the 2024-11-05 HTTP+SSE transport ([`TransportOrder`]).
    sse_wire: std::sync::atomic::AtomicBool,
    /// The key DPoP-bound tokens are sent with ([`StreamableHttp::set_dpop`]); `None`: Bearer tokens.
    dpop: RwLock<Option<crate::dpop::DpopProver>>,
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

impl StreamableHttp {
    pub fn new(http: reqwest::Client, endpoint: Url, options: TransportOptions) -> Self {
        let era = EraState { assumed: options.generation_hint, ..EraState::default() };
        let sse_first = matches!(options.transport, TransportOrder::SseFirst | TransportOrder::SseOnly);
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
                sse_wire: std::sync::atomic::AtomicBool::new(sse_first),
                dpop: RwLock::new(None),
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

    /// Send tokens as DPoP-bound (RFC 9449 §7.1) with proofs signed by this key, or as Bearer tokens (`None`).
    pub fn set_dpop(&self, prover: Option<crate::dpop::DpopProver>) {
        *self.inner.dpop.write().unwrap_or_else(|poison| poison.into_inner()) = prover;
    }

    pub(crate) fn dpop(&self) -> Option<crate::dpop::DpopProver> {
        self.inner.dpop.read().unwrap_or_else(|poison| poison.into_inner()).clone()
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
        let order = self.inner.options.transport;
        let unsettled = self.generation().is_none() && self.current_session().is_none();
        if self.uses_sse() {
            return match self.legacy_request(method, params.clone(), bearer).await {
                // sse-first: no event stream here, so Streamable HTTP.
                Err(TransportError::NoEventStream { .. }) if order == TransportOrder::SseFirst && unsettled => {
                    self.set_sse(false);
                    self.streamable_request(method, params, bearer).await
                }
                other => other,
            };
        }
        match self.streamable_request(method, params.clone(), bearer).await {
            // 2025-03-26 basic/transports.mdx "Backwards Compatibility": a POST refused with 400/404/405 before
            // anything was established means an HTTP+SSE server; try its event stream.
            Err(original @ TransportError::HttpStatus { status: 400 | 404 | 405, .. })
                if order == TransportOrder::HttpFirst && unsettled && self.generation().is_none() =>
            {
                tracing::info!(%original, "Streamable HTTP refused; trying the HTTP+SSE transport");
                self.set_sse(true);
                match self.legacy_request(method, params, bearer).await {
                    Err(TransportError::NoEventStream { .. }) => {
                        self.set_sse(false);
                        Err(original)
                    }
                    other => other,
                }
            }
            other => other,
        }
    }

    async fn streamable_request(
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
                        Outcome::Result(result) => {
                            // `initialize` was refused, so whatever this answer looked like, it is not legacy.
                            self.confirm(Generation::Modern);
                            Ok(result)
                        }
                        Outcome::Legacy { .. } => Err(err),
                    };
                }
                self.legacy_request(method, params, bearer).await
            }
            Some(Generation::Modern) | None => {
                let probing = era.confirmed != Some(Generation::Modern);
                match self.modern_request(method, params.clone(), bearer, probing).await? {
                    Outcome::Result(result) => Ok(result),
                    Outcome::Legacy { reason, version } => {
                        tracing::info!(%reason, "the MCP server is legacy; falling back to initialize");
                        self.assume_legacy(version);
                        self.legacy_request(method, params, bearer).await
                    }
                }
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
        if !self.uses_sse() && era.confirmed.or(era.assumed) != Some(Generation::Legacy) {
            if era.confirmed != Some(Generation::Modern) {
                match self.modern_request("server/discover", None, bearer, true).await? {
                    Outcome::Result(_) => {}
                    Outcome::Legacy { reason, version } => {
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

    fn next_id(&self) -> RequestId {
        RequestId::Number(self.inner.next_id.fetch_add(1, Ordering::Relaxed))
    }

    fn handler(&self) -> Arc<dyn ServerMessageHandler> {
        self.inner.handler.read().unwrap_or_else(|poison| poison.into_inner()).clone()
    }
}
