//! MCP Streamable HTTP transport for the initialize-based protocol versions 2025-03-26, 2025-06-18 and
//! 2025-11-25 (basic/transports.mdx "Streamable HTTP", basic/lifecycle.mdx).
//!
//! - [`jsonrpc`]: JSON-RPC 2.0 message types and a parser that never panics on input.
//! - [`sse`]: an incremental, chunking-independent Server-Sent Events parser.
//! - [`StreamableHttp`]: the client (initialize, session id, protocol version header, JSON and SSE responses,
//!   server→client requests, resumption, timeouts with cancellation, session DELETE).
//! - [`TransportError`]: what went wrong, with the `WWW-Authenticate` values the OAuth layer needs.

pub mod error;
pub mod handler;
pub mod jsonrpc;
pub mod sse;
mod streamable_http;

pub use error::TransportError;
pub use handler::{DefaultHandler, HandlerFuture, ServerMessageHandler};
pub use jsonrpc::{Message, RequestId, RpcErrorObject};
pub use sse::{SseError, SseEvent, SseLimits, SseParser};
pub use streamable_http::{
    LATEST_PROTOCOL_VERSION, SUPPORTED_PROTOCOL_VERSIONS, SessionInfo, StreamableHttp,
    TransportOptions,
};
