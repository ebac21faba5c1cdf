//! `no_auth` / `--no-auth`: MCP without OAuth for conformance suites, only on
//! loopback; tools see the anonymous subject with every scope.

use crate::common;

use common::*;
use reqwest::StatusCode;
use serde_json::json;
use superdynamic_server::{ANONYMOUS_SUBJECT, ServerConfig, ServerError, start};

fn no_auth_config() -> ServerConfig {
    ServerConfig { no_auth: true, ..test_config(false) }
}

#[tokio::test]
async fn no_auth_serves_both_generations_without_a_token() {
    let server = start(no_auth_config()).await.unwrap();
    let http = http();

    // Modern: no token, no initialize; scoped tools are allowed.
    let reply = modern_call_tool(&http, &server, None, "get_user_profile", json!({})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.raw);
    let result = reply.message.unwrap()["result"].clone();
    assert_eq!(result["structuredContent"]["sub"], ANONYMOUS_SUBJECT);
    assert_eq!(result["structuredContent"]["scopes"], json!(["mcp:tools", "files:read", "profile:read"]));
    let reply = modern_call_tool(&http, &server, None, "read_file", json!({"path": "README.txt"})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.raw);
    assert_ne!(reply.message.unwrap()["result"]["isError"], true);

    // Legacy: initialize without a token, then a session-bound call.
    let init = json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "it", "version": "0"}}
    });
    let reply = mcp_post(&http, &server, None, None, &init).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.raw);
    let session = reply.headers["mcp-session-id"].to_str().unwrap().to_owned();
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let reply = mcp_post(&http, &server, None, Some(&session), &initialized).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);
    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                      "params": {"name": "get_weather", "arguments": {"location": "Rome"}}});
    let reply = mcp_post(&http, &server, None, Some(&session), &call).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.raw);
    assert_eq!(reply.message.unwrap()["result"]["structuredContent"]["location"], "Rome");
    server.shutdown().await;
}

#[tokio::test]
async fn no_auth_is_refused_on_non_loopback_addresses() {
    // The check comes before anything is bound, so nothing listens here.
    for bind in ["0.0.0.0:0", "[::]:0", "192.0.2.1:0"] {
        let err = start(ServerConfig { bind: bind.parse().unwrap(), ..no_auth_config() })
            .await
            .expect_err("no_auth on a non-loopback address must be refused");
        assert!(matches!(err, ServerError::NoAuthNotLoopback(_)), "{err}");
        assert!(err.to_string().contains("loopback"), "{err}");
    }
}

#[test]
fn the_binary_refuses_no_auth_on_a_non_loopback_bind() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_superdynamic-server"))
        .args(["--no-auth", "--bind", "0.0.0.0", "--port", "0", "--db", ":memory:"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--no-auth") && stderr.contains("loopback"), "{stderr}");
}
