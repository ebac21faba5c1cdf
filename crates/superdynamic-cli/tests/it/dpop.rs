//! DPoP end to end (RFC 9449): the CLI against the reference server binds its tokens to a key, proves
//! possession on every request, refreshes with the same key, and handles server nonces; a token copied out of
//! the store is useless without the key.

use crate::common::Env;
use std::time::Duration;
use superdynamic_server::ServerConfig;

/// A bare POST over a TCP socket with these extra header lines, like `curl -H`; the status and the whole
/// response.
async fn post(url: &str, headers: &[String], content_type: &str, body: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let url = url::Url::parse(url).unwrap();
    let host = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap());
    let mut stream = tokio::net::TcpStream::connect(&host).await.unwrap();
    let extra: String = headers.iter().map(|h| format!("{h}\r\n")).collect();
    let request = format!(
        "POST {} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\nAccept: application/json, \
         text/event-stream\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        url.path(),
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut out = String::new();
    stream.read_to_string(&mut out).await.unwrap();
    (out.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0), out)
}

const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}"#;

fn weather(env: &Env) -> Vec<String> {
    ["call", &env.url(), "get_weather", "--args", r#"{"location":"Rome"}"#, "--non-interactive"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

async fn call_weather(env: &Env) -> crate::common::Run {
    let args = weather(env);
    env.run(&args.iter().map(String::as_str).collect::<Vec<_>>()).await
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_are_bound_to_a_key_and_a_stolen_token_is_refused_as_bearer() {
    let env = Env::start().await;
    env.run(&["login", &env.url(), "--auto-authorize"]).await.ok();
    let stored = env.stored();
    let tokens = &stored["credentials"][0]["tokens"];
    assert_eq!(tokens["token_type"], "DPoP", "{tokens}");
    let key = tokens["dpop_key"].as_str().unwrap();
    assert!(key.starts_with("ES256:"), "the key is stored with the tokens");
    env.run(&["tools", &env.url(), "--non-interactive"]).await.ok();
    let run = call_weather(&env).await;
    run.ok();
    assert!(run.stdout.contains("Rome"), "{}", run.stdout);

    // The access token copied out of the store, sent the way a thief would: refused, with the DPoP challenge.
    let token = tokens["access_token"].as_str().unwrap();
    let (status, response) =
        post(&env.url(), &[format!("Authorization: Bearer {token}")], "application/json", INITIALIZE).await;
    assert_eq!(status, 401, "{response}");
    let lower = response.to_ascii_lowercase();
    assert!(lower.contains(r#"www-authenticate: dpop error="invalid_token""#), "{response}");
    assert!(response.contains("bound to a DPoP key"), "{response}");
    // With the DPoP scheme but no proof (the thief has no key): refused too.
    let (status, response) =
        post(&env.url(), &[format!("Authorization: DPoP {token}")], "application/json", INITIALIZE).await;
    assert_eq!(status, 401, "{response}");
    assert!(response.contains(r#"error="invalid_dpop_proof""#), "{response}");
    assert!(response.contains("a DPoP proof is required"), "{response}");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refresh_keeps_the_key_and_a_stolen_refresh_token_is_useless() {
    let env = Env::with(ServerConfig { access_token_ttl: Duration::from_secs(2), ..ServerConfig::default() }).await;
    env.run(&["login", &env.url(), "--auto-authorize"]).await.ok();
    let before = env.stored()["credentials"][0].clone();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let run = call_weather(&env).await;
    run.ok();
    let after = env.stored()["credentials"][0].clone();
    assert_ne!(after["tokens"]["access_token"], before["tokens"]["access_token"], "the token was refreshed");
    assert_eq!(after["tokens"]["dpop_key"], before["tokens"]["dpop_key"], "with the same key");
    assert_eq!(after["tokens"]["token_type"], "DPoP");

    // The public client's refresh token is bound to the key: without a proof the server refuses it.
    let issuer = after["issuer"].as_str().unwrap();
    let body = format!(
        "grant_type=refresh_token&refresh_token={}&client_id={}",
        after["tokens"]["refresh_token"].as_str().unwrap(),
        after["registration"]["client_id"].as_str().unwrap()
    );
    let (status, response) = post(&format!("{issuer}/token"), &[], "application/x-www-form-urlencoded", &body).await;
    assert_eq!(status, 400, "{response}");
    assert!(response.contains("invalid_dpop_proof") && response.contains("bound to a DPoP key"), "{response}");
    // The CLI, with the key, still refreshes.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    call_weather(&env).await.ok();

    // Logout forgets the tokens and their key.
    env.run(&["logout", &env.url()]).await.ok();
    let stored = std::fs::read_to_string(env.store()).unwrap();
    assert!(!stored.contains("dpop_key"), "{stored}");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn server_nonces_are_picked_up_at_the_token_endpoint_and_the_resource() {
    let env = Env::with(ServerConfig { dpop_nonce: true, ..ServerConfig::default() }).await;
    env.run(&["login", &env.url(), "--auto-authorize"]).await.ok();
    assert_eq!(env.stored()["credentials"][0]["tokens"]["token_type"], "DPoP");
    let run = call_weather(&env).await;
    run.ok();
    assert!(run.stdout.contains("Rome"), "{}", run.stdout);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn dpop_never_keeps_bearer_tokens() {
    let env = Env::start().await;
    env.run(&["login", &env.url(), "--auto-authorize", "--dpop", "never"]).await.ok();
    let stored = env.stored();
    let tokens = &stored["credentials"][0]["tokens"];
    assert_eq!(tokens["token_type"], "Bearer");
    assert!(tokens.get("dpop_key").is_none(), "{tokens}");
    let args = weather(&env);
    let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
    args.extend(["--dpop", "never"]);
    env.run(&args).await.ok();
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_takes_only_eddsa_or_rs256_gets_keys_of_that_kind_that_also_refresh() {
    use superdynamic_server::DpopAlg;
    for alg in [DpopAlg::EdDsa, DpopAlg::Rs256] {
        let env = Env::with(ServerConfig {
            dpop_algs: vec![alg],
            access_token_ttl: Duration::from_secs(2),
            ..ServerConfig::default()
        })
        .await;
        let metadata_url =
            url::Url::parse(&env.url()).unwrap().join("/.well-known/oauth-authorization-server").unwrap();
        superdynamic::tls::client_config(); // rustls's ring provider, for reqwest
        let metadata: serde_json::Value = reqwest::get(metadata_url).await.unwrap().json().await.unwrap();
        assert_eq!(metadata["dpop_signing_alg_values_supported"], serde_json::json!([alg.name()]));
        env.run(&["login", &env.url(), "--auto-authorize"]).await.ok();
        let before = env.stored()["credentials"][0]["tokens"].clone();
        assert_eq!(before["token_type"], "DPoP", "{before}");
        let key = before["dpop_key"].as_str().unwrap();
        assert!(key.starts_with(&format!("{}:", alg.name())), "{} got a {} key", alg.name(), &key[..5]);
        let run = call_weather(&env).await;
        run.ok();
        assert!(run.stdout.contains("Rome"), "{}", run.stdout);
        // Expired: the refresh is signed with the same key and the call goes through.
        tokio::time::sleep(Duration::from_millis(2500)).await;
        call_weather(&env).await.ok();
        let after = env.stored()["credentials"][0]["tokens"].clone();
        assert_ne!(after["access_token"], before["access_token"], "refreshed");
        assert_eq!(after["dpop_key"], before["dpop_key"]);
        env.stop().await;
    }
}
