//! `superdynamic import mcp-remote`: a sign-in mcp-remote keeps is carried into a fresh store and works there
//! without signing in again; files mcp-remote would not have written are refused with the reason; mcp-remote's
//! directory is left exactly as it was.

use crate::common;

use common::{Env, Run, run_with, run_with_store};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use superdynamic::import::mcp_remote::ServerSpec;

/// Every file under `dir` with its bytes, mode and modification time, to prove nothing was touched.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (Vec<u8>, u32, i64, i64)> {
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        if meta.is_dir() {
            files.extend(snapshot(&path));
            files.insert(path, (Vec::new(), meta.mode(), meta.mtime(), meta.mtime_nsec()));
        } else {
            let bytes = if meta.file_type().is_symlink() { Vec::new() } else { std::fs::read(&path).unwrap() };
            files.insert(path, (bytes, meta.mode(), meta.mtime(), meta.mtime_nsec()));
        }
    }
    files
}

fn write_private(path: &Path, value: &Value) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, serde_json::to_string_pretty(value).unwrap()).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// Signs in with our own CLI into a throwaway store, then writes what mcp-remote would have kept for that
/// sign-in under `folder` for `server`'s hash.
async fn mcp_remote_files_from_a_sign_in(env: &Env, folder: &Path, server: &ServerSpec) {
    // mcp-remote holds Bearer tokens (it does not do DPoP), so the sign-in it stands for asks for those.
    env.run(&["login", &env.url(), "--auto-authorize", "--dpop", "never"]).await.ok();
    let record = env.stored()["credentials"][0].clone();
    let registration = &record["registration"];
    let tokens = &record["tokens"];
    let now = superdynamic::token::now_unix() as i64;
    let hash = server.hash();
    // The shapes the MCP TypeScript SDK saves: the registration response and the token response.
    write_private(
        &folder.join(format!("{hash}_client_info.json")),
        &json!({
            "redirect_uris": registration["redirect_uris"],
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "client_name": "MCP CLI Client",
            "client_id": registration["client_id"],
            "client_id_issued_at": now,
        }),
    );
    write_private(
        &folder.join(format!("{hash}_tokens.json")),
        &json!({
            "access_token": tokens["access_token"],
            "token_type": "Bearer",
            "expires_in": tokens["expires_at"].as_i64().unwrap() - now,
            "refresh_token": tokens["refresh_token"],
            "scope": tokens["scope"],
        }),
    );
    // What a sign-in in progress and a running mcp-remote leave beside them; never read, never touched.
    std::fs::write(folder.join(format!("{hash}_code_verifier.txt")), "verifier").unwrap();
    std::fs::write(folder.join(format!("{hash}_lock.json")), r#"{"pid":1,"port":3334,"timestamp":0}"#).unwrap();
}

async fn import(store: &Path, mcp_auth: &Path, args: &[&str]) -> Run {
    let dir = mcp_auth.to_str().unwrap();
    let mut all = vec!["import", "mcp-remote", "--dir", dir];
    all.extend_from_slice(args);
    run_with_store(store, &all).await
}

#[tokio::test(flavor = "multi_thread")]
async fn an_mcp_remote_sign_in_works_in_a_fresh_store_without_signing_in() {
    let env = Env::start().await;
    let url = env.url();
    let mcp_auth = env.dir.path().join("mcp-auth");
    let folder = mcp_auth.join("mcp-remote-0.1.29");
    mcp_remote_files_from_a_sign_in(&env, &folder, &ServerSpec::new(&url)).await;
    std::fs::create_dir_all(mcp_auth.join("mcp-remote-0.1.9")).unwrap(); // an older version's, empty
    let before = snapshot(&mcp_auth);
    let second = env.dir.path().join("second/credentials.json");

    // A dry run discovers and reports, and saves nothing.
    let run = import(&second, &mcp_auth, &[&url, "--dry-run"]).await;
    run.ok();
    assert!(run.stdout.contains(&format!("Would import {url}: registration and tokens")), "{}", run.stdout);
    assert!(run.stdout.contains("Dry run: nothing was saved."), "{}", run.stdout);
    assert!(!second.exists(), "a dry run created the store");

    let run = import(&second, &mcp_auth, &[&url]).await;
    run.ok();
    assert!(run.stdout.contains(&format!("Imported {url}: registration and tokens")), "{}", run.stdout);
    assert!(run.stdout.contains(&format!("from:      {}", folder.display())), "{}", run.stdout);
    assert!(run.stdout.contains("refreshable"), "{}", run.stdout);

    // The second store works without a sign-in: tools, then a refresh with the imported refresh token.
    let run = run_with_store(&second, &["tools", &url, "--non-interactive"]).await;
    run.ok();
    assert!(run.stdout.contains("get_weather"), "{}", run.stdout);
    run_with_store(&second, &["refresh", &url, "--non-interactive"]).await.ok();
    let run = run_with_store(&second, &["call", &url, "get_weather", "--args", r#"{"location":"Oslo"}"#]).await;
    run.ok();

    // Importing again keeps what is stored (exit 0: the server is usable); --force replaces it.
    let run = import(&second, &mcp_auth, &[&url, "--json"]).await;
    run.ok();
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["results"][0]["status"], "skipped");
    assert!(report["results"][0]["reason"].as_str().unwrap().starts_with("already signed in"), "{report}");
    let run = import(&second, &mcp_auth, &[&url, "--json", "--force"]).await;
    run.ok();
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    let result = &report["results"][0];
    assert_eq!(result["status"], "imported", "{report}");
    assert_eq!(result["imported"], json!(["registration", "tokens"]));
    assert_eq!(result["hash"], ServerSpec::new(&url).hash());
    assert_eq!(result["refreshable"], true);
    assert!(result["expires_in"].as_i64().unwrap() > 0, "{report}");
    assert!(
        !run.stdout.contains("access_token") && !run.stderr.contains("eyJ"),
        "a secret in the report: {}",
        run.stdout
    );

    assert_eq!(snapshot(&mcp_auth), before, "mcp-remote's directory changed");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn servers_from_a_host_configuration_with_headers_and_the_environment_directory() {
    let env = Env::start().await;
    let url = env.url();
    let mcp_auth = env.dir.path().join("mcp-auth");
    // mcp-remote names the files after the header as written, before it substitutes ${TENANT}.
    let mut server = ServerSpec::new(&url);
    assert!(server.add_header_argument("X-Tenant: ${TENANT}"));
    mcp_remote_files_from_a_sign_in(&env, &mcp_auth.join("mcp-remote"), &server).await;
    let config = env.dir.path().join("claude_desktop_config.json");
    let host = json!({ "mcpServers": {
        "weather": { "command": "npx", "args": ["-y", "mcp-remote@latest", &url, "--header", "X-Tenant: ${TENANT}"] },
        "local": { "command": "node", "args": ["server.js"] }
    }});
    std::fs::write(&config, host.to_string()).unwrap();
    let before = snapshot(&mcp_auth);
    let second = env.dir.path().join("second/credentials.json");
    let env_vars = [("SUPERDYNAMIC_STORE", Some("file")), ("MCP_REMOTE_CONFIG_DIR", mcp_auth.to_str())];
    let run = run_with(&second, &["import", "mcp-remote", "--from-config", config.to_str().unwrap()], &env_vars).await;
    run.ok();
    assert!(run.stdout.contains(&format!("Imported {url} (weather): registration and tokens")), "{}", run.stdout);
    run_with_store(&second, &["tools", &url, "--non-interactive"]).await.ok();
    assert_eq!(snapshot(&mcp_auth), before, "mcp-remote's directory changed");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn files_mcp_remote_would_not_have_written_are_skipped_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let mcp_auth = dir.path().join("mcp-auth");
    let folder = mcp_auth.join("mcp-remote-0.1.29");
    let client_info = json!({ "client_id": "c1", "redirect_uris": ["http://localhost:3334/oauth/callback"] });
    let tokens = json!({ "access_token": "not-a-real-token", "token_type": "Bearer", "expires_in": 3600 });

    let readable = "https://readable.example/mcp";
    let hash = ServerSpec::new(readable).hash();
    write_private(&folder.join(format!("{hash}_client_info.json")), &client_info);
    let readable_tokens = folder.join(format!("{hash}_tokens.json"));
    write_private(&readable_tokens, &tokens);
    std::fs::set_permissions(&readable_tokens, std::fs::Permissions::from_mode(0o644)).unwrap();

    let corrupt = "https://corrupt.example/mcp";
    let hash = ServerSpec::new(corrupt).hash();
    let corrupt_info = folder.join(format!("{hash}_client_info.json"));
    std::fs::write(&corrupt_info, "{\"client_id\": \"c2\", \"redirect_uris\": [").unwrap();
    std::fs::set_permissions(&corrupt_info, std::fs::Permissions::from_mode(0o600)).unwrap();

    let linked = "https://linked.example/mcp";
    let hash = ServerSpec::new(linked).hash();
    let elsewhere = dir.path().join("elsewhere.json");
    write_private(&elsewhere, &client_info);
    std::os::unix::fs::symlink(&elsewhere, folder.join(format!("{hash}_client_info.json"))).unwrap();

    let unknown = "https://unknown.example/mcp";
    let before = snapshot(&mcp_auth);
    let store = dir.path().join("store/credentials.json");
    let run = import(&store, &mcp_auth, &[readable, corrupt, linked, unknown]).await;
    assert_eq!(run.code, 1, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    let line = |url: &str| {
        run.stdout
            .lines()
            .find(|l| l.starts_with(&format!("Skipped {url}: ")))
            .unwrap_or_else(|| panic!("{}", run.stdout))
    };
    assert!(line(readable).contains(&format!("{} can be read by other users (mode 0644)", readable_tokens.display())));
    assert!(line(readable).contains("chmod 600"));
    assert!(line(corrupt).contains(&format!("{} is unusable: it is not valid JSON", corrupt_info.display())));
    assert!(line(linked).contains("is a symbolic link"));
    assert!(line(unknown).ends_with(&format!(
        "no mcp-remote sign-in found for {unknown} (looked for {} in {})",
        ServerSpec::new(unknown).hash(),
        mcp_auth.display()
    )));
    assert!(run.stderr.contains("4 of 4 server(s) could not be imported"), "{}", run.stderr);
    assert!(!run.stdout.contains("not-a-real-token"), "{}", run.stdout);
    assert!(!store.exists(), "nothing was imported, yet the store was created");
    assert_eq!(snapshot(&mcp_auth), before, "mcp-remote's directory changed");

    let run = import(&store, &dir.path().join("missing"), &[unknown]).await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("could not read mcp-remote's directory"), "{}", run.stderr);
}
