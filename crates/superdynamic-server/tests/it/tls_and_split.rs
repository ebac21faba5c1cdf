//! Optional TLS (self-signed certificate from rcgen) and split origins (the
//! authorization server and the resource server on two listeners).

use crate::common;

use common::*;
use reqwest::StatusCode;
use serde_json::Value;
use superdynamic_server::{ServerConfig, TlsFiles, start};

#[tokio::test]
async fn https_with_a_self_signed_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    let cert_pem = dir.path().join("cert.pem");
    let key_pem = dir.path().join("key.pem");
    std::fs::write(&cert_pem, certified.cert.pem()).unwrap();
    std::fs::write(&key_pem, certified.signing_key.serialize_pem()).unwrap();

    let server = start(ServerConfig { tls: Some(TlsFiles { cert_pem, key_pem }), ..test_config(true) }).await.unwrap();
    assert_eq!(server.base_url().scheme(), "https");
    assert!(server.mcp_url().as_str().starts_with("https://127.0.0.1:"));

    let _ = http(); // installs the ring provider
    let trusted = reqwest::Certificate::from_pem(certified.cert.pem().as_bytes()).unwrap();
    let https = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .tls_certs_only([trusted])
        .build()
        .unwrap();
    let resp = https.get(url(&server, "/health")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["status"], "ok");

    // The whole flow works over https, and the metadata names https URLs.
    let meta: Value =
        https.get(url(&server, "/.well-known/oauth-authorization-server")).send().await.unwrap().json().await.unwrap();
    assert!(meta["issuer"].as_str().unwrap().starts_with("https://"));
    let tokens = obtain_tokens(&https, &server, "mcp:tools").await;
    mcp_initialize(&https, &server, &tokens.access_token).await;

    // Under TLS the session cookie is __Host- prefixed and Secure.
    let page = https.get(url(&server, "/consents")).send().await.unwrap();
    let (session, resp) = sign_in_from(&https, &server, page, "demo", "demo").await;
    assert!(session.unwrap().starts_with("__Host-superdynamic_session="));
    let raw: Vec<String> =
        resp.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).collect();
    let cookie = raw.iter().find(|c| c.starts_with("__Host-")).unwrap();
    assert!(cookie.contains("; Secure") && cookie.contains("Path=/") && !cookie.contains("Domain"));

    // A client that does not trust the certificate is refused.
    let untrusting = reqwest::Client::builder().tls_certs_only([]).build().unwrap();
    assert!(untrusting.get(url(&server, "/health")).send().await.is_err());
    server.shutdown().await;
}

#[tokio::test]
async fn split_origins_run_the_full_flow() {
    let server =
        start(ServerConfig { resource_bind: Some("127.0.0.1:0".parse().unwrap()), ..test_config(true) }).await.unwrap();
    let http = http();
    let rs_addr = server.resource_addr().expect("a second listener");
    assert_ne!(rs_addr.port(), server.local_addr().port());
    let as_origin = issuer(&server);
    let rs_origin = format!("http://{rs_addr}");
    assert_eq!(server.mcp_url().as_str(), format!("{rs_origin}/mcp"));

    // The resource points at the authorization server's origin.
    let prm: Value = http
        .get(format!("{rs_origin}/.well-known/oauth-protected-resource/mcp"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(prm["resource"], format!("{rs_origin}/mcp"));
    assert_eq!(prm["authorization_servers"], serde_json::json!([as_origin]));
    let meta: Value =
        http.get(url(&server, "/.well-known/oauth-authorization-server")).send().await.unwrap().json().await.unwrap();
    assert_eq!(meta["issuer"], as_origin.as_str());
    // Each origin serves only its own role.
    assert_eq!(http.post(format!("{as_origin}/mcp")).send().await.unwrap().status(), StatusCode::NOT_FOUND);
    assert_eq!(http.post(format!("{rs_origin}/token")).send().await.unwrap().status(), StatusCode::NOT_FOUND);
    let unauthenticated = http.post(server.mcp_url()).body("{}").send().await.unwrap();
    assert_eq!(unauthenticated.status(), StatusCode::UNAUTHORIZED);
    let challenge = unauthenticated.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(challenge.contains(&format!("{rs_origin}/.well-known/oauth-protected-resource/mcp")), "{challenge}");

    // register → authorize → token at the AS, then /mcp at the RS.
    let tokens = obtain_tokens(&http, &server, "mcp:tools files:read").await;
    let claims = jwt_payload(&tokens.access_token);
    assert_eq!(claims["iss"], as_origin.as_str());
    assert_eq!(claims["aud"], format!("{rs_origin}/mcp"));
    let session = mcp_initialize(&http, &server, &tokens.access_token).await;
    let reply = call_tool(&http, &server, &tokens.access_token, &session, "list_files", serde_json::json!({})).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.message.unwrap().get("result").is_some());
    server.shutdown().await;
}
