//! The access tokens revoked at `/revoke` (RFC 7009), which the resource server's bearer check consults.

use std::collections::HashMap;
use std::sync::RwLock;

use crate::storage::{StorageError, Store};

/// `jti` → `exp` of revoked, not yet expired access tokens. Loaded from the
/// database at start and updated on every revocation, so the bearer check is
/// one hash-map lookup.
#[derive(Debug, Default)]
pub struct RevokedAccessTokens {
    jtis: RwLock<HashMap<String, i64>>,
}

impl RevokedAccessTokens {
    pub fn load(store: &Store) -> Result<Self, StorageError> {
        let jtis = store.revoked_access_tokens()?.into_iter().collect();
        Ok(Self { jtis: RwLock::new(jtis) })
    }

    pub fn insert(&self, jti: &str, expires_at: i64) {
        // A poisoned lock still holds a usable map: keep revoking.
        let mut jtis = self.jtis.write().unwrap_or_else(|e| e.into_inner());
        jtis.insert(jti.to_owned(), expires_at);
    }

    pub fn contains(&self, jti: &str) -> bool {
        let jtis = self.jtis.read().unwrap_or_else(|e| e.into_inner());
        jtis.contains_key(jti)
    }

    /// Forgets tokens that have expired anyway (they fail verification).
    pub fn prune(&self, now: i64) {
        let mut jtis = self.jtis.write().unwrap_or_else(|e| e.into_inner());
        jtis.retain(|_, exp| *exp >= now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::now;

    #[test]
    fn revoked_set_prunes_expired_entries() {
        let set = RevokedAccessTokens::default();
        set.insert("a", 100);
        set.insert("b", 300);
        assert!(set.contains("a") && set.contains("b"));
        set.prune(200);
        assert!(!set.contains("a"));
        assert!(set.contains("b"));
    }

    #[test]
    fn loads_unexpired_entries_from_the_store() {
        let store = Store::open_memory().unwrap();
        store.insert_revoked_access_token("live", now() + 60).unwrap();
        store.insert_revoked_access_token("dead", now() - 60).unwrap();
        let set = RevokedAccessTokens::load(&store).unwrap();
        assert!(set.contains("live"));
        assert!(!set.contains("dead"));
    }
}
