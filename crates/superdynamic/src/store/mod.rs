//! Where credentials live between runs: one record per (profile, MCP server, authorization server issuer),
//! holding the validated authorization server metadata, the client registration and the tokens.
//!
//! [`CredentialStore`] is the one interface; [`FileStore`] (a private JSON file), [`MemoryStore`] (tests,
//! embedding), `KeyringStore` (secrets in the OS keychain, feature `keyring`) and `PostgresStore` (a fleet's
//! shared database, feature `postgres`) implement it. Writes are compare-and-swap on a record's revision, so a
//! process never overwrites a newer token set than the one it read; refreshes hold a lock scoped to one
//! credential, so a rotating refresh token is spent once however many processes share the store.

mod data;
mod file;
mod lock;
mod memory;

#[cfg(feature = "keyring")]
mod keyring;
#[cfg(feature = "postgres")]
mod postgres;

pub use data::StoreData;
pub use file::{FileStore, create_private_dir};
#[cfg(feature = "keyring")]
pub use keyring::{KeyringStore, platform_keyring};
pub use memory::MemoryStore;
#[cfg(feature = "postgres")]
pub use postgres::PostgresStore;

use crate::discovery::AuthorizationServerMetadata;
use crate::registration::ClientRegistration;
use crate::resource::{Issuer, ResourceUri};
use crate::token::TokenSet;
use crate::transport::Generation;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

pub const DEFAULT_PROFILE: &str = "default";
const FORMAT_VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "the credential store {path} is unreadable ({detail}). It was left untouched: repair it, or move it \
         aside to start afresh (you will need to sign in again)"
    )]
    Corrupt { path: PathBuf, detail: String },
    #[error(
        "the credential store {path} has format version {found}; this superdynamic reads version {FORMAT_VERSION}. Upgrade superdynamic"
    )]
    UnsupportedVersion { path: PathBuf, found: u32 },
    #[error("could not {action} {path}: {source}")]
    Io { action: &'static str, path: PathBuf, source: std::io::Error },
    #[error(
        "another superdynamic process has held the store lock {what} for over {seconds} s; try again (a lock is \
         released as soon as the process holding it finishes or dies)"
    )]
    LockTimeout { what: String, seconds: u64 },
    #[error("no home directory to keep credentials in; set --store-path or SUPERDYNAMIC_STORE_PATH")]
    NoHome,
    #[error("the OS keychain {action} failed: {detail}. {advice}")]
    Keyring { action: &'static str, detail: String, advice: &'static str },
    #[error("the PostgreSQL credential store ({target}) {action} failed: {detail}")]
    Postgres { target: String, action: &'static str, detail: String },
    #[error("a stored record for {server} is unreadable ({detail}); it was left untouched")]
    CorruptRecord { server: String, detail: String },
    #[error("the credential store's background task failed: {0}")]
    Task(String),
}

/// Identifies one credential: a profile (or tenant), an MCP server and the authorization server it trusts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CredentialKey {
    pub profile: String,
    pub server: ResourceUri,
    pub issuer: Issuer,
}

/// Everything known about one MCP server at one authorization server, for one profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialRecord {
    pub profile: String,
    /// The MCP server URL the user gave (canonical).
    pub server: ResourceUri,
    /// The authorization server the registration and tokens belong to (MCP 2026-07-28 §Authorization Server Binding).
    pub issuer: Issuer,
    /// The `resource` parameter used with this authorization server (RFC 8707).
    pub resource: ResourceUri,
    pub authorization_server: AuthorizationServerMetadata,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration: Option<ClientRegistration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<TokenSet>,
    pub updated_at: u64,
    /// Bumped by the store on every write; what compare-and-swap compares. 0 for a record not yet stored.
    #[serde(default)]
    pub revision: u64,
}

impl CredentialRecord {
    pub fn matches(&self, profile: &str, server: &ResourceUri) -> bool {
        self.profile == profile && self.server == *server
    }

    pub fn key(&self) -> CredentialKey {
        CredentialKey { profile: self.profile.clone(), server: self.server.clone(), issuer: self.issuer.clone() }
    }

    pub fn has_key(&self, key: &CredentialKey) -> bool {
        self.matches(&key.profile, &key.server) && self.issuer == key.issuer
    }
}

/// The record in use for a server among those [`CredentialStore::load`] returned: the most recently updated one
/// (a server that moved to a new authorization server has a newer record for it).
pub fn current(records: Vec<CredentialRecord>) -> Option<CredentialRecord> {
    records.into_iter().max_by_key(|r| r.updated_at)
}

/// The condition of a compare-and-swap write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// Write whatever is stored (a fresh sign-in replaces everything).
    Any,
    /// Write only if nothing is stored under the key.
    Absent,
    /// Write only if the stored record still has this revision (it is what the caller read).
    Revision(u64),
}

impl Expected {
    /// Whether a stored revision (`None`: nothing stored) satisfies the condition.
    pub fn admits(self, stored: Option<u64>) -> bool {
        match self {
            Expected::Any => true,
            Expected::Absent => stored.is_none(),
            Expected::Revision(r) => stored == Some(r),
        }
    }
}

/// The result of [`CredentialStore::save`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Saved {
    /// Written; the record as stored, with its new revision.
    Written(Box<CredentialRecord>),
    /// Another writer got there first: nothing was written.
    Conflict,
}

/// A held store lock; dropping it releases the lock (so does the process ending).
pub struct StoreLock {
    _guard: Box<dyn Send + Sync>,
}

impl StoreLock {
    pub fn new(guard: impl Send + Sync + 'static) -> Self {
        Self { _guard: Box::new(guard) }
    }
}

impl fmt::Debug for StoreLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StoreLock")
    }
}

/// What every store operation returns: a boxed future, so stores can be chosen at run time (`dyn`).
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// A place to keep credentials. Implementations must make [`CredentialStore::save`] and
/// [`CredentialStore::delete`] atomic with their condition, and [`CredentialStore::lock`] exclusive across
/// every process that shares the store.
pub trait CredentialStore: Send + Sync + fmt::Debug {
    /// The records of one profile for one MCP server (one per authorization server).
    fn load<'a>(&'a self, profile: &'a str, server: &'a ResourceUri) -> StoreFuture<'a, Vec<CredentialRecord>>;

    /// Every record, or those of one profile; for listings such as `superdynamic clients`.
    fn list<'a>(&'a self, profile: Option<&'a str>) -> StoreFuture<'a, Vec<CredentialRecord>>;

    /// Writes `record` under its key if the stored record satisfies `expected` (compare-and-swap).
    fn save(&self, record: CredentialRecord, expected: Expected) -> StoreFuture<'_, Saved>;

    /// Deletes the record under `key` if it satisfies `expected`; whether one was deleted.
    fn delete<'a>(&'a self, key: &'a CredentialKey, expected: Expected) -> StoreFuture<'a, bool>;

    /// Takes the lock `name` (one credential's refresh, one server's sign-in), waiting at most `wait`.
    fn lock<'a>(&'a self, name: &'a str, wait: Duration) -> StoreFuture<'a, StoreLock>;

    /// Takes the lock `name` if it is free; `None` when another holder has it.
    fn try_lock<'a>(&'a self, name: &'a str) -> StoreFuture<'a, Option<StoreLock>>;

    /// The MCP protocol generation `server` answered with last time (MCP 2026-07-28 §Versioning: dual-era
    /// clients cache the result).
    fn generation<'a>(&'a self, server: &'a ResourceUri) -> StoreFuture<'a, Option<Generation>>;

    fn remember_generation<'a>(&'a self, server: &'a ResourceUri, generation: Generation) -> StoreFuture<'a, ()>;

    /// Where the credentials are, for people: a path, a keychain, a database (never a password).
    fn describe(&self) -> String;
}

impl<S: CredentialStore + ?Sized> CredentialStore for Arc<S> {
    fn load<'a>(&'a self, profile: &'a str, server: &'a ResourceUri) -> StoreFuture<'a, Vec<CredentialRecord>> {
        (**self).load(profile, server)
    }
    fn list<'a>(&'a self, profile: Option<&'a str>) -> StoreFuture<'a, Vec<CredentialRecord>> {
        (**self).list(profile)
    }
    fn save(&self, record: CredentialRecord, expected: Expected) -> StoreFuture<'_, Saved> {
        (**self).save(record, expected)
    }
    fn delete<'a>(&'a self, key: &'a CredentialKey, expected: Expected) -> StoreFuture<'a, bool> {
        (**self).delete(key, expected)
    }
    fn lock<'a>(&'a self, name: &'a str, wait: Duration) -> StoreFuture<'a, StoreLock> {
        (**self).lock(name, wait)
    }
    fn try_lock<'a>(&'a self, name: &'a str) -> StoreFuture<'a, Option<StoreLock>> {
        (**self).try_lock(name)
    }
    fn generation<'a>(&'a self, server: &'a ResourceUri) -> StoreFuture<'a, Option<Generation>> {
        (**self).generation(server)
    }
    fn remember_generation<'a>(&'a self, server: &'a ResourceUri, generation: Generation) -> StoreFuture<'a, ()> {
        (**self).remember_generation(server, generation)
    }
    fn describe(&self) -> String {
        (**self).describe()
    }
}

/// Runs a store's blocking work (file I/O with fsync, keychain calls) on tokio's blocking pool, off the async
/// workers, with its own handle on the store.
fn off_runtime<S, T>(
    store: &S,
    work: impl FnOnce(&S) -> Result<T, StoreError> + Send + 'static,
) -> StoreFuture<'static, T>
where
    S: Clone + Send + 'static,
    T: Send + 'static,
{
    let store = store.clone();
    Box::pin(async move {
        tokio::task::spawn_blocking(move || work(&store)).await.map_err(|e| StoreError::Task(e.to_string()))?
    })
}

/// Lock names: the refresh of one credential, the sign-in of one profile on one server.
pub fn refresh_lock_name(key: &CredentialKey) -> String {
    format!("refresh\n{}\n{}\n{}", key.profile, key.server, key.issuer)
}

pub fn sign_in_lock_name(profile: &str, server: &ResourceUri) -> String {
    format!("sign-in\n{profile}\n{server}")
}

#[doc(hidden)]
pub mod contract;
