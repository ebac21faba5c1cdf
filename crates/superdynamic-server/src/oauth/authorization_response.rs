//! The authorization response (OAuth 2.1 §4.1.2): a single-use code, or an error, sent back to the client's
//! verified redirect URI, always with `iss` (RFC 9207 §2). Used by `/authorize` and the consent decision.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use url::Url;

use crate::oauth::secrets::{hash_secret, random_token};
use crate::oauth::state::OAuthState;
use crate::pages::error_page;
use crate::storage::{Grant, now};

/// Authorization codes live one minute (OAuth 2.1 §4.1.2 recommends ≤ 10).
const CODE_LIFETIME_SECS: i64 = 60;

/// An error reported to the client through its (verified) redirect URI.
#[derive(Debug, thiserror::Error)]
#[error("{code}: {description}")]
pub struct AuthorizeError {
    /// OAuth 2.1 §4.1.2.1 / RFC 8707 §2 error code.
    pub code: &'static str,
    pub description: String,
}

impl AuthorizeError {
    pub(crate) fn new(code: &'static str, description: impl Into<String>) -> Self {
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
pub(crate) fn issue_code_and_redirect(state: &OAuthState, grant: &Grant, client_state: Option<&str>) -> Response {
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
