//! The library's top-level error: one variant per protocol step, plus the few failures that belong to the
//! whole flow. Each message says what happened and what to do next.

use crate::authorization::AuthorizationError;
use crate::discovery::DiscoveryError;
use crate::http::HttpError;
use crate::registration::RegistrationError;
use crate::resource::ResourceUriError;
use crate::store::StoreError;
use crate::token::TokenError;
use crate::transport::TransportError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid server URL: {0}")]
    InvalidServerUrl(#[from] ResourceUriError),
    #[error("discovery failed: {0}")]
    Discovery(#[from] DiscoveryError),
    #[error("client registration failed: {0}")]
    Registration(#[from] RegistrationError),
    #[error("authorization failed: {0}")]
    Authorization(#[from] AuthorizationError),
    #[error("{0}")]
    Token(#[from] TokenError),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Transport(#[from] TransportError),
    #[error("no {what} is configured for client '{client_id}'; pass it (for example --client-secret or --private-key)")]
    MissingClientCredential { client_id: String, what: &'static str },
    #[error(
        "authorization server {issuer} does not offer the device flow (no device_authorization_endpoint); sign in \
         with --no-browser instead"
    )]
    DeviceFlowUnsupported { issuer: String },
    #[error(
        "{server} speaks only the HTTP+SSE transport of MCP 2024-11-05 (deprecated since 2025-03-26), and \
         Streamable HTTP alone was asked for (--transport http-only); allow it with --transport http-first or \
         sse-only"
    )]
    LegacySseTransport { server: String },
    #[error("not signed in to {server}; run `superdynamic login {server}` first")]
    NotSignedIn { server: String },
    #[error(
        "{server} needs a new sign-in ({reason}), and this run may not open one; run `superdynamic login {server}`"
    )]
    SignInRequired { server: String, reason: String },
    #[error(
        "{server} still refuses the token obtained just now (HTTP 401); the server may not accept tokens from its own authorization server"
    )]
    StillUnauthorized { server: String },
    #[error(
        "{server} keeps asking for more scope ({scope}) after {attempts} sign-ins; stopping. The account may not be \
         allowed that scope"
    )]
    StepUpLimit { server: String, scope: String, attempts: u32 },
    #[error("no {what} is configured; {fix}")]
    AssertionNotConfigured { what: &'static str, fix: &'static str },
    #[error("{0}")]
    AssertionSource(#[from] crate::assertion_source::AssertionSourceError),
    #[error(
        "the identity provider {idp} could not exchange the ID token for an ID-JAG: {source}. Check the ID token \
         (is it expired?) and the IdP client"
    )]
    IdentityProvider { idp: String, source: TokenError },
    #[error(
        "authorization server {issuer} refused the JWT bearer assertion: {source}. Not retrying: check the \
         token's audience ({issuer}), expiry and issuer, and that the client may use this grant"
    )]
    AssertionRefused { issuer: String, source: TokenError },
    #[error(
        "{server} answered without asking for authorization, so there is no authorization server to bind credentials to"
    )]
    AuthorizationNotRequired { server: String },
}

/// Broad classes of failure, for exit codes and retry decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The input was wrong (a URL, an argument).
    Usage,
    /// Sign-in, registration, tokens or scopes.
    Authorization,
    /// The MCP server or the network (including an authorization server that cannot be reached or stops
    /// answering).
    Server,
    /// The local credential store.
    Store,
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::InvalidServerUrl(_) => ErrorKind::Usage,
            Error::Store(_) => ErrorKind::Store,
            Error::Transport(e) if e.is_auth() => ErrorKind::Authorization,
            Error::Transport(_) | Error::LegacySseTransport { .. } => ErrorKind::Server,
            _ if self.http_cause().is_some_and(HttpError::is_network) => ErrorKind::Server,
            _ => ErrorKind::Authorization,
        }
    }

    /// The HTTP failure of an OAuth step, if that is what this is.
    fn http_cause(&self) -> Option<&HttpError> {
        match self {
            Error::Discovery(
                DiscoveryError::ProtectedResource { source, .. } | DiscoveryError::AuthorizationServer { source, .. },
            ) => Some(source),
            Error::Registration(RegistrationError::Http(source))
            | Error::Token(TokenError::Http(source))
            | Error::IdentityProvider { source: TokenError::Http(source), .. }
            | Error::AssertionRefused { source: TokenError::Http(source), .. }
            | Error::Authorization(AuthorizationError::Http(source)) => Some(source),
            _ => None,
        }
    }
}
