//! Interoperability with an independent MCP implementation: the official Rust
//! SDK's *client* (rmcp, Streamable HTTP over reqwest) against the reference
//! server, with a bearer token obtained from the server's own OAuth endpoints
//! (register → authorize with auto-approve → token) over raw HTTP.
//! Both generations: the 2025-11-25 initialize/session lifecycle and the
//! 2026-07-28 `server/discover` lifecycle.

use crate::common;

use common::*;
use rmcp::model::{CallToolRequestParams, ClientConfig, ProtocolVersion};
use rmcp::service::RunningService;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{ClientLifecycleMode, ClientServiceExt, RoleClient, ServiceExt};
use serde_json::{Value, json};
use superdynamic_server::RunningServer;

/// rmcp's transport over its default reqwest client. reqwest is built with
/// `rustls-no-provider` here, so the ring provider is installed first.
fn transport(server: &RunningServer, token: Option<&str>) -> StreamableHttpClientTransport<reqwest::Client> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut config = StreamableHttpClientTransportConfig::with_uri(server.mcp_url().to_string());
    if let Some(token) = token {
        config = config.auth_header(token);
    }
    StreamableHttpClientTransport::from_config(config)
}

fn arguments(value: Value) -> serde_json::Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    }
}

/// Lists the tools and calls get_weather (allowed) and read_file (scope
/// missing: the 403 must surface as an error, not a hang or a success).
async fn exercise(client: &RunningService<RoleClient, ClientConfig>) {
    let mut names: Vec<String> =
        client.list_all_tools().await.expect("tools/list").into_iter().map(|t| t.name.to_string()).collect();
    names.sort_unstable();
    assert_eq!(names, ["get_user_profile", "get_weather", "list_files", "read_file"]);

    let result = client
        .call_tool(CallToolRequestParams::new("get_weather").with_arguments(arguments(json!({"location": "Paris"}))))
        .await
        .expect("tools/call get_weather");
    assert_ne!(result.is_error, Some(true));
    let data = result.structured_content.expect("structuredContent");
    assert_eq!(data["location"], "Paris");
    assert_eq!(data["units"], "celsius");

    let denied = client
        .call_tool(CallToolRequestParams::new("read_file").with_arguments(arguments(json!({"path": "README.txt"}))))
        .await;
    let error = denied.expect_err("read_file without files:read must fail");
    let text = format!("{error:?}");
    assert!(text.contains("files:read"), "{text}");
}

#[tokio::test]
async fn rmcp_client_legacy_initialize_lifecycle() {
    let server = start_server(true).await;
    let http = http();
    let tokens = obtain_tokens(&http, &server, "mcp:tools").await;

    let client = ClientConfig::default()
        .serve(transport(&server, Some(&tokens.access_token)))
        .await
        .expect("initialize with the rmcp client");
    let info = client.peer_info().expect("server info after initialize");
    assert!(info.protocol_version.has_initialize(), "{info:?}");
    assert_eq!(info.server_info.as_ref().map(|i| i.name.as_str()), Some("superdynamic-server"));
    exercise(&client).await;
    client.cancel().await.expect("close the session");
    server.shutdown().await;
}

#[tokio::test]
async fn rmcp_client_modern_discover_lifecycle() {
    let server = start_server(true).await;
    let http = http();
    let tokens = obtain_tokens(&http, &server, "mcp:tools").await;

    let client = ClientConfig::default()
        .serve_with_lifecycle(
            transport(&server, Some(&tokens.access_token)),
            ClientLifecycleMode::Discover { preferred_versions: vec![ProtocolVersion::V_2026_07_28] },
        )
        .await
        .expect("server/discover with the rmcp client");
    let info = client.peer_info().expect("server info after discover");
    assert_eq!(info.protocol_version, ProtocolVersion::V_2026_07_28);
    exercise(&client).await;
    client.cancel().await.expect("stop the client");
    server.shutdown().await;
}

#[tokio::test]
async fn rmcp_client_auto_lifecycle_picks_the_modern_generation() {
    let server = start_server(true).await;
    let http = http();
    let tokens = obtain_tokens(&http, &server, "mcp:tools").await;

    let client = ClientConfig::default()
        .serve_with_lifecycle(
            transport(&server, Some(&tokens.access_token)),
            ClientLifecycleMode::Auto {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
                legacy_version: Some(ProtocolVersion::V_2025_11_25),
            },
        )
        .await
        .expect("auto lifecycle with the rmcp client");
    let info = client.peer_info().expect("server info");
    assert_eq!(info.protocol_version, ProtocolVersion::V_2026_07_28);
    client.cancel().await.expect("stop the client");
    server.shutdown().await;
}

#[tokio::test]
async fn rmcp_client_without_a_token_gets_an_auth_error() {
    let server = start_server(true).await;
    let error = ClientConfig::default()
        .serve(transport(&server, None))
        .await
        .expect_err("initialize without a token must fail");
    assert!(error.is_authorization_required() || error.auth_challenge().is_some(), "{error:?}");
    server.shutdown().await;
}
