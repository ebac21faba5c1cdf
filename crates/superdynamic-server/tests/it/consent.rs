//! The consent page (auto_approve off): content, anti-framing, CSRF, and
//! both decisions.

use crate::common;

use std::collections::HashMap;

use common::*;
use reqwest::StatusCode;

struct ConsentPage {
    html: String,
    headers: reqwest::header::HeaderMap,
    fields: HashMap<String, String>,
    cookie: String,
}

fn hidden_field(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).expect("hidden field") + marker.len();
    let end = start + html[start..].find('"').unwrap();
    html[start..end].to_owned()
}

async fn open_consent(
    http: &reqwest::Client,
    server: &superdynamic_server::RunningServer,
    client_id: &str,
) -> ConsentPage {
    let session = demo_session(http, server, "/consents").await;
    open_consent_as(http, server, client_id, &session).await
}

async fn open_consent_as(
    http: &reqwest::Client,
    server: &superdynamic_server::RunningServer,
    client_id: &str,
    session: &str,
) -> ConsentPage {
    let p = pkce("consent");
    let mcp = server.mcp_url().to_string();
    let resp = http
        .get(url(server, "/authorize"))
        .query(&authorize_params(&mcp, client_id, &p.challenge, "mcp:tools files:read"))
        .header("cookie", session)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let headers = resp.headers().clone();
    let csrf = headers["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let cookie = format!("{csrf}; {session}");
    let html = resp.text().await.unwrap();
    let fields = ["consent_id", "csrf_token"].iter().map(|f| ((*f).to_owned(), hidden_field(&html, f))).collect();
    ConsentPage { html, headers, fields, cookie }
}

async fn decide(
    http: &reqwest::Client,
    server: &superdynamic_server::RunningServer,
    page: &ConsentPage,
    decision: &str,
    cookie: Option<&str>,
) -> reqwest::Response {
    let mut req = http.post(url(server, "/authorize/decision")).form(&[
        ("consent_id", page.fields["consent_id"].as_str()),
        ("csrf_token", page.fields["csrf_token"].as_str()),
        ("decision", decision),
    ]);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn consent_page_shows_client_and_scopes_and_cannot_be_framed() {
    let server = start_server(false).await;
    let http = http();
    let client = register(
        &http,
        &server,
        serde_json::json!({
            "client_name": "Acme <Assistant>",
            "redirect_uris": [REDIRECT],
            "token_endpoint_auth_method": "none"
        }),
    )
    .await;
    let page = open_consent(&http, &server, &client.client_id).await;
    assert!(page.html.contains("Acme &lt;Assistant&gt;"), "escaped client name");
    assert!(!page.html.contains("<Assistant>"));
    assert!(page.html.contains("127.0.0.1:7777"), "redirect host shown");
    assert!(page.html.contains("files:read") && page.html.contains("Read the files"));
    assert!(page.html.contains("value=\"approve\"") && page.html.contains("value=\"deny\""));
    assert!(page.fields["csrf_token"].len() >= 32);
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"));
    assert_eq!(page.headers["x-frame-options"], "DENY");
    assert!(page.headers["set-cookie"].to_str().unwrap().contains("HttpOnly"));
    server.shutdown().await;
}

#[tokio::test]
async fn approve_issues_a_code_and_deny_returns_access_denied() {
    let server = start_server(false).await;
    let http = http();
    let client = register_public(&http, &server).await;

    let page = open_consent(&http, &server, &client.client_id).await;
    let resp = decide(&http, &server, &page, "approve", Some(&page.cookie)).await;
    assert_eq!(resp.status(), StatusCode::FOUND);
    let (_, q) = location_params(resp.headers());
    assert!(q.contains_key("code"));
    assert_eq!(q["state"], "xyz-state");
    assert_eq!(q["iss"], issuer(&server));
    // The code works.
    let resp = exchange_code(&http, &server, &client.client_id, &q["code"], &pkce("consent").verifier).await;
    assert_eq!(resp.status(), StatusCode::OK);
    // A consent answers once.
    let resp = decide(&http, &server, &page, "approve", Some(&page.cookie)).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.headers().get("location").is_none());

    // (Approving is remembered, so ask for another client to see Deny.)
    let client = register_public(&http, &server).await;
    let page = open_consent(&http, &server, &client.client_id).await;
    let resp = decide(&http, &server, &page, "deny", Some(&page.cookie)).await;
    assert_eq!(resp.status(), StatusCode::FOUND);
    let (_, q) = location_params(resp.headers());
    assert_eq!(q["error"], "access_denied");
    assert_eq!(q["state"], "xyz-state");
    assert_eq!(q["iss"], issuer(&server));
    assert!(!q.contains_key("code"));
    server.shutdown().await;
}

#[tokio::test]
async fn decision_without_the_csrf_cookie_is_refused() {
    let server = start_server(false).await;
    let http = http();
    let client = register_public(&http, &server).await;

    let page = open_consent(&http, &server, &client.client_id).await;
    let resp = decide(&http, &server, &page, "approve", None).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(resp.headers().get("location").is_none());

    let page = open_consent(&http, &server, &client.client_id).await;
    let resp = decide(&http, &server, &page, "approve", Some("superdynamic_csrf=forged")).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);

    let resp = http
        .post(url(&server, "/authorize/decision"))
        .form(&[("consent_id", "nope"), ("csrf_token", "x"), ("decision", "approve")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    server.shutdown().await;
}

#[tokio::test]
async fn sign_in_is_required_and_checks_the_password() {
    let server = start_server(false).await;
    let http = http();
    let client = register_public(&http, &server).await;
    let p = pkce("signin");
    let mcp = server.mcp_url().to_string();
    let query = authorize_params(&mcp, &client.client_id, &p.challenge, "mcp:tools");
    let page = authorize_raw(&http, &server, &query).await;
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    let (session, resp) = sign_in_from(&http, &server, page, "demo", "wrong").await;
    assert!(session.is_none());
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(resp.text().await.unwrap().contains("Wrong username or password"));

    // Without the login CSRF cookie the form is refused.
    let resp = http
        .post(url(&server, "/login"))
        .form(&[("username", "demo"), ("password", "demo"), ("csrf_token", "x"), ("return_to", "/consents")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);

    // The right password: a session cookie, back to /authorize (never elsewhere).
    let page = authorize_raw(&http, &server, &query).await;
    let (session, resp) = sign_in_from(&http, &server, page, "demo", "demo").await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert!(resp.headers()["location"].to_str().unwrap().starts_with("/authorize?"));
    let raw = resp.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).collect::<Vec<_>>();
    let session_header = raw.iter().find(|c| c.starts_with("superdynamic_session=")).unwrap();
    assert!(session_header.contains("HttpOnly") && session_header.contains("SameSite=Lax"));
    assert!(!session_header.contains("__Host-"), "no __Host- prefix without TLS");
    let page = open_consent_as(&http, &server, &client.client_id, &session.unwrap()).await;
    assert!(page.html.contains("<code>demo</code>"), "the consent names the signed-in user");
    server.shutdown().await;
}

#[tokio::test]
async fn consent_is_remembered_listed_and_revocable() {
    let server = start_server(false).await;
    let http = http();
    let client = register(
        &http,
        &server,
        serde_json::json!({
            "client_name": "Remembered App",
            "redirect_uris": [REDIRECT],
            "grant_types": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_method": "none"
        }),
    )
    .await;
    let session = demo_session(&http, &server, "/consents").await;
    let page = open_consent_as(&http, &server, &client.client_id, &session).await;
    let resp = decide(&http, &server, &page, "approve", Some(&page.cookie)).await;
    let (_, q) = location_params(resp.headers());
    let tokens: serde_json::Value =
        exchange_code(&http, &server, &client.client_id, &q["code"], &pkce("consent").verifier)
            .await
            .json()
            .await
            .unwrap();
    assert_eq!(jwt_payload(tokens["access_token"].as_str().unwrap())["sub"], "demo");
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();

    // Same scopes again: no consent page, straight back with a code.
    let mcp = server.mcp_url().to_string();
    let p = pkce("again");
    let resp = http
        .get(url(&server, "/authorize"))
        .query(&authorize_params(&mcp, &client.client_id, &p.challenge, "mcp:tools"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND);
    assert!(location_params(resp.headers()).1.contains_key("code"));
    // A wider scope asks again.
    let resp = http
        .get(url(&server, "/authorize"))
        .query(&authorize_params(&mcp, &client.client_id, &p.challenge, "mcp:tools profile:read"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.text().await.unwrap().contains("value=\"approve\""));

    // /consents lists it; revoking needs the session CSRF token.
    let html =
        http.get(url(&server, "/consents")).header("cookie", &session).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("Remembered App") && html.contains("mcp:tools files:read"), "{html}");
    let csrf = form_field(&html, "csrf_token");
    let resp = http
        .post(url(&server, "/consents/revoke"))
        .header("cookie", &session)
        .form(&[("client_id", client.client_id.as_str()), ("csrf_token", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let resp = http
        .post(url(&server, "/consents/revoke"))
        .header("cookie", &session)
        .form(&[("client_id", client.client_id.as_str()), ("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let html =
        http.get(url(&server, "/consents")).header("cookie", &session).send().await.unwrap().text().await.unwrap();
    assert!(!html.contains("Remembered App"));

    // The client's refresh token for this user is revoked, and it must ask again.
    let resp = token_request(
        &http,
        &server,
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh), ("client_id", &client.client_id)],
    )
    .await;
    assert_eq!(oauth_error(resp).await.2, "invalid_grant");
    let resp = http
        .get(url(&server, "/authorize"))
        .query(&authorize_params(&mcp, &client.client_id, &p.challenge, "mcp:tools"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "the consent page again");

    // Signed out: /consents asks to sign in.
    let resp = http
        .post(url(&server, "/logout"))
        .header("cookie", &session)
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let html =
        http.get(url(&server, "/consents")).header("cookie", &session).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("action=\"/login\""));
    server.shutdown().await;
}

#[tokio::test]
async fn users_file_with_hashed_passwords() {
    let dir = tempfile::tempdir().unwrap();
    let hash = superdynamic_server::hash_password("correct horse", 1000).unwrap();
    let path = dir.path().join("users.json");
    std::fs::write(&path, format!(r#"{{"users":[{{"username":"alice","password_hash":"{hash}"}}]}}"#)).unwrap();
    let server =
        superdynamic_server::start(superdynamic_server::ServerConfig { users_file: Some(path), ..test_config(false) })
            .await
            .unwrap();
    let http = http();
    let page = http.get(url(&server, "/consents")).send().await.unwrap();
    let (session, _) = sign_in_from(&http, &server, page, "demo", "demo").await;
    assert!(session.is_none(), "the default demo user is gone when a file is given");
    let page = http.get(url(&server, "/consents")).send().await.unwrap();
    let (session, resp) = sign_in_from(&http, &server, page, "alice", "correct horse").await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let html = http
        .get(url(&server, "/consents"))
        .header("cookie", session.unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("Signed in as <code>alice</code>"));
    server.shutdown().await;
}
