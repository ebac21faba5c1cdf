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
use axum::routing::{get, post};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use serde_json::json;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::TraceLayer;
use url::Url;

use crate::config::{Database, ServerConfig};
use crate::jwt::TokenVerifier;
use crate::keys::{KeyError, SigningKey};
use crate::resource::{MAX_MCP_BODY, ResourceState};
use crate::revocation::RevokedAccessTokens;
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
    #[error("could not prepare the files directory: {0}")]
    Files(#[from] FileError),
    #[error("could not build the token verifier: {0}")]
    Verifier(#[from] crate::jwt::TokenError),
    #[error(
        "refusing to serve MCP without authorization (no_auth) on {0}: it is only allowed on a loopback address such as 127.0.0.1 or ::1"
    )]
    NoAuthNotLoopback(SocketAddr),
}

/// State shared by the authorization server handlers.
pub struct AuthServerState {
    /// Exact issuer string (no trailing slash), RFC 8414 §2 / RFC 9207.
    pub issuer: String,
    /// The one resource tokens can be issued for (`<base>/mcp`).
    pub resource: String,
    pub store: Store,
    pub signing_key: SigningKey,
    pub auto_approve: bool,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub demo_user: String,
    /// Verifies access tokens presented for revocation (RFC 7009).
    pub verifier: TokenVerifier,
    /// Shared with the resource server's bearer check.
    pub revoked_access_tokens: Arc<RevokedAccessTokens>,
    pub device_poll_interval: Duration,
    pub device_code_ttl: Duration,
}

/// The authorization server: discovery, registration, authorize, token, JWKS.
fn authorization_server_router(state: Arc<AuthServerState>) -> Router {
    Router::new()
        .route("/.well-known/oauth-authorization-server", get(crate::metadata::authorization_server))
        .route("/.well-known/openid-configuration", get(crate::metadata::authorization_server))
        .route("/register", post(crate::registration::register))
        .route("/authorize", get(crate::authorize::authorize))
        .route("/authorize/decision", post(crate::consent::decide))
        .route("/token", post(crate::token::token))
        .route("/revoke", post(crate::revocation::revoke))
        .route("/device_authorization", post(crate::device::device_authorization))
        .route("/device", get(crate::device::device_page).post(crate::device::enter_code))
        .route("/device/decision", post(crate::device::decide))
        .route("/jwks.json", get(jwks))
        .route("/health", get(health))
        .layer(RequestBodyLimitLayer::new(MAX_AS_BODY))
        .with_state(state)
}

async fn jwks(axum::extract::State(state): axum::extract::State<Arc<AuthServerState>>) -> impl IntoResponse {
    Json(state.signing_key.jwks())
}

async fn health() -> impl IntoResponse {
    Json(json!({"status": "ok"}))
}

/// The resource server: RFC 9728 metadata and the bearer-protected `/mcp`.
/// With `no_auth`, `/mcp` is served without the bearer check (loopback only,
/// checked in [`start`]).
fn resource_server_router(
    state: Arc<ResourceState>,
    mcp: StreamableHttpService<McpTools, LocalSessionManager>,
    no_auth: bool,
) -> Router {
    let mcp_route = Router::new().route_service("/mcp", mcp);
    let guarded = if no_auth {
        mcp_route.layer(axum::middleware::from_fn_with_state(state.clone(), crate::resource::allow_anonymous))
    } else {
        mcp_route.layer(axum::middleware::from_fn_with_state(state.clone(), crate::resource::require_bearer))
    };
    let protected = guarded.layer(RequestBodyLimitLayer::new(MAX_MCP_BODY));
    Router::new()
        .route("/.well-known/oauth-protected-resource/mcp", get(crate::metadata::protected_resource))
        .route("/.well-known/oauth-protected-resource", get(crate::metadata::protected_resource))
        .with_state(state)
        .merge(protected)
}

/// A running server; stop it with [`RunningServer::shutdown`] (dropping it
/// also asks it to stop).
pub struct RunningServer {
    local_addr: SocketAddr,
    base_url: Url,
    issuer: String,
    stop_http: Option<oneshot::Sender<()>>,
    stop_mcp: Option<Box<dyn FnOnce() + Send>>,
    serve_task: Option<JoinHandle<()>>,
    purge_task: JoinHandle<()>,
}

impl std::fmt::Debug for RunningServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningServer")
            .field("local_addr", &self.local_addr)
            .field("base_url", &self.base_url.as_str())
            .finish()
    }
}

impl RunningServer {
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The public base URL; the issuer is this URL without a trailing slash.
    pub fn base_url(&self) -> &Url {
        &self.base_url
    }

    /// The MCP endpoint, which is also the resource URI tokens are bound to.
    pub fn mcp_url(&self) -> Url {
        // The issuer string is a valid URL prefix, so this always parses.
        Url::parse(&format!("{}/mcp", self.issuer)).unwrap_or_else(|_| self.base_url.clone())
    }

    fn signal_stop(&mut self) {
        if let Some(stop) = self.stop_mcp.take() {
            stop();
        }
        if let Some(tx) = self.stop_http.take() {
            let _ = tx.send(());
        }
        self.purge_task.abort();
    }

    /// Stops accepting connections, ends MCP sessions and waits (up to 5 s)
    /// for in-flight requests.
    pub async fn shutdown(mut self) {
        self.signal_stop();
        if let Some(task) = self.serve_task.take() {
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

fn issuer_from(base: &Url) -> String {
    base.as_str().trim_end_matches('/').to_owned()
}

/// Opens the database, loads the key, binds and starts serving.
pub async fn start(config: ServerConfig) -> Result<RunningServer, ServerError> {
    if config.no_auth && !config.bind.ip().is_loopback() {
        return Err(ServerError::NoAuthNotLoopback(config.bind));
    }
    let store = match &config.database {
        Database::File(path) => Store::open_file(path)?,
        Database::Memory => Store::open_memory()?,
    };
    store.purge_expired()?;
    let signing_key = SigningKey::load_or_generate(&store)?;
    let files = Arc::new(match &config.files_dir {
        Some(dir) => FileRoot::directory(dir)?,
        None => FileRoot::built_in()?,
    });

    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .map_err(|source| ServerError::Bind { addr: config.bind, source })?;
    let local_addr = listener.local_addr().map_err(|source| ServerError::Bind { addr: config.bind, source })?;

    let base_url = match &config.public_url {
        Some(url) => {
            if !matches!(url.scheme(), "http" | "https")
                || url.query().is_some()
                || url.fragment().is_some()
                || url.host().is_none()
            {
                return Err(ServerError::InvalidPublicUrl(url.clone()));
            }
            url.clone()
        }
        None => Url::parse(&format!("http://{local_addr}")).map_err(|e| ServerError::BaseUrl(e.to_string()))?,
    };
    let issuer = issuer_from(&base_url);
    let resource = format!("{issuer}/mcp");
    let resource_metadata_url = format!("{issuer}/.well-known/oauth-protected-resource/mcp");

    let verifier = TokenVerifier::new(&issuer, &resource, &signing_key.jwks())?;
    let signing_key_jwks = signing_key.jwks();
    let revoked_access_tokens = Arc::new(RevokedAccessTokens::load(&store)?);
    let auth_state = Arc::new(AuthServerState {
        issuer: issuer.clone(),
        resource: resource.clone(),
        store,
        signing_key,
        auto_approve: config.auto_approve,
        access_token_ttl: config.access_token_ttl,
        refresh_token_ttl: config.refresh_token_ttl,
        demo_user: config.demo_user.clone(),
        verifier: TokenVerifier::new(&issuer, &resource, &signing_key_jwks)?,
        revoked_access_tokens: revoked_access_tokens.clone(),
        device_poll_interval: config.device_poll_interval,
        device_code_ttl: config.device_code_ttl,
    });
    let resource_state =
        Arc::new(ResourceState::new(issuer.clone(), resource, resource_metadata_url, verifier, revoked_access_tokens));

    // rmcp checks Host against this list (DNS rebinding protection).
    let mut hosts = vec!["localhost".to_owned(), "127.0.0.1".to_owned(), "::1".to_owned(), local_addr.ip().to_string()];
    if let Some(host) = base_url.host_str() {
        hosts.push(host.trim_start_matches('[').trim_end_matches(']').to_owned());
    }
    // MCP transports §Security: validate Origin; only our own origin may
    // call from a browser (requests without Origin, i.e. non-browser
    // clients, pass).
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
        .with_allowed_hosts(hosts)
        .with_allowed_origins([base_url.origin().ascii_serialization()])
        .with_max_request_body_bytes(MAX_MCP_BODY);
    let mcp_cancel = mcp_config.cancellation_token.clone();
    let mcp = StreamableHttpService::new(
        move || Ok(McpTools::new(files.clone())),
        Arc::new(LocalSessionManager::default()),
        mcp_config,
    );

    let app = authorization_server_router(auth_state.clone())
        .merge(resource_server_router(resource_state, mcp, config.no_auth))
        .fallback(|| async {
            (StatusCode::NOT_FOUND, Json(json!({"error": "not_found", "error_description": "no such endpoint"})))
        })
        // Log method and path only: query strings and headers may carry
        // state, codes or tokens.
        .layer(TraceLayer::new_for_http().make_span_with(
            |req: &Request| tracing::info_span!("request", method = %req.method(), path = %req.uri().path()),
        ));

    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let serve_task = tokio::spawn(async move {
        let result = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stop_rx.await;
            })
            .await;
        if let Err(e) = result {
            tracing::error!(error = %e, "server stopped with an error");
        }
    });
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
    if config.no_auth {
        tracing::warn!(
            "serving /mcp WITHOUT authorization (no_auth): every caller is the anonymous user with all scopes"
        );
    }

    Ok(RunningServer {
        local_addr,
        base_url,
        issuer,
        stop_http: Some(stop_tx),
        stop_mcp: Some(Box::new(move || mcp_cancel.cancel())),
        serve_task: Some(serve_task),
        purge_task,
    })
}
