//! The HTTP client used for OAuth traffic: bounded reads, timeouts, and a redirect policy that never leaves
//! https (or loopback http).

use crate::resource::is_secure_or_loopback;
use crate::ssrf::{self, Blocked, GuardedResolver, NetworkGuard};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// Largest metadata, registration or token response we read (they are a few KiB in practice).
pub const MAX_OAUTH_BODY: usize = 256 * 1024;
const MAX_REDIRECTS: usize = 5;
/// The longest a metadata GET may take, start to end.
const OAUTH_REQUEST_DEADLINE: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("could not reach {url}: {detail}. Is the server running and the URL right?")]
    Connect { url: String, detail: String },
    #[error("{url} did not answer within {seconds} s; try again, or check the server")]
    Timeout { url: String, seconds: u64 },
    #[error("{url} answered HTTP {status}{}", excerpt_suffix(.body))]
    Status { url: String, status: u16, body: String },
    #[error("{url} sent more than {limit} bytes; refusing to read further")]
    TooLarge { url: String, limit: usize },
    #[error("{url} did not return valid JSON: {detail}")]
    NotJson { url: String, detail: String },
    #[error("refusing to contact {url}: only https, or http on this machine (loopback), is allowed")]
    Insecure { url: String },
    #[error("{url}: {blocked}")]
    Blocked { url: String, blocked: Box<Blocked> },
    #[error("{url} redirected more than {MAX_REDIRECTS} times; giving up")]
    TooManyRedirects { url: String },
    #[error("could not set up HTTP: {0}")]
    Setup(String),
}

fn excerpt_suffix(body: &str) -> String {
    if body.is_empty() { String::new() } else { format!(": {body}") }
}

/// A short, printable excerpt of a response body for error messages.
pub fn excerpt(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let clean: String = text.chars().filter(|c| !c.is_control() || *c == ' ').take(200).collect();
    clean.trim().to_string()
}

impl HttpError {
    pub(crate) fn from_reqwest(url: &Url, err: reqwest::Error, timeout: Duration) -> Self {
        if let Some(blocked) = ssrf::find_blocked(&err) {
            let url = err.url().map_or_else(|| url.to_string(), Url::to_string);
            return HttpError::Blocked { url, blocked: Box::new(blocked) };
        }
        if err.is_redirect() && find_source::<RedirectLimit>(&err) {
            return HttpError::TooManyRedirects { url: url.to_string() };
        }
        if err.is_timeout() {
            HttpError::Timeout { url: url.to_string(), seconds: timeout.as_secs() }
        } else if err.is_redirect() {
            HttpError::Insecure { url: format!("{url} (redirect)") }
        } else {
            let mut detail = err.to_string();
            let mut source = std::error::Error::source(&err);
            while let Some(s) = source {
                detail = format!("{detail}: {s}");
                source = s.source();
            }
            HttpError::Connect { url: url.to_string(), detail }
        }
    }

    /// HTTP 404 (or 410): the document is not there, which discovery treats as "try the next place".
    pub fn is_not_found(&self) -> bool {
        matches!(self, HttpError::Status { status: 404 | 410, .. })
    }
}

/// The redirect policy's "too many": a type of its own so the error can say so.
#[derive(Debug, thiserror::Error)]
#[error("too many redirects")]
struct RedirectLimit;

fn find_source<E: std::error::Error + 'static>(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = current {
        if e.is::<E>() {
            return true;
        }
        current = e.source();
    }
    false
}

/// The common settings: rustls with the ring provider and the platform verifier ([`crate::tls`]), a user agent,
/// connect and read timeouts.
fn builder(timeout: Duration) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .tls_backend_preconfigured(rustls::ClientConfig::clone(&crate::tls::client_config()))
        .user_agent(concat!("superdynamic/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .read_timeout(timeout)
}

/// The client for OAuth and MCP traffic, under a network policy (see [`crate::ssrf`]): every name is resolved
/// through the guard, so only allowed addresses are connected to; redirects are followed at most five times, only
/// to https (or loopback http) and never to IP literals the policy refuses.
pub fn guarded_client(timeout: Duration, guard: Arc<NetworkGuard>) -> Result<reqwest::Client, HttpError> {
    let redirect_guard = guard.clone();
    let policy = reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() >= MAX_REDIRECTS {
            return attempt.error(RedirectLimit);
        }
        if !is_secure_or_loopback(attempt.url()) {
            return attempt.error("redirect refused");
        }
        match redirect_guard.check_url_now(attempt.url()) {
            Ok(()) => attempt.follow(),
            Err(blocked) => attempt.error(blocked),
        }
    });
    builder(timeout)
        .redirect(policy)
        .dns_resolver(Arc::new(GuardedResolver(guard)))
        .build()
        .map_err(|e| HttpError::Setup(e.to_string()))
}

/// A client that never follows redirects (for reading `Location` on the authorization endpoint), under the same
/// network policy.
pub fn guarded_no_redirect_client(timeout: Duration, guard: Arc<NetworkGuard>) -> Result<reqwest::Client, HttpError> {
    builder(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(Arc::new(GuardedResolver(guard)))
        .build()
        .map_err(|e| HttpError::Setup(e.to_string()))
}

/// Checks a URL (scheme and, for IP literals, the network policy) before a request is sent to it.
pub async fn check_destination(guard: &NetworkGuard, url: &Url) -> Result<(), HttpError> {
    if !is_secure_or_loopback(url) {
        return Err(HttpError::Insecure { url: url.to_string() });
    }
    guard
        .check_url(url)
        .await
        .map_err(|blocked| HttpError::Blocked { url: url.to_string(), blocked: Box::new(blocked) })
}

/// Installs rustls's ring provider once per process; a provider installed earlier by the host program wins.
pub fn install_crypto_provider() {
    crate::tls::install_ring_provider();
}

/// Reads a response body, refusing past `limit` bytes without buffering them.
pub async fn read_limited(url: &Url, response: reqwest::Response, limit: usize) -> Result<Vec<u8>, HttpError> {
    if response.content_length().is_some_and(|len| len > limit as u64) {
        return Err(HttpError::TooLarge { url: url.to_string(), limit });
    }
    let mut body = Vec::new();
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| HttpError::from_reqwest(url, e, Duration::from_secs(30)))?;
        if body.len() + chunk.len() > limit {
            return Err(HttpError::TooLarge { url: url.to_string(), limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// GET a JSON document with a bounded read. Non-2xx answers become [`HttpError::Status`].
pub async fn get_json<T: DeserializeOwned>(
    http: &reqwest::Client,
    url: &Url,
    extra_headers: &[(&str, &str)],
) -> Result<T, HttpError> {
    if !is_secure_or_loopback(url) {
        return Err(HttpError::Insecure { url: url.to_string() });
    }
    // A whole-request deadline besides the client's connect and read timeouts: a server trickling one byte at a
    // time would otherwise hold discovery for as long as it likes.
    let mut request = http.get(url.clone()).header("Accept", "application/json").timeout(OAUTH_REQUEST_DEADLINE);
    for (name, value) in extra_headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.map_err(|e| HttpError::from_reqwest(url, e, Duration::from_secs(30)))?;
    let status = response.status();
    let body = read_limited(url, response, MAX_OAUTH_BODY).await?;
    if !status.is_success() {
        return Err(HttpError::Status { url: url.to_string(), status: status.as_u16(), body: excerpt(&body) });
    }
    serde_json::from_slice(&body).map_err(|e| HttpError::NotJson { url: url.to_string(), detail: e.to_string() })
}
