//! `--idp`: a minimal enterprise identity provider under `/idp`, so the whole enterprise-managed authorization
//! flow (SEP-990) runs on one machine: it signs in the demo users (`POST /idp/id-token`, an ID token), and
//! exchanges an ID token for an ID-JAG (`POST /idp/token`, RFC 8693) naming this authorization server. It signs
//! with its own in-memory key (`/idp/jwks.json`), which the authorization server trusts. For demos and tests:
//! a real deployment trusts the company's IdP instead (`--trusted-idp-issuer`).
//!
//! Files: `provider` (its issuer and key, the ID tokens it signs and checks), this file (its endpoints).

pub mod provider;

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};

use crate::oauth::client_auth;
use crate::oauth::error_response::{TokenError, no_store};
use crate::oauth::id_jag::ID_JAG_TYP;
use crate::oauth::params::{authorization_header, parse_form};
use crate::oauth::secrets::random_token;
use crate::oauth::state::OAuthState;
use crate::storage::now;
use provider::{ID_TOKEN_TTL_SECS, LocalIdp};

pub const TOKEN_EXCHANGE_GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
pub const ID_JAG_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:id-jag";
pub const ID_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:id_token";
/// ID-JAGs are short-lived bearer grants (SEP-990 recommends minutes).
const ID_JAG_TTL_SECS: i64 = 300;

fn local(state: &OAuthState) -> Result<&LocalIdp, TokenError> {
    state.local_idp.as_ref().ok_or_else(|| TokenError::InvalidRequest("the local IdP is not enabled (--idp)".into()))
}

fn json_response<T: Serialize>(result: Result<T, TokenError>) -> Response {
    match result {
        Ok(body) => {
            let mut response = Json(body).into_response();
            no_store(&mut response);
            response
        }
        Err(e) => {
            tracing::info!(error = e.code(), "local IdP refused: {e}");
            e.into_response()
        }
    }
}

/// `GET /idp/.well-known/openid-configuration`.
pub async fn metadata(State(state): State<Arc<OAuthState>>) -> Response {
    json_response(local(&state).map(|idp| {
        let issuer = &idp.issuer;
        json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/authorize"),
            "token_endpoint": format!("{issuer}/token"),
            "jwks_uri": format!("{issuer}/jwks.json"),
            "grant_types_supported": [TOKEN_EXCHANGE_GRANT],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["ES256"],
            "response_types_supported": ["code"],
        })
    }))
}

/// `GET /idp/jwks.json`.
pub async fn jwks(State(state): State<Arc<OAuthState>>) -> Response {
    json_response(local(&state).map(LocalIdp::jwks))
}

/// `POST /idp/id-token` (demo sign-in): `username`, `password` of a user who may sign in, and `client_id`.
pub async fn id_token(State(state): State<Arc<OAuthState>>, headers: HeaderMap, body: Bytes) -> Response {
    json_response(
        async {
            let idp = local(&state)?;
            let form = parse_form(&headers, &body)?;
            let field =
                |name: &str| form.get(name).ok_or_else(|| TokenError::InvalidRequest(format!("{name} is required")));
            let (username, password, client_id) = (field("username")?, field("password")?, field("client_id")?);
            if !state.users.verify(username, password) {
                return Err(TokenError::InvalidGrant("wrong username or password".into()));
            }
            let token = idp.id_token(username, client_id)?;
            tracing::info!(sub = %username, "the local IdP issued an ID token");
            Ok(json!({"id_token": token, "token_type": "N_A", "expires_in": ID_TOKEN_TTL_SECS}))
        }
        .await,
    )
}

/// `POST /idp/token`: RFC 8693 token exchange of an ID token for an ID-JAG for this authorization server.
pub async fn token(State(state): State<Arc<OAuthState>>, headers: HeaderMap, body: Bytes) -> Response {
    json_response(exchange(&state, &headers, &body).await)
}

async fn exchange(state: &OAuthState, headers: &HeaderMap, body: &[u8]) -> Result<Value, TokenError> {
    let idp = local(state)?;
    let form = parse_form(headers, body)?;
    if form.get("grant_type") != Some(TOKEN_EXCHANGE_GRANT) {
        return Err(TokenError::UnsupportedGrantType(format!("the IdP only does {TOKEN_EXCHANGE_GRANT}")));
    }
    let client = client_auth::authenticate(state, authorization_header(headers)?, &form).await?;
    let require = |name: &str, value: &str| match form.get(name) {
        Some(v) if v == value => Ok(()),
        other => Err(TokenError::InvalidRequest(format!("{name} must be {value}, got {other:?}"))),
    };
    require("requested_token_type", ID_JAG_TOKEN_TYPE)?;
    require("subject_token_type", ID_TOKEN_TYPE)?;
    // This IdP knows one authorization server and one resource: ours.
    require("audience", &state.issuer)
        .map_err(|_| TokenError::InvalidTarget("audience must be this authorization server".into()))?;
    require("resource", &state.resource)
        .map_err(|_| TokenError::InvalidTarget(format!("resource must be {}", state.resource)))?;
    let subject_token =
        form.get("subject_token").ok_or_else(|| TokenError::InvalidRequest("subject_token is required".into()))?;
    let sub = idp.verify_id_token(subject_token, &client.client_id).map_err(TokenError::InvalidGrant)?;
    let iat = now();
    let mut claims = json!({
        "iss": idp.issuer, "sub": sub, "aud": state.issuer, "client_id": client.client_id,
        "resource": state.resource, "iat": iat, "exp": iat + ID_JAG_TTL_SECS,
        "jti": random_token().map_err(|e| TokenError::Server(e.to_string()))?,
    });
    if let Some(scope) = form.get("scope") {
        claims["scope"] = json!(scope);
    }
    let jag = idp.sign(ID_JAG_TYP, &claims)?;
    tracing::info!(client_id = %client.client_id, %sub, "the local IdP issued an ID-JAG");
    Ok(json!({
        "access_token": jag,
        "issued_token_type": ID_JAG_TOKEN_TYPE,
        "token_type": "N_A",
        "expires_in": ID_JAG_TTL_SECS,
    }))
}
