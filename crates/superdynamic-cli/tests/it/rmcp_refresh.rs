//! Two processes, each an rmcp client over `superdynamic::rmcp::transport`, sharing one credential file, both
//! finding the access token expired at the same moment: one refreshes, the other waits on the store's lock and
//! uses the new token. The reference server rotates refresh tokens and revokes the whole family when one is
//! spent twice, so a double refresh would fail one of them.
//!
//! The processes are this test binary run again with only [`child`] selected (it does nothing unless
//! `RMCP_CHILD_URL` is set).

use crate::rmcp_transport::{Counting, Generation, connect, options, weather};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use superdynamic_server::{Database, ServerConfig};

const CHILD_URL: &str = "RMCP_CHILD_URL";

fn now_millis() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis()
}

/// One process of the pair: waits for the agreed moment, connects, calls a tool, says what it did.
#[tokio::test(flavor = "multi_thread")]
async fn child() {
    let Ok(url) = std::env::var(CHILD_URL) else {
        return; // only when spawned by the test below
    };
    let store = std::env::var("RMCP_CHILD_STORE").unwrap();
    let start_at: u128 = std::env::var("RMCP_CHILD_START_AT").unwrap().parse().unwrap();
    let generation = match std::env::var("RMCP_CHILD_GENERATION").unwrap().as_str() {
        "stateless" => Generation::Stateless,
        _ => Generation::Sessions,
    };
    let counts = Counting::default();
    let mut options = options(std::path::Path::new(&store), &counts);
    options.interactive = false; // a sign-in here would be a failure of the test
    let wait = start_at.saturating_sub(now_millis());
    tokio::time::sleep(Duration::from_millis(wait as u64)).await;
    let client = connect(&url, options, generation).await.unwrap();
    weather(&client, "Bern").await;
    client.cancel().await.unwrap();
    println!("RMCP-CHILD refreshed={} signed_in={}", counts.refreshed(), counts.signed_in());
}

#[tokio::test(flavor = "multi_thread")]
async fn two_rmcp_processes_refreshing_at_once_refresh_once() {
    if std::env::var(CHILD_URL).is_ok() {
        return;
    }
    let server = superdynamic_server::start(ServerConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        database: Database::Memory,
        auto_approve: true,
        access_token_ttl: Duration::from_secs(2),
        ..ServerConfig::default()
    })
    .await
    .unwrap();
    let url = server.mcp_url().to_string();
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("credentials.json");
    let signing_in = Counting::default();
    let client = connect(&url, options(&store, &signing_in), Generation::Sessions).await.unwrap();
    weather(&client, "Kyiv").await;
    client.cancel().await.unwrap();
    assert_eq!(signing_in.signed_in(), 1);

    for generation in [Generation::Sessions, Generation::Stateless] {
        let name = if generation == Generation::Stateless { "stateless" } else { "sessions" };
        tokio::time::sleep(Duration::from_millis(3200)).await; // the stored access token has expired
        let start_at = now_millis() + 1500; // both processes started and waiting by then
        let spawn = || {
            tokio::process::Command::new(std::env::current_exe().unwrap())
                .args(["rmcp_refresh::child", "--exact", "--nocapture", "--test-threads=1"])
                .env(CHILD_URL, &url)
                .env("RMCP_CHILD_STORE", &store)
                .env("RMCP_CHILD_START_AT", start_at.to_string())
                .env("RMCP_CHILD_GENERATION", name)
                .kill_on_drop(true)
                .output()
        };
        let (a, b) = tokio::join!(spawn(), spawn());
        let mut refreshes = 0;
        for out in [a.unwrap(), b.unwrap()] {
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(out.status.success(), "{name}: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
            // The harness prints the test's name on the same line first.
            let line = stdout.lines().find_map(|l| l.split_once("RMCP-CHILD ")).map(|(_, said)| said);
            let line = line.unwrap_or_else(|| panic!("{name}: the child said nothing: {stdout}"));
            assert!(line.trim_end().ends_with("signed_in=0"), "{name}: {line}");
            refreshes += line.split("refreshed=").nth(1).unwrap().split(' ').next().unwrap().parse::<usize>().unwrap();
        }
        assert_eq!(refreshes, 1, "{name}: one refresh between the two processes");
    }
    server.shutdown().await;
}
