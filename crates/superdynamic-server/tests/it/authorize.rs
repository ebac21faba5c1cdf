//! The authorization endpoint: which errors become pages and which become
//! redirects, loopback ports, PKCE and `resource` rules, and RFC 9207 `iss`.

use crate::common;

use common::*;
use reqwest::StatusCode;

fn with<'a>(mut params: Vec<(&'a str, &'a str)>, name: &'a str, value: Option<&'a str>) -> Vec<(&'a str, &'a str)> {
    params.retain(|(k, _)| *k != name);
    if let Some(v) = value {
        params.push((name, v));
    }
    params
}

#[tokio::test]
async fn success_redirect_carries_code_state_and_iss() {
    let server = start_server(true).await;
    let http = http();
    let client = register_public(&http, &server).await;
    let p = pkce("a");
    let mcp = server.mcp_url().to_string();
    let resp =
        authorize_raw(&http, &server, &authorize_params(&mcp, &client.client_id, &p.challenge, "mcp:tools")).await;
    assert_eq!(resp.status(), StatusCode::FOUND);
    let (location, params) = location_params(resp.headers());
    assert_eq!(format!("{}://{}{}", location.scheme(), location.authority(), location.path()), REDIRECT);
    assert!(params["code"].len() >= 32);
    assert_eq!(params["state"], "xyz-state");
    assert_eq!(params["iss"], issuer(&server));
    server.shutdown().await;
}

#[tokio::test]
async fn redirect_uri_mismatch_shows_an_error_page_and_never_redirects() {
    let server = start_server(true).await;
    let http = http();
    let client = register_public(&http, &server).await;
    let p = pkce("b");
    let mcp = server.mcp_url().to_string();
    let base = authorize_params(&mcp, &client.client_id, &p.challenge, "mcp:tools");
    for bad in [
        "http://127.0.0.1:7777/other",
        "https://evil.example.com/callback",
        "http://127.0.0.1:7777/callback?x=1",
        "http://[::1]:7777/callback",
    ] {
        let resp = authorize_raw(&http, &server, &with(base.clone(), "redirect_uri", Some(bad))).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{bad}");
        assert!(resp.headers().get("location").is_none(), "{bad}");
        assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
        let page = resp.text().await.unwrap();
        assert!(page.contains("redirect_uri"), "{page}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn unknown_or_missing_client_is_an_error_page() {
    let server = start_server(true).await;
    let http = http();
    let p = pkce("c");
    let mcp = server.mcp_url().to_string();
    let base = authorize_params(&mcp, "no-such-client", &p.challenge, "mcp:tools");
    let resp = authorize_raw(&http, &server, &base).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.headers().get("location").is_none());
    let resp = authorize_raw(&http, &server, &with(base, "client_id", None)).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.headers().get("location").is_none());
    server.shutdown().await;
}

#[tokio::test]
async fn loopback_redirect_accepts_any_port_and_the_code_is_bound_to_it() {
    let server = start_server(true).await;
    let http = http();
    // Registered without a port, as RFC 8252 §7.3 native apps do.
    let client = register(
        &http,
        &server,
        serde_json::json!({
            "redirect_uris": ["http://127.0.0.1/callback"],
            "token_endpoint_auth_method": "none"
        }),
    )
    .await;
    let p = pkce("d");
    let mcp = server.mcp_url().to_string();
    let base = authorize_params(&mcp, &client.client_id, &p.challenge, "mcp:tools");
    let redirect = "http://127.0.0.1:53127/callback";
    let resp = authorize_raw(&http, &server, &with(base, "redirect_uri", Some(redirect))).await;
    assert_eq!(resp.status(), StatusCode::FOUND);
    let (location, params) = location_params(resp.headers());
    assert_eq!(location.port(), Some(53127));
    let code = params["code"].clone();

    // The token request must repeat exactly that redirect URI.
    let resp = token_request(
        &http,
        &server,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", redirect),
            ("code_verifier", &p.verifier),
            ("client_id", &client.client_id),
        ],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    server.shutdown().await;
}

/// Asserts an error redirect with `error`, `state` and `iss` (RFC 9207).
async fn expect_error_redirect(server: &superdynamic_server::RunningServer, params: &[(&str, &str)], error: &str) {
    let resp = authorize_raw(&http(), server, params).await;
    assert_eq!(resp.status(), StatusCode::FOUND, "{params:?}");
    let (location, q) = location_params(resp.headers());
    assert!(location.as_str().starts_with(REDIRECT));
    assert_eq!(q.get("error").map(String::as_str), Some(error), "{params:?}");
    assert!(q.contains_key("error_description"));
    assert_eq!(q.get("state").map(String::as_str), Some("xyz-state"));
    assert_eq!(q.get("iss"), Some(&issuer(server)));
    assert!(!q.contains_key("code"));
}

#[tokio::test]
async fn request_errors_redirect_with_error_state_and_iss() {
    let server = start_server(true).await;
    let http = http();
    let client = register_public(&http, &server).await;
    let p = pkce("e");
    let mcp = server.mcp_url().to_string();
    let base = authorize_params(&mcp, &client.client_id, &p.challenge, "mcp:tools");

    expect_error_redirect(&server, &with(base.clone(), "scope", Some("mcp:tools admin")), "invalid_scope").await;
    expect_error_redirect(
        &server,
        &with(base.clone(), "resource", Some("https://other.example.com/mcp")),
        "invalid_target",
    )
    .await;
    expect_error_redirect(&server, &with(base.clone(), "code_challenge_method", Some("plain")), "invalid_request")
        .await;
    expect_error_redirect(&server, &with(base.clone(), "code_challenge_method", None), "invalid_request").await;
    expect_error_redirect(&server, &with(base.clone(), "code_challenge", None), "invalid_request").await;
    expect_error_redirect(&server, &with(base.clone(), "code_challenge", Some("short")), "invalid_request").await;
    expect_error_redirect(&server, &with(base.clone(), "response_type", Some("token")), "unsupported_response_type")
        .await;
    let mut repeated = base.clone();
    repeated.push(("scope", "files:read"));
    expect_error_redirect(&server, &repeated, "invalid_request").await;
    server.shutdown().await;
}

#[tokio::test]
async fn scope_defaults_to_mcp_tools_and_resource_is_optional() {
    let server = start_server(true).await;
    let http = http();
    let client = register_public(&http, &server).await;
    let p = pkce("f");
    let mcp = server.mcp_url().to_string();
    let base = authorize_params(&mcp, &client.client_id, &p.challenge, "x");
    let params = with(with(base, "scope", None), "resource", None);
    let resp = authorize_raw(&http, &server, &params).await;
    let (_, q) = location_params(resp.headers());
    let resp = exchange_code(&http, &server, &client.client_id, &q["code"], &p.verifier).await;
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["scope"], "mcp:tools");
    server.shutdown().await;
}
