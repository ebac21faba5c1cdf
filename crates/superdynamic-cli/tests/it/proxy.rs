//! End-to-end tests of `superdynamic proxy`: a scripted stdio MCP client (newline-delimited JSON-RPC on the
//! child's stdin/stdout) drives the real binary against the reference server on 127.0.0.1, in both protocol
//! generations. Every server and proxy process is stopped by the test that started it.

use crate::common;

use common::{Env, free_port};
use serde_json::{Value, json};
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use superdynamic_server::{Database, ServerConfig};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

const GENERATIONS: [&str; 2] = ["legacy", "modern"];
const WAIT: Duration = Duration::from_secs(30);

/// The host side: writes lines to the proxy's stdin, reads its stdout line by line.
struct Host {
    child: tokio::process::Child,
    stdin: Option<tokio::process::ChildStdin>,
    lines: mpsc::UnboundedReceiver<String>,
    /// Messages that arrived while waiting for another id.
    other: Vec<Value>,
    stderr: Arc<Mutex<String>>,
}

impl Host {
    fn spawn(store: &Path, args: &[&str]) -> Self {
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_superdynamic"))
            .arg("proxy")
            .args(args)
            .env("SUPERDYNAMIC_STORE_PATH", store)
            .env("SUPERDYNAMIC_STORE", "file")
            .env_remove("RUST_LOG")
            .env_remove("BROWSER")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let (tx, lines) = mpsc::unbounded_channel();
        let stdout = child.stdout.take().unwrap();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        let pipe = child.stderr.take().unwrap();
        tokio::spawn(async move {
            let mut reader = BufReader::new(pipe).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                sink.lock().unwrap().push_str(&(line + "\n"));
            }
        });
        let stdin = child.stdin.take();
        Self { child, stdin, lines, other: Vec::new(), stderr }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    async fn send_raw(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(line.as_bytes()).await.unwrap();
        stdin.write_all(b"\n").await.unwrap();
        stdin.flush().await.unwrap();
    }

    async fn send(&mut self, message: Value) {
        self.send_raw(&message.to_string()).await;
    }

    /// The next stdout line, as raw text.
    async fn next_line(&mut self) -> String {
        match tokio::time::timeout(WAIT, self.lines.recv()).await {
            Ok(Some(line)) => line,
            Ok(None) => panic!("the proxy closed stdout; stderr:\n{}", self.stderr()),
            Err(_) => panic!("no message from the proxy within {WAIT:?}; stderr:\n{}", self.stderr()),
        }
    }

    /// Waits for the response whose raw id text is `id`; returns it raw.
    async fn response_raw(&mut self, id: &str) -> String {
        let needle = format!(r#""id":{id},"#);
        loop {
            let line = self.next_line().await;
            if line.contains(&needle) && !line.contains(r#""method""#) {
                return line;
            }
            self.other.push(serde_json::from_str(&line).unwrap());
        }
    }

    async fn request(&mut self, id: Value, method: &str, params: Value) -> Value {
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})).await;
        let raw = self.response_raw(&id.to_string()).await;
        serde_json::from_str(&raw).unwrap()
    }

    async fn initialize(&mut self) -> Value {
        let params =
            json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}});
        let answer = self.request(json!(0), "initialize", params).await;
        self.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"})).await;
        answer
    }

    /// Closes stdin and waits for the exit code.
    async fn finish(mut self) -> i32 {
        drop(self.stdin.take());
        let status = tokio::time::timeout(WAIT, self.child.wait()).await.expect("the proxy exits").unwrap();
        status.code().unwrap_or(-1)
    }
}

fn modern_meta() -> Value {
    json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}})
}

fn weather(location: &str) -> Value {
    json!({"name": "get_weather", "arguments": {"location": location}})
}

fn text_of(response: &Value) -> String {
    response["result"]["content"][0]["text"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn legacy_host_initializes_lists_and_calls_in_both_generations() {
    for generation in GENERATIONS {
        let env = Env::start().await;
        env.run(&["login", &env.url(), "--auto-authorize"]).await.ok();
        let mut host =
            Host::spawn(&env.store(), &[&env.url(), "--mcp-protocol", generation, "--ignore-tool", "read_*"]);
        let init = host.initialize().await;
        assert_eq!(init["result"]["protocolVersion"], "2025-06-18", "{generation}: {init}");
        assert!(init["result"]["capabilities"]["tools"].is_object(), "{generation}: {init}");
        assert_eq!(init["result"]["serverInfo"]["name"], "superdynamic-server");

        // Ids come back exactly as written, whatever their type.
        let list = host.request(json!("list-1"), "tools/list", json!({})).await;
        let names: Vec<&str> =
            list["result"]["tools"].as_array().unwrap().iter().filter_map(|t| t["name"].as_str()).collect();
        assert_eq!(names.len(), 3, "{generation}: read_file is hidden: {names:?}");
        assert!(!names.contains(&"read_file"));
        host.send_raw(r#"{"jsonrpc":"2.0","id":12345678901,"method":"tools/call","params":{"name":"get_weather","arguments":{"location":"Paris"}}}"#).await;
        let raw = host.response_raw("12345678901").await;
        assert!(raw.starts_with(r#"{"jsonrpc":"2.0","id":12345678901,"result":"#), "{raw}");
        assert!(raw.contains("Weather in Paris"), "{raw}");

        let hidden = host.request(json!(3), "tools/call", json!({"name": "read_file", "arguments": {}})).await;
        assert_eq!(hidden["error"]["code"], -32602, "{hidden}");
        let unknown = host.request(json!(4), "no/such/method", json!({})).await;
        assert!(unknown["error"]["code"].is_i64(), "the server's error is relayed: {unknown}");

        // Garbage and over-long input get JSON-RPC errors, and the proxy carries on.
        host.send_raw("not json").await;
        let parse = host.next_line().await;
        assert!(parse.contains("-32700") && parse.contains(r#""id":null"#), "{parse}");
        let again = host.request(json!(5), "tools/call", weather("Oslo")).await;
        assert!(text_of(&again).contains("Oslo"), "{again}");

        assert_eq!(host.finish().await, 0);
        env.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn modern_host_is_served_by_either_generation() {
    for generation in GENERATIONS {
        let env = Env::start().await;
        env.run(&["login", &env.url(), "--auto-authorize"]).await.ok();
        let mut host = Host::spawn(&env.store(), &[&env.url(), "--mcp-protocol", generation]);
        let discover = host.request(json!(1), "server/discover", json!({"_meta": modern_meta()})).await;
        let versions = discover["result"]["supportedVersions"].as_array().unwrap();
        assert!(versions.contains(&json!("2026-07-28")), "{generation}: {discover}");
        assert!(discover["result"]["capabilities"]["tools"].is_object(), "{discover}");
        let mut params = weather("Rome");
        params["_meta"] = modern_meta();
        let call = host.request(json!(2), "tools/call", params).await;
        assert!(text_of(&call).contains("Rome"), "{generation}: {call}");

        // A modern version the proxy does not speak is refused the way a 2026-07-28 server refuses it.
        let mut params = weather("Rome");
        params["_meta"] = json!({"io.modelcontextprotocol/protocolVersion": "2099-01-01", "io.modelcontextprotocol/clientCapabilities": {}});
        let refused = host.request(json!(3), "tools/call", params).await;
        assert_eq!(refused["error"]["code"], -32022, "{refused}");
        assert_eq!(refused["error"]["data"]["supported"], json!(["2026-07-28"]));
        assert_eq!(host.finish().await, 0);
        env.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn signs_in_on_demand_and_steps_up_while_requests_wait() {
    for generation in GENERATIONS {
        let env = Env::start().await;
        // Nothing stored: the first request meets a 401 and the sign-in runs while it waits.
        let mut host = Host::spawn(&env.store(), &[&env.url(), "--mcp-protocol", generation, "--auto-authorize"]);
        host.initialize().await;
        let call = host.request(json!(1), "tools/call", weather("Lima")).await;
        assert!(text_of(&call).contains("Lima"), "{generation}: {call}");
        // get_user_profile needs profile:read: a 403 insufficient_scope, a step-up sign-in, then the answer.
        let profile = host.request(json!(2), "tools/call", json!({"name": "get_user_profile", "arguments": {}})).await;
        assert!(profile["result"].is_object(), "{generation}: {profile}");
        assert_eq!(profile["result"]["isError"], false, "{profile}");
        let stderr = host.stderr();
        assert!(stderr.contains("Signed in") && stderr.contains("Signing in again for scope"), "{stderr}");
        assert!(!stderr.contains("access_token"), "no token material in the logs: {stderr}");
        assert_eq!(host.finish().await, 0);
        env.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expiring_token_is_refreshed_mid_session() {
    for generation in GENERATIONS {
        let env = Env::with(ServerConfig { access_token_ttl: Duration::from_secs(2), ..ServerConfig::default() }).await;
        env.run(&["login", &env.url(), "--auto-authorize"]).await.ok();
        let before = env.stored()["credentials"][0]["tokens"]["access_token"].clone();
        let mut host = Host::spawn(&env.store(), &[&env.url(), "--mcp-protocol", generation, "--non-interactive"]);
        host.initialize().await;
        assert!(text_of(&host.request(json!(1), "tools/call", weather("Kyiv")).await).contains("Kyiv"));
        tokio::time::sleep(Duration::from_millis(2200)).await;
        let call = host.request(json!(2), "tools/call", weather("Kyiv")).await;
        assert!(text_of(&call).contains("Kyiv"), "{generation}: {call}");
        assert_ne!(env.stored()["credentials"][0]["tokens"]["access_token"], before, "the token was refreshed");
        assert_eq!(host.finish().await, 0);
        env.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_restart_mid_session_is_retried_with_backoff() {
    for generation in GENERATIONS {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let config = || ServerConfig {
            bind: format!("127.0.0.1:{port}").parse().unwrap(),
            database: Database::File(dir.path().join("server.db")),
            auto_approve: true,
            ..ServerConfig::default()
        };
        let server = superdynamic_server::start(config()).await.unwrap();
        let url = server.mcp_url().to_string();
        let store = dir.path().join("store/credentials.json");
        common::run_with_store(&store, &["login", &url, "--auto-authorize"]).await.ok();
        let mut host = Host::spawn(&store, &[&url, "--mcp-protocol", generation, "--auto-authorize"]);
        host.initialize().await;
        assert!(text_of(&host.request(json!(1), "tools/call", weather("Baku")).await).contains("Baku"));

        server.shutdown().await;
        // Sent while the server is down: retried until it is back (a legacy session is re-initialized).
        host.send(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": weather("Doha")})).await;
        tokio::time::sleep(Duration::from_millis(700)).await;
        let server = superdynamic_server::start(config()).await.unwrap();
        let raw = host.response_raw("2").await;
        assert!(raw.contains("Doha"), "{generation}: {raw}");
        assert!(host.stderr().contains("cannot be reached; retrying"), "{}", host.stderr());
        let call = host.request(json!(3), "tools/call", weather("Riga")).await;
        assert!(text_of(&call).contains("Riga"), "{call}");
        assert_eq!(host.finish().await, 0);
        server.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_notification_storm_does_not_starve_requests() {
    for generation in GENERATIONS {
        let env = Env::start().await;
        env.run(&["login", &env.url(), "--auto-authorize"]).await.ok();
        let mut host = Host::spawn(&env.store(), &[&env.url(), "--mcp-protocol", generation]);
        host.initialize().await;
        let started = std::time::Instant::now();
        let mut batch = String::new();
        for i in 0..2000 {
            batch.push_str(r#"{"jsonrpc":"2.0","method":"notifications/roots/list_changed"}"#);
            batch.push('\n');
            if i % 40 == 0 {
                batch.push_str(&json!({"jsonrpc": "2.0", "id": i, "method": "ping"}).to_string());
                batch.push('\n');
            }
        }
        host.send_raw(batch.trim_end()).await;
        let mut answered = 0;
        while answered < 50 {
            let line = host.next_line().await;
            let message: Value = serde_json::from_str(&line).unwrap();
            if message.get("id").is_some() {
                assert!(message.get("result").is_some(), "{generation}: {line}");
                answered += 1;
            }
        }
        assert!(started.elapsed() < Duration::from_secs(20), "{generation}: took {:?}", started.elapsed());
        let call = host.request(json!("after"), "tools/call", weather("Lisbon")).await;
        assert!(text_of(&call).contains("Lisbon"), "{call}");
        assert_eq!(host.finish().await, 0);
        env.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn eof_answers_what_was_asked_and_sigterm_exits_zero() {
    for generation in GENERATIONS {
        let env = Env::start().await;
        env.run(&["login", &env.url(), "--auto-authorize"]).await.ok();
        // EOF right after a request: the answer still comes, then a clean exit.
        let mut host = Host::spawn(&env.store(), &[&env.url(), "--mcp-protocol", generation]);
        host.initialize().await;
        host.send(json!({"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": weather("Accra")})).await;
        drop(host.stdin.take());
        let raw = host.response_raw("9").await;
        assert!(raw.contains("Accra"), "{raw}");
        assert_eq!(host.finish().await, 0);

        // SIGTERM: the session ends and the exit code is 0.
        let mut host = Host::spawn(&env.store(), &[&env.url(), "--mcp-protocol", generation]);
        host.initialize().await;
        host.request(json!(1), "tools/list", json!({})).await;
        let pid = host.child.id().unwrap().to_string();
        let killed = tokio::process::Command::new("kill").args(["-TERM", &pid]).status().await.unwrap();
        assert!(killed.success());
        let status = tokio::time::timeout(WAIT, host.child.wait()).await.expect("exits on SIGTERM").unwrap();
        assert_eq!(status.code(), Some(0), "{}", host.stderr());
        env.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn plain_http_to_another_machine_is_refused_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("credentials.json");
    let run = common::run_with_store(&store, &["proxy", "http://mcp.example.com/mcp"]).await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("--allow-http"), "{}", run.stderr);
    assert!(run.stdout.is_empty(), "stdout is for JSON-RPC only: {}", run.stdout);
    let run = common::run_with_store(
        &store,
        &["proxy", "https://x.example/mcp", "--header", "X-Key: ${SURELY_UNSET_VAR_42}"],
    )
    .await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("SURELY_UNSET_VAR_42"), "{}", run.stderr);
}

/// A legacy MCP server that, during a tools/call, asks the client a question (elicitation) on the call's SSE
/// stream and finishes the call with the answer: the proxy must relay the question to the host and the host's
/// answer back, with the ids each side expects.
mod asking_server {
    use axum::Router;
    use axum::body::Body;
    use axum::extract::State;
    use axum::http::{Method, StatusCode, header};
    use axum::response::Response;
    use axum::routing::any;
    use serde_json::{Value, json};
    use std::sync::{Arc, Mutex};
    use tokio::sync::{mpsc, oneshot};

    #[derive(Clone, Default)]
    pub struct Shared {
        answer: Arc<Mutex<Option<oneshot::Sender<Value>>>>,
    }

    fn json_reply(value: Value) -> Response {
        Response::builder()
            .header(header::CONTENT_TYPE, "application/json")
            .header("mcp-session-id", "s-1")
            .body(Body::from(value.to_string()))
            .unwrap()
    }

    async fn handle(State(shared): State<Shared>, method: Method, body: String) -> Response {
        if method != Method::POST {
            return Response::builder().status(StatusCode::METHOD_NOT_ALLOWED).body(Body::empty()).unwrap();
        }
        let message: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        let id = message.get("id").cloned().unwrap_or(Value::Null);
        match message.get("method").and_then(Value::as_str) {
            Some("initialize") => json_reply(json!({"jsonrpc": "2.0", "id": id, "result": {
                "protocolVersion": "2025-11-25", "capabilities": {"tools": {}},
                "serverInfo": {"name": "asking", "version": "1"}
            }})),
            Some("tools/call") => {
                let (tx, rx) = oneshot::channel();
                *shared.answer.lock().unwrap() = Some(tx);
                let (events, stream) = mpsc::channel::<Result<String, std::io::Error>>(4);
                tokio::spawn(async move {
                    let ask = json!({"jsonrpc": "2.0", "id": "srv-1", "method": "elicitation/create", "params": {
                        "message": "Your name?",
                        "requestedSchema": {"type": "object", "properties": {"name": {"type": "string"}}}
                    }});
                    let _ = events.send(Ok(format!("data: {ask}\n\n"))).await;
                    let answer = rx.await.unwrap_or(Value::Null);
                    let name = answer["result"]["content"]["name"].as_str().unwrap_or("(no answer)").to_string();
                    let done = json!({"jsonrpc": "2.0", "id": id, "result": {
                        "content": [{"type": "text", "text": format!("hello {name}")}],
                        "structuredContent": {"answer_id": answer["id"]}
                    }});
                    let _ = events.send(Ok(format!("data: {done}\n\n"))).await;
                });
                let body = Body::from_stream(futures_util::stream::unfold(stream, |mut rx| async move {
                    rx.recv().await.map(|item| (item, rx))
                }));
                Response::builder().header(header::CONTENT_TYPE, "text/event-stream").body(body).unwrap()
            }
            Some(_) => Response::builder().status(StatusCode::ACCEPTED).body(Body::empty()).unwrap(),
            None => {
                // The client's answer to our question.
                if let Some(tx) = shared.answer.lock().unwrap().take() {
                    let _ = tx.send(message);
                }
                Response::builder().status(StatusCode::ACCEPTED).body(Body::empty()).unwrap()
            }
        }
    }

    pub async fn start() -> (String, oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
        let app = Router::new().route("/mcp", any(handle)).with_state(Shared::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/mcp", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    stopped.await.ok();
                })
                .await
                .unwrap();
        });
        (url, stop, task)
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_request_is_relayed_to_the_host_and_its_answer_back() {
    let (url, stop, server) = asking_server::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut host = Host::spawn(&dir.path().join("c.json"), &[&url, "--mcp-protocol", "legacy"]);
    let params = json!({"protocolVersion": "2025-06-18", "capabilities": {"elicitation": {}},
                        "clientInfo": {"name": "t", "version": "1"}});
    host.request(json!(0), "initialize", params).await;
    host.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"})).await;
    host.send(json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "ask", "arguments": {}}}))
        .await;
    // The server's question arrives on stdout as a request with an id of the proxy's choosing.
    let question: Value = loop {
        let line: Value = serde_json::from_str(&host.next_line().await).unwrap();
        if line["method"] == "elicitation/create" {
            break line;
        }
    };
    assert_eq!(question["params"]["message"], "Your name?");
    let relay_id = question["id"].clone();
    assert_ne!(relay_id, json!("srv-1"), "the host sees the proxy's id, not the server's");
    host.send(json!({"jsonrpc": "2.0", "id": relay_id, "result": {"action": "accept", "content": {"name": "Ada"}}}))
        .await;
    let raw = host.response_raw("7").await;
    let answer: Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(answer["result"]["content"][0]["text"], "hello Ada", "{raw}");
    assert_eq!(answer["result"]["structuredContent"]["answer_id"], "srv-1", "the server got its own id back");
    assert_eq!(host.finish().await, 0);
    let _ = stop.send(());
    server.await.unwrap();
}
