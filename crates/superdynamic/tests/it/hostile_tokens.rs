//! Hostile servers after discovery: broken token responses, odd scopes, forged and concurrent callbacks, a
//! confused-deputy step-up, and an authorization server that changes between runs.

use crate::hostile_common;

use hostile_common::{Config, Hostile, Setup};
use serde_json::{Value, json};
use superdynamic::authorization::{CallbackListener, PendingAuthorization, PkceVerifier};
use superdynamic::resource::Issuer;
use superdynamic::{Error, token::TokenError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn stored(setup: &Setup) -> Value {
    serde_json::from_str(&setup.store_text().unwrap()).unwrap()
}

#[tokio::test]
async fn unusable_token_responses_are_refused_and_nothing_is_stored() {
    for (patch, needle) in [
        (json!({"token_type": null}), "no token_type"),
        (json!({"token_type": "mac"}), "is not Bearer"),
        (json!({"token_type": "DPoP"}), "is not Bearer"),
        (json!({"expires_in": -5}), "not a sensible lifetime"),
        (json!({"expires_in": 1e30}), "not a sensible lifetime"),
        (json!({"expires_in": 99_999_999_999u64}), "not a sensible lifetime"),
        (json!({"access_token": ""}), "empty access_token"),
        (json!({"access_token": 42}), "not a token response"),
    ] {
        let server = Hostile::start(Config { token_patch: Some(patch.clone()), ..Config::default() }).await;
        let setup = Setup::new();
        let err = setup.client(&server).list_tools().await.unwrap_err();
        assert!(matches!(&err, Error::Token(TokenError::InvalidResponse(m)) if m.contains(needle)), "{patch}: {err}");
        assert_eq!(setup.store_text(), None, "{patch}");
        assert!(server.requests().iter().all(|r| r.authorization().is_none()), "{patch}: no token was used");
        server.stop().await;
    }
}

#[tokio::test]
async fn a_wider_scope_is_accepted_and_recorded() {
    let server = Hostile::start(Config { token_patch: Some(json!({"scope": "mcp admin"})), ..Config::default() }).await;
    let setup = Setup::new();
    setup.client(&server).list_tools().await.unwrap();
    assert_eq!(stored(&setup)["credentials"][0]["tokens"]["scope"], "mcp admin");
    server.stop().await;
}

#[tokio::test]
async fn a_narrower_scope_is_recorded_as_granted() {
    // Asked "mcp files:read", granted "mcp": stored as "mcp" (a warning is logged; see token::scope_difference).
    let server = Hostile::start(Config { token_patch: Some(json!({"scope": "mcp"})), ..Config::default() }).await;
    let challenge = format!(
        "Bearer resource_metadata=\"{}/.well-known/oauth-protected-resource/mcp\", scope=\"mcp files:read\"",
        server.base
    );
    server.configure(|c| c.www_authenticate = Some(vec![challenge]));
    let setup = Setup::new();
    setup.client(&server).list_tools().await.unwrap();
    let authorize = server.requests().into_iter().find(|r| r.path == "/authorize").unwrap();
    assert!(authorize.query.contains("scope=mcp+files%3Aread"), "{}", authorize.query);
    assert_eq!(stored(&setup)["credentials"][0]["tokens"]["scope"], "mcp");
    server.stop().await;
}

#[tokio::test]
async fn a_confused_deputy_step_up_is_bounded_and_bound_to_this_resource() {
    // After sign-in the server demands a scope it never advertised. The spec's rules apply: the step-up goes to
    // the same authorization server, for this resource only (RFC 8707), and stops after two attempts.
    let server = Hostile::start(Config::default()).await;
    let setup = Setup::new();
    let client = setup.client(&server);
    client.list_tools().await.unwrap();
    server.configure(|c| c.forbid_scope = Some("admin:everything payments:write".into()));
    let err = client.list_tools().await.unwrap_err();
    assert!(matches!(err, Error::StepUpLimit { attempts: 2, .. }), "{err}");
    assert!(err.to_string().contains("admin:everything"), "{err}");
    let authorizes: Vec<_> = server.requests().into_iter().filter(|r| r.path == "/authorize").collect();
    assert_eq!(authorizes.len(), 3, "one sign-in and two step-ups");
    let resource = format!("resource={}", url_encode(&server.mcp_url()));
    for a in &authorizes {
        assert!(a.query.contains(&resource), "{}", a.query);
    }
    server.assert_no_token_leak(&server.issued_tokens());
    server.stop().await;
}

fn url_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn credentials_are_not_carried_over_when_the_authorization_server_changes() {
    let server = Hostile::start(Config::default()).await;
    let new_as = Hostile::start(Config::default()).await;
    let setup = Setup::new();
    setup.client(&server).list_tools().await.unwrap();
    let first = stored(&setup);
    let old_client_id = first["credentials"][0]["registration"]["client_id"].as_str().unwrap().to_string();
    let old_tokens = server.issued_tokens();
    // Between runs the resource moves to another authorization server and stops accepting the old tokens.
    server.configure(|c| {
        c.prm_patch = Some(json!({"authorization_servers": [new_as.base]}));
        c.rejected_tokens = old_tokens.clone();
        c.refuse_refresh = true;
    });
    setup.client(&server).list_tools().await.unwrap();
    for r in new_as.requests() {
        let everything = format!("{} {} {:?}", r.query, r.body, r.headers);
        assert!(!everything.contains(&old_client_id), "old client_id sent to the new AS: {}", r.path);
        for t in &old_tokens {
            assert!(!everything.contains(t.as_str()), "old token sent to the new AS: {}", r.path);
        }
        assert!(!everything.contains("RT-1"), "old refresh token sent to the new AS: {}", r.path);
    }
    assert_eq!(new_as.count("/register"), 1, "a fresh registration at the new issuer");
    let after = stored(&setup);
    let current = after["credentials"].as_array().unwrap().iter().find(|r| r["issuer"] == new_as.base.as_str());
    assert!(current.is_some(), "{after}");
    server.assert_no_token_leak(&[old_tokens, new_as.issued_tokens()].concat());
    new_as.stop().await;
    server.stop().await;
}

// --- the loopback listener ---------------------------------------------------------------------------------------

fn pending() -> PendingAuthorization {
    PendingAuthorization {
        state: "the-state".into(),
        verifier: PkceVerifier::generate().unwrap(),
        issuer: Issuer::new("https://as.example"),
        iss_parameter_supported: true,
        redirect_uri: String::new(),
        scope: None,
    }
}

async fn get(port: u16, target: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
    s.write_all(format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes()).await.ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).await.ok()?;
    Some(out)
}

#[tokio::test]
async fn many_concurrent_callbacks_yield_exactly_one_valid_result() {
    let listener = CallbackListener::bind(0).await.unwrap();
    let port = listener.port();
    let p = pending();
    let mut tasks = Vec::new();
    for i in 0..40 {
        let target = match i % 4 {
            0 => format!("/callback?code=forged-{i}&state=wrong&iss=https%3A%2F%2Fas.example"),
            1 => format!("/other?code=c{i}&state=the-state&iss=https%3A%2F%2Fas.example"),
            2 => "/callback?state=the-state&state=the-state&code=dup".to_string(),
            _ => format!("/callback?code=good-{i}&state=the-state&iss=https%3A%2F%2Fas.example"),
        };
        tasks.push(tokio::spawn(async move { get(port, &target).await }));
    }
    let result = tokio::time::timeout(std::time::Duration::from_secs(10), listener.wait(&p)).await.unwrap();
    // Exactly one outcome: a valid code, or the one terminal refusal (a duplicated parameter) if it came first.
    match result {
        Ok(code) => assert!(code.secret().starts_with("good-"), "{}", code.secret()),
        Err(e) => assert!(e.to_string().contains("more than once"), "{e}"),
    }
    for t in tasks {
        let _ = t.await;
    }
    // The listener has shut down: a replayed callback finds nothing.
    assert!(get(port, "/callback?code=good-3&state=the-state&iss=https%3A%2F%2Fas.example").await.is_none());
}

#[tokio::test]
async fn strays_do_not_end_the_wait_and_a_replay_finds_nothing() {
    let listener = CallbackListener::bind(0).await.unwrap();
    let port = listener.port();
    let p = pending();
    let client = tokio::spawn(async move {
        let mut answers = Vec::new();
        for target in [
            "/",
            "/favicon.ico",
            "/callback?code=x&state=wrong",
            "/callback?code=x",
            "/callback/../callback?code=x&state=nope",
            "/callback?code=real&state=the-state&iss=https%3A%2F%2Fas.example",
        ] {
            answers.push(get(port, target).await.unwrap_or_default());
        }
        answers
    });
    let code = listener.wait(&p).await.unwrap();
    assert_eq!(code.secret(), "real");
    let answers = client.await.unwrap();
    assert!(answers[..5].iter().all(|a| a.starts_with("HTTP/1.1 4")), "{answers:?}");
    assert!(get(port, "/callback?code=real&state=the-state&iss=https%3A%2F%2Fas.example").await.is_none());
}
