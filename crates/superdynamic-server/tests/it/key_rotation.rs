//! Signing key rotation (`signing_key_max_age`): an old key keeps verifying
//! (and stays in /jwks.json) until the tokens it signed have expired.

use crate::common;

use std::time::Duration;

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use superdynamic_server::{Database, RunningServer, ServerConfig, start};

async fn cc_token(http: &reqwest::Client, server: &RunningServer, id: &str, secret: &str) -> String {
    let resp = token_request(
        http,
        server,
        &[("grant_type", "client_credentials"), ("client_id", id), ("client_secret", secret)],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

async fn kids(http: &reqwest::Client, server: &RunningServer) -> Vec<String> {
    let jwks: Value = http.get(url(server, "/jwks.json")).send().await.unwrap().json().await.unwrap();
    jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_owned()).collect()
}

fn kid_of(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
}

#[tokio::test]
async fn old_keys_verify_until_their_tokens_expired_then_drop() {
    let dir = tempfile::tempdir().unwrap();
    let http = http();
    let base = ServerConfig {
        database: Database::File(dir.path().join("keys.db")),
        signing_key_max_age: Duration::from_secs(1),
        access_token_ttl: Duration::from_secs(60),
        ..test_config(true)
    };
    let server = start(base.clone()).await.unwrap();
    let port = server.local_addr().port();
    let base = ServerConfig { bind: format!("127.0.0.1:{port}").parse().unwrap(), ..base };
    let c = register(
        &http,
        &server,
        json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "client_secret_post"}),
    )
    .await;
    let secret = c.client_secret.clone().unwrap();
    let old_token = cc_token(&http, &server, &c.client_id, &secret).await;
    let first = kids(&http, &server).await;
    assert_eq!(first.len(), 1);
    assert_eq!(kid_of(&old_token), first[0]);
    server.shutdown().await;

    // Older than max_age at the next start: a new key signs, the old one
    // is still published and still verifies.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let server = start(base.clone()).await.unwrap();
    let second = kids(&http, &server).await;
    assert_eq!(second.len(), 2, "{second:?}");
    assert_ne!(second[0], first[0]);
    assert_eq!(second[1], first[0]);
    let new_token = cc_token(&http, &server, &c.client_id, &secret).await;
    assert_eq!(kid_of(&new_token), second[0]);
    mcp_initialize(&http, &server, &old_token).await;
    mcp_initialize(&http, &server, &new_token).await;
    server.shutdown().await;

    // Once the longest access-token lifetime (now 1 s) has passed since the
    // old key retired, it is dropped and its tokens no longer verify.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let config = ServerConfig {
        signing_key_max_age: Duration::from_secs(3600),
        access_token_ttl: Duration::from_secs(1),
        ..base
    };
    let server = start(config).await.unwrap();
    assert_eq!(kids(&http, &server).await, vec![second[0].clone()]);
    let reply =
        mcp_post(&http, &server, Some(&old_token), None, &json!({"jsonrpc": "2.0", "id": 1, "method": "ping"})).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    mcp_initialize(&http, &server, &new_token).await;
    server.shutdown().await;
}
