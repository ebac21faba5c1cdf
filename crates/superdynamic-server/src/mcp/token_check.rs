//! The resource-server side of `/mcp`: the bearer token checks ([`crate::mcp::endpoint`] applies them before a
//! request reaches a tool; RFC 6750, RFC 9068 §4, MCP authorization §Access Token Usage).
//!
//! Decisions:
//! - no `Authorization`, or a non-Bearer scheme → 401 without `error`
//!   (RFC 6750 §3.1: no error code when no credentials were sent);
//! - a Bearer header that is malformed (no token, not token68, repeated
//!   header) or a token in the query string → 400 `invalid_request`;
//! - bad signature / expired / wrong issuer / wrong audience / revoked
//!   (RFC 7009, by `jti`) → 401 `invalid_token`;
//! - `tools/call` of a tool whose scope the token lacks → 403 `insufficient_scope`.

use std::sync::Arc;

use axum::Json;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::mcp::verified_tokens::VerifiedTokens;
use crate::oauth::jwt::{AccessClaims, TokenVerifier};
use crate::oauth::revoked::RevokedAccessTokens;
use crate::scope::DEFAULT_SCOPE;

/// The subject tools see when the server runs with `no_auth`.
pub const ANONYMOUS_SUBJECT: &str = "anonymous";

/// Largest JSON-RPC message accepted on `/mcp`.
pub const MAX_MCP_BODY: usize = 1024 * 1024;

pub struct ResourceState {
    pub issuer: String,
    /// The canonical resource URI (`<base>/mcp`), also the required `aud`.
    pub resource: String,
    /// Where the RFC 9728 document lives, for `resource_metadata=`.
    pub resource_metadata_url: String,
    /// Access token verification, remembering tokens already verified.
    tokens: VerifiedTokens,
    /// Access tokens revoked at `/revoke` (shared with the authorization server).
    revoked: Arc<RevokedAccessTokens>,
}

impl ResourceState {
    pub fn new(
        issuer: String,
        resource: String,
        resource_metadata_url: String,
        verifier: TokenVerifier,
        revoked: Arc<RevokedAccessTokens>,
    ) -> Self {
        let tokens = VerifiedTokens::new(verifier, &resource, crate::mcp::verified_tokens::DEFAULT_CAPACITY);
        Self { issuer, resource, resource_metadata_url, tokens, revoked }
    }
}

/// Why a request is turned away before it reaches the MCP server.
#[derive(Debug, thiserror::Error)]
pub enum Rejection {
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
    /// The answer (logged: the reason only, never the token).
    pub fn reject(self, rs: &ResourceState) -> Response {
        tracing::info!(reason = %self, "rejected an MCP request");
        self.into_response(rs)
    }

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
pub fn missing_scope(message: &Value, claims: &AccessClaims) -> Option<Rejection> {
    match message {
        Value::Array(items) => items.iter().find_map(|m| missing_scope(m, claims)),
        Value::Object(obj) if obj.get("method").and_then(Value::as_str) == Some("tools/call") => {
            let tool = obj.get("params")?.get("name")?.as_str()?;
            missing_tool_scope(tool, claims)
        }
        _ => None,
    }
}

/// RFC 6750 §3.1 `insufficient_scope` when the token lacks the scope `tool` needs.
pub fn missing_tool_scope(tool: &str, claims: &AccessClaims) -> Option<Rejection> {
    let scope = crate::tools::required_scope(tool)?;
    (!claims.has_scope(scope)).then(|| Rejection::InsufficientScope { tool: tool.to_owned(), scope })
}

/// The bearer check of every `/mcp` request (RFC 6750 §2.1, RFC 9068 §4): the token's claims, once its
/// signature, `typ`, issuer, audience and expiry hold (or held for this exact token before, see
/// [`VerifiedTokens`]: expiry and audience are checked again) and it is not revoked (RFC 7009).
pub fn authenticate(rs: &ResourceState, parts: &Parts) -> Result<Arc<AccessClaims>, Rejection> {
    // RFC 6750 §2.3 query tokens are not supported (and MCP forbids them).
    if parts.uri.query().is_some_and(|q| q.split('&').any(|p| p.starts_with("access_token="))) {
        return Err(Rejection::Malformed("access tokens are accepted only in the Authorization header"));
    }
    let token = bearer_token(&parts.headers)?;
    let claims = rs.tokens.verify(token, crate::storage::now()).map_err(|e| Rejection::InvalidToken(e.to_string()))?;
    if rs.revoked.contains(&claims.jti) {
        return Err(Rejection::InvalidToken("the token has been revoked".into()));
    }
    Ok(claims)
}

/// The claims tools see in `no_auth` mode: a fixed anonymous subject with
/// every resource scope, never expiring (`exp` 0 stands for "no token").
pub fn anonymous_claims(rs: &ResourceState) -> AccessClaims {
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
