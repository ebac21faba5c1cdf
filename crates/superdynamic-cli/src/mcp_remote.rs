//! mcp-remote's command line, accepted by `superdynamic proxy` as it is written in hosts' configs today
//! (`npx mcp-remote URL [PORT] --header … --transport …`): mcp-remote's flags are names or aliases of the
//! proxy's own (`cli.rs`), and a flag only a newer mcp-remote knows is dropped with a warning, never an abort,
//! so a host keeps starting after mcp-remote grows an option.

use std::ffi::OsString;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{CommandFactory, FromArgMatches};

use crate::cli::Cli;

/// At most this many unknown flags are dropped before the error is shown after all.
const MAX_DROPPED: usize = 32;

/// Parses the command line, tolerating unknown flags after `proxy`. Warnings go to stderr.
pub fn parse(args: Vec<OsString>) -> Cli {
    let mut args = args;
    let mut warnings = Vec::new();
    loop {
        let error = match Cli::command().try_get_matches_from(&args) {
            Ok(matches) => match Cli::from_arg_matches(&matches) {
                Ok(cli) => break finish(cli, &warnings),
                Err(error) => error,
            },
            Err(error) => error,
        };
        if error.kind() != ErrorKind::UnknownArgument || warnings.len() >= MAX_DROPPED {
            error.exit();
        }
        let Some(ContextValue::String(flag)) = error.get(ContextKind::InvalidArg) else { error.exit() };
        match drop_unknown(&mut args, flag) {
            Some(warning) => warnings.push(warning),
            None => error.exit(),
        }
    }
}

fn finish(cli: Cli, warnings: &[String]) -> Cli {
    for warning in warnings {
        eprintln!("warning: {warning}");
    }
    cli
}

/// Removes the unknown flag `flag` (and the value that follows it, if any) from the proxy's arguments.
/// `None` when it is not a flag of the proxy subcommand, so the usual error is shown.
fn drop_unknown(args: &mut Vec<OsString>, flag: &str) -> Option<String> {
    let proxy = args.iter().position(|a| a == "proxy")?;
    let name = flag.split_once('=').map_or(flag, |(name, _)| name);
    if !name.starts_with('-') {
        return None;
    }
    let at = proxy + 1 + args[proxy + 1..].iter().position(|a| a.to_str().is_some_and(|a| a == flag))?;
    args.remove(at);
    // `--flag value`: the next word is its value unless it is a flag, the URL or the callback port.
    let takes_value = !flag.contains('=')
        && args
            .get(at)
            .and_then(|a| a.to_str())
            .is_some_and(|next| !next.starts_with('-') && !next.contains("://") && next.parse::<u16>().is_err());
    if takes_value {
        args.remove(at);
        // The value is not repeated: it may be a secret.
        return Some(format!(
            "ignoring {name} and its value: superdynamic does not know this option (from a newer mcp-remote?)"
        ));
    }
    Some(format!("ignoring {name}: superdynamic does not know this option (from a newer mcp-remote?)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Command;

    fn words(line: &str) -> Vec<OsString> {
        line.split_whitespace().map(OsString::from).collect()
    }

    fn proxy(line: &str) -> crate::cli::ProxyArgs {
        let mut args = words(line);
        let mut dropped = Vec::new();
        let cli = loop {
            match Cli::try_parse_from(&args) {
                Ok(cli) => break cli,
                Err(e) => {
                    let Some(ContextValue::String(flag)) = e.get(ContextKind::InvalidArg) else { panic!("{e}") };
                    dropped.push(drop_unknown(&mut args, flag).unwrap_or_else(|| panic!("{e}")));
                }
            }
        };
        match cli.command {
            Command::Proxy(p) => p,
            other => panic!("{other:?}"),
        }
    }

    use clap::Parser;

    #[test]
    fn mcp_remote_lines_parse_as_they_are() {
        let p = proxy(
            "superdynamic proxy https://mcp.example.com/sse 3334 --host localhost --transport sse-only \
             --header Authorization:${TOKEN} --allow-http --resource https://r.example/ --ignore-tool delete* \
             --auth-timeout 60 --static-oauth-client-info @/tmp/info.json \
             --static-oauth-client-metadata {\"scope\":\"mcp\"} --enable-proxy --debug --silent",
        );
        assert_eq!(p.url.as_deref(), Some("https://mcp.example.com/sse"));
        assert_eq!(p.port, Some(3334));
        assert_eq!(p.callback_host.as_deref(), Some("localhost"));
        assert_eq!(p.headers, ["Authorization:${TOKEN}"]);
        assert!(p.allow_http);
        assert_eq!(p.ignore_tools, ["delete*"]);
        assert_eq!(p.static_client_info.as_deref(), Some("@/tmp/info.json"));
        assert_eq!(p.static_client_metadata.as_deref(), Some("{\"scope\":\"mcp\"}"));
    }

    #[test]
    fn unknown_flags_are_dropped_with_their_values_but_not_the_url_or_port() {
        let mut args = words("superdynamic proxy https://x.example/mcp --future-flag some-value 3334");
        let warning = drop_unknown(&mut args, "--future-flag").unwrap();
        assert!(warning.contains("--future-flag and its value"), "{warning}");
        assert!(!warning.contains("some-value"), "values may be secrets: {warning}");
        assert_eq!(args, words("superdynamic proxy https://x.example/mcp 3334"));

        let mut args = words("superdynamic proxy --future https://x.example/mcp");
        drop_unknown(&mut args, "--future").unwrap();
        assert_eq!(args, words("superdynamic proxy https://x.example/mcp"));

        let mut args = words("superdynamic proxy https://x.example/mcp --new=1 --allow-http");
        drop_unknown(&mut args, "--new=1").unwrap();
        assert_eq!(args, words("superdynamic proxy https://x.example/mcp --allow-http"));

        // Outside the proxy, or a stray word: the usual error.
        assert!(drop_unknown(&mut words("superdynamic tools --nope"), "--nope").is_none());
        assert!(drop_unknown(&mut words("superdynamic proxy u stray"), "stray").is_none());
    }

    #[test]
    fn the_whole_parse_tolerates_new_flags() {
        let p = proxy("superdynamic proxy https://x.example/mcp 4000 --callback-path /oauth/callback --brand-new v");
        assert_eq!(p.port, Some(4000));
        assert_eq!(p.callback_path.as_deref(), Some("/oauth/callback"));
    }
}
