//! An rmcp client on superdynamic's transport: lists the tools of any OAuth-protected MCP server and calls one.
//! The first run signs in (the browser opens; `--no-browser` prints the URL, `--device` uses the device flow);
//! later runs reuse the tokens in the credential file, shared with the `superdynamic` command.
//!
//! ```text
//! cargo run -p superdynamic --features rmcp --example rmcp_tools -- URL [TOOL [ARGUMENTS_JSON]] [--modern]
//! ```
//!
//! `--modern` starts with `server/discover` (MCP 2026-07-28, stateless) instead of `initialize` (2025-11-25
//! sessions). The credentials are kept in `SUPERDYNAMIC_STORE_PATH`, else the CLI's default file.

use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, ProtocolVersion};
use rmcp::service::{ClientLifecycleMode, ClientServiceExt};
use superdynamic::authorization::AuthorizationMode;
use superdynamic::store::FileStore;
use superdynamic::{ClientOptions, rmcp::transport};

#[tokio::main]
async fn main() {
    if let Err(error) = run().await {
        // rmcp wraps the transport's error: print the chain, where superdynamic's message is.
        let mut message = error.to_string();
        let mut source = error.source();
        while let Some(cause) = source {
            message.push_str(&format!(": {cause}"));
            source = cause.source();
        }
        eprintln!("rmcp_tools: {message}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| args.iter().any(|a| a == name);
    let positional: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let Some(url) = positional.first() else {
        eprintln!("usage: rmcp_tools URL [TOOL [ARGUMENTS_JSON]] [--modern] [--no-browser | --device | --fetch]");
        std::process::exit(2);
    };
    let path = match std::env::var_os("SUPERDYNAMIC_STORE_PATH") {
        Some(path) => path.into(),
        None => FileStore::default_path()?,
    };
    let mut options = ClientOptions::new(FileStore::new(path));
    options.client_name = "rmcp_tools".into();
    options.authorization_mode = match () {
        _ if flag("--device") => AuthorizationMode::Device,
        _ if flag("--no-browser") => AuthorizationMode::PrintUrl,
        _ if flag("--fetch") => AuthorizationMode::Fetch, // servers that approve at once (test servers)
        _ => AuthorizationMode::Browser,
    };

    let transport = transport(url, options).await?;
    let client = if flag("--modern") {
        let lifecycle = ClientLifecycleMode::Discover { preferred_versions: vec![ProtocolVersion::V_2026_07_28] };
        ().serve_with_lifecycle(transport, lifecycle).await?
    } else {
        ().serve(transport).await?
    };

    let tools = client.list_all_tools().await?;
    for tool in &tools {
        println!("{}: {}", tool.name, tool.description.as_deref().unwrap_or(""));
    }
    if let Some(tool) = positional.get(1) {
        let arguments = match positional.get(2) {
            Some(json) => serde_json::from_str(json)?,
            None => serde_json::Map::new(),
        };
        let params = CallToolRequestParams::new(tool.to_string()).with_arguments(arguments);
        let result = client.call_tool(params).await?;
        println!("{}", serde_json::to_string_pretty(&result)?);
    }
    client.cancel().await?;
    Ok(())
}
