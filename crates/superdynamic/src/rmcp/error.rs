//! The error type of [`AuthorizedHttpClient`](super::AuthorizedHttpClient): an HTTP failure, or superdynamic's
//! own refusal (a sign-in that failed, a hostile server, a store that cannot be read) with its message intact,
//! so an rmcp caller sees what happened and what to do next.

use crate::error::Error;
use ::rmcp::transport::streamable_http_client::StreamableHttpError;

#[derive(Debug, thiserror::Error)]
pub enum AuthorizedHttpError {
    /// The HTTP request itself failed (connect, TLS, timeout, the network policy).
    #[error("{}", describe(.0))]
    Http(reqwest::Error),
    /// Discovery, registration, sign-in, refresh or the store: superdynamic's message.
    #[error(transparent)]
    Authorization(Error),
    /// A failure of a kind this version of superdynamic does not know rmcp to have.
    #[error("{0}")]
    Other(String),
}

impl AuthorizedHttpError {
    /// superdynamic's own error, when that is what this is.
    pub fn superdynamic(&self) -> Option<&Error> {
        match self {
            Self::Authorization(e) => Some(e),
            _ => None,
        }
    }
}

/// reqwest's message and its causes (where the network policy's refusal is), without a header or a token.
fn describe(e: &reqwest::Error) -> String {
    if let Some(blocked) = crate::ssrf::find_blocked(e) {
        let url = e.url().map(ToString::to_string).unwrap_or_default();
        return format!("{url}: {blocked}");
    }
    let mut causes = String::new();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        causes.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    let url = e.url().map(ToString::to_string).unwrap_or_else(|| "the MCP server".into());
    // The same advice as superdynamic's own transport (crate::http::HttpError).
    if e.is_timeout() {
        format!(
            "the MCP request to {url} timed out{causes}. The server may be down or overloaded; if it is only slow, \
             allow more time (ClientOptions::request_timeout)"
        )
    } else if e.is_connect() {
        format!("could not reach {url}{causes}. Is the server running and the URL right?")
    } else {
        format!("the MCP request to {url} failed{causes}")
    }
}

/// rmcp's error over its reqwest client, as the same error over ours.
pub(super) fn rewrap(e: StreamableHttpError<reqwest::Error>) -> StreamableHttpError<AuthorizedHttpError> {
    use StreamableHttpError as E;
    match e {
        E::Client(e) => E::Client(AuthorizedHttpError::Http(e)),
        E::Sse(e) => E::Sse(e),
        E::Io(e) => E::Io(e),
        E::HttpStatus(e) => E::HttpStatus(e),
        E::UnexpectedEndOfStream => E::UnexpectedEndOfStream,
        E::UnexpectedServerResponse(m) => E::UnexpectedServerResponse(m),
        E::ResponseBodyTooLarge { max_size } => E::ResponseBodyTooLarge { max_size },
        E::UnexpectedContentType(t) => E::UnexpectedContentType(t),
        E::ServerDoesNotSupportSse => E::ServerDoesNotSupportSse,
        E::ServerDoesNotSupportDeleteSession => E::ServerDoesNotSupportDeleteSession,
        E::TokioJoinError(e) => E::TokioJoinError(e),
        E::Deserialize(e) => E::Deserialize(e),
        E::TransportChannelClosed => E::TransportChannelClosed,
        E::MissingSessionIdInResponse => E::MissingSessionIdInResponse,
        E::Auth(e) => E::Auth(e),
        E::AuthRequired(e) => E::AuthRequired(e),
        E::InsufficientScope(e) => E::InsufficientScope(e),
        E::ReservedHeaderConflict(h) => E::ReservedHeaderConflict(h),
        E::SessionExpired => E::SessionExpired,
        E::SessionRecoveryTimeout => E::SessionRecoveryTimeout,
        E::ReinitializationFailed(e) => E::ReinitializationFailed(e),
        E::ControlRequestTimeout => E::ControlRequestTimeout,
        other => E::Client(AuthorizedHttpError::Other(other.to_string())),
    }
}
