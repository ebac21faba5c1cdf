//! `superdynamic login` and `superdynamic proxy` against a server that accepts connections and then stalls at one
//! OAuth step (issue #14): a short `--timeout` keeps the suite fast; the bounds below only prove "not hung".

#[path = "../../../superdynamic/tests/it/stalling/mod.rs"]
mod stalling;

use crate::common::run_with_store;
use serde_json::{Value, json};
use stalling::{Stall, StallingServer};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// `--timeout 3`: 1.5 s to connect and to start answering, 3 s per request, 4.5 s for all of discovery.
const TIMEOUT: &str = "3";
const NOT_HUNG: Duration = Duration::from_secs(30);
const ADVICE: &str = "The server may be down or overloaded; if it is only slow, allow more time with --timeout SECONDS";

/// The message with the measured wait as `N`.
fn without_wait(message: &str) -> String {
    let (before, after) = message.split_once(" after ").unwrap_or_else(|| panic!("no wait in: {message}"));
    let rest = after.split_once(" s").map_or("", |(_, rest)| rest);
    format!("{before} after N s{rest}")
}

async fn login_stalled_at(path: &str, stall: Stall, expected: impl Fn(&StallingServer) -> String) {
    let server = StallingServer::start().await;
    server.stall(path, stall);
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("credentials.json");
    let started = Instant::now();
    let args = ["login", &server.mcp_url(), "--auto-authorize", "--callback-port", "0", "--timeout", TIMEOUT];
    let run = run_with_store(&store, &args).await;
    let took = started.elapsed();
    assert_eq!(run.code, 4, "a server that stops answering is a server failure: {}", run.stderr);
    let last = run.stderr.lines().last().unwrap_or_default();
    assert_eq!(without_wait(last), expected(&server), "{}", run.stderr);
    assert!(took < NOT_HUNG, "{took:?}");
    assert!(!store.exists(), "nothing is stored");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn login_reports_a_silent_protected_resource_metadata() {
    login_stalled_at(stalling::PRM, Stall::Silent, |s| {
        let url = s.url(stalling::PRM);
        format!("error: discovery failed: the protected resource metadata at {url}: no response after N s. {ADVICE}")
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn login_reports_authorization_server_metadata_that_stops_after_the_headers() {
    login_stalled_at(stalling::AS_METADATA, Stall::HeadersThenSilent, |s| {
        let url = s.url(stalling::AS_METADATA);
        format!(
            "error: discovery failed: the authorization server metadata at {url}: the answer was still incomplete \
             after N s. {ADVICE}"
        )
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn login_reports_a_registration_trickled_byte_by_byte() {
    login_stalled_at(stalling::REGISTER, Stall::Trickle, |s| {
        let url = s.url(stalling::REGISTER);
        format!(
            "error: client registration failed: the client registration at {url}: the answer was still incomplete \
             after N s. {ADVICE}"
        )
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn login_reports_a_silent_token_endpoint() {
    login_stalled_at(stalling::TOKEN, Stall::Silent, |s| {
        let url = s.url(stalling::TOKEN);
        format!("error: the token request at {url}: no response after N s. {ADVICE}")
    })
    .await;
}

/// The host's pending requests (here `initialize` and a pipelined `tools/list`) are answered with a JSON-RPC
/// error naming the stalled step; the proxy keeps serving and exits at the end of its input.
#[tokio::test(flavor = "multi_thread")]
async fn the_proxy_answers_pending_requests_with_the_stalled_step() {
    let server = StallingServer::start().await;
    server.stall(stalling::AS_METADATA, Stall::Silent);
    let dir = tempfile::tempdir().unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_superdynamic"))
        .args(["proxy", &server.mcp_url(), "--auto-authorize", "--callback-port", "0", "--timeout", TIMEOUT])
        .env("SUPERDYNAMIC_STORE_PATH", dir.path().join("credentials.json"))
        .env("SUPERDYNAMIC_STORE", "file")
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let started = Instant::now();
    let initialize = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "host", "version": "1"}}});
    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"});
    stdin.write_all(format!("{initialize}\n{list}\n").as_bytes()).await.unwrap();
    stdin.flush().await.unwrap();
    let mut answers = Vec::new();
    while answers.len() < 2 {
        let line = tokio::time::timeout(NOT_HUNG, stdout.next_line()).await.expect("answered").unwrap().unwrap();
        answers.push(serde_json::from_str::<Value>(&line).unwrap());
    }
    assert!(started.elapsed() < NOT_HUNG);
    answers.sort_by_key(|a| a["id"].as_i64());
    let url = server.url(stalling::AS_METADATA);
    for (answer, id) in answers.iter().zip([1, 2]) {
        assert_eq!(answer["id"], id);
        assert_eq!(answer["error"]["code"], -32603, "{answer}");
        assert_eq!(answer["error"]["data"]["kind"], "server", "{answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert_eq!(
            without_wait(message),
            format!(
                "superdynamic proxy: discovery failed: the authorization server metadata at {url}: no response after \
                 N s. {ADVICE}"
            )
        );
    }
    assert_eq!(server.count("GET /.well-known/oauth-authorization-server"), 1, "one wait for both requests");
    drop(stdin);
    let status = tokio::time::timeout(NOT_HUNG, child.wait()).await.expect("the proxy exits").unwrap();
    assert!(status.success());
    server.stop().await;
}
