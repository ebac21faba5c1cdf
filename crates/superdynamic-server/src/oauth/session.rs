//! Browser sign-in (demo users, see [`crate::oauth::users`]), remembered consents
//! and the `/consents` page where a signed-in user reviews and revokes them.
//!
//! - The session is a random id in a cookie (`__Host-` prefixed and `Secure`
//!   under TLS; always `HttpOnly`, `SameSite=Lax`, `Path=/`); only its hash
//!   is stored (MCP SBP §Confused Deputy: consent state server-side).
//! - The sign-in form is protected by a double-submit CSRF cookie; the forms
//!   of a signed-in user carry a token derived from the session id.
//! - A consent is remembered per (user, client); `/authorize` skips the
//!   consent page when every requested scope was granted before.
//!   Revoking a consent also revokes that client's refresh tokens for the user.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use crate::oauth::params::QueryParams;
use crate::oauth::params::cookie_value;
use crate::oauth::secrets::{hash_secret, hashes_equal, random_token};
use crate::oauth::state::OAuthState;
use crate::pages::{ConsentRow, consents_page, error_page, info_page, login_page, with_page_headers};
use crate::storage::now;

const SESSION_LIFETIME_SECS: i64 = 8 * 3600;
const LOGIN_CSRF_COOKIE: &str = "superdynamic_login_csrf";

/// A signed-in browser.
pub struct SignedIn {
    pub username: String,
    /// CSRF token for this session's forms (derived from the session id).
    pub csrf_token: String,
}

fn secure(state: &OAuthState) -> bool {
    state.issuer.starts_with("https://")
}

/// RFC 6265bis §4.1.3.2: `__Host-` needs Secure, so only under TLS.
fn session_cookie_name(state: &OAuthState) -> &'static str {
    if secure(state) { "__Host-superdynamic_session" } else { "superdynamic_session" }
}

fn csrf_for(session_id: &str) -> String {
    hash_secret(&format!("session-csrf:{session_id}"))
}

fn set_cookie(response: &mut Response, cookie: &str) {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

/// The signed-in user of this request, if any.
pub fn current_user(state: &OAuthState, headers: &HeaderMap) -> Option<SignedIn> {
    let id = cookie_value(headers, session_cookie_name(state))?;
    match state.store.find_session(&hash_secret(id)) {
        Ok(Some((username, _))) => Some(SignedIn { username, csrf_token: csrf_for(id) }),
        Ok(None) => None,
        Err(e) => {
            tracing::error!(error = %e, "session lookup failed");
            None
        }
    }
}

/// Only our own pages may be returned to after signing in (no open redirect).
fn safe_return_to(target: &str) -> Option<&str> {
    (target.starts_with("/authorize?") || target == "/consents").then_some(target)
}

/// The sign-in page, which returns to `return_to` afterwards.
pub fn sign_in(state: &OAuthState, return_to: &str, asking: Option<&str>, error: Option<&str>) -> Response {
    let Ok(csrf) = random_token() else {
        return error_page(StatusCode::INTERNAL_SERVER_ERROR, "The server could not create a sign-in form.");
    };
    let status = if error.is_some() { StatusCode::UNAUTHORIZED } else { StatusCode::OK };
    let mut response = (status, Html(login_page(return_to, &csrf, asking, error))).into_response();
    let secure = if secure(state) { "; Secure" } else { "" };
    set_cookie(&mut response, &format!("{LOGIN_CSRF_COOKIE}={csrf}; Path=/login; HttpOnly; SameSite=Strict{secure}"));
    with_page_headers(response)
}

fn parse_body(body: &[u8]) -> Option<QueryParams> {
    std::str::from_utf8(body).ok().and_then(|b| QueryParams::parse(b).ok())
}

/// `POST /login`: checks the password and starts a session.
pub async fn login(State(state): State<Arc<OAuthState>>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(form) = parse_body(&body) else {
        return error_page(StatusCode::BAD_REQUEST, "The sign-in form could not be read.");
    };
    let return_to = form.get("return_to").and_then(safe_return_to).unwrap_or("/consents").to_owned();
    let csrf_ok = match (form.get("csrf_token"), cookie_value(&headers, LOGIN_CSRF_COOKIE)) {
        (Some(sent), Some(cookie)) => hashes_equal(&hash_secret(sent), &hash_secret(cookie)),
        _ => false,
    };
    if !csrf_ok {
        return error_page(
            StatusCode::FORBIDDEN,
            "The sign-in form did not come from this browser (CSRF check failed).",
        );
    }
    let (username, password) = (form.get("username").unwrap_or(""), form.get("password").unwrap_or(""));
    if !state.users.verify(username, password) {
        tracing::info!("a sign-in attempt failed");
        return sign_in(&state, &return_to, None, Some("Wrong username or password."));
    }
    let Ok(session_id) = random_token() else {
        return error_page(StatusCode::INTERNAL_SERVER_ERROR, "The server could not start a session.");
    };
    let expires_at = now() + SESSION_LIFETIME_SECS;
    if let Err(e) = state.store.insert_session(
        &hash_secret(&session_id),
        username,
        &hash_secret(&csrf_for(&session_id)),
        expires_at,
    ) {
        tracing::error!(error = %e, "storing a session failed");
        return error_page(StatusCode::INTERNAL_SERVER_ERROR, "The server could not start a session.");
    }
    tracing::info!(username, "a user signed in");
    let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, return_to)]).into_response();
    let secure = if secure(&state) { "; Secure" } else { "" };
    set_cookie(
        &mut response,
        &format!(
            "{}={session_id}; Path=/; HttpOnly; SameSite=Lax; Max-Age={SESSION_LIFETIME_SECS}{secure}",
            session_cookie_name(&state)
        ),
    );
    set_cookie(&mut response, &format!("{LOGIN_CSRF_COOKIE}=; Path=/login; Max-Age=0"));
    with_page_headers(response)
}

/// `GET /consents`: the signed-in user's remembered consents.
pub async fn consents(State(state): State<Arc<OAuthState>>, headers: HeaderMap) -> Response {
    let Some(user) = current_user(&state, &headers) else {
        return sign_in(&state, "/consents", None, None);
    };
    let rows = match state.store.list_consents(&user.username) {
        Ok(rows) => rows,
        Err(e) => {
            tracing::error!(error = %e, "listing consents failed");
            return error_page(StatusCode::INTERNAL_SERVER_ERROR, "The server could not load your consents.");
        }
    };
    let rows: Vec<ConsentRow> = rows
        .into_iter()
        .map(|(client_id, scope, granted_at)| {
            let name = state.store.find_client(&client_id).ok().flatten().and_then(|c| c.metadata.client_name);
            ConsentRow { client_name: name.unwrap_or_else(|| client_id.clone()), client_id, scope, granted_at }
        })
        .collect();
    with_page_headers(Html(consents_page(&user.username, &rows, &user.csrf_token)).into_response())
}

/// Checks the session-bound CSRF token of a signed-in user's form.
// The error is the finished response; it is built once per refused request.
#[allow(clippy::result_large_err)]
fn signed_in_form(state: &OAuthState, headers: &HeaderMap, body: &[u8]) -> Result<(SignedIn, QueryParams), Response> {
    let user = current_user(state, headers)
        .ok_or_else(|| error_page(StatusCode::UNAUTHORIZED, "You are not signed in (or your session expired)."))?;
    let form = parse_body(body).ok_or_else(|| error_page(StatusCode::BAD_REQUEST, "The form could not be read."))?;
    let csrf_ok = form.get("csrf_token").is_some_and(|t| hashes_equal(&hash_secret(t), &hash_secret(&user.csrf_token)));
    if !csrf_ok {
        return Err(error_page(StatusCode::FORBIDDEN, "The form did not come from this session (CSRF check failed)."));
    }
    Ok((user, form))
}

/// `POST /consents/revoke` with `client_id` and `csrf_token`.
pub async fn revoke_consent(State(state): State<Arc<OAuthState>>, headers: HeaderMap, body: Bytes) -> Response {
    let (user, form) = match signed_in_form(&state, &headers, &body) {
        Ok(ok) => ok,
        Err(response) => return response,
    };
    let Some(client_id) = form.get("client_id") else {
        return error_page(StatusCode::BAD_REQUEST, "No application was named.");
    };
    match state.store.revoke_consent(&user.username, client_id) {
        Ok(_) => {
            tracing::info!(%client_id, username = %user.username, "a user revoked a consent");
            with_page_headers((StatusCode::SEE_OTHER, [(header::LOCATION, "/consents")]).into_response())
        }
        Err(e) => {
            tracing::error!(error = %e, "revoking a consent failed");
            error_page(StatusCode::INTERNAL_SERVER_ERROR, "The server could not revoke the consent.")
        }
    }
}

/// `POST /logout` with `csrf_token`.
pub async fn logout(State(state): State<Arc<OAuthState>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(response) = signed_in_form(&state, &headers, &body) {
        return response;
    }
    if let Some(id) = cookie_value(&headers, session_cookie_name(&state))
        && let Err(e) = state.store.delete_session(&hash_secret(id))
    {
        tracing::error!(error = %e, "deleting a session failed");
    }
    let mut response = Html(info_page("Signed out", "You are signed out.")).into_response();
    let secure = if secure(&state) { "; Secure" } else { "" };
    set_cookie(
        &mut response,
        &format!("{}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax{secure}", session_cookie_name(&state)),
    );
    with_page_headers(response)
}
