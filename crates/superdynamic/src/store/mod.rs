//! Where credentials live between runs: one record per (profile, MCP server, authorization server issuer),
//! holding the validated authorization server metadata, the client registration and the tokens.

mod file;
mod lock;

pub use file::FileStore;
pub use lock::NamedLock;

use crate::discovery::AuthorizationServerMetadata;
use crate::registration::ClientRegistration;
use crate::resource::{Issuer, ResourceUri};
use crate::token::TokenSet;
use crate::transport::Generation;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

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
        "another superdynamic process has held the store lock {path} for over {seconds} s; try again, or remove the lock file if no other process is running"
    )]
    LockTimeout { path: PathBuf, seconds: u64 },
    #[error("no home directory to keep credentials in; set --store-path or SUPERDYNAMIC_STORE_PATH")]
    NoHome,
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
}

impl CredentialRecord {
    pub fn matches(&self, profile: &str, server: &ResourceUri) -> bool {
        self.profile == profile && self.server == *server
    }
}

/// The whole store document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreData {
    pub version: u32,
    #[serde(default)]
    pub credentials: Vec<CredentialRecord>,
    /// The MCP protocol generation each server answered with (keyed by server URL), so a later run goes
    /// straight to it (MCP 2026-07-28 §Versioning: dual-era clients cache the result).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub generations: std::collections::BTreeMap<String, Generation>,
}

impl StoreData {
    /// The record in use for a server: the most recently updated one (a server that moved to a new
    /// authorization server has a newer record for it).
    pub fn current(&self, profile: &str, server: &ResourceUri) -> Option<&CredentialRecord> {
        self.credentials.iter().filter(|r| r.matches(profile, server)).max_by_key(|r| r.updated_at)
    }

    pub fn find(&self, profile: &str, server: &ResourceUri, issuer: &Issuer) -> Option<&CredentialRecord> {
        self.credentials.iter().find(|r| r.matches(profile, server) && r.issuer == *issuer)
    }

    /// Inserts or replaces the record with the same (profile, server, issuer).
    pub fn upsert(&mut self, record: CredentialRecord) {
        self.credentials.retain(|r| !(r.matches(&record.profile, &record.server) && r.issuer == record.issuer));
        self.credentials.push(record);
    }

    /// Removes every record for (profile, server); returns how many.
    pub fn remove(&mut self, profile: &str, server: &ResourceUri) -> usize {
        let before = self.credentials.len();
        self.credentials.retain(|r| !r.matches(profile, server));
        before - self.credentials.len()
    }
}
