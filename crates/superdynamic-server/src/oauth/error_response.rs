//! The JSON error answer of the back-channel endpoints (token, revocation, introspection, device
//! authorization): RFC 6749 §5.2, never cached.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// RFC 6749 §5.2 error responses.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("{0}")]
    InvalidRequest(String),
    #[error("{description}")]
    InvalidClient { description: String, basic_tried: bool },
    #[error("{0}")]
    InvalidGrant(String),
    #[error("{0}")]
    UnauthorizedClient(String),
    #[error("{0}")]
    UnsupportedGrantType(String),
    #[error("{0}")]
    InvalidScope(String),
    /// RFC 8707 §2.
    #[error("{0}")]
    InvalidTarget(String),
    /// RFC 8628 §3.5: the user has not answered yet.
    #[error("the user has not yet approved or denied the request")]
    AuthorizationPending,
    /// RFC 8628 §3.5: polled faster than the interval.
    #[error("polling too fast; wait 5 more seconds between requests")]
    SlowDown,
    /// RFC 8628 §3.5: the user denied the request.
    #[error("the user denied the request")]
    AccessDenied,
    /// RFC 8628 §3.5: the device code expired.
    #[error("the device code has expired; start a new device authorization")]
    ExpiredToken,
    /// RFC 9449 §5: the DPoP proof of the request is not acceptable.
    #[error("{0}")]
    InvalidDpopProof(String),
    /// RFC 9449 §8: retry with this nonce in the proof (sent as `DPoP-Nonce`).
    #[error("the DPoP proof must carry the nonce in the DPoP-Nonce header")]
    UseDpopNonce { nonce: String },
    #[error("internal error: {0}")]
    Server(String),
}

impl TokenError {
    pub(crate) fn code(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) => "invalid_request",
            Self::InvalidClient { .. } => "invalid_client",
            Self::InvalidGrant(_) => "invalid_grant",
            Self::UnauthorizedClient(_) => "unauthorized_client",
            Self::UnsupportedGrantType(_) => "unsupported_grant_type",
            Self::InvalidScope(_) => "invalid_scope",
            Self::InvalidTarget(_) => "invalid_target",
            Self::AuthorizationPending => "authorization_pending",
            Self::SlowDown => "slow_down",
            Self::AccessDenied => "access_denied",
            Self::ExpiredToken => "expired_token",
            Self::InvalidDpopProof(_) => "invalid_dpop_proof",
            Self::UseDpopNonce { .. } => "use_dpop_nonce",
            Self::Server(_) => "server_error",
        }
    }
}

/// OAuth 2.1 §3.2.3: token responses and errors must not be cached.
pub(crate) fn no_store(response: &mut Response) {
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

impl IntoResponse for TokenError {
    fn into_response(self) -> Response {
        let status = match &self {
            Self::InvalidClient { .. } => StatusCode::UNAUTHORIZED,
            Self::Server(detail) => {
                tracing::error!(detail, "token endpoint failure");
                StatusCode::INTERNAL_SERVER_ERROR
            }
            _ => StatusCode::BAD_REQUEST,
        };
        let description = match &self {
            Self::Server(_) => "the server failed to process the request".to_owned(),
            other => other.to_string(),
        };
        let mut response =
            (status, Json(json!({"error": self.code(), "error_description": description}))).into_response();
        if let Self::UseDpopNonce { nonce } = &self
            && let Ok(value) = HeaderValue::from_str(nonce)
        {
            response.headers_mut().insert(crate::dpop::NONCE_HEADER, value);
        }
        // RFC 6749 §5.2: a failed Basic attempt gets a Basic challenge.
        if let Self::InvalidClient { basic_tried: true, .. } = self {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"superdynamic-server\""));
        }
        no_store(&mut response);
        response
    }
}
