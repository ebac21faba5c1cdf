//! MCP 2026-07-28 ("modern", stateless) on the same `/mcp` endpoint as the
//! 2025-11-25 initialize/session generation, over raw HTTP: no initialize,
//! per-request `_meta` plus the `MCP-Protocol-Version` / `Mcp-Method` /
//! `Mcp-Name` headers, and the bearer checks in front of it.
//!
//! rmcp 3.11 serves this generation itself; these tests pin the behaviour.

use crate::common;

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use superdynamic_server::{ServerConfig, start};

fn error_code(reply: &McpReply) -> i64 {
    reply
        .message
        .as_ref()
        .and_then(|m| m["error"]["code"].as_i64())
        .unwrap_or_else(|| panic!("a JSON-RPC error, got {}", reply.raw))
}

#[tokio::test]
async fn discover_lists_the_modern_and_the_legacy_versions() {
    let server = start_server(true).await;
    let http = http();
    let tokens = obtain_tokens(&http, &server, "mcp:tools").await;
    let body = modern_request(1, "server/discover", json!({}), MODERN);
    let reply = modern_post(&http, &server, Some(&tokens.access_token), &body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.raw);
    assert!(reply.headers.get("mcp-session-id").is_none());
    let result = reply.message.unwrap()["result"].clone();
    assert_eq!(result["resultType"], "complete");
    let versions: Vec<&str> =
        result["supportedVersions"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    for v in [MODERN, "2025-11-25", "2025-06-18", "2025-03-26"] {
        assert!(versions.contains(&v), "{v} missing from {versions:?}");
    }
    assert!(result["capabilities"]["tools"].is_object(), "{result}");
    assert_eq!(result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"], "superdynamic-server");
    assert!(result["ttlMs"].is_number() && result["cacheScope"].is_string());
    server.shutdown().await;
}

#[tokio::test]
async fn tools_list_and_call_work_without_initialize() {
    let server = start_server(true).await;
    let http = http();
    let tokens = obtain_tokens(&http, &server, "mcp:tools").await;
    let t = Some(tokens.access_token.as_str());

    let list = modern_request(2, "tools/list", json!({}), MODERN);
    let reply = modern_post(&http, &server, t, &list).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.raw);
    assert!(reply.headers.get("mcp-session-id").is_none());
    let result = reply.message.unwrap()["result"].clone();
    assert_eq!(result["resultType"], "complete");
    let mut names: Vec<&str> = result["tools"].as_array().unwrap().iter().filter_map(|t| t["name"].as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["get_user_profile", "get_weather", "list_files", "read_file"]);

    let reply = modern_call_tool(&http, &server, t, "get_weather", json!({"location": "Paris"})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.raw);
    let message = reply.message.unwrap();
    assert_eq!(message["id"], 7);
    let result = message["result"].clone();
    assert_eq!(result["resultType"], "complete");
    assert_ne!(result["isError"], true);
    assert_eq!(result["structuredContent"]["location"], "Paris");

    // An unknown tool is a JSON-RPC error, not a crash.
    let reply = modern_call_tool(&http, &server, t, "no_such_tool", json!({})).await;
    assert!(reply.message.unwrap()["error"].is_object());
    server.shutdown().await;
}

#[tokio::test]
async fn validated_claims_reach_the_tools_in_the_modern_generation() {
    let server = start(ServerConfig { demo_user: "alice@example".into(), ..test_config(true) }).await.unwrap();
    let http = http();
    let tokens = obtain_tokens(&http, &server, "profile:read").await;
    let reply = modern_call_tool(&http, &server, Some(&tokens.access_token), "get_user_profile", json!({})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.raw);
    let result = reply.message.unwrap()["result"].clone();
    assert_eq!(result["resultType"], "complete");
    assert_eq!(result["structuredContent"]["sub"], "alice@example");
    assert_eq!(result["structuredContent"]["scopes"], json!(["profile:read"]));
    server.shutdown().await;
}

#[tokio::test]
async fn modern_requests_without_a_token_are_401_and_missing_scope_is_403() {
    let server = start_server(true).await;
    let http = http();
    let expected = format!(
        "Bearer resource_metadata=\"{}/.well-known/oauth-protected-resource/mcp\", scope=\"mcp:tools\"",
        issuer(&server)
    );
    for body in
        [modern_request(1, "server/discover", json!({}), MODERN), modern_request(2, "tools/list", json!({}), MODERN)]
    {
        let reply = modern_post(&http, &server, None, &body).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", body["method"]);
        assert_eq!(reply.headers["www-authenticate"].to_str().unwrap(), expected);
    }
    let reply = modern_call_tool(&http, &server, Some("not.a.jwt"), "get_weather", json!({})).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(reply.headers["www-authenticate"].to_str().unwrap().starts_with("Bearer error=\"invalid_token\""));

    let tokens = obtain_tokens(&http, &server, "mcp:tools").await;
    let t = Some(tokens.access_token.as_str());
    let reply = modern_call_tool(&http, &server, t, "read_file", json!({"path": "README.txt"})).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.raw);
    let challenge = reply.headers["www-authenticate"].to_str().unwrap();
    assert!(challenge.starts_with("Bearer error=\"insufficient_scope\", scope=\"files:read\""), "{challenge}");
    let reply = modern_call_tool(&http, &server, t, "get_user_profile", json!({})).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(reply.headers["www-authenticate"].to_str().unwrap().contains("scope=\"profile:read\""));
    // tools/list needs no scope beyond a valid token.
    let list = modern_request(3, "tools/list", json!({}), MODERN);
    assert_eq!(modern_post(&http, &server, t, &list).await.status, StatusCode::OK);
    server.shutdown().await;
}

#[tokio::test]
async fn unsupported_version_is_32022_with_the_supported_list() {
    let server = start_server(true).await;
    let http = http();
    let tokens = obtain_tokens(&http, &server, "mcp:tools").await;
    let t = Some(tokens.access_token.as_str());
    for method in ["tools/list", "server/discover"] {
        let body = modern_request(4, method, json!({}), "2099-01-01");
        let reply = modern_post(&http, &server, t, &body).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{method}: {}", reply.raw);
        assert_eq!(error_code(&reply), -32022, "{method}");
        let error = reply.message.unwrap()["error"].clone();
        let supported = error["data"]["supported"].as_array().unwrap().clone();
        assert!(supported.contains(&json!(MODERN)), "{error}");
        assert!(supported.contains(&json!("2025-11-25")), "{error}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn header_body_mismatches_are_32020_http_400() {
    let server = start_server(true).await;
    let http = http();
    let tokens = obtain_tokens(&http, &server, "mcp:tools").await;
    let t = Some(tokens.access_token.as_str());
    let call =
        modern_request(5, "tools/call", json!({"name": "get_weather", "arguments": {"location": "Paris"}}), MODERN);
    let with = |name: &str, value: Option<&str>| {
        let mut headers: Vec<(String, String)> =
            modern_headers(&call).into_iter().filter(|(n, _)| !n.eq_ignore_ascii_case(name)).collect();
        if let Some(value) = value {
            headers.push((name.to_owned(), value.to_owned()));
        }
        headers
    };
    for (what, headers) in [
        ("Mcp-Method differs", with("Mcp-Method", Some("tools/list"))),
        ("Mcp-Method missing", with("Mcp-Method", None)),
        ("Mcp-Name differs", with("Mcp-Name", Some("read_file"))),
        ("Mcp-Name missing", with("Mcp-Name", None)),
        ("version header differs from _meta", with("MCP-Protocol-Version", Some("2025-11-25"))),
        ("version header missing", with("MCP-Protocol-Version", None)),
    ] {
        let reply = modern_post_with(&http, &server, t, &call, &headers).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{what}: {}", reply.raw);
        assert_eq!(error_code(&reply), -32020, "{what}");
        assert_eq!(reply.message.unwrap()["id"], 5, "{what}");
    }
    // The matching headers pass (sanity check of the helper).
    let reply = modern_post(&http, &server, t, &call).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.raw);
    server.shutdown().await;
}

#[tokio::test]
async fn missing_meta_fields_are_32602_and_removed_methods_are_404() {
    let server = start_server(true).await;
    let http = http();
    let tokens = obtain_tokens(&http, &server, "mcp:tools").await;
    let t = Some(tokens.access_token.as_str());

    // MCP-Protocol-Version says 2026-07-28 but the body has no _meta.
    let bare = json!({"jsonrpc": "2.0", "id": 8, "method": "tools/list"});
    let headers = vec![
        ("MCP-Protocol-Version".to_owned(), MODERN.to_owned()),
        ("Mcp-Method".to_owned(), "tools/list".to_owned()),
    ];
    let reply = modern_post_with(&http, &server, t, &bare, &headers).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.raw);
    assert_eq!(error_code(&reply), -32602);

    // clientCapabilities is required too.
    let mut no_caps = modern_request(9, "tools/list", json!({}), MODERN);
    if let Some(meta) = no_caps["params"]["_meta"].as_object_mut() {
        meta.remove("io.modelcontextprotocol/clientCapabilities");
    }
    let reply = modern_post(&http, &server, t, &no_caps).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.raw);
    assert_eq!(error_code(&reply), -32602);

    // `ping` does not exist in 2026-07-28: unknown method → 404 + -32601.
    let ping = modern_request(10, "ping", json!({}), MODERN);
    let reply = modern_post(&http, &server, t, &ping).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.raw);
    assert_eq!(error_code(&reply), -32601);
    server.shutdown().await;
}

/// GET/DELETE: 405 (Allow: POST) when the request names 2026-07-28 in
/// `MCP-Protocol-Version`; without it they keep rmcp's 2025-11-25 session
/// behaviour (a session id is required: 400).
#[tokio::test]
async fn get_and_delete_are_405_for_modern_clients() {
    let server = start_server(true).await;
    let http = http();
    let tokens = obtain_tokens(&http, &server, "mcp:tools").await;
    let t = tokens.access_token.as_str();

    let get = http
        .get(server.mcp_url())
        .bearer_auth(t)
        .header("Accept", "text/event-stream")
        .header("MCP-Protocol-Version", MODERN)
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(get.headers()["allow"], "POST");
    let delete =
        http.delete(server.mcp_url()).bearer_auth(t).header("MCP-Protocol-Version", MODERN).send().await.unwrap();
    assert_eq!(delete.status(), StatusCode::METHOD_NOT_ALLOWED);

    // Legacy: GET without a session is a 400, not a 405.
    let get = http.get(server.mcp_url()).bearer_auth(t).header("Accept", "text/event-stream").send().await.unwrap();
    assert_eq!(get.status(), StatusCode::BAD_REQUEST);
    server.shutdown().await;
}

#[tokio::test]
async fn both_generations_share_the_endpoint() {
    let server = start_server(true).await;
    let http = http();
    let tokens = obtain_tokens(&http, &server, "mcp:tools").await;
    let t = tokens.access_token.as_str();

    let session = mcp_initialize(&http, &server, t).await;
    let reply = modern_call_tool(&http, &server, Some(t), "get_weather", json!({"location": "Oslo"})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.raw);
    let modern = reply.message.unwrap()["result"].clone();
    assert_eq!(modern["resultType"], "complete");

    let reply = call_tool(&http, &server, t, &session, "get_weather", json!({"location": "Oslo"})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.raw);
    let legacy = reply.message.unwrap()["result"].clone();
    assert_eq!(legacy["structuredContent"], modern["structuredContent"]);
    // rmcp strips resultType for peers that negotiated a pre-2026 version.
    assert!(legacy.get("resultType").is_none(), "{legacy}");
    server.shutdown().await;
}
