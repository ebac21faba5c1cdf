//! A file database keeps clients, refresh tokens and the signing key across
//! a restart.

use crate::common;

use common::*;
use reqwest::StatusCode;
use serde_json::Value;
use superdynamic_server::{Database, ServerConfig, start};

#[tokio::test]
async fn client_refresh_token_and_key_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = ServerConfig { database: Database::File(dir.path().join("server.db")), ..test_config(true) };
    let http = http();

    let server = start(config.clone()).await.unwrap();
    let client = register_public(&http, &server).await;
    let p = pkce("persist");
    let code = get_code(&http, &server, &client.client_id, &p, "mcp:tools").await;
    let tokens: Value =
        exchange_code(&http, &server, &client.client_id, &code, &p.verifier).await.json().await.unwrap();
    let jwks_before: Value = http.get(url(&server, "/jwks.json")).send().await.unwrap().json().await.unwrap();
    let port = server.local_addr().port();
    server.shutdown().await;

    // Same port so the issuer (and token audience) stay the same.
    let server = start(ServerConfig { bind: format!("127.0.0.1:{port}").parse().unwrap(), ..config }).await.unwrap();
    let jwks_after: Value = http.get(url(&server, "/jwks.json")).send().await.unwrap().json().await.unwrap();
    assert_eq!(jwks_before, jwks_after, "signing key reloaded, not regenerated");

    // The old access token still verifies.
    let access = tokens["access_token"].as_str().unwrap();
    mcp_initialize(&http, &server, access).await;

    // The refresh token still works.
    let resp = token_request(
        &http,
        &server,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ("client_id", &client.client_id),
        ],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);

    // The client can run a new authorization.
    let code = get_code(&http, &server, &client.client_id, &p, "mcp:tools").await;
    let resp = exchange_code(&http, &server, &client.client_id, &code, &p.verifier).await;
    assert_eq!(resp.status(), StatusCode::OK);
    server.shutdown().await;
}
