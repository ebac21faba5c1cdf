//! The device authorization grant (RFC 8628): `/device_authorization`, the
//! `/device` verification and consent pages, and polling at `/token`.

use crate::common;

use std::collections::HashMap;
use std::time::Duration;

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use superdynamic_server::{RunningServer, ServerConfig, start};

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
const ALPHABET: &str = "BCDFGHJKLMNPQRSTVWXZ";

type Form<'a> = &'a [(&'a str, &'a str)];

async fn start_with(auto_approve: bool, tweak: impl FnOnce(&mut ServerConfig)) -> RunningServer {
    let mut config = test_config(auto_approve);
    tweak(&mut config);
    start(config).await.unwrap()
}

/// A public device-only client that may refresh.
async fn register_device_client(http: &reqwest::Client, server: &RunningServer, name: &str) -> Registered {
    register(
        http,
        server,
        json!({
            "client_name": name,
            "grant_types": [DEVICE_GRANT, "refresh_token"],
            "token_endpoint_auth_method": "none",
        }),
    )
    .await
}

async fn device_authorization(
    http: &reqwest::Client,
    server: &RunningServer,
    form: &[(&str, &str)],
) -> reqwest::Response {
    http.post(url(server, "/device_authorization")).form(form).send().await.unwrap()
}

/// Starts a device authorization and returns its JSON answer.
async fn start_device(http: &reqwest::Client, server: &RunningServer, client_id: &str, scope: &str) -> Value {
    let mcp = server.mcp_url().to_string();
    let resp =
        device_authorization(http, server, &[("client_id", client_id), ("scope", scope), ("resource", &mcp)]).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    resp.json().await.unwrap()
}

async fn poll(http: &reqwest::Client, server: &RunningServer, client_id: &str, device_code: &str) -> reqwest::Response {
    token_request(http, server, &[("grant_type", DEVICE_GRANT), ("device_code", device_code), ("client_id", client_id)])
        .await
}

async fn poll_error(http: &reqwest::Client, server: &RunningServer, client_id: &str, device_code: &str) -> String {
    let (status, headers, error, _) = oauth_error(poll(http, server, client_id, device_code).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert_eq!(headers["cache-control"], "no-store");
    error
}

async fn enter_code(http: &reqwest::Client, server: &RunningServer, user_code: &str) -> reqwest::Response {
    http.post(url(server, "/device")).form(&[("user_code", user_code)]).send().await.unwrap()
}

fn hidden_field(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).expect("hidden field") + marker.len();
    let end = start + html[start..].find('"').unwrap();
    html[start..end].to_owned()
}

fn assert_page_headers(headers: &reqwest::header::HeaderMap) {
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["cache-control"], "no-store");
}

struct Consent {
    html: String,
    fields: HashMap<&'static str, String>,
    cookie: String,
}

/// Enters the code and returns the consent page it leads to.
async fn open_consent(http: &reqwest::Client, server: &RunningServer, user_code: &str) -> Consent {
    let resp = enter_code(http, server, user_code).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_page_headers(resp.headers());
    let set_cookie = resp.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"), "{set_cookie}");
    assert!(set_cookie.contains("Path=/device"), "{set_cookie}");
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let html = resp.text().await.unwrap();
    let fields = ["user_code", "csrf_token"].into_iter().map(|f| (f, hidden_field(&html, f))).collect();
    Consent { html, fields, cookie }
}

async fn decide(
    http: &reqwest::Client,
    server: &RunningServer,
    consent: &Consent,
    decision: &str,
    cookie: Option<&str>,
) -> reqwest::Response {
    let mut req = http.post(url(server, "/device/decision")).form(&[
        ("user_code", consent.fields["user_code"].as_str()),
        ("csrf_token", consent.fields["csrf_token"].as_str()),
        ("decision", decision),
    ]);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    req.send().await.unwrap()
}

/// A fast-polling server without auto-approve, for flows that poll twice.
async fn consent_server() -> RunningServer {
    start_with(false, |c| c.device_poll_interval = Duration::from_millis(100)).await
}

/// Waits out the 100 ms test polling interval.
async fn wait_interval() {
    tokio::time::sleep(Duration::from_millis(150)).await;
}

#[tokio::test]
async fn auto_approve_happy_path_ends_in_a_working_mcp_call() {
    let server = start_server(true).await;
    let http = http();
    let client = register_device_client(&http, &server, "TV App").await;
    assert_eq!(client.body["grant_types"], json!([DEVICE_GRANT, "refresh_token"]));
    let iss = issuer(&server);

    let answer = start_device(&http, &server, &client.client_id, "mcp:tools files:read").await;
    let user_code = answer["user_code"].as_str().unwrap();
    let (a, b) = user_code.split_once('-').expect("XXXX-XXXX");
    assert!(a.len() == 4 && b.len() == 4, "{user_code}");
    assert!(a.chars().chain(b.chars()).all(|c| ALPHABET.contains(c)), "{user_code}");
    assert_eq!(answer["verification_uri"], format!("{iss}/device"));
    assert_eq!(answer["verification_uri_complete"], format!("{iss}/device?user_code={user_code}"));
    assert_eq!(answer["expires_in"], 600);
    assert_eq!(answer["interval"], 5);
    let device_code = answer["device_code"].as_str().unwrap();
    assert!(device_code.len() >= 32);

    // The complete URI pre-fills the form; GET changes nothing.
    let resp = http.get(answer["verification_uri_complete"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_page_headers(resp.headers());
    let html = resp.text().await.unwrap();
    assert!(html.contains(&format!("value=\"{user_code}\"")), "pre-filled");
    assert!(html.contains("action=\"/device\""));
    assert_eq!(poll_error(&http, &server, &client.client_id, device_code).await, "authorization_pending");

    // Entering the code (case and separator do not matter) approves at once.
    let typed = format!("{} {}", a.to_lowercase(), b.to_lowercase());
    let resp = enter_code(&http, &server, &typed).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_page_headers(resp.headers());
    assert!(resp.text().await.unwrap().contains("TV App can now access your account"));

    let resp = poll(&http, &server, &client.client_id, device_code).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let tokens: Value = resp.json().await.unwrap();
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["scope"], "mcp:tools files:read");
    assert!(tokens["refresh_token"].is_string());
    let at = tokens["access_token"].as_str().unwrap();

    let session = mcp_initialize(&http, &server, at).await;
    let reply = call_tool(&http, &server, at, &session, "get_weather", json!({"location": "Oslo"})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.raw);
    let result = reply.message.unwrap()["result"].clone();
    assert_ne!(result["isError"], true);
    assert!(result["content"][0]["text"].as_str().unwrap().contains("Oslo"));

    // The refresh token works like any other.
    let resp = token_request(
        &http,
        &server,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ("client_id", &client.client_id),
        ],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    server.shutdown().await;
}

#[tokio::test]
async fn a_device_code_is_single_use_and_a_replay_revokes_its_tokens() {
    let server = start_server(true).await;
    let http = http();
    let client = register_device_client(&http, &server, "TV").await;
    let answer = start_device(&http, &server, &client.client_id, "mcp:tools").await;
    let device_code = answer["device_code"].as_str().unwrap();
    assert_eq!(enter_code(&http, &server, answer["user_code"].as_str().unwrap()).await.status(), StatusCode::OK);
    let resp = poll(&http, &server, &client.client_id, device_code).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let tokens: Value = resp.json().await.unwrap();

    assert_eq!(poll_error(&http, &server, &client.client_id, device_code).await, "invalid_grant");
    let resp = token_request(
        &http,
        &server,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ("client_id", &client.client_id),
        ],
    )
    .await;
    assert_eq!(oauth_error(resp).await.2, "invalid_grant", "the replay revoked the refresh token family");

    // The code page no longer accepts the used user code either.
    let resp = enter_code(&http, &server, answer["user_code"].as_str().unwrap()).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.text().await.unwrap().contains("already been used"));
    server.shutdown().await;
}

#[tokio::test]
async fn consent_page_then_approve_issues_tokens() {
    let server = consent_server().await;
    let http = http();
    let client = register_device_client(&http, &server, "Acme <TV>").await;
    let answer = start_device(&http, &server, &client.client_id, "mcp:tools files:read").await;
    let user_code = answer["user_code"].as_str().unwrap();
    let device_code = answer["device_code"].as_str().unwrap();
    assert_eq!(answer["interval"], 1, "100 ms rounds up to whole seconds");

    // The entry page.
    let resp = http.get(url(&server, "/device")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_page_headers(resp.headers());
    let html = resp.text().await.unwrap();
    assert!(html.contains("name=\"user_code\"") && html.contains("value=\"\""));

    let consent = open_consent(&http, &server, user_code).await;
    assert!(consent.html.contains("Acme &lt;TV&gt;"), "escaped client name");
    assert!(!consent.html.contains("<TV>"));
    assert!(consent.html.contains(user_code), "the code is shown for comparison");
    assert!(consent.html.contains("Read the files") && consent.html.contains("files:read"));
    assert!(consent.html.contains("value=\"approve\"") && consent.html.contains("value=\"deny\""));
    assert!(consent.fields["csrf_token"].len() >= 32);
    assert_eq!(poll_error(&http, &server, &client.client_id, device_code).await, "authorization_pending");

    // CSRF: without the cookie, or with a forged one, nothing happens.
    let resp = decide(&http, &server, &consent, "approve", None).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let resp = decide(&http, &server, &consent, "approve", Some("superdynamic_device_csrf=forged")).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    wait_interval().await;
    assert_eq!(poll_error(&http, &server, &client.client_id, device_code).await, "authorization_pending");

    let resp = decide(&http, &server, &consent, "approve", Some(&consent.cookie)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_page_headers(resp.headers());
    assert!(resp.text().await.unwrap().contains("Device connected"));
    // A decision answers once.
    let resp = decide(&http, &server, &consent, "deny", Some(&consent.cookie)).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);

    wait_interval().await;
    let resp = poll(&http, &server, &client.client_id, device_code).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let tokens: Value = resp.json().await.unwrap();
    assert_eq!(tokens["scope"], "mcp:tools files:read");
    let session = mcp_initialize(&http, &server, tokens["access_token"].as_str().unwrap()).await;
    assert!(!session.is_empty());
    server.shutdown().await;
}

#[tokio::test]
async fn deny_gives_access_denied() {
    let server = consent_server().await;
    let http = http();
    let client = register_device_client(&http, &server, "TV").await;
    let answer = start_device(&http, &server, &client.client_id, "mcp:tools").await;
    let device_code = answer["device_code"].as_str().unwrap();
    let consent = open_consent(&http, &server, answer["user_code"].as_str().unwrap()).await;
    let resp = decide(&http, &server, &consent, "deny", Some(&consent.cookie)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.text().await.unwrap().contains("Access denied"));
    assert_eq!(poll_error(&http, &server, &client.client_id, device_code).await, "access_denied");
    wait_interval().await;
    assert_eq!(poll_error(&http, &server, &client.client_id, device_code).await, "access_denied");
    server.shutdown().await;
}

#[tokio::test]
async fn polling_too_fast_gets_slow_down() {
    // The default 5 s interval.
    let server = start_server(false).await;
    let http = http();
    let client = register_device_client(&http, &server, "TV").await;
    let answer = start_device(&http, &server, &client.client_id, "mcp:tools").await;
    let device_code = answer["device_code"].as_str().unwrap();
    assert_eq!(poll_error(&http, &server, &client.client_id, device_code).await, "authorization_pending");
    assert_eq!(poll_error(&http, &server, &client.client_id, device_code).await, "slow_down");
    assert_eq!(poll_error(&http, &server, &client.client_id, device_code).await, "slow_down");
    server.shutdown().await;

    // With a short interval, slow_down adds 5 s: waiting the original
    // interval is no longer enough.
    let server = consent_server().await;
    let client = register_device_client(&http, &server, "TV").await;
    let answer = start_device(&http, &server, &client.client_id, "mcp:tools").await;
    let device_code = answer["device_code"].as_str().unwrap();
    assert_eq!(poll_error(&http, &server, &client.client_id, device_code).await, "authorization_pending");
    wait_interval().await;
    assert_eq!(poll_error(&http, &server, &client.client_id, device_code).await, "authorization_pending");
    assert_eq!(poll_error(&http, &server, &client.client_id, device_code).await, "slow_down");
    wait_interval().await;
    assert_eq!(poll_error(&http, &server, &client.client_id, device_code).await, "slow_down");
    server.shutdown().await;
}

#[tokio::test]
async fn an_expired_device_code_gives_expired_token() {
    let server = start_with(false, |c| {
        c.device_code_ttl = Duration::from_secs(1);
        c.device_poll_interval = Duration::ZERO;
    })
    .await;
    let http = http();
    let client = register_device_client(&http, &server, "TV").await;
    let answer = start_device(&http, &server, &client.client_id, "mcp:tools").await;
    assert_eq!(answer["expires_in"], 1);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let device_code = answer["device_code"].as_str().unwrap();
    assert_eq!(poll_error(&http, &server, &client.client_id, device_code).await, "expired_token");
    let resp = enter_code(&http, &server, answer["user_code"].as_str().unwrap()).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.text().await.unwrap().contains("has expired"));
    server.shutdown().await;
}

#[tokio::test]
async fn a_wrong_user_code_is_refused_with_a_clear_page() {
    let server = start_server(true).await;
    let http = http();
    // Well-formed but never issued (1 in 20^8 to collide; nothing was issued).
    let resp = enter_code(&http, &server, "BCDF-GHJK").await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_page_headers(resp.headers());
    let html = resp.text().await.unwrap();
    assert!(html.contains("The code BCDF-GHJK is not valid"), "{html}");
    assert!(html.contains("action=\"/device\""), "the form is shown again");

    // Malformed input is named as such, and escaped.
    let resp = enter_code(&http, &server, "<b>x</b>").await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let html = resp.text().await.unwrap();
    assert!(html.contains("not a valid code"));
    assert!(html.contains("&lt;b&gt;x&lt;/b&gt;") && !html.contains("<b>x</b>"));

    let resp = enter_code(&http, &server, "").await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.text().await.unwrap().contains("Enter the code"));
    server.shutdown().await;
}

#[tokio::test]
async fn device_authorization_checks_the_client_scope_and_resource() {
    let server = start_server(true).await;
    let http = http();
    let device = register_device_client(&http, &server, "TV").await;
    let id = device.client_id.as_str();

    let cases: [(Form, StatusCode, &str); 5] = [
        (&[("client_id", id), ("resource", "https://other.example/mcp")], StatusCode::BAD_REQUEST, "invalid_target"),
        (&[("client_id", id), ("scope", "mcp:tools admin")], StatusCode::BAD_REQUEST, "invalid_scope"),
        (&[("client_id", "nobody")], StatusCode::UNAUTHORIZED, "invalid_client"),
        (&[("scope", "mcp:tools")], StatusCode::UNAUTHORIZED, "invalid_client"),
        (&[("client_id", id), ("client_secret", "x")], StatusCode::UNAUTHORIZED, "invalid_client"),
    ];
    for (form, status, code) in cases {
        let (s, headers, error, _) = oauth_error(device_authorization(&http, &server, form).await).await;
        assert_eq!((s, error.as_str()), (status, code), "{form:?}");
        assert_eq!(headers["cache-control"], "no-store");
    }

    // A client that did not register the grant.
    let web = register_public(&http, &server).await;
    let (s, _, error, _) =
        oauth_error(device_authorization(&http, &server, &[("client_id", &web.client_id)]).await).await;
    assert_eq!((s, error.as_str()), (StatusCode::BAD_REQUEST, "unauthorized_client"));

    // No scope → the default scope; no resource → the MCP endpoint.
    let resp = device_authorization(&http, &server, &[("client_id", id)]).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let answer: Value = resp.json().await.unwrap();
    enter_code(&http, &server, answer["user_code"].as_str().unwrap()).await;
    let tokens: Value = poll(&http, &server, id, answer["device_code"].as_str().unwrap()).await.json().await.unwrap();
    assert_eq!(tokens["scope"], "mcp:tools");

    // Another client cannot redeem someone else's device code.
    let other = register_device_client(&http, &server, "Other").await;
    let answer = start_device(&http, &server, id, "mcp:tools").await;
    enter_code(&http, &server, answer["user_code"].as_str().unwrap()).await;
    let code = answer["device_code"].as_str().unwrap();
    assert_eq!(poll_error(&http, &server, &other.client_id, code).await, "invalid_grant");
    assert_eq!(poll(&http, &server, id, code).await.status(), StatusCode::OK);
    assert_eq!(poll_error(&http, &server, id, "made-up").await, "invalid_grant");
    server.shutdown().await;
}

#[tokio::test]
async fn confidential_clients_authenticate_at_both_endpoints() {
    let server = start_server(true).await;
    let http = http();
    let client = register(
        &http,
        &server,
        json!({"client_name": "Box", "grant_types": [DEVICE_GRANT], "token_endpoint_auth_method": "client_secret_basic"}),
    )
    .await;
    assert_eq!(client.body["response_types"], json!([]));
    let id = client.client_id.as_str();
    let secret = client.client_secret.clone().unwrap();

    let resp = http
        .post(url(&server, "/device_authorization"))
        .basic_auth(id, Some("wrong"))
        .form(&[("scope", "mcp:tools")])
        .send()
        .await
        .unwrap();
    let (status, headers, error, _) = oauth_error(resp).await;
    assert_eq!((status, error.as_str()), (StatusCode::UNAUTHORIZED, "invalid_client"));
    assert!(headers["www-authenticate"].to_str().unwrap().starts_with("Basic"));

    let resp = http
        .post(url(&server, "/device_authorization"))
        .basic_auth(id, Some(&secret))
        .form(&[("scope", "mcp:tools")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let answer: Value = resp.json().await.unwrap();
    enter_code(&http, &server, answer["user_code"].as_str().unwrap()).await;
    let poll_with = |secret: String| {
        http.post(url(&server, "/token"))
            .basic_auth(id, Some(secret))
            .form(&[("grant_type", DEVICE_GRANT), ("device_code", answer["device_code"].as_str().unwrap())])
            .send()
    };
    let (status, _, error, _) = oauth_error(poll_with("wrong".into()).await.unwrap()).await;
    assert_eq!((status, error.as_str()), (StatusCode::UNAUTHORIZED, "invalid_client"));
    let resp = poll_with(secret).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let tokens: Value = resp.json().await.unwrap();
    assert!(tokens.get("refresh_token").is_none(), "no refresh_token grant registered");
    server.shutdown().await;
}

#[tokio::test]
async fn registration_and_metadata() {
    let server = start_server(true).await;
    let http = http();
    let iss = issuer(&server);
    for path in ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"] {
        let m: Value = http.get(url(&server, path)).send().await.unwrap().json().await.unwrap();
        assert_eq!(m["device_authorization_endpoint"], format!("{iss}/device_authorization"), "{path}");
        assert!(m["grant_types_supported"].as_array().unwrap().contains(&json!(DEVICE_GRANT)), "{path}");
    }

    // Device-only clients need no redirect URI but must not ask for "code".
    for bad in [
        json!({"grant_types": [DEVICE_GRANT], "response_types": ["code"]}),
        json!({"grant_types": ["refresh_token"]}),
        json!({"grant_types": ["authorization_code", DEVICE_GRANT]}),
    ] {
        let resp = http.post(url(&server, "/register")).json(&bad).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    // Both grants together, with a redirect URI, are fine.
    let both = register(
        &http,
        &server,
        json!({"redirect_uris": [REDIRECT], "grant_types": ["authorization_code", DEVICE_GRANT], "token_endpoint_auth_method": "none"}),
    )
    .await;
    assert_eq!(both.body["response_types"], json!(["code"]));
    let resp = device_authorization(&http, &server, &[("client_id", &both.client_id)]).await;
    assert_eq!(resp.status(), StatusCode::OK);
    server.shutdown().await;
}
