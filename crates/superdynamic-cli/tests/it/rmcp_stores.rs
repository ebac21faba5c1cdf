//! rmcp's own OAuth flow (`AuthorizationManager`, `AuthorizationSession`) keeping its tokens in superdynamic's
//! stores through `RmcpCredentialStore` and `RmcpStateStore`: the file store, the memory store, and PostgreSQL
//! when SUPERDYNAMIC_TEST_DATABASE_URL is set (as `.ci/with-postgres` does). What rmcp stored is then used by
//! superdynamic itself (and the CLI) without a sign-in, and rmcp's refresh writes back through the adapter.

use crate::common::run_with_store;
use crate::rmcp_transport::Counting;
use rmcp::transport::auth::{AuthorizationManager, AuthorizationRequest, AuthorizationSession, CredentialStore as _};
use serde_json::json;
use std::sync::Arc;
use superdynamic::resource::ResourceUri;
use superdynamic::rmcp::{RmcpCredentialStore, RmcpStateStore};
use superdynamic::store::{CredentialStore, FileStore, MemoryStore};
use superdynamic::{ClientOptions, McpClient};
use superdynamic_server::{Database, ServerConfig};

/// Any port: loopback redirect URIs match whatever the port (RFC 8252 §7.3). Nothing listens; the test reads
/// the redirect's `Location` itself, standing in for the browser.
const REDIRECT_URI: &str = "http://127.0.0.1:47123/callback";

/// rmcp's sign-in, from metadata to token, with the consent of the auto-approving server followed headlessly.
async fn rmcp_sign_in(url: &str, adapter: &RmcpCredentialStore) -> AuthorizationManager {
    let mut manager = AuthorizationManager::new_allowing_private_addresses(url).await.unwrap();
    let resolution = manager.resolve_metadata().await.unwrap();
    manager.set_metadata(resolution.metadata);
    manager.set_credential_store(adapter.clone());
    manager.set_state_store(RmcpStateStore::new());
    let request = AuthorizationRequest::new(REDIRECT_URI);
    let session = AuthorizationSession::new(manager, request).await.map_err(|(_, e)| e).unwrap();
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let mut next = session.get_authorization_url().to_string();
    for _ in 0..5 {
        if next.starts_with(REDIRECT_URI) {
            break;
        }
        let response = http.get(&next).send().await.unwrap();
        let location = response.headers().get(reqwest::header::LOCATION).expect("the server redirects");
        next = url::Url::parse(&next).unwrap().join(location.to_str().unwrap()).unwrap().to_string();
    }
    assert!(next.starts_with(REDIRECT_URI), "the sign-in came back: {next}");
    session.handle_callback_url(&next).await.unwrap();
    session.auth_manager
}

async fn through_rmcp(store: Arc<dyn CredentialStore>, profile: &str) {
    superdynamic::tls::client_config(); // rustls's ring provider, for rmcp's reqwest client too
    let server = superdynamic_server::start(ServerConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        database: Database::Memory,
        auto_approve: true,
        ..ServerConfig::default()
    })
    .await
    .unwrap();
    let url = server.mcp_url().to_string();
    let resource = ResourceUri::parse(&url).unwrap();
    let mut options = ClientOptions::new(store.clone());
    options.profile = profile.to_string();

    let adapter = RmcpCredentialStore::discover(&url, &options).await.unwrap();
    assert_eq!(adapter.issuer().as_str(), server.issuer());
    assert!(adapter.load().await.unwrap().is_none(), "nothing stored yet");
    let manager = rmcp_sign_in(&url, &adapter).await;

    // In our store, bound to the issuer discovery found, with the metadata it validated.
    let records = store.load(profile, &resource).await.unwrap();
    assert_eq!(records.len(), 1, "{records:?}");
    let record = &records[0];
    assert_eq!(record.issuer.as_str(), server.issuer());
    assert_eq!(record.authorization_server.issuer.as_str(), server.issuer());
    let tokens = record.tokens.clone().expect("rmcp's tokens are stored");
    assert!(tokens.refresh_token.is_some() && tokens.expires_at.is_some(), "{:?}", tokens.expires_at);
    let rmcp_token = manager.get_access_token().await.unwrap();
    assert_eq!(rmcp_token, tokens.access_token.secret(), "rmcp reads back what it stored");
    let (first_revision, first_token) = (record.revision, tokens.access_token.clone());

    // superdynamic itself uses rmcp's sign-in: no sign-in of its own (it may not start one).
    let counts = Counting::default();
    let mut ours = options.clone();
    ours.interactive = false;
    ours.observer = Arc::new(counts.clone());
    let client = McpClient::new(&url, ours).unwrap();
    let result = client.call_tool("get_weather", json!({ "location": "Accra" })).await.unwrap();
    assert!(result["content"][0]["text"].as_str().unwrap().contains("Accra"), "{result}");
    client.close().await;
    assert_eq!(counts.signed_in(), 0);

    // rmcp's refresh (under our refresh lock) writes the rotated tokens back, compare-and-swap.
    let mut again = AuthorizationManager::new_allowing_private_addresses(&url).await.unwrap();
    again.set_credential_store(adapter.clone());
    assert!(again.initialize_from_store().await.unwrap(), "rmcp finds its credentials in our store");
    again.refresh_token().await.unwrap();
    let record = store.load(profile, &resource).await.unwrap().remove(0);
    let refreshed = record.tokens.clone().unwrap();
    assert_ne!(refreshed.access_token, first_token, "a new access token");
    assert_ne!(refreshed.refresh_token, tokens.refresh_token, "the rotated refresh token was kept");
    assert!(record.revision > first_revision);

    // rmcp's logout forgets them.
    adapter.clear().await.unwrap();
    assert!(store.load(profile, &resource).await.unwrap().is_empty());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn rmcp_authorization_manager_keeps_its_tokens_in_the_file_store_shared_with_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("credentials.json");
    through_rmcp(Arc::new(FileStore::new(&path)), "default").await;

    // And the CLI reads what rmcp wrote: sign in with rmcp again, list tools with the command, no sign-in.
    let server = superdynamic_server::start(ServerConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        database: Database::Memory,
        auto_approve: true,
        ..ServerConfig::default()
    })
    .await
    .unwrap();
    let url = server.mcp_url().to_string();
    let options = ClientOptions::new(FileStore::new(&path));
    let adapter = RmcpCredentialStore::discover(&url, &options).await.unwrap();
    rmcp_sign_in(&url, &adapter).await;
    let run = run_with_store(&path, &["tools", &url, "--non-interactive"]).await;
    run.ok();
    assert!(run.stdout.contains("get_weather"), "{}", run.stdout);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn rmcp_authorization_manager_keeps_its_tokens_in_the_memory_store() {
    through_rmcp(Arc::new(MemoryStore::new()), "default").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn rmcp_authorization_manager_keeps_its_tokens_in_postgres() {
    let Some(url) = std::env::var("SUPERDYNAMIC_TEST_DATABASE_URL").ok().filter(|u| !u.is_empty()) else {
        eprintln!("skipped: set SUPERDYNAMIC_TEST_DATABASE_URL (or run `.ci/with-postgres cargo test`)");
        return;
    };
    let store = superdynamic::store::PostgresStore::connect(&url).await.unwrap();
    let tenant = format!("rmcp-{}-{}", std::process::id(), superdynamic::token::now_unix());
    through_rmcp(Arc::new(store), &tenant).await;
}

/// rmcp's credentials from another authorization server are never stored under this one's issuer.
#[tokio::test(flavor = "multi_thread")]
async fn credentials_from_another_issuer_are_refused() {
    let server = superdynamic_server::start(ServerConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        database: Database::Memory,
        auto_approve: true,
        ..ServerConfig::default()
    })
    .await
    .unwrap();
    let url = server.mcp_url().to_string();
    let store = Arc::new(MemoryStore::new());
    let adapter = RmcpCredentialStore::discover(&url, &ClientOptions::new(store.clone())).await.unwrap();
    let foreign = rmcp::transport::auth::StoredCredentials::new("someone".into(), None, vec![], None)
        .with_issuer(Some("https://elsewhere.example".into()));
    let error = adapter.save(foreign).await.expect_err("refused");
    let text = error.to_string();
    assert!(
        text.contains("refusing to store credentials issued by https://elsewhere.example")
            && text.contains(&format!("its authorization server is {}", server.issuer())),
        "{text}"
    );
    assert!(store.list(None).await.unwrap().is_empty());
    server.shutdown().await;
}

/// The keychain store: rmcp's flow run again by this test binary inside a private D-Bus session with a fresh,
/// unlocked gnome-keyring (CI installs both; skipped with a notice where they are missing).
#[cfg(all(unix, not(target_os = "macos"), feature = "keyring"))]
#[tokio::test(flavor = "multi_thread")]
async fn rmcp_authorization_manager_keeps_its_tokens_in_the_os_keychain() {
    if let Ok(index) = std::env::var(KEYRING_CHILD) {
        // The child: inside the D-Bus session the parent started.
        let keyring = superdynamic::store::platform_keyring().unwrap();
        let store = superdynamic::store::KeyringStore::new(&index, keyring);
        through_rmcp(Arc::new(store), "default").await;
        let written = std::fs::read_to_string(&index).unwrap_or_default();
        assert!(!written.contains("\"access_token\":\"ey"), "secrets stay in the keychain: {written}");
        println!("RMCP-KEYRING ok");
        return;
    }
    let found = |tool: &str| {
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()).any(|d| d.join(tool).exists())
    };
    if !found("dbus-run-session") || !found("gnome-keyring-daemon") {
        eprintln!("skipped: needs dbus-run-session and gnome-keyring-daemon (Debian: dbus, gnome-keyring)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (home, runtime) = (dir.path().join("home"), dir.path().join("runtime"));
    for d in [&home, &runtime] {
        std::fs::create_dir_all(d).unwrap();
        std::fs::set_permissions(d, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    }
    let script = r#"
        eval "$(printf test | gnome-keyring-daemon --unlock --components=secrets)" >/dev/null
        exec "$EXE" rmcp_stores::rmcp_authorization_manager_keeps_its_tokens_in_the_os_keychain --exact --nocapture
    "#;
    let output = tokio::process::Command::new("dbus-run-session")
        .args(["--", "sh", "-c", script])
        .env("EXE", std::env::current_exe().unwrap())
        .env(KEYRING_CHILD, dir.path().join("credentials.keyring.json"))
        .env("HOME", &home)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_RUNTIME_DIR", &runtime)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(std::time::Duration::from_secs(60), output).await.unwrap().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success() && stdout.contains("RMCP-KEYRING ok"), "stdout:\n{stdout}\nstderr:\n{stderr}");
}

#[cfg(all(unix, not(target_os = "macos"), feature = "keyring"))]
const KEYRING_CHILD: &str = "RMCP_KEYRING_CHILD_INDEX";
