//! Refreshing a token set: once per process (a mutex) and across processes (the store's lock for that one
//! credential), so a rotating refresh token is spent once.

use super::McpClient;
use super::observer::Event;
use super::options::Grant;
use crate::error::Error;
use crate::store::{self, CredentialRecord};
use crate::token::{self, TokenSet, now_unix};
use std::time::Duration;

/// How long a refresh waits for another process's refresh of the same credential.
const REFRESH_LOCK_WAIT: Duration = Duration::from_secs(30);

impl McpClient {
    /// Refreshes the stored tokens now.
    pub async fn refresh(&self) -> Result<TokenSet, Error> {
        let record = self.credentials().await?.ok_or_else(|| self.not_signed_in())?;
        let tokens = record.tokens.clone().ok_or_else(|| self.not_signed_in())?;
        self.refresh_record(&record, &tokens).await
    }

    /// Refreshes `seen` for `record`, unless another caller already replaced it. A refresh token rejected with
    /// `invalid_grant` is removed, but only if it is still the one stored (compare-and-swap).
    pub(super) async fn refresh_record(&self, record: &CredentialRecord, seen: &TokenSet) -> Result<TokenSet, Error> {
        let _single_flight = self.refresh_lock.lock().await;
        let store = &self.options.store;
        // Across processes sharing the store: hold the lock around read, refresh and write, so a rotating
        // refresh token is spent once; whoever waited then finds the new token below.
        let key = record.key();
        let _cross_process = store.lock(&store::refresh_lock_name(&key), REFRESH_LOCK_WAIT).await?;
        let Some(current) = self.stored_for(&key.issuer).await? else {
            return Err(self.not_signed_in());
        };
        match &current.tokens {
            Some(t) if t.access_token != seen.access_token && !t.needs_refresh(now_unix()) => {
                return Ok(t.clone());
            }
            None => return Err(self.not_signed_in()),
            _ => {}
        }
        let registration = current.registration.clone().ok_or_else(|| self.not_signed_in())?;
        let stored = current.tokens.clone().ok_or_else(|| self.not_signed_in())?;
        if stored.refresh_token.is_none() && self.options.grant.uses_assertion() {
            return self.renew_with_assertion(&current, &registration, &stored).await;
        }
        let mut client = self.token_client(&registration, &current.issuer)?;
        // A refresh keeps the key the tokens are bound to (RFC 9449 §5); tokens without one stay Bearer.
        client.dpop = self.refresh_prover(&stored)?;
        let endpoint = &current.authorization_server.token_endpoint;
        let result = if stored.refresh_token.is_none() && self.options.grant == Grant::ClientCredentials {
            // Client credentials tokens are renewed by asking again (OAuth 2.1 §4.2: no refresh token).
            token::client_credentials(&self.oauth_http, endpoint, &client, stored.scope.as_deref(), &current.resource)
                .await
        } else {
            token::refresh(&self.oauth_http, endpoint, &client, &stored, &current.resource).await
        };
        match result {
            Ok(fresh) => {
                // Persist the rotated refresh token before the new access token is used.
                self.save_tokens(&current, Some(fresh.clone())).await?;
                self.observe(Event::Refreshed { tokens: &fresh });
                Ok(fresh)
            }
            Err(e) => {
                match e.oauth_code() {
                    Some("invalid_grant") => self.save_tokens(&current, None).await?,
                    Some("invalid_client") => self.discard_registration(&current, &registration).await?,
                    _ => {}
                }
                Err(e.into())
            }
        }
    }
}
