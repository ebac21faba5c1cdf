//! Reading a host's config and replacing it safely: a backup copy first, then the new content written to a
//! temporary file beside it and renamed over it, so the host never reads a half-written file.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// The file's text, or `None` when there is no file yet.
pub fn read(path: &Path) -> Result<Option<String>, String> {
    match std::fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| format!("{} is not UTF-8 text; it was left unchanged", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("could not read {}: {e}", path.display())),
    }
}

/// The file to write: a symlinked config (dotfile managers do this) is written through, not replaced by a copy.
pub fn target(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Copies the file to `<file>.superdynamic-backup-<UTC time>` (never over an earlier backup) and returns its path.
pub fn backup(path: &Path) -> Result<PathBuf, String> {
    let stamp = utc_stamp(SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()));
    let base = format!("{}.superdynamic-backup-{stamp}", path.display());
    let mut candidate = PathBuf::from(&base);
    let mut n = 1;
    while candidate.exists() {
        n += 1;
        candidate = PathBuf::from(format!("{base}-{n}"));
    }
    // fs::copy keeps the permissions, so a private config's backup stays private.
    std::fs::copy(path, &candidate).map_err(|e| {
        format!("could not back up {} to {}: {e}; nothing was changed", path.display(), candidate.display())
    })?;
    Ok(candidate)
}

/// Writes `contents` to `path` atomically, keeping an existing file's permissions; a new file (and its
/// directory) is created, the file readable only by you since entries' `env` often hold keys.
pub fn write_atomically(path: &Path, contents: &str) -> Result<(), String> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).map_err(|e| format!("could not create the directory {}: {e}", dir.display()))?;
    let failed = |e: std::io::Error| format!("could not write {}: {e}; it was left unchanged", path.display());
    let mut temp = tempfile::Builder::new().prefix(".superdynamic-setup-").tempfile_in(&dir).map_err(failed)?;
    temp.write_all(contents.as_bytes()).map_err(failed)?;
    if let Ok(existing) = std::fs::metadata(path) {
        std::fs::set_permissions(temp.path(), existing.permissions()).map_err(failed)?;
    }
    temp.as_file().sync_all().map_err(failed)?;
    temp.persist(path).map_err(|e| failed(e.error))?;
    Ok(())
}

/// `20261207T013922Z` from seconds since 1970 (UTC), by the civil-from-days algorithm
/// (http://howardhinnant.github.io/date_algorithms.html#civil_from_days).
fn utc_stamp(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rest = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z", rest / 3600, rest % 3600 / 60, rest % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_are_utc_calendar_times() {
        assert_eq!(utc_stamp(0), "19700101T000000Z");
        assert_eq!(utc_stamp(951_782_400), "20000229T000000Z");
        assert_eq!(utc_stamp(1_796_607_562), "20261207T013922Z");
    }

    #[test]
    fn backup_then_atomic_write_keeps_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(&path, "old").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        }
        let first = backup(&path).unwrap();
        let second = backup(&path).unwrap();
        assert_ne!(first, second, "a second backup in the same second does not overwrite the first");
        write_atomically(&path, "new").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(std::fs::read_to_string(&first).unwrap(), "old");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&path), 0o640);
            assert_eq!(mode(&first), 0o640);
            let fresh = dir.path().join("new/dir/mcp.json");
            write_atomically(&fresh, "{}").unwrap();
            assert_eq!(mode(&fresh), 0o600);
        }
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with(".superdynamic-setup-"))
            .collect();
        assert!(leftovers.is_empty(), "no temporary file is left behind");
    }

    #[cfg(unix)]
    #[test]
    fn a_symlinked_config_is_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("dotfiles.json");
        std::fs::write(&real, "old").unwrap();
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        write_atomically(&target(&link), "new").unwrap();
        assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        assert_eq!(std::fs::read_to_string(&real).unwrap(), "new");
    }
}
