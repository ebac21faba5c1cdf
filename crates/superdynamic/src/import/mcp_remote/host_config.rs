//! The servers an MCP host starts through mcp-remote, read from the host's JSON configuration (Claude Desktop,
//! Cursor and others: `mcpServers`; VS Code: `servers`; Zed: `context_servers`), each entry
//! `{"command": ..., "args": [...]}` whose command or arguments name `mcp-remote`, such as
//! `npx -y mcp-remote@latest https://mcp.example.com/mcp --header "Authorization: Bearer ${TOKEN}"`.

use super::hash::ServerSpec;
use serde_json::Value;

const SERVER_TABLES: [&str; 3] = ["mcpServers", "servers", "context_servers"];

/// One mcp-remote entry of a host configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostEntry {
    /// The entry's name in the configuration.
    pub name: String,
    pub server: ServerSpec,
}

/// Every mcp-remote entry of `config`, table by table, by name within each.
pub fn mcp_remote_entries(config: &Value) -> Vec<HostEntry> {
    let mut entries = Vec::new();
    for table in SERVER_TABLES {
        let Some(servers) = config.get(table).and_then(Value::as_object) else { continue };
        for (name, entry) in servers {
            if let Some(server) = mcp_remote_server(entry) {
                entries.push(HostEntry { name: name.clone(), server });
            }
        }
    }
    entries
}

/// The mcp-remote arguments of one entry, parsed as mcp-remote parses its command line
/// (`parseCommandLineArgs`): every `--header VALUE` pair is taken out first, then the URL is the first
/// argument left, and `--resource` is followed by its value.
fn mcp_remote_server(entry: &Value) -> Option<ServerSpec> {
    let command = entry.get("command").and_then(Value::as_str).unwrap_or("");
    let args: Vec<&str> = entry.get("args")?.as_array()?.iter().filter_map(Value::as_str).collect();
    let start = if names_mcp_remote(command) { 0 } else { args.iter().position(|a| names_mcp_remote(a))? + 1 };
    let mut rest: Vec<&str> = Vec::new();
    let mut header_arguments = Vec::new();
    let mut i = start;
    while i < args.len() {
        if args[i] == "--header" && i + 1 < args.len() {
            header_arguments.push(args[i + 1]);
            i += 2;
        } else {
            rest.push(args[i]);
            i += 1;
        }
    }
    let url = rest.first().filter(|u| !u.is_empty())?;
    let mut server = ServerSpec::new(*url);
    for argument in header_arguments {
        server.add_header_argument(argument);
    }
    server.resource = rest.iter().position(|a| *a == "--resource").and_then(|i| rest.get(i + 1)).map(|r| r.to_string());
    Some(server)
}

/// `mcp-remote`, `mcp-remote@0.1.29`, `/usr/local/bin/mcp-remote` or `mcp-remote.cmd`.
fn names_mcp_remote(argument: &str) -> bool {
    let base = argument.rsplit(['/', '\\']).next().unwrap_or(argument);
    let base = base.strip_suffix(".cmd").unwrap_or(base);
    base == "mcp-remote" || base.starts_with("mcp-remote@")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn entries_that_run_mcp_remote_with_their_headers_and_resource() {
        let config = json!({
            "mcpServers": {
                "plain": { "command": "npx", "args": ["-y", "mcp-remote", "https://a.example/mcp"] },
                "pinned": {
                    "command": "npx",
                    "args": ["mcp-remote@0.1.29", "--header", "Authorization: Bearer ${TOKEN}",
                             "https://b.example/sse", "--resource", "https://b.example/", "--allow-http"]
                },
                "direct": { "command": "/usr/local/bin/mcp-remote", "args": ["https://c.example/mcp", "9696"] },
                "local": { "command": "node", "args": ["server.js"] },
                "remote": { "type": "http", "url": "https://d.example/mcp" }
            },
            "servers": { "vscode": { "command": "npx", "args": ["mcp-remote", "https://e.example/mcp"] } }
        });
        let entries = mcp_remote_entries(&config);
        let names: Vec<(&str, &str)> = entries.iter().map(|e| (e.name.as_str(), e.server.url.as_str())).collect();
        assert_eq!(
            names,
            [
                ("direct", "https://c.example/mcp"),
                ("pinned", "https://b.example/sse"),
                ("plain", "https://a.example/mcp"),
                ("vscode", "https://e.example/mcp"),
            ]
        );
        let pinned = &entries[1].server;
        assert_eq!(pinned.resource.as_deref(), Some("https://b.example/"));
        assert_eq!(pinned.headers["Authorization"], "Bearer ${TOKEN}");
        assert_eq!(entries[0].server, ServerSpec::new("https://c.example/mcp"));
    }

    #[test]
    fn an_entry_without_a_url_is_left_out() {
        let config = json!({ "mcpServers": { "broken": { "command": "npx", "args": ["mcp-remote"] } } });
        assert!(mcp_remote_entries(&config).is_empty());
        assert!(mcp_remote_entries(&json!([1, 2])).is_empty());
    }
}
