//! rmcp's own client (the official Rust SDK) over `superdynamic::rmcp::transport`, against the reference server
//! in both protocol generations: rmcp 3.11 speaks 2025-11-25 sessions (`serve`, `initialize`) and the stateless
//! 2026-07-28 generation (`serve_with_lifecycle` with `server/discover`), and both are tested. First sign-in
//! (headless fetch of the auto-approving server, standing in for the browser), a cached run with no sign-in,
//! refresh after expiry, step-up, and a hostile server whose refusal comes back as an rmcp error with our text.

use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, ProtocolVersion};
use rmcp::service::{ClientLifecycleMode, ClientServiceExt, RoleClient, RunningService};
use serde_json::json;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use superdynamic::authorization::AuthorizationMode;
use superdynamic::store::FileStore;
use superdynamic::{ClientOptions, Event, Observer};
use superdynamic_server::{Database, ServerConfig};

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Generation {
    Sessions,
    Stateless,
}

/// What a run did: sign-ins (authorization codes exchanged), refreshes, step-ups.
#[derive(Default)]
pub struct Counts {
    pub signed_in: usize,
    pub refreshed: usize,
    pub step_ups: Vec<String>,
}

#[derive(Default, Clone)]
pub struct Counting(pub Arc<Mutex<Counts>>);

impl Observer for Counting {
    fn event(&self, event: &Event<'_>) {
        let mut counts = self.0.lock().unwrap();
        match event {
            Event::Authorized { .. } => counts.signed_in += 1,
            Event::Refreshed { .. } => counts.refreshed += 1,
            Event::StepUp { scope } => counts.step_ups.push(scope.to_string()),
            _ => {}
        }
    }
}

impl Counting {
    pub fn signed_in(&self) -> usize {
        self.0.lock().unwrap().signed_in
    }
    pub fn refreshed(&self) -> usize {
        self.0.lock().unwrap().refreshed
    }
    pub fn step_ups(&self) -> Vec<String> {
        self.0.lock().unwrap().step_ups.clone()
    }
}

pub fn options(store: &Path, observer: &Counting) -> ClientOptions {
    let mut options = ClientOptions::new(FileStore::new(store));
    options.authorization_mode = AuthorizationMode::Fetch;
    options.client_name = "rmcp test".into();
    options.observer = Arc::new(observer.clone());
    options
}

pub async fn connect(
    url: &str,
    options: ClientOptions,
    generation: Generation,
) -> Result<RunningService<RoleClient, ()>, rmcp::service::ClientInitializeError> {
    let transport = superdynamic::rmcp::transport(url, options).await.expect("the transport is built");
    match generation {
        Generation::Sessions => ().serve(transport).await,
        Generation::Stateless => {
            let lifecycle = ClientLifecycleMode::Discover { preferred_versions: vec![ProtocolVersion::V_2026_07_28] };
            ().serve_with_lifecycle(transport, lifecycle).await
        }
    }
}

pub async fn weather(client: &RunningService<RoleClient, ()>, city: &str) -> String {
    let arguments = json!({ "location": city }).as_object().unwrap().clone();
    let result = client.call_tool(CallToolRequestParams::new("get_weather").with_arguments(arguments)).await.unwrap();
    let text = serde_json::to_value(&result).unwrap()["content"][0]["text"].as_str().unwrap_or_default().to_string();
    assert!(text.contains(city), "{text}");
    text
}

async fn start(ttl: Option<Duration>) -> superdynamic_server::RunningServer {
    let mut config = ServerConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        database: Database::Memory,
        auto_approve: true,
        ..ServerConfig::default()
    };
    if let Some(ttl) = ttl {
        config.access_token_ttl = ttl;
    }
    superdynamic_server::start(config).await.unwrap()
}

/// First run signs in (once), lists and calls tools; the second run, a new process's worth of state over the
/// same store, signs in zero times and writes nothing.
async fn sign_in_then_cached(generation: Generation) {
    let server = start(None).await;
    let url = server.mcp_url().to_string();
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("credentials.json");

    let first = Counting::default();
    let client = connect(&url, options(&store, &first), generation).await.unwrap();
    let info = client.peer_info().expect("the server introduced itself");
    match generation {
        Generation::Sessions => assert!(info.protocol_version < ProtocolVersion::V_2026_07_28, "{info:?}"),
        Generation::Stateless => assert_eq!(info.protocol_version, ProtocolVersion::V_2026_07_28),
    }
    let tools = client.list_all_tools().await.unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    assert!(names.contains(&"get_weather") && names.contains(&"read_file"), "{names:?}");
    weather(&client, "Paris").await;
    client.cancel().await.unwrap();
    assert_eq!(first.signed_in(), 1, "one sign-in for the whole run");

    let written = std::fs::read(&store).unwrap();
    let stored: serde_json::Value = serde_json::from_slice(&written).unwrap();
    assert!(stored["credentials"][0]["tokens"]["access_token"].is_string(), "{stored}");
    let revision = stored["credentials"][0]["revision"].clone();

    let second = Counting::default();
    let client = connect(&url, options(&store, &second), generation).await.unwrap();
    weather(&client, "Lima").await;
    client.cancel().await.unwrap();
    assert_eq!((second.signed_in(), second.refreshed()), (0, 0), "the stored token was used as is");
    let stored: serde_json::Value = serde_json::from_slice(&std::fs::read(&store).unwrap()).unwrap();
    assert_eq!(stored["credentials"][0]["revision"], revision, "the credential record was not written again");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn rmcp_signs_in_once_then_uses_the_stored_token_with_sessions() {
    sign_in_then_cached(Generation::Sessions).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn rmcp_signs_in_once_then_uses_the_stored_token_stateless() {
    sign_in_then_cached(Generation::Stateless).await;
}

/// Access tokens live 2 s: a call after expiry refreshes (no new sign-in) and succeeds.
async fn refresh_after_expiry(generation: Generation) {
    let server = start(Some(Duration::from_secs(2))).await;
    let url = server.mcp_url().to_string();
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("credentials.json");
    let counts = Counting::default();
    let client = connect(&url, options(&store, &counts), generation).await.unwrap();
    weather(&client, "Oslo").await;
    tokio::time::sleep(Duration::from_millis(3200)).await;
    weather(&client, "Rome").await;
    client.cancel().await.unwrap();
    assert_eq!(counts.signed_in(), 1, "no second sign-in");
    assert!(counts.refreshed() >= 1, "the expired token was refreshed");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn rmcp_refreshes_an_expired_token_with_sessions() {
    refresh_after_expiry(Generation::Sessions).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn rmcp_refreshes_an_expired_token_stateless() {
    refresh_after_expiry(Generation::Stateless).await;
}

/// `read_file` needs `files:read`, which the first sign-in did not ask for: the 403 `insufficient_scope` is
/// answered by a sign-in for it, and the call rmcp made succeeds.
async fn step_up(generation: Generation) {
    let server = start(None).await;
    let url = server.mcp_url().to_string();
    let dir = tempfile::tempdir().unwrap();
    let counts = Counting::default();
    let client = connect(&url, options(&dir.path().join("c.json"), &counts), generation).await.unwrap();
    weather(&client, "Quito").await;
    let arguments = json!({ "path": "todo.txt" }).as_object().unwrap().clone();
    let result = client.call_tool(CallToolRequestParams::new("read_file").with_arguments(arguments)).await.unwrap();
    let result = serde_json::to_value(&result).unwrap();
    assert_ne!(result["isError"], json!(true), "{result}");
    client.cancel().await.unwrap();
    let step_ups = counts.step_ups();
    assert_eq!(step_ups.len(), 1, "{step_ups:?}");
    assert!(step_ups[0].contains("files:read"), "{step_ups:?}");
    assert_eq!(counts.signed_in(), 2, "the first sign-in and the step-up");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn rmcp_steps_up_for_files_read_with_sessions() {
    step_up(Generation::Sessions).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn rmcp_steps_up_for_files_read_stateless() {
    step_up(Generation::Stateless).await;
}

/// A server whose protected resource metadata names another resource: superdynamic refuses to sign in to it,
/// and rmcp's initialization error carries that refusal in our words.
#[tokio::test(flavor = "multi_thread")]
async fn a_hostile_servers_refusal_surfaces_as_an_rmcp_error_with_our_message() {
    use axum::Router;
    use axum::http::header;
    use axum::response::IntoResponse;
    use axum::routing::{get, post};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let prm = format!("{base}/.well-known/oauth-protected-resource/mcp");
    let challenge = format!(r#"Bearer resource_metadata="{prm}""#);
    let metadata = json!({ "resource": "https://other.example/mcp", "authorization_servers": [base] });
    let prm_document = move || {
        let metadata = metadata.clone();
        async move { axum::Json(metadata) }
    };
    let app = Router::new()
        .route(
            "/mcp",
            post(move || {
                let challenge = challenge.clone();
                async move {
                    (axum::http::StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, challenge)]).into_response()
                }
            }),
        )
        // A 401 without WWW-Authenticate: discovery starts at the well-known location (RFC 9728 §3).
        .route("/bare/mcp", post(|| async { axum::http::StatusCode::UNAUTHORIZED }))
        .route("/.well-known/oauth-protected-resource/mcp", get(prm_document.clone()))
        .route("/.well-known/oauth-protected-resource/bare/mcp", get(prm_document));
    let task = tokio::spawn(async move { axum::serve(listener, app).await.ok() });
    let dir = tempfile::tempdir().unwrap();

    for (generation, path) in [
        (Generation::Sessions, "/mcp"),
        (Generation::Stateless, "/mcp"),
        (Generation::Sessions, "/bare/mcp"),
        (Generation::Stateless, "/bare/mcp"),
    ] {
        let url = format!("{base}{path}");
        let counts = Counting::default();
        let error = connect(&url, options(&dir.path().join("c.json"), &counts), generation)
            .await
            .map(|_| ())
            .expect_err("no sign-in with a server impersonating another");
        let mut text = error.to_string();
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            text.push_str(&format!(" | {cause}"));
            source = cause.source();
        }
        assert!(
            text.contains("the protected resource metadata names resource 'https://other.example/mcp'")
                && text.contains("refusing to use it (RFC 9728 §3.3)"),
            "{generation:?} {path}: {text}"
        );
        assert_eq!(counts.signed_in(), 0);
    }
    assert!(
        !dir.path().join("c.json").exists()
            || !std::fs::read_to_string(dir.path().join("c.json")).unwrap().contains("access_token")
    );
    task.abort();
}

/// Nothing listening: rmcp's error says which URL could not be reached and what to check.
#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_server_is_an_rmcp_error_saying_what_to_check() {
    let port = crate::common::free_port();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{port}/mcp");
    let error = connect(&url, options(&dir.path().join("c.json"), &Counting::default()), Generation::Sessions)
        .await
        .map(|_| ())
        .expect_err("nothing listens there");
    let text = error.to_string();
    assert!(
        text.contains(&format!("could not reach {url}")) && text.contains("Is the server running and the URL right?"),
        "{text}"
    );
}

/// A web app's own sign-in handler: `PrintUrl` and an observer that receives the authorization URL (here it
/// "sends the user there" by fetching it, and the redirect comes back to the loopback listener).
#[tokio::test(flavor = "multi_thread")]
async fn a_callers_sign_in_handler_receives_the_authorization_url() {
    struct Handler(Arc<Mutex<Vec<String>>>);
    impl Observer for Handler {
        fn event(&self, event: &Event<'_>) {
            if let Event::AuthorizationUrl { url, .. } = event {
                self.0.lock().unwrap().push(url.to_string());
                let url = url.to_string();
                tokio::spawn(async move { reqwest::get(url).await.ok() });
            }
        }
    }
    let server = start(None).await;
    let dir = tempfile::tempdir().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut options = options(&dir.path().join("c.json"), &Counting::default());
    options.authorization_mode = AuthorizationMode::PrintUrl;
    options.observer = Arc::new(Handler(seen.clone()));
    let client = connect(server.mcp_url().as_str(), options, Generation::Stateless).await.unwrap();
    weather(&client, "Nairobi").await;
    client.cancel().await.unwrap();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(seen[0].starts_with(&format!("{}authorize?", server.base_url())), "{seen:?}");
    assert!(seen[0].contains("code_challenge_method=S256"), "{seen:?}");
    server.shutdown().await;
}
