//! Helpers shared by the integration tests: a server in-process, a
//! non-redirecting HTTP client, and the OAuth + MCP steps a client performs.
#![allow(dead_code)]

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::header::{HeaderMap, LOCATION};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use superdynamic_server::{Database, RunningServer, ServerConfig, start};
use url::Url;

pub const REDIRECT: &str = "http://127.0.0.1:7777/callback";
pub const ACCEPT_MCP: &str = "application/json, text/event-stream";

pub fn http() -> Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

pub fn test_config(auto_approve: bool) -> ServerConfig {
    ServerConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        database: Database::Memory,
        auto_approve,
        ..ServerConfig::default()
    }
}

pub async fn start_server(auto_approve: bool) -> RunningServer {
    start(test_config(auto_approve)).await.unwrap()
}

pub fn issuer(server: &RunningServer) -> String {
    server.base_url().as_str().trim_end_matches('/').to_owned()
}

pub fn url(server: &RunningServer, path: &str) -> String {
    format!("{}{path}", issuer(server))
}

pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

pub fn pkce(seed: &str) -> Pkce {
    // 43+ unreserved characters; deterministic per seed is fine in tests.
    let verifier = URL_SAFE_NO_PAD.encode(Sha256::digest(seed.as_bytes()));
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    Pkce { verifier, challenge }
}

pub struct Registered {
    pub client_id: String,
    pub client_secret: Option<String>,
    pub body: Value,
}

pub async fn register(http: &Client, server: &RunningServer, metadata: Value) -> Registered {
    let resp = http.post(url(server, "/register")).json(&metadata).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED, "registration failed");
    let body: Value = resp.json().await.unwrap();
    Registered {
        client_id: body["client_id"].as_str().unwrap().to_owned(),
        client_secret: body["client_secret"].as_str().map(str::to_owned),
        body,
    }
}

/// A public client that may refresh, with the default redirect URI.
pub async fn register_public(http: &Client, server: &RunningServer) -> Registered {
    register(
        http,
        server,
        json!({
            "client_name": "Test Client",
            "redirect_uris": [REDIRECT],
            "grant_types": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_method": "none",
        }),
    )
    .await
}

/// GET /authorize with the given extra/overriding parameters.
pub async fn authorize_raw(http: &Client, server: &RunningServer, params: &[(&str, &str)]) -> reqwest::Response {
    http.get(url(server, "/authorize")).query(params).send().await.unwrap()
}

/// The standard authorization request parameters.
pub fn authorize_params<'a>(
    server_mcp: &'a str,
    client_id: &'a str,
    challenge: &'a str,
    scope: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
        ("scope", scope),
        ("state", "xyz-state"),
        ("resource", server_mcp),
    ]
}

/// Query parameters of a redirect's Location header.
pub fn location_params(headers: &HeaderMap) -> (Url, HashMap<String, String>) {
    let location = headers.get(LOCATION).expect("a Location header").to_str().unwrap();
    let url = Url::parse(location).unwrap();
    let params = url.query_pairs().into_owned().collect();
    (url, params)
}

/// Runs /authorize (auto-approve) and returns the code.
pub async fn get_code(http: &Client, server: &RunningServer, client_id: &str, pkce: &Pkce, scope: &str) -> String {
    let mcp = server.mcp_url().to_string();
    let resp = authorize_raw(http, server, &authorize_params(&mcp, client_id, &pkce.challenge, scope)).await;
    assert_eq!(resp.status(), StatusCode::FOUND);
    let (_, params) = location_params(resp.headers());
    assert_eq!(params.get("state").map(String::as_str), Some("xyz-state"));
    params.get("code").expect("a code").clone()
}

pub async fn token_request(http: &Client, server: &RunningServer, form: &[(&str, &str)]) -> reqwest::Response {
    http.post(url(server, "/token")).form(form).send().await.unwrap()
}

pub async fn exchange_code(
    http: &Client,
    server: &RunningServer,
    client_id: &str,
    code: &str,
    verifier: &str,
) -> reqwest::Response {
    let mcp = server.mcp_url().to_string();
    token_request(
        http,
        server,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
            ("client_id", client_id),
            ("resource", &mcp),
        ],
    )
    .await
}

pub struct Tokens {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub body: Value,
}

/// Registers a public client and runs the whole flow for `scope`.
pub async fn obtain_tokens(http: &Client, server: &RunningServer, scope: &str) -> Tokens {
    let client = register_public(http, server).await;
    let pkce = pkce(scope);
    let code = get_code(http, server, &client.client_id, &pkce, scope).await;
    let resp = exchange_code(http, server, &client.client_id, &code, &pkce.verifier).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    Tokens {
        access_token: body["access_token"].as_str().unwrap().to_owned(),
        refresh_token: body["refresh_token"].as_str().map(str::to_owned),
        body,
    }
}

/// An OAuth error body's `error` field.
pub async fn oauth_error(resp: reqwest::Response) -> (StatusCode, HeaderMap, String, Value) {
    let status = resp.status();
    let headers = resp.headers().clone();
    let body: Value = resp.json().await.unwrap();
    let error = body["error"].as_str().unwrap_or_default().to_owned();
    (status, headers, error, body)
}

// --- MCP over raw HTTP ----------------------------------------------------

pub struct McpReply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// The JSON-RPC response (from JSON or from the SSE `data:` lines).
    pub message: Option<Value>,
    pub raw: String,
}

/// Extracts the JSON-RPC response from an application/json or SSE body.
pub fn parse_mcp_body(raw: &str) -> Option<Value> {
    if let Ok(v) = serde_json::from_str::<Value>(raw) {
        return Some(v);
    }
    raw.lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .find(|v| v.get("result").is_some() || v.get("error").is_some())
}

pub async fn mcp_post(
    http: &Client,
    server: &RunningServer,
    token: Option<&str>,
    session: Option<&str>,
    body: &Value,
) -> McpReply {
    let mut req = http
        .post(server.mcp_url())
        .header("Accept", ACCEPT_MCP)
        .header("Content-Type", "application/json")
        .header("MCP-Protocol-Version", "2025-06-18");
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    if let Some(session) = session {
        req = req.header("Mcp-Session-Id", session);
    }
    let resp = req.body(body.to_string()).send().await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let raw = resp.text().await.unwrap();
    McpReply { status, headers, message: parse_mcp_body(&raw), raw }
}

/// initialize + notifications/initialized; returns the session id.
pub async fn mcp_initialize(http: &Client, server: &RunningServer, token: &str) -> String {
    let init = json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "it", "version": "0"}
        }
    });
    let reply = mcp_post(http, server, Some(token), None, &init).await;
    assert_eq!(reply.status, StatusCode::OK, "initialize: {}", reply.raw);
    let session = reply
        .headers
        .get("mcp-session-id")
        .expect("Mcp-Session-Id on the initialize response")
        .to_str()
        .unwrap()
        .to_owned();
    let msg = reply.message.expect("an initialize result");
    assert_eq!(msg["result"]["serverInfo"]["name"], "superdynamic-server");
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let reply = mcp_post(http, server, Some(token), Some(&session), &initialized).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "initialized: {}", reply.raw);
    session
}

pub async fn call_tool(
    http: &Client,
    server: &RunningServer,
    token: &str,
    session: &str,
    name: &str,
    arguments: Value,
) -> McpReply {
    let body = json!({
        "jsonrpc": "2.0", "id": 7, "method": "tools/call",
        "params": {"name": name, "arguments": arguments}
    });
    mcp_post(http, server, Some(token), Some(session), &body).await
}

// --- MCP 2026-07-28 ("modern", stateless) over raw HTTP --------------------

pub const MODERN: &str = "2026-07-28";

/// The per-request `_meta` a 2026-07-28 client sends instead of `initialize`.
pub fn modern_meta(version: &str) -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": version,
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "it", "version": "0"},
    })
}

/// A modern request: `params` (an object) plus `params._meta` for `version`.
pub fn modern_request(id: u64, method: &str, params: Value, version: &str) -> Value {
    let mut params = match params {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    };
    params.insert("_meta".into(), modern_meta(version));
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

/// The headers a modern client derives from the body: `MCP-Protocol-Version`
/// (= `_meta` version), `Mcp-Method` (= method), `Mcp-Name` (= `params.name`).
pub fn modern_headers(body: &Value) -> Vec<(String, String)> {
    let mut headers = Vec::new();
    if let Some(v) = body["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"].as_str() {
        headers.push(("MCP-Protocol-Version".to_owned(), v.to_owned()));
    }
    if let Some(m) = body["method"].as_str() {
        headers.push(("Mcp-Method".to_owned(), m.to_owned()));
    }
    if let Some(n) = body["params"]["name"].as_str() {
        headers.push(("Mcp-Name".to_owned(), n.to_owned()));
    }
    headers
}

/// POSTs `body` with exactly `headers` (plus Accept/Content-Type and the
/// token); no session, no initialize.
pub async fn modern_post_with(
    http: &Client,
    server: &RunningServer,
    token: Option<&str>,
    body: &Value,
    headers: &[(String, String)],
) -> McpReply {
    let mut req = http.post(server.mcp_url()).header("Accept", ACCEPT_MCP).header("Content-Type", "application/json");
    for (name, value) in headers {
        req = req.header(name.as_str(), value.as_str());
    }
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let resp = req.body(body.to_string()).send().await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let raw = resp.text().await.unwrap();
    McpReply { status, headers, message: parse_mcp_body(&raw), raw }
}

/// POSTs a modern request with the headers derived from its body.
pub async fn modern_post(http: &Client, server: &RunningServer, token: Option<&str>, body: &Value) -> McpReply {
    modern_post_with(http, server, token, body, &modern_headers(body)).await
}

/// `tools/call` in the modern generation.
pub async fn modern_call_tool(
    http: &Client,
    server: &RunningServer,
    token: Option<&str>,
    name: &str,
    arguments: Value,
) -> McpReply {
    let body = modern_request(7, "tools/call", json!({"name": name, "arguments": arguments}), MODERN);
    modern_post(http, server, token, &body).await
}

/// Signs an access token with the server's own key (read from its database file), so a test controls every
/// claim.
pub fn mint_with_server_key(db: &std::path::Path, kid: &str, claims: &Value) -> String {
    let conn = rusqlite::Connection::open(db).unwrap();
    let pkcs8: Vec<u8> = conn.query_row("SELECT pkcs8 FROM signing_keys", [], |r| r.get(0)).unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.typ = Some("at+jwt".into());
    header.kid = Some(kid.into());
    jsonwebtoken::encode(&header, claims, &jsonwebtoken::EncodingKey::from_ec_der(&pkcs8)).unwrap()
}

// --- private_key_jwt (RFC 7523) -------------------------------------------

pub struct ClientKey {
    pub encoding: jsonwebtoken::EncodingKey,
    /// The public JWK (with `kid`).
    pub jwk: Value,
    pub kid: String,
}

/// A fresh ES256 key pair for a test client.
pub fn es256_client_key(kid: &str) -> ClientKey {
    use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
    let rng = ring::rand::SystemRandom::new();
    let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, doc.as_ref(), &rng).unwrap();
    let point = pair.public_key().as_ref();
    let jwk = json!({
        "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": kid,
        "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
        "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
    });
    ClientKey { encoding: jsonwebtoken::EncodingKey::from_ec_der(doc.as_ref()), jwk, kid: kid.to_owned() }
}

pub fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// Signs a client assertion with `claims` (iss/sub/aud/exp/jti as given).
pub fn sign_assertion(key: &ClientKey, claims: &Value) -> String {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some(key.kid.clone());
    jsonwebtoken::encode(&header, claims, &key.encoding).unwrap()
}

/// Standard assertion claims for `client_id` at `server`'s token endpoint.
pub fn assertion_claims(server: &RunningServer, client_id: &str, jti: &str) -> Value {
    json!({
        "iss": client_id, "sub": client_id, "aud": url(server, "/token"),
        "exp": unix_now() + 60, "iat": unix_now(), "jti": jti,
    })
}

pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Decodes a JWT's payload without verifying it.
pub fn jwt_payload(token: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token.split('.').nth(1).unwrap()).unwrap()).unwrap()
}

/// Serves `body` as JSON at every path on 127.0.0.1 (CIMD documents, JWKS).
/// `cache_control` is sent as given. Returns the base URL, a hit counter and
/// a stop handle (send to stop).
pub async fn serve_json(
    body: std::sync::Arc<std::sync::Mutex<(u16, Value)>>,
    cache_control: &'static str,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>, tokio::sync::oneshot::Sender<()>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let hits = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let app = axum::Router::new().fallback(move || {
        let body = body.clone();
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            let (status, value) = body.lock().unwrap().clone();
            (
                axum::http::StatusCode::from_u16(status).unwrap(),
                [("cache-control", cache_control), ("content-type", "application/json")],
                value.to_string(),
            )
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await;
    });
    (format!("http://{addr}"), hits, tx)
}

// --- browser sign-in ------------------------------------------------------

/// The `name=value` part of every Set-Cookie header.
pub fn set_cookies(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .map(str::to_owned)
        .collect()
}

/// The value of `name="…` (a hidden or text field) in a page.
pub fn form_field(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).expect("form field") + marker.len();
    let end = start + html[start..].find('"').unwrap();
    html[start..end].replace("&amp;", "&").replace("&#39;", "'").replace("&quot;", "\"")
}

/// Answers a sign-in page (the response to `page_url`) as `username`;
/// returns the session cookie (`name=value`) and the redirect target.
pub async fn sign_in_from(
    http: &Client,
    server: &RunningServer,
    page: reqwest::Response,
    username: &str,
    password: &str,
) -> (Option<String>, reqwest::Response) {
    assert_eq!(page.status(), StatusCode::OK);
    let login_cookie = set_cookies(page.headers()).into_iter().find(|c| c.starts_with("superdynamic_login_csrf="));
    let html = page.text().await.unwrap();
    assert!(html.contains("action=\"/login\""), "a sign-in page: {html}");
    let mut req = http.post(url(server, "/login")).form(&[
        ("username", username),
        ("password", password),
        ("csrf_token", form_field(&html, "csrf_token").as_str()),
        ("return_to", form_field(&html, "return_to").as_str()),
    ]);
    if let Some(c) = login_cookie {
        req = req.header("cookie", c);
    }
    let resp = req.send().await.unwrap();
    let session =
        set_cookies(resp.headers()).into_iter().find(|c| c.contains("superdynamic_session=") && !c.ends_with('='));
    (session, resp)
}

/// Signs in as demo/demo through the page `GET path` shows; returns the
/// session cookie.
pub async fn demo_session(http: &Client, server: &RunningServer, path: &str) -> String {
    let page = http.get(url(server, path)).send().await.unwrap();
    let (session, resp) = sign_in_from(http, server, page, "demo", "demo").await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    session.expect("a session cookie")
}
