//! Refresh token families bound to a DPoP key (RFC 9449 §5: a public client's refresh tokens are bound to
//! the key its proofs were signed with, since it has no other credential).

use rusqlite::{OptionalExtension, params};

use super::{StorageError, Store};

impl Store {
    /// Binds `family_id` to the key thumbprint `jkt`; a family keeps the first key it was bound to.
    pub fn bind_family_to_key(&self, family_id: &str, jkt: &str) -> Result<(), StorageError> {
        self.conn()?.execute(
            "INSERT OR IGNORE INTO dpop_family_keys (family_id, jkt) VALUES (?1, ?2)",
            params![family_id, jkt],
        )?;
        Ok(())
    }

    /// The key thumbprint `family_id` is bound to, if any.
    pub fn family_key(&self, family_id: &str) -> Result<Option<String>, StorageError> {
        Ok(self
            .conn()?
            .query_row("SELECT jkt FROM dpop_family_keys WHERE family_id = ?1", params![family_id], |r| r.get(0))
            .optional()?)
    }
}
