//! `superdynamic demo`: the reference server in-process (auto-approve, in-memory database), a throwaway
//! credential store, and every step of the flow narrated.

use crate::Failure;
use crate::cli::GlobalArgs;
use crate::commands::print_tool_result;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use superdynamic::authorization::AuthorizationMode;
use superdynamic::store::FileStore;
use superdynamic::token::now_unix;
use superdynamic::{ClientOptions, Event, LoginOutcome, McpClient, Observer};
use superdynamic_server::{Database, ServerConfig};

struct DemoNarrator {
    step: AtomicUsize,
}

impl DemoNarrator {
    fn step(&self, title: &str) {
        let n = self.step.fetch_add(1, Ordering::SeqCst) + 1;
        println!("\n{n}. {title}");
    }
}

impl Observer for DemoNarrator {
    fn event(&self, event: &Event<'_>) {
        match event {
            Event::Challenge { status, challenge } => {
                let why = if *status == 403 {
                    "the token lacks a scope (insufficient_scope)"
                } else {
                    "authorization needed"
                };
                self.step(&format!("The MCP server answers HTTP {status}: {why}"));
                if let Some(c) = challenge {
                    if let Some(url) = &c.resource_metadata {
                        println!("   WWW-Authenticate resource_metadata = {url}");
                    }
                    if let Some(scope) = &c.scope {
                        println!("   WWW-Authenticate scope             = {scope}");
                    }
                }
            }
            Event::Discovered { discovery } => {
                self.step("Discovery (RFC 9728 protected resource metadata, RFC 8414 authorization server metadata)");
                for url in &discovery.fetched {
                    println!("   GET {url}");
                }
                println!("   resource             = {}", discovery.resource);
                println!("   authorization server = {}", discovery.issuer);
                let a = &discovery.authorization_server;
                println!("   authorize endpoint   = {}", a.authorization_endpoint);
                println!("   token endpoint       = {}", a.token_endpoint);
                if let Some(r) = &a.registration_endpoint {
                    println!("   registration         = {r}");
                }
            }
            Event::Registered { registration, reused } => {
                if *reused {
                    self.step(&format!("Reusing client registration {}", registration.client_id));
                } else {
                    self.step("Dynamic Client Registration (RFC 7591)");
                    println!("   client_id       = {}", registration.client_id);
                    println!("   redirect_uris   = {}", registration.redirect_uris.join(", "));
                    println!("   auth method     = {}", registration.auth_method.as_str());
                }
            }
            Event::AuthorizationUrl { url, .. } => {
                self.step("Authorization request (OAuth 2.1 code flow, PKCE S256, state, resource)");
                let shown: Vec<String> = url
                    .query_pairs()
                    .map(|(k, v)| {
                        let v = if k == "state" || k == "code_challenge" {
                            format!("{}…", &v[..v.len().min(8)])
                        } else {
                            v.into_owned()
                        };
                        format!("{k}={v}")
                    })
                    .collect();
                println!("   GET {}", url.as_str().split('?').next().unwrap_or_default());
                for pair in shown {
                    println!("       {pair}");
                }
                println!("   (the demo server approves at once; a real one shows you a sign-in and consent page)");
            }
            Event::WaitingForCallback { redirect_uri, .. } => {
                println!("   Listening for the redirect on {redirect_uri}; state and iss are checked (RFC 9207)");
            }
            Event::Authorized { tokens } => {
                self.step("Token exchange: code + PKCE verifier + resource → tokens");
                describe_tokens(tokens);
            }
            Event::Refreshed { tokens } => {
                self.step("Refresh (rotating refresh token)");
                describe_tokens(tokens);
            }
            Event::WaitingForOtherSignIn { .. }
            | Event::PasteRejected { .. }
            | Event::DeviceCode { .. }
            | Event::RegistrationDiscarded { .. } => {}
            Event::StepUp { scope } => {
                self.step(&format!("Step-up: signing in again for the union of scopes, adding {scope}"));
            }
        }
    }
}

fn describe_tokens(tokens: &superdynamic::token::TokenSet) {
    println!("   token type      = {}", tokens.token_type);
    if let Some(at) = tokens.expires_at {
        println!("   expires in      = {} s", at.saturating_sub(now_unix()));
    }
    println!("   scope           = {}", tokens.scope.as_deref().unwrap_or("(not stated)"));
    println!(
        "   refresh token   = {}",
        if tokens.refresh_token.is_some() { "yes (stored, never printed)" } else { "no" }
    );
}

pub async fn run(global: &GlobalArgs) -> Result<(), Failure> {
    let server = superdynamic_server::start(ServerConfig {
        bind: "127.0.0.1:0".parse().map_err(|_| Failure::other("bad bind address"))?,
        database: Database::Memory,
        auto_approve: true,
        ..ServerConfig::default()
    })
    .await
    .map_err(|e| Failure::other(format!("could not start the reference server: {e}")))?;
    let result = walk_through(global, server.mcp_url().as_str()).await;
    server.shutdown().await;
    result
}

async fn walk_through(global: &GlobalArgs, mcp_url: &str) -> Result<(), Failure> {
    let dir = tempfile::tempdir().map_err(|e| Failure::other(format!("could not create a temporary store: {e}")))?;
    let narrator = Arc::new(DemoNarrator { step: AtomicUsize::new(0) });
    narrator.step(&format!("Reference server started at {mcp_url} (auto-approve, in-memory database)"));
    println!("   credential store: {} (temporary)", dir.path().join("credentials.json").display());
    let mut options = ClientOptions::new(FileStore::new(dir.path().join("credentials.json")));
    options.authorization_mode = AuthorizationMode::Fetch;
    options.observer = narrator.clone();
    options.profile = global.profile.clone();
    let client = McpClient::new(mcp_url, options).map_err(Failure::from_lib)?;

    match client.login().await.map_err(Failure::from_lib)? {
        LoginOutcome::SignedIn(_) => {}
        LoginOutcome::NotRequired => {
            return Err(Failure::other("the reference server did not ask for authorization"));
        }
    }

    narrator.step("MCP over Streamable HTTP: initialize, then tools/list (Bearer token on every request)");
    let tools = client.list_tools().await.map_err(Failure::from_lib)?;
    if let Some(session) = client.transport().session() {
        println!("   negotiated protocol version {}", session.protocol_version);
    }
    for tool in &tools {
        let name = tool.get("name").and_then(Value::as_str).unwrap_or("?");
        let description = tool.get("description").and_then(Value::as_str).unwrap_or("");
        println!("   - {name:<18} {}", description.lines().next().unwrap_or(""));
    }

    narrator.step("tools/call get_weather {\"location\": \"San Francisco\", \"units\": \"fahrenheit\"}");
    let weather = client
        .call_tool("get_weather", json!({ "location": "San Francisco", "units": "fahrenheit" }))
        .await
        .map_err(Failure::from_lib)?;
    print_tool_result(&weather);

    client.refresh().await.map_err(Failure::from_lib)?;

    narrator.step("tools/call read_file {\"path\": \"README.txt\"}: needs files:read, which we do not have yet");
    match client.call_tool("read_file", json!({ "path": "README.txt" })).await {
        Ok(result) => print_tool_result(&result),
        Err(e) => println!("   {e}"),
    }

    client.close().await;
    println!(
        "\nDone: discovery, registration, authorization, token, tools, refresh and step-up all ran against the reference server."
    );
    Ok(())
}
