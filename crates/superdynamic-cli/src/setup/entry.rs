//! The launch a host's config entry holds: this very binary with `proxy URL`, and the name the entry goes under.

use super::rewrite::{Recognised, recognise, same_url};
use crate::cli::GlobalArgs;
use clap::ValueEnum;

/// A stdio server launch: what every host's entry says, whatever its file format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launch {
    pub command: String,
    pub args: Vec<String>,
}

impl Launch {
    /// `COMMAND proxy URL [REST...] [global flags]`: `rest` carries another launcher's flags over unchanged.
    pub fn proxy(command: &str, url: &str, rest: &[String], globals: &[String]) -> Self {
        let mut args = vec!["proxy".to_string(), url.to_string()];
        args.extend(rest.iter().cloned());
        args.extend(globals.iter().cloned());
        Self { command: command.to_string(), args }
    }

    /// A launch of superdynamic's proxy (by any path to the binary), which setup may update in place.
    pub fn is_superdynamic_proxy(command: &str, args: &[String]) -> bool {
        let base = command.rsplit(['/', '\\']).next().unwrap_or(command).to_ascii_lowercase();
        let base = base.strip_suffix(".exe").unwrap_or(&base);
        base == "superdynamic" && args.first().is_some_and(|a| a == "proxy")
    }

    /// Whether setup may overwrite an entry running `command args` with this launch: it is superdynamic's
    /// proxy already (this binary, or one named superdynamic), or mcp-remote for the same server.
    pub fn may_replace(&self, command: &str, args: &[String], url: &str) -> bool {
        let proxy = args.first().is_some_and(|a| a == "proxy");
        (proxy && command == self.command)
            || Self::is_superdynamic_proxy(command, args)
            || matches!(recognise(command, args), Recognised::McpRemote { url: u, .. } if same_url(&u, url))
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({ "command": self.command, "args": self.args })
    }
}

/// The global flags the proxy must get to use the same credentials as this command: the host starts it with its
/// own environment, where `SUPERDYNAMIC_PROFILE` and the like are not set. The database URL is never copied
/// (it holds a password): the user adds it to the entry's `env` themselves.
pub fn global_flags(global: &GlobalArgs) -> Vec<String> {
    let mut flags = Vec::new();
    if global.profile != "default" {
        flags.extend(["--profile".to_string(), global.profile.clone()]);
    }
    if let Some(store) = global.store.and_then(|s| s.to_possible_value()) {
        flags.extend(["--store".to_string(), store.get_name().to_string()]);
    }
    if let Some(path) = &global.store_path {
        flags.extend(["--store-path".to_string(), path.display().to_string()]);
    }
    flags
}

/// The entry's default name: the URL's host (and port, when given) as a slug, `https://mcp.example.com/mcp`
/// giving `mcp-example-com`.
pub fn default_name(url: &url::Url) -> String {
    let host = url.host_str().unwrap_or("server");
    let raw = match url.port() {
        Some(port) => format!("{host}-{port}"),
        None => host.to_string(),
    };
    let mut slug = String::new();
    for c in raw.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let slug = slug.trim_matches('-');
    if slug.is_empty() { "server".to_string() } else { slug.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_the_host() {
        let name = |u: &str| default_name(&url::Url::parse(u).unwrap());
        assert_eq!(name("https://mcp.example.com/mcp"), "mcp-example-com");
        assert_eq!(name("http://127.0.0.1:8080/mcp"), "127-0-0-1-8080");
        assert_eq!(name("https://[::1]:9/mcp"), "1-9");
        assert_eq!(name("https://MCP.Example.COM/"), "mcp-example-com");
    }

    #[test]
    fn only_flags_the_user_gave_are_copied() {
        use clap::Parser;
        let parse = |args: &[&str]| {
            let mut all = vec!["superdynamic", "setup", "cursor", "https://a/mcp"];
            all.extend(args);
            crate::cli::Cli::try_parse_from(all).unwrap().global
        };
        let flags = global_flags(&parse(&["--profile", "work", "--store", "file", "--store-path", "/s/c.json"]));
        assert_eq!(flags, ["--profile", "work", "--store", "file", "--store-path", "/s/c.json"]);
        let with_db = parse(&["--profile", "w", "--store", "postgres", "--database-url", "postgres://u:pw@h/db"]);
        assert!(!global_flags(&with_db).iter().any(|f| f.contains("pw")), "the database password is never copied");
    }

    #[test]
    fn proxy_launch_carries_the_rest_then_the_globals() {
        let launch = Launch::proxy("/bin/sd", "https://a/mcp", &["9696".into()], &["--profile".into(), "w".into()]);
        assert_eq!(launch.args, ["proxy", "https://a/mcp", "9696", "--profile", "w"]);
        assert!(Launch::is_superdynamic_proxy("/usr/local/bin/superdynamic", &launch.args));
        assert!(Launch::is_superdynamic_proxy("C:\\Tools\\superdynamic.EXE", &launch.args));
        assert!(!Launch::is_superdynamic_proxy("npx", &launch.args));
        assert!(!Launch::is_superdynamic_proxy("superdynamic", &["tools".into()]));
    }
}
