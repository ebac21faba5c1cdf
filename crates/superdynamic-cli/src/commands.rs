//! One function per subcommand, each a thin layer over the library.

use crate::Failure;
use crate::cli::{CallArgs, GlobalArgs, GrantKind, LogoutArgs, ProtocolChoice, ServerArg, StoreKind, TransportChoice};
use crate::interact::CliHandler;
use crate::narrate::Narrator;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use superdynamic::authorization::AuthorizationMode;
use superdynamic::client_auth::ClientKey;
use superdynamic::http::OAuthTimeouts;
use superdynamic::resource::Issuer;
use superdynamic::secret::ClientSecret;
use superdynamic::token::now_unix;
use superdynamic::transport::{Generation, TransportOrder};
use superdynamic::{ClientOptions, Grant, LoginOutcome, McpClient, StaticClient};

pub fn options(global: &GlobalArgs) -> Result<ClientOptions, Failure> {
    if global.client_secret.is_some() && global.client_id.is_none() {
        return Err(Failure::usage("a client secret was given without --client-id (or SUPERDYNAMIC_CLIENT_ID)"));
    }
    let mut options = ClientOptions::new(crate::store::open(global)?);
    options.profile = global.profile.clone();
    // One command, one exchange: the session's GET stream opens only before a call that may need it (a
    // tool's elicitation), never for a listing. The proxy opens it at once.
    options.server_stream = superdynamic::transport::ServerStream::BeforeFirstCall;
    options.authorization_mode = if global.device {
        AuthorizationMode::Device
    } else if global.auto_authorize {
        AuthorizationMode::Fetch
    } else if global.no_browser {
        AuthorizationMode::PrintUrl
    } else {
        AuthorizationMode::Browser
    };
    options.interactive = !global.non_interactive;
    options.static_clients = static_clients(global)?;
    options.pre_registered_only = global.client_issuer.is_some();
    options.client_metadata_url = global.client_metadata_url.clone();
    options.grant = match global.grant {
        GrantKind::AuthorizationCode => Grant::AuthorizationCode,
        GrantKind::ClientCredentials => Grant::ClientCredentials,
        GrantKind::Enterprise => Grant::Enterprise,
        GrantKind::Workload => Grant::Workload,
    };
    crate::assertion_flags::apply(global, &mut options)?;
    options.discovery_policy.allow_missing_pkce_metadata = global.allow_missing_pkce_metadata;
    options.allow_private_network = global.allow_private_network;
    options.scope = global.scope.clone();
    options.callback_port = global.callback_port;
    options.paste_redirect = global.no_browser;
    options.redirect_uri = match &global.redirect_uri {
        None => None,
        Some(raw) => {
            let uri = url::Url::parse(raw).map_err(|e| Failure::usage(format!("--redirect-uri '{raw}': {e}")))?;
            if !superdynamic::resource::is_secure_or_loopback(&uri) {
                return Err(Failure::usage(format!(
                    "--redirect-uri '{raw}' must be https, or http on a loopback address (MCP §Communication Security)"
                )));
            }
            Some(uri)
        }
    };
    options.request_timeout = Duration::from_secs(global.mcp_timeout.max(1));
    options.oauth_timeouts = OAuthTimeouts::from_request(Duration::from_secs(global.timeout.max(1)));
    options.auth_timeout = Duration::from_secs(global.auth_timeout.max(1));
    options.observer = Arc::new(Narrator { quiet: global.json || global.silent });
    options.handler = Some(Arc::new(CliHandler { accept_defaults: global.accept_defaults, quiet: global.json }));
    options.transport = match global.transport {
        TransportChoice::HttpFirst => TransportOrder::HttpFirst,
        TransportChoice::SseFirst => TransportOrder::SseFirst,
        TransportChoice::HttpOnly => TransportOrder::HttpOnly,
        TransportChoice::SseOnly => TransportOrder::SseOnly,
    };
    options.env_proxy = global.enable_proxy;
    options.dpop = match global.dpop {
        crate::cli::DpopChoice::Auto => superdynamic::dpop::DpopMode::Auto,
        crate::cli::DpopChoice::Always => superdynamic::dpop::DpopMode::Always,
        crate::cli::DpopChoice::Never => superdynamic::dpop::DpopMode::Never,
    };
    options.generation = match global.mcp_protocol {
        ProtocolChoice::Auto => None,
        ProtocolChoice::Modern => Some(Generation::Modern),
        ProtocolChoice::Legacy => Some(Generation::Legacy),
    };
    Ok(options)
}

/// Pre-registered clients: the flags first, then the clients file (one entry per authorization server).
pub fn static_clients(global: &GlobalArgs) -> Result<Vec<StaticClient>, Failure> {
    let mut clients = Vec::new();
    if let Some(id) = &global.client_id {
        let private_key = match &global.private_key {
            Some(path) => Some(read_key(path, &global.signing_alg)?),
            None => None,
        };
        clients.push(StaticClient {
            issuer: global.client_issuer.clone().map(Issuer::new),
            client_id: id.clone(),
            client_secret: global.client_secret.clone().map(ClientSecret::new),
            private_key,
        });
    } else if global.private_key.is_some() || global.client_issuer.is_some() {
        return Err(Failure::usage("--private-key and --client-issuer go with --client-id"));
    }
    let explicit = global.clients_file.clone();
    let path = match explicit.clone() {
        Some(p) => p,
        None => crate::store::file_path(global)?.with_file_name("clients.json"),
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && explicit.is_none() => return Ok(clients),
        Err(e) => return Err(Failure::usage(format!("could not read the clients file {}: {e}", path.display()))),
    };
    let file: ClientsFile = serde_json::from_str(&text).map_err(|e| {
        Failure::usage(format!("the clients file {} is not valid: {e}. See the README for its format", path.display()))
    })?;
    for entry in file.clients {
        let secret = match (&entry.client_secret, &entry.client_secret_env) {
            (Some(s), _) => Some(ClientSecret::new(s.clone())),
            (None, Some(var)) => Some(ClientSecret::new(std::env::var(var).map_err(|_| {
                Failure::usage(format!("the clients file names ${var} for {}, but it is not set", entry.client_id))
            })?)),
            (None, None) => None,
        };
        let private_key = match &entry.private_key_file {
            Some(p) => Some(read_key(p, entry.signing_alg.as_deref().unwrap_or("ES256"))?),
            None => None,
        };
        clients.push(StaticClient {
            issuer: Some(Issuer::new(entry.issuer)),
            client_id: entry.client_id,
            client_secret: secret,
            private_key,
        });
    }
    Ok(clients)
}

/// `clients.json`: `{"clients": [{"issuer": "...", "client_id": "...", "client_secret_env": "VAR"}]}`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientsFile {
    clients: Vec<ClientsFileEntry>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientsFileEntry {
    issuer: String,
    client_id: String,
    #[serde(default)]
    client_secret: Option<String>,
    #[serde(default)]
    client_secret_env: Option<String>,
    #[serde(default)]
    private_key_file: Option<std::path::PathBuf>,
    #[serde(default)]
    signing_alg: Option<String>,
    /// The enterprise IdP for this authorization server (read by `assertion_flags`).
    #[serde(default)]
    #[allow(dead_code)]
    idp: Option<serde_json::Value>,
}

fn read_key(path: &std::path::Path, alg: &str) -> Result<ClientKey, Failure> {
    let pem = std::fs::read(path)
        .map_err(|e| Failure::usage(format!("could not read the private key {}: {e}", path.display())))?;
    ClientKey::from_pem(&pem, alg, None).map_err(|e| Failure::usage(format!("{}: {e}", path.display())))
}

/// The server URL from the positional argument or `--server-url`.
pub fn server_url(global: &GlobalArgs, positional: Option<&str>) -> Result<String, Failure> {
    match (positional, global.server_url.as_deref()) {
        (Some(p), Some(flag)) if p != flag => {
            Err(Failure::usage(format!("two different server URLs given ('{p}' and --server-url '{flag}'); give one")))
        }
        (Some(url), _) | (None, Some(url)) => Ok(url.to_string()),
        (None, None) => Err(Failure::usage(
            "no server URL given: pass it as the first argument, e.g. `superdynamic tools https://mcp.example.com/mcp`",
        )),
    }
}

fn client(global: &GlobalArgs, arg: &ServerArg) -> Result<McpClient, Failure> {
    let url = server_url(global, arg.url.as_deref())?;
    McpClient::new(&url, options(global)?).map_err(Failure::from_lib)
}

pub async fn register(global: &GlobalArgs, arg: &ServerArg) -> Result<(), Failure> {
    let client = client(global, arg)?;
    match client.register().await.map_err(Failure::from_lib)? {
        None => {
            print(global, json!({ "authorization_required": false }), "This server does not require authorization.")
        }
        Some(reg) => print(
            global,
            json!({ "client_id": reg.client_id, "auth_method": reg.auth_method, "source": reg.source }),
            &format!("Client ID: {}", reg.client_id),
        ),
    }
    Ok(())
}

pub async fn login(global: &GlobalArgs, arg: &ServerArg) -> Result<(), Failure> {
    let client = client(global, arg)?;
    match client.login().await.map_err(Failure::from_lib)? {
        LoginOutcome::NotRequired => {
            print(global, json!({ "authorization_required": false }), "This server does not require authorization.")
        }
        LoginOutcome::SignedIn(record) => {
            let tokens = record.tokens.as_ref();
            let expires_in = tokens.and_then(|t| t.expires_at).map(|t| t.saturating_sub(now_unix()));
            print(
                global,
                json!({
                    "server": record.server, "issuer": record.issuer,
                    "client_id": record.registration.as_ref().map(|r| r.client_id.clone()),
                    "scope": tokens.and_then(|t| t.scope.clone()),
                    "expires_in": expires_in,
                    "refresh_token": tokens.is_some_and(|t| t.refresh_token.is_some()),
                }),
                &format!("Signed in to {} (authorization server {})", record.server, record.issuer),
            );
        }
    }
    Ok(())
}

pub async fn tools(global: &GlobalArgs, arg: &ServerArg) -> Result<(), Failure> {
    let client = client(global, arg)?;
    let result = client.list_tools().await;
    client.close().await;
    let tools = result.map_err(Failure::from_lib)?;
    if global.json {
        println!("{}", Value::Array(tools));
        return Ok(());
    }
    if tools.is_empty() {
        println!("The server offers no tools.");
    }
    for tool in &tools {
        let name = tool.get("name").and_then(Value::as_str).unwrap_or("(unnamed)");
        let description = tool.get("description").and_then(Value::as_str).unwrap_or("");
        let first_line = description.lines().next().unwrap_or("");
        println!("{name:<24} {first_line}");
    }
    Ok(())
}

pub async fn call(global: &GlobalArgs, args: &CallArgs) -> Result<(), Failure> {
    let (url, tool) = match args.positional.as_slice() {
        [url, tool] => (server_url(global, Some(url))?, tool.clone()),
        [tool] => (server_url(global, None)?, tool.clone()),
        _ => {
            return Err(Failure::usage("usage: superdynamic call URL TOOL --args JSON"));
        }
    };
    let arguments: Value =
        serde_json::from_str(&args.args).map_err(|e| Failure::usage(format!("--args is not valid JSON: {e}")))?;
    if !arguments.is_object() {
        return Err(Failure::usage("--args must be a JSON object, for example '{\"location\":\"Paris\"}'"));
    }
    let client = McpClient::new(&url, options(global)?).map_err(Failure::from_lib)?;
    let result = client.call_tool(&tool, arguments).await;
    client.close().await;
    let result = result.map_err(Failure::from_lib)?;
    let is_error = result.get("isError").and_then(Value::as_bool).unwrap_or(false);
    if global.json {
        println!("{result}");
    } else {
        print_tool_result(&result);
    }
    if is_error {
        return Err(Failure::tool(format!("the tool '{tool}' reported an error")));
    }
    Ok(())
}

/// Text content as text; other content and structured content as JSON.
pub fn print_tool_result(result: &Value) {
    let mut printed = false;
    for item in result.get("content").and_then(Value::as_array).into_iter().flatten() {
        match (item.get("type").and_then(Value::as_str), item.get("text").and_then(Value::as_str)) {
            (Some("text"), Some(text)) => println!("{text}"),
            _ => println!("{item}"),
        }
        printed = true;
    }
    if !printed && let Some(structured) = result.get("structuredContent") {
        println!("{}", serde_json::to_string_pretty(structured).unwrap_or_default());
    }
}

/// Every stored credential, never a secret. A shared PostgreSQL store lists only the current profile (tenant).
pub async fn clients(global: &GlobalArgs) -> Result<(), Failure> {
    let store = crate::store::open(global)?;
    let profile = (global.store == Some(StoreKind::Postgres)).then_some(global.profile.as_str());
    let credentials = store.list(profile).await.map_err(|e| Failure::from_lib(e.into()))?;
    let now = now_unix();
    let rows: Vec<Value> = credentials
        .iter()
        .map(|r| {
            let tokens = r.tokens.as_ref();
            json!({
                "profile": r.profile,
                "server": r.server,
                "issuer": r.issuer,
                "client_id": r.registration.as_ref().map(|g| g.client_id.clone()),
                "registration": r.registration.as_ref().map(|g| g.source),
                "signed_in": tokens.is_some(),
                "scope": tokens.and_then(|t| t.scope.clone()),
                "expires_in": tokens.and_then(|t| t.expires_at).map(|t| t as i64 - now as i64),
                "refreshable": tokens.is_some_and(|t| t.refresh_token.is_some()),
            })
        })
        .collect();
    if global.json {
        println!("{}", json!({ "store": store.describe(), "credentials": rows }));
        return Ok(());
    }
    println!("Store: {}", store.describe());
    if rows.is_empty() {
        println!("No stored credentials.");
    }
    for (r, row) in credentials.iter().zip(&rows) {
        let status = match (row["signed_in"].as_bool(), row["expires_in"].as_i64()) {
            (Some(false), _) => "registered, not signed in".to_string(),
            (_, Some(secs)) if secs <= 0 => {
                "token expired".to_string() + if row["refreshable"] == true { " (refreshable)" } else { "" }
            }
            (_, Some(secs)) => format!("signed in, token valid {secs} s"),
            _ => "signed in".to_string(),
        };
        println!("[{}] {}", r.profile, r.server);
        println!("    issuer:    {}", r.issuer);
        println!("    client id: {}", r.registration.as_ref().map(|g| g.client_id.as_str()).unwrap_or("-"));
        println!("    status:    {status}");
        if let Some(scope) = row["scope"].as_str() {
            println!("    scope:     {scope}");
        }
    }
    Ok(())
}

pub async fn refresh(global: &GlobalArgs, arg: &ServerArg) -> Result<(), Failure> {
    let client = client(global, arg)?;
    let tokens = client.refresh().await.map_err(Failure::from_lib)?;
    let expires_in = tokens.expires_at.map(|t| t.saturating_sub(now_unix()));
    print(
        global,
        json!({ "refreshed": true, "expires_in": expires_in, "scope": tokens.scope }),
        &format!("Token refreshed{}", expires_in.map(|s| format!("; valid for {s} s")).unwrap_or_default()),
    );
    Ok(())
}

pub async fn logout(global: &GlobalArgs, arg: &LogoutArgs) -> Result<(), Failure> {
    let client = client(global, &arg.server)?;
    let outcome = client.logout(arg.keep_registration).await.map_err(Failure::from_lib)?;
    for problem in &outcome.revocation_errors {
        eprintln!("warning: could not revoke the {problem}");
    }
    let mut text = if outcome.removed {
        format!("Signed out of {}; local credentials deleted", client.server())
    } else {
        format!("No stored credentials for {}", client.server())
    };
    if !outcome.revoked.is_empty() {
        text.push_str(&format!(" (revoked at the authorization server: {})", outcome.revoked.join(", ")));
    }
    if arg.keep_registration && outcome.removed {
        text.push_str("; the client registration was kept");
    }
    print(
        global,
        json!({ "removed": outcome.removed, "revoked": outcome.revoked, "revocation_errors": outcome.revocation_errors }),
        &text,
    );
    Ok(())
}

fn print(global: &GlobalArgs, json: Value, text: &str) {
    if global.json {
        println!("{json}");
    } else {
        println!("{text}");
    }
}
