//! Recognising an `mcp-remote` launch (`npx -y mcp-remote URL ...`) in a host's entry, so `--from-mcp-remote` can
//! turn it into `superdynamic proxy URL ...` with mcp-remote's own flags carried over unchanged.

/// What an entry's launch is, as far as `--from-mcp-remote` cares.
#[derive(Debug, PartialEq, Eq)]
pub enum Recognised {
    NotMcpRemote,
    /// mcp-remote for `url`; `rest` is everything after the URL (callback port, --header, --transport, ...).
    McpRemote {
        url: String,
        rest: Vec<String>,
    },
    /// It runs mcp-remote but not in a way this can read; left alone, with the reason.
    Unreadable(String),
}

/// Package runners' flags before the package name that change nothing about what runs.
const RUNNER_FLAGS: [&str; 4] = ["-y", "--yes", "--bun", "--silent"];

pub fn recognise(command: &str, args: &[String]) -> Recognised {
    let base = command.rsplit(['/', '\\']).next().unwrap_or(command).to_ascii_lowercase();
    let base = [".cmd", ".exe", ".ps1"].iter().find_map(|s| base.strip_suffix(s)).unwrap_or(&base).to_string();
    let mut rest = args;
    match base.as_str() {
        // Windows configs often wrap the runner: "command": "cmd", "args": ["/c", "npx", "mcp-remote", ...].
        "cmd" if rest.first().is_some_and(|a| a.eq_ignore_ascii_case("/c")) => {
            return match rest.get(1) {
                Some(inner) => recognise(inner, &rest[2..]),
                None => Recognised::NotMcpRemote,
            };
        }
        "npx" | "bunx" | "pnpx" => {}
        "pnpm" => {
            rest = skip_runner_flags(rest);
            match rest.split_first() {
                Some((dlx, after)) if dlx == "dlx" => rest = after,
                _ => return Recognised::NotMcpRemote,
            }
        }
        _ => return Recognised::NotMcpRemote,
    }
    rest = skip_runner_flags(rest);
    let Some((package, after)) = rest.split_first() else {
        return Recognised::NotMcpRemote;
    };
    if !is_mcp_remote(package) {
        return if args.iter().any(|a| is_mcp_remote(a)) {
            Recognised::Unreadable(format!("'{package}' comes before mcp-remote in its arguments"))
        } else {
            Recognised::NotMcpRemote
        };
    }
    match after.split_first() {
        Some((url, rest)) if !url.starts_with('-') => Recognised::McpRemote { url: url.clone(), rest: rest.to_vec() },
        _ => Recognised::Unreadable("no server URL follows mcp-remote".to_string()),
    }
}

fn skip_runner_flags(args: &[String]) -> &[String] {
    let skip = args.iter().take_while(|a| RUNNER_FLAGS.contains(&a.as_str())).count();
    &args[skip..]
}

/// `mcp-remote` or `mcp-remote@VERSION` (`@latest`, `@0.1.37`).
fn is_mcp_remote(package: &str) -> bool {
    package == "mcp-remote" || package.strip_prefix("mcp-remote@").is_some_and(|v| !v.is_empty())
}

/// Whether two spellings name the same server (`https://A.example.com` and `https://a.example.com/`).
pub fn same_url(a: &str, b: &str) -> bool {
    match (url::Url::parse(a.trim()), url::Url::parse(b.trim())) {
        (Ok(a), Ok(b)) => a == b,
        _ => a.trim() == b.trim(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn remote(url: &str, rest: &[&str]) -> Recognised {
        Recognised::McpRemote { url: url.into(), rest: args(rest) }
    }

    #[test]
    fn recognises_the_runners_and_versions() {
        let u = "https://mcp.example.com/sse";
        assert_eq!(recognise("npx", &args(&["mcp-remote", u])), remote(u, &[]));
        assert_eq!(recognise("npx", &args(&["-y", "mcp-remote@latest", u, "9696"])), remote(u, &["9696"]));
        assert_eq!(recognise("/opt/homebrew/bin/npx", &args(&["--yes", "mcp-remote@0.1.37", u])), remote(u, &[]));
        assert_eq!(recognise("npx.cmd", &args(&["-y", "mcp-remote", u])), remote(u, &[]));
        assert_eq!(recognise("bunx", &args(&["--bun", "mcp-remote", u])), remote(u, &[]));
        assert_eq!(recognise("pnpm", &args(&["dlx", "mcp-remote", u])), remote(u, &[]));
        assert_eq!(recognise("cmd", &args(&["/c", "npx", "-y", "mcp-remote", u])), remote(u, &[]));
    }

    #[test]
    fn carries_every_flag_after_the_url_as_written() {
        let rest = ["8080", "--header", "Authorization:${AUTH}", "--transport", "http-only", "--allow-http"];
        let mut all = vec!["-y", "mcp-remote", "http://internal/mcp"];
        all.extend(rest);
        assert_eq!(recognise("npx", &args(&all)), remote("http://internal/mcp", &rest));
    }

    #[test]
    fn leaves_other_launches_alone() {
        assert_eq!(recognise("npx", &args(&["-y", "@modelcontextprotocol/server-github"])), Recognised::NotMcpRemote);
        assert_eq!(recognise("node", &args(&["mcp-remote", "https://x"])), Recognised::NotMcpRemote);
        assert_eq!(recognise("npx", &args(&["mcp-remote-client", "https://x"])), Recognised::NotMcpRemote);
        assert_eq!(recognise("pnpm", &args(&["mcp-remote", "https://x"])), Recognised::NotMcpRemote);
        assert_eq!(recognise("npx", &[]), Recognised::NotMcpRemote);
        assert!(matches!(recognise("npx", &args(&["-y", "mcp-remote"])), Recognised::Unreadable(_)));
        assert!(matches!(recognise("npx", &args(&["-p", "x", "mcp-remote", "u"])), Recognised::Unreadable(_)));
    }

    #[test]
    fn urls_compare_normalised() {
        assert!(same_url("https://MCP.example.com", "https://mcp.example.com/"));
        assert!(!same_url("https://mcp.example.com/a", "https://mcp.example.com/b"));
    }
}
