//! Where mcp-remote keeps its files: `MCP_REMOTE_CONFIG_DIR`, else `~/.mcp-auth`, then one folder per store
//! layout. mcp-remote 0.1.x used `mcp-remote-<package version>` (so every release started empty); later ones
//! use a version-independent `mcp-remote` folder, or `mcp-remote-v<N>` for a numbered layout
//! (`src/lib/mcp-auth-config.ts`, `getConfigDir`). All are searched, newest first.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// mcp-remote's base directory: `explicit` (`--dir`), else `MCP_REMOTE_CONFIG_DIR` when set and not empty
/// (mcp-remote's `||`), else `~/.mcp-auth`. `None` when there is no home directory to look in.
pub fn base_dir(explicit: Option<&Path>, env: Option<OsString>, home: Option<PathBuf>) -> Option<PathBuf> {
    if let Some(dir) = explicit {
        return Some(dir.to_path_buf());
    }
    match env.filter(|v| !v.is_empty()) {
        Some(dir) => Some(PathBuf::from(dir)),
        None => home.map(|h| h.join(".mcp-auth")),
    }
}

/// The layout folders under `base`, newest first. A `base` that is itself such a folder (the user pointed
/// `--dir` at it) and has none inside is searched alone.
pub fn layout_dirs(base: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut found: Vec<(Layout, PathBuf)> = Vec::new();
    for entry in std::fs::read_dir(base)? {
        let entry = entry?;
        let Some(name) = entry.file_name().to_str().map(str::to_string) else { continue };
        let Some(layout) = Layout::parse(&name) else { continue };
        if entry.path().is_dir() {
            found.push((layout, entry.path()));
        }
    }
    if found.is_empty() && base.file_name().and_then(|n| n.to_str()).and_then(Layout::parse).is_some() {
        return Ok(vec![base.to_path_buf()]);
    }
    found.sort_by(|(a, _), (b, _)| b.cmp(a));
    Ok(found.into_iter().map(|(_, path)| path).collect())
}

/// A layout folder's name, ordered oldest to newest: package versions (numerically, a pre-release before its
/// release), then the version-independent folder, then numbered layouts.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Layout {
    /// `mcp-remote-0.1.29`: the numeric parts, then whether it is a release (no `-beta`-style suffix), then the
    /// whole name so that distinct folders never compare equal.
    Package(Vec<u64>, bool, String),
    Unversioned,
    Numbered(u64),
}

impl Layout {
    fn parse(name: &str) -> Option<Self> {
        if name == "mcp-remote" {
            return Some(Self::Unversioned);
        }
        let suffix = name.strip_prefix("mcp-remote-")?;
        if let Some(n) = suffix.strip_prefix('v').and_then(|n| n.parse().ok()) {
            return Some(Self::Numbered(n));
        }
        let (release, pre) = match suffix.split_once(['-', '+']) {
            Some((release, pre)) => (release, !pre.is_empty()),
            None => (suffix, false),
        };
        let parts: Option<Vec<u64>> = release.split('.').map(|p| p.parse().ok()).collect();
        Some(Self::Package(parts.filter(|p| !p.is_empty())?, !pre, name.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Ordering;

    fn compare(a: &str, b: &str) -> Ordering {
        Layout::parse(a).cmp(&Layout::parse(b))
    }

    #[test]
    fn the_base_is_the_flag_then_the_environment_then_home() {
        let home = Some(PathBuf::from("/home/u"));
        let env = Some(OsString::from("/env/dir"));
        assert_eq!(base_dir(Some(Path::new("/flag")), env.clone(), home.clone()), Some("/flag".into()));
        assert_eq!(base_dir(None, env, home.clone()), Some("/env/dir".into()));
        assert_eq!(base_dir(None, Some(OsString::new()), home.clone()), Some("/home/u/.mcp-auth".into()));
        assert_eq!(base_dir(None, None, home), Some("/home/u/.mcp-auth".into()));
        assert_eq!(base_dir(None, None, None), None);
    }

    #[test]
    fn versions_compare_numerically_and_layouts_after_them() {
        assert_eq!(compare("mcp-remote-0.1.10", "mcp-remote-0.1.9"), Ordering::Greater);
        assert_eq!(compare("mcp-remote-0.1.0-beta.1", "mcp-remote-0.1.0"), Ordering::Less);
        assert_eq!(compare("mcp-remote", "mcp-remote-0.9.0"), Ordering::Greater);
        assert_eq!(compare("mcp-remote-v1", "mcp-remote"), Ordering::Greater);
        assert_eq!(Layout::parse("mcp-remote-notes"), None);
        assert_eq!(Layout::parse("other-tool"), None);
    }

    #[test]
    fn layout_folders_newest_first_and_nothing_else() {
        let base = tempfile::tempdir().unwrap();
        for name in ["mcp-remote-0.1.9", "mcp-remote-0.1.29", "mcp-remote-0.1.0-beta", "mcp-remote", "other"] {
            std::fs::create_dir(base.path().join(name)).unwrap();
        }
        std::fs::write(base.path().join("mcp-remote-0.2.0"), "a file, not a folder").unwrap();
        let names: Vec<String> = layout_dirs(base.path())
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["mcp-remote", "mcp-remote-0.1.29", "mcp-remote-0.1.9", "mcp-remote-0.1.0-beta"]);
    }

    #[test]
    fn a_layout_folder_given_directly_is_searched_alone() {
        let base = tempfile::tempdir().unwrap();
        let version = base.path().join("mcp-remote-0.1.29");
        std::fs::create_dir(&version).unwrap();
        assert_eq!(layout_dirs(&version).unwrap(), vec![version]);
        assert!(layout_dirs(&base.path().join("missing")).is_err());
    }
}
