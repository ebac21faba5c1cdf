//! End-to-end tests: the real `superdynamic` binary against the reference server started in-process on
//! 127.0.0.1:0, each with its own temporary credential store. Every server is shut down by its test.

use crate::common;

use common::{Env, free_port, http_get, run_with_store};
use serde_json::Value;
use std::path::Path;
use std::time::Duration;
use superdynamic_server::ServerConfig;

#[tokio::test(flavor = "multi_thread")]
async fn first_run_discovers_registers_signs_in_and_lists_tools() {
    let env = Env::start().await;
    let run = env.run(&["tools", &env.url(), "--auto-authorize"]).await;
    run.ok();
    for tool in ["get_weather", "list_files", "read_file", "get_user_profile"] {
        assert!(run.stdout.contains(tool), "{tool} missing from:\n{}", run.stdout);
    }
    assert!(run.stderr.contains("Registered client"), "{}", run.stderr);
    assert!(run.stderr.contains("Signed in"), "{}", run.stderr);

    let stored = env.stored();
    let record = &stored["credentials"][0];
    assert_eq!(record["server"], env.url());
    assert_eq!(record["resource"], env.url());
    assert!(record["tokens"]["refresh_token"].is_string());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&env.store()), 0o600);
        assert_eq!(mode(env.store().parent().unwrap()), 0o700);
    }
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn cached_run_uses_the_stored_token_without_signing_in() {
    let env = Env::start().await;
    env.run(&["login", &env.url(), "--auto-authorize"]).await.ok();
    let before = env.stored();
    // --non-interactive: any need to sign in again would fail the run.
    let run =
        env.run(&["call", &env.url(), "get_weather", "--args", r#"{"location":"Paris"}"#, "--non-interactive"]).await;
    run.ok();
    assert!(run.stdout.contains("Paris"), "{}", run.stdout);
    assert!(!run.stderr.contains("Signed in") && !run.stderr.contains("Registered"), "{}", run.stderr);
    assert_eq!(env.stored()["credentials"][0]["tokens"], before["credentials"][0]["tokens"], "tokens untouched");

    // Global flags work after the subcommand, and --server-url instead of the positional URL.
    let run = env.run(&["tools", "--server-url", &env.url(), "--json", "--non-interactive"]).await;
    run.ok();
    let tools: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(tools.as_array().unwrap().len(), 4);
    let run = env.run(&["--json", "--server-url", &env.url(), "call", "get_user_profile", "--non-interactive"]).await;
    // get_user_profile needs profile:read, which --non-interactive may not sign in for.
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stderr.contains("needs a new sign-in (more scope is needed)"), "{}", run.stderr);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn expired_token_is_refreshed_before_use() {
    let env = Env::with(ServerConfig { access_token_ttl: Duration::from_secs(2), ..ServerConfig::default() }).await;
    env.run(&["login", &env.url(), "--auto-authorize"]).await.ok();
    let first = env.stored()["credentials"][0]["tokens"].clone();
    // A 2-second token is used for most of its life, then refreshed before use once it has expired.
    let run = env.run(&["tools", &env.url(), "--non-interactive"]).await;
    run.ok();
    assert!(!run.stderr.contains("Access token refreshed"), "a fresh token is not refreshed: {}", run.stderr);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let run = env.run(&["tools", &env.url(), "--non-interactive"]).await;
    run.ok();
    assert!(run.stderr.contains("Access token refreshed"), "{}", run.stderr);
    let second = env.stored()["credentials"][0]["tokens"].clone();
    assert_ne!(first["access_token"], second["access_token"]);
    assert_ne!(first["refresh_token"], second["refresh_token"], "the rotated refresh token was stored");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn rejected_token_leads_to_one_refresh_and_retry() {
    let env = Env::start().await;
    env.run(&["login", &env.url(), "--auto-authorize"]).await.ok();
    // Damage the stored access token (as if the server rotated its keys): the server answers 401.
    let mut stored = env.stored();
    stored["credentials"][0]["tokens"]["access_token"] = Value::String("not-a-valid-token".into());
    std::fs::write(env.store(), serde_json::to_vec(&stored).unwrap()).unwrap();
    let run = env.run(&["tools", &env.url(), "--non-interactive"]).await;
    run.ok();
    assert!(run.stderr.contains("requires authorization"), "{}", run.stderr);
    assert!(run.stderr.contains("Access token refreshed"), "{}", run.stderr);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn step_up_on_insufficient_scope_then_the_call_succeeds() {
    let env = Env::start().await;
    env.run(&["login", &env.url(), "--auto-authorize"]).await.ok();
    assert!(!env.stored()["credentials"][0]["tokens"]["scope"].as_str().unwrap().contains("files:read"));
    let run = env.run(&["call", &env.url(), "read_file", "--args", r#"{"path":"todo.txt"}"#, "--auto-authorize"]).await;
    run.ok();
    assert!(run.stderr.contains("asks for more scope (scope: files:read)"), "{}", run.stderr);
    assert!(run.stderr.contains("Signing in again for scope: files:read"), "{}", run.stderr);
    assert!(!run.stdout.trim().is_empty());
    let scope = env.stored()["credentials"][0]["tokens"]["scope"].as_str().unwrap().to_string();
    assert!(scope.contains("files:read") && scope.contains("mcp:tools"), "union of scopes: {scope}");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn profile_tool_returns_the_signed_in_subject() {
    let env = Env::start().await;
    let run = env.run(&["call", &env.url(), "get_user_profile", "--auto-authorize", "--json"]).await;
    run.ok();
    let result: Value = serde_json::from_str(&run.stdout).unwrap();
    assert!(result.to_string().contains("demo-user"), "{result}");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_state_on_the_callback_is_refused_and_the_sign_in_times_out() {
    let env = Env::start().await;
    let port = free_port();
    let store = env.store();
    let url = env.url();
    let cli = tokio::spawn(async move {
        run_with_store(
            &store,
            &["login", &url, "--no-browser", "--callback-port", &port.to_string(), "--auth-timeout", "4"],
        )
        .await
    });
    // Wait for the listener, then send a forged callback.
    let forged = format!("http://127.0.0.1:{port}/callback?code=stolen&state=forged");
    let mut answer = None;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if let Ok(r) = http_get(&forged).await {
            answer = Some(r);
            break;
        }
    }
    let (status, body) = answer.expect("listener reachable");
    assert_eq!(status, 400);
    assert!(body.contains("does not belong to the sign-in"), "{body}");
    let run = cli.await.unwrap();
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stderr.contains("Open this URL in your browser"), "{}", run.stderr);
    assert!(run.stderr.contains("no sign-in completed within 4 s"), "{}", run.stderr);
    assert!(!env.store().exists(), "an abandoned sign-in stores nothing");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn server_down_and_unknown_paths_give_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("c.json");
    let down = format!("http://127.0.0.1:{}/mcp", free_port());
    let run = run_with_store(&store, &["tools", &down, "--auto-authorize"]).await;
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert!(run.stderr.contains("could not reach") && run.stderr.contains("is the server running"), "{}", run.stderr);

    let env = Env::start().await;
    let wrong = env.url().replace("/mcp", "/not-mcp");
    let run = env.run(&["tools", &wrong, "--auto-authorize"]).await;
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert!(run.stderr.contains("HTTP 404"), "{}", run.stderr);

    let run = env.run(&["tools", "not a url"]).await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("invalid server URL"), "{}", run.stderr);
    let run = env.run(&["tools"]).await;
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("no server URL given"), "{}", run.stderr);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn corrupt_store_is_reported_and_not_overwritten() {
    let env = Env::start().await;
    std::fs::create_dir_all(env.store().parent().unwrap()).unwrap();
    std::fs::write(env.store(), b"{\"version\":1,\"credentials\":[oops").unwrap();
    let run = env.run(&["tools", &env.url(), "--auto-authorize"]).await;
    assert_eq!(run.code, 5, "{}", run.stderr);
    assert!(run.stderr.contains("is unreadable") && run.stderr.contains("left untouched"), "{}", run.stderr);
    assert_eq!(std::fs::read(env.store()).unwrap(), b"{\"version\":1,\"credentials\":[oops");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_tool_arguments_are_explained() {
    let env = Env::start().await;
    let run = env.run(&["call", &env.url(), "get_weather", "--args", "{not json"]).await;
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("--args is not valid JSON"), "{}", run.stderr);
    let run = env.run(&["call", &env.url(), "get_weather", "--args", "[1,2]"]).await;
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("must be a JSON object"), "{}", run.stderr);
    let run = env.run(&["call", &env.url(), "get_weather", "--args", r#"{"location": 42}"#, "--auto-authorize"]).await;
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("error"), "{}", run.stderr);
    let run = env
        .run(&["call", &env.url(), "read_file", "--args", r#"{"path":"../../etc/passwd"}"#, "--auto-authorize"])
        .await;
    assert_eq!(run.code, 1, "isError results exit 1: {}", run.stderr);
    assert!(run.stderr.contains("reported an error"), "{}", run.stderr);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn clients_refresh_and_logout() {
    let env = Env::start().await;
    env.run(&["login", &env.url(), "--auto-authorize"]).await.ok();
    let run = env.run(&["clients"]).await;
    run.ok();
    assert!(run.stdout.contains(&env.url()) && run.stdout.contains("signed in"), "{}", run.stdout);
    let tokens = env.stored()["credentials"][0]["tokens"].clone();
    for secret in ["access_token", "refresh_token"] {
        assert!(!run.stdout.contains(tokens[secret].as_str().unwrap()), "clients printed the {secret}");
    }
    let run = env.run(&["refresh", &env.url(), "--json"]).await;
    run.ok();
    assert_eq!(serde_json::from_str::<Value>(&run.stdout).unwrap()["refreshed"], true);
    let run = env.run(&["logout", &env.url()]).await;
    run.ok();
    assert!(run.stdout.contains("Signed out"), "{}", run.stdout);
    let run = env.run(&["refresh", &env.url()]).await;
    assert_eq!(run.code, 3);
    assert!(run.stderr.contains("not signed in to") && run.stderr.contains("superdynamic login"), "{}", run.stderr);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn no_secret_appears_in_output_even_with_trace_logging() {
    let env = Env::start().await;
    let run = env
        .run(&["-vv", "call", &env.url(), "get_weather", "--args", r#"{"location":"Oslo"}"#, "--auto-authorize"])
        .await;
    run.ok();
    let stored = env.stored();
    let record = &stored["credentials"][0];
    let secrets =
        [record["tokens"]["access_token"].as_str().unwrap(), record["tokens"]["refresh_token"].as_str().unwrap()];
    assert!(run.stderr.len() > 1000, "trace logging produced output");
    for secret in secrets {
        assert!(!run.stdout.contains(secret) && !run.stderr.contains(secret), "a token leaked into the output");
    }
    // The authorization code travels only in the redirect and the token request; the PKCE verifier only in the
    // token request: neither appears in any log line.
    for needle in ["code=", "code_verifier", "refresh_token="] {
        assert!(!run.stderr.contains(needle), "'{needle}' appeared in the trace output");
    }
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn demo_runs_every_step() {
    let dir = tempfile::tempdir().unwrap();
    let run = run_with_store(&dir.path().join("unused.json"), &["demo"]).await;
    run.ok();
    for needle in [
        "HTTP 401",
        "Discovery",
        "Dynamic Client Registration",
        "code_challenge_method=S256",
        "Token exchange",
        "get_weather",
        "Weather in San Francisco",
        "Refresh",
        "Step-up",
    ] {
        assert!(run.stdout.contains(needle), "demo output lacks '{needle}':\n{}", run.stdout);
    }
    assert!(!dir.path().join("unused.json").exists(), "the demo uses its own temporary store");
}

#[tokio::test(flavor = "multi_thread")]
async fn both_protocol_generations_work_against_the_reference_server() {
    let env = Env::start().await;
    // Negotiated: the reference server (rmcp) speaks 2026-07-28, and the answer is remembered per server.
    env.run(&["tools", &env.url(), "--auto-authorize"]).await.ok();
    assert_eq!(env.stored()["generations"][env.url()], "modern");
    for protocol in ["legacy", "modern"] {
        let run = env
            .run(&["call", &env.url(), "get_weather", "--args", r#"{"location":"Oslo"}"#, "--mcp-protocol", protocol])
            .await;
        run.ok();
        assert!(run.stdout.contains("Oslo"), "{protocol}: {}", run.stdout);
        // A step-up works the same way in both generations.
        let run = env
            .run(&["call", &env.url(), "list_files", "--auto-authorize", "--json", "--mcp-protocol", protocol])
            .await;
        run.ok();
    }
    env.stop().await;
}
