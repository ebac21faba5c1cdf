//! What editing a host's config file can come to, whatever its format.

use super::entry::Launch;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Added,
    Updated,
    /// The entry was already exactly this: nothing to write.
    Unchanged,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Added => "added",
            Outcome::Updated => "updated",
            Outcome::Unchanged => "unchanged",
        }
    }
}

/// The entries `--from-mcp-remote` rewrote, as (name, URL, new launch), and those it left alone with the reason.
#[derive(Debug, Default)]
pub struct Rewritten {
    pub entries: Vec<(String, String, Launch)>,
    pub skipped: Vec<(String, String)>,
}

/// Why a file was left as it was. None of these quote the file, which may hold secrets.
#[derive(Debug, PartialEq, Eq)]
pub enum EditError {
    /// Not valid JSON / TOML, at this line and column.
    Syntax(String),
    /// Valid, but not the shape the host uses (`"mcpServers": []`).
    Shape(String),
    /// An entry of that name exists and launches something else (`runs` says what).
    Conflict { name: String, runs: String },
}
