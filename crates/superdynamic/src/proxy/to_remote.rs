//! Toward the remote server: each host request runs through [`McpClient::request`] (sign-in, refresh, step-up,
//! the negotiated generation) and is answered under the host's own id; `initialize`, `server/discover` and
//! `ping` are answered across generations; notifications go out in order.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::to_host::Relay;
use super::{
    HostGeneration, INTERNAL_ERROR, INVALID_PARAMS, INVALID_REQUEST, PARSE_ERROR, ProxyOptions, RemoteInfo,
    UNSUPPORTED_PROTOCOL_VERSION, error_line, translate,
};
use crate::client::McpClient;
use crate::error::Error;
use crate::transport::era::{META_CLIENT_CAPABILITIES, META_PROTOCOL_VERSION};
use crate::transport::{Generation, MODERN_PROTOCOL_VERSIONS, RpcErrorObject};
use crate::transport::{TransportError, jsonrpc};

pub(super) struct Proxy {
    pub(super) client: McpClient,
    pub(super) relay: Arc<Relay>,
    pub(super) options: ProxyOptions,
    /// Host requests being worked on, by the id as the host wrote it.
    pub(super) in_flight: Mutex<HashMap<String, tokio::task::AbortHandle>>,
    pub(super) permits: Arc<tokio::sync::Semaphore>,
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
    pub(super) fn lock_in_flight(&self) -> MutexGuard<'_, HashMap<String, tokio::task::AbortHandle>> {
        self.in_flight.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) async fn dispatch(
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

pub(super) async fn forward_notifications(proxy: Arc<Proxy>, mut notes: mpsc::Receiver<(String, Option<Value>)>) {
    while let Some((method, params)) = notes.recv().await {
        if let Err(e) = proxy.client.notify(&method, params).await {
            tracing::debug!(method, error = %e, "could not forward a notification");
        }
    }
}
