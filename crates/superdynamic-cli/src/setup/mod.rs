//! `superdynamic setup HOST URL`: the config entry that makes a desktop MCP host launch `superdynamic proxy URL`,
//! printed to paste or (`--write`) merged into the host's file; `--from-mcp-remote` turns existing
//! `npx mcp-remote URL ...` entries into proxy entries. Files are only ever changed whole and valid: a file that
//! does not parse is refused and left byte for byte as it was.

mod edit;
mod entry;
mod file;
pub mod hosts;
mod json;
mod jsonc;
mod rewrite;
mod toml;

pub use hosts::Host;

use crate::Failure;
use crate::cli::{GlobalArgs, SetupArgs, StoreKind};
use edit::{EditError, Outcome, Rewritten};
use entry::Launch;
use hosts::Format;
use std::path::{Path, PathBuf};

pub fn run(global: &GlobalArgs, args: &SetupArgs) -> Result<(), Failure> {
    let host = args.host;
    let path = match &args.config {
        Some(path) => path.clone(),
        None => host.default_path(&|name| std::env::var_os(name)).map_err(|e| {
            Failure::usage(format!("{e}: pass --config PATH with the path of {}'s config file", host.label()))
        })?,
    };
    let url = match (args.url.as_deref(), global.server_url.as_deref()) {
        (Some(a), Some(b)) if a != b => {
            return Err(Failure::usage(format!("two different server URLs given ('{a}' and --server-url '{b}')")));
        }
        (a, b) => a.or(b),
    };
    let setup = Setup { global, host, path, command: proxy_command()?, globals: entry::global_flags(global) };
    if global.store == Some(StoreKind::Postgres) {
        eprintln!(
            "note: the entry does not carry --database-url (it holds a password): add SUPERDYNAMIC_DATABASE_URL to \
             the entry's env in {} yourself",
            setup.path.display()
        );
    }
    if args.from_mcp_remote {
        setup.convert_mcp_remote(url, args.write)
    } else {
        let Some(url) = url else {
            return Err(Failure::usage(format!(
                "no server URL given: `superdynamic setup {} https://mcp.example.com/mcp` (or --from-mcp-remote to \
                 convert the config's mcp-remote entries)",
                host.id()
            )));
        };
        setup.add(url, args.name.as_deref(), args.write)
    }
}

struct Setup<'a> {
    global: &'a GlobalArgs,
    host: Host,
    path: PathBuf,
    /// This binary's absolute path: hosts start servers without the user's shell PATH.
    command: String,
    globals: Vec<String>,
}

impl Setup<'_> {
    fn add(&self, url: &str, name: Option<&str>, write: bool) -> Result<(), Failure> {
        let parsed = url::Url::parse(url.trim()).map_err(|e| Failure::usage(format!("'{url}' is not a URL: {e}")))?;
        if !matches!(parsed.scheme(), "https" | "http") {
            return Err(Failure::usage(format!("'{url}' is not an http(s) URL; the proxy speaks Streamable HTTP")));
        }
        if parsed.scheme() == "http" && !superdynamic::resource::is_loopback_host(&parsed) {
            eprintln!(
                "note: '{url}' is plain http to another machine; the proxy refuses it unless you add \"--allow-http\" \
                 to the entry's args (only on a trusted network)"
            );
        }
        let name = match name {
            Some(name) => name.to_string(),
            None => entry::default_name(&parsed),
        };
        self.host.check_name(&name).map_err(Failure::usage)?;
        let launch = Launch::proxy(&self.command, url.trim(), &[], &self.globals);
        let path = self.path.display();
        if !write {
            if self.global.json {
                print_json(&self.report(&name, &launch, "print", None))?;
            } else {
                print!("{}", self.snippet(&name, &launch));
            }
            if self.path.exists() {
                let place = match self.host.format() {
                    Format::Json { servers_key, .. } => format!("the \"{name}\" entry under \"{servers_key}\" in"),
                    Format::Toml => "this table to".to_string(),
                };
                eprintln!(
                    "Add {place} {path} (or run again with --write to merge it in; a backup copy is kept). {}",
                    self.host.reload_hint()
                );
            } else {
                eprintln!("{path} does not exist yet: save this there, or run again with --write to create it.");
            }
            return Ok(());
        }
        let target = file::target(&self.path);
        let text = file::read(&target).map_err(Failure::other)?;
        let (edited, outcome) =
            self.upsert(text.as_deref(), &name, &launch, url.trim()).map_err(|e| self.refused(e))?;
        let mut backup = None;
        if outcome != Outcome::Unchanged {
            if text.is_some() {
                backup = Some(file::backup(&target).map_err(Failure::other)?);
            }
            file::write_atomically(&target, &edited).map_err(Failure::other)?;
        }
        if self.global.json {
            print_json(&self.report(&name, &launch, outcome.as_str(), backup.as_deref()))?;
        }
        let kept = backup.map(|b| format!(" (the previous file is kept as {})", b.display())).unwrap_or_default();
        match outcome {
            Outcome::Added => eprintln!("Added \"{name}\" to {path}{kept}. {}", self.host.reload_hint()),
            Outcome::Updated => eprintln!("Updated \"{name}\" in {path}{kept}. {}", self.host.reload_hint()),
            Outcome::Unchanged => eprintln!("{path} already has this \"{name}\" entry; nothing to change."),
        }
        Ok(())
    }

    fn convert_mcp_remote(&self, only_url: Option<&str>, write: bool) -> Result<(), Failure> {
        let path = self.path.display();
        let target = file::target(&self.path);
        let Some(text) = file::read(&target).map_err(Failure::other)? else {
            return Err(Failure::usage(format!(
                "there is no {path}, so no mcp-remote entries to rewrite (pass --config PATH if {} keeps it elsewhere)",
                self.host.label()
            )));
        };
        let make = |url: &str, rest: &[String]| Launch::proxy(&self.command, url, rest, &self.globals);
        let (edited, done) = self.rewrite(&text, only_url, &make).map_err(|e| self.refused(e))?;
        for (name, reason) in &done.skipped {
            eprintln!("note: left \"{name}\" as it is: it runs mcp-remote but {reason}");
        }
        if done.entries.is_empty() {
            if self.global.json {
                print_json(&serde_json::json!([]))?;
            }
            let which = only_url.map(|u| format!(" for {u}")).unwrap_or_default();
            eprintln!("No mcp-remote entries{which} in {path}; nothing to rewrite.");
            return Ok(());
        }
        let mut backup = None;
        if write {
            backup = Some(file::backup(&target).map_err(Failure::other)?);
            file::write_atomically(&target, &edited).map_err(Failure::other)?;
        }
        if self.global.json {
            let action = if write { "rewritten" } else { "would-rewrite" };
            let reports: Vec<_> = done
                .entries
                .iter()
                .map(|(name, _, launch)| self.report(name, launch, action, backup.as_deref()))
                .collect();
            print_json(&serde_json::Value::Array(reports))?;
        } else if !write {
            print!("{edited}");
        }
        let list: Vec<String> = done.entries.iter().map(|(name, url, _)| format!("\"{name}\" ({url})")).collect();
        match backup {
            Some(b) => eprintln!(
                "Rewrote {} to superdynamic proxy in {path} (the previous file is kept as {}). {}",
                list.join(", "),
                b.display(),
                self.host.reload_hint()
            ),
            None => eprintln!(
                "Above is {path} with {} rewritten to superdynamic proxy; run again with --write to save it (a backup \
                 copy is kept).",
                list.join(", ")
            ),
        }
        Ok(())
    }

    fn snippet(&self, name: &str, launch: &Launch) -> String {
        match self.host.format() {
            Format::Json { servers_key, stdio_type } => json::Shape { servers_key, stdio_type }.snippet(name, launch),
            Format::Toml => toml::snippet(name, launch),
        }
    }

    fn upsert(
        &self,
        text: Option<&str>,
        name: &str,
        launch: &Launch,
        url: &str,
    ) -> Result<(String, Outcome), EditError> {
        match self.host.format() {
            Format::Json { servers_key, stdio_type } => {
                json::Shape { servers_key, stdio_type }.upsert(text, name, launch, url)
            }
            Format::Toml => toml::upsert(text, name, launch, url),
        }
    }

    fn rewrite(
        &self,
        text: &str,
        only_url: Option<&str>,
        make: &dyn Fn(&str, &[String]) -> Launch,
    ) -> Result<(String, Rewritten), EditError> {
        match self.host.format() {
            Format::Json { servers_key, stdio_type } => {
                json::Shape { servers_key, stdio_type }.rewrite_mcp_remote(text, only_url, make)
            }
            Format::Toml => toml::rewrite_mcp_remote(text, only_url, make),
        }
    }

    /// The `--json` line for one entry: {"host", "path", "name", "entry", "action"} (and "backup" once written).
    fn report(&self, name: &str, launch: &Launch, action: &str, backup: Option<&Path>) -> serde_json::Value {
        let entry = match self.host.format() {
            Format::Json { servers_key, stdio_type } => {
                json::Json::Object(json::Shape { servers_key, stdio_type }.fields(launch)).to_value()
            }
            Format::Toml => launch.to_json(),
        };
        serde_json::json!({
            "host": self.host.id(),
            "path": self.path.display().to_string(),
            "name": name,
            "entry": entry,
            "action": action,
            "backup": backup.map(|b| b.display().to_string()),
        })
    }

    fn refused(&self, error: EditError) -> Failure {
        let path = self.path.display();
        match error {
            EditError::Syntax(detail) => {
                let kind = match self.host.format() {
                    Format::Toml => "TOML",
                    Format::Json { .. } if self.host == Host::Zed || self.host == Host::Vscode => "JSON with comments",
                    Format::Json { .. } => "JSON",
                };
                Failure::other(format!(
                    "{path} is not valid {kind} ({detail}), so it was left unchanged. Fix it ({} cannot read it \
                     either) and run again, or print the entry without --write and add it by hand",
                    self.host.label()
                ))
            }
            EditError::Shape(detail) => Failure::other(format!(
                "{path} was left unchanged: {detail}, which is not {}'s format. Fix it by hand and run again",
                self.host.label()
            )),
            EditError::Conflict { name, runs } => Failure::usage(format!(
                "{path} already has an entry \"{name}\" that {runs}, not superdynamic; it was left unchanged. Pass \
                 --name OTHER to add the proxy beside it, or remove that entry first"
            )),
        }
    }
}

fn proxy_command() -> Result<String, Failure> {
    let exe = std::env::current_exe()
        .map_err(|e| Failure::other(format!("could not tell where this superdynamic binary is: {e}")))?;
    exe.into_os_string().into_string().map_err(|exe| {
        Failure::other(format!(
            "this superdynamic binary's path ({}) is not UTF-8, which host configs cannot hold; move it to a plain path",
            PathBuf::from(exe).display()
        ))
    })
}

fn print_json(value: &serde_json::Value) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(&value).map_err(|e| Failure::other(e.to_string()))?;
    println!("{text}");
    Ok(())
}
