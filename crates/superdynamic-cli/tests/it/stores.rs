//! Where credentials live, through the CLI: profiles, the keychain default and its fallback, and the PostgreSQL
//! store shared by processes that share nothing else.

use crate::common::{Env, run_with};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread")]
async fn profiles_keep_separate_registrations_and_tokens_on_one_server() {
    let env = Env::start().await;
    env.run(&["login", &env.url(), "--auto-authorize"]).await.ok();
    env.run(&["login", &env.url(), "--auto-authorize", "--profile", "work"]).await.ok();
    let stored = env.stored();
    let records = stored["credentials"].as_array().unwrap();
    assert_eq!(records.len(), 2, "{stored}");
    let by = |p: &str| records.iter().find(|r| r["profile"] == p).unwrap().clone();
    let (default, work) = (by("default"), by("work"));
    assert_ne!(default["registration"]["client_id"], work["registration"]["client_id"], "a registration per profile");
    assert_ne!(default["tokens"]["access_token"], work["tokens"]["access_token"]);

    let run = env.run(&["clients"]).await;
    run.ok();
    assert!(run.stdout.contains("[default]") && run.stdout.contains("[work]"), "{}", run.stdout);
    let run = env.run(&["clients", "--json"]).await;
    let listed: Value = serde_json::from_str(&run.stdout).unwrap();
    let profiles: Vec<&str> =
        listed["credentials"].as_array().unwrap().iter().map(|r| r["profile"].as_str().unwrap()).collect();
    assert_eq!(profiles.len(), 2, "{listed}");

    // Signing out of one profile leaves the other signed in.
    env.run(&["logout", &env.url(), "--profile", "work"]).await.ok();
    env.run(&["tools", &env.url(), "--non-interactive"]).await.ok();
    let run = env.run(&["tools", &env.url(), "--non-interactive", "--profile", "work"]).await;
    assert_eq!(run.code, 3, "{}", run.stderr);
    env.stop().await;
}

/// A Linux or BSD machine without a session D-Bus has no keychain: the default store says so once, in plain words,
/// and uses the file (the technical cause only with -v); `--store keyring` fails with instructions instead.
#[cfg(all(unix, not(target_os = "macos")))]
#[tokio::test(flavor = "multi_thread")]
async fn without_a_keychain_the_default_falls_back_to_the_file_and_says_so_once() {
    let env = Env::start().await;
    let no_keychain = [
        ("SUPERDYNAMIC_STORE", None),
        ("DBUS_SESSION_BUS_ADDRESS", Some("unix:path=/nonexistent/superdynamic-test-bus")),
    ];
    let first = run_with(&env.store(), &["login", &env.url(), "--auto-authorize"], &no_keychain).await;
    first.ok();
    let note = format!(
        "note: No OS keychain is reachable here; credentials are kept in {} (readable only by you). Use --store \
         keyring to require one.",
        env.store().display()
    );
    assert_eq!(first.stderr.lines().filter(|l| *l == note).count(), 1, "{}", first.stderr);
    assert!(!first.stderr.contains("zbus") && !first.stderr.contains("D-Bus"), "{}", first.stderr);
    assert!(env.stored()["credentials"][0]["tokens"]["access_token"].is_string(), "the file store has the tokens");

    let second = run_with(&env.store(), &["tools", &env.url(), "--non-interactive"], &no_keychain).await;
    second.ok();
    assert!(!second.stderr.contains("note:"), "said only once: {}", second.stderr);

    // With -v, for a store directory that has not seen the note yet: the note, and the cause.
    let elsewhere = env.dir.path().join("other/credentials.json");
    let verbose = run_with(&elsewhere, &["clients", "-v"], &no_keychain).await;
    verbose.ok();
    assert!(verbose.stderr.contains("No OS keychain is reachable here"), "{}", verbose.stderr);
    assert!(verbose.stderr.contains("the OS keychain connection failed"), "{}", verbose.stderr);
    assert!(verbose.stderr.contains("superdynamic-test-bus"), "the D-Bus address tried: {}", verbose.stderr);

    let mut explicit = no_keychain.to_vec();
    explicit[0] = ("SUPERDYNAMIC_STORE", Some("keyring"));
    let run = run_with(&env.store(), &["tools", &env.url(), "--non-interactive"], &explicit).await;
    assert_eq!(run.code, 5, "{}", run.stderr);
    assert!(run.stderr.contains("--store keyring: the OS keychain connection failed"), "{}", run.stderr);
    assert!(run.stderr.contains("Use --store file, or start a Secret Service"), "{}", run.stderr);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_without_a_database_url_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let run = run_with(
        &dir.path().join("c.json"),
        &["clients", "--store", "postgres"],
        &[("SUPERDYNAMIC_DATABASE_URL", None)],
    )
    .await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("--store postgres needs the database"), "{}", run.stderr);
}

/// Two "machines" (separate config directories) sharing only the database: one signs in, the other uses the
/// tokens; tenants (profiles) are isolated, and the listing shows one tenant and no secret.
#[tokio::test(flavor = "multi_thread")]
async fn postgres_store_is_shared_across_machines_and_isolated_per_tenant() {
    let Some(url) = std::env::var("SUPERDYNAMIC_TEST_DATABASE_URL").ok().filter(|u| !u.is_empty()) else {
        eprintln!("skipped: set SUPERDYNAMIC_TEST_DATABASE_URL (or run `.ci/with-postgres cargo test`)");
        return;
    };
    let env = Env::start().await;
    let tenant = format!("tenant-{}-{}", std::process::id(), superdynamic::token::now_unix());
    let other = format!("{tenant}-other");
    let db = [("SUPERDYNAMIC_STORE", Some("postgres")), ("SUPERDYNAMIC_DATABASE_URL", Some(url.as_str()))];
    let (machine_a, machine_b) = (env.dir.path().join("a/credentials.json"), env.dir.path().join("b/credentials.json"));

    let login = run_with(&machine_a, &["login", &env.url(), "--auto-authorize", "--profile", &tenant], &db).await;
    login.ok();
    let call = run_with(
        &machine_b,
        &[
            "call",
            &env.url(),
            "get_weather",
            "--args",
            r#"{"location":"Lima"}"#,
            "--non-interactive",
            "--profile",
            &tenant,
        ],
        &db,
    )
    .await;
    call.ok();
    assert!(call.stdout.contains("Lima"), "{}", call.stdout);
    assert!(!machine_b.exists(), "machine b kept nothing locally");

    let isolated = run_with(&machine_b, &["tools", &env.url(), "--non-interactive", "--profile", &other], &db).await;
    assert_eq!(isolated.code, 3, "another tenant is not signed in: {}", isolated.stderr);

    let listing = run_with(&machine_b, &["clients", "--json", "--profile", &tenant], &db).await;
    listing.ok();
    let listed: Value = serde_json::from_str(&listing.stdout).unwrap();
    let rows = listed["credentials"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{listed}");
    assert_eq!(rows[0]["profile"], tenant.as_str());
    assert!(listed["store"].as_str().unwrap().starts_with("PostgreSQL "), "{listed}");
    assert!(!listing.stdout.contains("access_token") && !listing.stdout.contains("refresh_token"));

    run_with(&machine_a, &["logout", &env.url(), "--profile", &tenant], &db).await.ok();
    let after = run_with(&machine_b, &["tools", &env.url(), "--non-interactive", "--profile", &tenant], &db).await;
    assert_eq!(after.code, 3, "signed out everywhere: {}", after.stderr);
    env.stop().await;
}

/// The keychain store against a real Secret Service: gnome-keyring in a private D-Bus session (CI installs
/// both; skipped with a notice where they are missing). Secrets go to the keychain, never to a file.
#[cfg(all(unix, not(target_os = "macos")))]
#[tokio::test(flavor = "multi_thread")]
async fn keychain_store_with_a_real_secret_service() {
    let found = |tool: &str| {
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()).any(|d| d.join(tool).exists())
    };
    if !found("dbus-run-session") || !found("gnome-keyring-daemon") {
        eprintln!("skipped: needs dbus-run-session and gnome-keyring-daemon (Debian: dbus, gnome-keyring)");
        return;
    }
    let env = Env::start().await;
    let home = env.dir.path().join("home");
    let runtime = env.dir.path().join("runtime");
    for dir in [&home, &runtime] {
        std::fs::create_dir_all(dir).unwrap();
        #[cfg(unix)]
        std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    }
    // A fresh login keyring unlocked with a throwaway password, then the CLI with the default store.
    let script = r#"
        eval "$(printf test | gnome-keyring-daemon --unlock --components=secrets)" >/dev/null
        "$SD" login "$URL" --auto-authorize >/dev/null 2>&1 || exit 11
        "$SD" call "$URL" get_weather --args '{"location":"Oslo"}' --non-interactive || exit 12
        "$SD" clients --json || exit 13
        "$SD" refresh "$URL" >/dev/null || exit 14
        "$SD" call "$URL" get_weather --args '{"location":"Rome"}' --non-interactive || exit 15
    "#;
    let output = tokio::process::Command::new("dbus-run-session")
        .args(["--", "sh", "-c", script])
        .env("SD", env!("CARGO_BIN_EXE_superdynamic"))
        .env("URL", env.url())
        .env("SUPERDYNAMIC_STORE_PATH", env.store())
        .env_remove("SUPERDYNAMIC_STORE")
        .env("HOME", &home)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_RUNTIME_DIR", &runtime)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(std::time::Duration::from_secs(60), output).await.unwrap().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "exit {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}", output.status.code());
    assert!(stdout.contains("Oslo") && stdout.contains("Rome"), "{stdout}");
    assert!(stdout.contains("\"store\":\"the OS keychain (Secret Service"), "{stdout}");
    assert!(!env.store().exists(), "nothing in the file store");
    let index = std::fs::read_to_string(env.store().with_extension("keyring.json")).unwrap();
    let record: Value = serde_json::from_str(&index).unwrap();
    let tokens = &record["credentials"][0]["tokens"];
    assert_eq!((tokens["access_token"].as_str(), tokens["refresh_token"].as_str()), (Some(""), Some("")), "{index}");
    env.stop().await;
}

/// `sslmode=require`: the database's certificate is verified against the platform's roots (here only the test
/// CA, as SSL_CERT_FILE), and a database whose certificate no root vouches for is refused.
#[cfg(all(unix, not(target_os = "macos")))]
#[tokio::test(flavor = "multi_thread")]
async fn postgres_over_tls_verifies_the_database_certificate() {
    let (Some(url), Some(ca)) = (
        std::env::var("SUPERDYNAMIC_TEST_DATABASE_URL").ok().filter(|u| !u.is_empty()),
        std::env::var("SUPERDYNAMIC_TEST_DATABASE_CA").ok().filter(|c| !c.is_empty()),
    ) else {
        eprintln!("skipped: needs SUPERDYNAMIC_TEST_DATABASE_URL and _CA (run `.ci/with-postgres cargo test`)");
        return;
    };
    let tls_url = url.replace("sslmode=disable", "sslmode=require");
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("credentials.json");
    let stranger = dir.path().join("stranger.pem");
    std::fs::write(&stranger, rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).unwrap().cert.pem())
        .unwrap();
    let settings = |roots: &str| {
        [("SUPERDYNAMIC_STORE", "postgres"), ("SUPERDYNAMIC_DATABASE_URL", &tls_url), ("SSL_CERT_FILE", roots)]
            .map(|(k, v)| (k, v.to_owned()))
    };
    let as_env = |pairs: &[(&'static str, String)]| -> Vec<(&'static str, Option<String>)> {
        pairs
            .iter()
            .map(|(k, v)| (*k, Some(v.clone())))
            .chain([("SSL_CERT_DIR", Some("/nonexistent".into()))])
            .collect()
    };
    let trusted_env = as_env(&settings(&ca));
    let trusted: Vec<(&str, Option<&str>)> = trusted_env.iter().map(|(k, v)| (*k, v.as_deref())).collect();
    let run = run_with(&store, &["clients", "--json", "--profile", "tls-check"], &trusted).await;
    run.ok();
    assert!(run.stdout.contains("\"store\":\"PostgreSQL "), "{}", run.stdout);

    let untrusted_env = as_env(&settings(stranger.to_str().unwrap()));
    let untrusted: Vec<(&str, Option<&str>)> = untrusted_env.iter().map(|(k, v)| (*k, v.as_deref())).collect();
    let run = run_with(&store, &["clients", "--profile", "tls-check"], &untrusted).await;
    assert_eq!(run.code, 5, "{}", run.stderr);
    assert!(
        run.stderr.contains("PostgreSQL credential store") && run.stderr.contains("connection failed"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.to_lowercase().contains("certificate"), "{}", run.stderr);
}
