//! `GET /authorize`: the authorization endpoint (OAuth 2.1 §4.1.1).
//!
//! Order matters: until the client and its redirect URI are verified, errors
//! are shown as a page; after that they go back to the client as a redirect
//! carrying `error`, `state` and `iss` (OAuth 2.1 §4.1.2.1, RFC 9207).

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use url::Url;

use crate::pages::error_page;
use crate::pkce;
use crate::redirect_uri;
use crate::scope::{DEFAULT_SCOPE, ScopeSet};
use crate::secrets::{hash_secret, random_token};
use crate::server::AuthServerState;
use crate::storage::{Grant, now};

/// Authorization codes live one minute (OAuth 2.1 §4.1.2 recommends ≤ 10).
const CODE_LIFETIME_SECS: i64 = 60;

/// The query parameters; a parameter sent twice is remembered as such
/// because OAuth 2.1 §3.1 forbids repeating request parameters.
pub(crate) struct QueryParams {
    values: HashMap<String, String>,
    repeated: Vec<String>,
}

impl QueryParams {
    pub(crate) fn parse(raw: &str) -> Result<Self, serde_urlencoded::de::Error> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw)?;
        let mut values = HashMap::new();
        let mut repeated = Vec::new();
        for (k, v) in pairs {
            match values.entry(k) {
                Entry::Occupied(e) => repeated.push(e.key().clone()),
                Entry::Vacant(e) => {
                    e.insert(v);
                }
            }
        }
        Ok(Self { values, repeated })
    }

    /// The value, unless absent, empty (RFC 6749 §3.1: treated as omitted) or repeated.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        if self.is_repeated(name) {
            return None;
        }
        self.values.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }

    pub(crate) fn is_repeated(&self, name: &str) -> bool {
        self.repeated.iter().any(|r| r == name)
    }

    pub(crate) fn first_repeated(&self) -> Option<&str> {
        self.repeated.first().map(String::as_str)
    }
}

/// An error reported to the client through its (verified) redirect URI.
#[derive(Debug, thiserror::Error)]
#[error("{code}: {description}")]
pub struct AuthorizeError {
    /// OAuth 2.1 §4.1.2.1 / RFC 8707 §2 error code.
    pub code: &'static str,
    pub description: String,
}

impl AuthorizeError {
    fn new(code: &'static str, description: impl Into<String>) -> Self {
        Self { code, description: description.into() }
    }
}

/// A 302 to the client's redirect URI with `params` added to its query, plus
/// `iss` (RFC 9207 §2: on every authorization response, errors included).
pub(crate) fn redirect_to_client(redirect_uri: &str, issuer: &str, params: &[(&str, &str)]) -> Response {
    let Ok(mut url) = Url::parse(redirect_uri) else {
        return error_page(StatusCode::INTERNAL_SERVER_ERROR, "The registered redirect URI cannot be parsed.");
    };
    {
        let mut query = url.query_pairs_mut();
        for (k, v) in params {
            query.append_pair(k, v);
        }
        query.append_pair("iss", issuer);
    }
    match HeaderValue::from_str(url.as_str()) {
        Ok(location) => (
            StatusCode::FOUND,
            [(header::LOCATION, location), (header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        )
            .into_response(),
        Err(_) => error_page(StatusCode::INTERNAL_SERVER_ERROR, "The redirect URI cannot be sent as a header."),
    }
}

pub(crate) fn redirect_error(redirect: &str, issuer: &str, state: Option<&str>, error: &AuthorizeError) -> Response {
    let mut params = vec![("error", error.code), ("error_description", error.description.as_str())];
    if let Some(state) = state {
        params.push(("state", state));
    }
    redirect_to_client(redirect, issuer, &params)
}

/// Issues a single-use code bound to everything in `grant` and redirects
/// with it (OAuth 2.1 §4.1.2).
pub(crate) fn issue_code_and_redirect(state: &AuthServerState, grant: &Grant, client_state: Option<&str>) -> Response {
    let code = match random_token() {
        Ok(code) => code,
        Err(e) => {
            tracing::error!(error = %e, "could not create an authorization code");
            return redirect_error(
                &grant.redirect_uri,
                &state.issuer,
                client_state,
                &AuthorizeError::new("server_error", "could not create an authorization code"),
            );
        }
    };
    if let Err(e) = state.store.insert_code(&hash_secret(&code), grant, now() + CODE_LIFETIME_SECS) {
        tracing::error!(error = %e, "could not store an authorization code");
        return redirect_error(
            &grant.redirect_uri,
            &state.issuer,
            client_state,
            &AuthorizeError::new("server_error", "could not store the authorization code"),
        );
    }
    tracing::info!(client_id = %grant.client_id, scope = %grant.scope, "issued an authorization code");
    let mut params = vec![("code", code.as_str())];
    if let Some(s) = client_state {
        params.push(("state", s));
    }
    redirect_to_client(&grant.redirect_uri, &state.issuer, &params)
}

pub async fn authorize(
    State(state): State<Arc<AuthServerState>>,
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
    if crate::cimd::is_cimd_client_id(client_id) {
        match crate::cimd::resolve(&state, client_id).await {
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
    state: &Arc<AuthServerState>,
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
    let Some(user) = crate::session::current_user(state, headers) else {
        let name = client.metadata.client_name.as_deref().unwrap_or("an application");
        return crate::session::sign_in(state, &format!("/authorize?{raw_query}"), Some(name), None);
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
    crate::consent::show(state, &client, grant, client_state)
}

fn check_request(
    state: &AuthServerState,
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
