//! The consent step: a page asking the user to approve the client, and
//! `POST /authorize/decision` which receives the answer.
//!
//! The pending request lives server-side; the page carries only a random
//! handle plus a CSRF token that must also come back in a SameSite cookie.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use url::Url;

use crate::oauth::authorization_response::{AuthorizeError, issue_code_and_redirect, redirect_error};
use crate::oauth::params::{QueryParams, cookie_value};
use crate::oauth::secrets::{hash_secret, hashes_equal, random_token};
use crate::oauth::state::OAuthState;
use crate::pages::{ConsentView, consent_page, error_page, with_page_headers};
use crate::scope::{ScopeSet, describe};
use crate::storage::{Grant, PendingConsent, RegisteredClient, now};

/// How long the consent page stays answerable.
const CONSENT_LIFETIME_SECS: i64 = 600;
pub const CSRF_COOKIE: &str = "superdynamic_csrf";

/// Stores the pending request and renders the consent page.
pub(crate) fn show(
    state: &OAuthState,
    client: &RegisteredClient,
    grant: Grant,
    client_state: Option<&str>,
) -> Response {
    let (Ok(consent_id), Ok(csrf_token)) = (random_token(), random_token()) else {
        return error_page(StatusCode::INTERNAL_SERVER_ERROR, "The server could not create a consent request.");
    };
    let pending = PendingConsent {
        csrf_hash: hash_secret(&csrf_token),
        grant,
        state: client_state.map(str::to_owned),
        expires_at: now() + CONSENT_LIFETIME_SECS,
    };
    if let Err(e) = state.store.insert_pending_consent(&hash_secret(&consent_id), &pending) {
        tracing::error!(error = %e, "could not store a pending consent");
        return error_page(StatusCode::INTERNAL_SERVER_ERROR, "The server could not store the consent request.");
    }

    let grant = &pending.grant;
    // MCP 2025-11-25 §Security: show the redirect URI's host clearly.
    let redirect_host = Url::parse(&grant.redirect_uri)
        .ok()
        .and_then(|u| {
            u.host_str().map(|h| match u.port() {
                Some(p) => format!("{h}:{p}"),
                None => h.to_owned(),
            })
        })
        .unwrap_or_else(|| grant.redirect_uri.clone());
    let client_name = client.metadata.client_name.as_deref().unwrap_or("An unnamed application");
    // CIMD §6 / CHECKLIST §12.9: show who published the client's metadata.
    let document_host = crate::oauth::cimd::is_cimd_client_id(&client.client_id)
        .then(|| Url::parse(&client.client_id).ok().and_then(|u| u.host_str().map(str::to_owned)))
        .flatten();
    let view = ConsentView {
        document_host: document_host.as_deref(),
        client_name,
        redirect_host: &redirect_host,
        redirect_uri: &grant.redirect_uri,
        scopes: grant.scope.split(' ').map(|s| (s, describe(s))).collect(),
        consent_id: &consent_id,
        csrf_token: &csrf_token,
        subject: &grant.subject,
    };
    let secure = if state.issuer.starts_with("https://") { "; Secure" } else { "" };
    let cookie = format!("{CSRF_COOKIE}={csrf_token}; Path=/authorize; HttpOnly; SameSite=Strict{secure}");
    let mut response = Html(consent_page(&view)).into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    with_page_headers(response)
}

/// `POST /authorize/decision` with `consent_id`, `csrf_token`, `decision`.
pub async fn decide(State(state): State<Arc<OAuthState>>, headers: HeaderMap, body: Bytes) -> Response {
    let form = std::str::from_utf8(&body).ok().and_then(|b| QueryParams::parse(b).ok());
    let Some(form) = form else {
        return error_page(StatusCode::BAD_REQUEST, "The consent form could not be read.");
    };
    let (Some(consent_id), Some(csrf_token), Some(decision)) =
        (form.get("consent_id"), form.get("csrf_token"), form.get("decision"))
    else {
        return error_page(StatusCode::BAD_REQUEST, "The consent form is incomplete.");
    };

    let pending = match state.store.take_pending_consent(&hash_secret(consent_id)) {
        Ok(Some(p)) => p,
        Ok(None) => {
            return error_page(StatusCode::BAD_REQUEST, "This consent request is unknown or was already answered.");
        }
        Err(e) => {
            tracing::error!(error = %e, "pending consent lookup failed");
            return error_page(StatusCode::INTERNAL_SERVER_ERROR, "The server could not load the consent request.");
        }
    };
    // CSRF: the token in the form must be the one bound to this request, and
    // the browser must also present it as the SameSite cookie we set.
    let cookie_ok = cookie_value(&headers, CSRF_COOKIE).is_some_and(|c| c == csrf_token);
    if !cookie_ok || !hashes_equal(&hash_secret(csrf_token), &pending.csrf_hash) {
        tracing::warn!(client_id = %pending.grant.client_id, "consent decision failed the CSRF check");
        return error_page(
            StatusCode::FORBIDDEN,
            "The consent form did not come from this browser session (CSRF check failed).",
        );
    }
    if pending.expires_at < now() {
        return error_page(StatusCode::BAD_REQUEST, "This consent request has expired; start again.");
    }

    // The answer must come from the user the request was shown to.
    let same_user = crate::oauth::session::current_user(&state, &headers)
        .is_some_and(|user| user.username == pending.grant.subject);
    if !same_user {
        return error_page(StatusCode::FORBIDDEN, "You are no longer signed in as the user this request was for.");
    }

    match decision {
        "approve" => {
            // Remember the consent (merged with earlier ones) for next time.
            let previous = state.store.find_consent(&pending.grant.subject, &pending.grant.client_id).ok().flatten();
            let merged = format!("{} {}", previous.unwrap_or_default(), pending.grant.scope);
            let merged = ScopeSet::parse(&merged).map(|s| s.to_scope_string()).unwrap_or(pending.grant.scope.clone());
            if let Err(e) = state.store.upsert_consent(&pending.grant.subject, &pending.grant.client_id, &merged) {
                tracing::error!(error = %e, "storing a consent failed");
            }
            issue_code_and_redirect(&state, &pending.grant, pending.state.as_deref())
        }
        _ => {
            tracing::info!(client_id = %pending.grant.client_id, "the user denied access");
            redirect_error(
                &pending.grant.redirect_uri,
                &state.issuer,
                pending.state.as_deref(),
                &AuthorizeError { code: "access_denied", description: "the user denied the request".into() },
            )
        }
    }
}
