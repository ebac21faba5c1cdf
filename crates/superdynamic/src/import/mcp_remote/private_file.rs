//! Reading one of mcp-remote's files only when it is what mcp-remote itself writes: a regular file (not a
//! symlink, which could point anywhere), readable by its owner alone (mcp-remote creates them 0600), of a
//! credential's size. Nothing here opens a file for writing.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

/// Far more than any registration or token response mcp-remote stores.
const MAX_FILE_BYTES: u64 = 256 * 1024;

/// A file's contents and when it was last written (mcp-remote's tokens expire relative to that).
pub(super) struct FileContents {
    pub text: String,
    pub modified_unix: u64,
}

/// Why a file was not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileRefusal {
    #[error("{} is a symbolic link; mcp-remote writes regular files, so it was not followed", .0.display())]
    Symlink(PathBuf),
    #[error("{} is not a regular file", .0.display())]
    NotAFile(PathBuf),
    #[error(
        "{} can be read by other users (mode {mode:04o}); mcp-remote writes it readable only by you (0600). If it \
         is yours, run `chmod 600 {}` and import again, and consider the tokens in it exposed",
        path.display(), path.display()
    )]
    NotPrivate { path: PathBuf, mode: u32 },
    #[error("{} is larger than {MAX_FILE_BYTES} bytes, which no mcp-remote credential is", .0.display())]
    TooLarge(PathBuf),
    #[error("could not read {}: {detail}", path.display())]
    Unreadable { path: PathBuf, detail: String },
}

/// Whether `path` exists at all (a dangling symlink counts: it is refused later, not silently missed).
pub(super) fn exists(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok()
}

/// Reads `path` if it is a private regular file.
pub(super) fn read(path: &Path) -> Result<FileContents, FileRefusal> {
    let unreadable = |e: std::io::Error| FileRefusal::Unreadable { path: path.to_path_buf(), detail: e.to_string() };
    let link = std::fs::symlink_metadata(path).map_err(unreadable)?;
    if link.file_type().is_symlink() {
        return Err(FileRefusal::Symlink(path.to_path_buf()));
    }
    if !link.is_file() {
        return Err(FileRefusal::NotAFile(path.to_path_buf()));
    }
    let mut file = std::fs::File::open(path).map_err(unreadable)?;
    // What was opened must be what was checked: a file swapped for a symlink in between is refused.
    let opened = file.metadata().map_err(unreadable)?;
    if !same_file(&link, &opened) {
        return Err(FileRefusal::Symlink(path.to_path_buf()));
    }
    check_private(path, &opened)?;
    if opened.len() > MAX_FILE_BYTES {
        return Err(FileRefusal::TooLarge(path.to_path_buf()));
    }
    let mut bytes = Vec::new();
    file.by_ref().take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes).map_err(unreadable)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(FileRefusal::TooLarge(path.to_path_buf()));
    }
    let text = String::from_utf8(bytes)
        .map_err(|_| FileRefusal::Unreadable { path: path.to_path_buf(), detail: "it is not UTF-8 text".into() })?;
    let modified_unix =
        opened.modified().ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map(|d| d.as_secs()).unwrap_or(0);
    Ok(FileContents { text, modified_unix })
}

#[cfg(unix)]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.dev() == b.dev() && a.ino() == b.ino()
}

#[cfg(not(unix))]
fn same_file(_: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    b.is_file()
}

/// Group or other permission bits mean someone else may have read the secrets.
#[cfg(unix)]
fn check_private(path: &Path, metadata: &std::fs::Metadata) -> Result<(), FileRefusal> {
    use std::os::unix::fs::PermissionsExt;
    let mode = metadata.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(FileRefusal::NotPrivate { path: path.to_path_buf(), mode });
    }
    Ok(())
}

/// Windows has no mode bits; mcp-remote's files there inherit the profile directory's access list.
#[cfg(not(unix))]
fn check_private(_: &Path, _: &std::fs::Metadata) -> Result<(), FileRefusal> {
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn write(dir: &Path, name: &str, text: &str, mode: u32) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    #[test]
    fn a_private_regular_file_is_read_with_its_modification_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "a_tokens.json", "{}", 0o600);
        let read = read(&path).unwrap();
        assert_eq!(read.text, "{}");
        assert!(read.modified_unix > 1_600_000_000);
    }

    #[test]
    fn a_file_others_can_read_is_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        for mode in [0o644, 0o640, 0o604, 0o660] {
            let path = write(dir.path(), "a_tokens.json", "{}", mode);
            let refusal = read(&path).err().unwrap();
            assert_eq!(refusal, FileRefusal::NotPrivate { path: path.clone(), mode });
            let message = refusal.to_string();
            assert!(message.contains(&format!("mode {mode:04o}")), "{message}");
            assert!(message.contains("chmod 600"), "{message}");
        }
    }

    #[test]
    fn symlinks_and_directories_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let target = write(dir.path(), "elsewhere.json", "{}", 0o600);
        let link = dir.path().join("a_tokens.json");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert_eq!(read(&link).err(), Some(FileRefusal::Symlink(link.clone())));
        let sub = dir.path().join("b_tokens.json");
        std::fs::create_dir(&sub).unwrap();
        assert_eq!(read(&sub).err(), Some(FileRefusal::NotAFile(sub.clone())));
    }

    #[test]
    fn an_oversized_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "a_tokens.json", &"x".repeat(MAX_FILE_BYTES as usize + 1), 0o600);
        assert_eq!(read(&path).err(), Some(FileRefusal::TooLarge(path.clone())));
    }
}
