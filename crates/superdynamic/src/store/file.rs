//! The file store: one JSON document, 0600 in a 0700 directory, replaced atomically (write a temporary file,
//! fsync, rename, fsync the directory), with a sidecar lock file serializing read-modify-write cycles across
//! processes (the rename replaces the store's inode, so the lock cannot live on the store itself).

use super::{
    CredentialKey, CredentialRecord, CredentialStore, Expected, FORMAT_VERSION, Saved, StoreData, StoreError,
    StoreFuture, StoreLock,
};
use crate::resource::ResourceUri;
use crate::transport::Generation;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const LOCK_WAIT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct FileStore {
    path: PathBuf,
}

impl FileStore {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// `$SUPERDYNAMIC_STORE_PATH`, else `credentials.json` in the platform config directory
    /// (`$XDG_CONFIG_HOME/superdynamic`, `~/.config/superdynamic`, macOS Application Support, `%APPDATA%`).
    pub fn default_path() -> Result<PathBuf, StoreError> {
        if let Some(p) = std::env::var_os("SUPERDYNAMIC_STORE_PATH").filter(|p| !p.is_empty()) {
            return Ok(PathBuf::from(p));
        }
        let base = if cfg!(windows) {
            std::env::var_os("APPDATA").map(PathBuf::from)
        } else if cfg!(target_os = "macos") {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join("Library/Application Support"))
        } else {
            std::env::var_os("XDG_CONFIG_HOME")
                .filter(|p| !p.is_empty())
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        };
        base.map(|b| b.join("superdynamic").join("credentials.json")).ok_or(StoreError::NoHome)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock_path(&self) -> PathBuf {
        let mut name = self.path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
        name.push(".lock");
        self.path.with_file_name(name)
    }

    /// Reads the store; a missing file is an empty store. A file others can read is made private (with a
    /// warning), a corrupt one is reported and never overwritten.
    pub fn read_document(&self) -> Result<StoreData, StoreError> {
        let bytes = match fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(StoreData::default()),
            Err(source) => {
                return Err(StoreError::Io { action: "read", path: self.path.clone(), source });
            }
        };
        self.tighten_permissions();
        let data: StoreData = serde_json::from_slice(&bytes)
            .map_err(|e| StoreError::Corrupt { path: self.path.clone(), detail: e.to_string() })?;
        if data.version != FORMAT_VERSION {
            return Err(StoreError::UnsupportedVersion { path: self.path.clone(), found: data.version });
        }
        Ok(data)
    }

    /// Read-modify-write under the lock: `change` sees the current contents and returns its result; the
    /// store is written only when `change` returns `Ok`.
    pub fn update<T, E: From<StoreError>>(&self, change: impl FnOnce(&mut StoreData) -> Result<T, E>) -> Result<T, E> {
        let _lock = self.lock_document()?;
        let mut data = self.read_document()?;
        let before = data.clone();
        let out = change(&mut data)?;
        if data != before {
            self.write(&data)?;
        }
        Ok(out)
    }

    fn ensure_dir(&self) -> Result<(), StoreError> {
        let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) else {
            return Ok(());
        };
        if !dir.exists() {
            create_private_dir(dir)?;
        }
        Ok(())
    }

    fn lock_document(&self) -> Result<File, StoreError> {
        self.ensure_dir()?;
        let path = self.lock_path();
        let file = open_private(&path, false).map_err(|source| StoreError::Io {
            action: "open",
            path: path.clone(),
            source,
        })?;
        let start = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(file),
                Err(fs::TryLockError::WouldBlock) if start.elapsed() < LOCK_WAIT => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(fs::TryLockError::WouldBlock) => {
                    let what = path.display().to_string();
                    return Err(StoreError::LockTimeout { what, seconds: LOCK_WAIT.as_secs() });
                }
                Err(fs::TryLockError::Error(source)) => {
                    return Err(StoreError::Io { action: "lock", path, source });
                }
            }
        }
    }

    fn write(&self, data: &StoreData) -> Result<(), StoreError> {
        self.ensure_dir()?;
        let json = serde_json::to_vec_pretty(data)
            .map_err(|e| StoreError::Corrupt { path: self.path.clone(), detail: e.to_string() })?;
        let tmp = self.path.with_extension(format!("tmp.{}", std::process::id()));
        let io = |action, source| StoreError::Io { action, path: tmp.clone(), source };
        let mut file = open_private(&tmp, true).map_err(|e| io("create", e))?;
        file.write_all(&json).map_err(|e| io("write", e))?;
        file.sync_all().map_err(|e| io("sync", e))?;
        drop(file);
        fs::rename(&tmp, &self.path).map_err(|source| {
            let _ = fs::remove_file(&tmp);
            StoreError::Io { action: "replace", path: self.path.clone(), source }
        })?;
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            // Make the rename durable; not possible on every platform, so best effort.
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }

    #[cfg(unix)]
    fn tighten_permissions(&self) {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = fs::metadata(&self.path)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(path = %self.path.display(), "credential store was readable by others; setting it to 0600");
            let _ = fs::set_permissions(&self.path, fs::Permissions::from_mode(0o600));
        }
    }

    #[cfg(not(unix))]
    fn tighten_permissions(&self) {}
}

/// Creates `dir` (and its parents) readable by the owner only (0700 on Unix).
pub fn create_private_dir(dir: &Path) -> Result<(), StoreError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|source| StoreError::Io { action: "create", path: dir.to_path_buf(), source })
}

fn open_private(path: &Path, truncate: bool) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create(true);
    if truncate {
        options.truncate(true);
    } else {
        options.read(true).truncate(false);
    }
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

impl FileStore {
    /// Runs blocking file work (fsync takes milliseconds) off the async runtime's workers.
    fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&FileStore) -> Result<T, StoreError> + Send + 'static,
    ) -> StoreFuture<'static, T> {
        super::off_runtime(self, work)
    }
}

impl CredentialStore for FileStore {
    fn load<'a>(&'a self, profile: &'a str, server: &'a ResourceUri) -> StoreFuture<'a, Vec<CredentialRecord>> {
        let (profile, server) = (profile.to_owned(), server.clone());
        self.blocking(move |s| Ok(s.read_document()?.records(&profile, &server)))
    }

    fn list<'a>(&'a self, profile: Option<&'a str>) -> StoreFuture<'a, Vec<CredentialRecord>> {
        let profile = profile.map(str::to_owned);
        self.blocking(move |s| Ok(s.read_document()?.list(profile.as_deref())))
    }

    fn save(&self, record: CredentialRecord, expected: Expected) -> StoreFuture<'_, Saved> {
        self.blocking(move |s| s.update(|data| Ok::<_, StoreError>(data.save(record, expected))))
    }

    fn delete<'a>(&'a self, key: &'a CredentialKey, expected: Expected) -> StoreFuture<'a, bool> {
        let key = key.clone();
        self.blocking(move |s| s.update(|data| Ok::<_, StoreError>(data.delete(&key, expected))))
    }

    fn lock<'a>(&'a self, name: &'a str, wait: Duration) -> StoreFuture<'a, StoreLock> {
        Box::pin(async move { Ok(StoreLock::new(self.lock_named(name, wait).await?)) })
    }

    fn try_lock<'a>(&'a self, name: &'a str) -> StoreFuture<'a, Option<StoreLock>> {
        Box::pin(async move { Ok(self.try_lock_named(name)?.map(StoreLock::new)) })
    }

    fn generation<'a>(&'a self, server: &'a ResourceUri) -> StoreFuture<'a, Option<Generation>> {
        let server = server.to_string();
        self.blocking(move |s| Ok(s.read_document()?.generations.get(&server).copied()))
    }

    fn remember_generation<'a>(&'a self, server: &'a ResourceUri, generation: Generation) -> StoreFuture<'a, ()> {
        let server = server.clone();
        self.blocking(move |s| {
            s.update(|data| {
                data.remember_generation(&server, generation);
                Ok::<_, StoreError>(())
            })
        })
    }

    fn describe(&self) -> String {
        self.path.display().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discovery::AuthorizationServerMetadata;
    use crate::resource::{Issuer, ResourceUri};
    use crate::secret::AccessToken;
    use crate::store::{CredentialRecord, Expected};
    use crate::token::TokenSet;

    fn record(updated_at: u64, token: &str) -> CredentialRecord {
        let server = ResourceUri::parse("http://127.0.0.1:9/mcp").unwrap();
        CredentialRecord {
            profile: "default".into(),
            server: server.clone(),
            issuer: Issuer::new("http://127.0.0.1:9"),
            resource: server,
            authorization_server: AuthorizationServerMetadata::default_endpoints("http://127.0.0.1:9"),
            registration: None,
            tokens: Some(TokenSet {
                access_token: AccessToken::new(token),
                token_type: "Bearer".into(),
                expires_at: Some(100),
                refresh_token: None,
                scope: None,
                obtained_at: 1,
                dpop_key: None,
            }),
            updated_at,
            revision: 0,
        }
    }

    #[test]
    fn round_trip_with_private_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path().join("sub/credentials.json"));
        assert!(store.read_document().unwrap().credentials.is_empty());
        store
            .update(|d| {
                d.save(record(1, "tok-1"), Expected::Any);
                Ok::<_, StoreError>(())
            })
            .unwrap();
        let data = store.read_document().unwrap();
        assert_eq!(data.credentials.len(), 1);
        assert_eq!(data.credentials[0].tokens.as_ref().unwrap().access_token.secret(), "tok-1");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(fs::metadata(store.path()).unwrap().permissions().mode() & 0o777, 0o600);
            assert_eq!(fs::metadata(dir.path().join("sub")).unwrap().permissions().mode() & 0o777, 0o700);
        }
    }

    #[tokio::test]
    async fn meets_the_store_contract() {
        let dir = tempfile::tempdir().unwrap();
        crate::store::contract::exercise(&FileStore::new(dir.path().join("credentials.json"))).await;
    }

    #[tokio::test]
    async fn two_handles_on_one_file_see_each_others_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("credentials.json");
        crate::store::contract::shared(&FileStore::new(&path), &FileStore::new(&path)).await;
    }

    #[test]
    fn corrupt_store_is_reported_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("credentials.json");
        fs::write(&path, b"{ not json").unwrap();
        let store = FileStore::new(&path);
        let err = store.read_document().unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { .. }));
        assert!(err.to_string().contains("left untouched"), "{err}");
        let result = store.update(|d| {
            d.save(record(1, "x"), Expected::Any);
            Ok::<_, StoreError>(())
        });
        assert!(result.is_err());
        assert_eq!(fs::read(&path).unwrap(), b"{ not json");
    }

    #[cfg(unix)]
    #[test]
    fn too_open_permissions_are_fixed_on_load() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path().join("credentials.json"));
        store
            .update(|d| {
                d.save(record(1, "x"), Expected::Any);
                Ok::<_, StoreError>(())
            })
            .unwrap();
        fs::set_permissions(store.path(), fs::Permissions::from_mode(0o644)).unwrap();
        store.read_document().unwrap();
        assert_eq!(fs::metadata(store.path()).unwrap().permissions().mode() & 0o777, 0o600);
    }
}
