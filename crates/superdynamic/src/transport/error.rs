//! What can go wrong talking to an MCP server over Streamable HTTP. Messages say what happened and what to do
//! next; none of them contains a request header (so never a bearer token).

use std::time::Duration;

use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// HTTP 401. `www_authenticate` holds every `WWW-Authenticate` value in order, for the OAuth layer
    /// (RFC 9728 §5.1 `resource_metadata`, RFC 6750 §3 `error`/`scope`).
    #[error("the MCP server requires authorization (HTTP 401): sign in or refresh the access token, then retry")]
    Unauthorized { www_authenticate: Vec<String> },

    /// HTTP 403, typically `insufficient_scope` (RFC 6750 §3.1).
    #[error(
        "the MCP server refused access (HTTP 403): the token may lack a required scope; re-authorize with the scopes the server asks for"
    )]
    Forbidden { www_authenticate: Vec<String> },

    /// A JSON-RPC error response to our request.
    #[error("the MCP server answered with JSON-RPC error {code}: {message}")]
    Rpc { code: i64, message: String, data: Option<Value> },

    /// Any other non-2xx status. `body` is a short excerpt of the response body.
    #[error("the MCP server answered HTTP {status}: {body}")]
    HttpStatus { status: u16, body: String },

    /// The server could not be reached at all.
    #[error("could not reach {url}: is the server running and the URL right?")]
    Connect {
        url: String,
        #[source]
        source: reqwest::Error,
    },

    /// No response headers, or no stream event, within the request timeout.
    #[error(
        "timed out after {after:?} waiting for {what}; the server may be busy: retry, or raise the request timeout"
    )]
    Timeout { what: String, after: Duration },

    /// The server answered `initialize` with a protocol version this client does not speak, or answered a
    /// 2026-07-28 request with `UnsupportedProtocolVersionError` (-32022) listing only versions this client does
    /// not speak. `offered` is the version, or the comma-separated list the server named.
    #[error(
        "the MCP server offers protocol version {offered}, which this client does not support (it speaks 2026-07-28, 2025-11-25, 2025-06-18 and 2025-03-26)"
    )]
    UnsupportedProtocolVersion { offered: String },

    /// 2026-07-28 MRTR: the server asked for input (elicitation, sampling, roots) that the client's
    /// [`ServerMessageHandler`](super::ServerMessageHandler) cannot provide, or kept asking beyond the round
    /// limit.
    #[error("the MCP server needs input the client cannot provide: `{method}` (input {key:?}): {reason}")]
    InputUnavailable {
        /// The server's key for the input request in `inputRequests`.
        key: String,
        /// What the server asked for: `elicitation/create`, `sampling/createMessage`, `roots/list` …
        method: String,
        reason: String,
    },

    /// The server broke the protocol: not JSON, wrong content type, missing result, id mismatch, bad SSE …
    #[error("MCP protocol error: {0}")]
    Protocol(String),

    /// A JSON body or an SSE event exceeded its size bound.
    #[error(
        "the MCP server sent a message larger than the {limit}-byte limit; raise the limit only if the server is trusted"
    )]
    BodyTooLarge { limit: usize },

    /// The endpoint does not offer the HTTP+SSE transport of 2024-11-05: its answer to the event-stream GET was
    /// not an event stream.
    #[error(
        "the MCP server does not offer the HTTP+SSE transport (its GET answer was HTTP {status}, {content_type}); \
         use Streamable HTTP (--transport http-only) or check the URL"
    )]
    NoEventStream { status: u16, content_type: String },

    /// The server ended the session (HTTP 404) and the request failed again on a fresh session.
    #[error("the MCP session expired and the request failed again on a new session; reconnect and retry")]
    SessionExpired,
}

impl TransportError {
    /// `true` for 401 and 403, the two the OAuth layer acts on.
    pub fn is_auth(&self) -> bool {
        matches!(self, Self::Unauthorized { .. } | Self::Forbidden { .. })
    }
}
