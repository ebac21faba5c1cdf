//! The token endpoint: code exchange, PKCE, replay, refresh rotation and
//! reuse detection, client authentication methods, error format.

use crate::common;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn code_exchange_returns_bearer_tokens_without_caching() {
    let server = start_server(true).await;
    let http = http();
    let client = register_public(&http, &server).await;
    let p = pkce("t1");
    let code = get_code(&http, &server, &client.client_id, &p, "mcp:tools files:read").await;
    let resp = exchange_code(&http, &server, &client.client_id, &code, &p.verifier).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    assert_eq!(resp.headers()["pragma"], "no-cache");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "mcp:tools files:read");
    assert!(body["refresh_token"].is_string());

    // RFC 9068 header and claims.
    let token = body["access_token"].as_str().unwrap();
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    assert_eq!(header.alg, jsonwebtoken::Algorithm::ES256);
    assert!(header.kid.is_some());
    let payload: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token.split('.').nth(1).unwrap()).unwrap(),
    )
    .unwrap();
    assert_eq!(payload["iss"], issuer(&server));
    assert_eq!(payload["aud"], server.mcp_url().as_str());
    assert_eq!(payload["sub"], "demo-user");
    assert_eq!(payload["client_id"], client.client_id.as_str());
    assert_eq!(payload["scope"], "mcp:tools files:read");
    assert!(payload["jti"].is_string());
    assert_eq!(payload["exp"].as_i64().unwrap() - payload["iat"].as_i64().unwrap(), 3600);
    server.shutdown().await;
}

#[tokio::test]
async fn wrong_pkce_verifier_is_invalid_grant_and_burns_the_code() {
    let server = start_server(true).await;
    let http = http();
    let client = register_public(&http, &server).await;
    let p = pkce("t2");
    let code = get_code(&http, &server, &client.client_id, &p, "mcp:tools").await;
    let wrong = pkce("other").verifier;
    let (status, headers, error, _) =
        oauth_error(exchange_code(&http, &server, &client.client_id, &code, &wrong).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error, "invalid_grant");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["pragma"], "no-cache");
    // Single use, even after a failed attempt.
    let (_, _, error, _) =
        oauth_error(exchange_code(&http, &server, &client.client_id, &code, &p.verifier).await).await;
    assert_eq!(error, "invalid_grant");
    server.shutdown().await;
}

#[tokio::test]
async fn code_replay_is_invalid_grant_and_revokes_the_refresh_token() {
    let server = start_server(true).await;
    let http = http();
    let client = register_public(&http, &server).await;
    let p = pkce("t3");
    let code = get_code(&http, &server, &client.client_id, &p, "mcp:tools").await;
    let first: Value = exchange_code(&http, &server, &client.client_id, &code, &p.verifier).await.json().await.unwrap();
    let refresh = first["refresh_token"].as_str().unwrap();

    let (status, _, error, _) =
        oauth_error(exchange_code(&http, &server, &client.client_id, &code, &p.verifier).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error, "invalid_grant");

    let resp = token_request(
        &http,
        &server,
        &[("grant_type", "refresh_token"), ("refresh_token", refresh), ("client_id", &client.client_id)],
    )
    .await;
    let (_, _, error, _) = oauth_error(resp).await;
    assert_eq!(error, "invalid_grant", "tokens from a replayed code are revoked");
    server.shutdown().await;
}

#[tokio::test]
async fn redirect_uri_and_client_must_match_the_authorization_request() {
    let server = start_server(true).await;
    let http = http();
    let client = register_public(&http, &server).await;
    let other = register_public(&http, &server).await;
    let p = pkce("t4");

    let code = get_code(&http, &server, &client.client_id, &p, "mcp:tools").await;
    let resp = token_request(
        &http,
        &server,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:7777/elsewhere"),
            ("code_verifier", &p.verifier),
            ("client_id", &client.client_id),
        ],
    )
    .await;
    assert_eq!(oauth_error(resp).await.2, "invalid_grant");

    let code = get_code(&http, &server, &client.client_id, &p, "mcp:tools").await;
    let resp = exchange_code(&http, &server, &other.client_id, &code, &p.verifier).await;
    assert_eq!(oauth_error(resp).await.2, "invalid_grant");

    let code = get_code(&http, &server, &client.client_id, &p, "mcp:tools").await;
    let resp = token_request(
        &http,
        &server,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &p.verifier),
            ("client_id", &client.client_id),
            ("resource", "https://other.example.com/mcp"),
        ],
    )
    .await;
    assert_eq!(oauth_error(resp).await.2, "invalid_target");
    server.shutdown().await;
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let server = start_server(true).await;
    let http = http();
    let client = register_public(&http, &server).await;
    let p = pkce("t5");
    let code = get_code(&http, &server, &client.client_id, &p, "mcp:tools files:read").await;
    let first: Value = exchange_code(&http, &server, &client.client_id, &code, &p.verifier).await.json().await.unwrap();
    let rt1 = first["refresh_token"].as_str().unwrap().to_owned();
    let mcp = server.mcp_url().to_string();
    let refresh = |rt: String, scope: Option<&'static str>| {
        let http = http.clone();
        let client_id = client.client_id.clone();
        let mcp = mcp.clone();
        let server = &server;
        async move {
            let mut form = vec![
                ("grant_type", "refresh_token".to_owned()),
                ("refresh_token", rt),
                ("client_id", client_id),
                ("resource", mcp),
            ];
            if let Some(s) = scope {
                form.push(("scope", s.to_owned()));
            }
            http.post(url(server, "/token")).form(&form).send().await.unwrap()
        }
    };

    // Rotation: a new refresh token each time; narrowing is allowed.
    let resp = refresh(rt1.clone(), Some("files:read")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let second: Value = resp.json().await.unwrap();
    let rt2 = second["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(rt1, rt2);
    assert_eq!(second["scope"], "files:read");

    // The narrowed grant still refreshes to the original scope, never wider.
    let resp = refresh(rt2.clone(), Some("profile:read")).await;
    assert_eq!(oauth_error(resp).await.2, "invalid_scope");
    let third: Value = refresh(rt2.clone(), None).await.json().await.unwrap();
    assert_eq!(third["scope"], "mcp:tools files:read");
    let rt3 = third["refresh_token"].as_str().unwrap().to_owned();

    // Reusing rt1 (already rotated) is detected...
    let resp = refresh(rt1, None).await;
    let (status, _, error, _) = oauth_error(resp).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error, "invalid_grant");
    // ...and the newest token of the same family is revoked too.
    let resp = refresh(rt3, None).await;
    assert_eq!(oauth_error(resp).await.2, "invalid_grant");
    server.shutdown().await;
}

#[tokio::test]
async fn client_without_refresh_grant_gets_no_refresh_token() {
    let server = start_server(true).await;
    let http = http();
    let client =
        register(&http, &server, json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"})).await;
    let p = pkce("t6");
    let code = get_code(&http, &server, &client.client_id, &p, "mcp:tools").await;
    let body: Value = exchange_code(&http, &server, &client.client_id, &code, &p.verifier).await.json().await.unwrap();
    assert!(body["access_token"].is_string());
    assert!(body.get("refresh_token").is_none());
    server.shutdown().await;
}

#[tokio::test]
async fn client_secret_basic_and_post() {
    let server = start_server(true).await;
    let http = http();
    let basic = register(
        &http,
        &server,
        json!({"redirect_uris": [REDIRECT], "grant_types": ["authorization_code", "refresh_token"]}),
    )
    .await;
    let secret = basic.client_secret.clone().unwrap();
    let p = pkce("t7");
    let form = |code: &str| {
        vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code.to_owned()),
            ("redirect_uri", REDIRECT.to_owned()),
            ("code_verifier", p.verifier.clone()),
        ]
    };

    // RFC 6749 §2.3.1: Basic over the form-urlencoded id and secret.
    let code = get_code(&http, &server, &basic.client_id, &p, "mcp:tools").await;
    let resp = http
        .post(url(&server, "/token"))
        .basic_auth(&basic.client_id, Some(&secret))
        .form(&form(&code))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);

    // Wrong secret over Basic → 401 invalid_client with a Basic challenge.
    let code = get_code(&http, &server, &basic.client_id, &p, "mcp:tools").await;
    let resp = http
        .post(url(&server, "/token"))
        .basic_auth(&basic.client_id, Some("wrong"))
        .form(&form(&code))
        .send()
        .await
        .unwrap();
    let (status, headers, error, _) = oauth_error(resp).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error, "invalid_client");
    assert!(headers["www-authenticate"].to_str().unwrap().starts_with("Basic"));
    assert_eq!(headers["cache-control"], "no-store");

    // A basic client sending its secret in the body uses the wrong method.
    let code = get_code(&http, &server, &basic.client_id, &p, "mcp:tools").await;
    let mut f = form(&code);
    f.push(("client_id", basic.client_id.clone()));
    f.push(("client_secret", secret.clone()));
    let resp = http.post(url(&server, "/token")).form(&f).send().await.unwrap();
    assert_eq!(oauth_error(resp).await.2, "invalid_client");

    // Missing authentication entirely.
    let code = get_code(&http, &server, &basic.client_id, &p, "mcp:tools").await;
    let mut f = form(&code);
    f.push(("client_id", basic.client_id.clone()));
    let resp = http.post(url(&server, "/token")).form(&f).send().await.unwrap();
    assert_eq!(oauth_error(resp).await.2, "invalid_client");

    // client_secret_post.
    let post = register(
        &http,
        &server,
        json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "client_secret_post"}),
    )
    .await;
    let code = get_code(&http, &server, &post.client_id, &p, "mcp:tools").await;
    let mut f = form(&code);
    f.push(("client_id", post.client_id.clone()));
    f.push(("client_secret", post.client_secret.clone().unwrap()));
    let resp = http.post(url(&server, "/token")).form(&f).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    server.shutdown().await;
}

#[tokio::test]
async fn malformed_requests_get_rfc6749_errors() {
    let server = start_server(true).await;
    let http = http();
    let client = register_public(&http, &server).await;

    let resp = token_request(&http, &server, &[("grant_type", "password"), ("client_id", &client.client_id)]).await;
    let (status, headers, error, _) = oauth_error(resp).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error, "unsupported_grant_type");
    assert_eq!(headers["pragma"], "no-cache");

    let resp = token_request(&http, &server, &[("client_id", &client.client_id)]).await;
    assert_eq!(oauth_error(resp).await.2, "invalid_request");

    let resp =
        http.post(url(&server, "/token")).header("content-type", "application/json").body("{}").send().await.unwrap();
    assert_eq!(oauth_error(resp).await.2, "invalid_request");

    let resp = http
        .post(url(&server, "/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=authorization_code&grant_type=refresh_token")
        .send()
        .await
        .unwrap();
    assert_eq!(oauth_error(resp).await.2, "invalid_request");

    let resp = http
        .post(url(&server, "/token"))
        .header("authorization", format!("Basic {}", STANDARD.encode("no-colon")))
        .form(&[("grant_type", "authorization_code"), ("code", "x"), ("code_verifier", "y")])
        .send()
        .await
        .unwrap();
    let (status, _, error, _) = oauth_error(resp).await;
    assert_eq!((status, error.as_str()), (StatusCode::UNAUTHORIZED, "invalid_client"));

    let resp = token_request(
        &http,
        &server,
        &[
            ("grant_type", "authorization_code"),
            ("code", "bogus"),
            ("code_verifier", &pkce("x").verifier),
            ("client_id", &client.client_id),
        ],
    )
    .await;
    assert_eq!(oauth_error(resp).await.2, "invalid_grant");
    server.shutdown().await;
}
