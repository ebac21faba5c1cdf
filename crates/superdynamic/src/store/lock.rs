//! Cross-process locks scoped to one name (one credential, one sign-in), on sidecar files in a `locks`
//! directory beside the store. Held until dropped; the operating system releases them if the process dies.

use super::{FileStore, StoreError};
use std::fs::{self, File, OpenOptions};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// A held lock. Dropping it releases the lock.
#[derive(Debug)]
pub struct NamedLock {
    _file: File,
}

impl FileStore {
    fn named_lock_path(&self, name: &str) -> PathBuf {
        // FNV-1a keeps file names short and free of URL characters.
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in name.bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        self.path().with_file_name("locks").join(format!("{hash:016x}.lock"))
    }

    fn open_named_lock(&self, name: &str) -> Result<(File, PathBuf), StoreError> {
        let path = self.named_lock_path(name);
        if let Some(dir) = path.parent() {
            super::file::create_private_dir(dir)?;
        }
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file =
            options.open(&path).map_err(|source| StoreError::Io { action: "open", path: path.clone(), source })?;
        Ok((file, path))
    }

    /// Takes the lock `name` without waiting; `None` when another process holds it.
    pub fn try_lock_named(&self, name: &str) -> Result<Option<NamedLock>, StoreError> {
        let (file, path) = self.open_named_lock(name)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(NamedLock { _file: file })),
            Err(fs::TryLockError::WouldBlock) => Ok(None),
            Err(fs::TryLockError::Error(source)) => Err(StoreError::Io { action: "lock", path, source }),
        }
    }

    /// Takes the lock `name`, waiting at most `wait` (polling, so the async runtime is never blocked).
    pub async fn lock_named(&self, name: &str, wait: Duration) -> Result<NamedLock, StoreError> {
        let (file, path) = self.open_named_lock(name)?;
        let start = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(NamedLock { _file: file }),
                Err(fs::TryLockError::WouldBlock) if start.elapsed() < wait => {
                    tokio::time::sleep(Duration::from_millis(25)).await;
                }
                Err(fs::TryLockError::WouldBlock) => {
                    return Err(StoreError::LockTimeout { what: path.display().to_string(), seconds: wait.as_secs() });
                }
                Err(fs::TryLockError::Error(source)) => return Err(StoreError::Io { action: "lock", path, source }),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_named_lock_excludes_others_until_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path().join("credentials.json"));
        let held = store.lock_named("refresh:a", Duration::from_secs(1)).await.unwrap();
        assert!(store.try_lock_named("refresh:a").unwrap().is_none(), "held elsewhere");
        assert!(store.try_lock_named("refresh:b").unwrap().is_some(), "other names are independent");
        let err = store.lock_named("refresh:a", Duration::from_millis(100)).await.unwrap_err();
        assert!(err.to_string().contains("held the store lock"), "{err}");
        drop(held);
        assert!(store.try_lock_named("refresh:a").unwrap().is_some());
    }
}
