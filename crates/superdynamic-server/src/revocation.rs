//! `POST /revoke`: OAuth 2.0 Token Revocation (RFC 7009), and the set of
//! revoked access tokens the resource server consults.
//!
//! - A refresh token revokes its whole family (every token rotated from the
//!   same authorization), so nothing minted from it can be refreshed again.
//! - An access token (an ES256 JWT this server signed) has its `jti` recorded
//!   until it expires; `/mcp` then answers 401 `invalid_token`.
//! - RFC 7009 §2.2: unknown, invalid, expired or foreign tokens (issued to
//!   another client) are answered 200 and left alone; `token_type_hint` only
//!   decides which kind is tried first (§2.1: an unknown hint is ignored).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::client_auth;
use crate::secrets::hash_secret;
use crate::server::AuthServerState;
use crate::storage::{RegisteredClient, StorageError, Store, now};
use crate::token::{TokenError, authorization_header, no_store, parse_form};

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

pub async fn revoke(State(state): State<Arc<AuthServerState>>, headers: HeaderMap, body: Bytes) -> Response {
    match handle(&state, &headers, &body).await {
        Ok(()) => {
            let mut response = StatusCode::OK.into_response();
            no_store(&mut response);
            response
        }
        Err(e) => {
            tracing::info!(error = e.code(), "revocation request refused");
            e.into_response()
        }
    }
}

/// Tries to revoke a token as one kind; `Ok(true)` if it was of that kind.
type Revoker = fn(&AuthServerState, &RegisteredClient, &str) -> Result<bool, TokenError>;

async fn handle(state: &AuthServerState, headers: &HeaderMap, body: &[u8]) -> Result<(), TokenError> {
    let form = parse_form(headers, body)?;
    let authorization = authorization_header(headers)?;
    // RFC 7009 §2.1: the client authenticates as at the token endpoint.
    let client = client_auth::authenticate(state, authorization, &form).await?;
    let token = form.get("token").ok_or_else(|| TokenError::InvalidRequest("token is required".into()))?;

    // The hint only picks which kind is tried first (RFC 7009 §2.1).
    let order: [Revoker; 2] = if form.get("token_type_hint") == Some("access_token") {
        [revoke_access_token, revoke_refresh_token]
    } else {
        [revoke_refresh_token, revoke_access_token]
    };
    let mut found = false;
    for revoker in order {
        if revoker(state, &client, token)? {
            found = true;
            break;
        }
    }
    if !found {
        tracing::info!(client_id = %client.client_id, "revocation of an unknown or invalid token ignored");
    }
    Ok(())
}

/// Returns whether `token` is one of our refresh tokens (revoked or not).
fn revoke_refresh_token(state: &AuthServerState, client: &RegisteredClient, token: &str) -> Result<bool, TokenError> {
    let store_err = |e: StorageError| TokenError::Server(e.to_string());
    let Some(record) = state.store.find_refresh_token(&hash_secret(token)).map_err(store_err)? else {
        return Ok(false);
    };
    if record.client_id != client.client_id {
        tracing::warn!(client_id = %client.client_id, "a client tried to revoke another client's refresh token");
        return Ok(true);
    }
    let n = state.store.revoke_family(&record.family_id).map_err(store_err)?;
    tracing::info!(client_id = %client.client_id, revoked = n, "revoked a refresh token family");
    Ok(true)
}

/// Returns whether `token` is a valid access token this server issued.
fn revoke_access_token(state: &AuthServerState, client: &RegisteredClient, token: &str) -> Result<bool, TokenError> {
    // Only tokens that verify (our signature, issuer, audience, not expired)
    // are recorded: anything else is already unusable at /mcp.
    let Ok(claims) = state.verifier.verify(token) else {
        return Ok(false);
    };
    if claims.client_id != client.client_id {
        tracing::warn!(client_id = %client.client_id, "a client tried to revoke another client's access token");
        return Ok(true);
    }
    if claims.jti.is_empty() || claims.exp < now() {
        return Ok(true);
    }
    state.store.insert_revoked_access_token(&claims.jti, claims.exp).map_err(|e| TokenError::Server(e.to_string()))?;
    state.revoked_access_tokens.insert(&claims.jti, claims.exp);
    tracing::info!(client_id = %client.client_id, "revoked an access token");
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

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
