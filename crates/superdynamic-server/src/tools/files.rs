//! `list_files` / `read_file` over one read-only directory.
//!
//! Paths are relative to the root. `..`, absolute paths and symlinks that
//! resolve outside the root are refused with a message saying so.

use std::fs;
use std::path::{Component, Path, PathBuf};

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

/// Files larger than this are not returned by `read_file`.
const MAX_READ_BYTES: u64 = 256 * 1024;

/// Demo files compiled into the binary, used when no `--files-dir` is given.
const BUILT_IN: [(&str, &str); 4] = [
    ("README.txt", include_str!("demo/README.txt")),
    ("todo.txt", include_str!("demo/todo.txt")),
    ("notes/oauth.txt", include_str!("demo/notes/oauth.txt")),
    ("notes/mcp.txt", include_str!("demo/notes/mcp.txt")),
];

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ListArgs {
    /// Subdirectory relative to the demo directory; omit for the top level.
    #[serde(default)]
    pub path: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ReadArgs {
    /// File path relative to the demo directory, e.g. "notes/mcp.txt".
    pub path: String,
}

#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("refused: {0:?} is an absolute path; paths are relative to the demo directory")]
    Absolute(String),
    #[error("refused: {0:?} contains '..'; paths may not leave the demo directory")]
    Traversal(String),
    #[error("refused: {0:?} resolves (through a symlink) outside the demo directory")]
    EscapesRoot(String),
    #[error("{0:?} does not exist in the demo directory")]
    NotFound(String),
    #[error("{0:?} is a directory; use list_files")]
    IsDirectory(String),
    #[error("{0:?} is not a directory")]
    NotDirectory(String),
    #[error("{0:?} is larger than {MAX_READ_BYTES} bytes")]
    TooLarge(String),
    #[error("{0:?} is not a UTF-8 text file")]
    NotText(String),
    #[error("could not read {path:?}: {source}")]
    Io { path: String, source: std::io::Error },
}

/// The directory the file tools serve. For the built-in files it owns a
/// temporary directory that is deleted when the server stops.
#[derive(Debug)]
pub struct FileRoot {
    root: PathBuf,
    _temp: Option<tempfile::TempDir>,
}

pub struct Listing {
    path: String,
    entries: Vec<(String, &'static str, Option<u64>)>,
}

impl Listing {
    pub fn summary(&self) -> String {
        let shown = if self.path.is_empty() { "." } else { &self.path };
        let mut out = format!("Contents of {shown}:");
        for (name, kind, size) in &self.entries {
            match size {
                Some(size) => out.push_str(&format!("\n  {name} ({kind}, {size} bytes)")),
                None => out.push_str(&format!("\n  {name}/ ({kind})")),
            }
        }
        if self.entries.is_empty() {
            out.push_str("\n  (empty)");
        }
        out
    }

    pub fn to_json(&self) -> Value {
        let entries: Vec<Value> =
            self.entries.iter().map(|(name, kind, size)| json!({"name": name, "type": kind, "size": size})).collect();
        json!({"path": self.path, "entries": entries})
    }
}

impl FileRoot {
    /// Serves an existing directory.
    pub fn directory(dir: &Path) -> Result<Self, FileError> {
        let root = dir.canonicalize().map_err(|source| FileError::Io { path: dir.display().to_string(), source })?;
        if !root.is_dir() {
            return Err(FileError::NotDirectory(dir.display().to_string()));
        }
        Ok(Self { root, _temp: None })
    }

    /// Writes the compiled-in demo files to a private temporary directory.
    pub fn built_in() -> Result<Self, FileError> {
        let io = |path: &str| {
            let path = path.to_owned();
            move |source| FileError::Io { path, source }
        };
        let temp =
            tempfile::Builder::new().prefix("superdynamic-demo-").tempdir().map_err(io("temporary directory"))?;
        for (name, contents) in BUILT_IN {
            let path = temp.path().join(name);
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent).map_err(io(name))?;
            }
            fs::write(&path, contents).map_err(io(name))?;
        }
        let root = temp.path().canonicalize().map_err(io("temporary directory"))?;
        Ok(Self { root, _temp: Some(temp) })
    }

    /// Lexical check, then resolve symlinks and make sure we stayed inside.
    fn resolve(&self, requested: &str) -> Result<PathBuf, FileError> {
        let path = Path::new(requested);
        if path.is_absolute() || requested.starts_with('/') || requested.starts_with('\\') {
            return Err(FileError::Absolute(requested.to_owned()));
        }
        let mut relative = PathBuf::new();
        for component in path.components() {
            match component {
                Component::Normal(part) => relative.push(part),
                Component::CurDir => {}
                Component::ParentDir => return Err(FileError::Traversal(requested.to_owned())),
                Component::RootDir | Component::Prefix(_) => {
                    return Err(FileError::Absolute(requested.to_owned()));
                }
            }
        }
        let resolved = self.root.join(&relative).canonicalize().map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                FileError::NotFound(requested.to_owned())
            } else {
                FileError::Io { path: requested.to_owned(), source: e }
            }
        })?;
        if !resolved.starts_with(&self.root) {
            return Err(FileError::EscapesRoot(requested.to_owned()));
        }
        Ok(resolved)
    }

    pub fn list(&self, requested: &str) -> Result<Listing, FileError> {
        let dir = self.resolve(requested)?;
        if !dir.is_dir() {
            return Err(FileError::NotDirectory(requested.to_owned()));
        }
        let io = |source| FileError::Io { path: requested.to_owned(), source };
        let mut entries = Vec::new();
        for entry in fs::read_dir(&dir).map_err(io)? {
            let entry = entry.map_err(io)?;
            let meta = entry.path().symlink_metadata().map_err(io)?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let (kind, size) = if meta.file_type().is_symlink() {
                ("symlink", Some(0))
            } else if meta.is_dir() {
                ("directory", None)
            } else if meta.is_file() {
                ("file", Some(meta.len()))
            } else {
                ("other", Some(0))
            };
            entries.push((name, kind, size));
        }
        entries.sort();
        let shown = dir.strip_prefix(&self.root).map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
        Ok(Listing { path: shown, entries })
    }

    pub fn read(&self, requested: &str) -> Result<String, FileError> {
        let file = self.resolve(requested)?;
        let meta = fs::metadata(&file).map_err(|source| FileError::Io { path: requested.to_owned(), source })?;
        if meta.is_dir() {
            return Err(FileError::IsDirectory(requested.to_owned()));
        }
        if meta.len() > MAX_READ_BYTES {
            return Err(FileError::TooLarge(requested.to_owned()));
        }
        let bytes = fs::read(&file).map_err(|source| FileError::Io { path: requested.to_owned(), source })?;
        String::from_utf8(bytes).map_err(|_| FileError::NotText(requested.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_files_are_served() {
        let root = FileRoot::built_in().unwrap();
        assert!(root.read("README.txt").unwrap().contains("superdynamic"));
        assert!(root.read("./notes/mcp.txt").unwrap().contains("RFC 9728"));
        let listing = root.list("").unwrap();
        assert!(listing.summary().contains("notes/"));
        assert!(matches!(root.read("notes"), Err(FileError::IsDirectory(_))));
    }

    #[test]
    fn traversal_is_refused() {
        let root = FileRoot::built_in().unwrap();
        assert!(matches!(root.read("../etc/passwd"), Err(FileError::Traversal(_))));
        assert!(matches!(root.read("notes/../../x"), Err(FileError::Traversal(_))));
        assert!(matches!(root.read("/etc/passwd"), Err(FileError::Absolute(_))));
        assert!(matches!(root.list(".."), Err(FileError::Traversal(_))));
        assert!(matches!(root.read("missing.txt"), Err(FileError::NotFound(_))));
    }

    #[cfg(unix)]
    #[test]
    fn symlink_escaping_the_root_is_refused() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.txt"), "secret").unwrap();
        let inside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret.txt"), inside.path().join("link.txt")).unwrap();
        std::fs::write(inside.path().join("ok.txt"), "fine").unwrap();
        let root = FileRoot::directory(inside.path()).unwrap();
        assert_eq!(root.read("ok.txt").unwrap(), "fine");
        assert!(matches!(root.read("link.txt"), Err(FileError::EscapesRoot(_))));
    }
}
