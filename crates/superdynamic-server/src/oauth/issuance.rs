//! Issuing tokens at `/token`, whatever the grant: the access token (an RFC 9068 JWT, bound to a DPoP key when
//! the request had a proof, RFC 9449 §6.1) and, where the client may refresh, a new rotating refresh token in
//! the grant's family (OAuth 2.1 §4.3.1).

use serde::Serialize;

use crate::oauth::error_response::TokenError;
use crate::oauth::jwt::{self, AccessClaims};
use crate::oauth::secrets::{hash_secret, random_token};
use crate::oauth::state::OAuthState;
use crate::scope::ScopeSet;
use crate::storage::{RefreshRecord, RegisteredClient, now};

/// The successful token response (RFC 6749 §5.1).
#[derive(Debug, Serialize)]
pub(crate) struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    pub scope: String,
}

/// Mints an access token with `scope` and, if the client may refresh, a new
/// refresh token in `base`'s family carrying the full original scope.
pub(crate) fn issue(
    state: &OAuthState,
    client: &RegisteredClient,
    base: &RefreshRecord,
    scope: &ScopeSet,
    jkt: Option<&str>,
) -> Result<TokenResponse, TokenError> {
    issue_with(state, client, base, scope, true, jkt)
}

pub(crate) fn issue_with(
    state: &OAuthState,
    client: &RegisteredClient,
    base: &RefreshRecord,
    scope: &ScopeSet,
    may_refresh: bool,
    jkt: Option<&str>,
) -> Result<TokenResponse, TokenError> {
    let server = |e: &dyn std::fmt::Display| TokenError::Server(e.to_string());
    let issued_at = now();
    let ttl = state.access_token_ttl.as_secs();
    let claims = AccessClaims {
        iss: state.issuer.clone(),
        sub: base.subject.clone(),
        aud: base.resource.clone(),
        exp: issued_at.saturating_add(i64::try_from(ttl).unwrap_or(i64::MAX)),
        iat: issued_at,
        jti: random_token().map_err(|e| server(&e))?,
        client_id: client.client_id.clone(),
        scope: scope.to_scope_string(),
        // RFC 9449 §6.1: bound to the key of the request's proof.
        cnf: jkt.map(|jkt| jwt::Confirmation { jkt: jkt.to_owned() }),
    };
    let access_token = jwt::mint(&state.signing_key, &claims).map_err(|e| server(&e))?;

    let refresh_token = if may_refresh && client.metadata.allows_grant("refresh_token") {
        let token = random_token().map_err(|e| server(&e))?;
        let refresh_ttl = i64::try_from(state.refresh_token_ttl.as_secs()).unwrap_or(i64::MAX);
        let record = RefreshRecord {
            expires_at: issued_at.saturating_add(refresh_ttl),
            used: false,
            revoked: false,
            ..base.clone()
        };
        state.store.insert_refresh_token(&hash_secret(&token), &record).map_err(|e| server(&e))?;
        // RFC 9449 §5: a public client's refresh tokens are bound to its key (a confidential client's are
        // already bound to its credentials).
        if let Some(jkt) = jkt
            && !client.metadata.token_endpoint_auth_method.is_confidential()
        {
            state.store.bind_family_to_key(&record.family_id, jkt).map_err(|e| server(&e))?;
        }
        Some(token)
    } else {
        None
    };

    let token_type = if jkt.is_some() { "DPoP" } else { "Bearer" };
    Ok(TokenResponse { access_token, token_type, expires_in: ttl, refresh_token, scope: claims.scope })
}
