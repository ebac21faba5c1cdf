//! The container image's configuration, proven on the host (no container engine can run images here): the
//! binary started with only the environment the Dockerfile and compose.yaml set, read from those files so the
//! test and the image cannot drift apart.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

fn repo_file(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// `ENV A=1 \ B=2` lines of the Dockerfile's last stage (the one that runs).
fn dockerfile_env() -> BTreeMap<String, String> {
    let text = repo_file("Dockerfile").replace("\\\n", " ");
    let run_stage = text.rsplit("\nFROM ").next().unwrap().to_owned();
    let mut env = BTreeMap::new();
    for line in run_stage.lines().filter_map(|l| l.trim().strip_prefix("ENV ")) {
        for pair in line.split_whitespace() {
            let (k, v) = pair.split_once('=').expect("ENV in KEY=value form");
            env.insert(k.to_owned(), v.trim_matches('"').to_owned());
        }
    }
    env
}

/// The `environment:` map of compose.yaml's one service.
fn compose_env() -> BTreeMap<String, String> {
    let text = repo_file("compose.yaml");
    let mut env = BTreeMap::new();
    let mut inside = false;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed == "environment:" {
            inside = true;
            continue;
        }
        if inside && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        match trimmed.split_once(':') {
            Some((k, v)) if inside && k.starts_with("SUPERDYNAMIC_SERVER_") => {
                env.insert(k.to_owned(), v.trim().trim_matches('"').to_owned());
            }
            _ => inside = false,
        }
    }
    env
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn server_with_env(env: &BTreeMap<String, String>) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_superdynamic-server"));
    cmd.env_clear().envs(env).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
    cmd
}

#[test]
fn the_image_environment_alone_refuses_to_serve_beyond_loopback_without_a_public_url() {
    let env = dockerfile_env();
    assert_eq!(env.get("SUPERDYNAMIC_SERVER_BIND").map(String::as_str), Some("0.0.0.0"), "{env:?}");
    // The check comes before anything is bound, so nothing listens beyond loopback here.
    let mut env = env;
    env.insert("SUPERDYNAMIC_SERVER_PORT".into(), "0".into());
    env.insert("SUPERDYNAMIC_SERVER_DB".into(), ":memory:".into());
    let output = server_with_env(&env).output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("refusing to listen on 0.0.0.0:0 (beyond loopback) without TLS or a public URL")
            && stderr.contains("SUPERDYNAMIC_SERVER_PUBLIC_URL"),
        "{stderr}"
    );
}

#[tokio::test]
async fn the_compose_environment_starts_the_server_with_its_public_url_as_issuer() {
    let mut env = dockerfile_env();
    env.extend(compose_env());
    let public_url = env.get("SUPERDYNAMIC_SERVER_PUBLIC_URL").cloned().expect("compose sets the public URL");
    for key in ["SUPERDYNAMIC_SERVER_PORT", "SUPERDYNAMIC_SERVER_DB", "SUPERDYNAMIC_SERVER_AUTO_APPROVE"] {
        assert!(env.contains_key(key), "{key} missing from Dockerfile/compose.yaml: {env:?}");
    }
    // Host-side differences only: loopback instead of 0.0.0.0 (tests stay on loopback), a free port instead of
    // 8000, and a temporary directory as the /data volume.
    let data = tempfile::tempdir().unwrap();
    let db = data.path().join("server.db");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    env.insert("SUPERDYNAMIC_SERVER_BIND".into(), "127.0.0.1".into());
    env.insert("SUPERDYNAMIC_SERVER_PORT".into(), port.to_string());
    env.insert("SUPERDYNAMIC_SERVER_DB".into(), db.display().to_string());
    let _server = Server(server_with_env(&env).spawn().unwrap());

    let http = crate::common::http();
    let base = format!("http://127.0.0.1:{port}");
    let mut health = None;
    for _ in 0..200 {
        if let Ok(resp) = http.get(format!("{base}/health")).send().await {
            health = Some(resp.json::<Value>().await.unwrap());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(health.expect("the server answered /health")["status"], "ok");
    let meta: Value =
        http.get(format!("{base}/.well-known/oauth-authorization-server")).send().await.unwrap().json().await.unwrap();
    assert_eq!(meta["issuer"], public_url.trim_end_matches('/'));
    let prm: Value = http
        .get(format!("{base}/.well-known/oauth-protected-resource/mcp"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(prm["resource"], format!("{}/mcp", public_url.trim_end_matches('/')));
    let docs = http.get(format!("{base}/docs")).send().await.unwrap();
    assert_eq!(docs.status(), 200);
    assert!(db.exists(), "the database is on the volume");
}
