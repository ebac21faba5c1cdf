//! The HTTP client used for OAuth traffic: bounded reads, timeouts, and a redirect policy that never leaves
//! https (or loopback http).

use crate::resource::is_secure_or_loopback;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use std::time::Duration;
use url::Url;

/// Largest metadata, registration or token response we read (they are a few KiB in practice).
pub const MAX_OAUTH_BODY: usize = 256 * 1024;
const MAX_REDIRECTS: usize = 5;

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

/// Builds the client: rustls with the ring provider, connect and request timeouts, and redirects followed
/// only to https or loopback http, at most five times (SSRF and downgrade defence, MCP security best practices).
pub fn client(timeout: Duration) -> Result<reqwest::Client, HttpError> {
    install_crypto_provider();
    let policy = reqwest::redirect::Policy::custom(|attempt| {
        if attempt.previous().len() >= MAX_REDIRECTS || !is_secure_or_loopback(attempt.url()) {
            attempt.error("redirect refused")
        } else {
            attempt.follow()
        }
    });
    reqwest::Client::builder()
        .user_agent(concat!("superdynamic/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .read_timeout(timeout)
        .redirect(policy)
        .build()
        .map_err(|e| HttpError::Setup(e.to_string()))
}

/// A client that never follows redirects, for reading `Location` on the authorization endpoint.
pub fn no_redirect_client(timeout: Duration) -> Result<reqwest::Client, HttpError> {
    install_crypto_provider();
    reqwest::Client::builder()
        .user_agent(concat!("superdynamic/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .read_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| HttpError::Setup(e.to_string()))
}

/// Installs rustls's ring provider once per process; a provider installed earlier by the host program wins.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
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
    let mut request = http.get(url.clone()).header("Accept", "application/json");
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
