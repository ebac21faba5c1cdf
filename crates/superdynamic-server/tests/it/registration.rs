//! RFC 7591 dynamic client registration.

use crate::common;

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn public_client_gets_no_secret_and_metadata_is_echoed() {
    let server = start_server(true).await;
    let http = http();
    let resp = http
        .post(url(&server, "/register"))
        .json(&json!({
            "client_name": "Public App",
            "redirect_uris": ["http://127.0.0.1/cb", "http://localhost:3000/callback", "https://app.example.com/cb"],
            "grant_types": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_method": "none",
            "application_type": "native",
            "some_unknown_field": 1
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let body: Value = resp.json().await.unwrap();
    assert!(body["client_id"].as_str().is_some_and(|id| id.len() >= 32));
    assert!(body.get("client_secret").is_none());
    assert!(body["client_id_issued_at"].as_i64().is_some());
    assert_eq!(body["client_name"], "Public App");
    assert_eq!(body["token_endpoint_auth_method"], "none");
    assert_eq!(body["grant_types"], json!(["authorization_code", "refresh_token"]));
    assert_eq!(body["response_types"], json!(["code"]));
    assert_eq!(body["redirect_uris"][2], "https://app.example.com/cb");
    assert!(body.get("some_unknown_field").is_none());
    server.shutdown().await;
}

#[tokio::test]
async fn confidential_client_defaults_to_client_secret_basic() {
    let server = start_server(true).await;
    let http = http();
    let reg = register(&http, &server, json!({"redirect_uris": ["https://app.example.com/cb"]})).await;
    assert_eq!(reg.body["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(reg.body["grant_types"], json!(["authorization_code"]));
    assert!(reg.client_secret.as_deref().is_some_and(|s| s.len() >= 32));
    assert_eq!(reg.body["client_secret_expires_at"], 0);

    let post = register(
        &http,
        &server,
        json!({"redirect_uris": ["https://app.example.com/cb"], "token_endpoint_auth_method": "client_secret_post"}),
    )
    .await;
    assert!(post.client_secret.is_some());
    assert_ne!(post.client_id, reg.client_id);
    server.shutdown().await;
}

async fn rejected(body: reqwest::Body, content_type: &str) -> (StatusCode, Value) {
    let server = start_server(true).await;
    let http = http();
    let resp =
        http.post(url(&server, "/register")).header("content-type", content_type).body(body).send().await.unwrap();
    let status = resp.status();
    let body = resp.json().await.unwrap();
    server.shutdown().await;
    (status, body)
}

async fn rejected_json(metadata: Value) -> (StatusCode, Value) {
    rejected(metadata.to_string().into(), "application/json").await
}

#[tokio::test]
async fn http_redirect_uri_on_a_non_loopback_host_is_rejected() {
    let (status, body) = rejected_json(json!({"redirect_uris": ["http://example.com/cb"]})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_redirect_uri");
    assert!(body["error_description"].as_str().unwrap().contains("http://example.com/cb"));
}

#[tokio::test]
async fn other_redirect_uri_problems_are_rejected() {
    for uris in [
        json!([]),
        json!(["https://app.example.com/cb#frag"]),
        json!(["not a url"]),
        json!(["https://ok.example.com/cb", "http://evil.example.com/cb"]),
    ] {
        let (status, body) = rejected_json(json!({"redirect_uris": uris})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uris}");
        assert_eq!(body["error"], "invalid_redirect_uri", "{uris}");
    }
    let (status, body) = rejected_json(json!({"client_name": "x"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_redirect_uri");
}

#[tokio::test]
async fn unknown_grant_type_is_invalid_client_metadata() {
    let (status, body) = rejected_json(json!({
        "redirect_uris": ["https://app.example.com/cb"],
        "grant_types": ["authorization_code", "password"]
    }))
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_client_metadata");
    assert!(body["error_description"].as_str().unwrap().contains("password"));
}

#[tokio::test]
async fn other_metadata_problems_are_invalid_client_metadata() {
    for metadata in [
        json!({"redirect_uris": ["https://a.example/cb"], "response_types": ["token"]}),
        json!({"redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "private_key_jwt"}),
        json!({"redirect_uris": ["https://a.example/cb"], "grant_types": ["refresh_token"]}),
        json!({"redirect_uris": ["https://a.example/cb"], "scope": "mcp:tools admin"}),
        json!({"redirect_uris": "https://a.example/cb"}),
    ] {
        let (status, body) = rejected_json(metadata.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{metadata}");
        assert_eq!(body["error"], "invalid_client_metadata", "{metadata}");
    }
}

#[tokio::test]
async fn bad_json_and_wrong_content_type_are_rejected_in_protocol_format() {
    let (status, body) = rejected("{not json".into(), "application/json").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_client_metadata");
    assert!(body["error_description"].is_string());

    let (status, body) = rejected("redirect_uris=x".into(), "application/x-www-form-urlencoded").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_client_metadata");
}
