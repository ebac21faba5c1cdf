//! Signing out: revocation at the authorization server (RFC 7009), then the local credentials.

use super::McpClient;
use crate::error::Error;
use crate::store::{CredentialRecord, Expected};
use crate::token::{self, TokenError, now_unix};

/// The result of [`McpClient::logout`].
#[derive(Debug, Default)]
pub struct LogoutOutcome {
    /// Whether any local credentials existed.
    pub removed: bool,
    /// Token types revoked at the authorization server.
    pub revoked: Vec<&'static str>,
    /// Revocations that failed (the local credentials were deleted anyway).
    pub revocation_errors: Vec<String>,
}

impl McpClient {
    /// Signs out: revokes the refresh and access tokens at the authorization server when it offers
    /// `revocation_endpoint` (RFC 7009), then deletes the local credentials (keeping the client registration
    /// when `keep_registration`). A failed revocation is reported, and the local credentials go anyway.
    pub async fn logout(&self, keep_registration: bool) -> Result<LogoutOutcome, Error> {
        let records = self.options.store.load(&self.options.profile, &self.server).await?;
        let mut outcome = LogoutOutcome { removed: !records.is_empty(), ..LogoutOutcome::default() };
        for record in &records {
            let (Some(tokens), Some(registration), Some(endpoint)) =
                (&record.tokens, &record.registration, &record.authorization_server.revocation_endpoint)
            else {
                continue;
            };
            let client = self.token_client(registration, &record.issuer)?;
            // The refresh token first: revoking it also ends the grant its access tokens came from (RFC 7009 §2.1).
            let mut pending: Vec<(&str, &str)> = Vec::new();
            if let Some(rt) = &tokens.refresh_token {
                pending.push((rt.secret(), "refresh_token"));
            }
            pending.push((tokens.access_token.secret(), "access_token"));
            let mut unreachable = false;
            for (token, hint) in pending {
                if unreachable {
                    // One wait for a server that does not answer is enough.
                    outcome
                        .revocation_errors
                        .push(format!("{hint}: not tried, the revocation endpoint did not answer"));
                    continue;
                }
                match token::revoke(&self.oauth_http, endpoint, &client, token, hint).await {
                    Ok(()) => outcome.revoked.push(hint),
                    Err(e) => {
                        unreachable = matches!(&e, TokenError::Http(h) if h.is_network());
                        outcome.revocation_errors.push(format!("{hint}: {e}"));
                    }
                }
            }
        }
        for record in records {
            if keep_registration {
                let revision = record.revision;
                let signed_out = CredentialRecord { tokens: None, updated_at: now_unix(), ..record };
                self.options.store.save(signed_out, Expected::Revision(revision)).await?;
            } else {
                self.options.store.delete(&record.key(), Expected::Any).await?;
            }
        }
        Ok(outcome)
    }
}
