//! Hardening (issue #7): every endpoint answers malformed input with its protocol's error format and a 4xx,
//! never a 500 or a dropped connection; bodies are size-limited; /register and /token are rate-limited per
//! client address.

use crate::common;

use common::{http, start_server, test_config, url};
use reqwest::Method;
use serde_json::Value;
use superdynamic_server::{RateLimit, start};

/// (method, path, content type, body, expected status, expected OAuth `error` or None for an HTML/plain 4xx)
type Case = (&'static str, &'static str, Option<&'static str>, Vec<u8>, u16, Option<&'static str>);

fn form(body: &str) -> Vec<u8> {
    body.as_bytes().to_vec()
}

fn cases() -> Vec<Case> {
    let f = Some("application/x-www-form-urlencoded");
    let j = Some("application/json");
    let huge = vec![b'a'; 2 * 1024 * 1024];
    vec![
        // /register (RFC 7591 §3.2.2: invalid_client_metadata / invalid_redirect_uri)
        ("POST", "/register", j, form("{not json"), 400, Some("invalid_client_metadata")),
        ("POST", "/register", j, form("[]"), 400, Some("invalid_client_metadata")),
        ("POST", "/register", j, form("{}"), 400, Some("invalid_redirect_uri")),
        ("POST", "/register", j, form(r#"{"redirect_uris":"x"}"#), 400, Some("invalid_client_metadata")),
        (
            "POST",
            "/register",
            j,
            form(r#"{"redirect_uris":["javascript:alert(1)"]}"#),
            400,
            Some("invalid_redirect_uri"),
        ),
        ("POST", "/register", Some("text/plain"), form("hello"), 400, Some("invalid_client_metadata")),
        ("POST", "/register", None, Vec::new(), 400, Some("invalid_client_metadata")),
        ("POST", "/register", j, huge.clone(), 413, None),
        ("GET", "/register", None, Vec::new(), 405, None),
        ("GET", "/register/unknown-client", None, Vec::new(), 401, Some("invalid_token")),
        // /token (RFC 6749 §5.2)
        ("POST", "/token", f, form(""), 400, Some("invalid_request")),
        ("POST", "/token", f, form("grant_type=password&username=a&password=b"), 400, Some("unsupported_grant_type")),
        // No client at all: client authentication fails (RFC 6749 §5.2 invalid_client, 401).
        ("POST", "/token", f, form("grant_type=authorization_code"), 401, Some("invalid_client")),
        (
            "POST",
            "/token",
            f,
            form("grant_type=authorization_code&code=x&client_id=nobody&redirect_uri=x&code_verifier=x"),
            401,
            Some("invalid_client"),
        ),
        (
            "POST",
            "/token",
            f,
            form("grant_type=refresh_token&refresh_token=x&client_id=nobody"),
            401,
            Some("invalid_client"),
        ),
        ("POST", "/token", f, form("grant_type=a&grant_type=b"), 400, Some("invalid_request")),
        ("POST", "/token", f, form("%zz=%%%"), 400, Some("invalid_request")),
        ("POST", "/token", j, form(r#"{"grant_type":"client_credentials"}"#), 400, Some("invalid_request")),
        ("POST", "/token", f, vec![0xff, 0xfe, 0x00], 400, Some("invalid_request")),
        ("POST", "/token", f, huge.clone(), 413, None),
        ("GET", "/token", None, Vec::new(), 405, None),
        // /revoke (RFC 7009 §2.2.1) and /introspect (RFC 7662 §2.3)
        ("POST", "/revoke", f, form(""), 401, Some("invalid_client")),
        ("POST", "/revoke", f, form("token=x&client_id=nobody"), 401, Some("invalid_client")),
        ("POST", "/introspect", f, form(""), 401, Some("invalid_client")),
        ("POST", "/introspect", f, form("token=x"), 401, Some("invalid_client")),
        // /device_authorization (RFC 8628 §3.2)
        ("POST", "/device_authorization", f, form(""), 401, Some("invalid_client")),
        ("POST", "/device_authorization", f, form("client_id=nobody"), 401, Some("invalid_client")),
        // /authorize without a usable client or redirect: an error page, never a redirect (RFC 6749 §4.1.2.1)
        ("GET", "/authorize", None, Vec::new(), 400, None),
        ("GET", "/authorize?client_id=nobody&response_type=code", None, Vec::new(), 400, None),
        ("GET", "/authorize?client_id=a&client_id=b", None, Vec::new(), 400, None),
        ("GET", "/authorize?%zz", None, Vec::new(), 400, None),
        // Consent and session forms without their CSRF token or session: refused with an error page.
        ("POST", "/authorize/decision", f, form("garbage=1"), 400, None),
        ("POST", "/authorize/decision", f, form(""), 400, None),
        ("POST", "/login", f, form(""), 403, None),
        ("POST", "/consents/revoke", f, form("client_id=x"), 401, None),
        ("POST", "/device", f, form(""), 400, None),
        ("POST", "/device/decision", f, form(""), 400, None),
        // /mcp (RFC 6750 §3.1 challenges; MCP transports)
        ("POST", "/mcp", j, form("{}"), 401, None),
        ("POST", "/mcp", j, form("{not json"), 401, None),
        ("POST", "/mcp", j, huge, 413, None),
        // Unknown paths and methods
        ("GET", "/nope", None, Vec::new(), 404, None),
        ("DELETE", "/.well-known/oauth-authorization-server", None, Vec::new(), 405, None),
    ]
}

#[tokio::test]
async fn malformed_requests_get_the_right_4xx_and_error_code() {
    let server = start_server(false).await;
    let client = http();
    let mut failures = Vec::new();
    for (method, path, content_type, body, status, code) in cases() {
        let mut request = client.request(Method::from_bytes(method.as_bytes()).unwrap(), url(&server, path));
        if let Some(ct) = content_type {
            request = request.header("content-type", ct);
        }
        let response = match request.body(body).send().await {
            Ok(r) => r,
            // A server may cut a too-large upload short; that is a refusal too, but report it.
            Err(e) => {
                failures.push(format!("{method} {path}: no answer ({e})"));
                continue;
            }
        };
        let got = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        let error = serde_json::from_str::<Value>(&text).ok().and_then(|v| v["error"].as_str().map(str::to_string));
        if got != status || (code.is_some() && error.as_deref() != code) {
            failures.push(format!(
                "{method} {path}: expected {status} {code:?}, got {got} {error:?}: {}",
                text.chars().take(120).collect::<String>()
            ));
        }
        assert!(got < 500, "{method} {path} answered {got}: {text}");
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    server.shutdown().await;
}

#[tokio::test]
async fn register_and_token_are_rate_limited_per_address() {
    let mut config = test_config(true);
    config.rate_limit = RateLimit { burst: 3, per_minute: 1 };
    let server = start(config).await.unwrap();
    let client = http();
    for path in ["/token", "/register"] {
        let mut statuses = Vec::new();
        for _ in 0..4 {
            let response = client
                .post(url(&server, path))
                .header("content-type", "application/x-www-form-urlencoded")
                .body("grant_type=nothing")
                .send()
                .await
                .unwrap();
            statuses.push(response.status().as_u16());
            if response.status() == 429 {
                let retry_after: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
                assert!((1..=60).contains(&retry_after), "{retry_after}");
                let body: Value = response.json().await.unwrap();
                assert_eq!(body["error"], "temporarily_unavailable");
            }
        }
        assert_eq!(statuses[3], 429, "{path}: {statuses:?}");
        assert!(statuses[..3].iter().all(|s| *s != 429), "{path}: {statuses:?}");
    }
    // Other endpoints are not limited.
    for _ in 0..10 {
        let r = client.get(url(&server, "/.well-known/oauth-authorization-server")).send().await.unwrap();
        assert_eq!(r.status(), 200);
    }
    server.shutdown().await;
}
