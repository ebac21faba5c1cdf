//! Step 3 of a sign-in: the authorization code grant with PKCE (OAuth 2.1 §4.1), through the user's browser,
//! a printed URL, or (for servers that approve without a person) by following the redirects directly.

pub mod browser;
pub mod callback;
pub mod device;
pub mod paste;
pub mod pkce;
pub mod request;

pub use callback::{CallbackError, CallbackListener};
pub use pkce::PkceVerifier;
pub use request::{AuthorizationRequest, PendingAuthorization};

use crate::http::HttpError;
use url::Url;

/// How the user reaches the authorization URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthorizationMode {
    /// Open the system browser (`$BROWSER` when set).
    Browser,
    /// Print the URL for the user to open on this machine.
    PrintUrl,
    /// The device authorization grant (RFC 8628): show a code to enter on another device, and poll.
    Device,
    /// Fetch the URL and follow its redirects to our own listener, with no browser: for authorization
    /// servers that approve at once (test servers, the reference server with --auto-approve).
    Fetch,
}

#[derive(Debug, thiserror::Error)]
pub enum AuthorizationError {
    #[error("the authorization endpoint '{0}' is not a valid URL")]
    BadAuthorizationEndpoint(String),
    #[error("the operating system's random number generator failed: {0}")]
    Random(getrandom::Error),
    #[error("could not listen for the sign-in redirect on 127.0.0.1:{port}: {source}")]
    Listen { port: u16, source: std::io::Error },
    #[error(transparent)]
    Browser(#[from] browser::BrowserError),
    #[error(transparent)]
    Callback(#[from] CallbackError),
    #[error("no sign-in completed within {0} s; run the command again when you are ready (or raise --auth-timeout)")]
    TimedOut(u64),
    #[error(
        "the authorization server answered HTTP {status} with a page instead of redirecting back; it needs a \
         person to sign in or approve, so run without the headless fetch mode"
    )]
    NeedsUser { status: u16 },
    #[error(
        "the authorization server refused the stored client registration; it was discarded, so the next sign-in \
         registers again"
    )]
    RegistrationRejected,
    #[error("the authorization server redirected to '{0}', which is neither itself nor our redirect URI")]
    UnexpectedRedirect(String),
    #[error("the authorization server redirected more than {0} times")]
    TooManyRedirects(usize),
    #[error("{}", crate::http::in_context("while following the authorization redirects", .0))]
    Http(#[from] HttpError),
}

/// Fetch mode: GET the authorization URL, follow redirects (at most ten, https or loopback only) until one
/// targets `redirect_uri`, and deliver that to our listener exactly as a browser would.
pub async fn follow_redirects(
    http: &reqwest::Client,
    guard: &crate::ssrf::NetworkGuard,
    authorization_url: &Url,
    redirect_uri: &str,
) -> Result<(), AuthorizationError> {
    const MAX: usize = 10;
    let mut current = authorization_url.clone();
    for _ in 0..MAX {
        if !crate::resource::is_secure_or_loopback(&current) {
            return Err(AuthorizationError::UnexpectedRedirect(current.to_string()));
        }
        // Each hop under the same network policy as discovery (names are also checked by the client's resolver).
        crate::http::check_destination(guard, &current).await?;
        let response =
            crate::http::Exchange::new("the authorization request", &current).send(http.get(current.clone())).await?;
        let status = response.status();
        if !status.is_redirection() {
            if current.as_str().starts_with(redirect_uri) {
                return Ok(()); // our listener answered
            }
            return Err(AuthorizationError::NeedsUser { status: status.as_u16() });
        }
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| AuthorizationError::UnexpectedRedirect("(no Location header)".into()))?;
        current = current.join(location).map_err(|_| AuthorizationError::UnexpectedRedirect(location.into()))?;
    }
    Err(AuthorizationError::TooManyRedirects(MAX))
}
