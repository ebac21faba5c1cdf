//! The 2026-07-28 (modern) generation of the Streamable HTTP client and dual-era negotiation, against small
//! axum servers on 127.0.0.1 that record every request they get.

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
use superdynamic::transport::{
    Generation, HandlerFuture, RpcErrorObject, ServerMessageHandler, StreamableHttp, TransportError, TransportOptions,
};
use tokio::sync::oneshot;
use url::Url;

const TOKEN: &str = "tok-modern.456";
const MODERN: &str = "2026-07-28";

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

    fn params(&self) -> &Value {
        self.body.get("params").unwrap_or(&Value::Null)
    }

    fn meta(&self, key: &str) -> Option<&Value> {
        self.params().get("_meta").and_then(|m| m.get(key))
    }

    /// A modern request: `_meta` protocol version in the body.
    fn is_modern(&self) -> bool {
        self.meta("io.modelcontextprotocol/protocolVersion").is_some()
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

    /// The tools/call requests only (a modern tools/call of an unknown tool is preceded by a tools/list).
    fn calls(&self) -> Vec<Received> {
        self.received().into_iter().filter(|r| r.rpc_method() == Some("tools/call")).collect()
    }

    /// "POST tools/list", "POST initialize", "GET" …
    fn rpc_methods(&self) -> Vec<String> {
        self.received()
            .iter()
            .map(|r| match r.rpc_method() {
                Some(m) => format!("{} {m}", r.method),
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

fn json_body(code: u16, body: Value, session: Option<&str>) -> Response {
    let mut builder = Response::builder().status(code).header(header::CONTENT_TYPE, "application/json");
    if let Some(session) = session {
        builder = builder.header("mcp-session-id", session);
    }
    builder.body(Body::from(body.to_string())).unwrap()
}

fn result(id: Value, result: Value) -> Response {
    json_body(200, json!({"jsonrpc": "2.0", "id": id, "result": result}), None)
}

fn rpc_error(code: u16, id: Value, error: Value) -> Response {
    json_body(code, json!({"jsonrpc": "2.0", "id": id, "error": error}), None)
}

fn sse(body: String) -> Response {
    Response::builder().header(header::CONTENT_TYPE, "text/event-stream").body(Body::from(body)).unwrap()
}

/// An SSE response that sends `events` and then ends (the connection closes).
fn sse_then_close(events: Vec<String>) -> Response {
    let stream = futures_util::stream::iter(events.into_iter().map(|e| Ok::<_, Infallible>(Bytes::from(e))));
    Response::builder().header(header::CONTENT_TYPE, "text/event-stream").body(Body::from_stream(stream)).unwrap()
}

/// An empty tool list, for servers whose test is about tools/call.
fn empty_tools_list(rec: &Received) -> Option<Response> {
    (rec.rpc_method() == Some("tools/list")).then(|| result(rec.id(), complete(json!({"tools": []}))))
}

fn complete(mut value: Value) -> Value {
    value["resultType"] = json!("complete");
    value
}

fn initialize_result(version: &str) -> Value {
    json!({
        "protocolVersion": version,
        "capabilities": {"tools": {}},
        "serverInfo": {"name": "legacy-mock", "version": "0.0.1"},
    })
}

/// How a 2025-11-25 server (the TypeScript SDK's stateful transport) answers: `initialize` opens session
/// `sess-L`; any other POST without that session id is refused with 400 and a JSON-RPC -32000 error without id.
fn legacy_server(rec: &Received) -> Response {
    if rec.method != Method::POST {
        return status(405);
    }
    match rec.rpc_method() {
        Some("initialize") => json_body(
            200,
            json!({"jsonrpc": "2.0", "id": rec.id(), "result": initialize_result("2025-11-25")}),
            Some("sess-L"),
        ),
        _ if rec.header("mcp-session-id") != Some("sess-L") => json_body(
            400,
            json!({"jsonrpc": "2.0", "id": null,
                   "error": {"code": -32000, "message": "Bad Request: Server not initialized"}}),
            None,
        ),
        Some(m) if m.starts_with("notifications/") => status(202),
        Some("tools/list") => result(rec.id(), json!({"tools": [{"name": "legacy-tool"}]})),
        _ => status(500),
    }
}

fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().no_proxy().build().unwrap()
}

fn transport(server: &MockServer, options: TransportOptions) -> StreamableHttp {
    StreamableHttp::new(http_client(), server.url.clone(), options)
}

fn quick() -> TransportOptions {
    TransportOptions {
        client_name: "test-client".to_owned(),
        client_version: "9.9.9".to_owned(),
        request_timeout: Duration::from_secs(5),
        server_stream: superdynamic::transport::ServerStream::Never,
        ..TransportOptions::default()
    }
}

/// A handler that can do form elicitation: it answers every `elicitation/create` with the user "octocat"
/// and counts notifications.
#[derive(Default)]
struct ElicitingHandler {
    notifications: AtomicUsize,
    asked: Mutex<Vec<(String, Option<Value>)>>,
}

impl ServerMessageHandler for ElicitingHandler {
    fn client_capabilities(&self) -> Value {
        json!({"elicitation": {"form": {}}})
    }

    fn handle_input_request<'a>(&'a self, method: &'a str, params: Option<Value>) -> HandlerFuture<'a> {
        self.asked.lock().unwrap().push((method.to_owned(), params.clone()));
        Box::pin(async move {
            match method {
                "elicitation/create" => Ok(json!({"action": "accept", "content": {"name": "octocat"}})),
                _ => Err(RpcErrorObject::method_not_found(method)),
            }
        })
    }

    fn handle_notification(&self, _method: &str, _params: Option<Value>) {
        self.notifications.fetch_add(1, Ordering::SeqCst);
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------------------------

/// Named `transport` so `cargo test -p superdynamic transport` selects these tests too.
mod transport {
    use super::*;

    /// A modern-only server that checks nothing itself; the test inspects what it received.
    fn modern_server(rec: &Received) -> Response {
        if rec.method != Method::POST {
            return status(405);
        }
        if !rec.is_modern() {
            return rpc_error(400, Value::Null, json!({"code": -32602, "message": "missing _meta"}));
        }
        match rec.rpc_method() {
            Some("tools/list") => result(
                rec.id(),
                complete(json!({"tools": [{"name": "get weather ☀", "inputSchema": {"type": "object"}}]})),
            ),
            Some("tools/call") => result(rec.id(), complete(json!({"content": [{"type": "text", "text": "sunny"}]}))),
            // A result without resultType (an older server) counts as complete.
            Some("resources/read") => result(rec.id(), json!({"contents": []})),
            _ => rpc_error(404, rec.id(), json!({"code": -32601, "message": "Method not found"})),
        }
    }

    #[tokio::test]
    async fn modern_requests_carry_meta_and_the_standard_headers_and_nothing_legacy() {
        let server = MockServer::start(|rec: Received| async move { modern_server(&rec) }).await;
        let client = transport(&server, quick()).with_handler(Arc::new(ElicitingHandler::default()));
        assert_eq!(client.generation(), None);
        let token = AccessToken::new(TOKEN);

        let tools = client.request("tools/list", None, Some(&token)).await.unwrap();
        assert_eq!(tools["tools"][0]["name"], "get weather ☀");
        assert_eq!(client.generation(), Some(Generation::Modern));
        let call = client
            .request("tools/call", Some(json!({"name": "get weather ☀", "arguments": {"city": "Paris"}})), Some(&token))
            .await
            .unwrap();
        assert_eq!(call["content"][0]["text"], "sunny");
        let read = client
            .request("resources/read", Some(json!({"uri": "file:///projects/app/config.json"})), None)
            .await
            .unwrap();
        assert_eq!(read, json!({"contents": []}));
        client.request("prompts/get", Some(json!({"name": "=?base64?literal?="})), None).await.unwrap_err();
        client.close(Some(&token)).await.unwrap();

        assert_eq!(
            server.rpc_methods(),
            ["POST tools/list", "POST tools/call", "POST resources/read", "POST prompts/get"],
            "no initialize, no GET, no DELETE, no responses POSTed"
        );
        let received = server.received();
        let mut ids = Vec::new();
        for rec in &received {
            let method = rec.rpc_method().unwrap();
            assert_eq!(rec.header("mcp-protocol-version"), Some(MODERN), "{method}");
            assert_eq!(rec.header("mcp-method"), Some(method));
            assert_eq!(rec.header("mcp-session-id"), None);
            assert_eq!(rec.header("last-event-id"), None);
            let accept = rec.header("accept").unwrap();
            assert!(accept.contains("application/json") && accept.contains("text/event-stream"));
            assert_eq!(rec.meta("io.modelcontextprotocol/protocolVersion"), Some(&json!(MODERN)));
            assert_eq!(
                rec.meta("io.modelcontextprotocol/clientCapabilities"),
                Some(&json!({"elicitation": {"form": {}}}))
            );
            assert_eq!(
                rec.meta("io.modelcontextprotocol/clientInfo"),
                Some(&json!({"name": "test-client", "version": "9.9.9"}))
            );
            ids.push(rec.id());
        }
        ids.dedup();
        assert_eq!(ids.len(), 4, "a new id per request");
        assert_eq!(received[0].header("mcp-name"), None);
        assert_eq!(received[0].header("authorization"), Some(format!("Bearer {TOKEN}").as_str()));
        // Non-ASCII name → base64 sentinel; a URI is plain; a sentinel look-alike is encoded.
        assert_eq!(received[1].header("mcp-name"), Some("=?base64?Z2V0IHdlYXRoZXIg4piA?="));
        assert_eq!(received[1].params()["arguments"], json!({"city": "Paris"}));
        assert_eq!(received[2].header("mcp-name"), Some("file:///projects/app/config.json"));
        assert_eq!(received[3].header("mcp-name"), Some("=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?="));
        assert!(client.session().is_none());
        assert_eq!(client.protocol_version().as_deref(), Some(MODERN));
        server.stop().await;
    }

    #[tokio::test]
    async fn a_legacy_only_server_gets_initialize_after_refusing_the_modern_request() {
        let server = MockServer::start(|rec: Received| async move { legacy_server(&rec) }).await;
        let client = transport(&server, quick());
        let tools = client.request("tools/list", None, None).await.unwrap();
        assert_eq!(tools["tools"][0]["name"], "legacy-tool");
        assert_eq!(client.generation(), Some(Generation::Legacy));
        assert_eq!(client.session().unwrap().session_id.as_deref(), Some("sess-L"));
        assert_eq!(client.protocol_version().as_deref(), Some("2025-11-25"));
        // Settled: the next request goes straight to the session.
        client.request("tools/list", None, None).await.unwrap();
        assert_eq!(
            server.rpc_methods(),
            [
                "POST tools/list",
                "POST initialize",
                "POST notifications/initialized",
                "POST tools/list",
                "POST tools/list"
            ]
        );
        let received = server.received();
        assert!(received[0].is_modern());
        assert_eq!(received[1].params()["protocolVersion"], "2025-11-25");
        assert!(!received[3].is_modern(), "legacy requests carry no _meta");
        assert_eq!(received[3].header("mcp-method"), None);
        assert_eq!(received[3].header("mcp-protocol-version"), Some("2025-11-25"));
        server.stop().await;
    }

    #[tokio::test]
    async fn an_empty_400_or_a_405_also_means_legacy() {
        for refusal in [400u16, 404, 405] {
            let server = MockServer::start(move |rec: Received| async move {
                if rec.is_modern() { status(refusal) } else { legacy_server(&rec) }
            })
            .await;
            let client = transport(&server, quick());
            client.request("tools/list", None, None).await.unwrap();
            assert_eq!(client.generation(), Some(Generation::Legacy), "HTTP {refusal}");
            server.stop().await;
        }
    }

    #[tokio::test]
    async fn unsupported_protocol_version_picks_a_legacy_version_from_supported() {
        let server = MockServer::start(|rec: Received| async move {
            if rec.is_modern() {
                return rpc_error(
                    400,
                    rec.id(),
                    json!({"code": -32022, "message": "Unsupported protocol version",
                       "data": {"supported": ["2025-03-26", "2025-06-18"], "requested": MODERN}}),
                );
            }
            match rec.rpc_method() {
                Some("initialize") => {
                    let asked = rec.params()["protocolVersion"].as_str().unwrap_or_default().to_owned();
                    result(rec.id(), initialize_result(&asked))
                }
                Some("notifications/initialized") => status(202),
                Some("tools/list") => result(rec.id(), json!({"tools": []})),
                _ => status(500),
            }
        })
        .await;
        let client = transport(&server, quick());
        client.request("tools/list", None, None).await.unwrap();
        assert_eq!(client.generation(), Some(Generation::Legacy));
        assert_eq!(
            server.rpc_methods(),
            ["POST tools/list", "POST initialize", "POST notifications/initialized", "POST tools/list"]
        );
        // The newest version both sides speak.
        assert_eq!(server.received()[1].params()["protocolVersion"], "2025-06-18");
        assert_eq!(client.protocol_version().as_deref(), Some("2025-06-18"));
        server.stop().await;
    }

    #[tokio::test]
    async fn unsupported_protocol_version_without_a_common_version_is_an_error() {
        let server = MockServer::start(|rec: Received| async move {
            rpc_error(
                400,
                rec.id(),
                json!({"code": -32022, "message": "Unsupported protocol version",
                   "data": {"supported": ["2027-01-01"], "requested": MODERN}}),
            )
        })
        .await;
        let client = transport(&server, quick());
        let err = client.request("tools/list", None, None).await.unwrap_err();
        match &err {
            TransportError::UnsupportedProtocolVersion { offered } => {
                assert_eq!(offered, "2027-01-01")
            }
            other => panic!("expected UnsupportedProtocolVersion, got {other:?}"),
        }
        let message = err.to_string();
        assert!(message.contains("2026-07-28") && message.contains("2025-11-25"), "{message}");
        assert_eq!(server.rpc_methods(), ["POST tools/list"], "no initialize");
        server.stop().await;
    }

    #[tokio::test]
    async fn unsupported_protocol_version_listing_our_version_is_retried_once() {
        // Like the conformance suite's request-metadata server: the first request is refused with -32022
        // listing 2026-07-28; the client retries it (new id) instead of falling back.
        let refused = Arc::new(AtomicUsize::new(0));
        let refused_in_server = refused.clone();
        let server = MockServer::start(move |rec: Received| {
            let refused = refused_in_server.clone();
            async move {
                if refused.fetch_add(1, Ordering::SeqCst) == 0 {
                    return rpc_error(
                        400,
                        rec.id(),
                        json!({"code": -32022, "message": "Unsupported protocol version",
                           "data": {"supported": [MODERN], "requested": MODERN}}),
                    );
                }
                modern_server(&rec)
            }
        })
        .await;
        let client = transport(&server, quick());
        client.request("tools/list", None, None).await.unwrap();
        assert_eq!(server.rpc_methods(), ["POST tools/list", "POST tools/list"]);
        let received = server.received();
        assert_ne!(received[0].id(), received[1].id());
        assert_eq!(received[1].header("mcp-protocol-version"), Some(MODERN));
        assert_eq!(client.generation(), Some(Generation::Modern));
        server.stop().await;

        // Refused every time: one retry, then UnsupportedProtocolVersion.
        let server = MockServer::start(|rec: Received| async move {
            rpc_error(
                400,
                rec.id(),
                json!({"code": -32022, "message": "Unsupported protocol version",
                   "data": {"supported": [MODERN], "requested": MODERN}}),
            )
        })
        .await;
        let client = transport(&server, quick());
        let err = client.request("tools/list", None, None).await.unwrap_err();
        assert!(matches!(err, TransportError::UnsupportedProtocolVersion { .. }), "{err:?}");
        assert_eq!(server.received().len(), 2);
        server.stop().await;
    }

    /// Like the conformance suite's sse-retry server: a 2025-11-25 server that checks no session and serves any
    /// POST, minting a session id; `tools/call` answers on a stream that closes after a priming event and is
    /// resumed by GET with Last-Event-ID.
    fn lenient_legacy_server(rec: &Received) -> Response {
        let with_session = |mut r: Response| {
            r.headers_mut().insert("mcp-session-id", "sess-lenient".parse().unwrap());
            r
        };
        match (rec.method.clone(), rec.rpc_method()) {
            (Method::GET, _) => {
                assert_eq!(rec.header("last-event-id"), Some("ev-1"));
                let response =
                    json!({"jsonrpc": "2.0", "id": 0, "result": {"content": [{"type": "text", "text": "resumed"}]}});
                with_session(sse(format!("id: ev-2\ndata: {response}\n\n")))
            }
            (Method::POST, Some("initialize")) => with_session(result(rec.id(), initialize_result("2025-11-25"))),
            (Method::POST, Some("tools/list")) => with_session(result(rec.id(), json!({"tools": [{"name": "t"}]}))),
            (Method::POST, Some("tools/call")) => {
                with_session(sse_then_close(vec!["id: ev-1\nretry: 10\ndata:\n\n".to_owned()]))
            }
            (Method::POST, _) => status(202),
            _ => status(405),
        }
    }

    #[tokio::test]
    async fn a_lenient_legacy_server_is_recognised_by_the_missing_result_type() {
        // A read answered without resultType: sent again through initialize.
        let server = MockServer::start(|rec: Received| async move { lenient_legacy_server(&rec) }).await;
        let client = transport(&server, quick());
        let tools = client.request("tools/list", None, None).await.unwrap();
        assert_eq!(tools["tools"][0]["name"], "t");
        assert_eq!(client.generation(), Some(Generation::Legacy));
        assert_eq!(
            server.rpc_methods(),
            ["POST tools/list", "POST initialize", "POST notifications/initialized", "POST tools/list"]
        );
        server.stop().await;

        // Anything else keeps its answer (no second execution); initialize comes with the next request.
        let server = MockServer::start(|rec: Received| async move {
            match rec.rpc_method() {
                Some("tools/list") if rec.is_modern() => status(500),
                Some("tools/call") => result(rec.id(), json!({"content": [{"type": "text", "text": "done once"}]})),
                _ => lenient_legacy_server(&rec),
            }
        })
        .await;
        let client = transport(&server, quick());
        let out = client.request("tools/call", Some(json!({"name": "t"})), None).await.unwrap();
        assert_eq!(out["content"][0]["text"], "done once");
        assert_eq!(client.generation(), None, "not settled by that answer alone");
        client.request("tools/list", None, None).await.unwrap();
        assert_eq!(client.generation(), Some(Generation::Legacy));
        assert_eq!(
            server.rpc_methods(),
            [
                "POST tools/list",
                "POST tools/call",
                "POST initialize",
                "POST notifications/initialized",
                "POST tools/list"
            ]
        );
        server.stop().await;
    }

    #[tokio::test]
    async fn a_modern_server_that_sends_session_ids_stays_modern() {
        // Like the conformance suite's mock servers: an Mcp-Session-Id on every answer, and `initialize`
        // answered with 2026-07-28.
        let server = MockServer::start(|rec: Received| async move {
            let mut r = match (rec.method.clone(), rec.rpc_method()) {
                (Method::DELETE, _) => status(200),
                (_, Some("initialize")) => result(rec.id(), initialize_result(MODERN)),
                _ => result(rec.id(), complete(json!({"tools": []}))),
            };
            r.headers_mut().insert("mcp-session-id", "session-123".parse().unwrap());
            r
        })
        .await;
        let client = transport(&server, quick());
        client.request("tools/list", None, None).await.unwrap();
        assert_eq!(client.generation(), Some(Generation::Modern));
        assert_eq!(server.rpc_methods(), ["POST tools/list"]);
        assert_eq!(server.received()[0].header("mcp-session-id"), None);

        // A stale "legacy" hint: initialize gets the modern version back, so the request goes modern.
        let before = server.received().len();
        let client = transport(&server, TransportOptions { generation_hint: Some(Generation::Legacy), ..quick() });
        client.request("tools/list", None, None).await.unwrap();
        assert_eq!(client.generation(), Some(Generation::Modern));
        assert_eq!(server.rpc_methods()[before..], ["POST initialize", "DELETE", "POST tools/list"]);
        server.stop().await;
    }

    #[tokio::test]
    async fn a_broken_stream_with_a_session_id_falls_back_to_legacy_resumption() {
        let server = MockServer::start(|rec: Received| async move {
            // The listing before the call fails, so the modern tools/call itself is the probe.
            if rec.rpc_method() == Some("tools/list") {
                return status(500);
            }
            let mut r = lenient_legacy_server(&rec);
            // The resumed response must carry the id of the legacy tools/call (id 4).
            if rec.method == Method::GET {
                let response =
                    json!({"jsonrpc": "2.0", "id": 4, "result": {"content": [{"type": "text", "text": "resumed"}]}});
                r = sse(format!("id: ev-2\ndata: {response}\n\n"));
            }
            r
        })
        .await;
        let client = transport(&server, quick());
        let out = client.request("tools/call", Some(json!({"name": "t"})), None).await.unwrap();
        assert_eq!(out["content"][0]["text"], "resumed");
        assert_eq!(
            server.rpc_methods(),
            [
                "POST tools/list",
                "POST tools/call",
                "POST initialize",
                "POST notifications/initialized",
                "POST tools/call",
                "GET"
            ]
        );
        assert_eq!(server.received()[4].id(), json!(4));
        assert_eq!(client.generation(), Some(Generation::Legacy));
        server.stop().await;
    }

    #[tokio::test]
    async fn a_stored_generation_is_used_as_the_hint_next_time() {
        // First run: negotiate against a legacy server and store the result as JSON.
        let server = MockServer::start(|rec: Received| async move { legacy_server(&rec) }).await;
        let first = transport(&server, quick());
        first.request("tools/list", None, None).await.unwrap();
        let stored = serde_json::to_string(&first.generation()).unwrap();
        assert_eq!(stored, r#""legacy""#);
        let before = server.received().len();

        // Second run: no modern probe, straight to initialize.
        let hint: Option<Generation> = serde_json::from_str(&stored).unwrap();
        let second = transport(&server, TransportOptions { generation_hint: hint, ..quick() });
        assert_eq!(second.generation(), None, "a hint is not a negotiation");
        second.request("tools/list", None, None).await.unwrap();
        assert_eq!(
            server.rpc_methods()[before..],
            ["POST initialize", "POST notifications/initialized", "POST tools/list"]
        );
        assert_eq!(second.generation(), Some(Generation::Legacy));
        server.stop().await;
    }

    #[tokio::test]
    async fn a_stale_legacy_hint_is_re_probed_when_initialize_is_refused() {
        let server = MockServer::start(|rec: Received| async move { modern_server(&rec) }).await;
        let client = transport(&server, TransportOptions { generation_hint: Some(Generation::Legacy), ..quick() });
        client.request("tools/list", None, None).await.unwrap();
        assert_eq!(server.rpc_methods(), ["POST initialize", "POST tools/list"]);
        assert_eq!(client.generation(), Some(Generation::Modern));
        server.stop().await;
    }

    #[tokio::test]
    async fn unauthorized_on_the_first_modern_request_is_returned_not_a_fallback() {
        for code in [401u16, 403] {
            let server = MockServer::start(move |rec: Received| async move {
                if rec.header("authorization") != Some(&format!("Bearer {TOKEN}")) {
                    return Response::builder()
                        .status(code)
                        .header(
                            header::WWW_AUTHENTICATE,
                            r#"Bearer resource_metadata="http://127.0.0.1/.well-known/oauth-protected-resource", scope="mcp""#,
                        )
                        .body(Body::empty())
                        .unwrap();
                }
                modern_server(&rec)
            })
            .await;
            let client = transport(&server, quick());
            let err = client.request("tools/list", None, None).await.unwrap_err();
            let www = match err {
                TransportError::Unauthorized { www_authenticate } if code == 401 => www_authenticate,
                TransportError::Forbidden { www_authenticate } if code == 403 => www_authenticate,
                other => panic!("expected 401/403 error for {code}, got {other:?}"),
            };
            assert!(www[0].contains("resource_metadata="));
            assert_eq!(client.generation(), None, "401/403 decide nothing");
            assert_eq!(server.rpc_methods(), ["POST tools/list"], "no initialize");
            // After sign-in, negotiation continues.
            let token = AccessToken::new(TOKEN);
            client.request("tools/list", None, Some(&token)).await.unwrap();
            assert_eq!(client.generation(), Some(Generation::Modern));
            assert_eq!(server.rpc_methods(), ["POST tools/list", "POST tools/list"]);
            server.stop().await;
        }
    }

    #[tokio::test]
    async fn input_required_is_answered_through_the_handler_and_retried_with_a_new_id() {
        let server = MockServer::start(|rec: Received| async move {
            if let Some(r) = empty_tools_list(&rec) {
                return r;
            }
            let params = rec.params();
            match params.get("inputResponses") {
                None => result(
                    rec.id(),
                    json!({
                        "resultType": "input_required",
                        "inputRequests": {"github_login": {"method": "elicitation/create", "params": {
                            "mode": "form", "message": "Please provide your GitHub username",
                            "requestedSchema": {"type": "object", "properties": {"name": {"type": "string"}}}
                        }}},
                        "requestState": "opaque-state-1"
                    }),
                ),
                Some(answers) => {
                    let ok = answers["github_login"]["content"]["name"] == "octocat"
                        && params["requestState"] == "opaque-state-1";
                    result(rec.id(), complete(json!({"content": [{"type": "text", "text": format!("ok={ok}")}]})))
                }
            }
        })
        .await;
        let handler = Arc::new(ElicitingHandler::default());
        let client = transport(&server, quick()).with_handler(handler.clone());
        let args = json!({"name": "login", "arguments": {"x": 1}});
        let out = client.request("tools/call", Some(args.clone()), None).await.unwrap();
        assert_eq!(out["content"][0]["text"], "ok=true");
        assert_eq!(out["resultType"], "complete");

        let asked = handler.asked.lock().unwrap().clone();
        assert_eq!(asked.len(), 1);
        assert_eq!(asked[0].0, "elicitation/create");
        assert_eq!(asked[0].1.as_ref().unwrap()["message"], "Please provide your GitHub username");
        let received = server.calls();
        assert_eq!(received.len(), 2);
        assert_ne!(received[0].id(), received[1].id(), "the retry has a new id");
        let retry = received[1].params();
        assert_eq!(retry["name"], "login");
        assert_eq!(retry["arguments"], json!({"x": 1}));
        assert_eq!(
            retry["inputResponses"],
            json!({"github_login": {"action": "accept", "content": {"name": "octocat"}}})
        );
        assert_eq!(retry["requestState"], "opaque-state-1");
        assert!(
            received[0].params().get("requestState").is_none() && received[0].params().get("inputResponses").is_none()
        );
        assert_eq!(received[1].header("mcp-name"), Some("login"));
        server.stop().await;

        // Without a handler that can answer, the error names what the server asked for; no retry is sent.
        let server = MockServer::start(|rec: Received| async move {
            if let Some(r) = empty_tools_list(&rec) {
                return r;
            }
            result(
                rec.id(),
                json!({"resultType": "input_required",
                   "inputRequests": {"llm": {"method": "sampling/createMessage", "params": {"messages": [], "maxTokens": 5}}}}),
            )
        })
        .await;
        let client = transport(&server, quick());
        let err = client.request("tools/call", Some(json!({"name": "t"})), None).await.unwrap_err();
        match &err {
            TransportError::InputUnavailable { key, method, .. } => {
                assert_eq!(key, "llm");
                assert_eq!(method, "sampling/createMessage");
            }
            other => panic!("expected InputUnavailable, got {other:?}"),
        }
        assert!(err.to_string().contains("sampling/createMessage"));
        assert_eq!(server.calls().len(), 1);
        server.stop().await;

        // A server that never stops asking is cut off after max_input_rounds.
        let server = MockServer::start(|rec: Received| async move {
            if let Some(r) = empty_tools_list(&rec) {
                return r;
            }
            result(rec.id(), json!({"resultType": "input_required", "requestState": "again"}))
        })
        .await;
        let client = transport(&server, TransportOptions { max_input_rounds: 3, ..quick() });
        let err = client.request("tools/call", Some(json!({"name": "t"})), None).await.unwrap_err();
        assert!(matches!(err, TransportError::InputUnavailable { .. }), "{err:?}");
        assert_eq!(server.calls().len(), 4);
        assert!(
            server
                .calls()
                .iter()
                .skip(1)
                .all(|r| r.params()["requestState"] == "again" && r.params().get("inputResponses").is_none())
        );
        server.stop().await;
    }

    fn annotated_tools() -> Value {
        json!([
            {"name": "execute_sql", "inputSchema": {"type": "object", "properties": {
                "region": {"type": "string", "x-mcp-header": "Region"},
                "limit": {"type": "integer", "x-mcp-header": "Limit"},
                "dry": {"type": "boolean", "x-mcp-header": "Dry-Run"},
                "tenant": {"type": "object", "properties": {"id": {"type": "string", "x-mcp-header": "Tenant"}}},
                "query": {"type": "string"}
            }}},
            {"name": "bad_number", "inputSchema": {"type": "object", "properties": {
                "n": {"type": "number", "x-mcp-header": "N"}}}},
            {"name": "bad_duplicate", "inputSchema": {"type": "object", "properties": {
                "a": {"type": "string", "x-mcp-header": "Same"},
                "b": {"type": "string", "x-mcp-header": "same"}}}},
            {"name": "plain"}
        ])
    }

    #[tokio::test]
    async fn x_mcp_header_parameters_are_mirrored_and_invalid_tools_dropped() {
        let server = MockServer::start(|rec: Received| async move {
            match rec.rpc_method() {
                Some("tools/list") => result(rec.id(), complete(json!({"tools": annotated_tools()}))),
                _ => result(rec.id(), complete(json!({"content": []}))),
            }
        })
        .await;
        let client = transport(&server, quick());
        let listed = client.request("tools/list", None, None).await.unwrap();
        let names: Vec<&str> = listed["tools"].as_array().unwrap().iter().filter_map(|t| t["name"].as_str()).collect();
        assert_eq!(names, ["execute_sql", "plain"]);

        client
            .request(
                "tools/call",
                Some(json!({"name": "execute_sql", "arguments": {
                    "region": "Zürich", "limit": 42, "dry": false, "tenant": {"id": "t-1"}, "query": "SELECT 1"}})),
                None,
            )
            .await
            .unwrap();
        client
            .request(
                "tools/call",
                Some(json!({"name": "execute_sql", "arguments": {"region": null, "query": "SELECT 1"}})),
                None,
            )
            .await
            .unwrap();
        let received = server.received();
        let full = &received[1];
        assert_eq!(full.header("mcp-param-region"), Some("=?base64?WsO8cmljaA==?="));
        assert_eq!(full.header("mcp-param-limit"), Some("42"));
        assert_eq!(full.header("mcp-param-dry-run"), Some("false"));
        assert_eq!(full.header("mcp-param-tenant"), Some("t-1"));
        assert_eq!(full.header("mcp-name"), Some("execute_sql"));
        let sparse = &received[2];
        for h in ["mcp-param-region", "mcp-param-limit", "mcp-param-dry-run", "mcp-param-tenant"] {
            assert_eq!(sparse.header(h), None, "{h} omitted for null/absent");
        }
        server.stop().await;
    }

    #[tokio::test]
    async fn header_mismatch_re_lists_every_page_and_retries_once() {
        let lists = Arc::new(AtomicUsize::new(0));
        let lists_in_server = lists.clone();
        let server = MockServer::start(move |rec: Received| {
            let lists = lists_in_server.clone();
            async move {
                match rec.rpc_method() {
                    Some("tools/list") => {
                        // The first listing (two pages) predates the x-mcp-header annotation.
                        let annotated = lists.fetch_add(1, Ordering::SeqCst) >= 2;
                        let tool =
                            if annotated { annotated_tools()[0].clone() } else { json!({"name": "execute_sql"}) };
                        // Page 1 ends with an empty-string cursor, which is a cursor, not the end.
                        match rec.params().get("cursor") {
                            None => result(rec.id(), complete(json!({"tools": [{"name": "plain"}], "nextCursor": ""}))),
                            Some(_) => result(rec.id(), complete(json!({"tools": [tool]}))),
                        }
                    }
                    Some("tools/call") if rec.header("mcp-param-region") != Some("us-west1") => rpc_error(
                        400,
                        rec.id(),
                        json!({"code": -32020, "message": "Header mismatch: Mcp-Param-Region missing"}),
                    ),
                    _ => result(rec.id(), complete(json!({"content": []}))),
                }
            }
        })
        .await;
        let client = transport(&server, quick());
        // The call lists the tools first (the tool is unknown) and sees the old schema, so it lacks the header.
        let call = json!({"name": "execute_sql", "arguments": {"region": "us-west1"}});
        client.request("tools/call", Some(call.clone()), None).await.unwrap();
        assert_eq!(
            server.rpc_methods(),
            [
                "POST tools/list",
                "POST tools/list",
                "POST tools/call",
                "POST tools/list",
                "POST tools/list",
                "POST tools/call"
            ]
        );
        let received = server.received();
        assert_eq!(received[1].params()["cursor"], "");
        assert_eq!(received[4].params()["cursor"], "");
        assert_eq!(received[2].header("mcp-param-region"), None);
        assert_eq!(received[5].header("mcp-param-region"), Some("us-west1"));
        assert_ne!(received[2].id(), received[5].id());
        server.stop().await;

        // A server that keeps saying "mismatch": one re-list, one retry, then the error.
        let server = MockServer::start(|rec: Received| async move {
            match rec.rpc_method() {
                Some("tools/list") => result(rec.id(), complete(json!({"tools": []}))),
                _ => rpc_error(400, rec.id(), json!({"code": -32020, "message": "Header mismatch"})),
            }
        })
        .await;
        let client = transport(&server, quick());
        let err = client.request("tools/call", Some(call), None).await.unwrap_err();
        assert!(matches!(err, TransportError::Rpc { code: -32020, .. }), "{err:?}");
        assert_eq!(server.rpc_methods(), ["POST tools/list", "POST tools/call", "POST tools/list", "POST tools/call"]);
        assert_eq!(client.generation(), Some(Generation::Modern), "-32020 is a modern error");
        server.stop().await;
    }

    #[tokio::test]
    async fn a_broken_modern_stream_is_re_issued_with_a_new_id() {
        let calls = Arc::new(AtomicUsize::new(0));
        let calls_in_server = calls.clone();
        let server = MockServer::start(move |rec: Received| {
            let calls = calls_in_server.clone();
            async move {
                if rec.method != Method::POST {
                    return status(405);
                }
                if let Some(r) = empty_tools_list(&rec) {
                    return r;
                }
                let progress = json!({"jsonrpc": "2.0", "method": "notifications/progress",
                                  "params": {"progressToken": 1, "progress": 1}});
                if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                    // An event id and a notification, then the connection ends without the response.
                    sse_then_close(vec![format!("id: e1\ndata: {progress}\n\n")])
                } else {
                    let response = json!({"jsonrpc": "2.0", "id": rec.id(),
                                      "result": {"resultType": "complete", "content": []}});
                    sse(format!(": keep-alive\n\ndata: {progress}\n\ndata: {response}\n\n"))
                }
            }
        })
        .await;
        let handler = Arc::new(ElicitingHandler::default());
        let client = transport(&server, quick()).with_handler(handler.clone());
        let out = client.request("tools/call", Some(json!({"name": "slow"})), None).await.unwrap();
        assert_eq!(out["content"], json!([]));
        assert_eq!(
            server.rpc_methods(),
            ["POST tools/list", "POST tools/call", "POST tools/call"],
            "no GET resumption"
        );
        let received = server.calls();
        assert_ne!(received[0].id(), received[1].id());
        assert_eq!(received[1].header("last-event-id"), None);
        assert_eq!(handler.notifications.load(Ordering::SeqCst), 2);
        server.stop().await;

        // Always broken: 1 + max_stream_reissues attempts, then a protocol error.
        let server = MockServer::start(|rec: Received| async move {
            empty_tools_list(&rec).unwrap_or_else(|| sse_then_close(vec!["id: 1\ndata:\n\n".to_owned()]))
        })
        .await;
        let client = transport(
            &server,
            TransportOptions { generation_hint: Some(Generation::Modern), max_stream_reissues: 2, ..quick() },
        );
        let err = client.request("tools/call", Some(json!({"name": "slow"})), None).await.unwrap_err();
        assert!(matches!(err, TransportError::Protocol(_)), "{err:?}");
        assert_eq!(server.calls().len(), 3);
        server.stop().await;
    }

    #[tokio::test]
    async fn errors_of_a_confirmed_modern_server_are_not_fallbacks() {
        let server = MockServer::start(|rec: Received| async move {
            match rec.rpc_method() {
                Some("tools/list") => result(rec.id(), complete(json!({"tools": []}))),
                Some("tools/call") => rpc_error(400, rec.id(), json!({"code": -32602, "message": "Unknown tool"})),
                _ => status(400),
            }
        })
        .await;
        let client = transport(&server, quick());
        client.request("tools/list", None, None).await.unwrap();
        let err = client.request("tools/call", Some(json!({"name": "nope"})), None).await.unwrap_err();
        assert!(matches!(err, TransportError::Rpc { code: -32602, .. }), "{err:?}");
        let err = client.request("resources/list", None, None).await.unwrap_err();
        assert!(matches!(err, TransportError::HttpStatus { status: 400, .. }), "{err:?}");
        assert!(!server.rpc_methods().iter().any(|m| m.contains("initialize")));
        assert_eq!(client.generation(), Some(Generation::Modern));
        server.stop().await;
    }
}
