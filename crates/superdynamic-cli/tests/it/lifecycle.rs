//! Credentials that never strand the user: sign-out with revocation, headless sign-in (pasted redirect, device
//! flow), two processes signing in at once, port forwarding, and a server that forgot its clients.

use crate::common;

use common::{Env, Interactive, find_url, free_port, http_get, http_post_form};
use std::time::Duration;
use superdynamic_server::{Database, ServerConfig};

#[tokio::test(flavor = "multi_thread")]
async fn logout_revokes_the_tokens_at_the_authorization_server() {
    let env = Env::start().await;
    env.run(&["login", &env.url(), "--auto-authorize"]).await.ok();
    let saved = std::fs::read(env.store()).unwrap();
    let run = env.run(&["logout", &env.url()]).await;
    run.ok();
    assert!(run.stdout.contains("revoked at the authorization server: refresh_token, access_token"), "{}", run.stdout);
    // Put the old credentials back: the server no longer honours either token.
    std::fs::write(env.store(), &saved).unwrap();
    let run = env.run(&["tools", &env.url(), "--non-interactive"]).await;
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stderr.contains("needs a new sign-in"), "{}", run.stderr);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn logout_can_keep_the_registration() {
    let env = Env::start().await;
    env.run(&["login", &env.url(), "--auto-authorize"]).await.ok();
    let client_id = env.stored()["credentials"][0]["registration"]["client_id"].clone();
    let run = env.run(&["logout", &env.url(), "--keep-registration"]).await;
    run.ok();
    assert!(run.stdout.contains("the client registration was kept"), "{}", run.stdout);
    let stored = env.stored();
    assert_eq!(stored["credentials"][0]["registration"]["client_id"], client_id);
    assert!(stored["credentials"][0]["tokens"].is_null());
    let run = env.run(&["clients"]).await;
    assert!(run.stdout.contains("registered, not signed in"), "{}", run.stdout);
    // Signing in again reuses the registration.
    let run = env.run(&["login", &env.url(), "--auto-authorize"]).await;
    run.ok();
    assert!(run.stderr.contains("Using client"), "{}", run.stderr);
    env.stop().await;
}

/// The authorization response as the browser would see it: the Location of the /authorize redirect.
async fn authorize_in_place_of_a_browser(authorization_url: &str) -> String {
    let (status, response) = http_get(authorization_url).await.unwrap();
    assert_eq!(status, 302, "{response}");
    let location = response.lines().find_map(|l| l.strip_prefix("location: ").or(l.strip_prefix("Location: ")));
    location.expect("Location header").trim().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn no_browser_accepts_the_pasted_redirect_and_checks_its_state() {
    let env = Env::start().await;
    let mut cli = Interactive::spawn(&env.store(), &["login", &env.url(), "--no-browser"]);
    let text = cli.wait_for("paste here").await;
    let url = find_url(&text, &format!("{}/authorize?", env.url().trim_end_matches("/mcp")));
    let redirect = authorize_in_place_of_a_browser(&url).await;
    assert!(redirect.contains("code=") && redirect.contains("iss="), "{redirect}");
    // A redirect of another sign-in is refused and the CLI keeps waiting.
    cli.type_line("http://127.0.0.1:1/callback?code=stale&state=not-this-one").await;
    cli.wait_for("That is not the redirect of this sign-in").await;
    cli.type_line(&redirect).await;
    let run = cli.finish().await;
    run.ok();
    assert!(run.stdout.contains("Signed in to"), "{}", run.stdout);
    assert!(env.stored()["credentials"][0]["tokens"]["access_token"].is_string());
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn device_flow_shows_a_code_and_polls_until_approved() {
    let env = Env::with(ServerConfig { device_poll_interval: Duration::from_secs(1), ..ServerConfig::default() }).await;
    let cli = Interactive::spawn(&env.store(), &["login", &env.url(), "--device"]);
    let text = cli.wait_for("enter the code").await;
    let code = text
        .lines()
        .map(str::trim)
        .find(|l| l.len() == 9 && l.as_bytes()[4] == b'-')
        .unwrap_or_else(|| panic!("no user code in:\n{text}"))
        .to_string();
    let device_page = find_url(&text, &format!("{}/device", env.url().trim_end_matches("/mcp")));
    let (status, page) = http_post_form(&device_page, &format!("user_code={code}")).await.unwrap();
    assert_eq!(status, 200, "{page}");
    let run = cli.finish().await;
    run.ok();
    assert!(run.stderr.contains("Signed in"), "{}", run.stderr);
    let run =
        env.run(&["call", &env.url(), "get_weather", "--args", r#"{"location":"Rome"}"#, "--non-interactive"]).await;
    run.ok();
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_sign_in_waits_for_the_first_instead_of_opening_another_tab() {
    let env = Env::start().await;
    let mut first = Interactive::spawn(&env.store(), &["login", &env.url(), "--no-browser"]);
    let text = first.wait_for("paste here").await;
    let second = Interactive::spawn(&env.store(), &["login", &env.url(), "--no-browser"]);
    second.wait_for("Another superdynamic process is signing in").await;
    let url = find_url(&text, &format!("{}/authorize?", env.url().trim_end_matches("/mcp")));
    first.type_line(&authorize_in_place_of_a_browser(&url).await).await;
    first.finish().await.ok();
    let run = second.finish().await;
    run.ok();
    assert!(!run.stderr.contains("Open this URL"), "the second process never asked the user: {}", run.stderr);
    assert!(run.stdout.contains("Signed in to"), "{}", run.stdout);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn redirect_uri_override_for_port_forwarding() {
    let env = Env::start().await;
    let port = free_port();
    let redirect = format!("http://127.0.0.1:{port}/forwarded/callback");
    let run = env.run(&["login", &env.url(), "--auto-authorize", "--redirect-uri", &redirect]).await;
    run.ok();
    assert_eq!(env.stored()["credentials"][0]["registration"]["redirect_uris"][0], redirect);
    let run = env.run(&["login", &env.url(), "--redirect-uri", "http://example.com/cb"]).await;
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("must be https, or http on a loopback address"), "{}", run.stderr);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_forgot_its_clients_gets_a_new_registration() {
    let port = free_port();
    let config = || ServerConfig {
        bind: format!("127.0.0.1:{port}").parse().unwrap(),
        database: Database::Memory,
        auto_approve: true,
        ..ServerConfig::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("credentials.json");
    let first = superdynamic_server::start(config()).await.unwrap();
    let url = first.mcp_url().to_string();
    common::run_with_store(&store, &["login", &url, "--auto-authorize"]).await.ok();
    let old: serde_json::Value = serde_json::from_slice(&std::fs::read(&store).unwrap()).unwrap();
    first.shutdown().await;

    // The same address, a fresh database: clients, refresh tokens and signing keys are gone.
    let second = superdynamic_server::start(config()).await.unwrap();
    let run = common::run_with_store(&store, &["tools", &url, "--auto-authorize"]).await;
    run.ok();
    assert!(run.stderr.contains("no longer accepts client"), "{}", run.stderr);
    let new: serde_json::Value = serde_json::from_slice(&std::fs::read(&store).unwrap()).unwrap();
    assert_ne!(new["credentials"][0]["registration"]["client_id"], old["credentials"][0]["registration"]["client_id"]);
    second.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_during_sign_in_leaves_the_store_unchanged() {
    let env = Env::start().await;
    env.run(&["login", &env.url(), "--auto-authorize"]).await.ok();
    let before = std::fs::read(env.store()).unwrap();
    let cli = Interactive::spawn(&env.store(), &["login", &env.url(), "--no-browser"]);
    cli.wait_for("paste here").await;
    let pid = cli.child.id().unwrap().to_string();
    let status = std::process::Command::new("kill").args(["-INT", &pid]).status().unwrap();
    assert!(status.success());
    let run = cli.finish().await;
    assert_ne!(run.code, 0);
    assert_eq!(std::fs::read(env.store()).unwrap(), before, "the store is exactly as it was");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_taken_callback_port_falls_back_and_registers_the_new_redirect() {
    let env = Env::start().await;
    env.run(&["login", &env.url(), "--auto-authorize"]).await.ok();
    let first = env.stored()["credentials"][0]["registration"].clone();
    let stable =
        superdynamic::client::stable_port("default", &superdynamic::resource::ResourceUri::parse(&env.url()).unwrap());
    assert_eq!(first["redirect_uris"][0], format!("http://127.0.0.1:{stable}/callback"));
    // Another program holds the stable port now.
    let _blocker = std::net::TcpListener::bind(("127.0.0.1", stable)).unwrap();
    let run = env.run(&["login", &env.url(), "--auto-authorize"]).await;
    run.ok();
    assert!(run.stderr.contains("Registered client"), "a new redirect URI needs a new registration: {}", run.stderr);
    let second = env.stored()["credentials"][0]["registration"].clone();
    assert_ne!(second["redirect_uris"][0], first["redirect_uris"][0]);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_confidential_client_refreshes_with_its_stored_secret() {
    let env = Env::start().await;
    let base = env.url().trim_end_matches("/mcp").to_string();
    let stable =
        superdynamic::client::stable_port("default", &superdynamic::resource::ResourceUri::parse(&env.url()).unwrap());
    // An operator registers a confidential client for us (RFC 7591 with client_secret_basic).
    let body = format!(
        r#"{{"client_name":"ops","redirect_uris":["http://127.0.0.1:{stable}/callback"],"grant_types":["authorization_code","refresh_token"],"token_endpoint_auth_method":"client_secret_basic"}}"#
    );
    let (status, response) = http_post_json(&format!("{base}/register"), &body).await;
    assert_eq!(status, 201, "{response}");
    let json: serde_json::Value = serde_json::from_str(response.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    let (id, secret) = (json["client_id"].as_str().unwrap(), json["client_secret"].as_str().unwrap());
    env.run(&["login", &env.url(), "--auto-authorize", "--client-id", id, "--client-secret", secret]).await.ok();
    assert_eq!(env.stored()["credentials"][0]["registration"]["auth_method"], "client_secret_basic");
    // No flags now: the refresh authenticates with the secret kept in the (0600) store; even trace logging
    // never shows it.
    let run = env.run(&["-vv", "refresh", &env.url()]).await;
    run.ok();
    assert!(!run.stderr.contains(secret) && !run.stdout.contains(secret), "the client secret leaked into the output");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_revoked_grant_leads_to_a_new_sign_in_when_interactive() {
    let env = Env::start().await;
    env.run(&["login", &env.url(), "--auto-authorize"]).await.ok();
    let saved = std::fs::read(env.store()).unwrap();
    env.run(&["logout", &env.url()]).await.ok();
    std::fs::write(env.store(), &saved).unwrap();
    // Both tokens are dead (invalid_grant on refresh): the CLI signs in again instead of failing.
    let run = env.run(&["tools", &env.url(), "--auto-authorize"]).await;
    run.ok();
    assert!(run.stderr.contains("Signed in"), "{}", run.stderr);
    env.stop().await;
}

async fn http_post_json(url: &str, body: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let url = url::Url::parse(url).unwrap();
    let mut stream = tokio::net::TcpStream::connect((url.host_str().unwrap(), url.port().unwrap())).await.unwrap();
    let request = format!(
        "POST {} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        url.path(),
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut out = String::new();
    stream.read_to_string(&mut out).await.unwrap();
    (out.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0), out)
}
