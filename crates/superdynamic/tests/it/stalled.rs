//! A server that accepts the connection and then stalls, at each OAuth step in turn and in each way (silent;
//! headers, then silent; one byte a second): the step is reported within its bound with a message that names
//! it, its URL, the wait and the flag that changes it; nothing is stored; nothing hangs (issue #14).

use crate::stalling::{self, STALLS, Stall, StallingServer};

use std::path::Path;
use std::time::{Duration, Instant};
use superdynamic::authorization::AuthorizationMode;
use superdynamic::http::OAuthTimeouts;
use superdynamic::store::FileStore;
use superdynamic::transport::Generation;
use superdynamic::{ClientOptions, McpClient};

/// Short bounds keep the suite fast: 1.5 s of silence, 3 s per request, 4 s for all of discovery.
const BOUNDS: OAuthTimeouts = OAuthTimeouts {
    connect: Duration::from_secs(1),
    first_byte: Duration::from_millis(1500),
    request: Duration::from_secs(3),
    discovery: Duration::from_secs(4),
};
/// Far above every bound: only proves that nothing hung.
const NOT_HUNG: Duration = Duration::from_secs(30);
const ADVICE: &str = "The server may be down or overloaded; if it is only slow, allow more time with --timeout SECONDS";

fn options(store: &Path, mode: AuthorizationMode) -> ClientOptions {
    let mut options = ClientOptions::new(FileStore::new(store));
    options.authorization_mode = mode;
    options.callback_port = Some(0);
    options.oauth_timeouts = BOUNDS;
    options.auth_timeout = Duration::from_secs(60);
    options.generation = Some(Generation::Legacy);
    options
}

/// What the user reads for a stall, with the measured wait as `N`; and that wait.
fn split_wait(message: &str) -> (String, u64) {
    let (before, after) = message.split_once(" after ").unwrap_or_else(|| panic!("no wait in: {message}"));
    let (seconds, rest) = after.split_once(" s").unwrap_or_else(|| panic!("no seconds in: {message}"));
    (format!("{before} after N s{rest}"), seconds.parse().unwrap_or_else(|_| panic!("{message}")))
}

/// The words for what the request was waiting for, by the way it stalled.
fn waiting(stall: Stall) -> &'static str {
    match stall {
        Stall::Silent => "no response",
        Stall::HeadersThenSilent | Stall::Trickle => "the answer was still incomplete",
    }
}

/// The least a report of `stall` can have waited, in whole seconds: the silence bound, or the request's deadline
/// for a trickle.
fn least_wait(stall: Stall) -> u64 {
    match stall {
        Stall::Silent | Stall::HeadersThenSilent => 2, // 1.5 s, rounded
        Stall::Trickle => 3,
    }
}

/// A sign-in (login) against a server stalling at `path`: the error, and how long it took.
async fn stalled_sign_in(path: &str, stall: Stall, mode: AuthorizationMode) -> (StallingServer, String, Duration) {
    let server = StallingServer::start().await;
    server.stall(path, stall);
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("credentials.json");
    let client = McpClient::new(&server.mcp_url(), options(&store, mode)).unwrap();
    let started = Instant::now();
    let error = client.login().await.expect_err("a stalled step fails the sign-in").to_string();
    let took = started.elapsed();
    assert!(took < NOT_HUNG, "{took:?}: {error}");
    assert!(!store.exists(), "nothing is stored after: {error}");
    (server, error, took)
}

/// Every way of stalling at `path` during a sign-in is reported as `{prefix}{step} at URL: …`.
async fn each_stall_is_reported(path: &str, mode: AuthorizationMode, prefix: &str, step: &str) {
    let runs = STALLS.map(|stall| async move {
        let (server, error, took) = stalled_sign_in(path, stall, mode).await;
        let (text, waited) = split_wait(&error);
        let expected = format!("{prefix}{step} at {}: {} after N s. {ADVICE}", server.url(path), waiting(stall));
        assert_eq!(text, expected, "{stall:?}");
        assert!(waited >= least_wait(stall) && took >= Duration::from_secs(waited - 1), "{stall:?}: {error}");
        server.stop().await;
    });
    futures_util::future::join_all(runs).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stalled_protected_resource_metadata_is_reported() {
    let prefix = "discovery failed: ";
    each_stall_is_reported(stalling::PRM, AuthorizationMode::Fetch, prefix, "the protected resource metadata").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stalled_authorization_server_metadata_is_reported() {
    let (path, step) = (stalling::AS_METADATA, "the authorization server metadata");
    each_stall_is_reported(path, AuthorizationMode::Fetch, "discovery failed: ", step).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stalled_registration_is_reported() {
    let (path, step) = (stalling::REGISTER, "the client registration");
    each_stall_is_reported(path, AuthorizationMode::Fetch, "client registration failed: ", step).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stalled_token_request_is_reported() {
    each_stall_is_reported(stalling::TOKEN, AuthorizationMode::Fetch, "", "the token request").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stalled_device_polling_is_reported() {
    each_stall_is_reported(stalling::TOKEN, AuthorizationMode::Device, "", "the device flow's token polling").await;
}

/// Signed in against a well-behaved server, then the token endpoint stalls: the refresh reports it and the
/// stored tokens stay as they were.
#[tokio::test(flavor = "multi_thread")]
async fn a_stalled_refresh_is_reported_and_keeps_the_stored_tokens() {
    let runs = STALLS.map(|stall| async move {
        let server = StallingServer::start().await;
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("credentials.json");
        let client = McpClient::new(&server.mcp_url(), options(&store, AuthorizationMode::Fetch)).unwrap();
        client.login().await.unwrap();
        let before = std::fs::read(&store).unwrap();
        server.stall(stalling::TOKEN, stall);
        let started = Instant::now();
        let error = client.refresh().await.expect_err("the refresh stalls").to_string();
        assert!(started.elapsed() < NOT_HUNG, "{error}");
        let (text, waited) = split_wait(&error);
        let url = server.url(stalling::TOKEN);
        assert_eq!(text, format!("the token refresh at {url}: {} after N s. {ADVICE}", waiting(stall)), "{stall:?}");
        assert!(waited >= least_wait(stall), "{error}");
        assert_eq!(std::fs::read(&store).unwrap(), before, "the stored record is untouched");
        server.stop().await;
    });
    futures_util::future::join_all(runs).await;
}

/// Logout with a stalled revocation endpoint: one wait, reported; the local credentials go anyway (as always).
#[tokio::test(flavor = "multi_thread")]
async fn a_stalled_revocation_is_reported_once_and_the_local_credentials_go() {
    let runs = STALLS.map(|stall| async move {
        let server = StallingServer::start().await;
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("credentials.json");
        let client = McpClient::new(&server.mcp_url(), options(&store, AuthorizationMode::Fetch)).unwrap();
        client.login().await.unwrap();
        server.stall(stalling::REVOKE, stall);
        let started = Instant::now();
        let outcome = client.logout(false).await.unwrap();
        assert!(started.elapsed() < NOT_HUNG);
        assert!(outcome.removed && outcome.revoked.is_empty(), "{outcome:?}");
        let [refresh, access] = outcome.revocation_errors.as_slice() else { panic!("{outcome:?}") };
        let (text, waited) = split_wait(refresh);
        let url = server.url(stalling::REVOKE);
        let expected = format!("refresh_token: the token revocation at {url}: {} after N s. {ADVICE}", waiting(stall));
        assert_eq!(text, expected, "{stall:?}");
        assert!(waited >= least_wait(stall), "{refresh}");
        assert_eq!(access, "access_token: not tried, the revocation endpoint did not answer");
        assert_eq!(server.count("POST /revoke"), 1, "one wait, not two");
        assert!(client.credentials().await.unwrap().is_none());
        server.stop().await;
    });
    futures_util::future::join_all(runs).await;
}

/// Each metadata request stays within its own bound, but all of discovery shares one deadline.
#[tokio::test(flavor = "multi_thread")]
async fn discovery_as_a_whole_has_one_deadline() {
    let server = StallingServer::start().await;
    server.stall(stalling::AS_METADATA, Stall::Trickle);
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("credentials.json");
    let mut options = options(&store, AuthorizationMode::Fetch);
    options.oauth_timeouts.request = Duration::from_secs(60); // a trickle would get a minute per request
    let client = McpClient::new(&server.mcp_url(), options).unwrap();
    let started = Instant::now();
    let error = client.login().await.unwrap_err().to_string();
    let took = started.elapsed();
    let url = server.url(stalling::AS_METADATA);
    assert_eq!(
        error,
        format!(
            "discovery failed: the authorization server metadata at {url}: not answered when discovery's 4 s ran out. {ADVICE}"
        )
    );
    assert!(took >= Duration::from_secs(4) && took < NOT_HUNG, "{took:?}");
    assert!(!store.exists());
    server.stop().await;
}

/// Requests waiting for the same sign-in get the answer of the discovery that stalled, without a second wait.
#[tokio::test(flavor = "multi_thread")]
async fn requests_waiting_for_a_stalled_sign_in_share_its_answer() {
    let server = StallingServer::start().await;
    server.stall(stalling::PRM, Stall::Silent);
    let dir = tempfile::tempdir().unwrap();
    let client = McpClient::new(&server.mcp_url(), options(&dir.path().join("c.json"), AuthorizationMode::Fetch));
    let client = client.unwrap();
    let (a, b) = tokio::join!(client.list_tools(), client.list_tools());
    let (a, b) = (a.unwrap_err().to_string(), b.unwrap_err().to_string());
    assert_eq!(a, b);
    assert!(a.starts_with("discovery failed: the protected resource metadata at "), "{a}");
    assert_eq!(server.count(&format!("GET {}", stalling::PRM)), 1, "{:?}", server.requests());
    server.stop().await;
}
