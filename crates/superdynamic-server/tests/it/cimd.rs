//! Client ID Metadata Documents: a URL client_id is fetched (SSRF-guarded,
//! size-capped), validated, cached per Cache-Control, and usable through
//! the whole flow.

use crate::common;

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use superdynamic_server::{RunningServer, ServerConfig, start};

fn cimd_config(auto_approve: bool) -> ServerConfig {
    ServerConfig { insecure_cimd_for_tests: true, ..test_config(auto_approve) }
}

async fn authorize_as(http: &reqwest::Client, server: &RunningServer, client_id: &str, p: &Pkce) -> reqwest::Response {
    let mcp = server.mcp_url().to_string();
    authorize_raw(http, server, &authorize_params(&mcp, client_id, &p.challenge, "mcp:tools")).await
}

#[tokio::test]
async fn url_client_runs_the_flow_and_is_cached() {
    let doc = Arc::new(Mutex::new((200, Value::Null)));
    let (base, hits, stop) = serve_json(doc.clone(), "public, max-age=60").await;
    let client_id = format!("{base}/client.json");
    *doc.lock().unwrap() = (
        200,
        json!({"client_id": client_id, "client_name": "CIMD App", "redirect_uris": [REDIRECT],
               "grant_types": ["authorization_code", "refresh_token"]}),
    );
    let server = start(cimd_config(true)).await.unwrap();
    let http = http();
    let meta: Value =
        http.get(url(&server, "/.well-known/oauth-authorization-server")).send().await.unwrap().json().await.unwrap();
    assert_eq!(meta["client_id_metadata_document_supported"], true);

    let p = pkce("cimd");
    let resp = authorize_as(&http, &server, &client_id, &p).await;
    assert_eq!(resp.status(), StatusCode::FOUND);
    let (_, q) = location_params(resp.headers());
    let resp = exchange_code(&http, &server, &client_id, &q["code"], &p.verifier).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(jwt_payload(body["access_token"].as_str().unwrap())["client_id"], client_id.as_str());
    assert!(body["refresh_token"].is_string());
    // Served from the cache (max-age=60): one fetch for /authorize and /token.
    assert_eq!(hits.load(Ordering::SeqCst), 1);

    // A redirect URI the document does not list is refused without redirecting.
    let mcp = server.mcp_url().to_string();
    let mut params = authorize_params(&mcp, &client_id, &p.challenge, "mcp:tools");
    params[2] = ("redirect_uri", "http://127.0.0.1:7777/elsewhere");
    let resp = authorize_raw(&http, &server, &params).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.headers().get("location").is_none());
    server.shutdown().await;
    let _ = stop.send(());
}

#[tokio::test]
async fn invalid_documents_and_failures_are_refused_and_not_cached() {
    let doc = Arc::new(Mutex::new((500, json!({}))));
    let (base, hits, stop) = serve_json(doc.clone(), "max-age=600").await;
    let client_id = format!("{base}/client.json");
    let good = json!({"client_id": client_id, "client_name": "App", "redirect_uris": [REDIRECT]});
    let server = start(cimd_config(true)).await.unwrap();
    let http = http();
    let p = pkce("cimd2");

    let cases: Vec<(&str, u16, Value)> = vec![
        ("HTTP 500", 500, good.clone()),
        (
            "client_id with a trailing slash",
            200,
            json!({"client_id": format!("{client_id}/"), "redirect_uris": [REDIRECT]}),
        ),
        ("no redirect_uris", 200, json!({"client_id": client_id})),
        ("client_secret", 200, json!({"client_id": client_id, "redirect_uris": [REDIRECT], "client_secret": "s"})),
        (
            "shared-secret auth method",
            200,
            json!({"client_id": client_id, "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "client_secret_basic"}),
        ),
        (
            "too large",
            200,
            json!({"client_id": client_id, "redirect_uris": [REDIRECT], "client_name": "x".repeat(6000)}),
        ),
        ("not an object", 200, json!(["nope"])),
    ];
    for (i, (why, status, body)) in cases.into_iter().enumerate() {
        *doc.lock().unwrap() = (status, body);
        let resp = authorize_as(&http, &server, &client_id, &p).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{why}");
        assert!(resp.headers().get("location").is_none(), "{why}");
        assert_eq!(hits.load(Ordering::SeqCst), i + 1, "{why}: fetched again (failures are not cached)");
    }
    // Fixed document: accepted at once.
    *doc.lock().unwrap() = (200, good);
    let resp = authorize_as(&http, &server, &client_id, &p).await;
    assert_eq!(resp.status(), StatusCode::FOUND);

    // URL shapes that are never fetched.
    for bad in [format!("{base}/a/../client.json"), format!("{base}/"), format!("{base}/client.json#frag")] {
        let before = hits.load(Ordering::SeqCst);
        let resp = authorize_as(&http, &server, &bad, &p).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(hits.load(Ordering::SeqCst), before, "{bad} was fetched");
    }
    server.shutdown().await;
    let _ = stop.send(());
}

#[tokio::test]
async fn ssrf_guard_refuses_private_and_plain_http_hosts() {
    let doc = Arc::new(Mutex::new((200, Value::Null)));
    let (base, hits, stop) = serve_json(doc.clone(), "no-store").await;
    let client_id = format!("{base}/client.json");
    *doc.lock().unwrap() = (200, json!({"client_id": client_id, "redirect_uris": [REDIRECT]}));
    // Default policy: https only, public addresses only.
    let server = start(test_config(true)).await.unwrap();
    let http = http();
    let p = pkce("ssrf");
    for id in [
        client_id.as_str(),
        "https://169.254.169.254/latest/meta-data/client.json",
        "https://127.0.0.1/client.json",
        "https://10.0.0.1/client.json",
        "https://[::1]/client.json",
        "https://localhost/client.json",
    ] {
        let resp = authorize_as(&http, &server, id, &p).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{id}");
        let page = resp.text().await.unwrap();
        assert!(page.contains("not allowed") || page.contains("non-public"), "{id}: {page}");
    }
    assert_eq!(hits.load(Ordering::SeqCst), 0, "nothing was fetched");
    server.shutdown().await;
    let _ = stop.send(());
}

#[tokio::test]
async fn consent_page_shows_the_document_host_and_private_key_jwt_works() {
    let key = es256_client_key("cimd-key");
    let doc = Arc::new(Mutex::new((200, Value::Null)));
    let (base, _hits, stop) = serve_json(doc.clone(), "no-store").await;
    let client_id = format!("{base}/client.json");
    *doc.lock().unwrap() = (
        200,
        json!({"client_id": client_id, "client_name": "Keyed App", "redirect_uris": [REDIRECT],
               "token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [key.jwk.clone()]}}),
    );

    // Consent page (no auto-approve): names the document's host.
    let server = start(cimd_config(false)).await.unwrap();
    let http = http();
    let p = pkce("cimd-consent");
    let page = authorize_as(&http, &server, &client_id, &p).await;
    let (session, resp) = sign_in_from(&http, &server, page, "demo", "demo").await;
    let back = resp.headers()["location"].to_str().unwrap().to_owned();
    let resp = http.get(url(&server, &back)).header("cookie", session.unwrap()).send().await.unwrap();
    let html = resp.text().await.unwrap();
    assert!(html.contains("Keyed App"));
    assert!(html.contains("described by <span class=\"host\">127.0.0.1</span>"), "{html}");
    server.shutdown().await;

    let server = start(cimd_config(true)).await.unwrap();
    let resp = authorize_as(&http, &server, &client_id, &p).await;
    let (_, q) = location_params(resp.headers());
    let assertion = sign_assertion(&key, &assertion_claims(&server, &client_id, "cimd-jti"));
    let mcp = server.mcp_url().to_string();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", q["code"].as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", p.verifier.as_str()),
        ("client_assertion_type", JWT_BEARER),
        ("client_assertion", assertion.as_str()),
        ("resource", mcp.as_str()),
    ];
    let resp = token_request(&http, &server, &form).await;
    assert_eq!(resp.status(), StatusCode::OK);
    server.shutdown().await;
    let _ = stop.send(());
}

/// A loopback listener that accepts connections, writes `first` (maybe nothing) and then holds them open without
/// another byte, until the returned sender fires.
async fn stalling_listener(first: &'static [u8]) -> (String, tokio::sync::oneshot::Sender<()>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let mut held = Vec::new();
        let serve = async {
            loop {
                let (mut tcp, _) = listener.accept().await.unwrap();
                let mut request = [0u8; 4096];
                let _ = tcp.read(&mut request).await;
                let _ = tcp.write_all(first).await;
                held.push(tcp);
            }
        };
        tokio::select! { _ = serve => {}, _ = stopped => {} }
    });
    (base, stop)
}

async fn stalled_authorize(first: &'static [u8], expected: &str) {
    let (base, stop) = stalling_listener(first).await;
    let client_id = format!("{base}/client.json");
    let server = start(cimd_config(true)).await.unwrap();
    let started = std::time::Instant::now();
    let resp = authorize_as(&http(), &server, &client_id, &pkce("stall")).await;
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "answered after {:?}", started.elapsed());
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.headers().get("location").is_none());
    let page = resp.text().await.unwrap();
    let want = format!("could not fetch the client metadata document {client_id}: {expected}");
    assert!(page.contains(&want), "{page}");
    server.shutdown().await;
    let _ = stop.send(());
}

#[tokio::test]
async fn a_document_host_that_never_answers_is_reported_with_the_url_and_the_wait() {
    stalled_authorize(b"", "the host accepted the connection but sent no answer within 5 s").await;
}

#[tokio::test]
async fn a_document_that_stops_after_its_headers_is_cut_off_at_the_deadline() {
    let headers = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 200\r\n\r\n{\"client_id\":";
    stalled_authorize(headers, "the answer did not complete within 10 s").await;
}
