//! The MCP hosts `setup` knows: where each keeps its user-level config and in what shape, as each documents it.

use clap::ValueEnum;
use std::ffi::OsString;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Host {
    /// Claude Desktop: claude_desktop_config.json, "mcpServers".
    ClaudeDesktop,
    /// Cursor: ~/.cursor/mcp.json, "mcpServers".
    Cursor,
    /// VS Code: the user profile's mcp.json, "servers".
    Vscode,
    /// Windsurf: ~/.codeium/windsurf/mcp_config.json, "mcpServers".
    Windsurf,
    /// Codex: ~/.codex/config.toml (or $CODEX_HOME), [mcp_servers.NAME].
    Codex,
    /// Zed: settings.json (JSON with comments), "context_servers".
    Zed,
}

/// How a host's file holds its stdio servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A JSON (or JSONC) object under `servers_key` mapping names to `{"command", "args"}`, with `"type":
    /// "stdio"` first where the host wants it.
    Json { servers_key: &'static str, stdio_type: bool },
    /// Codex's TOML: `[mcp_servers.NAME]` tables with `command` and `args`.
    Toml,
}

impl Host {
    pub fn id(self) -> String {
        self.to_possible_value().map(|v| v.get_name().to_string()).unwrap_or_default()
    }

    pub fn label(self) -> &'static str {
        match self {
            Host::ClaudeDesktop => "Claude Desktop",
            Host::Cursor => "Cursor",
            Host::Vscode => "VS Code",
            Host::Windsurf => "Windsurf",
            Host::Codex => "Codex",
            Host::Zed => "Zed",
        }
    }

    pub fn format(self) -> Format {
        match self {
            // https://modelcontextprotocol.io/quickstart/user, https://docs.cursor.com/context/mcp,
            // https://docs.windsurf.com/windsurf/cascade/mcp
            Host::ClaudeDesktop | Host::Cursor | Host::Windsurf => {
                Format::Json { servers_key: "mcpServers", stdio_type: false }
            }
            // https://code.visualstudio.com/docs/copilot/reference/mcp-configuration: "type" is required.
            Host::Vscode => Format::Json { servers_key: "servers", stdio_type: true },
            // https://zed.dev/docs/ai/mcp: {"command", "args", "env"} (the older {"command": {"path", "args"}}
            // shape is rewritten to this one when updated).
            Host::Zed => Format::Json { servers_key: "context_servers", stdio_type: false },
            // https://developers.openai.com/codex/mcp
            Host::Codex => Format::Toml,
        }
    }

    /// Codex refuses server names outside `[A-Za-z0-9_-]`; the JSON hosts take any key.
    pub fn check_name(self, name: &str) -> Result<(), String> {
        if name.is_empty() || name.chars().any(char::is_control) {
            return Err(format!("--name '{}' is empty or has control characters", name.escape_debug()));
        }
        if self == Host::Codex && !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(format!("Codex server names may only have letters, digits, '-' and '_'; '{name}' has others"));
        }
        Ok(())
    }

    /// What to do after the file changed for the host to start the server.
    pub fn reload_hint(self) -> &'static str {
        match self {
            Host::ClaudeDesktop => "Quit and reopen Claude Desktop to load it.",
            Host::Cursor => "Cursor picks it up in Settings > MCP (restart Cursor if it does not appear).",
            Host::Vscode => "VS Code offers to start it from mcp.json (or run \"MCP: List Servers\").",
            Host::Windsurf => "Press refresh in Windsurf's MCP panel to load it.",
            Host::Codex => "The next Codex session starts it.",
            Host::Zed => "Zed reloads its settings by itself.",
        }
    }

    /// The user-level config file, from the environment `var` gives (the process's, in use).
    pub fn default_path(self, var: &dyn Fn(&str) -> Option<OsString>) -> Result<PathBuf, String> {
        let os = std::env::consts::OS;
        let nonempty = |name: &str| var(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        let home = || {
            nonempty(if os == "windows" { "USERPROFILE" } else { "HOME" })
                .ok_or_else(|| "cannot tell where your home directory is (HOME is not set)".to_string())
        };
        // The per-user application data directory: %APPDATA%, ~/Library/Application Support, $XDG_CONFIG_HOME.
        let app_data = || match os {
            "windows" => nonempty("APPDATA").ok_or_else(|| "APPDATA is not set".to_string()),
            "macos" => home().map(|h| h.join("Library/Application Support")),
            _ => nonempty("XDG_CONFIG_HOME").map_or_else(|| home().map(|h| h.join(".config")), Ok),
        };
        let path = match self {
            Host::ClaudeDesktop => app_data()?.join("Claude/claude_desktop_config.json"),
            Host::Cursor => home()?.join(".cursor/mcp.json"),
            Host::Vscode => app_data()?.join("Code/User/mcp.json"),
            Host::Windsurf => home()?.join(".codeium/windsurf/mcp_config.json"),
            Host::Codex => match nonempty("CODEX_HOME") {
                Some(dir) => dir.join("config.toml"),
                None => home()?.join(".codex/config.toml"),
            },
            // https://zed.dev/docs/configuring-zed: ~/.config/zed on macOS and Linux (or $XDG_CONFIG_HOME/zed),
            // %APPDATA%\Zed on Windows.
            Host::Zed => match os {
                "windows" => app_data()?.join("Zed/settings.json"),
                "macos" => home()?.join(".config/zed/settings.json"),
                _ => app_data()?.join("zed/settings.json"),
            },
        };
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| OsString::from(v))
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn linux_paths_follow_each_hosts_documentation() {
        let vars = [("HOME", "/home/u")];
        let path = |host: Host| host.default_path(&env(&vars)).unwrap();
        assert_eq!(path(Host::ClaudeDesktop), PathBuf::from("/home/u/.config/Claude/claude_desktop_config.json"));
        assert_eq!(path(Host::Cursor), PathBuf::from("/home/u/.cursor/mcp.json"));
        assert_eq!(path(Host::Vscode), PathBuf::from("/home/u/.config/Code/User/mcp.json"));
        assert_eq!(path(Host::Windsurf), PathBuf::from("/home/u/.codeium/windsurf/mcp_config.json"));
        assert_eq!(path(Host::Codex), PathBuf::from("/home/u/.codex/config.toml"));
        assert_eq!(path(Host::Zed), PathBuf::from("/home/u/.config/zed/settings.json"));

        let vars = [("HOME", "/home/u"), ("XDG_CONFIG_HOME", "/xdg"), ("CODEX_HOME", "/codex")];
        let path = |host: Host| host.default_path(&env(&vars)).unwrap();
        assert_eq!(path(Host::Zed), PathBuf::from("/xdg/zed/settings.json"));
        assert_eq!(path(Host::Vscode), PathBuf::from("/xdg/Code/User/mcp.json"));
        assert_eq!(path(Host::Codex), PathBuf::from("/codex/config.toml"));
    }

    #[test]
    fn no_home_is_a_clear_error() {
        let error = Host::Cursor.default_path(&env(&[])).unwrap_err();
        assert!(error.contains("home directory"), "{error}");
    }

    #[test]
    fn codex_names_are_checked() {
        assert!(Host::Codex.check_name("my_server-1").is_ok());
        assert!(Host::Codex.check_name("my server").unwrap_err().contains("letters, digits"));
        assert!(Host::ClaudeDesktop.check_name("My Server").is_ok());
        assert!(Host::ClaudeDesktop.check_name("").is_err());
    }
}
