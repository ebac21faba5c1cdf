//! `POST /introspect`: OAuth 2.0 Token Introspection (RFC 7662).
//!
//! The caller authenticates as at the token endpoint (RFC 7662 §2.1). A
//! client may only introspect tokens issued to itself: anything else,
//! revoked, expired, used (rotated refresh tokens), unknown or not ours is
//! answered `{"active": false}` and nothing more (§2.2, §4).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::oauth::client_auth;
use crate::oauth::error_response::{TokenError, no_store};
use crate::oauth::params::{authorization_header, parse_form};
use crate::oauth::secrets::hash_secret;
use crate::oauth::state::OAuthState;
use crate::storage::{RegisteredClient, now};

pub async fn introspect(State(state): State<Arc<OAuthState>>, headers: HeaderMap, body: Bytes) -> Response {
    match handle(&state, &headers, &body).await {
        Ok(answer) => {
            let mut response = Json(answer).into_response();
            no_store(&mut response);
            response
        }
        Err(e) => {
            tracing::info!(error = e.code(), "introspection request refused");
            e.into_response()
        }
    }
}

async fn handle(state: &OAuthState, headers: &HeaderMap, body: &[u8]) -> Result<Value, TokenError> {
    let form = parse_form(headers, body)?;
    let authorization = authorization_header(headers)?;
    let client = client_auth::authenticate(state, authorization, &form).await?;
    let token = form.get("token").ok_or_else(|| TokenError::InvalidRequest("token is required".into()))?;
    // §2.1: the hint only says where to look first.
    let answer = if form.get("token_type_hint") == Some("refresh_token") {
        match refresh_token(state, &client, token)? {
            Some(a) => Some(a),
            None => access_token(state, &client, token),
        }
    } else {
        match access_token(state, &client, token) {
            Some(a) => Some(a),
            None => refresh_token(state, &client, token)?,
        }
    };
    Ok(answer.unwrap_or_else(|| json!({"active": false})))
}

/// An active access token of `client`, as RFC 7662 §2.2 claims.
fn access_token(state: &OAuthState, client: &RegisteredClient, token: &str) -> Option<Value> {
    // Signature, issuer, audience and expiry (RFC 9068 §4).
    let claims = state.verifier.verify(token).ok()?;
    if claims.client_id != client.client_id || state.revoked_access_tokens.contains(&claims.jti) {
        return None;
    }
    Some(json!({
        "active": true,
        "scope": claims.scope,
        "client_id": claims.client_id,
        "sub": claims.sub,
        "aud": claims.aud,
        "iss": claims.iss,
        "exp": claims.exp,
        "iat": claims.iat,
        "jti": claims.jti,
        "token_type": "Bearer",
    }))
}

/// An active (unused, unrevoked, unexpired) refresh token of `client`.
fn refresh_token(state: &OAuthState, client: &RegisteredClient, token: &str) -> Result<Option<Value>, TokenError> {
    let record = state.store.find_refresh_token(&hash_secret(token)).map_err(|e| TokenError::Server(e.to_string()))?;
    Ok(record.filter(|r| r.client_id == client.client_id && !r.used && !r.revoked && r.expires_at > now()).map(|r| {
        json!({
            "active": true,
            "scope": r.scope,
            "client_id": r.client_id,
            "sub": r.subject,
            "aud": r.resource,
            "iss": state.issuer,
            "exp": r.expires_at,
        })
    }))
}
