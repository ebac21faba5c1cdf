//! Issue #7: the credential store survives the CLI being killed (SIGKILL) at any moment while it writes. The
//! store is replaced atomically (temporary file, fsync, rename), so after every kill it must still parse and the
//! next command must work.

use crate::common;

use common::Env;
use std::time::Duration;

/// A small deterministic generator for kill delays (no extra dependency); the seed is printed on failure.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % below
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_store_is_always_readable_after_a_kill_mid_write() {
    let env = Env::start().await;
    let url = env.url();
    env.run(&["login", &url, "--auto-authorize"]).await.ok();
    let seed =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(7);
    let mut rng = Lcg(seed);
    let bin = env!("CARGO_BIN_EXE_superdynamic");
    let rounds = std::env::var("SUPERDYNAMIC_KILL_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(40);
    // Kill within the time a command takes on this machine (a fixed window misses fast machines): the span of
    // one whole refresh, and half as much again so some commands finish first.
    let started = std::time::Instant::now();
    env.run(&["refresh", &url]).await.ok();
    let window_us = (started.elapsed().as_micros() as u64).saturating_mul(3) / 2 + 1;
    let mut killed_while_running = 0;
    for round in 0..rounds {
        // Commands that write the store: a refresh (rotating tokens), a fresh sign-in, a logout.
        let args: Vec<&str> = match round % 3 {
            0 => vec!["refresh", &url],
            1 => vec!["login", &url, "--auto-authorize"],
            _ => vec!["logout", &url],
        };
        let mut child = tokio::process::Command::new(bin)
            .args(&args)
            .env("SUPERDYNAMIC_STORE_PATH", env.store())
            .env("SUPERDYNAMIC_STORE", "file")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        tokio::time::sleep(Duration::from_micros(rng.next(window_us))).await;
        if child.try_wait().unwrap().is_none() {
            killed_while_running += 1;
        }
        let _ = child.start_kill(); // SIGKILL
        let _ = child.wait().await;
        if let Ok(bytes) = std::fs::read(env.store()) {
            let parsed: Result<serde_json::Value, _> = serde_json::from_slice(&bytes);
            assert!(
                parsed.as_ref().is_ok_and(|v| v["credentials"].is_array()),
                "round {round} (seed {seed}, {args:?}): the store does not parse: {}",
                String::from_utf8_lossy(&bytes)
            );
        }
    }
    assert!(killed_while_running > 0, "no command was killed mid-run (seed {seed})");
    // Whatever state the kills left, the store is usable: sign in again and call a tool.
    env.run(&["login", &url, "--auto-authorize"]).await.ok();
    env.run(&["tools", &url, "--non-interactive"]).await.ok();
    let stored = env.stored();
    assert!(stored["credentials"].is_array());
    eprintln!("{rounds} rounds, {killed_while_running} killed mid-run within {window_us} µs, seed {seed}");
    env.stop().await;
}
