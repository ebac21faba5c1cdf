//! Which credential store the command uses: `--store file|keyring|postgres` (or `SUPERDYNAMIC_STORE`); by
//! default the OS keychain where one is reachable, else the file store.

use crate::Failure;
use crate::cli::{GlobalArgs, StoreKind};
use std::path::PathBuf;
use std::sync::Arc;
use superdynamic::store::{CredentialStore, FileStore};

/// The file store's path: `--store-path`, `SUPERDYNAMIC_STORE_PATH`, else the platform config directory. The
/// keychain store keeps its index beside it, and `clients.json` is looked for there.
pub fn file_path(global: &GlobalArgs) -> Result<PathBuf, Failure> {
    match &global.store_path {
        Some(p) => Ok(p.clone()),
        None => FileStore::default_path().map_err(|e| Failure::from_lib(e.into())),
    }
}

pub fn open(global: &GlobalArgs) -> Result<Arc<dyn CredentialStore>, Failure> {
    let path = file_path(global)?;
    match global.store {
        Some(StoreKind::File) => Ok(Arc::new(FileStore::new(path))),
        Some(StoreKind::Keyring) => {
            keyring(&path).map_err(|reason| Failure { code: 5, message: format!("--store keyring: {reason}") })
        }
        Some(StoreKind::Postgres) => postgres(global),
        None => Ok(keyring(&path).unwrap_or_else(|reason| {
            notice_fallback_once(&path, &reason);
            Arc::new(FileStore::new(path))
        })),
    }
}

#[cfg(feature = "keyring")]
fn keyring(path: &std::path::Path) -> Result<Arc<dyn CredentialStore>, String> {
    use superdynamic::store::{KeyringStore, platform_keyring};
    let keyring = platform_keyring().map_err(|e| e.to_string())?;
    Ok(Arc::new(KeyringStore::new(KeyringStore::index_path_for(path), keyring)))
}

#[cfg(not(feature = "keyring"))]
fn keyring(_: &std::path::Path) -> Result<Arc<dyn CredentialStore>, String> {
    Err("this superdynamic was built without the OS keychain (cargo feature `keyring`); use --store file".into())
}

#[cfg(feature = "postgres")]
fn postgres(global: &GlobalArgs) -> Result<Arc<dyn CredentialStore>, Failure> {
    let Some(url) = global.database_url.as_deref().filter(|u| !u.is_empty()) else {
        return Err(Failure::usage(
            "--store postgres needs the database: pass --database-url postgres://user:password@host:port/db (better \
             as SUPERDYNAMIC_DATABASE_URL, which keeps the password out of the process list)",
        ));
    };
    let store = superdynamic::store::PostgresStore::new(url).map_err(|e| Failure::usage(e.to_string()))?;
    Ok(Arc::new(store))
}

#[cfg(not(feature = "postgres"))]
fn postgres(_: &GlobalArgs) -> Result<Arc<dyn CredentialStore>, Failure> {
    Err(Failure::usage("this superdynamic was built without PostgreSQL support (cargo feature `postgres`)"))
}

/// Says once per store directory (a marker file remembers) that no keychain is reachable and the file store
/// is used instead. The technical cause is a debug log (`-v`), every time.
fn notice_fallback_once(path: &std::path::Path, reason: &str) {
    if !cfg!(feature = "keyring") {
        return; // built without the keychain: the file store is simply the store
    }
    tracing::debug!(cause = %reason, "no OS keychain; using the file store");
    let marker = path.with_file_name("keyring-unavailable");
    if marker.exists() {
        return;
    }
    eprintln!("{}", fallback_note(path));
    if let Some(dir) = marker.parent() {
        let _ = superdynamic::store::create_private_dir(dir);
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    if let Ok(mut file) = options.open(&marker) {
        let _ = std::io::Write::write_all(&mut file, format!("{reason}\n").as_bytes());
    }
}

fn fallback_note(path: &std::path::Path) -> String {
    format!(
        "note: No OS keychain is reachable here; credentials are kept in {} (readable only by you). Use --store \
         keyring to require one.",
        path.display()
    )
}
