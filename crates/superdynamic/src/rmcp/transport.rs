//! rmcp's `StreamableHttpClient` backed by [`McpClient`]: rmcp speaks MCP (both generations, sessions, SSE),
//! superdynamic answers the server's 401 and 403 challenges and supplies the token of every request.
//!
//! Each POST and GET goes out through McpClient's own HTTP client (the network policy of [`crate::ssrf`],
//! https-or-loopback redirects, connect and idle timeouts) with the stored token, refreshed first when about to
//! expire. A 401 refreshes once (single-flight across processes through the store's lock), then signs in; a 403
//! `insufficient_scope` steps up (bounded): the decision is `client::challenge`, the same as `McpClient::request`.

use super::error::{AuthorizedHttpError, rewrap};
use crate::client::{Answer, Challenges, ClientOptions, McpClient};
use crate::error::Error;
use crate::secret::AccessToken;
use ::rmcp::model::ClientJsonRpcMessage;
use ::rmcp::transport::StreamableHttpClientTransport;
use ::rmcp::transport::streamable_http_client::SseError;
use ::rmcp::transport::streamable_http_client::{
    StreamableHttpClient, StreamableHttpClientTransportConfig, StreamableHttpError, StreamableHttpPostResponse,
    StreamableHttpResponseLimits,
};
use futures_util::stream::BoxStream;
use reqwest::header::{HeaderName, HeaderValue};
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

/// What rmcp's GET streams yield (`sse_stream` is rmcp's SSE crate).
type SseStream = BoxStream<'static, Result<sse_stream::Sse, SseError>>;

/// The transport rmcp's client runs on: `().serve(superdynamic::rmcp::transport(url, options).await?).await?`.
pub type AuthorizedTransport = StreamableHttpClientTransport<AuthorizedHttpClient>;

/// An rmcp transport for the MCP server at `url`, signing in, refreshing and stepping up as `options` say
/// (store, profile, sign-in mode, network policy, timeouts). Nothing is sent yet: the first request rmcp
/// makes (`initialize` or `server/discover`) meets the server's 401, which starts the sign-in.
pub async fn transport(url: &str, options: ClientOptions) -> Result<AuthorizedTransport, Error> {
    let client = Arc::new(McpClient::new(url, options)?);
    // Read the store once now, so an unreadable store is reported here rather than as a transport error.
    client.credentials().await?;
    Ok(transport_for(client))
}

/// [`transport`] over an [`McpClient`] the caller keeps (to read its credentials, log out, …).
pub fn transport_for(client: Arc<McpClient>) -> AuthorizedTransport {
    let config = StreamableHttpClientTransportConfig::with_uri(client.server().url().as_str())
        .custom_headers(extra_headers(&client))
        // Our bounds, not rmcp's larger defaults (16 MiB): the same as superdynamic's own transport.
        .max_json_response_size(client.transport().options().max_json_body)
        .max_sse_event_size(client.transport().options().sse_limits.max_event);
    StreamableHttpClientTransport::with_client(AuthorizedHttpClient { client }, config)
}

/// The headers `ClientOptions::headers` names, for every request to the MCP server (a name given twice keeps
/// its last value: rmcp takes one value per name).
fn extra_headers(client: &McpClient) -> HashMap<HeaderName, HeaderValue> {
    client.transport().options().extra_headers.iter().map(|(n, v)| (n.clone(), v.clone())).collect()
}

/// rmcp's HTTP backend over [`McpClient`]. Cheap to clone (rmcp clones it per stream).
#[derive(Clone)]
pub struct AuthorizedHttpClient {
    client: Arc<McpClient>,
}

impl AuthorizedHttpClient {
    pub fn client(&self) -> &Arc<McpClient> {
        &self.client
    }

    /// The header value rmcp sends as `Authorization: Bearer …`: our token, whatever rmcp was configured with.
    async fn token(&self) -> Result<Option<AccessToken>, StreamableHttpError<AuthorizedHttpError>> {
        self.client.bearer_token().await.map_err(authorization)
    }

    /// After a failed attempt: whether the error is a challenge we answered (send again), else the error.
    async fn after(
        &self,
        challenges: &mut Challenges,
        error: StreamableHttpError<reqwest::Error>,
        sent: Option<&AccessToken>,
    ) -> Result<(), StreamableHttpError<AuthorizedHttpError>> {
        // rmcp keeps the first WWW-Authenticate value only; without a Bearer challenge in it, discovery starts
        // at the well-known locations instead (RFC 9728 §3), so the sign-in still happens.
        let (status, www_authenticate) = match &error {
            StreamableHttpError::AuthRequired(e) => (401, vec![e.www_authenticate_header.clone()]),
            StreamableHttpError::InsufficientScope(e) => (403, vec![e.www_authenticate_header.clone()]),
            // rmcp's reqwest client reports a 401 without WWW-Authenticate as text; it still asks for a sign-in
            // (discovery then starts at the well-known locations, RFC 9728 §3).
            StreamableHttpError::UnexpectedServerResponse(text) if is_bare_401(text) => (401, Vec::new()),
            _ => return Err(rewrap(error)),
        };
        match challenges.answer(&self.client, status, &www_authenticate, sent).await.map_err(authorization)? {
            Answer::Retry => Ok(()),
            Answer::GiveUp => Err(rewrap(error)),
        }
    }
}

impl fmt::Debug for AuthorizedHttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizedHttpClient").field("server", &self.client.server().to_string()).finish()
    }
}

fn authorization(e: Error) -> StreamableHttpError<AuthorizedHttpError> {
    StreamableHttpError::Client(AuthorizedHttpError::Authorization(e))
}

fn is_bare_401(text: &str) -> bool {
    text.starts_with("HTTP 401")
}

fn bearer(token: &Option<AccessToken>) -> Option<String> {
    token.as_ref().map(|t| t.secret().to_string())
}

/// Ours or rmcp's, whichever is smaller: the caller may lower a bound, never raise it past ours.
fn bounded(limits: StreamableHttpResponseLimits, client: &McpClient) -> StreamableHttpResponseLimits {
    let ours = client.transport().options();
    let mut limits = limits;
    limits.max_json_response_size = limits.max_json_response_size.min(ours.max_json_body);
    limits.max_sse_event_size = limits.max_sse_event_size.min(ours.sse_limits.max_event);
    limits
}

impl StreamableHttpClient for AuthorizedHttpClient {
    type Error = AuthorizedHttpError;

    async fn post_message(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<StreamableHttpPostResponse, StreamableHttpError<Self::Error>> {
        let limits = StreamableHttpResponseLimits::default();
        self.post_message_with_response_limits(uri, message, session_id, auth_header, custom_headers, limits).await
    }

    async fn post_message_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        max_sse_event_size: usize,
    ) -> Result<StreamableHttpPostResponse, StreamableHttpError<Self::Error>> {
        let mut limits = StreamableHttpResponseLimits::default();
        limits.max_sse_event_size = max_sse_event_size;
        self.post_message_with_response_limits(uri, message, session_id, auth_header, custom_headers, limits).await
    }

    async fn post_message_with_response_limits(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        limits: StreamableHttpResponseLimits,
    ) -> Result<StreamableHttpPostResponse, StreamableHttpError<Self::Error>> {
        let limits = bounded(limits, &self.client);
        let http = self.client.mcp_http();
        let mut challenges = Challenges::default();
        loop {
            let token = self.token().await?;
            let sent = http
                .post_message_with_response_limits(
                    uri.clone(),
                    message.clone(),
                    session_id.clone(),
                    bearer(&token),
                    custom_headers.clone(),
                    limits,
                )
                .await;
            match sent {
                Ok(response) => return Ok(response),
                Err(error) => self.after(&mut challenges, error, token.as_ref()).await?,
            }
        }
    }

    async fn delete_session(
        &self,
        uri: Arc<str>,
        session_id: Arc<str>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<(), StreamableHttpError<Self::Error>> {
        // Ending a session never signs in: with no usable token the server forgets the session on its own.
        let token = self.client.bearer_token().await.ok().flatten();
        let http = self.client.mcp_http();
        http.delete_session(uri, session_id, bearer(&token), custom_headers).await.map_err(rewrap)
    }

    async fn get_stream(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<SseStream, StreamableHttpError<Self::Error>> {
        let max = self.client.transport().options().sse_limits.max_event;
        self.get_stream_with_max_sse_event_size(uri, session_id, last_event_id, auth_header, custom_headers, max).await
    }

    async fn get_stream_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        max_sse_event_size: usize,
    ) -> Result<SseStream, StreamableHttpError<Self::Error>> {
        let max = max_sse_event_size.min(self.client.transport().options().sse_limits.max_event);
        let http = self.client.mcp_http();
        let mut challenges = Challenges::default();
        loop {
            let token = self.token().await?;
            let opened = http
                .get_stream_with_max_sse_event_size(
                    uri.clone(),
                    session_id.clone(),
                    last_event_id.clone(),
                    bearer(&token),
                    custom_headers.clone(),
                    max,
                )
                .await;
            match opened {
                Ok(stream) => return Ok(stream),
                Err(error) => self.after(&mut challenges, error, token.as_ref()).await?,
            }
        }
    }
}
