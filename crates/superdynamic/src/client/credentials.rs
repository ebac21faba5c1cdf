//! The stored record of this client's server: reading it, and writing it back compare-and-swap, so a newer
//! record another process wrote meanwhile is never overwritten.

use super::McpClient;
use super::observer::Event;
use crate::authorization::AuthorizationError;
use crate::discovery::Discovery;
use crate::error::Error;
use crate::registration::{ClientRegistration, RegistrationSource};
use crate::resource::Issuer;
use crate::store::{self, CredentialRecord, Expected, Saved};
use crate::token::{TokenSet, now_unix};

impl McpClient {
    /// The stored record for this server, if any.
    pub async fn credentials(&self) -> Result<Option<CredentialRecord>, Error> {
        Ok(store::current(self.options.store.load(&self.options.profile, &self.server).await?))
    }

    /// The stored record for this server at `issuer`, if any.
    pub(super) async fn stored_for(&self, issuer: &Issuer) -> Result<Option<CredentialRecord>, Error> {
        let records = self.options.store.load(&self.options.profile, &self.server).await?;
        Ok(records.into_iter().find(|r| r.issuer == *issuer))
    }

    /// Stores the result of a sign-in as the current record for this server and issuer.
    pub(super) async fn save_sign_in(
        &self,
        discovery: &Discovery,
        registration: ClientRegistration,
        tokens: TokenSet,
    ) -> Result<CredentialRecord, Error> {
        let record = CredentialRecord {
            profile: self.options.profile.clone(),
            server: self.server.clone(),
            issuer: discovery.issuer.clone(),
            resource: discovery.resource.clone(),
            authorization_server: discovery.authorization_server.clone(),
            registration: Some(registration),
            tokens: Some(tokens),
            updated_at: now_unix(),
            revision: 0,
        };
        match self.options.store.save(record.clone(), Expected::Any).await? {
            Saved::Written(stored) => Ok(*stored),
            Saved::Conflict => Ok(record), // `Any` never conflicts
        }
    }

    /// Replaces the tokens of `record`, only if the record is still the one read (compare-and-swap): a newer
    /// token set written meanwhile by another process is never overwritten.
    pub(super) async fn save_tokens(&self, record: &CredentialRecord, new: Option<TokenSet>) -> Result<(), Error> {
        let updated = CredentialRecord { tokens: new, updated_at: now_unix(), ..record.clone() };
        if self.options.store.save(updated, Expected::Revision(record.revision)).await? == Saved::Conflict {
            tracing::debug!(server = %record.server, "credentials changed meanwhile; kept the newer ones");
        }
        Ok(())
    }

    /// The authorization server no longer knows this client (`invalid_client`, a redirect URI it refuses):
    /// forget the registration and its tokens, if they are still the stored ones, so the next sign-in registers
    /// again. Pre-registered clients are the user's to fix and are kept.
    pub(super) async fn discard_registration(
        &self,
        record: &CredentialRecord,
        registration: &ClientRegistration,
    ) -> Result<(), Error> {
        if registration.source == RegistrationSource::PreRegistered {
            return Ok(());
        }
        self.observe(Event::RegistrationDiscarded { client_id: &registration.client_id });
        if let Some(stored) = self.stored_for(&record.issuer).await?
            && stored.registration.as_ref().is_some_and(|g| g.client_id == registration.client_id)
        {
            let revision = stored.revision;
            let forgotten = CredentialRecord { registration: None, tokens: None, updated_at: now_unix(), ..stored };
            // A conflict means another process already replaced the registration: nothing left to forget.
            self.options.store.save(forgotten, Expected::Revision(revision)).await?;
        }
        Ok(())
    }

    /// The server refused a stored registration: forget it (so the next attempt registers anew) and say so.
    pub(super) async fn registration_rejected(
        &self,
        stored: Option<&CredentialRecord>,
        registration: &ClientRegistration,
    ) -> Result<Error, Error> {
        if let Some(record) = stored {
            self.discard_registration(record, registration).await?;
        }
        Ok(AuthorizationError::RegistrationRejected.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::ClientOptions;

    #[tokio::test]
    async fn invalidation_removes_only_the_token_generation_that_was_rejected() {
        use crate::store::{MemoryStore, contract};
        let c = McpClient::new("https://mcp.example.com/mcp", ClientOptions::new(MemoryStore::new())).unwrap();
        let mut record = contract::sample_record("default", &c.server, "https://as.example", "older");
        record = match c.options.store.save(record, Expected::Absent).await.unwrap() {
            Saved::Written(r) => *r,
            Saved::Conflict => panic!("empty store"),
        };
        // Another process replaces "older" with "newer" meanwhile.
        let newer = CredentialRecord {
            tokens: contract::sample_record("default", &c.server, "https://as.example", "newer").tokens,
            ..record.clone()
        };
        c.options.store.save(newer.clone(), Expected::Revision(record.revision)).await.unwrap();
        // Rejecting "older" (the record as read before) must not remove "newer".
        c.save_tokens(&record, None).await.unwrap();
        let stored = c.credentials().await.unwrap().unwrap();
        assert_eq!(stored.tokens, newer.tokens);
        c.save_tokens(&stored, None).await.unwrap();
        assert_eq!(c.credentials().await.unwrap().unwrap().tokens, None);
    }
}
