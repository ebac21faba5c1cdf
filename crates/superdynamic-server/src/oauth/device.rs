//! OAuth 2.0 Device Authorization Grant (RFC 8628).
//!
//! - `POST /device_authorization` (§3.1/§3.2): the device gets a device code
//!   (stored hashed, single use) and a short user code to show its user;
//! - `GET /device` (§3.3): a page to enter the user code (pre-filled from
//!   `?user_code=`, the `verification_uri_complete` form);
//! - `POST /device`: looks the code up and shows the consent page (client
//!   name, scopes in words, Approve/Deny with CSRF protection), or approves
//!   at once with `auto_approve`;
//! - `POST /device/decision`: the user's answer.
//!
//! The device polls `/token` with the device code grant; see
//! [`crate::oauth::token`] and [`crate::storage::Store::poll_device_code`].

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Serialize;

use crate::oauth::client_auth;
use crate::oauth::error_response::{TokenError, no_store};
use crate::oauth::grant_types::DEVICE_CODE_GRANT;
use crate::oauth::params::QueryParams;
use crate::oauth::params::cookie_value;
use crate::oauth::params::{authorization_header, parse_form};
use crate::oauth::secrets::{RandomError, fill_random, hash_secret, hashes_equal, random_token};
use crate::oauth::state::OAuthState;
use crate::oauth::token::check_resource;
use crate::pages::{
    DeviceConsentView, device_consent_page, device_entry_page, error_page, info_page, with_page_headers,
};
use crate::scope::{DEFAULT_SCOPE, ScopeSet, describe};
use crate::storage::{DeviceRequest, now};

/// RFC 8628 §6.1: consonants only (no vowels, so no words; no look-alikes
/// such as 0/O or 1/I). 20^8 ≈ 2^34.6 codes.
const USER_CODE_ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";
const USER_CODE_LEN: usize = 8;
pub const DEVICE_CSRF_COOKIE: &str = "superdynamic_device_csrf";

/// A fresh user code, without the separator (e.g. `BDFGHJKL`).
fn new_user_code() -> Result<String, RandomError> {
    let mut code = String::with_capacity(USER_CODE_LEN);
    // Rejection sampling: 240 = 12 × 20, so `b % 20` is uniform for b < 240.
    while code.len() < USER_CODE_LEN {
        let mut bytes = [0u8; 16];
        fill_random(&mut bytes)?;
        for b in bytes {
            if b < 240 && code.len() < USER_CODE_LEN {
                code.push(char::from(USER_CODE_ALPHABET[usize::from(b % 20)]));
            }
        }
    }
    Ok(code)
}

/// What the user typed, normalised (§6.1: case-insensitive, separators and
/// spaces ignored); `None` unless it is 8 characters of the alphabet.
fn normalize_user_code(input: &str) -> Option<String> {
    let code: String =
        input.chars().filter(|c| !matches!(c, '-' | ' ' | '\t')).map(|c| c.to_ascii_uppercase()).collect();
    let valid = code.len() == USER_CODE_LEN && code.bytes().all(|b| USER_CODE_ALPHABET.contains(&b));
    valid.then_some(code)
}

/// `XXXX-XXXX`, as shown to people.
fn display_user_code(code: &str) -> String {
    match (code.get(..4), code.get(4..)) {
        (Some(a), Some(b)) if !b.is_empty() => format!("{a}-{b}"),
        _ => code.to_owned(),
    }
}

/// The key a user code is stored under.
fn user_code_hash(normalized: &str) -> String {
    hash_secret(&format!("user_code:{normalized}"))
}

#[derive(Debug, Serialize)]
struct DeviceAuthorizationResponse {
    device_code: String,
    user_code: String,
    verification_uri: String,
    verification_uri_complete: String,
    expires_in: u64,
    interval: u64,
}

/// `POST /device_authorization` (RFC 8628 §3.1).
pub async fn device_authorization(State(state): State<Arc<OAuthState>>, headers: HeaderMap, body: Bytes) -> Response {
    match authorize_device(&state, &headers, &body).await {
        Ok(answer) => {
            let mut response = Json(answer).into_response();
            no_store(&mut response);
            response
        }
        Err(e) => {
            tracing::info!(error = e.code(), "device authorization request refused");
            e.into_response()
        }
    }
}

async fn authorize_device(
    state: &OAuthState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<DeviceAuthorizationResponse, TokenError> {
    let form = parse_form(headers, body)?;
    let authorization = authorization_header(headers)?;
    // §3.1: confidential clients authenticate as at the token endpoint;
    // public clients send client_id.
    let client = client_auth::authenticate(state, authorization, &form).await?;
    if !client.metadata.allows_grant(DEVICE_CODE_GRANT) {
        return Err(TokenError::UnauthorizedClient(format!(
            "the client did not register the {DEVICE_CODE_GRANT} grant type"
        )));
    }
    // RFC 8707 §2, as at /authorize: only the MCP endpoint.
    check_resource(state, &form)?;
    let scope = ScopeSet::parse(form.get("scope").unwrap_or(DEFAULT_SCOPE))
        .map_err(|e| TokenError::InvalidScope(e.to_string()))?;
    let scope = if scope.is_empty() {
        ScopeSet::parse(DEFAULT_SCOPE).map_err(|e| TokenError::Server(e.to_string()))?
    } else {
        scope
    };

    let server = |e: &dyn std::fmt::Display| TokenError::Server(e.to_string());
    let device_code = random_token().map_err(|e| server(&e))?;
    let expires_in = state.device_code_ttl.as_secs();
    let expires_at = now().saturating_add(i64::try_from(expires_in).unwrap_or(i64::MAX));
    let interval_ms = i64::try_from(state.device_poll_interval.as_millis()).unwrap_or(i64::MAX);
    let mut user_code = None;
    // A collision among live user codes is unlikely; draw again if it happens.
    for _ in 0..5 {
        let candidate = new_user_code().map_err(|e| server(&e))?;
        let stored = state
            .store
            .insert_device_code(
                &hash_secret(&device_code),
                &user_code_hash(&candidate),
                &client.client_id,
                &scope.to_scope_string(),
                &state.resource,
                expires_at,
                interval_ms,
            )
            .map_err(|e| server(&e))?;
        if stored {
            user_code = Some(candidate);
            break;
        }
    }
    let user_code = user_code.ok_or_else(|| TokenError::Server("could not draw a unique user code".into()))?;
    let shown = display_user_code(&user_code);
    let verification_uri = format!("{}/device", state.issuer);
    tracing::info!(client_id = %client.client_id, scope = %scope.to_scope_string(), "started a device authorization");
    Ok(DeviceAuthorizationResponse {
        device_code,
        verification_uri_complete: format!("{verification_uri}?user_code={shown}"),
        user_code: shown,
        verification_uri,
        expires_in,
        // Whole seconds, rounded up (the server enforces the exact value).
        interval: state.device_poll_interval.as_millis().div_ceil(1000).try_into().unwrap_or(u64::MAX),
    })
}

fn entry_page(status: StatusCode, prefill: &str, error: Option<&str>) -> Response {
    with_page_headers((status, Html(device_entry_page(prefill, error))).into_response())
}

/// `GET /device`: the code entry form.
pub async fn device_page(RawQuery(query): RawQuery) -> Response {
    let prefill = QueryParams::parse(query.as_deref().unwrap_or(""))
        .ok()
        .and_then(|q| {
            q.get("user_code").map(|c| normalize_user_code(c).map_or_else(|| c.to_owned(), |n| display_user_code(&n)))
        })
        .unwrap_or_default();
    entry_page(StatusCode::OK, &prefill, None)
}

/// The request a user code names, or why it cannot be used (in words for
/// the entry page).
fn usable(request: Option<DeviceRequest>, shown: &str) -> Result<DeviceRequest, String> {
    match request {
        None => Err(format!("The code {shown} is not valid. Check the code shown on your device and enter it again.")),
        Some(r) if r.expires_at <= now() => {
            Err(format!("The code {shown} has expired. Start again on your device to get a new code."))
        }
        Some(r) if r.status != "pending" => Err(format!("The code {shown} has already been used.")),
        Some(r) => Ok(r),
    }
}

/// `POST /device`: the user entered a code.
pub async fn enter_code(State(state): State<Arc<OAuthState>>, body: Bytes) -> Response {
    let form = std::str::from_utf8(&body).ok().and_then(|b| QueryParams::parse(b).ok());
    let entered = form.as_ref().and_then(|f| f.get("user_code")).unwrap_or("");
    let Some(code) = normalize_user_code(entered) else {
        let message = if entered.is_empty() {
            "Enter the code shown on your device."
        } else {
            "That is not a valid code. Codes have 8 letters, like BCDF-GHJK."
        };
        return entry_page(StatusCode::BAD_REQUEST, entered, Some(message));
    };
    let shown = display_user_code(&code);
    let hash = user_code_hash(&code);
    let request = match state.store.find_device_by_user_code(&hash) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "device code lookup failed");
            return error_page(StatusCode::INTERNAL_SERVER_ERROR, "The server could not look up the code.");
        }
    };
    let request = match usable(request, &shown) {
        Ok(r) => r,
        Err(message) => {
            tracing::info!("a user code was refused at the verification page");
            return entry_page(StatusCode::BAD_REQUEST, &shown, Some(&message));
        }
    };
    let client = match client_auth::find_client(&state, &request.client_id).await {
        Ok(Some(c)) => c,
        Ok(None) => return error_page(StatusCode::BAD_REQUEST, "The application that asked is no longer registered."),
        Err(e) => {
            tracing::error!(error = %e, "client lookup failed");
            return error_page(StatusCode::INTERNAL_SERVER_ERROR, "The server could not look up the application.");
        }
    };
    let client_name = client.metadata.client_name.as_deref().unwrap_or("An unnamed application");

    if state.auto_approve {
        return finish(&state, &hash, None, true, client_name);
    }

    let Ok(csrf_token) = random_token() else {
        return error_page(StatusCode::INTERNAL_SERVER_ERROR, "The server could not create a consent request.");
    };
    match state.store.set_device_csrf(&hash, &hash_secret(&csrf_token)) {
        Ok(true) => {}
        Ok(false) => {
            return entry_page(StatusCode::BAD_REQUEST, &shown, Some("The code has already been used."));
        }
        Err(e) => {
            tracing::error!(error = %e, "could not store the device consent");
            return error_page(StatusCode::INTERNAL_SERVER_ERROR, "The server could not store the consent request.");
        }
    }
    let view = DeviceConsentView {
        client_name,
        user_code: &shown,
        scopes: request.scope.split(' ').filter(|s| !s.is_empty()).map(|s| (s, describe(s))).collect(),
        csrf_token: &csrf_token,
        subject: &state.demo_user,
    };
    let secure = if state.issuer.starts_with("https://") { "; Secure" } else { "" };
    let cookie = format!("{DEVICE_CSRF_COOKIE}={csrf_token}; Path=/device; HttpOnly; SameSite=Strict{secure}");
    let mut response = Html(device_consent_page(&view)).into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    with_page_headers(response)
}

/// `POST /device/decision` with `user_code`, `csrf_token`, `decision`.
pub async fn decide(State(state): State<Arc<OAuthState>>, headers: HeaderMap, body: Bytes) -> Response {
    let form = std::str::from_utf8(&body).ok().and_then(|b| QueryParams::parse(b).ok());
    let Some(form) = form else {
        return error_page(StatusCode::BAD_REQUEST, "The consent form could not be read.");
    };
    let (Some(user_code), Some(csrf_token), Some(decision)) =
        (form.get("user_code"), form.get("csrf_token"), form.get("decision"))
    else {
        return error_page(StatusCode::BAD_REQUEST, "The consent form is incomplete.");
    };
    let Some(code) = normalize_user_code(user_code) else {
        return error_page(StatusCode::BAD_REQUEST, "The consent form names no valid code.");
    };
    let hash = user_code_hash(&code);
    let request = match state.store.find_device_by_user_code(&hash) {
        Ok(Some(r)) => r,
        Ok(None) => return error_page(StatusCode::BAD_REQUEST, "This request is unknown."),
        Err(e) => {
            tracing::error!(error = %e, "device code lookup failed");
            return error_page(StatusCode::INTERNAL_SERVER_ERROR, "The server could not load the request.");
        }
    };
    // CSRF: the token in the form must be the one bound to this request, and
    // the browser must also present it as the SameSite cookie we set.
    let csrf_hash = hash_secret(csrf_token);
    let cookie_ok = cookie_value(&headers, DEVICE_CSRF_COOKIE).is_some_and(|c| c == csrf_token);
    let bound_ok = request.csrf_hash.as_deref().is_some_and(|stored| hashes_equal(&csrf_hash, stored));
    if !cookie_ok || !bound_ok {
        tracing::warn!(client_id = %request.client_id, "device consent decision failed the CSRF check");
        return error_page(
            StatusCode::FORBIDDEN,
            "The consent form did not come from this browser session (CSRF check failed).",
        );
    }
    let client_name = match client_auth::find_client(&state, &request.client_id).await {
        Ok(Some(c)) => c.metadata.client_name.unwrap_or_else(|| "The application".to_owned()),
        _ => "The application".to_owned(),
    };
    finish(&state, &hash, Some(&csrf_hash), decision == "approve", &client_name)
}

/// Records the answer and shows the result page.
fn finish(state: &OAuthState, hash: &str, csrf_hash: Option<&str>, approve: bool, client_name: &str) -> Response {
    match state.store.decide_device(hash, csrf_hash, approve, &state.demo_user) {
        Ok(true) if approve => {
            tracing::info!("the user approved a device");
            with_page_headers(
                Html(info_page(
                    "Device connected",
                    &format!(
                        "{client_name} can now access your account. You can close this page and return to your device."
                    ),
                ))
                .into_response(),
            )
        }
        Ok(true) => {
            tracing::info!("the user denied a device");
            with_page_headers(
                Html(info_page(
                    "Access denied",
                    &format!("{client_name} will not get access. You can close this page."),
                ))
                .into_response(),
            )
        }
        Ok(false) => error_page(StatusCode::BAD_REQUEST, "This request was already answered or has expired."),
        Err(e) => {
            tracing::error!(error = %e, "could not record the device decision");
            error_page(StatusCode::INTERNAL_SERVER_ERROR, "The server could not record your decision.")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_codes_use_the_alphabet_and_normalise() {
        for _ in 0..100 {
            let code = new_user_code().unwrap();
            assert_eq!(code.len(), 8);
            assert!(code.bytes().all(|b| USER_CODE_ALPHABET.contains(&b)));
            let shown = display_user_code(&code);
            assert_eq!(shown.len(), 9);
            assert_eq!(shown.as_bytes()[4], b'-');
            assert_eq!(normalize_user_code(&shown).as_deref(), Some(code.as_str()));
            assert_eq!(normalize_user_code(&shown.to_lowercase()).as_deref(), Some(code.as_str()));
        }
        assert_eq!(normalize_user_code("bcdf ghjk").as_deref(), Some("BCDFGHJK"));
        assert_eq!(normalize_user_code("BCDF-GHJ"), None);
        assert_eq!(normalize_user_code("BCDF-GHJA"), None, "vowels are not in the alphabet");
        assert_eq!(normalize_user_code("BCDF-GHJ0"), None);
        assert_eq!(normalize_user_code(""), None);
    }
}
