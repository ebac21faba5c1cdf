//! The HTTP client used for OAuth traffic: bounded reads, timeouts, and a redirect policy that never leaves
//! https (or loopback http).
//!
//! OAuth requests are short questions, so a server that stops answering is reported within seconds
//! ([`OAuthTimeouts`]); MCP requests have their own, idle-based bound ([`guarded_client`]), since a tool may
//! take its time.

use crate::resource::is_secure_or_loopback;
use crate::ssrf::{self, Blocked, GuardedResolver, NetworkGuard};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::time::{Duration, Instant};
use url::Url;

/// Largest metadata, registration or token response we read (they are a few KiB in practice).
pub const MAX_OAUTH_BODY: usize = 256 * 1024;
const MAX_REDIRECTS: usize = 5;

/// How long an OAuth request (discovery, registration, token, refresh, revocation, the device flow) and the
/// other fetches of a sign-in may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OAuthTimeouts {
    /// Connecting, TCP and TLS.
    pub connect: Duration,
    /// Silence: from the request until the response headers, and between two pieces of the body.
    pub first_byte: Duration,
    /// One request, from connecting to the last byte of the answer (a server trickling its answer byte by
    /// byte is cut here).
    pub request: Duration,
    /// Discovery as a whole: one deadline shared by every metadata location it tries.
    pub discovery: Duration,
}

impl OAuthTimeouts {
    /// Every bound from one figure, as `--timeout` gives it: each request within `request`, connecting and
    /// the first byte (and any silence after it) within half of that, discovery within one and a half times it.
    pub fn from_request(request: Duration) -> Self {
        Self { connect: request / 2, first_byte: request / 2, request, discovery: request * 3 / 2 }
    }
}

impl Default for OAuthTimeouts {
    /// 10 s per request (5 s to connect and to start answering), 15 s for all of discovery.
    fn default() -> Self {
        Self::from_request(Duration::from_secs(10))
    }
}

/// What a timed-out request was waiting for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stall {
    /// The connection (TCP or TLS).
    Connect,
    /// The response: the connection was accepted, then no (complete) response headers came.
    Response,
    /// The rest of the answer: it started, then stopped, or came too slowly to finish in time.
    Body,
    /// Discovery's one deadline, shared by every location it tries, ran out during this request.
    Discovery,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum HttpError {
    #[error("could not reach {url}: {detail}. Is the server running and the URL right?")]
    Connect { url: String, detail: String },
    /// `step` names the request ("the token refresh"); `seconds` is how long it waited, rounded.
    #[error("{}", timeout_message(.step, .url, *.stall, *.seconds))]
    Timeout { url: String, seconds: u64, step: &'static str, stall: Stall },
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

fn timeout_message(step: &str, url: &str, stall: Stall, seconds: u64) -> String {
    let waited = if seconds == 0 { "under a second".to_string() } else { format!("{seconds} s") };
    let what = match stall {
        Stall::Connect => format!("no connection after {waited}"),
        Stall::Response => format!("no response after {waited}"),
        Stall::Body => format!("the answer was still incomplete after {waited}"),
        Stall::Discovery => format!("not answered when discovery's {waited} ran out"),
    };
    format!(
        "{step} at {url}: {what}. The server may be down or overloaded; if it is only slow, allow more time with \
         --timeout SECONDS"
    )
}

/// The message of an error that wraps an [`HttpError`]: `context` and the cause, except for a timeout, which
/// names its step and URL itself.
pub(crate) fn in_context(context: &str, source: &HttpError) -> String {
    match source {
        HttpError::Timeout { .. } => source.to_string(),
        _ => format!("{context}: {source}"),
    }
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
    /// `step`, `started` and `stall` describe a timeout: what the request was for, since when it ran, and what
    /// it was waiting for (a connection failure says so itself).
    pub(crate) fn from_reqwest(
        url: &Url,
        err: reqwest::Error,
        step: &'static str,
        started: Instant,
        stall: Stall,
    ) -> Self {
        if let Some(blocked) = ssrf::find_blocked(&err) {
            let url = err.url().map_or_else(|| url.to_string(), Url::to_string);
            return HttpError::Blocked { url, blocked: Box::new(blocked) };
        }
        if err.is_redirect() && find_source::<RedirectLimit>(&err) {
            return HttpError::TooManyRedirects { url: url.to_string() };
        }
        if err.is_timeout() {
            let stall = if err.is_connect() { Stall::Connect } else { stall };
            HttpError::Timeout { url: url.to_string(), seconds: rounded_seconds(started.elapsed()), step, stall }
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

    /// The server could not be reached, or stopped answering: a network failure rather than a refusal.
    pub fn is_network(&self) -> bool {
        matches!(self, HttpError::Connect { .. } | HttpError::Timeout { .. })
    }

    /// HTTP 404 (or 410): the document is not there, which discovery treats as "try the next place".
    pub fn is_not_found(&self) -> bool {
        matches!(self, HttpError::Status { status: 404 | 410, .. })
    }
}

pub(crate) fn rounded_seconds(waited: Duration) -> u64 {
    (waited.as_millis().saturating_add(500) / 1000) as u64
}

/// One OAuth request: what it is for and since when, so a timeout can say which step waited how long.
pub(crate) struct Exchange<'a> {
    step: &'static str,
    url: &'a Url,
    started: Instant,
}

impl<'a> Exchange<'a> {
    pub(crate) fn new(step: &'static str, url: &'a Url) -> Self {
        Self { step, url, started: Instant::now() }
    }

    /// Sends the request; the response headers have come when this returns.
    pub(crate) async fn send(&self, request: reqwest::RequestBuilder) -> Result<reqwest::Response, HttpError> {
        request.send().await.map_err(|e| self.error(e, Stall::Response))
    }

    /// Reads the body, refusing past `limit` bytes without buffering them.
    pub(crate) async fn read(&self, response: reqwest::Response, limit: usize) -> Result<Vec<u8>, HttpError> {
        let url = self.url;
        if response.content_length().is_some_and(|len| len > limit as u64) {
            return Err(HttpError::TooLarge { url: url.to_string(), limit });
        }
        let mut body = Vec::new();
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| self.error(e, Stall::Body))?;
            if body.len() + chunk.len() > limit {
                return Err(HttpError::TooLarge { url: url.to_string(), limit });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    fn error(&self, err: reqwest::Error, stall: Stall) -> HttpError {
        HttpError::from_reqwest(self.url, err, self.step, self.started, stall)
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
/// connect and read (silence) timeouts, and a whole-request deadline when given.
fn builder(connect: Duration, read: Duration, deadline: Option<Duration>) -> reqwest::ClientBuilder {
    let builder = reqwest::Client::builder()
        .tls_backend_preconfigured(rustls::ClientConfig::clone(&crate::tls::client_config()))
        .user_agent(concat!("superdynamic/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(connect)
        .read_timeout(read);
    match deadline {
        Some(deadline) => builder.timeout(deadline),
        None => builder,
    }
}

/// Redirects at most five times, only to https (or loopback http), never to IP literals the policy refuses.
fn redirect_policy(guard: Arc<NetworkGuard>) -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() >= MAX_REDIRECTS {
            return attempt.error(RedirectLimit);
        }
        if !is_secure_or_loopback(attempt.url()) {
            return attempt.error("redirect refused");
        }
        match guard.check_url_now(attempt.url()) {
            Ok(()) => attempt.follow(),
            Err(blocked) => attempt.error(blocked),
        }
    })
}

fn build(builder: reqwest::ClientBuilder, guard: Arc<NetworkGuard>) -> Result<reqwest::Client, HttpError> {
    // Through a proxy, names resolve at the proxy; otherwise here, through the guard, and never via a proxy
    // the environment happens to name.
    let builder = match guard.env_proxy() {
        true => builder,
        false => builder.no_proxy().dns_resolver(Arc::new(GuardedResolver(guard))),
    };
    builder.build().map_err(|e| HttpError::Setup(e.to_string()))
}

/// The client for MCP traffic, under a network policy (see [`crate::ssrf`]): every name is resolved through
/// the guard, so only allowed addresses are connected to; redirects as [`oauth_client`]. `timeout` bounds the
/// wait for the response headers and any silence in the body, never the whole answer: a stream that keeps
/// sending is not cut.
pub fn guarded_client(timeout: Duration, guard: Arc<NetworkGuard>) -> Result<reqwest::Client, HttpError> {
    let connect = timeout.min(Duration::from_secs(10));
    build(builder(connect, timeout, None).redirect(redirect_policy(guard.clone())), guard)
}

/// [`guarded_client`] without redirects.
pub fn guarded_no_redirect_client(timeout: Duration, guard: Arc<NetworkGuard>) -> Result<reqwest::Client, HttpError> {
    let connect = timeout.min(Duration::from_secs(10));
    build(builder(connect, timeout, None).redirect(reqwest::redirect::Policy::none()), guard)
}

/// The client for OAuth traffic: [`OAuthTimeouts`] on every request, the network policy of [`guarded_client`],
/// redirects at most five times, only to https (or loopback http) and never to IP literals the policy refuses.
pub fn oauth_client(timeouts: &OAuthTimeouts, guard: Arc<NetworkGuard>) -> Result<reqwest::Client, HttpError> {
    let builder = builder(timeouts.connect, timeouts.first_byte, Some(timeouts.request));
    build(builder.redirect(redirect_policy(guard.clone())), guard)
}

/// [`oauth_client`] that never follows redirects (for reading `Location` on the authorization endpoint).
pub fn oauth_no_redirect_client(
    timeouts: &OAuthTimeouts,
    guard: Arc<NetworkGuard>,
) -> Result<reqwest::Client, HttpError> {
    let builder = builder(timeouts.connect, timeouts.first_byte, Some(timeouts.request));
    build(builder.redirect(reqwest::redirect::Policy::none()), guard)
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
    Exchange::new("the request", url).read(response, limit).await
}

/// GET a JSON document with a bounded read. Non-2xx answers become [`HttpError::Status`]. The client's bounds
/// apply ([`oauth_client`] has a whole-request deadline).
pub async fn get_json<T: DeserializeOwned>(
    http: &reqwest::Client,
    url: &Url,
    extra_headers: &[(&str, &str)],
) -> Result<T, HttpError> {
    get_json_for("the document", http, url, extra_headers).await
}

/// [`get_json`] for one step of a sign-in, named in a timeout ("the protected resource metadata").
pub(crate) async fn get_json_for<T: DeserializeOwned>(
    step: &'static str,
    http: &reqwest::Client,
    url: &Url,
    extra_headers: &[(&str, &str)],
) -> Result<T, HttpError> {
    get_json_answered(step, http, url, extra_headers).await.1
}

/// What a server answered a GET with, as far as it came: for diagnosis (`superdynamic doctor`), never the body.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Answer {
    pub status: u16,
    /// The `Content-Type` header, as sent (when it is text).
    pub content_type: Option<String>,
    /// Bytes of body read.
    pub bytes: usize,
}

/// [`get_json_for`], also giving the [`Answer`] when response headers came.
pub(crate) async fn get_json_answered<T: DeserializeOwned>(
    step: &'static str,
    http: &reqwest::Client,
    url: &Url,
    extra_headers: &[(&str, &str)],
) -> (Option<Answer>, Result<T, HttpError>) {
    if !is_secure_or_loopback(url) {
        return (None, Err(HttpError::Insecure { url: url.to_string() }));
    }
    let mut request = http.get(url.clone()).header("Accept", "application/json");
    for (name, value) in extra_headers {
        request = request.header(*name, *value);
    }
    let exchange = Exchange::new(step, url);
    let response = match exchange.send(request).await {
        Ok(response) => response,
        Err(e) => return (None, Err(e)),
    };
    let status = response.status();
    let content_type =
        response.headers().get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_string);
    let mut answer = Answer { status: status.as_u16(), content_type, bytes: 0 };
    let body = match exchange.read(response, MAX_OAUTH_BODY).await {
        Ok(body) => body,
        Err(e) => return (Some(answer), Err(e)),
    };
    answer.bytes = body.len();
    if !status.is_success() {
        let error = HttpError::Status { url: url.to_string(), status: status.as_u16(), body: excerpt(&body) };
        return (Some(answer), Err(error));
    }
    let parsed =
        serde_json::from_slice(&body).map_err(|e| HttpError::NotJson { url: url.to_string(), detail: e.to_string() });
    (Some(answer), parsed)
}
