//! The client credentials grant (OAuth 2.1 §4.2, MCP extension
//! io.modelcontextprotocol/oauth-client-credentials) with client secrets and
//! `private_key_jwt` (RFC 7523 §2.2).

use crate::common;

use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use superdynamic_server::{ServerConfig, start};

#[tokio::test]
async fn metadata_advertises_client_credentials_and_private_key_jwt() {
    let server = start_server(true).await;
    let meta: Value =
        http().get(url(&server, "/.well-known/oauth-authorization-server")).send().await.unwrap().json().await.unwrap();
    assert!(meta["grant_types_supported"].as_array().unwrap().contains(&json!("client_credentials")));
    assert!(meta["token_endpoint_auth_methods_supported"].as_array().unwrap().contains(&json!("private_key_jwt")));
    assert_eq!(meta["token_endpoint_auth_signing_alg_values_supported"], json!(["ES256", "RS256"]));
    server.shutdown().await;
}

#[tokio::test]
async fn secret_clients_get_a_token_for_themselves() {
    let server = start_server(true).await;
    let http = http();
    let mcp = server.mcp_url().to_string();

    // client_secret_basic
    let c = register(
        &http,
        &server,
        json!({"client_name": "svc", "grant_types": ["client_credentials"], "token_endpoint_auth_method": "client_secret_basic"}),
    )
    .await;
    let basic = format!("Basic {}", STANDARD.encode(format!("{}:{}", c.client_id, c.client_secret.clone().unwrap())));
    let resp = http
        .post(url(&server, "/token"))
        .header("authorization", &basic)
        .form(&[("grant_type", "client_credentials"), ("scope", "mcp:tools files:read"), ("resource", &mcp)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let body: Value = resp.json().await.unwrap();
    assert!(body.get("refresh_token").is_none(), "no refresh token for client credentials");
    assert_eq!(body["scope"], "mcp:tools files:read");
    let token = body["access_token"].as_str().unwrap();
    let claims = jwt_payload(token);
    assert_eq!(claims["sub"], c.client_id.as_str());
    assert_eq!(claims["client_id"], c.client_id.as_str());
    assert_eq!(claims["aud"], mcp.as_str());
    // The token works at /mcp.
    let session = mcp_initialize(&http, &server, token).await;
    let reply = call_tool(&http, &server, token, &session, "list_files", json!({})).await;
    assert_eq!(reply.status, StatusCode::OK);

    // Wrong secret.
    let bad = format!("Basic {}", STANDARD.encode(format!("{}:nope", c.client_id)));
    let resp = http
        .post(url(&server, "/token"))
        .header("authorization", bad)
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    let (status, _, error, _) = oauth_error(resp).await;
    assert_eq!((status, error.as_str()), (StatusCode::UNAUTHORIZED, "invalid_client"));

    // offline_access is refused: there is no user to stay signed in.
    let resp = http
        .post(url(&server, "/token"))
        .header("authorization", &basic)
        .form(&[("grant_type", "client_credentials"), ("scope", "offline_access")])
        .send()
        .await
        .unwrap();
    assert_eq!(oauth_error(resp).await.2, "invalid_scope");

    // client_secret_post
    let c = register(
        &http,
        &server,
        json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "client_secret_post"}),
    )
    .await;
    let secret = c.client_secret.clone().unwrap();
    let resp = token_request(
        &http,
        &server,
        &[("grant_type", "client_credentials"), ("client_id", &c.client_id), ("client_secret", &secret)],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["scope"], "mcp:tools", "default scope");
    server.shutdown().await;
}

#[tokio::test]
async fn public_and_code_only_clients_cannot_use_client_credentials() {
    let server = start_server(true).await;
    let http = http();
    let resp = http
        .post(url(&server, "/register"))
        .json(&json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "none"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(oauth_error(resp).await.2, "invalid_client_metadata");

    let public = register_public(&http, &server).await;
    let resp =
        token_request(&http, &server, &[("grant_type", "client_credentials"), ("client_id", &public.client_id)]).await;
    assert_eq!(oauth_error(resp).await.2, "unauthorized_client");
    server.shutdown().await;
}

#[tokio::test]
async fn private_key_jwt_with_inline_jwks() {
    let server = start_server(true).await;
    let http = http();
    let key = es256_client_key("k1");
    let c = register(
        &http,
        &server,
        json!({
            "client_name": "jwt svc",
            "grant_types": ["client_credentials"],
            "token_endpoint_auth_method": "private_key_jwt",
            "jwks": {"keys": [key.jwk.clone()]},
        }),
    )
    .await;
    assert!(c.client_secret.is_none(), "no secret for private_key_jwt");
    let id = c.client_id.clone();
    let cc = |assertion: String| {
        let http = http.clone();
        let url = url(&server, "/token");
        async move {
            http.post(url)
                .form(&[
                    ("grant_type", "client_credentials"),
                    ("client_assertion_type", JWT_BEARER),
                    ("client_assertion", assertion.as_str()),
                    ("scope", "mcp:tools"),
                ])
                .send()
                .await
                .unwrap()
        }
    };

    let good = sign_assertion(&key, &assertion_claims(&server, &id, "jti-1"));
    let resp = cc(good.clone()).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(jwt_payload(body["access_token"].as_str().unwrap())["sub"], id.as_str());

    // The issuer is also an accepted audience.
    let mut claims = assertion_claims(&server, &id, "jti-2");
    claims["aud"] = json!(issuer(&server));
    assert_eq!(cc(sign_assertion(&key, &claims)).await.status(), StatusCode::OK);

    // jti is single use.
    let (status, _, error, _) = oauth_error(cc(good).await).await;
    assert_eq!((status, error.as_str()), (StatusCode::UNAUTHORIZED, "invalid_client"));

    let refused = |mutate: &dyn Fn(&mut Value), signer: &ClientKey| {
        let mut claims = assertion_claims(&server, &id, &format!("jti-{}", rand_suffix()));
        mutate(&mut claims);
        sign_assertion(signer, &claims)
    };
    let other_key = es256_client_key("k1");
    for (why, assertion) in [
        ("wrong aud", refused(&|c| c["aud"] = json!("https://elsewhere.example/token"), &key)),
        ("expired", refused(&|c| c["exp"] = json!(unix_now() - 120), &key)),
        ("exp too far", refused(&|c| c["exp"] = json!(unix_now() + 3600), &key)),
        ("no jti", refused(&|c| drop(c.as_object_mut().unwrap().remove("jti")), &key)),
        ("iss differs", refused(&|c| c["iss"] = json!("someone-else"), &key)),
        ("no exp", refused(&|c| drop(c.as_object_mut().unwrap().remove("exp")), &key)),
        ("foreign key", refused(&|_| {}, &other_key)),
    ] {
        let (status, _, error, _) = oauth_error(cc(assertion).await).await;
        assert_eq!((status, error.as_str()), (StatusCode::UNAUTHORIZED, "invalid_client"), "{why}");
    }

    // A secret is not accepted for a private_key_jwt client.
    let resp = token_request(
        &http,
        &server,
        &[("grant_type", "client_credentials"), ("client_id", &id), ("client_secret", "x")],
    )
    .await;
    assert_eq!(oauth_error(resp).await.2, "invalid_client");
    server.shutdown().await;
}

fn rand_suffix() -> String {
    superdynamic_test_random()
}

fn superdynamic_test_random() -> String {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).unwrap();
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[tokio::test]
async fn private_key_jwt_with_jwks_uri_and_ssrf_guard() {
    let key = es256_client_key("remote");
    let doc = Arc::new(Mutex::new((200, json!({"keys": [key.jwk.clone()]}))));
    let (base, hits, stop_jwks) = serve_json(doc, "no-store").await;
    let jwks_uri = format!("{base}/jwks.json");

    for insecure in [true, false] {
        let server = start(ServerConfig { insecure_cimd_for_tests: insecure, ..test_config(true) }).await.unwrap();
        let http = http();
        let c = register(
            &http,
            &server,
            json!({
                "grant_types": ["client_credentials"],
                "token_endpoint_auth_method": "private_key_jwt",
                "jwks_uri": jwks_uri,
            }),
        )
        .await;
        let assertion = sign_assertion(&key, &assertion_claims(&server, &c.client_id, &format!("j-{insecure}")));
        let resp = http
            .post(url(&server, "/token"))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_assertion_type", JWT_BEARER),
                ("client_assertion", assertion.as_str()),
            ])
            .send()
            .await
            .unwrap();
        if insecure {
            assert_eq!(resp.status(), StatusCode::OK, "jwks_uri on loopback allowed for tests");
        } else {
            // Plain http to 127.0.0.1 is refused before any request is made.
            let before = hits.load(std::sync::atomic::Ordering::SeqCst);
            assert_eq!(oauth_error(resp).await.2, "invalid_client");
            assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), before, "no fetch happened");
        }
        server.shutdown().await;
    }
    let _ = stop_jwks.send(());
}
