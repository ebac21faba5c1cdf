//! An OAuth-protected MCP server on 127.0.0.1 that answers every step of a sign-in correctly, except the one
//! path it is told to stall on, in one of three ways (issue #14). Raw HTTP/1.1 over tokio TCP, one request per
//! connection, so a stall is exactly what the client sees. `stop()` ends the server and every connection.
//!
//! Shared with the CLI's tests (`#[path]`), so it depends only on tokio, serde_json and url.
#![allow(dead_code)]

use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub const PRM: &str = "/.well-known/oauth-protected-resource/mcp";
pub const AS_METADATA: &str = "/.well-known/oauth-authorization-server";
pub const REGISTER: &str = "/register";
pub const TOKEN: &str = "/token";
pub const REVOKE: &str = "/revoke";
pub const DEVICE: &str = "/device_authorization";

/// How a stalled path misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stall {
    /// Accepts the connection, reads the request, sends nothing.
    Silent,
    /// Sends the response headers, then nothing.
    HeadersThenSilent,
    /// Sends the headers, then the (correct) body one byte a second.
    Trickle,
}

pub const STALLS: [Stall; 3] = [Stall::Silent, Stall::HeadersThenSilent, Stall::Trickle];

#[derive(Default)]
struct State {
    stall: Option<(String, Stall)>,
    /// "METHOD /path" of every request, in order.
    log: Vec<String>,
    issued: usize,
    connections: Vec<tokio::task::AbortHandle>,
}

pub struct StallingServer {
    pub base: String,
    state: Arc<Mutex<State>>,
    accept: tokio::task::JoinHandle<()>,
}

impl StallingServer {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State::default()));
        let (shared, origin) = (state.clone(), base.clone());
        let accept = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let task = tokio::spawn(serve(stream, origin.clone(), shared.clone()));
                shared.lock().unwrap().connections.push(task.abort_handle());
            }
        });
        Self { base, state, accept }
    }

    /// From now on, `path` misbehaves as `how`.
    pub fn stall(&self, path: &str, how: Stall) {
        self.state.lock().unwrap().stall = Some((path.to_owned(), how));
    }

    pub fn mcp_url(&self) -> String {
        format!("{}/mcp", self.base)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn requests(&self) -> Vec<String> {
        self.state.lock().unwrap().log.clone()
    }

    pub fn count(&self, request: &str) -> usize {
        self.requests().iter().filter(|r| *r == request).count()
    }

    pub async fn stop(self) {
        self.accept.abort();
        let _ = self.accept.await;
        for connection in std::mem::take(&mut self.state.lock().unwrap().connections) {
            connection.abort();
        }
    }
}

struct Request {
    method: String,
    path: String,
    query: HashMap<String, String>,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

async fn read_request(stream: &mut TcpStream) -> Option<Request> {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 || data.len() > 64 * 1024 {
            return None;
        }
        data.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&data[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let (method, target) = (first.next()?.to_owned(), first.next()?.to_owned());
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    let mut body = data[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&buf[..n]);
    }
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let query = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    Some(Request { method, path: path.to_owned(), query, headers, body })
}

async fn serve(mut stream: TcpStream, base: String, state: Arc<Mutex<State>>) {
    let Some(request) = read_request(&mut stream).await else { return };
    let stall = {
        let mut state = state.lock().unwrap();
        state.log.push(format!("{} {}", request.method, request.path));
        state.stall.clone().filter(|(path, _)| *path == request.path).map(|(_, how)| how)
    };
    let (status, extra, body) = answer(&request, &base, &state);
    let content_type = if body.is_empty() { "" } else { "Content-Type: application/json\r\n" };
    let head = format!(
        "HTTP/1.1 {status} {}\r\n{content_type}{extra}Content-Length: {}\r\nConnection: close\r\n\r\n",
        if status < 400 { "OK" } else { "Error" },
        body.len()
    );
    match stall {
        None => {
            let _ = stream.write_all(head.as_bytes()).await;
            let _ = stream.write_all(&body).await;
        }
        Some(Stall::Silent) => std::future::pending::<()>().await,
        Some(Stall::HeadersThenSilent) => {
            let _ = stream.write_all(head.as_bytes()).await;
            std::future::pending::<()>().await;
        }
        Some(Stall::Trickle) => {
            let _ = stream.write_all(head.as_bytes()).await;
            for byte in body {
                tokio::time::sleep(Duration::from_secs(1)).await;
                if stream.write_all(&[byte]).await.is_err() {
                    return;
                }
            }
        }
    }
    let _ = stream.shutdown().await;
}

fn json_body(value: Value) -> Vec<u8> {
    value.to_string().into_bytes()
}

/// The well-behaved answer: status, extra header lines, body.
fn answer(request: &Request, base: &str, state: &Mutex<State>) -> (u16, String, Vec<u8>) {
    let form: HashMap<String, String> = url::form_urlencoded::parse(&request.body).into_owned().collect();
    let issue = || {
        let mut state = state.lock().unwrap();
        state.issued += 1;
        json_body(json!({
            "access_token": format!("AT-{}", state.issued), "token_type": "Bearer", "expires_in": 3600,
            "refresh_token": format!("RT-{}", state.issued), "scope": "mcp",
        }))
    };
    match (request.method.as_str(), request.path.as_str()) {
        ("POST", "/mcp") => {
            let signed_in = request.headers.get("authorization").is_some_and(|a| a.starts_with("Bearer AT-"));
            if !signed_in {
                let challenge =
                    format!("WWW-Authenticate: Bearer resource_metadata=\"{base}{PRM}\", scope=\"mcp\"\r\n");
                return (401, challenge, Vec::new());
            }
            let message: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
            let Some(id) = message.get("id").cloned() else { return (202, String::new(), Vec::new()) };
            let result = match message["method"].as_str() {
                Some("initialize") => json!({
                    "protocolVersion": "2025-11-25", "capabilities": {"tools": {}},
                    "serverInfo": {"name": "stalling", "version": "1"},
                }),
                Some("tools/list") => json!({"tools": [{"name": "echo", "inputSchema": {"type": "object"}}]}),
                _ => json!({}),
            };
            (200, String::new(), json_body(json!({"jsonrpc": "2.0", "id": id, "result": result})))
        }
        (_, "/mcp") => (405, String::new(), Vec::new()),
        ("GET", PRM) => {
            (200, String::new(), json_body(json!({"resource": format!("{base}/mcp"), "authorization_servers": [base]})))
        }
        ("GET", AS_METADATA) => (
            200,
            String::new(),
            json_body(json!({
                "issuer": base,
                "authorization_endpoint": format!("{base}/authorize"),
                "token_endpoint": format!("{base}{TOKEN}"),
                "registration_endpoint": format!("{base}{REGISTER}"),
                "revocation_endpoint": format!("{base}{REVOKE}"),
                "device_authorization_endpoint": format!("{base}{DEVICE}"),
                "response_types_supported": ["code"],
                "grant_types_supported": ["authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["none"],
                "authorization_response_iss_parameter_supported": true,
            })),
        ),
        ("POST", REGISTER) => {
            let asked: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
            let client = json!({
                "client_id": "stalling-client", "token_endpoint_auth_method": "none",
                "redirect_uris": asked["redirect_uris"], "grant_types": asked["grant_types"],
            });
            (201, String::new(), json_body(client))
        }
        ("GET", "/authorize") => {
            let redirect = request.query.get("redirect_uri").cloned().unwrap_or_default();
            let state = request.query.get("state").cloned().unwrap_or_default();
            let encode = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            let location = format!("Location: {redirect}?code=CODE&state={}&iss={}\r\n", encode(&state), encode(base));
            (302, location, Vec::new())
        }
        ("POST", TOKEN) => match form.get("grant_type").map(String::as_str) {
            Some("authorization_code" | "refresh_token" | "urn:ietf:params:oauth:grant-type:device_code") => {
                (200, String::new(), issue())
            }
            _ => (400, String::new(), json_body(json!({"error": "unsupported_grant_type"}))),
        },
        // RFC 7009 §2.2 needs no body; one is allowed, and gives the stalls something to hold back.
        ("POST", REVOKE) => (200, String::new(), json_body(json!({"revoked": true}))),
        ("POST", DEVICE) => (
            200,
            String::new(),
            json_body(json!({
                "device_code": "DEVICE-CODE", "user_code": "ABCD-EFGH", "verification_uri": format!("{base}/device"),
                "expires_in": 60, "interval": 1,
            })),
        ),
        _ => (404, String::new(), Vec::new()),
    }
}
