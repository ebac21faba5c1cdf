//! A configurable hostile MCP + authorization server for the test suite (issue #7).
//!
//! One axum app plays the MCP server (`/mcp`), its protected resource metadata, and an authorization server
//! (metadata, `/register`, `/authorize`, `/token`) on one loopback origin. By default it behaves; each test
//! overrides a document, a header or a whole answer to misbehave in one way. Every request is recorded so a test
//! can prove where tokens went. Bound to 127.0.0.x only; `stop()` ends it.
#![allow(dead_code)]

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use superdynamic::authorization::AuthorizationMode;
use superdynamic::store::FileStore;
use superdynamic::transport::Generation;
use superdynamic::{ClientOptions, McpClient};
use tokio::sync::oneshot;

/// One recorded request.
#[derive(Debug, Clone)]
pub struct Logged {
    pub method: Method,
    pub path: String,
    pub query: String,
    pub headers: HeaderMap,
    pub body: String,
}

impl Logged {
    pub fn authorization(&self) -> Option<&str> {
        self.headers.get("authorization").and_then(|v| v.to_str().ok())
    }
}

/// A canned answer replacing the default for one path.
#[derive(Debug, Clone)]
pub struct Canned {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub delay: Duration,
}

impl Canned {
    pub fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string().into_bytes(),
            delay: Duration::ZERO,
        }
    }

    pub fn raw(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), content_type.into())],
            body: body.into(),
            delay: Duration::ZERO,
        }
    }

    pub fn redirect(to: &str) -> Self {
        Self { status: 302, headers: vec![("location".into(), to.into())], body: Vec::new(), delay: Duration::ZERO }
    }

    pub fn slow(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// How the server misbehaves. Defaults behave.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Replaces the whole answer for a path (checked first).
    pub canned: HashMap<String, Canned>,
    /// Merged into the protected resource metadata.
    pub prm_patch: Option<Value>,
    /// Merged into the authorization server metadata.
    pub as_patch: Option<Value>,
    /// Replaces the WWW-Authenticate headers of the 401 (each entry is one header line).
    pub www_authenticate: Option<Vec<String>>,
    /// The `iss` of the authorization response (RFC 9207); `None` is this server's issuer.
    pub callback_iss: Option<String>,
    /// Merged into successful token responses (`null` removes a member).
    pub token_patch: Option<Value>,
    /// After a valid token, answer every MCP request 403 insufficient_scope with this scope.
    pub forbid_scope: Option<String>,
    /// Tokens the MCP endpoint no longer accepts.
    pub rejected_tokens: Vec<String>,
    /// Refresh grants are refused with invalid_grant.
    pub refuse_refresh: bool,
}

struct Shared {
    base: String,
    config: Mutex<Config>,
    log: Mutex<Vec<Logged>>,
    issued: AtomicUsize,
}

pub struct Hostile {
    pub base: String,
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Hostile {
    pub async fn start(config: Config) -> Self {
        Self::start_on(Ipv4Addr::LOCALHOST, config).await
    }

    /// Starts on another loopback address (127.0.0.2 …), to play a host of another network class.
    pub async fn start_on(ip: Ipv4Addr, config: Config) -> Self {
        let listener = tokio::net::TcpListener::bind(SocketAddr::new(IpAddr::V4(ip), 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let base = format!("http://{addr}");
        let shared = Arc::new(Shared {
            base: base.clone(),
            config: Mutex::new(config),
            log: Mutex::new(Vec::new()),
            issued: AtomicUsize::new(0),
        });
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Self { base, addr, shared, shutdown: Some(tx), task }
    }

    pub fn mcp_url(&self) -> String {
        format!("{}/mcp", self.base)
    }

    pub fn configure(&self, change: impl FnOnce(&mut Config)) {
        change(&mut self.shared.config.lock().unwrap());
    }

    pub fn requests(&self) -> Vec<Logged> {
        self.shared.log.lock().unwrap().clone()
    }

    pub fn paths(&self) -> Vec<String> {
        self.requests().iter().map(|r| format!("{} {}", r.method, r.path)).collect()
    }

    pub fn count(&self, path: &str) -> usize {
        self.requests().iter().filter(|r| r.path == path).count()
    }

    /// Every access token this server issued.
    pub fn issued_tokens(&self) -> Vec<String> {
        let n = self.shared.issued.load(Ordering::SeqCst);
        (1..=n).map(|i| access_token(&self.base, i)).collect()
    }

    /// Access tokens only ever reached `/mcp`, only in the Authorization header; never the authorization
    /// server's endpoints, never a query string or body.
    pub fn assert_no_token_leak(&self, tokens: &[String]) {
        for r in self.requests() {
            for t in tokens {
                let in_header = r.authorization().is_some_and(|a| a.contains(t.as_str()));
                assert!(!(in_header && r.path != "/mcp"), "token sent to {} {}", r.method, r.path);
                assert!(!r.query.contains(t.as_str()), "token in the query of {}", r.path);
                assert!(!r.body.contains(t.as_str()) || r.path == "/token", "token in the body of {}", r.path);
            }
            if r.path != "/mcp" {
                assert!(r.authorization().is_none_or(|a| !a.starts_with("Bearer")), "bearer to {}", r.path);
            }
        }
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), &mut self.task).await;
        self.task.abort();
    }
}

fn access_token(base: &str, n: usize) -> String {
    format!("AT-{}-{n}", base.trim_start_matches("http://").replace([':', '.'], "_"))
}

fn merge(target: &mut Value, patch: &Value) {
    if let (Some(t), Some(p)) = (target.as_object_mut(), patch.as_object()) {
        for (k, v) in p {
            if v.is_null() {
                t.remove(k);
            } else {
                t.insert(k.clone(), v.clone());
            }
        }
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let body_text = String::from_utf8_lossy(&body).into_owned();
    shared.log.lock().unwrap().push(Logged {
        method: method.clone(),
        path: path.clone(),
        query: uri.query().unwrap_or("").to_string(),
        headers: headers.clone(),
        body: body_text.clone(),
    });
    let config = shared.config.lock().unwrap().clone();
    if let Some(canned) = config.canned.get(&path) {
        if !canned.delay.is_zero() {
            tokio::time::sleep(canned.delay).await;
        }
        let mut response = (StatusCode::from_u16(canned.status).unwrap(), canned.body.clone()).into_response();
        for (name, value) in &canned.headers {
            response.headers_mut().insert(
                axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                axum::http::HeaderValue::from_str(value).unwrap(),
            );
        }
        return response;
    }
    let base = &shared.base;
    match path.as_str() {
        "/mcp" => mcp(&shared, &config, &method, &headers, &body_text),
        "/.well-known/oauth-protected-resource/mcp" | "/.well-known/oauth-protected-resource" => {
            let mut doc = json!({
                "resource": format!("{base}/mcp"),
                "authorization_servers": [base],
                "scopes_supported": ["mcp"],
            });
            if let Some(p) = &config.prm_patch {
                merge(&mut doc, p);
            }
            axum::Json(doc).into_response()
        }
        "/.well-known/oauth-authorization-server" => {
            let mut doc = json!({
                "issuer": base,
                "authorization_endpoint": format!("{base}/authorize"),
                "token_endpoint": format!("{base}/token"),
                "registration_endpoint": format!("{base}/register"),
                "response_types_supported": ["code"],
                "grant_types_supported": ["authorization_code", "refresh_token"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["none"],
                "authorization_response_iss_parameter_supported": true,
            });
            if let Some(p) = &config.as_patch {
                merge(&mut doc, p);
            }
            axum::Json(doc).into_response()
        }
        "/register" => {
            let request: Value = serde_json::from_str(&body_text).unwrap_or(Value::Null);
            let n = shared.issued.load(Ordering::SeqCst);
            (
                StatusCode::CREATED,
                axum::Json(json!({
                    "client_id": format!("client-of-{}-{n}", base),
                    "redirect_uris": request["redirect_uris"],
                    "token_endpoint_auth_method": "none",
                    "grant_types": ["authorization_code", "refresh_token"],
                    "response_types": ["code"],
                })),
            )
                .into_response()
        }
        "/authorize" => {
            let redirect = query.get("redirect_uri").cloned().unwrap_or_default();
            let state = query.get("state").cloned().unwrap_or_default();
            let iss = config.callback_iss.clone().unwrap_or_else(|| base.clone());
            let target = format!(
                "{redirect}?code=CODE-{}&state={}&iss={}",
                query.get("scope").map(|s| s.replace(' ', "_")).unwrap_or_default(),
                urlencode(&state),
                urlencode(&iss)
            );
            (StatusCode::FOUND, [("location", target)]).into_response()
        }
        "/token" => {
            let form: HashMap<String, String> = serde_urlencoded::from_str(&body_text).unwrap_or_default();
            if form.get("grant_type").map(String::as_str) == Some("refresh_token") && config.refuse_refresh {
                return (StatusCode::BAD_REQUEST, axum::Json(json!({"error": "invalid_grant"}))).into_response();
            }
            let n = shared.issued.fetch_add(1, Ordering::SeqCst) + 1;
            let scope = form
                .get("code")
                .and_then(|c| c.strip_prefix("CODE-"))
                .map(|s| s.replace('_', " "))
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "mcp".into());
            let mut doc = json!({
                "access_token": access_token(base, n),
                "token_type": "Bearer",
                "expires_in": 3600,
                "refresh_token": format!("RT-{n}"),
                "scope": scope,
            });
            if let Some(p) = &config.token_patch {
                merge(&mut doc, p);
            }
            axum::Json(doc).into_response()
        }
        _ => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn mcp(shared: &Shared, config: &Config, method: &Method, headers: &HeaderMap, body: &str) -> Response {
    let base = &shared.base;
    let bearer = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    let valid = bearer.is_some_and(|t| t.starts_with("AT-") && !config.rejected_tokens.iter().any(|r| r == t));
    if !valid {
        let challenges = config.www_authenticate.clone().unwrap_or_else(|| {
            vec![format!("Bearer resource_metadata=\"{base}/.well-known/oauth-protected-resource/mcp\", scope=\"mcp\"")]
        });
        let mut response = (StatusCode::UNAUTHORIZED, "").into_response();
        for c in challenges {
            if let Ok(v) = axum::http::HeaderValue::from_str(&c) {
                response.headers_mut().append("www-authenticate", v);
            }
        }
        return response;
    }
    if let Some(scope) = &config.forbid_scope {
        let challenge = format!("Bearer error=\"insufficient_scope\", scope=\"{scope}\"");
        return (StatusCode::FORBIDDEN, [("www-authenticate", challenge)]).into_response();
    }
    if method == Method::DELETE || method == Method::GET {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    let request: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let Some(id) = request.get("id").cloned() else {
        return StatusCode::ACCEPTED.into_response();
    };
    let result = match request["method"].as_str() {
        Some("initialize") => json!({
            "protocolVersion": "2025-11-25",
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "hostile", "version": "1"},
        }),
        Some("tools/list") => json!({"tools": [{"name": "echo", "inputSchema": {"type": "object"}}]}),
        _ => json!({}),
    };
    axum::Json(json!({"jsonrpc": "2.0", "id": id, "result": result})).into_response()
}

/// Client options for these tests: headless sign-in (`Fetch`), a temporary store, short timeouts, the
/// initialize/session protocol generation.
pub fn options(store: &Path) -> ClientOptions {
    let mut options = ClientOptions::new(FileStore::new(store));
    options.authorization_mode = AuthorizationMode::Fetch;
    options.callback_port = Some(0);
    options.request_timeout = Duration::from_secs(3);
    options.auth_timeout = Duration::from_secs(10);
    options.generation = Some(Generation::Legacy);
    options
}

pub struct Setup {
    pub dir: tempfile::TempDir,
    pub store: PathBuf,
}

impl Setup {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("credentials.json");
        Self { dir, store }
    }

    pub fn client(&self, server: &Hostile) -> McpClient {
        McpClient::new(&server.mcp_url(), options(&self.store)).unwrap()
    }

    pub fn store_text(&self) -> Option<String> {
        std::fs::read_to_string(&self.store).ok()
    }
}
