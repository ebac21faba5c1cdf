//! Taking over a sign-in made by another client (an import): the registration and tokens are bound to the
//! authorization server discovery finds for this server now (MCP 2026-07-28 §Authorization Server Binding),
//! since the other client did not record which one issued them, and stored like a sign-in of our own.

use super::McpClient;
use crate::error::Error;
use crate::registration::ClientRegistration;
use crate::store::{self, CredentialRecord, Expected, Saved};
use crate::token::{TokenSet, now_unix};

/// How [`McpClient::adopt`] treats what is stored already, and whether it stores at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AdoptOptions {
    /// Replace a record already stored for this server (otherwise it is kept and nothing is written).
    pub replace: bool,
    /// Do everything but write to the store.
    pub dry_run: bool,
}

/// The result of [`McpClient::adopt`].
#[derive(Debug)]
pub enum AdoptOutcome {
    /// The record as stored (or, for a dry run, as it would be).
    Adopted(Box<CredentialRecord>),
    /// A record for this server is stored already and was kept.
    AlreadyStored(Box<CredentialRecord>),
    /// The server answered without asking for authorization: there is nothing to sign in to.
    NotRequired,
}

impl McpClient {
    /// Stores `registration` and `tokens`, obtained elsewhere for this server, after running discovery to learn
    /// the authorization server they belong to.
    pub async fn adopt(
        &self,
        registration: ClientRegistration,
        tokens: Option<TokenSet>,
        options: AdoptOptions,
    ) -> Result<AdoptOutcome, Error> {
        if !options.replace
            && let Some(existing) = self.credentials().await?
        {
            return Ok(AdoptOutcome::AlreadyStored(Box::new(existing)));
        }
        let Some(challenge) = self.probe().await? else {
            return Ok(AdoptOutcome::NotRequired);
        };
        let discovery = self.discover(challenge.as_ref()).await?;
        let record = CredentialRecord {
            profile: self.options.profile.clone(),
            server: self.server.clone(),
            issuer: discovery.issuer.clone(),
            resource: discovery.resource.clone(),
            authorization_server: discovery.authorization_server.clone(),
            registration: Some(registration),
            tokens,
            updated_at: now_unix(),
            revision: 0,
        };
        if options.dry_run {
            return Ok(AdoptOutcome::Adopted(Box::new(record)));
        }
        let expected = if options.replace { Expected::Any } else { Expected::Absent };
        match self.options.store.save(record, expected).await? {
            Saved::Written(stored) => Ok(AdoptOutcome::Adopted(stored)),
            // Another process stored a record for this server and issuer meanwhile: keep it.
            Saved::Conflict => {
                match store::current(self.options.store.load(&self.options.profile, &self.server).await?) {
                    Some(existing) => Ok(AdoptOutcome::AlreadyStored(Box::new(existing))),
                    None => Err(Error::NotSignedIn { server: self.server.to_string() }),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::ClientOptions;
    use crate::store::{CredentialStore, MemoryStore, contract};

    #[tokio::test]
    async fn a_stored_record_is_kept_without_asking_the_server() {
        let store = MemoryStore::new();
        // Nothing listens on port 9: reaching the server would fail, so keeping the record must not need it.
        let client = McpClient::new("http://127.0.0.1:9/mcp", ClientOptions::new(store.clone())).unwrap();
        let stored = contract::sample_record("default", client.server(), "https://as.example", "ours");
        store.save(stored.clone(), Expected::Absent).await.unwrap();
        let theirs = ClientRegistration::metadata_document("https://other.example/client.json");
        let outcome = client.adopt(theirs, None, AdoptOptions::default()).await.unwrap();
        let AdoptOutcome::AlreadyStored(kept) = outcome else { panic!("expected the stored record kept: {outcome:?}") };
        assert_eq!(kept.tokens, stored.tokens);
        let all = store.list(None).await.unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].registration, stored.registration);
    }
}
