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

mod framing;
pub mod translate;

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;

use crate::client::McpClient;
use crate::error::Error;
use crate::transport::era::{META_CLIENT_CAPABILITIES, META_PROTOCOL_VERSION};
use crate::transport::{Generation, HandlerFuture, MODERN_PROTOCOL_VERSIONS, RpcErrorObject, ServerMessageHandler};
use crate::transport::{TransportError, jsonrpc};

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
struct RemoteInfo {
    capabilities: Value,
    server_info: Value,
    instructions: Option<String>,
}

#[derive(Default)]
struct HostState {
    generation: Option<HostGeneration>,
    /// Legacy: `capabilities` of the host's `initialize`; modern: the latest request's
    /// `io.modelcontextprotocol/clientCapabilities`.
    capabilities: Option<Value>,
}

/// The stdout side, shared by the request tasks and the transport's handler.
struct Relay {
    out: Mutex<Option<mpsc::UnboundedSender<String>>>,
    host: Mutex<HostState>,
    /// Server requests written to the host, by the proxy-chosen id, waiting for the host's answer.
    waiting: Mutex<HashMap<String, oneshot::Sender<Result<Value, RpcErrorObject>>>>,
    next_id: AtomicU64,
    answer_timeout: Duration,
}

impl Relay {
    fn send(&self, line: String) {
        if let Some(out) = self.out.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            let _ = out.send(line);
        }
    }

    fn close(&self) {
        self.out.lock().unwrap_or_else(|p| p.into_inner()).take();
    }

    fn lock_host(&self) -> MutexGuard<'_, HostState> {
        self.host.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_waiting(&self) -> MutexGuard<'_, HashMap<String, oneshot::Sender<Result<Value, RpcErrorObject>>>> {
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes a server request to the host under a new id and waits for the host's answer.
    async fn ask_host(&self, method: &str, params: Option<Value>) -> Result<Value, RpcErrorObject> {
        if self.lock_host().generation == Some(HostGeneration::Modern) {
            // 2026-07-28 stdio: "The server MUST NOT write JSON-RPC requests to stdout".
            if method == "ping" {
                return Ok(json!({}));
            }
            return Err(RpcErrorObject::new(
                jsonrpc::METHOD_NOT_FOUND,
                format!(
                    "the client behind this proxy speaks MCP 2026-07-28, where servers cannot send requests; \
                     `{method}` cannot be relayed (use input_required results instead)"
                ),
            ));
        }
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        let id = format!("\"superdynamic-proxy-{n}\"");
        let (tx, rx) = oneshot::channel();
        self.lock_waiting().insert(id.clone(), tx);
        let mut message = json!({"jsonrpc": "2.0", "id": format!("superdynamic-proxy-{n}"), "method": method});
        if let Some(params) = params {
            message["params"] = params;
        }
        self.send(message.to_string());
        match tokio::time::timeout(self.answer_timeout, rx).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(_)) => Err(RpcErrorObject::new(INTERNAL_ERROR, "the client behind the proxy went away")),
            Err(_) => {
                self.lock_waiting().remove(&id);
                Err(RpcErrorObject::new(
                    INTERNAL_ERROR,
                    format!("the client behind the proxy did not answer `{method}` in time"),
                ))
            }
        }
    }
}

struct RelayHandler {
    relay: Arc<Relay>,
}

impl ServerMessageHandler for RelayHandler {
    fn handle_request<'a>(&'a self, method: &'a str, params: Option<Value>) -> HandlerFuture<'a> {
        Box::pin(self.relay.ask_host(method, params))
    }

    fn client_capabilities(&self) -> Value {
        self.relay.lock_host().capabilities.clone().unwrap_or_else(|| json!({}))
    }

    fn handle_notification(&self, method: &str, params: Option<Value>) {
        let mut message = json!({"jsonrpc": "2.0", "method": method});
        if let Some(params) = params {
            message["params"] = params;
        }
        self.relay.send(message.to_string());
    }
}

struct Proxy {
    client: McpClient,
    relay: Arc<Relay>,
    options: ProxyOptions,
    /// Host requests being worked on, by the id as the host wrote it.
    in_flight: Mutex<HashMap<String, tokio::task::AbortHandle>>,
    permits: Arc<tokio::sync::Semaphore>,
}

/// One host message, with the id kept as written.
#[derive(Deserialize)]
struct Incoming<'a> {
    #[serde(borrow, default)]
    id: Option<&'a RawValue>,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    params: Option<Value>,
    #[serde(default)]
    result: Option<Value>,
    #[serde(default)]
    error: Option<Value>,
}

impl Proxy {
    fn lock_in_flight(&self) -> MutexGuard<'_, HashMap<String, tokio::task::AbortHandle>> {
        self.in_flight.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn dispatch(
        self: &Arc<Self>,
        bytes: &[u8],
        tasks: &mut JoinSet<()>,
        notes: &mpsc::Sender<(String, Option<Value>)>,
    ) {
        let text = bytes.trim_ascii();
        if text.is_empty() {
            return;
        }
        if text.first() == Some(&b'[') {
            let error = RpcErrorObject::new(INVALID_REQUEST, "JSON-RPC batches are not supported (MCP removed them)");
            return self.relay.send(error_line("null", &error));
        }
        let message: Incoming<'_> = match serde_json::from_slice(text) {
            Ok(m) => m,
            Err(e) => {
                let error = RpcErrorObject::new(PARSE_ERROR, format!("not a JSON-RPC message: {e}"));
                return self.relay.send(error_line("null", &error));
            }
        };
        match (message.id, message.method) {
            (Some(id), Some(method)) => self.request(id.get().to_owned(), method, message.params, text, tasks),
            (None, Some(method)) => self.notification(method, message.params, notes).await,
            (Some(id), None) if message.result.is_some() || message.error.is_some() => {
                self.host_answer(id.get(), message.result, message.error);
            }
            (id, None) => {
                let id = id.map_or("null", RawValue::get);
                self.relay.send(error_line(id, &RpcErrorObject::new(INVALID_REQUEST, "no method, result or error")));
            }
        }
    }

    /// The host answered one of the server requests written to it.
    fn host_answer(&self, id: &str, result: Option<Value>, error: Option<Value>) {
        let Some(waiter) = self.relay.lock_waiting().remove(id) else {
            tracing::debug!("an answer from the host matches no pending server request");
            return;
        };
        let answer = match (result, error) {
            (_, Some(error)) => Err(RpcErrorObject {
                code: error.get("code").and_then(Value::as_i64).unwrap_or(INTERNAL_ERROR),
                message: error.get("message").and_then(Value::as_str).unwrap_or("error").to_owned(),
                data: error.get("data").cloned(),
            }),
            (Some(result), None) => Ok(result),
            (None, None) => Ok(Value::Null),
        };
        let _ = waiter.send(answer);
    }

    async fn notification(&self, method: String, params: Option<Value>, notes: &mpsc::Sender<(String, Option<Value>)>) {
        match method.as_str() {
            // The transport runs its own handshake with the remote server.
            "notifications/initialized" => {}
            // Stop the work; the host expects no answer (basic/utilities/cancellation).
            "notifications/cancelled" => {
                let id = params.as_ref().and_then(|p| p.get("requestId")).map(Value::to_string);
                if let Some(handle) = id.and_then(|id| self.lock_in_flight().remove(&id)) {
                    handle.abort();
                }
            }
            _ => {
                let _ = notes.send((method, params)).await;
            }
        }
    }

    /// Starts a host request. `line` is the request as the host wrote it: a waiting request keeps only those
    /// bytes and parses its parameters again once it may run, so a host that pipelines a thousand requests costs
    /// a thousand short lines rather than a thousand parsed documents.
    fn request(
        self: &Arc<Self>,
        id: String,
        method: String,
        params: Option<Value>,
        line: &[u8],
        tasks: &mut JoinSet<()>,
    ) {
        if let Err(error) = self.note_host(&method, params.as_ref()) {
            return self.relay.send(error_line(&id, &error));
        }
        if method == "tools/call"
            && let Some(name) = params.as_ref().and_then(|p| p.get("name")).and_then(Value::as_str)
            && self.ignored(name)
        {
            let error = RpcErrorObject::new(INVALID_PARAMS, format!("unknown tool: {name} (hidden by --ignore-tool)"));
            return self.relay.send(error_line(&id, &error));
        }
        drop(params);
        let line: Box<[u8]> = line.into();
        let proxy = self.clone();
        let key = id.clone();
        let mut in_flight = self.lock_in_flight();
        let handle = tasks.spawn(async move {
            let _permit = proxy.permits.clone().acquire_owned().await;
            // The line parsed once already, so it parses again; the fallback only guards against the impossible.
            let params = serde_json::from_slice::<Incoming<'_>>(&line).ok().and_then(|m| m.params);
            drop(line);
            // Boxed, so the large state of a request is allocated only once it may run.
            let answer = Box::pin(proxy.answer(&method, params)).await;
            // Removed first: a request the host cancelled meanwhile gets no answer.
            if proxy.lock_in_flight().remove(&key).is_some() {
                let line = match answer {
                    Ok(result) => format!(r#"{{"jsonrpc":"2.0","id":{key},"result":{result}}}"#),
                    Err(error) => error_line(&key, &error),
                };
                proxy.relay.send(line);
            }
        });
        in_flight.insert(id, handle);
    }

    /// Learns the host's generation and capabilities from its requests. `Err` for a modern version this proxy
    /// cannot speak (answered like a 2026-07-28 server would).
    fn note_host(&self, method: &str, params: Option<&Value>) -> Result<(), RpcErrorObject> {
        let mut host = self.relay.lock_host();
        if method == "initialize" {
            host.generation = Some(HostGeneration::Legacy);
            host.capabilities = params.and_then(|p| p.get("capabilities")).cloned();
            return Ok(());
        }
        let meta = params.and_then(|p| p.get("_meta"));
        let Some(version) = meta.and_then(|m| m.get(META_PROTOCOL_VERSION)) else {
            if host.generation.is_none() {
                // A request before `initialize` and without modern `_meta`: treated as a legacy host.
                host.generation = Some(HostGeneration::Legacy);
            }
            return Ok(());
        };
        if !version.as_str().is_some_and(|v| MODERN_PROTOCOL_VERSIONS.contains(&v)) {
            let mut error = RpcErrorObject::new(
                UNSUPPORTED_PROTOCOL_VERSION,
                format!("unsupported protocol version {version}; this proxy speaks {}", MODERN_PROTOCOL_VERSIONS[0]),
            );
            error.data = Some(json!({"supported": MODERN_PROTOCOL_VERSIONS, "requested": version}));
            return Err(error);
        }
        if host.generation != Some(HostGeneration::Modern) {
            host.generation = Some(HostGeneration::Modern);
            // The host answers input_required results itself and retries with inputResponses.
            self.client.transport().set_input_passthrough(true);
        }
        if let Some(caps) = meta.and_then(|m| m.get(META_CLIENT_CAPABILITIES)) {
            host.capabilities = Some(caps.clone());
        }
        Ok(())
    }

    fn ignored(&self, tool: &str) -> bool {
        self.options.ignore_tools.iter().any(|pattern| translate::glob_match(pattern, tool))
    }

    async fn answer(&self, method: &str, params: Option<Value>) -> Result<Value, RpcErrorObject> {
        match method {
            "initialize" => {
                let remote = self.remote_info().await.map_err(|e| self.rpc_error(e, method))?;
                let asked = params.as_ref().and_then(|p| p.get("protocolVersion")).and_then(Value::as_str);
                Ok(translate::initialize_result(asked, &remote.capabilities, &remote.server_info, remote.instructions))
            }
            "server/discover" => {
                let result = self.forward(method, params).await;
                match (self.client.transport().generation(), result) {
                    (Some(Generation::Modern), result) => result.map_err(|e| self.rpc_error(e, method)),
                    // A legacy remote: the answer comes from its initialize result.
                    (_, result) => match self.client.transport().session() {
                        Some(s) => Ok(translate::discover_result(&s.capabilities, &s.server_info, s.instructions)),
                        None => result.map_err(|e| self.rpc_error(e, method)),
                    },
                }
            }
            // 2026-07-28 has no `ping`: the proxy answers for a modern remote (basic/utilities/ping: promptly, `{}`).
            "ping" => match self.forward(method, params).await {
                Err(Error::Transport(TransportError::Rpc { code: jsonrpc::METHOD_NOT_FOUND, .. }))
                    if self.client.transport().generation() == Some(Generation::Modern) =>
                {
                    Ok(json!({}))
                }
                other => other.map_err(|e| self.rpc_error(e, method)),
            },
            _ => {
                let params = params.map(translate::strip_protocol_meta);
                let mut result = self.forward(method, params).await.map_err(|e| self.rpc_error(e, method))?;
                if method == "tools/list" && !self.options.ignore_tools.is_empty() {
                    translate::drop_tools(&mut result, |name| self.ignored(name));
                }
                Ok(result)
            }
        }
    }

    /// The remote's capabilities and identity: its `initialize` result (legacy) or `server/discover` (modern).
    async fn remote_info(&self) -> Result<RemoteInfo, Error> {
        let transport = self.client.transport();
        let legacy_hint = transport.options().generation_hint == Some(Generation::Legacy);
        if transport.generation() != Some(Generation::Modern) {
            let first = if legacy_hint { "ping" } else { "server/discover" };
            let result = self.forward(first, None).await;
            if transport.generation() != Some(Generation::Modern) {
                if let Some(s) = transport.session() {
                    return Ok(RemoteInfo {
                        capabilities: s.capabilities,
                        server_info: s.server_info,
                        instructions: s.instructions,
                    });
                }
                result?;
            } else if first == "server/discover" {
                return Ok(translate::remote_from_discover(&result?));
            }
        }
        let result = self.forward("server/discover", None).await?;
        Ok(translate::remote_from_discover(&result))
    }

    /// [`McpClient::request`], retried with backoff while the server refuses connections.
    async fn forward(&self, method: &str, params: Option<Value>) -> Result<Value, Error> {
        let started = Instant::now();
        let mut delay = self.options.reconnect_initial;
        loop {
            match self.client.request(method, params.clone()).await {
                Err(e) if unreachable(&e) && started.elapsed() + delay < self.options.reconnect_window => {
                    tracing::warn!(method, retry_in = ?delay, "the MCP server cannot be reached; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(self.options.reconnect_max);
                }
                other => return other,
            }
        }
    }

    /// The host's error for a failed request: the server's JSON-RPC error as sent, else -32603 with the reason.
    fn rpc_error(&self, error: Error, method: &str) -> RpcErrorObject {
        match error {
            Error::Transport(TransportError::Rpc { code, message, data }) => {
                let host = self.relay.lock_host().generation;
                let remote = self.client.transport().generation();
                let message = match translate::explain_mismatch(code, method, host, remote) {
                    Some(why) => format!("{message} ({why})"),
                    None => message,
                };
                RpcErrorObject { code, message, data }
            }
            other => {
                let mut error = RpcErrorObject::new(INTERNAL_ERROR, format!("superdynamic proxy: {other}"));
                error.data = Some(json!({"kind": format!("{:?}", other.kind()).to_lowercase()}));
                error
            }
        }
    }
}

/// A connection that was refused: nothing reached the server, so the request can be sent again.
fn unreachable(error: &Error) -> bool {
    let Error::Transport(TransportError::Connect { source, .. }) = error else {
        return false;
    };
    if source.is_connect() {
        return true;
    }
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(source);
    while let Some(e) = cause {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::ConnectionRefused
        {
            return true;
        }
        cause = e.source();
    }
    tracing::debug!(error = ?source, "not retried: the request may have reached the server");
    false
}

fn error_line(id: &str, error: &RpcErrorObject) -> String {
    format!(r#"{{"jsonrpc":"2.0","id":{id},"error":{}}}"#, error.to_value())
}

async fn forward_notifications(proxy: Arc<Proxy>, mut notes: mpsc::Receiver<(String, Option<Value>)>) {
    while let Some((method, params)) = notes.recv().await {
        if let Err(e) = proxy.client.notify(&method, params).await {
            tracing::debug!(method, error = %e, "could not forward a notification");
        }
    }
}

/// Writes each line and a newline, flushing when no more lines are queued.
async fn write_lines<W: AsyncWrite + Unpin>(
    mut output: W,
    mut lines: mpsc::UnboundedReceiver<String>,
) -> std::io::Result<()> {
    while let Some(line) = lines.recv().await {
        output.write_all(line.as_bytes()).await?;
        output.write_all(b"\n").await?;
        while let Ok(line) = lines.try_recv() {
            output.write_all(line.as_bytes()).await?;
            output.write_all(b"\n").await?;
        }
        output.flush().await?;
    }
    output.flush().await
}
