//! `superdynamic demo --enterprise`: enterprise-managed authorization (SEP-990) from end to end on this machine.
//! The reference server runs with its minimal identity provider (`--idp`); the demo user signs in there for an
//! ID token, which the client exchanges at the IdP for an ID-JAG (RFC 8693) and redeems at the MCP
//! authorization server (RFC 7523 JWT bearer grant). No browser, no consent page.

use crate::Failure;
use crate::cli::GlobalArgs;
use crate::commands::print_tool_result;
use serde_json::{Value, json};
use std::sync::Arc;
use superdynamic::assertion_source::AssertionSource;
use superdynamic::secret::{Assertion, ClientSecret};
use superdynamic::store::FileStore;
use superdynamic::{ClientOptions, EnterpriseIdp, Event, Grant, LoginOutcome, McpClient, Observer, StaticClient};
use superdynamic_server::{Database, ServerConfig};

struct Narrator;

impl Observer for Narrator {
    fn event(&self, event: &Event<'_>) {
        match event {
            Event::Discovered { discovery } => {
                println!("\n3. Discovery: the MCP server names the authorization server {}", discovery.issuer);
                println!("   the client asks the IdP for an ID-JAG with audience = {}", discovery.issuer);
                println!("   and resource = {}, then redeems it there with the JWT bearer grant", discovery.resource);
            }
            Event::Authorized { tokens } => {
                println!("   -> an access token for the ID-JAG's user (no browser, no consent page)");
                println!("   scope = {}", tokens.scope.as_deref().unwrap_or("(not stated)"));
                println!(
                    "   refresh token = {}",
                    if tokens.refresh_token.is_some() { "yes" } else { "no (renewal repeats the exchange)" }
                );
            }
            Event::Refreshed { .. } => println!("   renewed: a fresh ID-JAG from the IdP, redeemed again"),
            _ => {}
        }
    }
}

fn failed(what: &str) -> impl Fn(reqwest::Error) -> Failure + '_ {
    move |e| Failure::other(format!("{what}: {e}"))
}

pub async fn run(global: &GlobalArgs) -> Result<(), Failure> {
    let server = superdynamic_server::start(ServerConfig {
        bind: "127.0.0.1:0".parse().map_err(|_| Failure::other("bad bind address"))?,
        database: Database::Memory,
        auto_approve: true,
        idp: true,
        ..ServerConfig::default()
    })
    .await
    .map_err(|e| Failure::other(format!("could not start the reference server: {e}")))?;
    let result = walk_through(global, &server).await;
    server.shutdown().await;
    result
}

async fn walk_through(global: &GlobalArgs, server: &superdynamic_server::RunningServer) -> Result<(), Failure> {
    let issuer = server.base_url().as_str().trim_end_matches('/').to_owned();
    let idp = format!("{issuer}/idp");
    let mcp_url = server.mcp_url().to_string();
    println!("1. Reference server at {mcp_url}, with its enterprise identity provider at {idp}");
    superdynamic::http::install_crypto_provider();
    let http = reqwest::Client::builder().build().map_err(failed("could not build an HTTP client"))?;
    // The company's administrator registers the client once, for the JWT bearer grant.
    let registered: Value = http
        .post(format!("{issuer}/register"))
        .json(&json!({
            "client_name": "superdynamic enterprise demo",
            "grant_types": ["urn:ietf:params:oauth:grant-type:jwt-bearer"],
            "token_endpoint_auth_method": "client_secret_basic",
        }))
        .send()
        .await
        .map_err(failed("registering the demo client"))?
        .json()
        .await
        .map_err(failed("reading the registration"))?;
    let field = |name: &str| registered[name].as_str().map(str::to_owned);
    let (Some(client_id), Some(secret)) = (field("client_id"), field("client_secret")) else {
        return Err(Failure::other(format!("the registration did not return a client: {registered}")));
    };
    println!("   pre-registered confidential client {client_id} (the same client at the IdP)");

    let signed_in: Value = http
        .post(format!("{idp}/id-token"))
        .form(&[("username", "demo"), ("password", "demo"), ("client_id", client_id.as_str())])
        .send()
        .await
        .map_err(failed("signing in at the IdP"))?
        .json()
        .await
        .map_err(failed("reading the ID token"))?;
    let Some(id_token) = signed_in["id_token"].as_str() else {
        return Err(Failure::other(format!("the IdP did not issue an ID token: {signed_in}")));
    };
    println!("\n2. The user signs in at the company IdP once (demo/demo) and gets an ID token (kept, never printed)");

    let dir = tempfile::tempdir().map_err(|e| Failure::other(format!("could not create a temporary store: {e}")))?;
    let mut options = ClientOptions::new(FileStore::new(dir.path().join("credentials.json")));
    options.profile = global.profile.clone();
    options.observer = Arc::new(Narrator);
    options.grant = Grant::Enterprise;
    let secret = ClientSecret::new(secret);
    options.static_clients = vec![StaticClient {
        issuer: None,
        client_id: client_id.clone(),
        client_secret: Some(secret.clone()),
        private_key: None,
    }];
    options.enterprise = Some(EnterpriseIdp {
        issuer: Some(idp),
        token_endpoint: None,
        client_id,
        client_secret: Some(secret),
        id_token: AssertionSource::Value(Assertion::new(id_token)),
    });
    let client = McpClient::new(&mcp_url, options).map_err(Failure::from_lib)?;
    if let LoginOutcome::NotRequired = client.login().await.map_err(Failure::from_lib)? {
        return Err(Failure::other("the reference server did not ask for authorization"));
    }
    println!("\n4. tools/call get_user_profile: it needs profile:read, so the 403 step-up repeats the exchange");
    let profile = client.call_tool("get_user_profile", json!({})).await.map_err(Failure::from_lib)?;
    print_tool_result(&profile);
    client.close().await;
    println!("\nDone: ID token -> ID-JAG (token exchange at the IdP) -> access token (JWT bearer grant) -> MCP.");
    Ok(())
}
