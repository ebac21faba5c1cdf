//! Token lifecycle under concurrency: N CLI processes sharing one store make repeated tool calls against the
//! reference server with 2-second access tokens and rotating refresh tokens whose reuse revokes the whole
//! family. Any refresh token spent twice would end every process's session, so the test proves that the
//! cross-process refresh lock works: zero failed calls, zero new sign-ins, and about one refresh per expiry.
//!
//! It runs twice: with the file store (processes share one file) and with the PostgreSQL store (processes share
//! nothing but the database: each has its own config directory; skipped with a notice unless
//! SUPERDYNAMIC_TEST_DATABASE_URL is set, as `.ci/with-postgres` does).
//!
//! Size: SUPERDYNAMIC_STRESS_PROCS (default 6) processes × SUPERDYNAMIC_STRESS_CALLS (default 40) calls;
//! `bench/stress.sh` runs it at 16 processes.

use std::time::{Duration, Instant};
use superdynamic_server::{Database, ServerConfig};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// How each process finds the shared credentials.
#[derive(Clone)]
enum Shared {
    /// One credential file for every process.
    File(std::path::PathBuf),
    /// One database (URL) and tenant; every process gets a config directory of its own under the path.
    Postgres { url: String, tenant: String, dirs: std::path::PathBuf },
}

impl Shared {
    fn command(&self, bin: &str, process: usize) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(bin);
        match self {
            Shared::File(path) => {
                command.args(["--store", "file"]).env("SUPERDYNAMIC_STORE_PATH", path);
            }
            Shared::Postgres { url, tenant, dirs } => {
                let own = dirs.join(format!("process-{process}/credentials.json"));
                command
                    .args(["--store", "postgres", "--profile", tenant])
                    .env("SUPERDYNAMIC_DATABASE_URL", url)
                    .env("SUPERDYNAMIC_STORE_PATH", own);
            }
        }
        command.kill_on_drop(true);
        command
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_processes_share_rotating_tokens_without_losing_the_session() {
    let dir = tempfile::tempdir().unwrap();
    stress("file store", Shared::File(dir.path().join("credentials.json"))).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn processes_sharing_only_a_postgres_database_share_rotating_tokens() {
    let Some(url) = std::env::var("SUPERDYNAMIC_TEST_DATABASE_URL").ok().filter(|u| !u.is_empty()) else {
        eprintln!(
            "skipped: set SUPERDYNAMIC_TEST_DATABASE_URL (or run `.ci/with-postgres cargo test`) for the PostgreSQL stress test"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let tenant = format!("stress-{}-{}", std::process::id(), superdynamic::token::now_unix());
    stress("PostgreSQL store", Shared::Postgres { url, tenant, dirs: dir.path().to_path_buf() }).await;
}

async fn stress(label: &str, shared: Shared) {
    let procs = env_or("SUPERDYNAMIC_STRESS_PROCS", 6);
    let calls = env_or("SUPERDYNAMIC_STRESS_CALLS", 40);
    let ttl = Duration::from_secs(2);
    let server = superdynamic_server::start(ServerConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        database: Database::Memory,
        auto_approve: true,
        access_token_ttl: ttl,
        ..ServerConfig::default()
    })
    .await
    .unwrap();
    let url = server.mcp_url().to_string();
    let bin = env!("CARGO_BIN_EXE_superdynamic");

    // The reference server offers DPoP, so this runs with DPoP-bound tokens whose refresh tokens are bound to
    // the key too (RFC 9449): every process signs with the one key stored with the credential.
    let login = shared.command(bin, procs).args(["login", &url, "--auto-authorize"]).output().await.unwrap();
    assert!(login.status.success(), "{}", String::from_utf8_lossy(&login.stderr));

    let started = Instant::now();
    let mut workers = Vec::new();
    for worker in 0..procs {
        let (url, shared) = (url.clone(), shared.clone());
        workers.push(tokio::spawn(async move {
            let (mut failures, mut refreshes, mut sign_ins) = (Vec::new(), 0usize, 0usize);
            for call in 0..calls {
                let args = format!(r#"{{"location":"City {worker}-{call}"}}"#);
                let out = shared
                    .command(bin, worker)
                    .args(["call", &url, "get_weather", "--args", &args, "--non-interactive"])
                    .output()
                    .await
                    .unwrap();
                let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
                refreshes += stderr.matches("Access token refreshed").count();
                sign_ins += stderr.matches("Signed in").count();
                if !out.status.success() {
                    failures.push(stderr);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            (failures, refreshes, sign_ins)
        }));
    }
    let (mut failures, mut refreshes, mut sign_ins) = (Vec::new(), 0, 0);
    for w in workers {
        let (f, r, s) = w.await.unwrap();
        failures.extend(f);
        refreshes += r;
        sign_ins += s;
    }
    let elapsed = started.elapsed();
    server.shutdown().await;

    let expiries = (elapsed.as_secs_f64() / ttl.as_secs_f64()).ceil() as usize;
    println!(
        "stress ({label}): {procs} processes x {calls} calls in {:.1} s: {} failed, {sign_ins} new sign-ins, {refreshes} refreshes \
         for about {expiries} token expiries",
        elapsed.as_secs_f64(),
        failures.len()
    );
    assert!(failures.is_empty(), "{} calls failed; first:\n{}", failures.len(), failures[0]);
    assert_eq!(sign_ins, 0, "no process had to sign in again");
    assert!(refreshes >= 1, "tokens expired during the run, so some process refreshed");
    assert!(refreshes <= expiries + 2, "{refreshes} refreshes for {expiries} expiries: processes refreshed twice");
}
