//! Discovery documents a client reads before anything else.

use crate::common;

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn authorization_server_metadata_lists_endpoints_and_capabilities() {
    let server = start_server(true).await;
    let http = http();
    let iss = issuer(&server);
    assert!(!iss.ends_with('/'));

    for path in ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"] {
        let resp = http.get(url(&server, path)).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        let m: Value = resp.json().await.unwrap();
        assert_eq!(m["issuer"], iss.as_str());
        assert_eq!(m["authorization_endpoint"], format!("{iss}/authorize"));
        assert_eq!(m["token_endpoint"], format!("{iss}/token"));
        assert_eq!(m["registration_endpoint"], format!("{iss}/register"));
        assert_eq!(m["jwks_uri"], format!("{iss}/jwks.json"));
        assert_eq!(m["scopes_supported"], json!(["mcp:tools", "files:read", "profile:read", "offline_access"]));
        assert_eq!(m["response_types_supported"], json!(["code"]));
        assert_eq!(
            m["grant_types_supported"],
            json!([
                "authorization_code",
                "refresh_token",
                "urn:ietf:params:oauth:grant-type:device_code",
                "client_credentials",
                "urn:ietf:params:oauth:grant-type:jwt-bearer"
            ])
        );
        assert_eq!(m["code_challenge_methods_supported"], json!(["S256"]));
        assert_eq!(
            m["token_endpoint_auth_methods_supported"],
            json!(["none", "client_secret_basic", "client_secret_post", "private_key_jwt"])
        );
        assert_eq!(m["token_endpoint_auth_signing_alg_values_supported"], json!(["ES256", "RS256"]));
        assert_eq!(m["client_id_metadata_document_supported"], true);
        assert_eq!(m["introspection_endpoint"], format!("{iss}/introspect"));
        assert_eq!(m["authorization_response_iss_parameter_supported"], true);
    }
    server.shutdown().await;
}

#[tokio::test]
async fn protected_resource_metadata_at_path_and_root() {
    let server = start_server(true).await;
    let http = http();
    for path in ["/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"] {
        let resp = http.get(url(&server, path)).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
        let m: Value = resp.json().await.unwrap();
        assert_eq!(m["resource"], server.mcp_url().as_str());
        assert_eq!(m["authorization_servers"], json!([issuer(&server)]));
        assert_eq!(m["scopes_supported"], json!(["mcp:tools", "files:read", "profile:read"]));
        assert_eq!(m["bearer_methods_supported"], json!(["header"]));
    }
    server.shutdown().await;
}

#[tokio::test]
async fn jwks_and_health() {
    let server = start_server(true).await;
    let http = http();
    let jwks: Value = http.get(url(&server, "/jwks.json")).send().await.unwrap().json().await.unwrap();
    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], "EC");
    assert_eq!(key["crv"], "P-256");
    assert_eq!(key["alg"], "ES256");
    assert_eq!(key["use"], "sig");
    assert!(key["kid"].as_str().is_some_and(|k| !k.is_empty()));
    assert_eq!(key["x"].as_str().unwrap().len(), 43);
    assert_eq!(key["y"].as_str().unwrap().len(), 43);
    assert!(key.get("d").is_none(), "no private key material");

    let resp = http.get(url(&server, "/health")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.json::<Value>().await.unwrap(), json!({"status": "ok"}));

    let resp = http.get(url(&server, "/nope")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    server.shutdown().await;
}

#[tokio::test]
async fn root_and_docs_pages_list_endpoints_and_the_cli() {
    let server = start_server(true).await;
    let http = http();
    for path in ["/", "/docs"] {
        let resp = http.get(url(&server, path)).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
        assert_eq!(resp.headers()["x-frame-options"], "DENY");
        let html = resp.text().await.unwrap();
        assert!(html.contains(&format!("superdynamic login {}", server.mcp_url())), "{html}");
        assert!(html.contains("superdynamic tools "));
        for endpoint in ["/token", "/introspect", "/register", "/revoke", "/jwks.json", "/consents"] {
            assert!(html.contains(endpoint), "{endpoint}");
        }
    }
    server.shutdown().await;
}
