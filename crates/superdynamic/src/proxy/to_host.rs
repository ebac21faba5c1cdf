//! Toward the host (stdout): server notifications as they arrive, server requests under a proxy-chosen id with
//! the host's answer awaited, and every line written in order.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

use super::{HostGeneration, INTERNAL_ERROR};
use crate::transport::{HandlerFuture, RpcErrorObject, ServerMessageHandler, jsonrpc};

#[derive(Default)]
pub(super) struct HostState {
    pub(super) generation: Option<HostGeneration>,
    /// Legacy: `capabilities` of the host's `initialize`; modern: the latest request's
    /// `io.modelcontextprotocol/clientCapabilities`.
    pub(super) capabilities: Option<Value>,
}

/// The stdout side, shared by the request tasks and the transport's handler.
pub(super) struct Relay {
    pub(super) out: Mutex<Option<mpsc::UnboundedSender<String>>>,
    pub(super) host: Mutex<HostState>,
    /// Server requests written to the host, by the proxy-chosen id, waiting for the host's answer.
    pub(super) waiting: Mutex<HashMap<String, oneshot::Sender<Result<Value, RpcErrorObject>>>>,
    pub(super) next_id: AtomicU64,
    pub(super) answer_timeout: Duration,
}

impl Relay {
    pub(super) fn send(&self, line: String) {
        if let Some(out) = self.out.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            let _ = out.send(line);
        }
    }

    pub(super) fn close(&self) {
        self.out.lock().unwrap_or_else(|p| p.into_inner()).take();
    }

    pub(super) fn lock_host(&self) -> MutexGuard<'_, HostState> {
        self.host.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn lock_waiting(
        &self,
    ) -> MutexGuard<'_, HashMap<String, oneshot::Sender<Result<Value, RpcErrorObject>>>> {
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

pub(super) struct RelayHandler {
    pub(super) relay: Arc<Relay>,
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

/// Writes each line and a newline, flushing when no more lines are queued.
pub(super) async fn write_lines<W: AsyncWrite + Unpin>(
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
