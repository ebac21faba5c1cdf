//! `POST /introspect` (RFC 7662): active tokens with their claims; revoked,
//! expired, rotated, foreign and garbage tokens are just `active: false`.

use crate::common;

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use superdynamic_server::{ServerConfig, start};

async fn introspect(
    http: &reqwest::Client,
    server: &superdynamic_server::RunningServer,
    client_id: &str,
    token: &str,
    hint: Option<&str>,
) -> reqwest::Response {
    let mut form = vec![("client_id", client_id), ("token", token)];
    if let Some(h) = hint {
        form.push(("token_type_hint", h));
    }
    http.post(url(server, "/introspect")).form(&form).send().await.unwrap()
}

async fn active(resp: reqwest::Response) -> Value {
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    resp.json().await.unwrap()
}

#[tokio::test]
async fn access_and_refresh_tokens_are_introspected() {
    let server = start_server(true).await;
    let http = http();
    let client = register_public(&http, &server).await;
    let p = pkce("intro");
    let code = get_code(&http, &server, &client.client_id, &p, "mcp:tools files:read").await;
    let tokens: Value =
        exchange_code(&http, &server, &client.client_id, &code, &p.verifier).await.json().await.unwrap();
    let access = tokens["access_token"].as_str().unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();

    let a = active(introspect(&http, &server, &client.client_id, access, None).await).await;
    assert_eq!(a["active"], true);
    assert_eq!(a["scope"], "mcp:tools files:read");
    assert_eq!(a["client_id"], client.client_id.as_str());
    assert_eq!(a["sub"], "demo-user");
    assert_eq!(a["aud"], server.mcp_url().as_str());
    assert_eq!(a["iss"], issuer(&server));
    assert_eq!(a["token_type"], "Bearer");
    assert!(a["exp"].as_i64().unwrap() > a["iat"].as_i64().unwrap());

    let r = active(introspect(&http, &server, &client.client_id, refresh, Some("refresh_token")).await).await;
    assert_eq!(r["active"], true);
    assert_eq!(r["sub"], "demo-user");

    // Another client sees nothing (foreign tokens are inactive).
    let other = register_public(&http, &server).await;
    let f = active(introspect(&http, &server, &other.client_id, access, None).await).await;
    assert_eq!(f, json!({"active": false}));
    let f = active(introspect(&http, &server, &other.client_id, refresh, None).await).await;
    assert_eq!(f, json!({"active": false}));

    // Garbage.
    let g = active(introspect(&http, &server, &client.client_id, "not-a-token", None).await).await;
    assert_eq!(g, json!({"active": false}));

    // A rotated refresh token is inactive; revoked access tokens too.
    let resp = token_request(
        &http,
        &server,
        &[("grant_type", "refresh_token"), ("refresh_token", refresh), ("client_id", &client.client_id)],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let r = active(introspect(&http, &server, &client.client_id, refresh, None).await).await;
    assert_eq!(r, json!({"active": false}));
    let resp = http
        .post(url(&server, "/revoke"))
        .form(&[("client_id", client.client_id.as_str()), ("token", access)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let a = active(introspect(&http, &server, &client.client_id, access, None).await).await;
    assert_eq!(a, json!({"active": false}));

    // Client authentication is required.
    let resp = http.post(url(&server, "/introspect")).form(&[("token", access)]).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let resp = http
        .post(url(&server, "/introspect"))
        .form(&[("client_id", "unknown"), ("token", access)])
        .send()
        .await
        .unwrap();
    assert_eq!(oauth_error(resp).await.2, "invalid_client");
    server.shutdown().await;
}

#[tokio::test]
async fn expired_access_tokens_are_inactive() {
    let config = ServerConfig { access_token_ttl: std::time::Duration::from_secs(1), ..test_config(true) };
    let server = start(config).await.unwrap();
    let http = http();
    let c = register(
        &http,
        &server,
        json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "client_secret_post"}),
    )
    .await;
    let secret = c.client_secret.clone().unwrap();
    let body: Value = token_request(
        &http,
        &server,
        &[("grant_type", "client_credentials"), ("client_id", &c.client_id), ("client_secret", &secret)],
    )
    .await
    .json()
    .await
    .unwrap();
    let access = body["access_token"].as_str().unwrap();
    let form = [("client_id", c.client_id.as_str()), ("client_secret", secret.as_str()), ("token", access)];
    let a: Value = http.post(url(&server, "/introspect")).form(&form).send().await.unwrap().json().await.unwrap();
    assert_eq!(a["active"], true);
    assert_eq!(a["sub"], c.client_id.as_str(), "client credentials: sub is the client");
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let a: Value = http.post(url(&server, "/introspect")).form(&form).send().await.unwrap().json().await.unwrap();
    assert_eq!(a, json!({"active": false}));
    server.shutdown().await;
}
