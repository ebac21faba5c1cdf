//! Secrets in the OS keychain (macOS Keychain, Windows Credential Manager, the Secret Service on Linux and
//! BSD, through the keyring-core crates); everything else in a private index file beside the file store.
//!
//! The index keeps each record's shape with empty placeholders where secrets were, so a listing shows what is
//! stored without reading (or prompting for) a single secret. One keychain item per record holds its secrets
//! as JSON, under the service `superdynamic` and the account `<profile> <server> <issuer>`.

use super::{
    CredentialKey, CredentialRecord, CredentialStore, Expected, FileStore, Saved, StoreError, StoreFuture, StoreLock,
};
use crate::resource::ResourceUri;
use crate::secret::{AccessToken, ClientSecret, DpopPrivateKey, RefreshToken};
use crate::transport::Generation;
use keyring_core::{Entry, Error as KeyringError};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

const SERVICE: &str = "superdynamic";
const ADVICE: &str = "Unlock the keychain, or use --store file to keep credentials in a private file instead";

/// The platform's keychain, checked to be reachable (a headless Linux box often has no Secret Service).
pub fn platform_keyring() -> Result<Arc<keyring_core::CredentialStore>, StoreError> {
    let unreachable = |e: KeyringError| StoreError::Keyring {
        action: "connection",
        detail: e.to_string(),
        advice: "No OS keychain is reachable here (on Linux: no Secret Service on the session D-Bus, such as \
                 GNOME Keyring or KWallet). Use --store file, or start a Secret Service",
    };
    #[cfg(target_os = "macos")]
    let store: Arc<keyring_core::CredentialStore> =
        apple_native_keyring_store::keychain::Store::new().map_err(unreachable)?;
    #[cfg(windows)]
    let store: Arc<keyring_core::CredentialStore> = windows_native_keyring_store::Store::new().map_err(unreachable)?;
    #[cfg(all(unix, not(target_os = "macos")))]
    let store: Arc<keyring_core::CredentialStore> =
        zbus_secret_service_keyring_store::Store::new().map_err(unreachable)?;
    // Creating a store may succeed without a usable keychain behind it: read an item that does not exist.
    let probe = Entry::new_in_store(&store, SERVICE, "reachability probe").map_err(unreachable)?;
    match probe.get_secret() {
        Ok(_) | Err(KeyringError::NoEntry) => Ok(store),
        Err(e) => Err(unreachable(e)),
    }
}

/// Secrets kept in the keychain; everything else stays in the index.
#[derive(Default, Serialize, Deserialize)]
struct Secrets {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    access_token: Option<AccessToken>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refresh_token: Option<RefreshToken>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    client_secret: Option<ClientSecret>,
    /// The DPoP private key the tokens are bound to (RFC 9449).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dpop_key: Option<DpopPrivateKey>,
}

/// Moves the secrets out of `record`, leaving empty placeholders where they were.
fn split(mut record: CredentialRecord) -> (CredentialRecord, Secrets) {
    let mut secrets = Secrets::default();
    if let Some(tokens) = record.tokens.as_mut() {
        secrets.access_token = Some(std::mem::replace(&mut tokens.access_token, AccessToken::new("")));
        if let Some(refresh) = tokens.refresh_token.replace(RefreshToken::new("")) {
            secrets.refresh_token = Some(refresh);
        } else {
            tokens.refresh_token = None;
        }
        if let Some(key) = tokens.dpop_key.replace(DpopPrivateKey::new("")) {
            secrets.dpop_key = Some(key);
        } else {
            tokens.dpop_key = None;
        }
    }
    if let Some(registration) = record.registration.as_mut()
        && let Some(secret) = registration.client_secret.take()
    {
        secrets.client_secret = Some(secret);
        registration.client_secret = Some(ClientSecret::new(""));
    }
    (record, secrets)
}

/// Puts the secrets back. Tokens whose secret has gone from the keychain are dropped (sign in again); a
/// missing client secret leaves the client without one (the server's `invalid_client` then registers anew).
fn join(mut record: CredentialRecord, secrets: Option<Secrets>) -> CredentialRecord {
    let mut secrets = secrets.unwrap_or_default();
    match (record.tokens.as_mut(), secrets.access_token.take()) {
        (Some(tokens), Some(access)) => {
            tokens.access_token = access;
            tokens.refresh_token = tokens.refresh_token.as_ref().and(secrets.refresh_token.take());
            tokens.dpop_key = tokens.dpop_key.as_ref().and(secrets.dpop_key.take());
        }
        (Some(_), None) => record.tokens = None,
        (None, _) => {}
    }
    if let Some(registration) = record.registration.as_mut()
        && registration.client_secret.is_some()
    {
        registration.client_secret = secrets.client_secret.take();
    }
    record
}

fn account(key: &CredentialKey) -> String {
    format!("{} {} {}", key.profile, key.server, key.issuer)
}

#[derive(Debug, Clone)]
pub struct KeyringStore {
    index: FileStore,
    keyring: Arc<keyring_core::CredentialStore>,
}

impl KeyringStore {
    /// Secrets in `keyring` ([`platform_keyring`], or `keyring_core::mock::Store` in tests); the rest in the
    /// index file at `index_path` (0600, like the file store).
    pub fn new(index_path: impl Into<PathBuf>, keyring: Arc<keyring_core::CredentialStore>) -> Self {
        Self { index: FileStore::new(index_path), keyring }
    }

    /// Where the index of a keychain store lives for a file store path: `credentials.json` →
    /// `credentials.keyring.json`, so the two never read each other's documents.
    pub fn index_path_for(store_path: &std::path::Path) -> PathBuf {
        store_path.with_extension("keyring.json")
    }

    fn entry(&self, key: &CredentialKey) -> Result<Entry, StoreError> {
        Entry::new_in_store(&self.keyring, SERVICE, &account(key)).map_err(|e| keyring_error("lookup", e))
    }

    fn read_secrets(&self, key: &CredentialKey) -> Result<Option<Secrets>, StoreError> {
        let bytes = match self.entry(key)?.get_secret() {
            Ok(bytes) => bytes,
            Err(KeyringError::NoEntry) => return Ok(None),
            Err(e) => return Err(keyring_error("read", e)),
        };
        serde_json::from_slice(&bytes).map(Some).map_err(|e| StoreError::CorruptRecord {
            server: key.server.to_string(),
            detail: format!("its keychain item is not superdynamic's ({e})"),
        })
    }

    fn write_secrets(&self, key: &CredentialKey, secrets: &Secrets) -> Result<(), StoreError> {
        let json = zeroize::Zeroizing::new(serde_json::to_vec(secrets).map_err(|e| StoreError::Task(e.to_string()))?);
        self.entry(key)?.set_secret(&json).map_err(|e| keyring_error("write", e))
    }

    fn delete_secrets(&self, key: &CredentialKey) -> Result<(), StoreError> {
        match self.entry(key)?.delete_credential() {
            Ok(()) | Err(KeyringError::NoEntry) => Ok(()),
            Err(e) => Err(keyring_error("delete", e)),
        }
    }

    fn load_blocking(&self, profile: &str, server: &ResourceUri) -> Result<Vec<CredentialRecord>, StoreError> {
        let records = self.index.read_document()?.records(profile, server);
        records
            .into_iter()
            .map(|r| {
                let secrets = self.read_secrets(&r.key())?;
                Ok(join(r, secrets))
            })
            .collect()
    }

    /// The keychain item is written before the index, under the index's lock: a crash in between leaves the
    /// old index with the new secrets, which `join` reads as the newest tokens.
    fn save_blocking(&self, record: CredentialRecord, expected: Expected) -> Result<Saved, StoreError> {
        let key = record.key();
        self.index.update(|data| {
            let stored = data.records(&key.profile, &key.server).into_iter().find(|r| r.has_key(&key));
            if !expected.admits(stored.map(|r| r.revision)) {
                return Ok(Saved::Conflict);
            }
            let (index_record, secrets) = split(record.clone());
            self.write_secrets(&key, &secrets)?;
            Ok(match data.save(index_record, expected) {
                Saved::Written(written) => {
                    Saved::Written(Box::new(CredentialRecord { revision: written.revision, ..record }))
                }
                Saved::Conflict => Saved::Conflict,
            })
        })
    }

    fn delete_blocking(&self, key: &CredentialKey, expected: Expected) -> Result<bool, StoreError> {
        self.index.update(|data| {
            let deleted = data.delete(key, expected);
            if deleted {
                self.delete_secrets(key)?;
            }
            Ok(deleted)
        })
    }

    fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&KeyringStore) -> Result<T, StoreError> + Send + 'static,
    ) -> StoreFuture<'static, T> {
        super::off_runtime(self, work)
    }
}

fn keyring_error(action: &'static str, e: KeyringError) -> StoreError {
    StoreError::Keyring { action, detail: e.to_string(), advice: ADVICE }
}

impl CredentialStore for KeyringStore {
    fn load<'a>(&'a self, profile: &'a str, server: &'a ResourceUri) -> StoreFuture<'a, Vec<CredentialRecord>> {
        let (profile, server) = (profile.to_owned(), server.clone());
        self.blocking(move |s| s.load_blocking(&profile, &server))
    }

    /// Records as the index has them: placeholders instead of secrets, so a listing prompts for nothing.
    fn list<'a>(&'a self, profile: Option<&'a str>) -> StoreFuture<'a, Vec<CredentialRecord>> {
        self.index.list(profile)
    }

    fn save(&self, record: CredentialRecord, expected: Expected) -> StoreFuture<'_, Saved> {
        self.blocking(move |s| s.save_blocking(record, expected))
    }

    fn delete<'a>(&'a self, key: &'a CredentialKey, expected: Expected) -> StoreFuture<'a, bool> {
        let key = key.clone();
        self.blocking(move |s| s.delete_blocking(&key, expected))
    }

    fn lock<'a>(&'a self, name: &'a str, wait: Duration) -> StoreFuture<'a, StoreLock> {
        self.index.lock(name, wait)
    }

    fn try_lock<'a>(&'a self, name: &'a str) -> StoreFuture<'a, Option<StoreLock>> {
        self.index.try_lock(name)
    }

    fn generation<'a>(&'a self, server: &'a ResourceUri) -> StoreFuture<'a, Option<Generation>> {
        self.index.generation(server)
    }

    fn remember_generation<'a>(&'a self, server: &'a ResourceUri, generation: Generation) -> StoreFuture<'a, ()> {
        self.index.remember_generation(server, generation)
    }

    fn describe(&self) -> String {
        format!("the OS keychain ({}), index {}", self.keyring.vendor(), self.index.path().display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::contract;

    fn store(dir: &std::path::Path, keyring: &Arc<keyring_core::mock::Store>) -> KeyringStore {
        let keyring: Arc<keyring_core::CredentialStore> = keyring.clone();
        KeyringStore::new(dir.join("credentials.keyring.json"), keyring)
    }

    #[tokio::test]
    async fn meets_the_store_contract() {
        let dir = tempfile::tempdir().unwrap();
        contract::exercise(&store(dir.path(), &keyring_core::mock::Store::new().unwrap())).await;
    }

    #[tokio::test]
    async fn two_handles_share_index_and_keychain() {
        let dir = tempfile::tempdir().unwrap();
        let keyring = keyring_core::mock::Store::new().unwrap();
        contract::shared(&store(dir.path(), &keyring), &store(dir.path(), &keyring)).await;
    }

    #[tokio::test]
    async fn no_secret_reaches_the_index_file() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path(), &keyring_core::mock::Store::new().unwrap());
        let server = contract::unique_server();
        s.save(contract::sample_record("default", &server, "https://as.example", "sekrit"), Expected::Absent)
            .await
            .unwrap();
        let index = std::fs::read_to_string(dir.path().join("credentials.keyring.json")).unwrap();
        assert!(!index.contains("sekrit"), "{index}");
        assert!(index.contains("client-of-default"), "non-secret metadata stays in the index");
        // A listing shows the shape (signed in, refreshable, confidential) without reading the keychain.
        let listed = s.list(None).await.unwrap();
        let tokens = listed[0].tokens.as_ref().unwrap();
        assert!(tokens.refresh_token.is_some() && tokens.access_token.secret().is_empty());
    }

    #[tokio::test]
    async fn a_keychain_item_removed_behind_our_back_means_signing_in_again() {
        let dir = tempfile::tempdir().unwrap();
        let keyring = keyring_core::mock::Store::new().unwrap();
        let s = store(dir.path(), &keyring);
        let server = contract::unique_server();
        let record = contract::sample_record("default", &server, "https://as.example", "1");
        s.save(record.clone(), Expected::Absent).await.unwrap();
        s.entry(&record.key()).unwrap().delete_credential().unwrap();
        let loaded = s.load("default", &server).await.unwrap();
        assert_eq!(loaded[0].tokens, None, "tokens without their secret are dropped");
        assert_eq!(loaded[0].registration.as_ref().unwrap().client_secret, None);
    }

    #[tokio::test]
    async fn keychain_failures_are_reported_and_the_index_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let keyring = keyring_core::mock::Store::new().unwrap();
        let s = store(dir.path(), &keyring);
        let server = contract::unique_server();
        let record = contract::sample_record("default", &server, "https://as.example", "1");
        let entry = s.entry(&record.key()).unwrap();
        let mock: &keyring_core::mock::Cred = entry.as_any().downcast_ref().unwrap();
        mock.set_error(KeyringError::NoStorageAccess(Box::new(std::io::Error::other("locked"))));
        let err = s.save(record, Expected::Absent).await.unwrap_err();
        assert!(err.to_string().contains("the OS keychain write failed"), "{err}");
        assert!(err.to_string().contains("--store file"), "{err}");
        assert!(s.load("default", &server).await.unwrap().is_empty(), "nothing half-written");
    }
}
