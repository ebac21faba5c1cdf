//! The real binary on a file database, killed with SIGKILL and restarted:
//! clients, refresh tokens, consents (and the session), and the signing key
//! survive; a code issued before the kill redeems or is invalid_grant.

use crate::common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

/// The server process; killed when dropped, so a failing test stops it too.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn spawn(db: &std::path::Path, port: u16, http: &Client) -> Proc {
    let child = Command::new(env!("CARGO_BIN_EXE_superdynamic-server"))
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--db"])
        .arg(db)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let proc = Proc(child);
    for _ in 0..200 {
        if let Ok(resp) = http.get(format!("http://127.0.0.1:{port}/health")).send().await
            && resp.status() == StatusCode::OK
        {
            return proc;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the server did not come up on port {port}");
}

async fn get_with(http: &Client, url: &str, cookie: &str) -> reqwest::Response {
    http.get(url).header("cookie", cookie).send().await.unwrap()
}

#[tokio::test]
async fn state_survives_sigkill_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("server.db");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mcp = format!("{base}/mcp");
    let http = http();
    let mut proc = spawn(&db, port, &http).await;

    // Register, sign in as demo, approve, get tokens.
    let reg: Value = http
        .post(format!("{base}/register"))
        .json(&json!({"client_name": "Persisted", "redirect_uris": [REDIRECT],
                      "grant_types": ["authorization_code", "refresh_token"], "token_endpoint_auth_method": "none"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let client_id = reg["client_id"].as_str().unwrap().to_owned();
    let rat = reg["registration_access_token"].as_str().unwrap().to_owned();
    let p = pkce("restart");
    let params = authorize_params(&mcp, &client_id, &p.challenge, "mcp:tools");
    let page = http.get(format!("{base}/authorize")).query(&params).send().await.unwrap();
    let login_cookie = set_cookies(page.headers()).into_iter().next().unwrap();
    let html = page.text().await.unwrap();
    let resp = http
        .post(format!("{base}/login"))
        .header("cookie", login_cookie)
        .form(&[
            ("username", "demo"),
            ("password", "demo"),
            ("csrf_token", form_field(&html, "csrf_token").as_str()),
            ("return_to", form_field(&html, "return_to").as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let session = set_cookies(resp.headers()).into_iter().find(|c| c.starts_with("superdynamic_session=")).unwrap();
    let consent = http.get(format!("{base}/authorize")).query(&params).header("cookie", &session).send().await.unwrap();
    let csrf_cookie = set_cookies(consent.headers()).into_iter().next().unwrap();
    let html = consent.text().await.unwrap();
    let resp = http
        .post(format!("{base}/authorize/decision"))
        .header("cookie", format!("{csrf_cookie}; {session}"))
        .form(&[
            ("consent_id", form_field(&html, "consent_id").as_str()),
            ("csrf_token", form_field(&html, "csrf_token").as_str()),
            ("decision", "approve"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND);
    let code = location_params(resp.headers()).1["code"].clone();
    let tokens: Value = http
        .post(format!("{base}/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", p.verifier.as_str()),
            ("client_id", client_id.as_str()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    // A second code (remembered consent: no page), not redeemed before the kill.
    let p2 = pkce("restart-2");
    let params2 = authorize_params(&mcp, &client_id, &p2.challenge, "mcp:tools");
    let resp = http.get(format!("{base}/authorize")).query(&params2).header("cookie", &session).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND, "consent remembered");
    let pending_code = location_params(resp.headers()).1["code"].clone();
    let jwks_before: Value = http.get(format!("{base}/jwks.json")).send().await.unwrap().json().await.unwrap();

    // SIGKILL (no graceful shutdown), then restart on the same file and port.
    proc.0.kill().unwrap();
    proc.0.wait().unwrap();
    drop(proc);
    let _proc = spawn(&db, port, &http).await;

    let jwks_after: Value = http.get(format!("{base}/jwks.json")).send().await.unwrap().json().await.unwrap();
    assert_eq!(jwks_before, jwks_after, "the signing key survived");
    // The client (and its RFC 7592 token).
    let resp = http.get(format!("{base}/register/{client_id}")).bearer_auth(&rat).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    // The access token issued before still verifies.
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "it", "version": "0"}}});
    let resp = http
        .post(&mcp)
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .header("accept", ACCEPT_MCP)
        .header("content-type", "application/json")
        .body(init.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    // The refresh token.
    let resp = http
        .post(format!("{base}/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.as_str()),
            ("client_id", client_id.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    // The consent (and the session): listed, and /authorize still skips the page.
    let html = get_with(&http, &format!("{base}/consents"), &session).await.text().await.unwrap();
    assert!(html.contains("Persisted"), "{html}");
    let resp = http.get(format!("{base}/authorize")).query(&params2).header("cookie", &session).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND);
    // The code issued before the kill: redeems, or invalid_grant — never a 500.
    let resp = http
        .post(format!("{base}/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", pending_code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", p2.verifier.as_str()),
            ("client_id", client_id.as_str()),
        ])
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let body: Value = resp.json().await.unwrap();
    assert!(
        status == StatusCode::OK || (status == StatusCode::BAD_REQUEST && body["error"] == "invalid_grant"),
        "{status} {body}"
    );
}
