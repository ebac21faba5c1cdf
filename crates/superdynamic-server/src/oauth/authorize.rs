//! `GET /authorize`: the authorization endpoint (OAuth 2.1 §4.1.1).
//!
//! Order matters: until the client and its redirect URI are verified, errors
//! are shown as a page; after that they go back to the client as a redirect
//! carrying `error`, `state` and `iss` (OAuth 2.1 §4.1.2.1, RFC 9207).

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use crate::oauth::authorization_response::{AuthorizeError, issue_code_and_redirect, redirect_error};
use crate::oauth::params::QueryParams;
use crate::oauth::pkce;
use crate::oauth::redirect_uri;
use crate::oauth::state::OAuthState;
use crate::pages::error_page;
use crate::scope::{DEFAULT_SCOPE, ScopeSet};
use crate::storage::Grant;

pub async fn authorize(
    State(state): State<Arc<OAuthState>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let raw_query = query.as_deref().unwrap_or("");
    let Ok(params) = QueryParams::parse(query.as_deref().unwrap_or("")) else {
        return error_page(StatusCode::BAD_REQUEST, "The authorization request's query string is malformed.");
    };

    // 1. The client must be known before anything is sent anywhere.
    if params.is_repeated("client_id") {
        return error_page(StatusCode::BAD_REQUEST, "client_id was sent more than once.");
    }
    let Some(client_id) = params.get("client_id") else {
        return error_page(StatusCode::BAD_REQUEST, "The request has no client_id.");
    };
    // CIMD: an https client_id names a metadata document (fetched, SSRF-guarded).
    if crate::oauth::cimd::is_cimd_client_id(client_id) {
        match crate::oauth::cimd::resolve(state.fetch_policy, &state.cimd_cache, client_id).await {
            Ok(client) => return authorize_client(&state, &params, client, &headers, raw_query).await,
            Err(e) => {
                tracing::info!(error = %e, "client ID metadata document refused");
                return error_page(StatusCode::BAD_REQUEST, &e.to_string());
            }
        }
    }
    let client = match state.store.find_client(client_id) {
        Ok(Some(client)) => client,
        Ok(None) => {
            return error_page(StatusCode::BAD_REQUEST, "The client_id is not registered with this server.");
        }
        Err(e) => {
            tracing::error!(error = %e, "client lookup failed");
            return error_page(StatusCode::INTERNAL_SERVER_ERROR, "The server could not look up the client.");
        }
    };

    authorize_client(&state, &params, client, &headers, raw_query).await
}

async fn authorize_client(
    state: &Arc<OAuthState>,
    params: &QueryParams,
    client: crate::storage::RegisteredClient,
    headers: &HeaderMap,
    raw_query: &str,
) -> Response {
    let client_id = client.client_id.as_str();
    // 2. The redirect URI must match a registered one (OAuth 2.1 §4.1.2.1:
    //    otherwise inform the user and do not redirect).
    if params.is_repeated("redirect_uri") {
        return error_page(StatusCode::BAD_REQUEST, "redirect_uri was sent more than once.");
    }
    let registered = &client.metadata.redirect_uris;
    let (redirect, redirect_uri_sent) = match params.get("redirect_uri") {
        Some(requested) => {
            if redirect_uri::find_match(requested, registered).is_none() {
                return error_page(
                    StatusCode::BAD_REQUEST,
                    "The redirect_uri does not match any redirect URI registered for this client.",
                );
            }
            (requested.to_owned(), true)
        }
        // OAuth 2.1 §2.3.2: may be omitted only if exactly one is registered.
        None => match registered.as_slice() {
            [only] => (only.clone(), false),
            [] => {
                return error_page(
                    StatusCode::BAD_REQUEST,
                    "The client registered no redirect URI, so it cannot use this authorization endpoint.",
                );
            }
            _ => {
                return error_page(
                    StatusCode::BAD_REQUEST,
                    "The request has no redirect_uri and the client registered more than one.",
                );
            }
        },
    };

    // 3. From here on, errors go back to the client.
    let client_state = params.get("state");
    let mut grant = match check_request(state, params, &client, &redirect, redirect_uri_sent) {
        Ok(grant) => grant,
        Err(e) => {
            tracing::info!(client_id, error = e.code, "authorization request refused");
            return redirect_error(&redirect, &state.issuer, client_state, &e);
        }
    };

    if state.auto_approve {
        return issue_code_and_redirect(state, &grant, client_state);
    }
    // 4. Sign in first; the grant is for the signed-in user.
    let Some(user) = crate::oauth::session::current_user(state, headers) else {
        let name = client.metadata.client_name.as_deref().unwrap_or("an application");
        return crate::oauth::session::sign_in(state, &format!("/authorize?{raw_query}"), Some(name), None);
    };
    grant.subject = user.username;
    // 5. A remembered consent that covers every requested scope skips the page.
    match state.store.find_consent(&grant.subject, &grant.client_id) {
        Ok(Some(granted)) => {
            let covered = ScopeSet::parse(&grant.scope)
                .ok()
                .zip(ScopeSet::parse(&granted).ok())
                .is_some_and(|(wanted, granted)| wanted.is_subset_of(&granted));
            if covered {
                tracing::info!(client_id = %grant.client_id, "consent remembered; skipping the consent page");
                return issue_code_and_redirect(state, &grant, client_state);
            }
        }
        Ok(None) => {}
        Err(e) => tracing::error!(error = %e, "consent lookup failed"),
    }
    crate::oauth::consent::show(state, &client, grant, client_state)
}

fn check_request(
    state: &OAuthState,
    params: &QueryParams,
    client: &crate::storage::RegisteredClient,
    redirect: &str,
    redirect_uri_sent: bool,
) -> Result<Grant, AuthorizeError> {
    if params.is_repeated("resource") {
        return Err(AuthorizeError::new(
            "invalid_target",
            format!("only one resource is served here: {}", state.resource),
        ));
    }
    if let Some(name) = params.first_repeated() {
        return Err(AuthorizeError::new("invalid_request", format!("parameter {name} was sent more than once")));
    }
    match params.get("response_type") {
        None => {
            return Err(AuthorizeError::new("invalid_request", "response_type is required"));
        }
        Some("code") => {}
        Some(other) => {
            return Err(AuthorizeError::new(
                "unsupported_response_type",
                format!("response_type {other:?} is not supported; use code"),
            ));
        }
    }
    if !client.metadata.allows_grant("authorization_code") {
        return Err(AuthorizeError::new(
            "unauthorized_client",
            "the client did not register the authorization_code grant",
        ));
    }

    // PKCE is mandatory and S256 only (OAuth 2.1 §4.1.1, MCP 2025-11-25 §PKCE).
    let Some(challenge) = params.get("code_challenge") else {
        return Err(AuthorizeError::new("invalid_request", "code_challenge is required (PKCE, RFC 7636)"));
    };
    match params.get("code_challenge_method") {
        Some(pkce::S256) => {}
        Some(other) => {
            return Err(AuthorizeError::new(
                "invalid_request",
                format!("code_challenge_method {other:?} is not supported; use S256"),
            ));
        }
        None => {
            return Err(AuthorizeError::new(
                "invalid_request",
                "code_challenge_method is required and must be S256 (plain is not accepted)",
            ));
        }
    }
    if !pkce::is_well_formed(challenge) {
        return Err(AuthorizeError::new(
            "invalid_request",
            "code_challenge must be 43-128 characters of [A-Za-z0-9-._~]",
        ));
    }

    let scope = ScopeSet::parse(params.get("scope").unwrap_or(DEFAULT_SCOPE))
        .map_err(|e| AuthorizeError::new("invalid_scope", e.to_string()))?;
    let scope = if scope.is_empty() {
        ScopeSet::parse(DEFAULT_SCOPE).map_err(|e| AuthorizeError::new("invalid_scope", e.to_string()))?
    } else {
        scope
    };

    // RFC 8707 §2: the only resource here is the MCP endpoint.
    if let Some(resource) = params.get("resource")
        && resource != state.resource
    {
        return Err(AuthorizeError::new(
            "invalid_target",
            format!("unknown resource {resource:?}; this server protects {}", state.resource),
        ));
    }

    Ok(Grant {
        client_id: client.client_id.clone(),
        redirect_uri: redirect.to_owned(),
        redirect_uri_sent,
        code_challenge: challenge.to_owned(),
        scope: scope.to_scope_string(),
        resource: state.resource.clone(),
        subject: state.demo_user.clone(),
    })
}
