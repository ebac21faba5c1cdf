//! Assembly: state, the two routers (authorization server and resource
//! server, merged onto one origin), start-up and shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use rmcp::transport::streamable_http_server::session::SessionManager;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use serde_json::json;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::TraceLayer;
use url::Url;

use crate::config::{Database, ServerConfig};
use crate::listener::Bound;
use crate::mcp::endpoint::McpEndpoint;
use crate::mcp::sessions::McpSessions;
use crate::mcp::token_check::{MAX_MCP_BODY, ResourceState};
use crate::oauth::jwt::TokenVerifier;
use crate::oauth::keys::{KeyError, KeyRing};
use crate::oauth::revoked::RevokedAccessTokens;
use crate::oauth::state::OAuthState;
use crate::storage::{StorageError, Store};
use crate::tools::{FileError, FileRoot, McpTools};

/// Largest request body the authorization server endpoints accept.
const MAX_AS_BODY: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("could not open the database: {0}")]
    Database(#[from] StorageError),
    #[error("could not load or create the signing key: {0}")]
    Keys(#[from] KeyError),
    #[error("could not listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("the public URL {0} must be an http(s) URL without query or fragment")]
    InvalidPublicUrl(Url),
    #[error("could not build a base URL from the bound address: {0}")]
    BaseUrl(String),
    #[error("could not set up TLS: {0}")]
    Tls(#[from] crate::tls::TlsError),
    #[error("could not load the users: {0}")]
    Users(#[from] crate::oauth::users::UsersError),
    #[error("the trusted assertion issuer is not usable: {0}")]
    TrustedIssuer(String),
    #[error("could not prepare the files directory: {0}")]
    Files(#[from] FileError),
    #[error("could not build the token verifier: {0}")]
    Verifier(#[from] crate::oauth::jwt::TokenError),
    #[error(
        "refusing to serve MCP without authorization (no_auth) on {0}: it is only allowed on a loopback address such as 127.0.0.1 or ::1"
    )]
    NoAuthNotLoopback(SocketAddr),
    #[error(
        "refusing to listen on {0} (beyond loopback) without TLS or a public URL: tokens would name http://{0} as their issuer, which clients elsewhere cannot reach; set the URL clients use (--public-url or SUPERDYNAMIC_SERVER_PUBLIC_URL, e.g. https://mcp.example.com) or serve https (--tls-cert and --tls-key)"
    )]
    PublicBindWithoutIssuer(SocketAddr),
}

/// Beyond loopback the issuer must be one clients can reach (RFC 8414 §2: tokens and metadata name it exactly):
/// an explicit public URL, or TLS (then the certificate names the host).
fn check_public_bind(bind: SocketAddr, public_url: Option<&Url>, tls: bool) -> Result<(), ServerError> {
    if bind.ip().is_loopback() || public_url.is_some() || tls {
        return Ok(());
    }
    Err(ServerError::PublicBindWithoutIssuer(bind))
}

/// `/health`: answered on every listener.
async fn health() -> impl IntoResponse {
    Json(json!({"status": "ok"}))
}

/// A running server; stop it with [`RunningServer::shutdown`] (dropping it
/// also asks it to stop).
pub struct RunningServer {
    local_addr: SocketAddr,
    resource_addr: Option<SocketAddr>,
    base_url: Url,
    issuer: String,
    resource: String,
    stop_http: Vec<oneshot::Sender<()>>,
    stop_mcp: Option<Box<dyn FnOnce() + Send>>,
    serve_tasks: Vec<JoinHandle<()>>,
    /// Periodic upkeep: purging expired grants, closing idle MCP sessions.
    upkeep_tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for RunningServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningServer")
            .field("local_addr", &self.local_addr)
            .field("resource_addr", &self.resource_addr)
            .field("base_url", &self.base_url.as_str())
            .finish()
    }
}

impl RunningServer {
    /// The address of the authorization server (and, unless the origins are
    /// split, the resource server too).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The resource server's own address when it runs on a second listener
    /// ([`ServerConfig::resource_bind`]).
    pub fn resource_addr(&self) -> Option<SocketAddr> {
        self.resource_addr
    }

    /// The public base URL; the issuer is this URL without a trailing slash.
    pub fn base_url(&self) -> &Url {
        &self.base_url
    }

    /// The issuer (the authorization server's origin, no trailing slash).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The MCP endpoint, which is also the resource URI tokens are bound to.
    pub fn mcp_url(&self) -> Url {
        // The resource string is built from a valid URL, so this always parses.
        Url::parse(&self.resource).unwrap_or_else(|_| self.base_url.clone())
    }

    fn signal_stop(&mut self) {
        if let Some(stop) = self.stop_mcp.take() {
            stop();
        }
        for tx in self.stop_http.drain(..) {
            let _ = tx.send(());
        }
        for task in &self.upkeep_tasks {
            task.abort();
        }
    }

    /// Stops accepting connections, ends MCP sessions and waits (up to 5 s)
    /// for in-flight requests.
    pub async fn shutdown(mut self) {
        self.signal_stop();
        for task in self.serve_tasks.drain(..) {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), task).await.is_err() {
                tracing::warn!("server did not stop within 5 s; aborting open connections");
                abort.abort();
            }
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        self.signal_stop();
    }
}

/// Closes MCP sessions unused for [`crate::mcp::sessions::IDLE_TIMEOUT`] (checked every 30 s).
fn session_sweep_task(sessions: Arc<McpSessions>, rmcp_sessions: Arc<LocalSessionManager>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(Duration::from_secs(30));
        loop {
            interval.tick().await;
            let live: Vec<Arc<str>> = rmcp_sessions.sessions.read().await.keys().cloned().collect();
            for id in sessions.sweep(&live, crate::mcp::sessions::IDLE_TIMEOUT) {
                tracing::debug!(session = %id, "closing an idle MCP session");
                if let Err(e) = rmcp_sessions.close_session(&id).await {
                    tracing::warn!(error = %e, "closing an idle MCP session failed");
                }
            }
        }
    })
}

fn issuer_from(base: &Url) -> String {
    base.as_str().trim_end_matches('/').to_owned()
}

fn check_public_url(url: &Url) -> Result<Url, ServerError> {
    if !matches!(url.scheme(), "http" | "https")
        || url.query().is_some()
        || url.fragment().is_some()
        || url.host().is_none()
    {
        return Err(ServerError::InvalidPublicUrl(url.clone()));
    }
    Ok(url.clone())
}

fn base_url_for(public: Option<&Url>, scheme: &str, local: SocketAddr) -> Result<Url, ServerError> {
    match public {
        Some(url) => check_public_url(url),
        None => Url::parse(&format!("{scheme}://{local}")).map_err(|e| ServerError::BaseUrl(e.to_string())),
    }
}

fn trace_layer(app: Router) -> Router {
    app.fallback(|| async {
        (StatusCode::NOT_FOUND, Json(json!({"error": "not_found", "error_description": "no such endpoint"})))
    })
    // Log method and path only: query strings and headers may carry
    // state, codes or tokens.
    .layer(TraceLayer::new_for_http().make_span_with(
        |req: &Request| tracing::info_span!("request", method = %req.method(), path = %req.uri().path()),
    ))
}

/// Opens the database, loads the keys, binds and starts serving.
pub async fn start(config: ServerConfig) -> Result<RunningServer, ServerError> {
    if config.no_auth && !config.bind.ip().is_loopback() {
        return Err(ServerError::NoAuthNotLoopback(config.bind));
    }
    if let Some(rs_bind) = config.resource_bind
        && config.no_auth
        && !rs_bind.ip().is_loopback()
    {
        return Err(ServerError::NoAuthNotLoopback(rs_bind));
    }
    check_public_bind(config.bind, config.public_url.as_ref(), config.tls.is_some())?;
    if let Some(rs_bind) = config.resource_bind {
        check_public_bind(rs_bind, config.resource_public_url.as_ref(), config.tls.is_some())?;
    }
    let store = match &config.database {
        Database::File(path) => Store::open_file(path)?,
        Database::Memory => Store::open_memory()?,
    };
    store.purge_expired()?;
    let KeyRing { current: signing_key, jwks } =
        KeyRing::load(&store, config.signing_key_max_age, config.access_token_ttl)?;
    let users = match &config.users_file {
        Some(path) => crate::oauth::users::Users::load(path)?,
        None => crate::oauth::users::Users::default(),
    };
    let files = Arc::new(match &config.files_dir {
        Some(dir) => FileRoot::directory(dir)?,
        None => FileRoot::built_in()?,
    });
    let tls = match &config.tls {
        Some(files) => Some(crate::tls::server_config(files)?),
        None => None,
    };

    let (as_listener, local_addr) = Bound::bind(config.bind, tls.as_ref())
        .await
        .map_err(|source| ServerError::Bind { addr: config.bind, source })?;
    let base_url = base_url_for(config.public_url.as_ref(), as_listener.scheme(), local_addr)?;
    let issuer = issuer_from(&base_url);
    // Split origins: the resource server gets its own listener and origin.
    let (rs_listener, resource_addr, rs_base) = match config.resource_bind {
        Some(addr) => {
            let (listener, local) =
                Bound::bind(addr, tls.as_ref()).await.map_err(|source| ServerError::Bind { addr, source })?;
            let base = base_url_for(config.resource_public_url.as_ref(), listener.scheme(), local)?;
            (Some(listener), Some(local), base)
        }
        None => (None, None, base_url.clone()),
    };
    let rs_origin = issuer_from(&rs_base);
    let resource = format!("{rs_origin}/mcp");
    let resource_metadata_url = format!("{rs_origin}/.well-known/oauth-protected-resource/mcp");

    let verifier = TokenVerifier::new(&issuer, &resource, &jwks)?;
    let revoked_access_tokens = Arc::new(RevokedAccessTokens::load(&store)?);
    let local_idp = match config.idp {
        true => Some(crate::oauth::local_idp::provider::LocalIdp::new(&issuer)?),
        false => None,
    };
    let trusted = |c: &crate::config::TrustedIssuerConfig| {
        crate::oauth::trusted_issuer::TrustedIssuer::from_jwks_location(&c.issuer, &c.jwks)
            .map_err(ServerError::TrustedIssuer)
    };
    let trusted_idp = match (&config.trusted_idp, &local_idp) {
        (Some(c), _) => Some(trusted(c)?),
        (None, Some(idp)) => Some(idp.as_trusted().map_err(ServerError::TrustedIssuer)?),
        (None, None) => None,
    };
    let workload_issuer = config.workload_issuer.as_ref().map(trusted).transpose()?;
    let dpop = Arc::new(crate::dpop::DpopState::new(config.dpop_algs.clone(), config.dpop_nonce));
    let auth_state = Arc::new(OAuthState {
        issuer: issuer.clone(),
        resource: resource.clone(),
        store,
        signing_key,
        jwks: jwks.clone(),
        auto_approve: config.auto_approve,
        access_token_ttl: config.access_token_ttl,
        refresh_token_ttl: config.refresh_token_ttl,
        demo_user: config.demo_user.clone(),
        verifier: TokenVerifier::new(&issuer, &resource, &jwks)?,
        revoked_access_tokens: revoked_access_tokens.clone(),
        device_poll_interval: config.device_poll_interval,
        device_code_ttl: config.device_code_ttl,
        fetch_policy: crate::oauth::fetch::FetchPolicy {
            allow_private_hosts: config.allow_private_cimd_hosts,
            insecure_loopback_http: config.insecure_cimd_for_tests,
        },
        cimd_cache: crate::oauth::cimd_cache::Cache::default(),
        users,
        trusted_idp,
        workload_issuer,
        local_idp,
        dpop: dpop.clone(),
    });
    let resource_state = Arc::new(ResourceState::new(
        issuer.clone(),
        resource.clone(),
        resource_metadata_url,
        verifier,
        revoked_access_tokens,
        dpop,
    ));

    // rmcp checks Host against this list (DNS rebinding protection).
    let rs_local = resource_addr.unwrap_or(local_addr);
    let mut hosts = vec!["localhost".to_owned(), "127.0.0.1".to_owned(), "::1".to_owned(), rs_local.ip().to_string()];
    if let Some(host) = rs_base.host_str() {
        hosts.push(host.trim_start_matches('[').trim_end_matches(']').to_owned());
    }
    // MCP transports §Security: validate Origin; only the resource's own
    // origin may call from a browser (requests without Origin, i.e.
    // non-browser clients, pass).
    //
    // Both MCP generations share this one endpoint; rmcp 3.11 routes per
    // request. `initialize` (and anything naming a pre-2026 version) uses
    // the 2025-11-25 session lifecycle (`legacy_session_mode`, the
    // default). A request whose `_meta` carries
    // `io.modelcontextprotocol/protocolVersion` + `clientCapabilities` is
    // served statelessly as 2026-07-28: `server/discover`, `resultType`,
    // -32022 with `data.supported`, -32020 on header/body mismatch
    // (`MCP-Protocol-Version`, `Mcp-Method`, `Mcp-Name`), and 405 for
    // GET/DELETE that name 2026-07-28. `stateless_protocol_metadata_required`
    // stays off: it would reject legacy clients' requests.
    let mcp_config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(hosts.clone())
        .with_allowed_origins([rs_base.origin().ascii_serialization()])
        .with_max_request_body_bytes(MAX_MCP_BODY);
    let mcp_cancel = mcp_config.cancellation_token.clone();
    // rmcp's idle timer only sees the requests rmcp serves, not the `tools/call` answered directly: the
    // endpoint keeps the same five-minute rule instead (`session_sweep_task`).
    let mut rmcp_sessions = LocalSessionManager::default();
    rmcp_sessions.session_config.keep_alive = None;
    let rmcp_sessions = Arc::new(rmcp_sessions);
    let tools = McpTools::new(files);
    let legacy_tools = tools.clone();
    let prototype = tools.clone();
    let rmcp = StreamableHttpService::new(move || Ok(prototype.clone()), rmcp_sessions.clone(), mcp_config);
    let sessions = Arc::new(McpSessions::default());
    let anonymous = config.no_auth.then(|| Arc::new(crate::mcp::token_check::anonymous_claims(&resource_state)));
    let legacy_sse = config.legacy_sse.then(|| {
        Arc::new(crate::mcp::legacy_sse::LegacySse::new(resource_state.clone(), anonymous.clone(), legacy_tools))
    });
    let mcp = Arc::new(McpEndpoint {
        rs: resource_state.clone(),
        anonymous,
        sessions: sessions.clone(),
        direct: crate::mcp::direct_call::DirectCalls::new(tools, &hosts, rmcp_sessions.clone()),
        rmcp,
    });
    let mcp_route = match legacy_sse {
        Some(sse) => crate::mcp::McpRoute::LegacySse(sse),
        None => crate::mcp::McpRoute::StreamableHttp(mcp),
    };

    let site = crate::pages::docs::Site { issuer: issuer.clone(), mcp_url: resource.clone() };
    let as_router = crate::oauth::router(auth_state.clone(), config.rate_limit)
        .merge(crate::pages::docs::router(site))
        .route("/health", get(health))
        .layer(RequestBodyLimitLayer::new(MAX_AS_BODY));
    let rs_router = crate::mcp::router(resource_state, mcp_route);
    let mut stop_http = Vec::new();
    let mut serve_tasks = Vec::new();
    let mut spawn = |listener: Bound, app: Router| {
        let (tx, rx) = oneshot::channel::<()>();
        stop_http.push(tx);
        serve_tasks.push(listener.serve(trace_layer(app), rx));
    };
    match rs_listener {
        Some(rs_listener) => {
            spawn(as_listener, as_router);
            spawn(rs_listener, rs_router.route("/health", get(health)));
        }
        None => spawn(as_listener, as_router.merge(rs_router)),
    }

    let purge_state = auth_state;
    let purge_task = tokio::spawn(async move {
        let mut interval = tokio::time::interval(Duration::from_secs(300));
        loop {
            interval.tick().await;
            if let Err(e) = purge_state.store.purge_expired() {
                tracing::warn!(error = %e, "purging expired grants failed");
            }
            purge_state.revoked_access_tokens.prune(crate::storage::now());
        }
    });
    tracing::info!(%issuer, addr = %local_addr, "superdynamic-server listening");
    if let Some(addr) = resource_addr {
        tracing::info!(%resource, %addr, "resource server listening on its own origin");
    }
    if config.no_auth {
        tracing::warn!(
            "serving /mcp WITHOUT authorization (no_auth): every caller is the anonymous user with all scopes"
        );
    }

    Ok(RunningServer {
        local_addr,
        resource_addr,
        base_url,
        issuer,
        resource,
        stop_http,
        stop_mcp: Some(Box::new(move || mcp_cancel.cancel())),
        serve_tasks,
        upkeep_tasks: vec![purge_task, session_sweep_task(sessions, rmcp_sessions)],
    })
}
