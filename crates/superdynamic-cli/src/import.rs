//! `superdynamic import mcp-remote URL...`: carries mcp-remote's stored sign-ins into the credential store of
//! this profile, so switching from mcp-remote needs no new sign-in. mcp-remote's directory is only read.

use crate::Failure;
use crate::cli::{GlobalArgs, ImportArgs as Args, ImportMcpRemoteArgs as McpRemoteArgs, ImportSource as Source};
use crate::commands::options;
use crate::narrate::Narrator;
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;
use superdynamic::import::mcp_remote::{self, McpRemoteDir, McpRemoteSignIn, ServerSpec};
use superdynamic::token::now_unix;
use superdynamic::{AdoptOptions, AdoptOutcome, McpClient};

pub async fn run(global: &GlobalArgs, args: &Args) -> Result<(), Failure> {
    match &args.source {
        Source::McpRemote(a) => mcp_remote(global, a).await,
    }
}

/// What happened to one server.
struct Report {
    server: ServerSpec,
    /// The host configuration's name for it, with --from-config.
    entry: Option<String>,
    outcome: Result<Imported, Skipped>,
}

struct Imported {
    sign_in: McpRemoteSignIn,
    issuer: String,
}

struct Skipped {
    reason: String,
    /// Benign: the server is already usable from our store.
    already_signed_in: bool,
}

impl Skipped {
    fn because(reason: impl Into<String>) -> Self {
        Self { reason: reason.into(), already_signed_in: false }
    }
}

async fn mcp_remote(global: &GlobalArgs, args: &McpRemoteArgs) -> Result<(), Failure> {
    let servers = servers(global, args)?;
    let base =
        mcp_remote::base_dir(args.dir.as_deref(), std::env::var_os("MCP_REMOTE_CONFIG_DIR"), std::env::home_dir())
            .ok_or_else(|| Failure::usage("no home directory to find mcp-remote's ~/.mcp-auth in; pass --dir"))?;
    let dir = McpRemoteDir::open(&base).map_err(|e| {
        Failure::usage(format!(
            "could not read mcp-remote's directory {} ({e}); pass --dir with the directory mcp-remote keeps its \
             sign-ins in (its MCP_REMOTE_CONFIG_DIR, by default ~/.mcp-auth)",
            base.display()
        ))
    })?;
    let store = crate::store::open(global)?.describe();
    let mut reports = Vec::new();
    for (entry, server) in servers {
        let outcome = import_one(global, args, &dir, &server).await;
        reports.push(Report { server, entry, outcome });
    }
    print_reports(global, args, &store, &reports);
    let failed = reports.iter().filter(|r| r.outcome.as_ref().is_err_and(|s| !s.already_signed_in)).count();
    if failed > 0 {
        return Err(Failure::other(format!(
            "{failed} of {} server(s) could not be imported; the reasons are above",
            reports.len()
        )));
    }
    Ok(())
}

/// The servers to import: the URLs given (with --header and --resource), then the host configuration's.
fn servers(global: &GlobalArgs, args: &McpRemoteArgs) -> Result<Vec<(Option<String>, ServerSpec)>, Failure> {
    let mut urls = args.urls.clone();
    if let Some(flag) = &global.server_url {
        urls.push(flag.clone());
    }
    let mut servers = Vec::new();
    for url in urls {
        let mut server = ServerSpec::new(url);
        server.resource = args.resource.clone();
        for header in &args.headers {
            if !server.add_header_argument(header) {
                return Err(Failure::usage(format!(
                    "--header '{header}' is not NAME:VALUE with a name of letters, digits, - and _; mcp-remote \
                     ignores such a header, so leave it out here too"
                )));
            }
        }
        servers.push((None, server));
    }
    if let Some(path) = &args.from_config {
        servers.extend(host_config(path)?.into_iter().map(|e| (Some(e.name), e.server)));
    }
    if servers.is_empty() {
        return Err(Failure::usage(
            "name the servers to import: `superdynamic import mcp-remote https://mcp.example.com/mcp` (the URL as \
             given to mcp-remote), or --from-config with your MCP host's configuration file",
        ));
    }
    let mut unique: Vec<(Option<String>, ServerSpec)> = Vec::new();
    for (entry, server) in servers {
        if !unique.iter().any(|(_, s)| *s == server) {
            unique.push((entry, server));
        }
    }
    Ok(unique)
}

fn host_config(path: &Path) -> Result<Vec<mcp_remote::HostEntry>, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::usage(format!("could not read the host configuration {}: {e}", path.display())))?;
    let config: Value = serde_json::from_str(&text)
        .map_err(|e| Failure::usage(format!("the host configuration {} is not valid JSON: {e}", path.display())))?;
    let entries = mcp_remote::mcp_remote_entries(&config);
    if entries.is_empty() {
        return Err(Failure::usage(format!(
            "the host configuration {} has no server started with mcp-remote (looked in mcpServers, servers and \
             context_servers for a command or argument naming mcp-remote)",
            path.display()
        )));
    }
    Ok(entries)
}

async fn import_one(
    global: &GlobalArgs,
    args: &McpRemoteArgs,
    dir: &McpRemoteDir,
    server: &ServerSpec,
) -> Result<Imported, Skipped> {
    let sign_in = dir.find(server, now_unix()).map_err(|e| Skipped::because(e.to_string()))?;
    let mut options = options(global).map_err(|f| Skipped::because(f.message))?;
    // The report says what happened; the discovery narration would only repeat it.
    options.observer = Arc::new(Narrator { quiet: true });
    options.interactive = false;
    let client = McpClient::new(&server.url, options).map_err(|e| Skipped::because(e.to_string()))?;
    let adopt = AdoptOptions { replace: args.force, dry_run: args.dry_run };
    let outcome = client.adopt(sign_in.registration.clone(), sign_in.tokens.clone(), adopt).await;
    match outcome.map_err(|e| Skipped::because(e.to_string()))? {
        AdoptOutcome::Adopted(record) => Ok(Imported { sign_in, issuer: record.issuer.to_string() }),
        AdoptOutcome::AlreadyStored(record) => Err(Skipped {
            reason: format!(
                "already signed in (profile {}, authorization server {}); pass --force to replace it",
                record.profile, record.issuer
            ),
            already_signed_in: true,
        }),
        AdoptOutcome::NotRequired => {
            Err(Skipped::because("the server answers without authorization now, so there is nothing to sign in to"))
        }
    }
}

fn print_reports(global: &GlobalArgs, args: &McpRemoteArgs, store: &str, reports: &[Report]) {
    let now = now_unix() as i64;
    if global.json {
        let results: Vec<Value> = reports.iter().map(|r| report_json(r, args.dry_run, now)).collect();
        println!(
            "{}",
            json!({ "store": store, "profile": global.profile, "dry_run": args.dry_run, "results": results })
        );
        return;
    }
    for report in reports {
        let name = match &report.entry {
            Some(entry) => format!("{} ({entry})", report.server.url),
            None => report.server.url.clone(),
        };
        match &report.outcome {
            Ok(imported) => {
                let verb = if args.dry_run { "Would import" } else { "Imported" };
                let sign_in = &imported.sign_in;
                println!("{verb} {name}: {}", what(sign_in).join(" and "));
                println!("    from:      {}", sign_in.dir.join(format!("{}_*", sign_in.hash)).display());
                println!("    client id: {}", sign_in.registration.client_id);
                println!("    issuer:    {}", imported.issuer);
                if let Some(status) = token_status(sign_in, now) {
                    println!("    token:     {status}");
                }
            }
            Err(skipped) => println!("Skipped {name}: {}", skipped.reason),
        }
    }
    if args.dry_run {
        println!("Dry run: nothing was saved.");
    } else if reports.iter().any(|r| r.outcome.is_ok()) {
        println!("Saved in {store} (profile {}).", global.profile);
    }
}

fn report_json(report: &Report, dry_run: bool, now: i64) -> Value {
    let mut row = json!({ "url": report.server.url, "hash": report.server.hash() });
    if let Some(entry) = &report.entry {
        row["entry"] = json!(entry);
    }
    match &report.outcome {
        Ok(imported) => {
            let sign_in = &imported.sign_in;
            let tokens = sign_in.tokens.as_ref();
            row["status"] = json!(if dry_run { "would_import" } else { "imported" });
            row["imported"] = json!(what(sign_in));
            row["from"] = json!(sign_in.dir);
            row["issuer"] = json!(imported.issuer);
            row["client_id"] = json!(sign_in.registration.client_id);
            row["expires_in"] = json!(tokens.and_then(|t| t.expires_at).map(|t| t as i64 - now));
            row["refreshable"] = json!(tokens.is_some_and(|t| t.refresh_token.is_some()));
        }
        Err(skipped) => {
            row["status"] = json!("skipped");
            row["reason"] = json!(skipped.reason);
        }
    }
    row
}

fn what(sign_in: &McpRemoteSignIn) -> Vec<&'static str> {
    let mut what = vec!["registration"];
    if sign_in.tokens.is_some() {
        what.push("tokens");
    }
    what
}

fn token_status(sign_in: &McpRemoteSignIn, now: i64) -> Option<String> {
    let tokens = sign_in.tokens.as_ref()?;
    let refreshable = if tokens.refresh_token.is_some() { ", refreshable" } else { ", no refresh token" };
    Some(match tokens.expires_at.map(|t| t as i64 - now) {
        Some(secs) if secs <= 0 => format!("expired{refreshable}"),
        Some(secs) => format!("valid {secs} s{refreshable}"),
        None => format!("no expiry given{refreshable}"),
    })
}
