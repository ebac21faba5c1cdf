//! The mcp-remote drop-in: servers that only speak the HTTP+SSE transport of 2024-11-05 (the reference server
//! with `legacy_sse`), `--transport` orders, and `superdynamic proxy` run with mcp-remote's command line, each
//! flag's effect checked where a user would see it. Every server and process is stopped by its test.

use crate::common::{Env, free_port, run_with};
use axum::Router;
use axum::extract::Request;
use axum::http::StatusCode;
use serde_json::{Value, json};
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use superdynamic_server::ServerConfig;
use tokio::io::AsyncWriteExt;

fn initialize(id: i64) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "host", "version": "1"}}})
}

fn sse_only() -> ServerConfig {
    ServerConfig { legacy_sse: true, ..ServerConfig::default() }
}

#[tokio::test(flavor = "multi_thread")]
async fn tools_calls_and_step_up_reach_a_server_that_only_speaks_http_sse() {
    let env = Env::with(sse_only()).await;
    let url = env.url();
    let listed = env.run(&["tools", &url, "--auto-authorize"]).await;
    listed.ok();
    assert!(listed.stdout.contains("get_weather"), "{}", listed.stdout);
    let called =
        env.run(&["call", &url, "get_weather", "--args", r#"{"location":"Paris"}"#, "--non-interactive"]).await;
    assert!(called.ok().stdout.contains("Weather in Paris"), "{}", called.stdout);
    // list_files needs files:read, which the first sign-in did not ask for: a 403 on the message POST steps up.
    let stepped = env.run(&["call", &url, "list_files", "--auto-authorize"]).await;
    stepped.ok();
    assert!(env.stored().to_string().contains("files:read"), "the new scope is stored");
    // sse-only goes straight to the event stream; http-only refuses it and says how to allow it.
    env.run(&["tools", &url, "--transport", "sse-only", "--non-interactive"]).await.ok();
    let refused = env.run(&["tools", &url, "--transport", "http-only", "--non-interactive"]).await;
    assert_eq!(refused.code, 4, "{}", refused.stderr);
    assert!(refused.stderr.contains("speaks only the HTTP+SSE transport"), "{}", refused.stderr);
    assert!(refused.stderr.contains("--transport http-first or sse-only"), "{}", refused.stderr);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sse_orders_against_a_streamable_http_server() {
    let env = Env::start().await;
    let url = env.url();
    env.run(&["login", &url, "--auto-authorize"]).await.ok();
    // sse-first finds no event stream and uses Streamable HTTP.
    let first = env.run(&["tools", &url, "--transport", "sse-first", "--non-interactive"]).await;
    assert!(first.ok().stdout.contains("get_weather"), "{}", first.stdout);
    let only = env.run(&["tools", &url, "--transport", "sse-only", "--non-interactive"]).await;
    assert_eq!(only.code, 4, "{}", only.stderr);
    assert!(only.stderr.contains("does not offer the HTTP+SSE transport"), "{}", only.stderr);
    env.stop().await;
}

/// Runs the proxy with `args`, writes `lines` to its stdin and closes it, and returns (stdout messages, stderr).
async fn proxy_session(store: &Path, args: &[&str], vars: &[(&str, &str)], lines: &[Value]) -> (Vec<Value>, String) {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_superdynamic"));
    command
        .arg("proxy")
        .args(args)
        .env("SUPERDYNAMIC_STORE_PATH", store)
        .env("SUPERDYNAMIC_STORE", "file")
        .env_remove("RUST_LOG")
        .env_remove("BROWSER")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (name, value) in vars {
        command.env(name, value);
    }
    let mut child = command.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    for line in lines {
        stdin.write_all(format!("{line}\n").as_bytes()).await.unwrap();
    }
    drop(stdin);
    let output = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output()).await.unwrap().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let messages = stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    (messages, String::from_utf8_lossy(&output.stderr).into_owned())
}

fn answer(messages: &[Value], id: i64) -> &Value {
    messages.iter().find(|m| m["id"] == id).unwrap_or_else(|| panic!("no answer {id} in {messages:?}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_proxy_runs_an_mcp_remote_command_line_as_written() {
    let env = Env::with(sse_only()).await;
    let url = env.url();
    let port = free_port().to_string();
    let session = [
        initialize(1),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
        json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "list_files", "arguments": {}}}),
    ];
    // A Claude Desktop entry's args after `npx -y mcp-remote`, plus a flag only a future mcp-remote knows.
    let args = [
        url.as_str(),
        &port,
        "--host",
        "127.0.0.1",
        "--callback-path",
        "/oauth/callback",
        "--transport",
        "sse-first",
        "--header",
        "X-Trace: ${TRACE_ID}",
        "--allow-http",
        "--ignore-tool",
        "GET_*",
        "--auth-timeout",
        "60",
        "--static-oauth-client-metadata",
        r#"{"scope":"mcp:tools files:read offline_access","client_name":"Desktop host"}"#,
        "--enable-proxy",
        "--silent",
        "--future-option",
        "its-value",
        "--auto-authorize",
    ];
    let (messages, stderr) = proxy_session(&env.store(), &args, &[("TRACE_ID", "t-1")], &session).await;
    let tools: Vec<&str> =
        answer(&messages, 2)["result"]["tools"].as_array().unwrap().iter().filter_map(|t| t["name"].as_str()).collect();
    assert!(tools.contains(&"list_files") && tools.contains(&"read_file"), "{tools:?}");
    assert!(!tools.iter().any(|t| t.starts_with("get_")), "--ignore-tool GET_* hides get_* (any case): {tools:?}");
    // The metadata's scope was asked for at the first sign-in: list_files needed no step-up.
    assert_eq!(answer(&messages, 3)["result"]["isError"], json!(false), "{messages:?}");
    assert!(stderr.contains("ignoring --future-option and its value"), "{stderr}");
    assert!(!stderr.contains("its-value"), "an unknown flag's value may be a secret: {stderr}");
    assert!(!stderr.contains("Signed in"), "--silent: no narration: {stderr}");
    let stored = env.stored();
    let registration = &stored["credentials"][0]["registration"];
    assert_eq!(registration["redirect_uris"], json!([format!("http://127.0.0.1:{port}/oauth/callback")]));
    env.stop().await;
}

/// A loopback HTTP server that records each request's target and headers and answers 405.
async fn recorder() -> (String, Arc<Mutex<Vec<(String, axum::http::HeaderMap)>>>, tokio::sync::oneshot::Sender<()>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let app = Router::new().fallback(move |request: Request| {
        let log = log.clone();
        async move {
            log.lock().unwrap().push((request.uri().to_string(), request.headers().clone()));
            StatusCode::METHOD_NOT_ALLOWED
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                stopped.await.ok();
            })
            .await;
    });
    (format!("http://{addr}"), seen, stop)
}

#[tokio::test(flavor = "multi_thread")]
async fn headers_expand_variables_and_enable_proxy_uses_the_environment_proxy() {
    let (base, seen, stop) = recorder().await;
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("c.json");
    let file = [("SUPERDYNAMIC_STORE", Some("file"))];
    // The proxy's --header with ${VAR}: sent on every request (here: both transports' attempts).
    let url = format!("{base}/mcp");
    let args = [url.as_str(), "--non-interactive", "--header", "X-Api-Key: ${THE_KEY}"];
    let (messages, _) = proxy_session(&store, &args, &[("THE_KEY", "k-123")], &[initialize(1)]).await;
    assert!(messages[0]["error"].is_object(), "{messages:?}");
    {
        let seen = seen.lock().unwrap();
        assert!(seen.len() >= 2, "a POST, then the event-stream GET: {seen:?}");
        assert!(seen.iter().all(|(_, h)| h.get("x-api-key").is_some_and(|v| v == "k-123")), "{seen:?}");
    }
    // A variable that is not set is an error naming it, not an empty header.
    let missing = run_with(&store, &["proxy", &url, "--header", "X-Api-Key: ${NOT_SET_ANYWHERE}"], &file).await;
    assert_eq!(missing.code, 2);
    assert!(missing.stderr.contains("${NOT_SET_ANYWHERE}"), "{}", missing.stderr);

    // --enable-proxy: a request for a closed port goes to HTTP_PROXY (the recorder) instead.
    let closed = format!("http://127.0.0.1:{}/mcp", free_port());
    seen.lock().unwrap().clear();
    let proxy_env = [file[0], ("HTTP_PROXY", Some(base.as_str())), ("NO_PROXY", Some("")), ("no_proxy", Some(""))];
    let direct = run_with(&store, &["tools", &closed, "--non-interactive"], &proxy_env).await;
    assert_ne!(direct.code, 0);
    assert!(seen.lock().unwrap().is_empty(), "without --enable-proxy the environment's proxy is not used");
    let proxied = run_with(&store, &["tools", &closed, "--non-interactive", "--enable-proxy"], &proxy_env).await;
    assert_ne!(proxied.code, 0);
    let seen = seen.lock().unwrap().clone();
    assert!(seen.iter().any(|(target, _)| target == &closed), "the proxy was asked for {closed}: {seen:?}");
    let _ = stop.send(());
}

#[tokio::test(flavor = "multi_thread")]
async fn static_client_info_from_a_file_and_an_explicit_resource() {
    let env = Env::with(sse_only()).await;
    let url = env.url();
    // A client registered beforehand (as an operator would hand it out), from another store.
    let other = tempfile::tempdir().unwrap();
    let registered =
        run_with(&other.path().join("c.json"), &["register", &url, "--json"], &[("SUPERDYNAMIC_STORE", Some("file"))])
            .await;
    registered.ok();
    let stored: Value = serde_json::from_slice(&std::fs::read(other.path().join("c.json")).unwrap()).unwrap();
    let registration = &stored["credentials"][0]["registration"];
    let client_id = registration["client_id"].as_str().unwrap().to_owned();
    let redirect = url::Url::parse(registration["redirect_uris"][0].as_str().unwrap()).unwrap();
    let port = redirect.port().unwrap().to_string();
    let info = env.dir.path().join("client-info.json");
    std::fs::write(&info, json!({"client_id": client_id, "redirect_uris": [redirect.as_str()]}).to_string()).unwrap();
    let info_arg = format!("@{}", info.display());
    let args = [url.as_str(), &port, "--static-oauth-client-info", &info_arg, "--resource", &url, "--auto-authorize"];
    let (messages, stderr) = proxy_session(
        &env.store(),
        &args,
        &[],
        &[initialize(1), json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})],
    )
    .await;
    assert!(answer(&messages, 2)["result"]["tools"].is_array(), "{messages:?} {stderr}");
    let stored = env.stored();
    assert_eq!(stored["credentials"][0]["registration"]["client_id"], json!(client_id), "the given client was used");
    assert_eq!(stored["credentials"][0]["resource"], json!(url));
    // A file that is not the JSON mcp-remote writes is refused with the flag's name.
    std::fs::write(&info, "{not json").unwrap();
    let bad = run_with(
        &env.store(),
        &["proxy", &url, "--static-oauth-client-info", &info_arg],
        &[("SUPERDYNAMIC_STORE", Some("file"))],
    )
    .await;
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("--static-client-info must be"), "{}", bad.stderr);
    env.stop().await;
}
