//! The settings of a [`StreamableHttp`](super::StreamableHttp).

use std::time::Duration;

use reqwest::header::HeaderMap;

use super::LATEST_PROTOCOL_VERSION;
use crate::transport::era::Generation;
use crate::transport::sse::SseLimits;

/// Settings of a [`StreamableHttp`](super::StreamableHttp).
#[derive(Debug, Clone)]
pub struct TransportOptions {
    /// `clientInfo.name` in `initialize`.
    pub client_name: String,
    /// `clientInfo.version` in `initialize`.
    pub client_version: String,
    /// The version requested in `initialize`.
    pub protocol_version: String,
    /// Per request: the wait for response headers and, on a stream, the longest idle gap between chunks. Never a
    /// total deadline: a stream that keeps sending is not cut.
    pub request_timeout: Duration,
    /// Largest JSON response body read.
    pub max_json_body: usize,
    /// Bounds for SSE lines and events.
    pub sse_limits: SseLimits,
    /// Resumptions (GET with `Last-Event-ID`) in a row without a new message before a request gives up (legacy).
    pub max_resume_attempts: u32,
    /// The generation to start with, e.g. what [`StreamableHttp::generation`](super::StreamableHttp::generation) said in an earlier run for this
    /// server. `None`: send the modern request first and fall back to `initialize` if the server is legacy.
    /// `Some(Legacy)`: go straight to `initialize`. `Some(Modern)`: same as `None`, but documents intent. A hint
    /// is re-checked if it turns out wrong (basic/versioning.mdx: "re-probing if the cached assumption later
    /// fails").
    pub generation_hint: Option<Generation>,
    /// Modern MRTR: the most `input_required` rounds one request may go through before giving up.
    pub max_input_rounds: u32,
    /// Modern: how often a request whose SSE response stream broke before the response is re-issued (with a
    /// new id; 2026-07-28 streams are not resumable).
    pub max_stream_reissues: u32,
    /// Legacy sessions: when to open the session's GET stream, kept open in the background for server requests
    /// and notifications not tied to one of our requests (basic/transports.mdx "Listening for Messages from the
    /// Server").
    pub server_stream: ServerStream,
    /// Extra headers sent on every HTTP request to the endpoint (e.g. an API key a gateway wants). They never
    /// replace a header the protocol sets (`Authorization`, `Mcp-Session-Id`, `MCP-Protocol-Version`, …).
    pub extra_headers: HeaderMap,
    /// Streamable HTTP, the 2024-11-05 HTTP+SSE transport, or one then the other (mcp-remote's `--transport`).
    pub transport: TransportOrder,
}

impl Default for TransportOptions {
    fn default() -> Self {
        Self {
            client_name: "superdynamic".to_owned(),
            client_version: env!("CARGO_PKG_VERSION").to_owned(),
            protocol_version: LATEST_PROTOCOL_VERSION.to_owned(),
            request_timeout: Duration::from_secs(60),
            max_json_body: 8 * 1024 * 1024,
            sse_limits: SseLimits::default(),
            max_resume_attempts: 5,
            generation_hint: None,
            max_input_rounds: 8,
            max_stream_reissues: 2,
            server_stream: ServerStream::Always,
            extra_headers: HeaderMap::new(),
            transport: TransportOrder::HttpFirst,
        }
    }
}

/// When a legacy session opens its GET stream for messages the server sends outside a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerStream {
    /// Right after `initialize`: for long-lived clients that relay list changes at any time (the proxy).
    Always,
    /// Before the session's first request that may lead the server to ask something back (anything but a
    /// `*/list` listing or `ping`): servers built on the TypeScript SDK send a tool's elicitation there. A
    /// one-shot listing then costs one request fewer.
    BeforeFirstCall,
    Never,
}

/// Which wire to speak, and in what order (the values of mcp-remote's `--transport`). The HTTP+SSE transport of
/// 2024-11-05 (basic/transports.mdx of that version: a GET event stream whose `endpoint` event names where to
/// POST) is what many hosted servers still offer alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TransportOrder {
    /// Streamable HTTP; if the endpoint refuses it before anything was established (HTTP 400/404/405, as
    /// 2025-03-26 basic/transports.mdx "Backwards Compatibility" describes), HTTP+SSE.
    #[default]
    HttpFirst,
    /// HTTP+SSE; if the endpoint offers no event stream, Streamable HTTP.
    SseFirst,
    HttpOnly,
    SseOnly,
}

impl TransportOrder {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HttpFirst => "http-first",
            Self::SseFirst => "sse-first",
            Self::HttpOnly => "http-only",
            Self::SseOnly => "sse-only",
        }
    }
}

impl std::str::FromStr for TransportOrder {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "http-first" => Ok(Self::HttpFirst),
            "sse-first" => Ok(Self::SseFirst),
            "http-only" => Ok(Self::HttpOnly),
            "sse-only" => Ok(Self::SseOnly),
            other => Err(format!("'{other}' is not a transport: use http-first, sse-first, http-only or sse-only")),
        }
    }
}
