//! `superdynamic setup HOST URL`: the real binary writing hosts' config files in temporary directories (HOME
//! points at one, so the real home is never read or written).

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;

const URL: &str = "https://mcp.example.com/mcp";

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `superdynamic` with HOME at `home` and none of the developer's superdynamic or host variables.
fn run(home: &Path, args: &[&str]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_superdynamic"));
    command.args(args).env("HOME", home).env("USERPROFILE", home).env("APPDATA", home.join("AppData"));
    for var in ["XDG_CONFIG_HOME", "CODEX_HOME", "RUST_LOG", "SUPERDYNAMIC_PROFILE", "SUPERDYNAMIC_STORE"] {
        command.env_remove(var);
    }
    command.env_remove("SUPERDYNAMIC_STORE_PATH").env_remove("SUPERDYNAMIC_DATABASE_URL");
    let output = command.output().unwrap();
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

impl Run {
    #[track_caller]
    fn ok(self) -> Self {
        assert_eq!(self.code, 0, "stdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }
}

/// The binary's path as the entry holds it (the running executable, symlinks resolved).
fn binary() -> String {
    std::fs::canonicalize(env!("CARGO_BIN_EXE_superdynamic")).unwrap().display().to_string()
}

fn backups(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains(".superdynamic-backup-"))
        .collect();
    found.sort();
    found
}

fn json_of(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

const CLAUDE_CONFIG: &str = r#"{
  "globalShortcut": "Ctrl+Space",
  "mcpServers": {
    "linear": {
      "command": "npx",
      "args": ["-y", "mcp-remote", "https://mcp.linear.app/sse"]
    },
    "filesystem": {
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-filesystem", "/Users/me/Desktop"]
    },
    "atlassian": {
      "command": "npx",
      "args": ["-y", "mcp-remote@0.1.37", "https://mcp.atlassian.com/v1/sse", "9696", "--header", "X-Org:${ORG}"],
      "env": { "ORG": "acme" }
    }
  }
}
"#;

#[test]
fn prints_the_entry_and_where_the_file_is_without_touching_it() {
    let home = tempfile::tempdir().unwrap();
    let run = run(home.path(), &["setup", "cursor", URL]).ok();
    let printed: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(printed, json!({"mcpServers": {"mcp-example-com": {"command": binary(), "args": ["proxy", URL]}}}));
    let expected = home.path().join(".cursor/mcp.json");
    assert!(run.stderr.contains(&expected.display().to_string()), "{}", run.stderr);
    assert!(run.stderr.contains("--write"), "{}", run.stderr);
    assert!(!expected.exists(), "printing writes nothing");

    let run = self::run(home.path(), &["setup", "vscode", URL, "--json", "--name", "work", "--profile", "w"]).ok();
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["host"], "vscode");
    assert_eq!(report["name"], "work");
    assert_eq!(report["action"], "print");
    assert_eq!(
        report["entry"],
        json!({"type": "stdio", "command": binary(), "args": ["proxy", URL, "--profile", "w"]})
    );
    if cfg!(target_os = "linux") {
        assert_eq!(report["path"], home.path().join(".config/Code/User/mcp.json").display().to_string());
    }

    let run = self::run(home.path(), &["setup", "codex", URL]).ok();
    assert_eq!(
        run.stdout,
        format!("[mcp_servers.mcp-example-com]\ncommand = \"{}\"\nargs = [\"proxy\", \"{URL}\"]\n", binary())
    );
    assert!(run.stderr.contains(&home.path().join(".codex/config.toml").display().to_string()), "{}", run.stderr);
}

#[test]
fn write_merges_into_claude_desktop_keeping_every_other_entry_with_a_backup() {
    let home = tempfile::tempdir().unwrap();
    let path = home.path().join("claude_desktop_config.json");
    std::fs::write(&path, CLAUDE_CONFIG).unwrap();
    let config = path.to_str().unwrap();
    let run = run(home.path(), &["setup", "claude-desktop", URL, "--write", "--config", config]).ok();
    assert!(run.stderr.contains("Added \"mcp-example-com\""), "{}", run.stderr);
    assert!(run.stderr.contains("Quit and reopen Claude Desktop"), "{}", run.stderr);

    let after = std::fs::read_to_string(&path).unwrap();
    let before_servers = CLAUDE_CONFIG.rsplit_once("    }\n  }\n}\n").unwrap().0;
    assert!(after.starts_with(before_servers), "the text before the new entry is unchanged:\n{after}");
    let value = json_of(&path);
    assert_eq!(value["globalShortcut"], "Ctrl+Space");
    assert_eq!(value["mcpServers"]["atlassian"]["env"]["ORG"], "acme");
    assert_eq!(value["mcpServers"]["mcp-example-com"], json!({"command": binary(), "args": ["proxy", URL]}));
    let backup = backups(home.path());
    assert_eq!(backup.len(), 1);
    assert_eq!(std::fs::read_to_string(&backup[0]).unwrap(), CLAUDE_CONFIG, "the backup is the original");

    // Again: already there, so nothing is written and no second backup made.
    let run = self::run(home.path(), &["setup", "claude-desktop", URL, "--write", "--config", config, "--json"]).ok();
    assert_eq!(serde_json::from_str::<Value>(&run.stdout).unwrap()["action"], "unchanged");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), after);
    assert_eq!(backups(home.path()).len(), 1);

    // A new server URL under the same name updates the entry in place.
    let run = self::run(
        home.path(),
        &[
            "setup",
            "claude-desktop",
            "https://other.example.com/mcp",
            "--name",
            "mcp-example-com",
            "--write",
            "--config",
            config,
        ],
    )
    .ok();
    assert!(run.stderr.contains("Updated \"mcp-example-com\""), "{}", run.stderr);
    assert_eq!(json_of(&path)["mcpServers"]["mcp-example-com"]["args"][1], "https://other.example.com/mcp");
}

#[test]
fn write_creates_a_missing_file_and_its_directory() {
    let home = tempfile::tempdir().unwrap();
    let path = home.path().join("new/dir/mcp_config.json");
    run(home.path(), &["setup", "windsurf", URL, "--write", "--config", path.to_str().unwrap()]).ok();
    assert_eq!(
        json_of(&path),
        json!({"mcpServers": {"mcp-example-com": {"command": binary(), "args": ["proxy", URL]}}})
    );
    assert!(backups(path.parent().unwrap()).is_empty(), "nothing to back up");
}

#[test]
fn a_malformed_file_is_refused_and_left_byte_for_byte() {
    let home = tempfile::tempdir().unwrap();
    let path = home.path().join("mcp.json");
    let broken = "{\n  \"mcpServers\": {\n    \"a\": { \"command\": \"x\", \"env\": { \"KEY\": \"sk-secret\" } }\n    \"b\": {}\n  }\n}\n";
    std::fs::write(&path, broken).unwrap();
    let run = run(home.path(), &["setup", "cursor", URL, "--write", "--config", path.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains(&format!("{} is not valid JSON (line 4, column 5:", path.display())), "{}", run.stderr);
    assert!(run.stderr.contains("left unchanged"), "{}", run.stderr);
    assert!(!run.stderr.contains("sk-secret"), "the file's content is not echoed: {}", run.stderr);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), broken);
    assert!(backups(home.path()).is_empty());

    let toml = home.path().join("config.toml");
    std::fs::write(&toml, "[mcp_servers.a\ncommand = \"x\"\n").unwrap();
    let run = self::run(home.path(), &["setup", "codex", URL, "--write", "--config", toml.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("is not valid TOML (line 1"), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(&toml).unwrap(), "[mcp_servers.a\ncommand = \"x\"\n");
}

#[test]
fn an_entry_of_that_name_running_something_else_is_not_overwritten() {
    let home = tempfile::tempdir().unwrap();
    let path = home.path().join("claude_desktop_config.json");
    std::fs::write(&path, CLAUDE_CONFIG).unwrap();
    let args = ["setup", "claude-desktop", URL, "--name", "filesystem", "--write", "--config", path.to_str().unwrap()];
    let run = run(home.path(), &args);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("already has an entry \"filesystem\" that runs `npx`, not superdynamic"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("--name OTHER"), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), CLAUDE_CONFIG);
}

#[test]
fn codex_toml_keeps_its_comments() {
    let home = tempfile::tempdir().unwrap();
    let path = home.path().join("config.toml");
    let before = "# Codex settings\nmodel = \"gpt-5\" # default model\n\n[mcp_servers.docs]\n# the docs server\ncommand = \"uvx\"\nargs = [\"docs-mcp\"]\n";
    std::fs::write(&path, before).unwrap();
    run(home.path(), &["setup", "codex", URL, "--write", "--config", path.to_str().unwrap()]).ok();
    let after = std::fs::read_to_string(&path).unwrap();
    assert!(after.starts_with(before), "{after}");
    assert!(
        after.ends_with(&format!(
            "[mcp_servers.mcp-example-com]\ncommand = \"{}\"\nargs = [\"proxy\", \"{URL}\"]\n",
            binary()
        )),
        "{after}"
    );
}

#[test]
fn zed_settings_keep_their_comments() {
    let home = tempfile::tempdir().unwrap();
    let path = home.path().join("settings.json");
    let before = "// Zed settings\n//\n// For information on how to configure Zed, see the Zed documentation.\n{\n  \"vim_mode\": true, // yes\n  \"ui_font_size\": 16,\n}\n";
    std::fs::write(&path, before).unwrap();
    run(home.path(), &["setup", "zed", URL, "--write", "--config", path.to_str().unwrap()]).ok();
    let after = std::fs::read_to_string(&path).unwrap();
    let expected = format!(
        "// Zed settings\n//\n// For information on how to configure Zed, see the Zed documentation.\n{{\n  \"vim_mode\": true, // yes\n  \"ui_font_size\": 16,\n  \"context_servers\": {{\n    \"mcp-example-com\": {{\n      \"command\": \"{}\",\n      \"args\": [\"proxy\", \"{URL}\"]\n    }}\n  }}\n}}\n",
        binary()
    );
    assert_eq!(after, expected);
}

#[test]
fn from_mcp_remote_rewrites_a_claude_desktop_config() {
    let home = tempfile::tempdir().unwrap();
    let path = home.path().join("claude_desktop_config.json");
    std::fs::write(&path, CLAUDE_CONFIG).unwrap();
    let config = path.to_str().unwrap();

    // Without --write: the would-be file on stdout, the file untouched.
    let run = run(home.path(), &["setup", "claude-desktop", "--from-mcp-remote", "--config", config]).ok();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), CLAUDE_CONFIG);
    let would: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(would["mcpServers"]["linear"]["command"], binary());
    assert!(run.stderr.contains("\"linear\" (https://mcp.linear.app/sse), \"atlassian\""), "{}", run.stderr);
    assert!(run.stderr.contains("--write"), "{}", run.stderr);

    let run = self::run(
        home.path(),
        &["setup", "claude-desktop", "--from-mcp-remote", "--write", "--json", "--config", config],
    )
    .ok();
    let reports: Value = serde_json::from_str(&run.stdout).unwrap();
    let names: Vec<&str> = reports.as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["linear", "atlassian"]);
    assert_eq!(reports[0]["action"], "rewritten");

    let value = json_of(&path);
    let servers = &value["mcpServers"];
    assert_eq!(servers["linear"], json!({"command": binary(), "args": ["proxy", "https://mcp.linear.app/sse"]}));
    assert_eq!(
        servers["atlassian"],
        json!({
            "command": binary(),
            "args": ["proxy", "https://mcp.atlassian.com/v1/sse", "9696", "--header", "X-Org:${ORG}"],
            "env": {"ORG": "acme"}
        })
    );
    assert_eq!(
        servers["filesystem"],
        json!({"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "/Users/me/Desktop"]})
    );
    assert_eq!(value["globalShortcut"], "Ctrl+Space");
    let backup = backups(home.path());
    assert_eq!(std::fs::read_to_string(&backup[0]).unwrap(), CLAUDE_CONFIG);

    // Nothing left to rewrite.
    let run =
        self::run(home.path(), &["setup", "claude-desktop", "--from-mcp-remote", "--write", "--config", config]).ok();
    assert!(run.stderr.contains("No mcp-remote entries"), "{}", run.stderr);
}

#[test]
fn from_mcp_remote_with_a_url_rewrites_only_that_server() {
    let home = tempfile::tempdir().unwrap();
    let path = home.path().join("claude_desktop_config.json");
    std::fs::write(&path, CLAUDE_CONFIG).unwrap();
    let args = ["setup", "claude-desktop", "https://mcp.linear.app/sse", "--from-mcp-remote", "--write", "--config"];
    run(home.path(), &[&args[..], &[path.to_str().unwrap()]].concat()).ok();
    let value = json_of(&path);
    assert_eq!(value["mcpServers"]["linear"]["command"], binary());
    assert_eq!(value["mcpServers"]["atlassian"]["command"], "npx");
}

#[test]
fn usage_errors_say_what_to_do() {
    let home = tempfile::tempdir().unwrap();
    let run = run(home.path(), &["setup", "cursor"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("no server URL given"), "{}", run.stderr);
    let run = self::run(home.path(), &["setup", "cursor", "ftp://x"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("is not an http(s) URL"), "{}", run.stderr);
    let run = self::run(home.path(), &["setup", "codex", URL, "--name", "my server"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("letters, digits"), "{}", run.stderr);
    let run = self::run(home.path(), &["setup", "cursor", "--from-mcp-remote", "--config", "/nonexistent/x.json"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("there is no /nonexistent/x.json"), "{}", run.stderr);
}
