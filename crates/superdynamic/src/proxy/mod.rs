//! A stdio ↔ Streamable HTTP relay: a local MCP host that only speaks stdio (it launches "servers" as child
//! processes) uses a remote, OAuth-protected server through [`McpClient`], which signs in, refreshes and steps up
//! on demand while the host's requests wait.
//!
//! - Host → remote: every request goes through [`McpClient::request`] (auth loop, negotiated generation) and its
//!   answer goes back under the host's own id, byte for byte as the host wrote it. Notifications are forwarded in
//!   order; `notifications/initialized` is absorbed (the transport runs its own handshake) and
//!   `notifications/cancelled` stops the local work for that request.
//! - Remote → host: server notifications are written to stdout as they arrive; server requests (sampling,
//!   elicitation, roots, ping, and 2026-07-28 input requests when the host is legacy) are written with a
//!   proxy-chosen id (`superdynamic-proxy-N`) and the host's answer is sent back to the server.
//! - Generations ([`translate`]): the host's generation is read from its first message (`initialize` → legacy,
//!   `_meta.io.modelcontextprotocol/protocolVersion` → 2026-07-28); the remote's is whatever the transport
//!   negotiates. `initialize` and `server/discover` are answered locally from the remote's capabilities when
//!   the two differ; what cannot be carried across gets a JSON-RPC error that says why.

//!
//! Files: `to_remote` (the host's messages, relayed through [`McpClient`]), `to_host` (stdout: what the remote
//! sends, and the host's answers to the server's requests), `translate` and `framing`.

mod framing;
mod to_host;
mod to_remote;
pub mod translate;

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::client::McpClient;
use crate::transport::RpcErrorObject;
use to_host::{HostState, Relay, RelayHandler, write_lines};
use to_remote::{Proxy, forward_notifications};

pub use framing::{Line, LineReader};
/// For [`ClientOptions::headers`](crate::ClientOptions::headers) without a direct `reqwest` dependency.
pub use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
pub use translate::HostGeneration;

/// JSON-RPC 2.0 codes the proxy answers with itself.
const PARSE_ERROR: i64 = -32700;
const INVALID_REQUEST: i64 = -32600;
const INVALID_PARAMS: i64 = -32602;
const INTERNAL_ERROR: i64 = -32603;
/// 2026-07-28 `UnsupportedProtocolVersionError`.
const UNSUPPORTED_PROTOCOL_VERSION: i64 = -32022;

/// Settings of [`run`].
#[derive(Debug, Clone)]
pub struct ProxyOptions {
    /// Longest host line accepted; longer ones are answered with -32600 and skipped.
    pub max_line_bytes: usize,
    /// Tools hidden from the host: names matching any of these glob patterns (`*`, `?`) are removed from
    /// `tools/list` and refused in `tools/call`.
    pub ignore_tools: Vec<String>,
    /// While the remote server cannot be reached (connection refused: the request was never delivered, so
    /// sending it again is safe), retry after this delay, doubling up to `reconnect_max`, for at most
    /// `reconnect_window`; then the request gets a JSON-RPC error.
    pub reconnect_initial: Duration,
    pub reconnect_max: Duration,
    pub reconnect_window: Duration,
    /// At end of input, how long requests still in flight may take to finish.
    pub drain_timeout: Duration,
    /// How long a server request (elicitation, sampling …) waits for the host's answer.
    pub host_answer_timeout: Duration,
    /// Host requests forwarded at the same time; more wait their turn (bounds connections and memory when a
    /// host pipelines many requests).
    pub max_concurrent_requests: usize,
}

impl Default for ProxyOptions {
    fn default() -> Self {
        Self {
            max_line_bytes: 16 * 1024 * 1024,
            ignore_tools: Vec::new(),
            reconnect_initial: Duration::from_millis(100),
            reconnect_max: Duration::from_secs(2),
            reconnect_window: Duration::from_secs(30),
            drain_timeout: Duration::from_secs(10),
            host_answer_timeout: Duration::from_secs(600),
            max_concurrent_requests: 16,
        }
    }
}

/// Why [`run`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyEnd {
    /// The host closed its end (stdin EOF).
    InputClosed,
    /// The `shutdown` future completed (SIGTERM, Ctrl-C).
    Shutdown,
}

/// Runs the relay until `input` ends or `shutdown` completes, then ends the remote session (HTTP DELETE where
/// the server gave one). Errors only for I/O failures on `input`.
pub async fn run<R, W, S>(
    client: McpClient,
    input: R,
    output: W,
    options: ProxyOptions,
    shutdown: S,
) -> std::io::Result<ProxyEnd>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin + Send + 'static,
    S: Future<Output = ()>,
{
    let (out_tx, out_rx) = mpsc::unbounded_channel::<String>();
    let writer = tokio::spawn(write_lines(output, out_rx));
    let relay = Arc::new(Relay {
        out: Mutex::new(Some(out_tx)),
        host: Mutex::new(HostState::default()),
        waiting: Mutex::new(HashMap::new()),
        next_id: AtomicU64::new(1),
        answer_timeout: options.host_answer_timeout,
    });
    client.transport().set_handler(Arc::new(RelayHandler { relay: relay.clone() }));
    let permits = Arc::new(tokio::sync::Semaphore::new(options.max_concurrent_requests.max(1)));
    let proxy =
        Arc::new(Proxy { client, relay: relay.clone(), options, in_flight: Mutex::new(HashMap::new()), permits });

    // Host notifications go out one at a time, in order; a full queue slows the reading of stdin.
    let (note_tx, note_rx) = mpsc::channel::<(String, Option<Value>)>(256);
    let notifier = tokio::spawn(forward_notifications(proxy.clone(), note_rx));

    let mut reader = LineReader::new(input, proxy.options.max_line_bytes);
    let mut tasks = JoinSet::new();
    tokio::pin!(shutdown);
    let end = loop {
        let line = tokio::select! {
            () = &mut shutdown => break ProxyEnd::Shutdown,
            line = reader.next_line() => line,
        };
        match line {
            Ok(Line::Eof) => break ProxyEnd::InputClosed,
            Ok(Line::TooLong) => relay.send(error_line(
                "null",
                &RpcErrorObject::new(
                    INVALID_REQUEST,
                    format!("message longer than {} bytes; skipped", proxy.options.max_line_bytes),
                ),
            )),
            Ok(Line::Message(bytes)) => proxy.dispatch(&bytes, &mut tasks, &note_tx).await,
            Err(e) => {
                tracing::warn!(error = %e, "reading the host's input failed");
                break ProxyEnd::InputClosed;
            }
        }
        while tasks.try_join_next().is_some() {}
    };
    tracing::debug!(?end, "the proxy is stopping");

    if end == ProxyEnd::InputClosed {
        // Whatever the host asked before closing its input still gets its answer.
        let drained =
            tokio::time::timeout(proxy.options.drain_timeout, async { while tasks.join_next().await.is_some() {} })
                .await;
        if drained.is_err() {
            tracing::warn!("requests still running at the end of input were abandoned");
        }
    }
    // Requests still running get an error instead of silence.
    let abandoned: Vec<String> = proxy
        .lock_in_flight()
        .drain()
        .map(|(id, handle)| {
            handle.abort();
            id
        })
        .collect();
    for id in abandoned {
        relay.send(error_line(&id, &RpcErrorObject::new(INTERNAL_ERROR, "the proxy is shutting down")));
    }
    tasks.shutdown().await;
    drop(note_tx);
    let _ = tokio::time::timeout(Duration::from_secs(2), notifier).await;
    relay.lock_waiting().clear();
    // basic/transports.mdx "Session Management" 5: end the session (DELETE) when there is one.
    if tokio::time::timeout(Duration::from_secs(5), proxy.client.close()).await.is_err() {
        tracing::debug!("ending the remote session timed out");
    }
    relay.close();
    if let Ok(Err(e)) = tokio::time::timeout(Duration::from_secs(2), writer).await.map(|r| r.unwrap_or(Ok(()))) {
        tracing::debug!(error = %e, "writing to the host failed");
    }
    Ok(end)
}

/// What the remote server told about itself, in either generation.
#[derive(Debug, Clone)]
pub(super) struct RemoteInfo {
    pub(super) capabilities: Value,
    pub(super) server_info: Value,
    pub(super) instructions: Option<String>,
}

fn error_line(id: &str, error: &RpcErrorObject) -> String {
    format!(r#"{{"jsonrpc":"2.0","id":{id},"error":{}}}"#, error.to_value())
}
