//! `POST /token`: the token endpoint (OAuth 2.1 §3.2) with the
//! `authorization_code`, rotating `refresh_token` and RFC 8628 device code
//! grants.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use crate::oauth::client_auth;
use crate::oauth::error_response::{TokenError, no_store};
use crate::oauth::grant_types::{CLIENT_CREDENTIALS_GRANT, DEVICE_CODE_GRANT, JWT_BEARER_GRANT};
use crate::oauth::issuance::{TokenResponse, issue, issue_with};
use crate::oauth::params::{QueryParams, authorization_header, parse_form};
use crate::oauth::pkce;
use crate::oauth::secrets::{hash_secret, random_token};
use crate::oauth::state::OAuthState;
use crate::scope::{DEFAULT_SCOPE, ScopeSet};
use crate::storage::{CodeRedemption, DevicePoll, RefreshRecord, RegisteredClient, now};

pub async fn token(State(state): State<Arc<OAuthState>>, headers: HeaderMap, body: Bytes) -> Response {
    match handle(&state, &headers, &body).await {
        Ok(tokens) => {
            let mut response = Json(tokens).into_response();
            no_store(&mut response);
            response
        }
        Err(e) => {
            // Polling answers are routine; do not flood the log with them.
            if matches!(e, TokenError::AuthorizationPending | TokenError::SlowDown) {
                tracing::debug!(error = e.code(), "device code poll");
            } else {
                tracing::info!(error = e.code(), "token request refused");
            }
            e.into_response()
        }
    }
}

async fn handle(state: &OAuthState, headers: &HeaderMap, body: &[u8]) -> Result<TokenResponse, TokenError> {
    let form = parse_form(headers, body)?;
    let authorization = authorization_header(headers)?;
    // Before anything is redeemed: a code spent on a request turned away for its nonce would be lost.
    let proof = token_request_proof(state, headers)?;
    let jkt = proof.as_ref().map(|p| p.jkt.as_str());

    let grant_type =
        form.get("grant_type").ok_or_else(|| TokenError::InvalidRequest("grant_type is required".into()))?;
    if !matches!(
        grant_type,
        "authorization_code" | "refresh_token" | DEVICE_CODE_GRANT | CLIENT_CREDENTIALS_GRANT | JWT_BEARER_GRANT
    ) {
        return Err(TokenError::UnsupportedGrantType(format!(
            "grant_type {grant_type:?} is not supported; use authorization_code, refresh_token, client_credentials, {DEVICE_CODE_GRANT} or {JWT_BEARER_GRANT}"
        )));
    }
    let client = client_auth::authenticate(state, authorization, &form).await?;
    if !client.metadata.allows_grant(grant_type) {
        return Err(TokenError::UnauthorizedClient(format!("the client did not register the {grant_type} grant type")));
    }
    check_resource(state, &form)?;
    match grant_type {
        "authorization_code" => authorization_code_grant(state, &client, &form, jkt),
        DEVICE_CODE_GRANT => device_code_grant(state, &client, &form, jkt),
        CLIENT_CREDENTIALS_GRANT => client_credentials_grant(state, &client, &form, jkt),
        JWT_BEARER_GRANT => crate::oauth::jwt_bearer::grant(state, &client, &form, jkt).await,
        _ => refresh_token_grant(state, &client, &form, jkt),
    }
}

/// RFC 9449 §5: the token request's DPoP proof, if it sent one (`htm` POST, `htu` this endpoint).
fn token_request_proof(
    state: &OAuthState,
    headers: &HeaderMap,
) -> Result<Option<crate::dpop::VerifiedProof>, TokenError> {
    let url = format!("{}/token", state.issuer);
    let expected = crate::dpop::Expected { method: "POST", url: &url, access_token: None };
    let now = now();
    match state.dpop.check(headers, &expected, now) {
        Ok(proof) => Ok(proof),
        Err(crate::dpop::ProofError::UseNonce) => {
            let nonce = state.dpop.current_nonce(now).unwrap_or_default();
            Err(TokenError::UseDpopNonce { nonce })
        }
        Err(e) => Err(TokenError::InvalidDpopProof(e.to_string())),
    }
}

/// OAuth 2.1 §4.2 / MCP extension io.modelcontextprotocol/oauth-client-credentials:
/// a confidential client gets an access token for itself (sub = client_id,
/// aud = the MCP resource). No refresh token (OAuth 2.1 §4.2.3).
fn client_credentials_grant(
    state: &OAuthState,
    client: &RegisteredClient,
    form: &QueryParams,
    jkt: Option<&str>,
) -> Result<TokenResponse, TokenError> {
    if !client.metadata.token_endpoint_auth_method.is_confidential() {
        return Err(TokenError::UnauthorizedClient("client_credentials needs a confidential client".into()));
    }
    let requested = ScopeSet::parse(form.get("scope").unwrap_or(DEFAULT_SCOPE))
        .map_err(|e| TokenError::InvalidScope(e.to_string()))?;
    let requested = if requested.is_empty() {
        ScopeSet::parse(DEFAULT_SCOPE).map_err(|e| TokenError::Server(e.to_string()))?
    } else {
        requested
    };
    if requested.contains(crate::scope::OFFLINE_ACCESS) {
        return Err(TokenError::InvalidScope("offline_access makes no sense without a user".into()));
    }
    // A client that registered a scope may not ask for more (RFC 7591 §2).
    if let Some(registered) = &client.metadata.scope {
        let registered = ScopeSet::parse(registered).map_err(|e| TokenError::Server(e.to_string()))?;
        if !requested.is_subset_of(&registered) {
            return Err(TokenError::InvalidScope(format!(
                "the client registered the scope {:?}; ask for no more",
                registered.to_scope_string()
            )));
        }
    }
    let base = RefreshRecord {
        family_id: String::new(),
        client_id: client.client_id.clone(),
        scope: requested.to_scope_string(),
        resource: state.resource.clone(),
        subject: client.client_id.clone(),
        expires_at: 0,
        used: false,
        revoked: false,
    };
    let response = issue_with(state, client, &base, &requested, false, jkt)?;
    tracing::info!(client_id = %client.client_id, scope = %response.scope, "issued a client credentials token");
    Ok(response)
}

/// RFC 8707 §2: `resource`, when sent, must name the MCP endpoint.
pub(crate) fn check_resource(state: &OAuthState, form: &QueryParams) -> Result<(), TokenError> {
    match form.get("resource") {
        Some(r) if r != state.resource => {
            Err(TokenError::InvalidTarget(format!("unknown resource {r:?}; this server protects {}", state.resource)))
        }
        _ => Ok(()),
    }
}

/// OAuth 2.1 §4.1.3.
fn authorization_code_grant(
    state: &OAuthState,
    client: &RegisteredClient,
    form: &QueryParams,
    jkt: Option<&str>,
) -> Result<TokenResponse, TokenError> {
    let code = form.get("code").ok_or_else(|| TokenError::InvalidRequest("code is required".into()))?;
    let verifier = form
        .get("code_verifier")
        .ok_or_else(|| TokenError::InvalidRequest("code_verifier is required (PKCE)".into()))?;
    let code_hash = hash_secret(code);
    let store_err = |e: crate::storage::StorageError| TokenError::Server(e.to_string());

    // The code is consumed before any other check, so a failed attempt
    // (e.g. a guessed verifier) cannot be retried.
    let (grant, expires_at) = match state.store.redeem_code(&code_hash).map_err(store_err)? {
        CodeRedemption::Redeemed { grant, expires_at } => (grant, expires_at),
        CodeRedemption::Unknown => {
            return Err(TokenError::InvalidGrant("the authorization code is invalid".into()));
        }
        CodeRedemption::AlreadyUsed { token_family } => {
            // OAuth 2.1 §4.1.3: a replayed code should revoke what it produced.
            if let Some(family) = token_family {
                let n = state.store.revoke_family(&family).map_err(store_err)?;
                tracing::warn!(revoked = n, "authorization code replayed; revoked its refresh tokens");
            }
            return Err(TokenError::InvalidGrant("the authorization code was already used".into()));
        }
    };
    if grant.client_id != client.client_id {
        return Err(TokenError::InvalidGrant("the authorization code was issued to another client".into()));
    }
    if expires_at < now() {
        return Err(TokenError::InvalidGrant("the authorization code has expired".into()));
    }
    let redirect_ok = match form.get("redirect_uri") {
        Some(sent) => sent == grant.redirect_uri,
        None => !grant.redirect_uri_sent,
    };
    if !redirect_ok {
        return Err(TokenError::InvalidGrant(
            "redirect_uri does not match the one used in the authorization request".into(),
        ));
    }
    // RFC 7636 §4.6.
    if !pkce::verify_s256(verifier, &grant.code_challenge) {
        return Err(TokenError::InvalidGrant("code_verifier does not match the code_challenge".into()));
    }

    let family_id = random_token().map_err(|e| TokenError::Server(e.to_string()))?;
    let scope = ScopeSet::parse(&grant.scope).map_err(|e| TokenError::Server(e.to_string()))?;
    let refresh = RefreshRecord {
        family_id: family_id.clone(),
        client_id: client.client_id.clone(),
        scope: grant.scope.clone(),
        resource: grant.resource.clone(),
        subject: grant.subject.clone(),
        expires_at: 0,
        used: false,
        revoked: false,
    };
    let response = issue(state, client, &refresh, &scope, jkt)?;
    state.store.link_code_to_family(&code_hash, &family_id).map_err(store_err)?;
    tracing::info!(client_id = %client.client_id, scope = %response.scope, "issued tokens for an authorization code");
    Ok(response)
}

/// RFC 8628 §3.4/§3.5: the device polls with its device code until the user
/// answers at the verification page.
fn device_code_grant(
    state: &OAuthState,
    client: &RegisteredClient,
    form: &QueryParams,
    jkt: Option<&str>,
) -> Result<TokenResponse, TokenError> {
    let device_code =
        form.get("device_code").ok_or_else(|| TokenError::InvalidRequest("device_code is required".into()))?;
    let code_hash = hash_secret(device_code);
    let store_err = |e: crate::storage::StorageError| TokenError::Server(e.to_string());

    let (scope, resource, subject) =
        match state.store.poll_device_code(&code_hash, &client.client_id).map_err(store_err)? {
            DevicePoll::Unknown => return Err(TokenError::InvalidGrant("the device code is invalid".into())),
            DevicePoll::Expired => return Err(TokenError::ExpiredToken),
            DevicePoll::SlowDown => return Err(TokenError::SlowDown),
            DevicePoll::Pending => return Err(TokenError::AuthorizationPending),
            DevicePoll::Denied => return Err(TokenError::AccessDenied),
            DevicePoll::AlreadyUsed { token_family } => {
                // Like a replayed authorization code: revoke what it produced.
                if let Some(family) = token_family {
                    let n = state.store.revoke_family(&family).map_err(store_err)?;
                    tracing::warn!(revoked = n, "device code replayed; revoked its refresh tokens");
                }
                return Err(TokenError::InvalidGrant("the device code was already used".into()));
            }
            DevicePoll::Approved { scope, resource, subject } => (scope, resource, subject),
        };

    let family_id = random_token().map_err(|e| TokenError::Server(e.to_string()))?;
    let scope_set = ScopeSet::parse(&scope).map_err(|e| TokenError::Server(e.to_string()))?;
    let refresh = RefreshRecord {
        family_id: family_id.clone(),
        client_id: client.client_id.clone(),
        scope,
        resource,
        subject,
        expires_at: 0,
        used: false,
        revoked: false,
    };
    let response = issue(state, client, &refresh, &scope_set, jkt)?;
    state.store.link_device_code_to_family(&code_hash, &family_id).map_err(store_err)?;
    tracing::info!(client_id = %client.client_id, scope = %response.scope, "issued tokens for a device code");
    Ok(response)
}

/// OAuth 2.1 §4.3 with rotation (§4.3.1): every use yields a new refresh
/// token; presenting a used one revokes the whole family.
fn refresh_token_grant(
    state: &OAuthState,
    client: &RegisteredClient,
    form: &QueryParams,
    jkt: Option<&str>,
) -> Result<TokenResponse, TokenError> {
    let token =
        form.get("refresh_token").ok_or_else(|| TokenError::InvalidRequest("refresh_token is required".into()))?;
    let token_hash = hash_secret(token);
    let store_err = |e: crate::storage::StorageError| TokenError::Server(e.to_string());
    let invalid = || TokenError::InvalidGrant("the refresh token is invalid".into());

    let record = state.store.find_refresh_token(&token_hash).map_err(store_err)?.ok_or_else(invalid)?;
    if record.client_id != client.client_id {
        return Err(invalid());
    }
    if record.revoked {
        return Err(TokenError::InvalidGrant("the refresh token was revoked".into()));
    }
    let reuse = |state: &OAuthState| -> Result<TokenResponse, TokenError> {
        let n = state.store.revoke_family(&record.family_id).map_err(store_err)?;
        tracing::warn!(client_id = %client.client_id, revoked = n, "refresh token reused; revoked its family");
        Err(TokenError::InvalidGrant("the refresh token was already used; all tokens of this grant are revoked".into()))
    };
    if record.used {
        return reuse(state);
    }
    if record.expires_at < now() {
        return Err(TokenError::InvalidGrant("the refresh token has expired".into()));
    }
    // RFC 9449 §5: a bound refresh token is good only with a proof signed by its key.
    if let Some(bound) = state.store.family_key(&record.family_id).map_err(store_err)?
        && jkt != Some(bound.as_str())
    {
        return Err(TokenError::InvalidDpopProof(
            "the refresh token is bound to a DPoP key; send a DPoP proof signed with that key".into(),
        ));
    }

    let granted = ScopeSet::parse(&record.scope).map_err(|e| TokenError::Server(e.to_string()))?;
    // RFC 6749 §6: a narrower scope may be asked for, never a wider one.
    let scope = match form.get("scope") {
        None => granted.clone(),
        Some(requested) => {
            let requested = ScopeSet::parse(requested).map_err(|e| TokenError::InvalidScope(e.to_string()))?;
            if !requested.is_subset_of(&granted) {
                return Err(TokenError::InvalidScope(format!(
                    "scope may only narrow the original grant ({})",
                    granted.to_scope_string()
                )));
            }
            if requested.is_empty() { granted.clone() } else { requested }
        }
    };
    if !state.store.mark_refresh_token_used(&token_hash).map_err(store_err)? {
        return reuse(state);
    }
    let response = issue(state, client, &record, &scope, jkt)?;
    tracing::info!(client_id = %client.client_id, scope = %response.scope, "refreshed tokens");
    Ok(response)
}
