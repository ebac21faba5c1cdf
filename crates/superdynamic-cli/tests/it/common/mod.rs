//! Shared by the CLI end-to-end tests: the reference server in-process on 127.0.0.1:0, a temporary credential
//! store, and the real `superdynamic` binary. Every server is shut down by the test that started it.
#![allow(dead_code)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;
use superdynamic_server::{Database, RunningServer, ServerConfig};
use tempfile::TempDir;

pub struct Env {
    pub server: Option<RunningServer>,
    pub dir: TempDir,
}

impl Env {
    pub async fn start() -> Self {
        Self::with(ServerConfig::default()).await
    }

    pub async fn with(config: ServerConfig) -> Self {
        let server = superdynamic_server::start(ServerConfig {
            bind: "127.0.0.1:0".parse().unwrap(),
            database: Database::Memory,
            auto_approve: true,
            ..config
        })
        .await
        .expect("reference server starts");
        Self { server: Some(server), dir: tempfile::tempdir().unwrap() }
    }

    pub fn url(&self) -> String {
        self.server.as_ref().unwrap().mcp_url().to_string()
    }

    pub fn store(&self) -> PathBuf {
        self.dir.path().join("store/credentials.json")
    }

    pub async fn run(&self, args: &[&str]) -> Run {
        run_with_store(&self.store(), args).await
    }

    pub fn stored(&self) -> Value {
        serde_json::from_slice(&std::fs::read(self.store()).unwrap()).unwrap()
    }

    pub async fn stop(mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await;
        }
    }
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn from(output: Output) -> Self {
        Self {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    #[track_caller]
    pub fn ok(&self) -> &Self {
        assert_eq!(self.code, 0, "stdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }
}

/// Runs the CLI with the file store at `store` (so a developer's keychain is never touched).
pub async fn run_with_store(store: &Path, args: &[&str]) -> Run {
    run_with(store, args, &[("SUPERDYNAMIC_STORE", Some("file"))]).await
}

/// Runs the CLI with `store` as the store path and `env` set (`None` removes a variable).
pub async fn run_with(store: &Path, args: &[&str], env: &[(&str, Option<&str>)]) -> Run {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_superdynamic"));
    command.args(args).env("SUPERDYNAMIC_STORE_PATH", store).env_remove("RUST_LOG").env_remove("BROWSER");
    for (name, value) in env {
        match value {
            Some(v) => command.env(name, v),
            None => command.env_remove(name),
        };
    }
    let output = command.kill_on_drop(true).output();
    Run::from(tokio::time::timeout(Duration::from_secs(60), output).await.expect("CLI finished").unwrap())
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A bare HTTP GET over a TCP socket (the CLI crate has no HTTP client dependency of its own).
pub async fn http_get(url: &str) -> std::io::Result<(u16, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let url = url::Url::parse(url).unwrap();
    let mut stream = tokio::net::TcpStream::connect((url.host_str().unwrap(), url.port().unwrap())).await?;
    let target = format!("{}?{}", url.path(), url.query().unwrap_or(""));
    stream.write_all(format!("GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes()).await?;
    let mut out = String::new();
    stream.read_to_string(&mut out).await?;
    let status = out.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    Ok((status, out))
}

/// A bare form POST over a TCP socket; returns the status and the whole response.
pub async fn http_post_form(url: &str, body: &str) -> std::io::Result<(u16, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let url = url::Url::parse(url).unwrap();
    let mut stream = tokio::net::TcpStream::connect((url.host_str().unwrap(), url.port().unwrap())).await?;
    let request = format!(
        "POST {} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        url.path(),
        body.len()
    );
    stream.write_all(request.as_bytes()).await?;
    let mut out = String::new();
    stream.read_to_string(&mut out).await?;
    let status = out.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    Ok((status, out))
}

/// A CLI process whose stdin we write and whose stderr we watch while it runs.
pub struct Interactive {
    pub child: tokio::process::Child,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Interactive {
    pub fn spawn(store: &Path, args: &[&str]) -> Self {
        use tokio::io::AsyncReadExt;
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_superdynamic"))
            .args(args)
            .env("SUPERDYNAMIC_STORE_PATH", store)
            .env("SUPERDYNAMIC_STORE", "file")
            .env_remove("RUST_LOG")
            .env_remove("BROWSER")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let mut pipe = child.stderr.take().unwrap();
        let sink = stderr.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Self { child, stderr }
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits (up to 20 s) until stderr contains `needle`; returns all of stderr.
    pub async fn wait_for(&self, needle: &str) -> String {
        for _ in 0..400 {
            let text = self.stderr();
            if text.contains(needle) {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("'{needle}' never appeared on stderr:\n{}", self.stderr());
    }

    pub async fn type_line(&mut self, line: &str) {
        use tokio::io::AsyncWriteExt;
        let stdin = self.child.stdin.as_mut().unwrap();
        stdin.write_all(format!("{line}\n").as_bytes()).await.unwrap();
        stdin.flush().await.unwrap();
    }

    pub async fn finish(mut self) -> Run {
        drop(self.child.stdin.take());
        let status =
            tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await.expect("CLI finished").unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut stdout = String::new();
        if let Some(mut out) = self.child.stdout.take() {
            use tokio::io::AsyncReadExt;
            let _ = out.read_to_string(&mut stdout).await;
        }
        Run { code: status.code().unwrap_or(-1), stdout, stderr: self.stderr() }
    }
}

/// The first `http…` URL in `text` that starts with `prefix`.
pub fn find_url(text: &str, prefix: &str) -> String {
    text.split_whitespace()
        .find(|w| w.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix} URL in:\n{text}"))
        .to_string()
}
