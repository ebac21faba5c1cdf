//! Handling of server→client messages that arrive on an SSE stream before the response to our request
//! (basic/transports.mdx "Sending Messages to the Server" 6: "The server MAY send JSON-RPC requests and
//! notifications before sending the JSON-RPC response").

use std::future::Future;
use std::pin::Pin;

use serde_json::{Value, json};

use super::jsonrpc::RpcErrorObject;

/// The future a [`ServerMessageHandler`] returns for a server request: the `result`, or a JSON-RPC error.
pub type HandlerFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Value, RpcErrorObject>> + Send + 'a>>;

/// Answers server→client requests (ping, sampling, elicitation, roots …) and receives server notifications
/// (progress, logging …). The transport POSTs each answer back to the endpoint with the session id, the
/// protocol version header and the bearer token of the call that received the request.
pub trait ServerMessageHandler: Send + Sync {
    /// Default: `ping` → `{}` (basic/utilities/ping: "The receiver MUST respond promptly with an empty
    /// response"); anything else → -32601 method not found, since this client declares no capabilities.
    fn handle_request<'a>(&'a self, method: &'a str, params: Option<Value>) -> HandlerFuture<'a> {
        let _ = params;
        Box::pin(async move {
            if method == "ping" {
                Ok(json!({}))
            } else {
                Err(RpcErrorObject::method_not_found(method))
            }
        })
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
