//! The MCP resource server: bearer checks (401/403/400), the Streamable HTTP
//! session, and the four tools.

use crate::common;

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use superdynamic_server::{Database, ServerConfig, start};

fn initialize_body() -> Value {
    json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "it", "version": "0"}}
    })
}

#[tokio::test]
async fn full_flow_initialize_list_and_call_get_weather() {
    let server = start_server(true).await;
    let http = http();
    let tokens = obtain_tokens(&http, &server, "mcp:tools").await;
    let session = mcp_initialize(&http, &server, &tokens.access_token).await;

    let list = mcp_post(
        &http,
        &server,
        Some(&tokens.access_token),
        Some(&session),
        &json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
    )
    .await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.raw);
    let tools = list.message.unwrap()["result"]["tools"].clone();
    let mut names: Vec<&str> = tools.as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    names.sort_unstable();
    assert_eq!(names, ["get_user_profile", "get_weather", "list_files", "read_file"]);

    let reply =
        call_tool(&http, &server, &tokens.access_token, &session, "get_weather", json!({"location": "Paris"})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.raw);
    let result = reply.message.unwrap()["result"].clone();
    assert_ne!(result["isError"], true);
    assert!(result["content"][0]["text"].as_str().unwrap().contains("Paris"));
    let celsius = result["structuredContent"]["temperature"].as_f64().unwrap();
    assert_eq!(result["structuredContent"]["units"], "celsius");

    // Deterministic, and units are honoured.
    let reply = call_tool(
        &http,
        &server,
        &tokens.access_token,
        &session,
        "get_weather",
        json!({"location": "Paris", "units": "fahrenheit"}),
    )
    .await;
    let f = reply.message.unwrap()["result"]["structuredContent"]["temperature"].as_f64().unwrap();
    assert!((f - (celsius * 9.0 / 5.0 + 32.0)).abs() < 0.11);
    server.shutdown().await;
}

#[tokio::test]
async fn no_token_is_401_with_the_exact_challenge() {
    let server = start_server(true).await;
    let http = http();
    let reply = mcp_post(&http, &server, None, None, &initialize_body()).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    let expected = format!(
        "Bearer resource_metadata=\"{}/.well-known/oauth-protected-resource/mcp\", scope=\"mcp:tools\"",
        issuer(&server)
    );
    assert_eq!(reply.headers["www-authenticate"].to_str().unwrap(), expected);

    // Another scheme counts as "no bearer token" too.
    let resp = http
        .post(server.mcp_url())
        .header("Accept", ACCEPT_MCP)
        .basic_auth("user", Some("pw"))
        .json(&initialize_body())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(resp.headers()["www-authenticate"].to_str().unwrap(), expected);

    // GET and DELETE are protected as well.
    let resp = http.get(server.mcp_url()).header("Accept", "text/event-stream").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    server.shutdown().await;
}

#[tokio::test]
async fn garbage_token_is_401_invalid_token_and_malformed_header_is_400() {
    let server = start_server(true).await;
    let http = http();
    let reply = mcp_post(&http, &server, Some("not.a.jwt"), None, &initialize_body()).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    let challenge = reply.headers["www-authenticate"].to_str().unwrap().to_owned();
    assert!(challenge.starts_with("Bearer error=\"invalid_token\""), "{challenge}");
    assert!(challenge.contains("resource_metadata=\""));

    for header in ["Bearer", "Bearer two tokens", "Bearer ä"] {
        let resp = http
            .post(server.mcp_url())
            .header("Accept", ACCEPT_MCP)
            .header("Authorization", header)
            .json(&initialize_body())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{header}");
        let challenge = resp.headers()["www-authenticate"].to_str().unwrap().to_owned();
        assert!(challenge.contains("error=\"invalid_request\""), "{challenge}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"], "invalid_request");
    }

    // Tokens in the query string are refused (RFC 6750 §2.3 not supported).
    let resp = http
        .post(format!("{}?access_token=abc", server.mcp_url()))
        .header("Accept", ACCEPT_MCP)
        .json(&initialize_body())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    server.shutdown().await;
}

#[tokio::test]
async fn missing_tool_scope_is_403_insufficient_scope() {
    let server = start_server(true).await;
    let http = http();
    let tokens = obtain_tokens(&http, &server, "mcp:tools").await;
    let session = mcp_initialize(&http, &server, &tokens.access_token).await;

    let reply =
        call_tool(&http, &server, &tokens.access_token, &session, "read_file", json!({"path": "README.txt"})).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    let challenge = reply.headers["www-authenticate"].to_str().unwrap();
    let expected_start = format!(
        "Bearer error=\"insufficient_scope\", scope=\"files:read\", resource_metadata=\"{}/.well-known/oauth-protected-resource/mcp\", error_description=\"",
        issuer(&server)
    );
    assert!(challenge.starts_with(&expected_start), "{challenge}");

    let reply = call_tool(&http, &server, &tokens.access_token, &session, "get_user_profile", json!({})).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(reply.headers["www-authenticate"].to_str().unwrap().contains("scope=\"profile:read\""));
    server.shutdown().await;
}

#[tokio::test]
async fn get_user_profile_returns_the_token_subject() {
    let server = start(ServerConfig { demo_user: "alice@example".into(), ..test_config(true) }).await.unwrap();
    let http = http();
    let tokens = obtain_tokens(&http, &server, "profile:read").await;
    let session = mcp_initialize(&http, &server, &tokens.access_token).await;
    let reply = call_tool(&http, &server, &tokens.access_token, &session, "get_user_profile", json!({})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.raw);
    let result = reply.message.unwrap()["result"].clone();
    assert_eq!(result["structuredContent"]["sub"], "alice@example");
    assert_eq!(result["structuredContent"]["scopes"], json!(["profile:read"]));
    assert!(result["structuredContent"]["client_id"].as_str().is_some_and(|c| !c.is_empty()));
    assert!(result["content"][0]["text"].as_str().unwrap().contains("alice@example"));
    server.shutdown().await;
}

#[tokio::test]
async fn file_tools_list_read_and_refuse_traversal() {
    let server = start_server(true).await;
    let http = http();
    let tokens = obtain_tokens(&http, &server, "files:read").await;
    let t = tokens.access_token.as_str();
    let session = mcp_initialize(&http, &server, t).await;

    let reply = call_tool(&http, &server, t, &session, "list_files", json!({})).await;
    let result = reply.message.unwrap()["result"].clone();
    assert_ne!(result["isError"], true, "{result}");
    let names: Vec<&str> = result["structuredContent"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"README.txt") && names.contains(&"notes"), "{names:?}");

    let reply = call_tool(&http, &server, t, &session, "read_file", json!({"path": "notes/mcp.txt"})).await;
    let result = reply.message.unwrap()["result"].clone();
    assert_ne!(result["isError"], true);
    assert!(result["content"][0]["text"].as_str().unwrap().contains("RFC 9728"));

    for (path, why) in [("../../etc/passwd", ".."), ("notes/../../secret", ".."), ("/etc/passwd", "absolute")] {
        let reply = call_tool(&http, &server, t, &session, "read_file", json!({"path": path})).await;
        assert_eq!(reply.status, StatusCode::OK);
        let result = reply.message.unwrap()["result"].clone();
        assert_eq!(result["isError"], true, "{path}");
        let text = result["content"][0]["text"].as_str().unwrap();
        assert!(text.contains("refused") && text.contains(why), "{text}");
    }
    let reply = call_tool(&http, &server, t, &session, "list_files", json!({"path": ".."})).await;
    assert_eq!(reply.message.unwrap()["result"]["isError"], true);
    server.shutdown().await;
}

#[cfg(unix)]
#[tokio::test]
async fn files_dir_symlink_escape_is_refused() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.txt"), "top secret").unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hello.txt"), "hello").unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret.txt"), dir.path().join("escape.txt")).unwrap();
    let server = start(ServerConfig { files_dir: Some(dir.path().to_path_buf()), ..test_config(true) }).await.unwrap();
    let http = http();
    let tokens = obtain_tokens(&http, &server, "files:read").await;
    let t = tokens.access_token.as_str();
    let session = mcp_initialize(&http, &server, t).await;
    let reply = call_tool(&http, &server, t, &session, "read_file", json!({"path": "hello.txt"})).await;
    assert_eq!(reply.message.unwrap()["result"]["content"][0]["text"], "hello");
    let reply = call_tool(&http, &server, t, &session, "read_file", json!({"path": "escape.txt"})).await;
    let result = reply.message.unwrap()["result"].clone();
    assert_eq!(result["isError"], true);
    assert!(!result.to_string().contains("top secret"));
    assert!(result["content"][0]["text"].as_str().unwrap().contains("outside"));
    server.shutdown().await;
}

#[tokio::test]
async fn wrong_audience_expired_and_wrong_issuer_tokens_are_invalid_token() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("server.db");
    let server = start(ServerConfig { database: Database::File(db.clone()), ..test_config(true) }).await.unwrap();
    let http = http();
    let jwks: Value = http.get(url(&server, "/jwks.json")).send().await.unwrap().json().await.unwrap();
    let kid = jwks["keys"][0]["kid"].as_str().unwrap().to_owned();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let claims = |iss: &str, aud: &str, exp: i64| {
        json!({"iss": iss, "sub": "demo-user", "aud": aud, "exp": exp, "iat": now - 100,
               "jti": "j1", "client_id": "c", "scope": "mcp:tools"})
    };
    let iss = issuer(&server);
    let mcp = server.mcp_url().to_string();

    // Sanity: a correct self-minted token is accepted.
    let good = mint_with_server_key(&db, &kid, &claims(&iss, &mcp, now + 300));
    let reply = mcp_post(&http, &server, Some(&good), None, &initialize_body()).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.raw);

    // The session is bound to its user: another subject's valid token cannot use it.
    let session = mcp_initialize(&http, &server, &good).await;
    let mut other = claims(&iss, &mcp, now + 300);
    other["sub"] = json!("mallory");
    let other = mint_with_server_key(&db, &kid, &other);
    let list = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/list"});
    let reply = mcp_post(&http, &server, Some(&other), Some(&session), &list).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    let reply = mcp_post(&http, &server, Some(&good), Some(&session), &list).await;
    assert_eq!(reply.status, StatusCode::OK);

    for (what, token) in [
        ("wrong audience", mint_with_server_key(&db, &kid, &claims(&iss, "https://other.example.com/mcp", now + 300))),
        ("expired", mint_with_server_key(&db, &kid, &claims(&iss, &mcp, now - 30))),
        ("wrong issuer", mint_with_server_key(&db, &kid, &claims("https://evil.example.com", &mcp, now + 300))),
        ("unknown kid", mint_with_server_key(&db, "other-kid", &claims(&iss, &mcp, now + 300))),
    ] {
        let reply = mcp_post(&http, &server, Some(&token), None, &initialize_body()).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{what}");
        let challenge = reply.headers["www-authenticate"].to_str().unwrap();
        assert!(challenge.starts_with("Bearer error=\"invalid_token\""), "{what}: {challenge}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn bad_bodies_and_foreign_origins_are_refused_without_panicking() {
    let server = start_server(true).await;
    let http = http();
    let tokens = obtain_tokens(&http, &server, "mcp:tools").await;
    let t = tokens.access_token.as_str();

    let resp = http
        .post(server.mcp_url())
        .bearer_auth(t)
        .header("Accept", ACCEPT_MCP)
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_client_error(), "{}", resp.status());

    let resp = http
        .post(server.mcp_url())
        .bearer_auth(t)
        .header("Accept", ACCEPT_MCP)
        .header("Content-Type", "application/json")
        .body(vec![b' '; 2 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);

    let resp = http
        .post(server.mcp_url())
        .bearer_auth(t)
        .header("Accept", ACCEPT_MCP)
        .header("Origin", "https://evil.example.com")
        .json(&initialize_body())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);

    // The server still works afterwards.
    mcp_initialize(&http, &server, t).await;
    server.shutdown().await;
}
