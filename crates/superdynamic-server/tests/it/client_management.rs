//! RFC 7592 client configuration endpoint: read, update and delete a
//! registration with its registration access token.

use crate::common;

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn read_update_delete_with_the_registration_access_token() {
    let server = start_server(true).await;
    let http = http();
    let client = register_public(&http, &server).await;
    let rat = client.body["registration_access_token"].as_str().expect("registration_access_token").to_owned();
    let uri = client.body["registration_client_uri"].as_str().expect("registration_client_uri").to_owned();
    assert_eq!(uri, url(&server, &format!("/register/{}", client.client_id)));

    // Read.
    let resp = http.get(&uri).bearer_auth(&rat).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["client_id"], client.client_id.as_str());
    assert_eq!(body["client_name"], "Test Client");
    assert_eq!(body["registration_access_token"], rat.as_str());

    // Wrong token, no token, unknown client: all 401 invalid_token.
    for req in [
        http.get(&uri).bearer_auth("wrong"),
        http.get(&uri),
        http.get(url(&server, "/register/nope")).bearer_auth(&rat),
        http.delete(&uri).bearer_auth("wrong"),
    ] {
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        assert!(resp.headers()["www-authenticate"].to_str().unwrap().contains("invalid_token"));
    }
    // Another client's token does not manage this one.
    let other = register_public(&http, &server).await;
    let other_rat = other.body["registration_access_token"].as_str().unwrap();
    assert_eq!(http.get(&uri).bearer_auth(other_rat).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);

    // Update: replaces the metadata.
    let update = json!({
        "client_id": client.client_id,
        "client_name": "Renamed",
        "redirect_uris": [REDIRECT, "http://127.0.0.1:9/other"],
        "grant_types": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_method": "none",
    });
    let resp = http.put(&uri).bearer_auth(&rat).json(&update).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["client_name"], "Renamed");
    assert_eq!(body["redirect_uris"].as_array().unwrap().len(), 2);
    let body: Value = http.get(&uri).bearer_auth(&rat).send().await.unwrap().json().await.unwrap();
    assert_eq!(body["client_name"], "Renamed");

    // Update with a mismatched client_id or invalid metadata is refused.
    let mut bad = update.clone();
    bad["client_id"] = json!("someone-else");
    let resp = http.put(&uri).bearer_auth(&rat).json(&bad).send().await.unwrap();
    assert_eq!(oauth_error(resp).await.2, "invalid_client_metadata");
    let mut bad = update.clone();
    bad["redirect_uris"] = json!(["http://evil.example/cb"]);
    let resp = http.put(&uri).bearer_auth(&rat).json(&bad).send().await.unwrap();
    assert_eq!(oauth_error(resp).await.2, "invalid_redirect_uri");

    // Get a refresh token, then delete: the client is unknown, refresh fails.
    let p = pkce("mgmt");
    let code = get_code(&http, &server, &client.client_id, &p, "mcp:tools").await;
    let tokens: Value =
        exchange_code(&http, &server, &client.client_id, &code, &p.verifier).await.json().await.unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let resp = http.delete(&uri).bearer_auth(&rat).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(http.get(&uri).bearer_auth(&rat).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    let resp = token_request(
        &http,
        &server,
        &[("grant_type", "refresh_token"), ("refresh_token", refresh), ("client_id", &client.client_id)],
    )
    .await;
    let (status, _, error, _) = oauth_error(resp).await;
    assert_eq!((status, error.as_str()), (StatusCode::UNAUTHORIZED, "invalid_client"));
    let mcp = server.mcp_url().to_string();
    let resp =
        authorize_raw(&http, &server, &authorize_params(&mcp, &client.client_id, &p.challenge, "mcp:tools")).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "unknown client at /authorize");
    server.shutdown().await;
}

#[tokio::test]
async fn switching_to_a_secret_method_issues_a_secret() {
    let server = start_server(true).await;
    let http = http();
    let client = register_public(&http, &server).await;
    let rat = client.body["registration_access_token"].as_str().unwrap();
    let uri = client.body["registration_client_uri"].as_str().unwrap();
    let resp = http
        .put(uri)
        .bearer_auth(rat)
        .json(&json!({
            "client_id": client.client_id,
            "grant_types": ["client_credentials"],
            "token_endpoint_auth_method": "client_secret_post",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    let secret = body["client_secret"].as_str().expect("a new secret").to_owned();
    let resp = token_request(
        &http,
        &server,
        &[("grant_type", "client_credentials"), ("client_id", &client.client_id), ("client_secret", &secret)],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    server.shutdown().await;
}
