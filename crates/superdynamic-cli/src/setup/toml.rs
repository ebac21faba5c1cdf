//! Codex's `config.toml`: `[mcp_servers.NAME]` tables with `command` and `args` (and `env`, which is kept).
//! Edited through `toml_edit`, which keeps comments, key order and formatting of everything not changed.

use super::edit::{EditError, Outcome, Rewritten};
use super::entry::Launch;
use super::rewrite::{self, Recognised};
use toml_edit::{Array, DocumentMut, Item, Table, TableLike, Value};

const SERVERS: &str = "mcp_servers";

/// The snippet to paste: `[mcp_servers.NAME]` with `command` and `args`.
pub fn snippet(name: &str, launch: &Launch) -> String {
    let mut doc = DocumentMut::new();
    doc.insert(SERVERS, Item::Table(implicit_table()));
    if let Some(servers) = doc.get_mut(SERVERS).and_then(Item::as_table_like_mut) {
        servers.insert(name, Item::Table(entry_table(launch)));
    }
    doc.to_string()
}

/// Adds `[mcp_servers.NAME]`, or updates it when it already launches superdynamic's proxy (or mcp-remote for the
/// same URL); any other entry of that name is refused.
pub fn upsert(text: Option<&str>, name: &str, launch: &Launch, url: &str) -> Result<(String, Outcome), EditError> {
    let original = text.unwrap_or("");
    let mut doc = parse(original)?;
    let servers = doc.entry(SERVERS).or_insert(Item::Table(implicit_table()));
    let inline = servers.is_inline_table();
    let servers = servers.as_table_like_mut().ok_or_else(|| EditError::Shape(format!("`{SERVERS}` is not a table")))?;
    let Some(existing) = servers.get_mut(name) else {
        let table = entry_table(launch);
        let item = if inline { Item::Value(Value::InlineTable(table.into_inline_table())) } else { Item::Table(table) };
        servers.insert(name, item);
        return Ok((doc.to_string(), Outcome::Added));
    };
    let conflict = |runs: String| EditError::Conflict { name: name.to_string(), runs };
    let entry = existing.as_table_like_mut().ok_or_else(|| conflict("is not a table".into()))?;
    match launch_of(entry) {
        Some(current) if current == (launch.command.clone(), launch.args.clone()) => {
            return Ok((original.to_string(), Outcome::Unchanged));
        }
        Some((command, args)) if !launch.may_replace(&command, &args, url) => {
            return Err(conflict(format!("runs `{command}`")));
        }
        Some(_) => {}
        None => return Err(conflict("has no command".into())),
    }
    set_launch(entry, launch);
    Ok((doc.to_string(), Outcome::Updated))
}

/// Rewrites every mcp-remote entry (or only those for `only_url`) to the launch `make` gives, keeping `env` and
/// the entry's other keys.
pub fn rewrite_mcp_remote(
    text: &str,
    only_url: Option<&str>,
    make: &dyn Fn(&str, &[String]) -> Launch,
) -> Result<(String, Rewritten), EditError> {
    let mut doc = parse(text)?;
    let mut done = Rewritten::default();
    let Some(servers) = doc.get_mut(SERVERS) else {
        return Ok((text.to_string(), done));
    };
    let servers = servers.as_table_like_mut().ok_or_else(|| EditError::Shape(format!("`{SERVERS}` is not a table")))?;
    for (name, item) in servers.iter_mut() {
        let Some(entry) = item.as_table_like_mut() else { continue };
        let Some((command, args)) = launch_of(entry) else { continue };
        match rewrite::recognise(&command, &args) {
            Recognised::NotMcpRemote => {}
            Recognised::Unreadable(reason) => done.skipped.push((name.get().to_string(), reason)),
            Recognised::McpRemote { url, rest } => {
                if only_url.is_some_and(|only| !rewrite::same_url(only, &url)) {
                    continue;
                }
                let launch = make(&url, &rest);
                set_launch(entry, &launch);
                done.entries.push((name.get().to_string(), url, launch));
            }
        }
    }
    if done.entries.is_empty() {
        return Ok((text.to_string(), done));
    }
    Ok((doc.to_string(), done))
}

fn parse(text: &str) -> Result<DocumentMut, EditError> {
    text.parse::<DocumentMut>().map_err(|e| {
        // The position and message only: toml_edit's Display quotes the offending line, which may hold a secret.
        let at = e.span().map_or(0, |s| s.start).min(text.len());
        let before = text.get(..at).unwrap_or(text);
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        EditError::Syntax(format!("line {line}, column {column}: {}", e.message().trim()))
    })
}

/// `mcp_servers` as a header-less parent, so the file gets `[mcp_servers.NAME]` and no empty `[mcp_servers]`.
fn implicit_table() -> Table {
    let mut table = Table::new();
    table.set_implicit(true);
    table
}

fn entry_table(launch: &Launch) -> Table {
    let mut table = Table::new();
    table.insert("command", toml_edit::value(launch.command.as_str()));
    table.insert("args", toml_edit::value(args_array(&launch.args)));
    table
}

fn args_array(args: &[String]) -> Array {
    args.iter().map(String::as_str).collect()
}

fn launch_of(entry: &dyn TableLike) -> Option<(String, Vec<String>)> {
    let command = entry.get("command")?.as_str()?.to_string();
    let args = match entry.get("args") {
        Some(args) => args.as_array()?.iter().map(|a| a.as_str().map(str::to_string)).collect::<Option<Vec<_>>>()?,
        None => Vec::new(),
    };
    Some((command, args))
}

/// Replaces `command` and `args`, keeping the comments written around their values.
fn set_launch(entry: &mut dyn TableLike, launch: &Launch) {
    let values = [("command", Value::from(launch.command.as_str())), ("args", Value::Array(args_array(&launch.args)))];
    for (key, mut new) in values {
        match entry.get_mut(key).and_then(Item::as_value_mut) {
            Some(old) => {
                *new.decor_mut() = old.decor().clone();
                *old = new;
            }
            None => {
                entry.insert(key, Item::Value(new));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://mcp.example.com/mcp";

    fn launch() -> Launch {
        Launch::proxy("/usr/bin/superdynamic", URL, &[], &[])
    }

    #[test]
    fn snippet_is_a_mcp_servers_table() {
        assert_eq!(
            snippet("mcp-example-com", &launch()),
            "[mcp_servers.mcp-example-com]\ncommand = \"/usr/bin/superdynamic\"\nargs = [\"proxy\", \"https://mcp.example.com/mcp\"]\n"
        );
        assert_eq!(upsert(None, "mcp-example-com", &launch(), URL).unwrap().0, snippet("mcp-example-com", &launch()));
    }

    #[test]
    fn adding_keeps_comments_and_other_tables() {
        let before = "# my Codex config\nmodel = \"o3\" # the model\n\n[mcp_servers.docs]\n# docs server\ncommand = \"uvx\"\nargs = [\"docs-mcp\"]\n\n[history]\npersistence = \"none\"\n";
        let (after, outcome) = upsert(Some(before), "n", &launch(), URL).unwrap();
        assert_eq!(outcome, Outcome::Added);
        assert!(after.starts_with(before.trim_end_matches("\n[history]\npersistence = \"none\"\n")), "{after}");
        assert!(after.contains("[history]\npersistence = \"none\"\n"), "{after}");
        assert!(after.contains("[mcp_servers.n]\ncommand = \"/usr/bin/superdynamic\"\nargs = [\"proxy\", \"https://mcp.example.com/mcp\"]\n"), "{after}");
        let doc: DocumentMut = after.parse().unwrap();
        assert_eq!(doc["mcp_servers"]["docs"]["command"].as_str(), Some("uvx"));
    }

    #[test]
    fn updates_its_own_entry_keeping_env_and_refuses_anothers() {
        let before = "[mcp_servers.n]\ncommand = \"/old/superdynamic\" # where it was\nargs = [\"proxy\", \"https://old\"]\nenv = { K = \"v\" }\n";
        let (after, outcome) = upsert(Some(before), "n", &launch(), URL).unwrap();
        assert_eq!(outcome, Outcome::Updated);
        assert_eq!(
            after,
            "[mcp_servers.n]\ncommand = \"/usr/bin/superdynamic\" # where it was\nargs = [\"proxy\", \"https://mcp.example.com/mcp\"]\nenv = { K = \"v\" }\n"
        );
        assert_eq!(upsert(Some(&after), "n", &launch(), URL).unwrap(), (after.clone(), Outcome::Unchanged));
        let other = "[mcp_servers.n]\ncommand = \"node\"\n";
        assert_eq!(
            upsert(Some(other), "n", &launch(), URL).unwrap_err(),
            EditError::Conflict { name: "n".into(), runs: "runs `node`".into() }
        );
    }

    #[test]
    fn inline_and_broken_files() {
        let (after, _) = upsert(Some("mcp_servers = { a = { command = \"x\" } }\n"), "n", &launch(), URL).unwrap();
        let doc: DocumentMut = after.parse().unwrap();
        assert_eq!(doc["mcp_servers"]["n"]["args"][1].as_str(), Some(URL));
        assert_eq!(
            upsert(Some("mcp_servers = 3\n"), "n", &launch(), URL).unwrap_err(),
            EditError::Shape("`mcp_servers` is not a table".into())
        );
        let error = upsert(Some("a = \"secret-value\"\nb = = 1\n"), "n", &launch(), URL).unwrap_err();
        let EditError::Syntax(message) = error else { panic!("{error:?}") };
        assert!(message.starts_with("line 2, column "), "{message}");
        assert!(!message.contains("secret-value"), "{message}");
    }

    #[test]
    fn rewrites_mcp_remote_tables() {
        let before = "# servers\n[mcp_servers.linear]\ncommand = \"npx\"\nargs = [\"-y\", \"mcp-remote\", \"https://mcp.linear.app/sse\", \"9696\"]\nenv = { TEAM = \"core\" } # team\n\n[mcp_servers.other]\ncommand = \"uvx\"\nargs = [\"x\"]\n";
        let make = |url: &str, rest: &[String]| Launch::proxy("/usr/bin/superdynamic", url, rest, &[]);
        let (after, done) = rewrite_mcp_remote(before, None, &make).unwrap();
        assert_eq!(done.entries.len(), 1);
        assert_eq!(
            after,
            "# servers\n[mcp_servers.linear]\ncommand = \"/usr/bin/superdynamic\"\nargs = [\"proxy\", \"https://mcp.linear.app/sse\", \"9696\"]\nenv = { TEAM = \"core\" } # team\n\n[mcp_servers.other]\ncommand = \"uvx\"\nargs = [\"x\"]\n"
        );
        let (same, none) = rewrite_mcp_remote(before, Some("https://elsewhere"), &make).unwrap();
        assert_eq!((same.as_str(), none.entries.len()), (before, 0));
    }
}
