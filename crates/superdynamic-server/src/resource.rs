//! The resource-server side of `/mcp`: bearer token checks in front of rmcp
//! (RFC 6750, RFC 9068 §4, MCP authorization §Access Token Usage).
//!
//! Decisions:
//! - no `Authorization`, or a non-Bearer scheme → 401 without `error`
//!   (RFC 6750 §3.1: no error code when no credentials were sent);
//! - a Bearer header that is malformed (no token, not token68, repeated
//!   header) or a token in the query string → 400 `invalid_request`;
//! - bad signature / expired / wrong issuer / wrong audience / revoked
//!   (RFC 7009, by `jti`) → 401 `invalid_token`;
//! - `tools/call` of a tool whose scope the token lacks → 403 `insufficient_scope`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::jwt::{AccessClaims, TokenVerifier};
use crate::revocation::RevokedAccessTokens;
use crate::scope::DEFAULT_SCOPE;

/// The subject tools see when the server runs with `no_auth`.
pub const ANONYMOUS_SUBJECT: &str = "anonymous";

/// Largest JSON-RPC message accepted on `/mcp`.
pub const MAX_MCP_BODY: usize = 1024 * 1024;
const SESSION_HEADER: &str = "mcp-session-id";

pub struct ResourceState {
    pub issuer: String,
    /// The canonical resource URI (`<base>/mcp`), also the required `aud`.
    pub resource: String,
    /// Where the RFC 9728 document lives, for `resource_metadata=`.
    pub resource_metadata_url: String,
    pub verifier: TokenVerifier,
    /// Access tokens revoked at `/revoke` (shared with the authorization server).
    revoked: Arc<RevokedAccessTokens>,
    /// MCP session id → subject that created it (SBP §Session Hijacking:
    /// a session is only usable with tokens of the same user).
    sessions: Mutex<HashMap<String, String>>,
}

impl ResourceState {
    pub fn new(
        issuer: String,
        resource: String,
        resource_metadata_url: String,
        verifier: TokenVerifier,
        revoked: Arc<RevokedAccessTokens>,
    ) -> Self {
        Self { issuer, resource, resource_metadata_url, verifier, revoked, sessions: Mutex::new(HashMap::new()) }
    }
}

/// Why a request is turned away before it reaches the MCP server.
#[derive(Debug, thiserror::Error)]
enum Rejection {
    #[error("this resource requires a bearer access token")]
    NoToken,
    #[error("{0}")]
    Malformed(&'static str),
    #[error("{0}")]
    InvalidToken(String),
    #[error("the tool {tool:?} requires the scope {scope:?}, which this access token does not grant")]
    InsufficientScope { tool: String, scope: &'static str },
    #[error("the request body exceeds {MAX_MCP_BODY} bytes")]
    TooLarge,
    #[error("the MCP session belongs to a different user")]
    ForeignSession,
}

/// Quotes a value for an auth-param (RFC 9110 §11.2 quoted-string).
fn quoted(value: &str) -> String {
    value
        .chars()
        .filter(|c| !c.is_control())
        .map(|c| if c == '"' || c == '\\' { format!("\\{c}") } else { c.to_string() })
        .collect()
}

impl Rejection {
    fn into_response(self, rs: &ResourceState) -> Response {
        let meta = quoted(&rs.resource_metadata_url);
        let description = quoted(&self.to_string());
        let (status, code, challenge) = match &self {
            Self::NoToken => (
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                Some(format!(r#"Bearer resource_metadata="{meta}", scope="{DEFAULT_SCOPE}""#)),
            ),
            Self::Malformed(_) => (
                StatusCode::BAD_REQUEST,
                "invalid_request",
                Some(format!(
                    r#"Bearer error="invalid_request", error_description="{description}", resource_metadata="{meta}""#
                )),
            ),
            Self::InvalidToken(_) => (
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                Some(format!(
                    r#"Bearer error="invalid_token", error_description="{description}", resource_metadata="{meta}", scope="{DEFAULT_SCOPE}""#
                )),
            ),
            // RFC 6750 §3.1 + MCP 2025-11-25 §Scope Challenge Handling.
            Self::InsufficientScope { scope, .. } => (
                StatusCode::FORBIDDEN,
                "insufficient_scope",
                Some(format!(
                    r#"Bearer error="insufficient_scope", scope="{scope}", resource_metadata="{meta}", error_description="{description}""#
                )),
            ),
            Self::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "invalid_request", None),
            Self::ForeignSession => (StatusCode::NOT_FOUND, "invalid_request", None),
        };
        let mut body = json!({"error": code, "error_description": self.to_string()});
        if matches!(self, Self::NoToken)
            && let Some(obj) = body.as_object_mut()
        {
            // No error code when no credentials were presented (RFC 6750 §3.1).
            obj.remove("error");
        }
        let mut response = (status, Json(body)).into_response();
        if let Some(challenge) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, challenge);
        }
        response
    }
}

/// Extracts the bearer token from the (single) Authorization header.
fn bearer_token(headers: &HeaderMap) -> Result<&str, Rejection> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Err(Rejection::NoToken);
    };
    if values.next().is_some() {
        return Err(Rejection::Malformed("more than one Authorization header"));
    }
    let value = value.to_str().map_err(|_| Rejection::Malformed("the Authorization header is not valid text"))?;
    let (scheme, rest) = value.trim().split_once(' ').unwrap_or((value.trim(), ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(Rejection::NoToken);
    }
    let token = rest.trim();
    // RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
    let body = token.trim_end_matches('=');
    let well_formed = !body.is_empty()
        && body.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~' | b'+' | b'/'));
    if !well_formed {
        return Err(Rejection::Malformed("the Authorization header must be 'Bearer <token>' with a token68 value"));
    }
    Ok(token)
}

/// The scope a JSON-RPC message needs beyond a valid token, if any: only
/// `tools/call` of a scoped tool. Batches (2025-03-26) are checked per entry.
fn missing_scope(message: &Value, claims: &AccessClaims) -> Option<(String, &'static str)> {
    match message {
        Value::Array(items) => items.iter().find_map(|m| missing_scope(m, claims)),
        Value::Object(obj) if obj.get("method").and_then(Value::as_str) == Some("tools/call") => {
            let tool = obj.get("params")?.get("name")?.as_str()?;
            let scope = crate::tools::required_scope(tool)?;
            (!claims.has_scope(scope)).then(|| (tool.to_owned(), scope))
        }
        _ => None,
    }
}

/// Axum middleware guarding `/mcp`. Valid claims are put in the request
/// extensions, which rmcp hands to tool handlers inside `http::request::Parts`.
pub async fn require_bearer(State(rs): State<Arc<ResourceState>>, request: Request, next: Next) -> Response {
    match check(&rs, request).await {
        Ok((request, claims)) => {
            let is_delete = request.method() == Method::DELETE;
            let session = request.headers().get(SESSION_HEADER).and_then(|v| v.to_str().ok()).map(str::to_owned);
            let response = next.run(request).await;
            remember_session(&rs, &response, session, is_delete, &claims);
            response
        }
        Err(rejection) => {
            tracing::info!(reason = %rejection, "rejected an MCP request");
            rejection.into_response(&rs)
        }
    }
}

async fn check(rs: &ResourceState, request: Request) -> Result<(Request, AccessClaims), Rejection> {
    let (mut parts, body) = request.into_parts();
    // RFC 6750 §2.3 query tokens are not supported (and MCP forbids them).
    if parts.uri.query().is_some_and(|q| q.split('&').any(|p| p.starts_with("access_token="))) {
        return Err(Rejection::Malformed("access tokens are accepted only in the Authorization header"));
    }
    let token = bearer_token(&parts.headers)?;
    let claims = rs.verifier.verify(token).map_err(|e| Rejection::InvalidToken(e.to_string()))?;
    if rs.revoked.contains(&claims.jti) {
        return Err(Rejection::InvalidToken("the token has been revoked".into()));
    }

    if let Some(session) = parts.headers.get(SESSION_HEADER).and_then(|v| v.to_str().ok()) {
        let owner = rs.sessions.lock().ok().and_then(|s| s.get(session).cloned());
        if owner.is_some_and(|sub| sub != claims.sub) {
            return Err(Rejection::ForeignSession);
        }
    }

    let body = if parts.method == Method::POST {
        let bytes: Bytes = axum::body::to_bytes(body, MAX_MCP_BODY).await.map_err(|_| Rejection::TooLarge)?;
        // Unparseable JSON is left to rmcp, which answers with a JSON-RPC parse error.
        if let Ok(message) = serde_json::from_slice::<Value>(&bytes)
            && let Some((tool, scope)) = missing_scope(&message, &claims)
        {
            return Err(Rejection::InsufficientScope { tool, scope });
        }
        Body::from(bytes)
    } else {
        body
    };
    parts.extensions.insert(claims.clone());
    Ok((Request::from_parts(parts, body), claims))
}

/// The claims tools see in `no_auth` mode: a fixed anonymous subject with
/// every resource scope, never expiring (`exp` 0 stands for "no token").
fn anonymous_claims(rs: &ResourceState) -> AccessClaims {
    AccessClaims {
        iss: rs.issuer.clone(),
        sub: ANONYMOUS_SUBJECT.to_owned(),
        aud: rs.resource.clone(),
        exp: 0,
        iat: 0,
        jti: String::new(),
        client_id: ANONYMOUS_SUBJECT.to_owned(),
        scope: crate::scope::RESOURCE_SCOPES.join(" "),
    }
}

/// Axum middleware used instead of [`require_bearer`] when the server runs
/// with `no_auth` (loopback only): no token is needed, and tools see
/// [`anonymous_claims`].
pub async fn allow_anonymous(State(rs): State<Arc<ResourceState>>, mut request: Request, next: Next) -> Response {
    request.extensions_mut().insert(anonymous_claims(&rs));
    next.run(request).await
}

/// Binds a new session to the token's subject; forgets it when deleted.
fn remember_session(
    rs: &ResourceState,
    response: &Response,
    request_session: Option<String>,
    is_delete: bool,
    claims: &AccessClaims,
) {
    let Ok(mut sessions) = rs.sessions.lock() else {
        return;
    };
    match request_session {
        Some(id) if is_delete && response.status().is_success() => {
            sessions.remove(&id);
        }
        Some(_) => {}
        None => {
            if let Some(id) = response.headers().get(SESSION_HEADER).and_then(|v| v.to_str().ok()) {
                sessions.insert(id.to_owned(), claims.sub.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_header_parsing() {
        let mut h = HeaderMap::new();
        assert!(matches!(bearer_token(&h), Err(Rejection::NoToken)));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer abc.def-ghi_~+/=="));
        assert_eq!(bearer_token(&h).unwrap(), "abc.def-ghi_~+/==");
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("bearer x"));
        assert_eq!(bearer_token(&h).unwrap(), "x");
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer"));
        assert!(matches!(bearer_token(&h), Err(Rejection::Malformed(_))));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer a b"));
        assert!(matches!(bearer_token(&h), Err(Rejection::Malformed(_))));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic dXNlcjpwdw=="));
        assert!(matches!(bearer_token(&h), Err(Rejection::NoToken)));
    }

    #[test]
    fn quoting() {
        assert_eq!(quoted(r#"a"b\c"#), r#"a\"b\\c"#);
    }
}
