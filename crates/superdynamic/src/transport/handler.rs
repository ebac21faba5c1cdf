//! Handling of server→client messages: requests and notifications that arrive on an SSE stream before the
//! response to our request (2025-11-25 basic/transports.mdx "Sending Messages to the Server" 6: "The server MAY
//! send JSON-RPC requests and notifications before sending the JSON-RPC response"), and, in 2026-07-28, the
//! input requests of an `InputRequiredResult` (basic/patterns/mrtr.mdx, SEP-2322).

use std::future::Future;
use std::pin::Pin;

use serde_json::{Value, json};

use super::jsonrpc::RpcErrorObject;

/// The future a [`ServerMessageHandler`] returns for a server request: the `result`, or a JSON-RPC error.
pub type HandlerFuture<'a> = Pin<Box<dyn Future<Output = Result<Value, RpcErrorObject>> + Send + 'a>>;

/// Answers server→client requests (ping, sampling, elicitation, roots …) and receives server notifications
/// (progress, logging …). The transport POSTs each answer back to the endpoint with the session id, the
/// protocol version header and the bearer token of the call that received the request.
pub trait ServerMessageHandler: Send + Sync {
    /// Default: `ping` → `{}` (basic/utilities/ping: "The receiver MUST respond promptly with an empty
    /// response"); anything else → -32601 method not found, since this client declares no capabilities.
    fn handle_request<'a>(&'a self, method: &'a str, params: Option<Value>) -> HandlerFuture<'a> {
        let _ = params;
        Box::pin(
            async move { if method == "ping" { Ok(json!({})) } else { Err(RpcErrorObject::method_not_found(method)) } },
        )
    }

    /// The client capabilities to declare: `capabilities` of `initialize` (legacy) and
    /// `io.modelcontextprotocol/clientCapabilities` of every 2026-07-28 request (basic/index.mdx "Per-request
    /// protocol fields"). Declare only what [`Self::handle_request`] / [`Self::handle_input_request`] can
    /// answer, e.g. `{"elicitation": {"form": {}}}`: servers "MUST NOT send an inputRequests that the client has
    /// not declared support for" (basic/patterns/mrtr.mdx). Default: `{}` (nothing).
    fn client_capabilities(&self) -> Value {
        json!({})
    }

    /// 2026-07-28 MRTR (basic/patterns/mrtr.mdx "InputRequests"): one entry of an `InputRequiredResult`'s
    /// `inputRequests`, i.e. `elicitation/create`, `sampling/createMessage` or `roots/list` with its params.
    /// `Ok` is the result sent back under the same key in `inputResponses` (an `ElicitResult`,
    /// `CreateMessageResult` or `ListRootsResult`; an elicitation the user declines is `Ok({"action":
    /// "decline"})`). `Err` means the client cannot answer at all: the request fails with
    /// [`TransportError::InputUnavailable`](super::TransportError::InputUnavailable) naming what the server
    /// asked for. Default: the same answer as [`Self::handle_request`], so one implementation serves both
    /// generations; with the default `handle_request` everything but `ping` is refused.
    fn handle_input_request<'a>(&'a self, method: &'a str, params: Option<Value>) -> HandlerFuture<'a> {
        self.handle_request(method, params)
    }

    /// Default: log the method at debug level (params may carry user data, so they are not logged).
    fn handle_notification(&self, method: &str, params: Option<Value>) {
        let _ = params;
        tracing::debug!(method, "MCP server notification");
    }
}

/// The handler used when none is set: the trait's defaults.
#[derive(Debug, Default, Clone, Copy)]
pub struct DefaultHandler;

impl ServerMessageHandler for DefaultHandler {}
