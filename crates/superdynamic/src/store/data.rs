//! The store document the file, memory and keychain stores keep: every record, and the protocol generation each
//! server answered with. The compare-and-swap rules live here once for all three.

use super::{CredentialKey, CredentialRecord, Expected, FORMAT_VERSION, Saved};
use crate::resource::ResourceUri;
use crate::transport::Generation;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreData {
    pub version: u32,
    #[serde(default)]
    pub credentials: Vec<CredentialRecord>,
    /// The MCP protocol generation each server answered with (keyed by server URL), so a later run goes
    /// straight to it (MCP 2026-07-28 §Versioning: dual-era clients cache the result).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub generations: BTreeMap<String, Generation>,
}

impl Default for StoreData {
    fn default() -> Self {
        Self { version: FORMAT_VERSION, credentials: Vec::new(), generations: BTreeMap::new() }
    }
}

impl StoreData {
    pub fn records(&self, profile: &str, server: &ResourceUri) -> Vec<CredentialRecord> {
        self.credentials.iter().filter(|r| r.matches(profile, server)).cloned().collect()
    }

    pub fn list(&self, profile: Option<&str>) -> Vec<CredentialRecord> {
        self.credentials.iter().filter(|r| profile.is_none_or(|p| r.profile == p)).cloned().collect()
    }

    fn position(&self, key: &CredentialKey) -> Option<usize> {
        self.credentials.iter().position(|r| r.has_key(key))
    }

    /// Compare-and-swap write of `record` under its key; the stored copy gets the next revision.
    pub fn save(&mut self, mut record: CredentialRecord, expected: Expected) -> Saved {
        let at = self.position(&record.key());
        let stored = at.map(|i| self.credentials[i].revision);
        if !expected.admits(stored) {
            return Saved::Conflict;
        }
        record.revision = stored.unwrap_or(0) + 1;
        match at {
            Some(i) => self.credentials[i] = record.clone(),
            None => self.credentials.push(record.clone()),
        }
        Saved::Written(Box::new(record))
    }

    /// Compare-and-swap delete; whether a record was removed.
    pub fn delete(&mut self, key: &CredentialKey, expected: Expected) -> bool {
        match self.position(key) {
            Some(i) if expected.admits(Some(self.credentials[i].revision)) => {
                self.credentials.remove(i);
                true
            }
            _ => false,
        }
    }

    /// Records the generation; whether anything changed.
    pub fn remember_generation(&mut self, server: &ResourceUri, generation: Generation) -> bool {
        self.generations.insert(server.to_string(), generation) != Some(generation)
    }
}
