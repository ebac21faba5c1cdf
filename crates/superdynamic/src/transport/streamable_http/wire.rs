//! One HTTP exchange with the endpoint: the headers every request carries, sending with the header timeout,
//! mapping statuses to errors, and bounded body reads with the idle timeout.

use futures_util::StreamExt;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode};
use zeroize::Zeroizing;

use super::StreamableHttp;
use crate::secret::AccessToken;
use crate::transport::error::TransportError;
use crate::transport::jsonrpc::Message;
use crate::transport::sse::SseError;

pub(super) const SESSION_ID_HEADER: &str = "mcp-session-id";

pub(super) const PROTOCOL_VERSION_HEADER: &str = "mcp-protocol-version";

pub(super) const LAST_EVENT_ID_HEADER: &str = "last-event-id";

/// basic/transports.mdx "Sending Messages to the Server" 2: list both content types.
pub(super) const ACCEPT_POST: &str = "application/json, text/event-stream";

/// basic/transports.mdx "Listening for Messages from the Server" 2.
pub(super) const ACCEPT_SSE: &str = "text/event-stream";

/// How much of an error body is read, and how much of it goes into [`TransportError::HttpStatus`].
pub(super) const EXCERPT_READ_BYTES: usize = 4096;

pub(super) const EXCERPT_CHARS: usize = 300;

/// The headers that identify one HTTP request's place in a session.
#[derive(Clone, Copy)]
pub(super) struct Ctx<'a> {
    pub(super) session_id: Option<&'a str>,
    pub(super) protocol_version: Option<&'a str>,
    pub(super) bearer: Option<&'a AccessToken>,
    /// Where POSTs go when it is not the endpoint: the URI an HTTP+SSE server's `endpoint` event named.
    pub(super) post_to: Option<&'a url::Url>,
}

impl StreamableHttp {
    /// POSTs a notification or a response (basic/transports.mdx "Sending Messages to the Server" 4: accepted →
    /// 202; 200 and 204 are tolerated, and any body is ignored).
    pub(super) async fn post_message(
        &self,
        ctx: &Ctx<'_>,
        message: &Message,
        what: &str,
    ) -> Result<(), TransportError> {
        let body = message.to_value().to_string();
        let response = self.send(Method::POST, ctx, None, Some(body), what).await?;
        self.check_status(response, ctx).await.map(drop)
    }

    pub(super) async fn send(
        &self,
        method: Method,
        ctx: &Ctx<'_>,
        last_event_id: Option<&str>,
        body: Option<String>,
        what: &str,
    ) -> Result<reqwest::Response, TransportError> {
        self.send_with(method, ctx, ACCEPT_POST, last_event_id, body, what).await
    }

    /// Sends one HTTP request, waiting at most `request_timeout` for the response headers.
    pub(super) async fn send_with(
        &self,
        method: Method,
        ctx: &Ctx<'_>,
        accept: &'static str,
        last_event_id: Option<&str>,
        body: Option<String>,
        what: &str,
    ) -> Result<reqwest::Response, TransportError> {
        let headers = headers(ctx, accept, last_event_id)?;
        let url = match (&method, ctx.post_to) {
            (&Method::POST, Some(url)) => url.clone(),
            _ => self.inner.endpoint.clone(),
        };
        self.send_headers_to(url, method, headers, body, what).await
    }

    /// Sends one HTTP request with exactly these headers, waiting at most `request_timeout` for the response
    /// headers.
    pub(super) async fn send_headers(
        &self,
        method: Method,
        headers: HeaderMap,
        body: Option<String>,
        what: &str,
    ) -> Result<reqwest::Response, TransportError> {
        self.send_headers_to(self.inner.endpoint.clone(), method, headers, body, what).await
    }

    async fn send_headers_to(
        &self,
        url: url::Url,
        method: Method,
        headers: HeaderMap,
        body: Option<String>,
        what: &str,
    ) -> Result<reqwest::Response, TransportError> {
        let mut headers = headers;
        for (name, value) in &self.inner.options.extra_headers {
            if !headers.contains_key(name) {
                headers.insert(name.clone(), value.clone());
            }
        }
        // Every request leaves through here, so DPoP is applied here once: the token goes with the `DPoP`
        // scheme and a fresh proof for this method and URL (RFC 9449 §7.1).
        let dpop = self.dpop().filter(|_| headers.contains_key(AUTHORIZATION));
        let Some(dpop) = dpop else {
            return self.send_once(url, method, headers, body, what).await;
        };
        let token = bearer_of(&headers)?;
        // RFC 9449 §9: one retry when the resource answers `use_dpop_nonce` with a nonce not sent before.
        let mut nonce_retry = true;
        loop {
            let mut headers = headers.clone();
            dpop_headers(&mut headers, &dpop, method.as_str(), &url, &token)?;
            let response = self.send_once(url.clone(), method.clone(), headers, body.clone(), what).await?;
            let fresh_nonce = response
                .headers()
                .get(crate::dpop::NONCE_HEADER)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| dpop.nonces.remember(&url, v));
            if response.status() == StatusCode::UNAUTHORIZED
                && fresh_nonce
                && nonce_retry
                && crate::dpop::is_use_dpop_nonce(&www_authenticate(response.headers()))
            {
                nonce_retry = false;
                continue;
            }
            return Ok(response);
        }
    }

    async fn send_once(
        &self,
        url: url::Url,
        method: Method,
        headers: HeaderMap,
        body: Option<String>,
        what: &str,
    ) -> Result<reqwest::Response, TransportError> {
        let mut builder = self.inner.http.request(method, url).headers(headers);
        if let Some(body) = body {
            builder = builder.header(CONTENT_TYPE, "application/json").body(body);
        }
        let after = self.inner.options.request_timeout;
        let timeout = || TransportError::Timeout { what: format!("the response headers for `{what}`"), after };
        match tokio::time::timeout(after, builder.send()).await {
            Err(_) => Err(timeout()),
            Ok(Err(err)) if err.is_timeout() => Err(timeout()),
            Ok(Err(err)) => {
                Err(TransportError::Connect { url: self.inner.endpoint.to_string(), source: err.without_url() })
            }
            Ok(Ok(response)) => Ok(response),
        }
    }

    /// Maps non-2xx statuses to errors.
    pub(super) async fn check_status(
        &self,
        response: reqwest::Response,
        ctx: &Ctx<'_>,
    ) -> Result<reqwest::Response, TransportError> {
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        match status {
            StatusCode::UNAUTHORIZED => {
                Err(TransportError::Unauthorized { www_authenticate: www_authenticate(response.headers()) })
            }
            StatusCode::FORBIDDEN => {
                Err(TransportError::Forbidden { www_authenticate: www_authenticate(response.headers()) })
            }
            // "Session Management" 3-4: 404 for a session id = the session was terminated.
            StatusCode::NOT_FOUND if ctx.session_id.is_some() => Err(TransportError::SessionExpired),
            _ => Err(TransportError::HttpStatus { status: status.as_u16(), body: self.excerpt(response).await }),
        }
    }

    /// Reads a JSON body of at most `max_json_body` bytes, with the idle timeout between chunks.
    pub(super) async fn read_json_body(
        &self,
        response: reqwest::Response,
        method: &str,
    ) -> Result<Vec<u8>, TransportError> {
        let limit = self.inner.options.max_json_body;
        if response.content_length().is_some_and(|len| len > limit as u64) {
            return Err(TransportError::BodyTooLarge { limit });
        }
        let after = self.inner.options.request_timeout;
        let mut stream = response.bytes_stream();
        let mut body = Vec::new();
        loop {
            match tokio::time::timeout(after, stream.next()).await {
                Err(_) => {
                    return Err(TransportError::Timeout {
                        what: format!("the body of the response to `{method}`"),
                        after,
                    });
                }
                Ok(None) => return Ok(body),
                Ok(Some(Err(err))) => {
                    return Err(TransportError::Protocol(format!(
                        "the connection broke while reading the response to `{method}`: {}",
                        err.without_url()
                    )));
                }
                Ok(Some(Ok(chunk))) => {
                    if body.len().saturating_add(chunk.len()) > limit {
                        return Err(TransportError::BodyTooLarge { limit });
                    }
                    body.extend_from_slice(&chunk);
                }
            }
        }
    }

    /// A short, single-line excerpt of an error body; reading stops early and never fails.
    pub(super) async fn excerpt(&self, response: reqwest::Response) -> String {
        excerpt_of(&self.read_prefix(response, EXCERPT_READ_BYTES).await)
    }

    /// At most `max` bytes of a body; reading stops early (idle timeout, broken connection) and never fails.
    pub(super) async fn read_prefix(&self, response: reqwest::Response, max: usize) -> Vec<u8> {
        let after = self.inner.options.request_timeout;
        let mut stream = response.bytes_stream();
        let mut body = Vec::new();
        while body.len() < max {
            match tokio::time::timeout(after, stream.next()).await {
                Ok(Some(Ok(chunk))) => {
                    let room = max - body.len();
                    body.extend_from_slice(chunk.get(..room).unwrap_or(&chunk));
                }
                _ => break,
            }
        }
        body
    }
}

/// A short, single-line excerpt of a body.
pub(super) fn excerpt_of(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut excerpt = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if excerpt.is_empty() {
        return "(empty body)".to_owned();
    }
    if let Some((cut, _)) = excerpt.char_indices().nth(EXCERPT_CHARS) {
        excerpt.truncate(cut);
        excerpt.push('…');
    }
    excerpt
}

/// The headers common to every request of a session.
pub(super) fn headers(
    ctx: &Ctx<'_>,
    accept: &'static str,
    last_event_id: Option<&str>,
) -> Result<HeaderMap, TransportError> {
    let mut headers = HeaderMap::new();
    headers.insert(ACCEPT, HeaderValue::from_static(accept));
    if let Some(token) = ctx.bearer {
        let value = Zeroizing::new(format!("Bearer {}", token.secret()));
        let mut value = HeaderValue::from_str(&value).map_err(|_| {
            TransportError::Protocol("the access token contains characters that cannot go in an HTTP header".to_owned())
        })?;
        value.set_sensitive(true);
        headers.insert(AUTHORIZATION, value);
    }
    // "Session Management" 2: echo the session id on all later requests.
    if let Some(id) = ctx.session_id {
        headers.insert(HeaderName::from_static(SESSION_ID_HEADER), header_value(id, "session id")?);
    }
    // "Protocol Version Header" (2025-06-18+): MUST be sent on all requests after initialize.
    if let Some(version) = ctx.protocol_version {
        headers.insert(HeaderName::from_static(PROTOCOL_VERSION_HEADER), header_value(version, "protocol version")?);
    }
    if let Some(id) = last_event_id {
        headers.insert(HeaderName::from_static(LAST_EVENT_ID_HEADER), header_value(id, "SSE event id")?);
    }
    Ok(headers)
}

/// The access token of a `Bearer` authorization header (what [`headers`] wrote).
fn bearer_of(headers: &HeaderMap) -> Result<Zeroizing<String>, TransportError> {
    headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| Zeroizing::new(t.to_owned()))
        .ok_or_else(|| TransportError::Protocol("a DPoP request without a token to bind".to_owned()))
}

/// `Authorization: DPoP <token>` and the `DPoP` proof header with `ath` for it (RFC 9449 §7.1).
fn dpop_headers(
    headers: &mut HeaderMap,
    dpop: &crate::dpop::DpopProver,
    method: &str,
    url: &url::Url,
    token: &str,
) -> Result<(), TransportError> {
    let proof = dpop
        .proof(method, url, Some(token))
        .map_err(|e| TransportError::Protocol(format!("could not sign the DPoP proof: {e}")))?;
    let mut value = HeaderValue::from_str(&Zeroizing::new(format!("DPoP {token}")))
        .map_err(|_| TransportError::Protocol("the access token cannot go in an HTTP header".to_owned()))?;
    value.set_sensitive(true);
    headers.insert(AUTHORIZATION, value);
    headers.insert(HeaderName::from_static(crate::dpop::PROOF_HEADER), header_value(&proof, "DPoP proof")?);
    Ok(())
}

pub(super) fn header_value(value: &str, what: &str) -> Result<HeaderValue, TransportError> {
    HeaderValue::from_str(value)
        .map_err(|_| TransportError::Protocol(format!("the server's {what} cannot be sent back in an HTTP header")))
}

/// Every `WWW-Authenticate` value, in order (a server may send one per scheme).
pub(super) fn www_authenticate(headers: &HeaderMap) -> Vec<String> {
    headers.get_all(WWW_AUTHENTICATE).iter().map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()).collect()
}

/// The media type without parameters, lowercased.
pub(super) fn content_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(CONTENT_TYPE)?.to_str().ok()?;
    let media_type = value.split(';').next().unwrap_or_default().trim();
    Some(media_type.to_ascii_lowercase())
}

pub(super) fn sse_error(err: SseError, method: &str) -> TransportError {
    tracing::debug!(%err, method, "SSE stream rejected");
    match err {
        SseError::LineTooLong { limit } | SseError::EventTooLarge { limit } => TransportError::BodyTooLarge { limit },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_type_ignores_parameters_and_case() {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("Application/JSON; charset=utf-8"));
        assert_eq!(content_type(&headers).as_deref(), Some("application/json"));
    }
}
