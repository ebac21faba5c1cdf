//! `POST /revoke`: OAuth 2.0 Token Revocation (RFC 7009).
//!
//! - A refresh token revokes its whole family (every token rotated from the
//!   same authorization), so nothing minted from it can be refreshed again.
//! - An access token (an ES256 JWT this server signed) has its `jti` recorded
//!   until it expires; `/mcp` then answers 401 `invalid_token`.
//! - RFC 7009 §2.2: unknown, invalid, expired or foreign tokens (issued to
//!   another client) are answered 200 and left alone; `token_type_hint` only
//!   decides which kind is tried first (§2.1: an unknown hint is ignored).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::oauth::client_auth;
use crate::oauth::error_response::{TokenError, no_store};
use crate::oauth::params::{authorization_header, parse_form};
use crate::oauth::secrets::hash_secret;
use crate::oauth::state::OAuthState;
use crate::storage::{RegisteredClient, StorageError, now};

pub async fn revoke(State(state): State<Arc<OAuthState>>, headers: HeaderMap, body: Bytes) -> Response {
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
type Revoker = fn(&OAuthState, &RegisteredClient, &str) -> Result<bool, TokenError>;

async fn handle(state: &OAuthState, headers: &HeaderMap, body: &[u8]) -> Result<(), TokenError> {
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
fn revoke_refresh_token(state: &OAuthState, client: &RegisteredClient, token: &str) -> Result<bool, TokenError> {
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
fn revoke_access_token(state: &OAuthState, client: &RegisteredClient, token: &str) -> Result<bool, TokenError> {
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
