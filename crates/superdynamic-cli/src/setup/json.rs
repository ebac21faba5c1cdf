//! The JSON hosts' files (Claude Desktop, Cursor, VS Code, Windsurf, Zed): adding, updating and rewriting one
//! server entry as text edits over the [`jsonc`] spans, so every other byte (other entries and keys, their order,
//! comments, indentation) stays as it was.

use super::edit::{EditError, Outcome, Rewritten};
use super::entry::Launch;
use super::jsonc::{self, Kind, Node};
use super::rewrite::{self, Recognised};

/// A value to write. Rendered here rather than through `serde_json::Value`, whose keys come out sorted: hosts
/// document `command` before `args`, and users read these files.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Str(String),
    List(Vec<String>),
    Object(Vec<(String, Json)>),
    /// Text taken verbatim from the file (a value carried over from an entry's older shape).
    Raw(String),
}

impl Json {
    pub fn to_value(&self) -> serde_json::Value {
        match self {
            Json::Str(s) => s.clone().into(),
            Json::List(items) => items.clone().into(),
            Json::Object(fields) => {
                serde_json::Value::Object(fields.iter().map(|(k, v)| (k.clone(), v.to_value())).collect())
            }
            Json::Raw(text) => jsonc::parse(text).map_or(serde_json::Value::Null, |n| raw_value(text, &n)),
        }
    }
}

fn raw_value(text: &str, node: &Node) -> serde_json::Value {
    match &node.kind {
        Kind::Object(members) => {
            serde_json::Value::Object(members.iter().map(|m| (m.key.clone(), raw_value(text, &m.value))).collect())
        }
        Kind::Array(items) => items.iter().map(|i| raw_value(text, i)).collect(),
        Kind::String(s) => s.clone().into(),
        Kind::Scalar => serde_json::from_str(&text[node.start..node.end]).unwrap_or(serde_json::Value::Null),
    }
}

/// Where a JSON host keeps its servers.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub servers_key: &'static str,
    pub stdio_type: bool,
}

impl Shape {
    /// The entry's keys in the order the host's documentation shows them.
    pub fn fields(self, launch: &Launch) -> Vec<(String, Json)> {
        let mut fields = Vec::new();
        if self.stdio_type {
            fields.push(("type".to_string(), Json::Str("stdio".into())));
        }
        fields.push(("command".to_string(), Json::Str(launch.command.clone())));
        fields.push(("args".to_string(), Json::List(launch.args.clone())));
        fields
    }

    /// The whole snippet to paste: `{"mcpServers": {NAME: ENTRY}}`.
    pub fn snippet(self, name: &str, launch: &Launch) -> String {
        let entry = Json::Object(self.fields(launch));
        let doc = Json::Object(vec![(self.servers_key.to_string(), Json::Object(vec![(name.to_string(), entry)]))]);
        render(&doc, "", "  ") + "\n"
    }

    /// Adds the entry `name`, or updates it when it already launches superdynamic's proxy (or mcp-remote for the
    /// same URL); any other entry of that name is refused. `text` is the file's content, `None` when it is new.
    pub fn upsert(
        self,
        text: Option<&str>,
        name: &str,
        launch: &Launch,
        url: &str,
    ) -> Result<(String, Outcome), EditError> {
        let fields = self.fields(launch);
        let Some(text) = text.filter(|t| !t.trim().is_empty()) else {
            return Ok((self.snippet(name, launch), Outcome::Added));
        };
        let root = parse_root(text)?;
        let mut editor = Editor::new(text, &root);
        let Some(servers) = root.get(self.servers_key) else {
            let servers = Json::Object(vec![(name.to_string(), Json::Object(fields))]);
            editor.insert_members(&root, &[(self.servers_key.to_string(), servers)]);
            return Ok((editor.finish(), Outcome::Added));
        };
        let servers = self.servers_object(&servers.value)?;
        let Some(existing) = servers.get(name) else {
            editor.insert_members(servers, &[(name.to_string(), Json::Object(fields))]);
            return Ok((editor.finish(), Outcome::Added));
        };
        let entry = &existing.value;
        match launch_of(entry) {
            Some((command, args)) if !launch.may_replace(&command, &args, url) => {
                return Err(EditError::Conflict { name: name.to_string(), runs: format!("runs `{command}`") });
            }
            // The same launch however it is laid out: nothing to write.
            Some(current)
                if current == (launch.command.clone(), launch.args.clone())
                    && (!self.stdio_type || entry.get("type").and_then(|t| t.value.as_str()) == Some("stdio")) =>
            {
                return Ok((text.to_string(), Outcome::Unchanged));
            }
            Some(_) => {}
            None => return Err(EditError::Conflict { name: name.to_string(), runs: "has no command".into() }),
        }
        editor.set_members(entry, &with_old_zed_env(text, entry, fields));
        Ok((editor.finish(), Outcome::Updated))
    }

    /// Rewrites every mcp-remote entry (or only those for `only_url`) to the launch `make` gives for its URL and
    /// the arguments after it, keeping the entry's other keys (`env`, `disabled`, ...).
    pub fn rewrite_mcp_remote(
        self,
        text: &str,
        only_url: Option<&str>,
        make: &dyn Fn(&str, &[String]) -> Launch,
    ) -> Result<(String, Rewritten), EditError> {
        let root = parse_root(text)?;
        let mut editor = Editor::new(text, &root);
        let mut done = Rewritten::default();
        let Some(servers) = root.get(self.servers_key) else {
            return Ok((text.to_string(), done));
        };
        for member in self.servers_object(&servers.value)?.members().unwrap_or_default() {
            let Some((command, args)) = launch_of(&member.value) else { continue };
            match rewrite::recognise(&command, &args) {
                Recognised::NotMcpRemote => {}
                Recognised::Unreadable(reason) => done.skipped.push((member.key.clone(), reason)),
                Recognised::McpRemote { url, rest } => {
                    if only_url.is_some_and(|only| !rewrite::same_url(only, &url)) {
                        continue;
                    }
                    let launch = make(&url, &rest);
                    editor.set_members(&member.value, &with_old_zed_env(text, &member.value, self.fields(&launch)));
                    done.entries.push((member.key.clone(), url, launch));
                }
            }
        }
        Ok((editor.finish(), done))
    }

    fn servers_object(self, node: &Node) -> Result<&Node, EditError> {
        match node.kind {
            Kind::Object(_) => Ok(node),
            _ => Err(EditError::Shape(format!("\"{}\" is not an object", self.servers_key))),
        }
    }
}

fn parse_root(text: &str) -> Result<Node, EditError> {
    let root = jsonc::parse(text).map_err(|e| EditError::Syntax(e.to_string()))?;
    match root.kind {
        Kind::Object(_) => Ok(root),
        _ => Err(EditError::Shape("the top level is not a JSON object".into())),
    }
}

/// An entry's command and arguments: `{"command": "npx", "args": [...]}`, or Zed's older
/// `{"command": {"path": "npx", "args": [...]}}`.
fn launch_of(entry: &Node) -> Option<(String, Vec<String>)> {
    let command = &entry.get("command")?.value;
    match &command.kind {
        Kind::String(path) => {
            let args = match entry.get("args") {
                Some(args) => args.value.as_strings()?,
                None => Vec::new(),
            };
            Some((path.clone(), args))
        }
        Kind::Object(_) => {
            let path = command.get("path")?.value.as_str()?.to_string();
            let args = match command.get("args") {
                Some(args) => args.value.as_strings()?,
                None => Vec::new(),
            };
            Some((path, args))
        }
        _ => None,
    }
}

/// Zed's older shape keeps `env` inside `command`; writing `command` as a string would drop it, so it moves up.
fn with_old_zed_env(text: &str, entry: &Node, mut fields: Vec<(String, Json)>) -> Vec<(String, Json)> {
    let nested = entry.get("command").and_then(|c| c.value.get("env"));
    if let (Some(env), None) = (nested, entry.get("env")) {
        fields.push(("env".to_string(), Json::Raw(text[env.value.start..env.value.end].to_string())));
    }
    fields
}

struct Edit {
    start: usize,
    end: usize,
    text: String,
}

/// Collects edits against the original text and applies them at once, back to front.
struct Editor<'a> {
    text: &'a str,
    unit: String,
    edits: Vec<Edit>,
}

impl<'a> Editor<'a> {
    fn new(text: &'a str, root: &Node) -> Self {
        // The file's own indentation step: that of the top level's first member when it has its own line.
        let unit = root
            .members()
            .and_then(|m| m.first())
            .filter(|m| own_line(text, m.key_start))
            .map(|m| line_indent(text, m.key_start).to_string())
            .filter(|i| !i.is_empty())
            .unwrap_or_else(|| "  ".to_string());
        Self { text, unit, edits: Vec::new() }
    }

    /// Sets each field of the object `node`: a present key gets its value replaced, missing ones are added.
    fn set_members(&mut self, node: &Node, fields: &[(String, Json)]) {
        let mut missing = Vec::new();
        for (key, value) in fields {
            match node.get(key) {
                Some(member) => {
                    let base = line_indent(self.text, member.key_start);
                    let text = render(value, base, &self.unit);
                    self.edits.push(Edit { start: member.value.start, end: member.value.end, text });
                }
                None => missing.push((key.clone(), value.clone())),
            }
        }
        if !missing.is_empty() {
            self.insert_members(node, &missing);
        }
    }

    /// Adds members at the end of the object `node`, each on its own line, after any comment that ends it.
    fn insert_members(&mut self, node: &Node, fields: &[(String, Json)]) {
        let text = self.text;
        let members = node.members().unwrap_or_default();
        let close = node.end - 1;
        let outer = if own_line(text, close) { line_indent(text, close) } else { line_indent(text, node.start) };
        let inner = match members.first() {
            Some(first) if own_line(text, first.key_start) => line_indent(text, first.key_start).to_string(),
            _ => format!("{outer}{}", self.unit),
        };
        // After the last thing before `}` (a value, a trailing comma, a comment), before the line break.
        let at = text[..close].trim_end_matches([' ', '\t', '\r', '\n']).len();
        let mut insert = String::new();
        if let Some(last) = members.last().filter(|m| !m.comma_after) {
            if last.value.end == at {
                insert.push(',');
            } else {
                self.edits.push(Edit { start: last.value.end, end: last.value.end, text: ",".into() });
            }
        }
        let rendered: Vec<String> =
            fields.iter().map(|(k, v)| format!("\n{inner}{}: {}", quote(k), render(v, &inner, &self.unit))).collect();
        insert.push_str(&rendered.join(","));
        if !text[at..close].contains('\n') {
            insert.push('\n');
            insert.push_str(outer);
        }
        self.edits.push(Edit { start: at, end: at, text: insert });
    }

    fn finish(mut self) -> String {
        self.edits.sort_by_key(|e| std::cmp::Reverse(e.start));
        // A file written on Windows keeps its CRLF line ends in the lines added.
        let crlf = self.text.contains("\r\n");
        let mut out = self.text.to_string();
        for edit in &self.edits {
            let text = if crlf { edit.text.replace("\r\n", "\n").replace('\n', "\r\n") } else { edit.text.clone() };
            out.replace_range(edit.start..edit.end, &text);
        }
        out
    }
}

/// The spaces and tabs that start the line holding `pos`.
fn line_indent(text: &str, pos: usize) -> &str {
    let start = text[..pos].rfind('\n').map_or(0, |i| i + 1);
    let line = &text[start..];
    &line[..line.len() - line.trim_start_matches([' ', '\t']).len()]
}

/// Whether only indentation comes before `pos` on its line.
fn own_line(text: &str, pos: usize) -> bool {
    let start = text[..pos].rfind('\n').map_or(0, |i| i + 1);
    text[start..pos].chars().all(|c| c == ' ' || c == '\t')
}

/// `value` as JSON text starting where it is placed, its inner lines indented from `base` by `unit`.
pub fn render(value: &Json, base: &str, unit: &str) -> String {
    match value {
        Json::Str(s) => quote(s),
        Json::Raw(text) => text.clone(),
        Json::List(items) => {
            let inline = format!("[{}]", items.iter().map(|i| quote(i)).collect::<Vec<_>>().join(", "));
            // One line while it reads as one; a long list (many --header flags) gets a line per item.
            if base.len() + inline.len() <= 100 || items.is_empty() {
                return inline;
            }
            let lines: Vec<String> = items.iter().map(|i| format!("{base}{unit}{}", quote(i))).collect();
            format!("[\n{}\n{base}]", lines.join(",\n"))
        }
        Json::Object(fields) if fields.is_empty() => "{}".to_string(),
        Json::Object(fields) => {
            let inner = format!("{base}{unit}");
            let lines: Vec<String> =
                fields.iter().map(|(k, v)| format!("{inner}{}: {}", quote(k), render(v, &inner, unit))).collect();
            format!("{{\n{}\n{base}}}", lines.join(",\n"))
        }
    }
}

fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLAUDE: Shape = Shape { servers_key: "mcpServers", stdio_type: false };
    const VSCODE: Shape = Shape { servers_key: "servers", stdio_type: true };
    const ZED: Shape = Shape { servers_key: "context_servers", stdio_type: false };
    const URL: &str = "https://mcp.example.com/mcp";

    fn launch() -> Launch {
        Launch::proxy("/usr/bin/superdynamic", URL, &[], &[])
    }

    fn parsed(text: &str) -> serde_json::Value {
        let node = jsonc::parse(text).unwrap_or_else(|e| panic!("{e}:\n{text}"));
        raw_value(text, &node)
    }

    #[test]
    fn snippets_have_each_hosts_shape() {
        assert_eq!(
            CLAUDE.snippet("mcp-example-com", &launch()),
            "{\n  \"mcpServers\": {\n    \"mcp-example-com\": {\n      \"command\": \"/usr/bin/superdynamic\",\n      \
             \"args\": [\"proxy\", \"https://mcp.example.com/mcp\"]\n    }\n  }\n}\n"
        );
        let vscode = VSCODE.snippet("x", &launch());
        assert!(vscode.starts_with("{\n  \"servers\": {\n    \"x\": {\n      \"type\": \"stdio\",\n"), "{vscode}");
        let zed = parsed(&ZED.snippet("x", &launch()));
        assert_eq!(zed["context_servers"]["x"]["command"], "/usr/bin/superdynamic");
        assert_eq!(zed["context_servers"]["x"]["args"][1], URL);
    }

    #[test]
    fn a_new_file_gets_the_whole_document() {
        let (text, outcome) = CLAUDE.upsert(None, "n", &launch(), URL).unwrap();
        assert_eq!(outcome, Outcome::Added);
        assert_eq!(text, CLAUDE.snippet("n", &launch()));
        let (text, _) = CLAUDE.upsert(Some("  \n"), "n", &launch(), URL).unwrap();
        assert_eq!(text, CLAUDE.snippet("n", &launch()));
    }

    #[test]
    fn adding_keeps_every_other_byte() {
        let before = "{\n\t\"globalShortcut\": \"\",\n\t\"mcpServers\": {\n\t\t\"files\": {\n\t\t\t\"command\": \"npx\",\n\t\t\t\"args\": [\"-y\", \"@modelcontextprotocol/server-filesystem\", \"/tmp\"]\n\t\t}\n\t}\n}\n";
        let (after, outcome) = CLAUDE.upsert(Some(before), "new", &launch(), URL).unwrap();
        assert_eq!(outcome, Outcome::Added);
        let expected = "{\n\t\"globalShortcut\": \"\",\n\t\"mcpServers\": {\n\t\t\"files\": {\n\t\t\t\"command\": \"npx\",\n\t\t\t\"args\": [\"-y\", \"@modelcontextprotocol/server-filesystem\", \"/tmp\"]\n\t\t},\n\t\t\"new\": {\n\t\t\t\"command\": \"/usr/bin/superdynamic\",\n\t\t\t\"args\": [\"proxy\", \"https://mcp.example.com/mcp\"]\n\t\t}\n\t}\n}\n";
        assert_eq!(after, expected);
    }

    #[test]
    fn adds_the_servers_object_when_missing_and_handles_one_line_files() {
        let (after, _) = CLAUDE.upsert(Some(r#"{"theme": "dark"}"#), "n", &launch(), URL).unwrap();
        let value = parsed(&after);
        assert_eq!(value["theme"], "dark");
        assert_eq!(value["mcpServers"]["n"]["args"][0], "proxy");
        assert!(after.starts_with(r#"{"theme": "dark","#), "{after}");
        let (after, _) = CLAUDE.upsert(Some("{}"), "n", &launch(), URL).unwrap();
        assert_eq!(parsed(&after)["mcpServers"]["n"]["command"], "/usr/bin/superdynamic");
        let (after, _) = CLAUDE.upsert(Some(r#"{"mcpServers": {}}"#), "n", &launch(), URL).unwrap();
        assert_eq!(parsed(&after)["mcpServers"]["n"]["command"], "/usr/bin/superdynamic");
    }

    #[test]
    fn zed_comments_and_trailing_commas_survive() {
        let before = "// Zed settings\n{\n  \"theme\": \"One Dark\", // my theme\n  \"context_servers\": {\n    // the old one\n    \"other\": { \"command\": \"uv\", \"args\": [\"run\", \"x.py\"] }, // keep\n  },\n}\n";
        let (after, outcome) = ZED.upsert(Some(before), "mcp-example-com", &launch(), URL).unwrap();
        assert_eq!(outcome, Outcome::Added);
        for kept in ["// Zed settings", "// my theme", "// the old one", "}, // keep", "\"theme\": \"One Dark\","] {
            assert!(after.contains(kept), "{kept} lost:\n{after}");
        }
        let value = parsed(&after);
        assert_eq!(value["context_servers"]["other"]["command"], "uv");
        assert_eq!(value["context_servers"]["mcp-example-com"]["args"][1], URL);
        assert!(after.contains("// keep\n    \"mcp-example-com\": {\n"), "{after}");
    }

    #[test]
    fn crlf_files_keep_crlf() {
        let before = "{\r\n  \"mcpServers\": {\r\n    \"a\": {\"command\": \"x\"}\r\n  }\r\n}\r\n";
        let (after, _) = CLAUDE.upsert(Some(before), "n", &launch(), URL).unwrap();
        assert!(!after.replace("\r\n", "").contains('\n'), "{after:?}");
        assert_eq!(parsed(&after)["mcpServers"]["n"]["args"][0], "proxy");
    }

    #[test]
    fn a_comment_after_the_last_member_stays_with_it() {
        let before = "{\n  \"mcpServers\": {\n    \"a\": {\"command\": \"x\"} // about a\n  }\n}";
        let (after, _) = CLAUDE.upsert(Some(before), "n", &launch(), URL).unwrap();
        assert!(after.contains("\"a\": {\"command\": \"x\"}, // about a\n    \"n\": {"), "{after}");
        parsed(&after);
    }

    #[test]
    fn updates_its_own_entry_keeping_other_keys_and_refuses_anothers() {
        let before = r#"{"mcpServers": {"n": {"command": "/old/superdynamic", "args": ["proxy", "https://old"], "env": {"K": "v"}}}}"#;
        let (after, outcome) = CLAUDE.upsert(Some(before), "n", &launch(), URL).unwrap();
        assert_eq!(outcome, Outcome::Updated);
        let value = parsed(&after);
        assert_eq!(value["mcpServers"]["n"]["command"], "/usr/bin/superdynamic");
        assert_eq!(value["mcpServers"]["n"]["args"][1], URL);
        assert_eq!(value["mcpServers"]["n"]["env"]["K"], "v");
        let (again, outcome) = CLAUDE.upsert(Some(&after), "n", &launch(), URL).unwrap();
        assert_eq!((again.as_str(), outcome), (after.as_str(), Outcome::Unchanged));
        let spread = after.replace("[\"proxy\", ", "[\n        \"proxy\",\n        ");
        assert_eq!(CLAUDE.upsert(Some(&spread), "n", &launch(), URL).unwrap(), (spread.clone(), Outcome::Unchanged));
        let vscode = r#"{"servers": {"n": {"command": "/usr/bin/superdynamic", "args": ["proxy", "https://mcp.example.com/mcp"]}}}"#;
        assert_eq!(VSCODE.upsert(Some(vscode), "n", &launch(), URL).unwrap().1, Outcome::Updated, "adds the type");

        let mcp_remote = format!(r#"{{"mcpServers": {{"n": {{"command": "npx", "args": ["mcp-remote", "{URL}"]}}}}}}"#);
        assert_eq!(CLAUDE.upsert(Some(&mcp_remote), "n", &launch(), URL).unwrap().1, Outcome::Updated);

        let other = r#"{"mcpServers": {"n": {"command": "node", "args": ["server.js"]}}}"#;
        let error = CLAUDE.upsert(Some(other), "n", &launch(), URL).unwrap_err();
        assert_eq!(error, EditError::Conflict { name: "n".into(), runs: "runs `node`".into() });
    }

    #[test]
    fn wrong_shapes_are_refused() {
        assert_eq!(
            CLAUDE.upsert(Some("[]"), "n", &launch(), URL).unwrap_err(),
            EditError::Shape("the top level is not a JSON object".into())
        );
        assert_eq!(
            CLAUDE.upsert(Some(r#"{"mcpServers": []}"#), "n", &launch(), URL).unwrap_err(),
            EditError::Shape("\"mcpServers\" is not an object".into())
        );
        assert!(matches!(CLAUDE.upsert(Some("{,}"), "n", &launch(), URL), Err(EditError::Syntax(_))));
    }

    #[test]
    fn rewrites_mcp_remote_entries_keeping_env_and_the_rest() {
        let before = r#"{
  "mcpServers": {
    "linear": {
      "command": "npx",
      "args": ["-y", "mcp-remote", "https://mcp.linear.app/sse", "--header", "X-Team:${TEAM}"],
      "env": { "TEAM": "core" }
    },
    "files": { "command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"] },
    "atlassian": {
      "command": "npx",
      "args": ["mcp-remote@latest", "https://mcp.atlassian.com/v1/sse", "9696"]
    }
  }
}
"#;
        let make = |url: &str, rest: &[String]| Launch::proxy("/usr/bin/superdynamic", url, rest, &[]);
        let (after, done) = CLAUDE.rewrite_mcp_remote(before, None, &make).unwrap();
        let names: Vec<&str> = done.entries.iter().map(|(n, _, _)| n.as_str()).collect();
        assert_eq!(names, ["linear", "atlassian"]);
        let value = parsed(&after);
        let linear = &value["mcpServers"]["linear"];
        assert_eq!(linear["command"], "/usr/bin/superdynamic");
        assert_eq!(
            linear["args"],
            serde_json::json!(["proxy", "https://mcp.linear.app/sse", "--header", "X-Team:${TEAM}"])
        );
        assert_eq!(linear["env"]["TEAM"], "core");
        assert_eq!(value["mcpServers"]["atlassian"]["args"][2], "9696");
        assert!(after.contains(
            r#""files": { "command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"] },"#
        ));

        let (_, only) = CLAUDE.rewrite_mcp_remote(before, Some("https://mcp.atlassian.com/v1/sse"), &make).unwrap();
        assert_eq!(only.entries.len(), 1);
    }

    #[test]
    fn zeds_older_shape_is_rewritten_to_the_current_one_keeping_env() {
        let before = r#"{"context_servers": {"r": {"source": "custom", "command": {"path": "npx", "args": ["mcp-remote", "https://a.example/mcp"], "env": {"K": "v"}}}}}"#;
        let make = |url: &str, rest: &[String]| Launch::proxy("/bin/sd", url, rest, &[]);
        let (after, done) = ZED.rewrite_mcp_remote(before, None, &make).unwrap();
        assert_eq!(done.entries.len(), 1);
        let value = parsed(&after);
        let r = &value["context_servers"]["r"];
        assert_eq!(r["command"], "/bin/sd");
        assert_eq!(r["args"], serde_json::json!(["proxy", "https://a.example/mcp"]));
        assert_eq!(r["env"]["K"], "v");
        assert_eq!(r["source"], "custom");
    }

    #[test]
    fn long_argument_lists_get_a_line_each_and_strings_are_escaped() {
        let args: Vec<String> = (0..8).map(|i| format!("--header=X-{i}:\"q\"\\{i}")).collect();
        let text = render(&Json::List(args.clone()), "    ", "  ");
        assert!(text.starts_with("[\n      \"--header=X-0:\\\"q\\\"\\\\0\",\n"), "{text}");
        assert_eq!(parsed(&text), serde_json::json!(args));
    }
}
