//! The consent page (auto_approve off): content, anti-framing, CSRF, and
//! both decisions.

mod common;

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
    let p = pkce("consent");
    let mcp = server.mcp_url().to_string();
    let resp =
        authorize_raw(http, server, &authorize_params(&mcp, client_id, &p.challenge, "mcp:tools files:read")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let headers = resp.headers().clone();
    let cookie = headers["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
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
