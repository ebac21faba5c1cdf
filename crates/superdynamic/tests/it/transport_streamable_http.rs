//! Streamable HTTP client against a small axum MCP server on 127.0.0.1 that records every request it gets.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, header};
use axum::response::Response;
use axum::routing::any;
use serde_json::{Value, json};
use superdynamic::secret::AccessToken;
use superdynamic::transport::{Generation, StreamableHttp, TransportError, TransportOptions};
use tokio::sync::{mpsc, oneshot};
use url::Url;

const TOKEN: &str = "tok-abc.123";

// ---------------------------------------------------------------------------------------------------------------
// The mock server
// ---------------------------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Received {
    method: Method,
    headers: HeaderMap,
    body: Value,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn rpc_method(&self) -> Option<&str> {
        self.body.get("method").and_then(Value::as_str)
    }

    fn id(&self) -> Value {
        self.body.get("id").cloned().unwrap_or(Value::Null)
    }

    fn is_response(&self) -> bool {
        self.body.get("method").is_none() && (self.body.get("result").is_some() || self.body.get("error").is_some())
    }
}

type Reply = Pin<Box<dyn Future<Output = Response> + Send>>;
type Behaviour = Arc<dyn Fn(Received) -> Reply + Send + Sync>;

#[derive(Clone)]
struct ServerState {
    log: Arc<Mutex<Vec<Received>>>,
    behaviour: Behaviour,
}

struct MockServer {
    url: Url,
    log: Arc<Mutex<Vec<Received>>>,
    shutdown: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl MockServer {
    async fn start<F, Fut>(behaviour: F) -> Self
    where
        F: Fn(Received) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Response> + Send + 'static,
    {
        let log = Arc::new(Mutex::new(Vec::new()));
        let behaviour: Behaviour = Arc::new(move |rec| Box::pin(behaviour(rec)));
        let state = ServerState { log: log.clone(), behaviour };
        let app = Router::new().route("/mcp", any(handle)).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let (shutdown, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        Self { url: Url::parse(&format!("http://{addr}/mcp")).unwrap(), log, shutdown, task }
    }

    fn received(&self) -> Vec<Received> {
        self.log.lock().unwrap().clone()
    }

    fn rpc_methods(&self) -> Vec<String> {
        self.received()
            .iter()
            .map(|r| match r.rpc_method() {
                Some(m) => format!("{} {m}", r.method),
                None if r.is_response() => format!("{} response", r.method),
                None => r.method.to_string(),
            })
            .collect()
    }

    async fn stop(self) {
        let _ = self.shutdown.send(());
        let mut task = self.task;
        if tokio::time::timeout(Duration::from_secs(5), &mut task).await.is_err() {
            task.abort();
        }
    }
}

async fn handle(State(state): State<ServerState>, method: Method, headers: HeaderMap, body: Bytes) -> Response {
    let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let rec = Received { method, headers, body };
    state.log.lock().unwrap().push(rec.clone());
    (state.behaviour)(rec).await
}

fn status(code: u16) -> Response {
    Response::builder().status(code).body(Body::empty()).unwrap()
}

fn json_reply(id: Value, result: Value, session: Option<&str>) -> Response {
    let mut builder = Response::builder().header(header::CONTENT_TYPE, "application/json");
    if let Some(session) = session {
        builder = builder.header("mcp-session-id", session);
    }
    builder.body(Body::from(json!({"jsonrpc": "2.0", "id": id, "result": result}).to_string())).unwrap()
}

fn sse_reply(body: String, session: Option<&str>) -> Response {
    let mut builder = Response::builder().header(header::CONTENT_TYPE, "text/event-stream");
    if let Some(session) = session {
        builder = builder.header("mcp-session-id", session);
    }
    builder.body(Body::from(body)).unwrap()
}

/// An SSE response whose events the test pushes through the sender; dropping it ends the stream.
fn sse_channel() -> (mpsc::UnboundedSender<String>, Response) {
    let (tx, rx) = mpsc::unbounded_channel::<String>();
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|s| (Ok::<_, Infallible>(Bytes::from(s)), rx))
    });
    let response =
        Response::builder().header(header::CONTENT_TYPE, "text/event-stream").body(Body::from_stream(stream)).unwrap();
    (tx, response)
}

fn event(id: &str, data: &Value) -> String {
    format!("id: {id}\ndata: {data}\n\n")
}

fn initialize_result(version: &str) -> Value {
    json!({
        "protocolVersion": version,
        "capabilities": {"tools": {"listChanged": true}},
        "serverInfo": {"name": "mock", "version": "0.0.1"},
        "instructions": "be nice",
    })
}

/// What every scenario shares: 406 without both Accept types (checklist 15a.1), `initialize` → JSON with
/// session id `sess-1`, notifications and responses → 202, DELETE → 200. `None` for everything else.
fn standard(rec: &Received) -> Option<Response> {
    if rec.method == Method::POST {
        let accept = rec.header("accept").unwrap_or_default();
        if !accept.contains("application/json") || !accept.contains("text/event-stream") {
            return Some(status(406));
        }
    }
    match (rec.method.clone(), rec.rpc_method()) {
        (Method::POST, Some("initialize")) => {
            Some(json_reply(rec.id(), initialize_result("2025-11-25"), Some("sess-1")))
        }
        (Method::POST, Some(m)) if m.starts_with("notifications/") => Some(status(202)),
        (Method::POST, None) if rec.is_response() => Some(status(202)),
        (Method::DELETE, _) => Some(status(200)),
        _ => None,
    }
}

fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().no_proxy().build().unwrap()
}

fn transport(server: &MockServer, options: TransportOptions) -> StreamableHttp {
    StreamableHttp::new(http_client(), server.url.clone(), options)
}

fn token() -> AccessToken {
    AccessToken::new(TOKEN)
}

/// These servers are legacy (initialize-based) only, so the client is told so and skips the modern probe
/// (transport_modern.rs covers the probe and the fall-back).
fn quick() -> TransportOptions {
    TransportOptions {
        request_timeout: Duration::from_secs(5),
        generation_hint: Some(Generation::Legacy),
        // The session GET stream has its own test (transport_listen.rs); here every GET is a resumption.
        server_stream: superdynamic::transport::ServerStream::Never,
        ..TransportOptions::default()
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------------------------

/// Named `transport` so `cargo test -p superdynamic transport` selects these tests too.
mod transport {
    use super::*;

    #[tokio::test]
    async fn initialize_then_initialized_then_request_with_all_headers() {
        let server = MockServer::start(|rec: Received| async move {
            if let Some(r) = standard(&rec) {
                return r;
            }
            match rec.rpc_method() {
                Some("tools/list") => json_reply(rec.id(), json!({"tools": []}), None),
                _ => status(500),
            }
        })
        .await;
        let client = transport(&server, quick());
        let token = token();

        let result = client.request("tools/list", None, Some(&token)).await.unwrap();
        assert_eq!(result, json!({"tools": []}));
        // A second request reuses the session.
        client.request("tools/list", Some(json!({"cursor": "abc"})), Some(&token)).await.unwrap();

        assert_eq!(
            server.rpc_methods(),
            ["POST initialize", "POST notifications/initialized", "POST tools/list", "POST tools/list"]
        );
        let log = server.received();
        let init = &log[0];
        assert_eq!(init.body["params"]["protocolVersion"], "2025-11-25");
        assert_eq!(init.body["params"]["capabilities"], json!({}));
        assert!(init.body["params"]["clientInfo"]["name"].is_string());
        assert!(init.body["params"]["clientInfo"]["version"].is_string());
        assert_eq!(init.header("mcp-session-id"), None, "initialize carries no session id");
        assert_eq!(init.header("mcp-protocol-version"), None);
        for rec in &log {
            assert_eq!(rec.header("accept"), Some("application/json, text/event-stream"));
            assert_eq!(rec.header("content-type"), Some("application/json"));
            assert_eq!(rec.header("authorization"), Some(format!("Bearer {TOKEN}").as_str()));
            assert!(rec.body.is_object(), "never a batch");
            assert_eq!(rec.body["jsonrpc"], "2.0");
        }
        for rec in &log[1..] {
            assert_eq!(rec.header("mcp-session-id"), Some("sess-1"));
            assert_eq!(rec.header("mcp-protocol-version"), Some("2025-11-25"));
        }
        assert!(log[1].body.get("id").is_none(), "notifications carry no id");
        // Ids increase monotonically.
        let ids: Vec<i64> = [&log[0], &log[2], &log[3]].iter().map(|r| r.body["id"].as_i64().unwrap()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
        assert_eq!(log[3].body["params"], json!({"cursor": "abc"}));

        let session = client.session().unwrap();
        assert_eq!(session.protocol_version, "2025-11-25");
        assert_eq!(session.session_id.as_deref(), Some("sess-1"));
        assert_eq!(session.server_info["name"], "mock");
        assert_eq!(session.capabilities["tools"]["listChanged"], true);
        assert_eq!(session.instructions.as_deref(), Some("be nice"));
        server.stop().await;
    }

    #[tokio::test]
    async fn negotiated_older_version_is_sent_and_session_id_is_optional() {
        let server = MockServer::start(|rec: Received| async move {
            match rec.rpc_method() {
                // No session id: a stateless server.
                Some("initialize") => json_reply(rec.id(), initialize_result("2025-06-18"), None),
                Some("ping") => json_reply(rec.id(), json!({}), None),
                _ => standard(&rec).unwrap_or_else(|| status(500)),
            }
        })
        .await;
        let client = transport(&server, quick());
        client.request("ping", None, None).await.unwrap();
        let log = server.received();
        assert_eq!(log.len(), 3);
        for rec in &log {
            assert_eq!(rec.header("authorization"), None);
            assert_eq!(rec.header("mcp-session-id"), None);
        }
        assert_eq!(log[2].header("mcp-protocol-version"), Some("2025-06-18"));
        assert_eq!(client.session().unwrap().session_id, None);
        // close() without a session id sends nothing.
        client.close(None).await.unwrap();
        assert_eq!(server.received().len(), 3);
        assert!(client.session().is_none());
        server.stop().await;
    }

    #[tokio::test]
    async fn concurrent_first_requests_share_one_initialize() {
        let server = MockServer::start(|rec: Received| async move {
            if let Some(r) = standard(&rec) {
                return r;
            }
            json_reply(rec.id(), json!({"echo": rec.rpc_method()}), None)
        })
        .await;
        let client = transport(&server, quick());
        let token = token();
        let calls = (0..5).map(|_| client.request("tools/list", None, Some(&token)));
        for result in futures_util::future::join_all(calls).await {
            assert_eq!(result.unwrap(), json!({"echo": "tools/list"}));
        }
        let methods = server.rpc_methods();
        assert_eq!(methods.iter().filter(|m| *m == "POST initialize").count(), 1);
        assert_eq!(methods.len(), 7);
        server.stop().await;
    }

    #[tokio::test]
    async fn sse_response_with_server_requests_before_the_result() {
        let (answers_tx, answers_rx) = mpsc::unbounded_channel::<Value>();
        let answers_rx = Arc::new(tokio::sync::Mutex::new(answers_rx));
        let server = MockServer::start(move |rec: Received| {
            let answers_tx = answers_tx.clone();
            let answers_rx = answers_rx.clone();
            async move {
                if rec.method == Method::POST && rec.is_response() {
                    answers_tx.send(rec.body.clone()).unwrap();
                    return status(202);
                }
                match rec.rpc_method() {
                    // initialize answered over SSE too, with a priming event and a comment.
                    Some("initialize") => sse_reply(
                        format!(
                            ": hi\nid: i0\ndata:\n\n{}",
                            event(
                                "i1",
                                &json!({"jsonrpc": "2.0", "id": rec.id(), "result": initialize_result("2025-11-25")})
                            )
                        ),
                        Some("sess-sse"),
                    ),
                    Some("tools/call") => {
                        let (tx, response) = sse_channel();
                        let id = rec.id();
                        tokio::spawn(async move {
                            tx.send("id: e0\ndata:\n\n".into()).unwrap();
                            let progress = json!({"jsonrpc": "2.0", "method": "notifications/progress",
                            "params": {"progressToken": 1, "progress": 1}});
                            tx.send(event("e1", &progress)).unwrap();
                            let ping = json!({"jsonrpc": "2.0", "id": "srv-1", "method": "ping"});
                            tx.send(event("e2", &ping)).unwrap();
                            let roots = json!({"jsonrpc": "2.0", "id": 77, "method": "roots/list"});
                            tx.send(event("e3", &roots)).unwrap();
                            // The result only comes once both answers arrived.
                            let mut rx = answers_rx.lock().await;
                            rx.recv().await.unwrap();
                            rx.recv().await.unwrap();
                            let result = json!({"jsonrpc": "2.0", "id": id,
                            "result": {"content": [{"type": "text", "text": "done"}]}});
                            // Split one event over two chunks, with CRLF line ends.
                            let text = format!("id: e4\r\ndata: {result}\r\n\r\n");
                            let (a, b) = text.split_at(text.len() / 2);
                            tx.send(a.to_owned()).unwrap();
                            tx.send(b.to_owned()).unwrap();
                        });
                        response
                    }
                    _ => standard(&rec).unwrap_or_else(|| status(500)),
                }
            }
        })
        .await;
        let client = transport(&server, quick());
        let token = token();
        let result =
            client.request("tools/call", Some(json!({"name": "t", "arguments": {}})), Some(&token)).await.unwrap();
        assert_eq!(result["content"][0]["text"], "done");

        let log = server.received();
        let answers: Vec<&Received> = log.iter().filter(|r| r.is_response()).collect();
        assert_eq!(answers.len(), 2);
        let ping_answer = answers.iter().find(|r| r.body["id"] == "srv-1").expect("ping answered");
        assert_eq!(ping_answer.body, json!({"jsonrpc": "2.0", "id": "srv-1", "result": {}}));
        let roots_answer = answers.iter().find(|r| r.body["id"] == 77).expect("roots/list answered");
        assert_eq!(roots_answer.body["error"]["code"], -32601);
        for answer in answers {
            assert_eq!(answer.header("mcp-session-id"), Some("sess-sse"));
            assert_eq!(answer.header("mcp-protocol-version"), Some("2025-11-25"));
            assert_eq!(answer.header("authorization"), Some(format!("Bearer {TOKEN}").as_str()));
        }
        server.stop().await;
    }

    #[tokio::test]
    async fn expired_session_reinitializes_without_the_old_id_and_retries() {
        let inits = Arc::new(AtomicUsize::new(0));
        let server = MockServer::start(move |rec: Received| {
            let inits = inits.clone();
            async move {
                match rec.rpc_method() {
                    Some("initialize") => {
                        let n = inits.fetch_add(1, Ordering::SeqCst) + 1;
                        let session = format!("sess-{n}");
                        json_reply(rec.id(), initialize_result("2025-11-25"), Some(&session))
                    }
                    Some("tools/list") if rec.header("mcp-session-id") == Some("sess-1") => status(404),
                    Some("tools/list") => json_reply(rec.id(), json!({"tools": [1]}), None),
                    _ => standard(&rec).unwrap_or_else(|| status(500)),
                }
            }
        })
        .await;
        let client = transport(&server, quick());
        let token = token();
        let result = client.request("tools/list", None, Some(&token)).await.unwrap();
        assert_eq!(result, json!({"tools": [1]}));
        assert_eq!(
            server.rpc_methods(),
            [
                "POST initialize",
                "POST notifications/initialized",
                "POST tools/list",
                "POST initialize",
                "POST notifications/initialized",
                "POST tools/list"
            ]
        );
        let log = server.received();
        assert_eq!(log[3].header("mcp-session-id"), None);
        assert_eq!(log[4].header("mcp-session-id"), Some("sess-2"));
        assert_eq!(log[5].header("mcp-session-id"), Some("sess-2"));
        assert_ne!(log[2].body["id"], log[5].body["id"], "ids are not reused");
        assert!(log.iter().all(|r| r.header("authorization").is_some()));
        assert_eq!(client.session().unwrap().session_id.as_deref(), Some("sess-2"));
        server.stop().await;
    }

    #[tokio::test]
    async fn session_that_keeps_expiring_gives_session_expired() {
        let server = MockServer::start(|rec: Received| async move {
            match rec.rpc_method() {
                Some("tools/list") => status(404),
                _ => standard(&rec).unwrap_or_else(|| status(500)),
            }
        })
        .await;
        let client = transport(&server, quick());
        let err = client.request("tools/list", None, None).await.unwrap_err();
        assert!(matches!(err, TransportError::SessionExpired), "{err:?}");
        assert_eq!(server.rpc_methods().iter().filter(|m| *m == "POST initialize").count(), 2);
        server.stop().await;
    }

    #[tokio::test]
    async fn unauthorized_returns_every_www_authenticate_value() {
        let server = MockServer::start(|_rec: Received| async move {
            Response::builder()
                .status(401)
                .header(
                    header::WWW_AUTHENTICATE,
                    r#"Bearer resource_metadata="http://127.0.0.1/.well-known/oauth-protected-resource", scope="mcp""#,
                )
                .header(header::WWW_AUTHENTICATE, r#"Basic realm="mcp""#)
                .body(Body::from("no token"))
                .unwrap()
        })
        .await;
        let client = transport(&server, quick());
        let err = client.request("tools/list", None, None).await.unwrap_err();
        let TransportError::Unauthorized { www_authenticate } = &err else {
            panic!("expected Unauthorized, got {err:?}");
        };
        assert_eq!(
            www_authenticate,
            &vec![
                r#"Bearer resource_metadata="http://127.0.0.1/.well-known/oauth-protected-resource", scope="mcp""#
                    .to_owned(),
                r#"Basic realm="mcp""#.to_owned(),
            ]
        );
        assert!(err.is_auth());
        assert!(client.session().is_none());
        server.stop().await;
    }

    #[tokio::test]
    async fn forbidden_on_a_request_after_initialize() {
        let server = MockServer::start(|rec: Received| async move {
            if let Some(r) = standard(&rec) {
                return r;
            }
            Response::builder()
                .status(403)
                .header(header::WWW_AUTHENTICATE, r#"Bearer error="insufficient_scope", scope="tools:call""#)
                .body(Body::empty())
                .unwrap()
        })
        .await;
        let client = transport(&server, quick());
        let token = token();
        let err = client.request("tools/call", None, Some(&token)).await.unwrap_err();
        let TransportError::Forbidden { www_authenticate } = &err else {
            panic!("expected Forbidden, got {err:?}");
        };
        assert_eq!(www_authenticate, &vec![r#"Bearer error="insufficient_scope", scope="tools:call""#.to_owned()]);
        // The message does not leak the token.
        assert!(!format!("{err} {err:?}").contains(TOKEN));
        server.stop().await;
    }

    #[tokio::test]
    async fn jsonrpc_error_becomes_rpc_and_other_statuses_http_status() {
        let server = MockServer::start(|rec: Received| async move {
            if let Some(r) = standard(&rec) {
                return r;
            }
            match rec.rpc_method() {
                Some("tools/call") => Response::builder()
                    .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
                    .body(Body::from(
                        json!({"jsonrpc": "2.0", "id": rec.id(),
                        "error": {"code": -32602, "message": "Unknown tool: nope", "data": {"tool": "nope"}}})
                        .to_string(),
                    ))
                    .unwrap(),
                _ => Response::builder()
                    .status(500)
                    .body(Body::from(format!("internal\n\nerror {}", "x".repeat(2000))))
                    .unwrap(),
            }
        })
        .await;
        let client = transport(&server, quick());
        let err = client.request("tools/call", Some(json!({"name": "nope"})), None).await.unwrap_err();
        match err {
            TransportError::Rpc { code, message, data } => {
                assert_eq!(code, -32602);
                assert_eq!(message, "Unknown tool: nope");
                assert_eq!(data, Some(json!({"tool": "nope"})));
            }
            other => panic!("expected Rpc, got {other:?}"),
        }
        let err = client.request("resources/list", None, None).await.unwrap_err();
        match err {
            TransportError::HttpStatus { status, body } => {
                assert_eq!(status, 500);
                assert!(body.starts_with("internal error xxx"), "{body}");
                assert!(body.chars().count() <= 301, "excerpt is short");
            }
            other => panic!("expected HttpStatus, got {other:?}"),
        }
        server.stop().await;
    }

    #[tokio::test]
    async fn unknown_protocol_version_is_rejected_and_the_session_ended() {
        let server = MockServer::start(|rec: Received| async move {
            match rec.rpc_method() {
                Some("initialize") => json_reply(rec.id(), initialize_result("1900-01-01"), Some("sess-old")),
                _ => standard(&rec).unwrap_or_else(|| status(500)),
            }
        })
        .await;
        let client = transport(&server, quick());
        let err = client.request("tools/list", None, None).await.unwrap_err();
        match &err {
            TransportError::UnsupportedProtocolVersion { offered } => {
                assert_eq!(offered, "1900-01-01")
            }
            other => panic!("expected UnsupportedProtocolVersion, got {other:?}"),
        }
        assert_eq!(server.rpc_methods(), ["POST initialize", "DELETE"]);
        assert_eq!(server.received()[1].header("mcp-session-id"), Some("sess-old"));
        assert!(client.session().is_none());
        server.stop().await;
    }

    #[tokio::test]
    async fn stream_closed_after_a_primed_id_is_resumed_with_last_event_id() {
        let call_id = Arc::new(Mutex::new(Value::Null));
        let call_id_in_server = call_id.clone();
        let server = MockServer::start(move |rec: Received| {
            let call_id = call_id_in_server.clone();
            async move {
                if rec.method == Method::GET {
                    // The resumed stream carries the response.
                    let id = call_id.lock().unwrap().clone();
                    let body = if rec.header("last-event-id") == Some("ev-1") {
                        event("ev-2", &json!({"jsonrpc": "2.0", "id": id, "result": {"resumed": true}}))
                    } else {
                        String::new()
                    };
                    return sse_reply(body, None);
                }
                if let Some(r) = standard(&rec) {
                    return r;
                }
                *call_id.lock().unwrap() = rec.id();
                // Prime, ask for a quick reconnect, then close the connection before the response.
                sse_reply("retry: 20\nid: ev-1\ndata:\n\n".to_owned(), None)
            }
        })
        .await;
        let client = transport(&server, quick());
        let token = token();
        let result = client.request("tools/call", None, Some(&token)).await.unwrap();
        assert_eq!(result, json!({"resumed": true}));
        let log = server.received();
        let get = log.iter().find(|r| r.method == Method::GET).unwrap();
        assert_eq!(get.header("last-event-id"), Some("ev-1"));
        assert_eq!(get.header("accept"), Some("text/event-stream"));
        assert_eq!(get.header("mcp-session-id"), Some("sess-1"));
        assert_eq!(get.header("mcp-protocol-version"), Some("2025-11-25"));
        assert_eq!(get.header("authorization"), Some(format!("Bearer {TOKEN}").as_str()));
        server.stop().await;
    }

    #[tokio::test]
    async fn stream_closed_without_ids_is_a_protocol_error_and_resumption_is_bounded() {
        let server = MockServer::start(|rec: Received| async move {
            if rec.method == Method::GET {
                // Every resumption primes again and closes: no progress.
                return sse_reply("retry: 1\nid: again\ndata:\n\n".to_owned(), None);
            }
            if let Some(r) = standard(&rec) {
                return r;
            }
            match rec.rpc_method() {
                Some("tools/list") => sse_reply(": nothing to see\n\n".to_owned(), None),
                _ => sse_reply("retry: 1\nid: p\ndata:\n\n".to_owned(), None),
            }
        })
        .await;
        let client = transport(&server, TransportOptions { max_resume_attempts: 3, ..quick() });
        let err = client.request("tools/list", None, None).await.unwrap_err();
        match &err {
            TransportError::Protocol(msg) => assert!(msg.contains("closed before"), "{msg}"),
            other => panic!("expected Protocol, got {other:?}"),
        }
        let err = client.request("tools/call", None, None).await.unwrap_err();
        assert!(matches!(err, TransportError::Protocol(_)), "{err:?}");
        let gets = server.received().iter().filter(|r| r.method == Method::GET).count();
        assert_eq!(gets, 3);
        server.stop().await;
    }

    #[tokio::test]
    async fn idle_stream_times_out_and_sends_cancelled() {
        let held = Arc::new(Mutex::new(Vec::new()));
        let held_in_server = held.clone();
        let server = MockServer::start(move |rec: Received| {
            let held = held_in_server.clone();
            async move {
                if let Some(r) = standard(&rec) {
                    return r;
                }
                let (tx, response) = sse_channel();
                tx.send("id: x0\ndata:\n\n".into()).unwrap();
                // Keep the stream open and silent.
                held.lock().unwrap().push(tx);
                response
            }
        })
        .await;
        let timeout = Duration::from_millis(300);
        let client = transport(
            &server,
            TransportOptions {
                request_timeout: timeout,
                generation_hint: Some(Generation::Legacy),
                ..TransportOptions::default()
            },
        );
        let token = token();
        let err = client.request("tools/call", None, Some(&token)).await.unwrap_err();
        match &err {
            TransportError::Timeout { after, .. } => assert_eq!(*after, timeout),
            other => panic!("expected Timeout, got {other:?}"),
        }
        let log = server.received();
        let call = log.iter().find(|r| r.rpc_method() == Some("tools/call")).unwrap();
        let cancelled = log
            .iter()
            .find(|r| r.rpc_method() == Some("notifications/cancelled"))
            .expect("notifications/cancelled sent");
        assert_eq!(cancelled.body["params"]["requestId"], call.body["id"]);
        assert!(cancelled.body["params"]["reason"].is_string());
        assert_eq!(cancelled.header("mcp-session-id"), Some("sess-1"));
        assert_eq!(cancelled.header("authorization"), Some(format!("Bearer {TOKEN}").as_str()));
        held.lock().unwrap().clear();
        server.stop().await;
    }

    #[tokio::test]
    async fn a_busy_stream_is_not_cut_by_the_timeout() {
        let server = MockServer::start(|rec: Received| async move {
            if let Some(r) = standard(&rec) {
                return r;
            }
            let (tx, response) = sse_channel();
            let id = rec.id();
            tokio::spawn(async move {
                for _ in 0..12 {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    let progress = json!({"jsonrpc": "2.0", "method": "notifications/progress",
                    "params": {"progressToken": 1, "progress": 1}});
                    if tx.send(format!("data: {progress}\n\n")).is_err() {
                        return;
                    }
                }
                let _ = tx.send(format!("data: {}\n\n", json!({"jsonrpc": "2.0", "id": id, "result": {"slow": true}})));
            });
            response
        })
        .await;
        let client = transport(
            &server,
            TransportOptions {
                request_timeout: Duration::from_millis(600),
                generation_hint: Some(Generation::Legacy),
                ..TransportOptions::default()
            },
        );
        let result = client.request("tools/call", None, None).await.unwrap();
        assert_eq!(result, json!({"slow": true}));
        server.stop().await;
    }

    #[tokio::test]
    async fn too_large_json_bodies_are_refused() {
        let server = MockServer::start(|rec: Received| async move {
            if let Some(r) = standard(&rec) {
                return r;
            }
            let big = json!({"jsonrpc": "2.0", "id": rec.id(), "result": {"blob": "x".repeat(10_000)}}).to_string();
            match rec.rpc_method() {
                // With Content-Length.
                Some("resources/read") => {
                    Response::builder().header(header::CONTENT_TYPE, "application/json").body(Body::from(big)).unwrap()
                }
                // Chunked, no Content-Length: the bound applies while reading.
                _ => {
                    let chunks: Vec<Result<Bytes, Infallible>> =
                        big.into_bytes().chunks(500).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
                    Response::builder()
                        .header(header::CONTENT_TYPE, "application/json")
                        .body(Body::from_stream(futures_util::stream::iter(chunks)))
                        .unwrap()
                }
            }
        })
        .await;
        let client = transport(&server, TransportOptions { max_json_body: 1024, ..quick() });
        for method in ["resources/read", "tools/list"] {
            let err = client.request(method, None, None).await.unwrap_err();
            assert!(matches!(err, TransportError::BodyTooLarge { limit: 1024 }), "{method}: {err:?}");
        }
        server.stop().await;
    }

    #[tokio::test]
    async fn connection_refused_is_connect() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let url = Url::parse(&format!("http://127.0.0.1:{port}/mcp")).unwrap();
        let client = StreamableHttp::new(http_client(), url, quick());
        let err = client.request("tools/list", None, None).await.unwrap_err();
        match &err {
            TransportError::Connect { url, .. } => assert!(url.contains(&port.to_string())),
            other => panic!("expected Connect, got {other:?}"),
        }
        assert!(err.to_string().contains("is the server running"), "{err}");
    }

    #[tokio::test]
    async fn close_sends_delete_with_the_session_id() {
        let server = MockServer::start(|rec: Received| async move {
            if rec.method == Method::DELETE {
                // Servers may refuse to end sessions.
                return status(405);
            }
            if let Some(r) = standard(&rec) {
                return r;
            }
            json_reply(rec.id(), json!({}), None)
        })
        .await;
        let client = transport(&server, quick());
        let token = token();
        client.request("ping", None, Some(&token)).await.unwrap();
        client.notify("notifications/roots/list_changed", None, Some(&token)).await.unwrap();
        client.close(Some(&token)).await.unwrap();
        assert!(client.session().is_none());
        client.close(Some(&token)).await.unwrap(); // no session: nothing sent
        assert_eq!(
            server.rpc_methods(),
            [
                "POST initialize",
                "POST notifications/initialized",
                "POST ping",
                "POST notifications/roots/list_changed",
                "DELETE"
            ]
        );
        let delete = server.received().pop().unwrap();
        assert_eq!(delete.header("mcp-session-id"), Some("sess-1"));
        assert_eq!(delete.header("mcp-protocol-version"), Some("2025-11-25"));
        assert_eq!(delete.header("authorization"), Some(format!("Bearer {TOKEN}").as_str()));
        server.stop().await;
    }

    #[tokio::test]
    async fn invalid_session_id_and_unexpected_content_type_are_protocol_errors() {
        let server = MockServer::start(|rec: Received| async move {
            match rec.rpc_method() {
                Some("initialize") if rec.body["params"]["clientInfo"]["name"] == "bad-session" => {
                    json_reply(rec.id(), initialize_result("2025-11-25"), Some("has space"))
                }
                Some("tools/list") => {
                    Response::builder().header(header::CONTENT_TYPE, "text/html").body(Body::from("<html>")).unwrap()
                }
                _ => standard(&rec).unwrap_or_else(|| status(500)),
            }
        })
        .await;
        let bad = transport(&server, TransportOptions { client_name: "bad-session".into(), ..quick() });
        let err = bad.request("tools/list", None, None).await.unwrap_err();
        assert!(matches!(err, TransportError::Protocol(ref m) if m.contains("Mcp-Session-Id")), "{err:?}");
        let client = transport(&server, quick());
        let err = client.request("tools/list", None, None).await.unwrap_err();
        assert!(matches!(err, TransportError::Protocol(ref m) if m.contains("text/html")), "{err:?}");
        server.stop().await;
    }

    #[tokio::test]
    async fn batched_server_messages_in_one_event_for_2025_03_26() {
        let server = MockServer::start(|rec: Received| async move {
        match rec.rpc_method() {
            Some("initialize") => json_reply(rec.id(), initialize_result("2025-03-26"), Some("s")),
            Some("tools/list") => {
                let batch = json!([
                    {"jsonrpc": "2.0", "id": 9, "method": "ping"},
                    {"jsonrpc": "2.0", "method": "notifications/message", "params": {"level": "info", "data": "hi"}},
                ]);
                let result = json!({"jsonrpc": "2.0", "id": rec.id(), "result": {"tools": []}});
                sse_reply(format!("data: {batch}\n\ndata: {result}\n\n"), None)
            }
            _ => standard(&rec).unwrap_or_else(|| status(500)),
        }
    })
    .await;
        let client = transport(&server, quick());
        let result = client.request("tools/list", None, None).await.unwrap();
        assert_eq!(result, json!({"tools": []}));
        let log = server.received();
        let answer = log.iter().find(|r| r.is_response()).expect("ping answered");
        assert_eq!(answer.body, json!({"jsonrpc": "2.0", "id": 9, "result": {}}));
        assert_eq!(answer.header("mcp-protocol-version"), Some("2025-03-26"));
        server.stop().await;
    }
}
