//! MCP Streamable HTTP transport for the stateless 2026-07-28 generation and the initialize-based protocol
//! versions 2025-03-26, 2025-06-18 and 2025-11-25 (basic/transports.mdx "Streamable HTTP",
//! basic/lifecycle.mdx, 2026-07-28 basic/versioning.mdx), with dual-era negotiation.
//!
//! - [`era`]: the [`Generation`] notion and the per-request `_meta` of 2026-07-28.
//! - [`headers`]: 2026-07-28 request metadata headers (`Mcp-Name` / `Mcp-Param-*` encoding, `x-mcp-header`).
//! - [`jsonrpc`]: JSON-RPC 2.0 message types and a parser that never panics on input.
//! - [`sse`]: an incremental, chunking-independent Server-Sent Events parser.
//! - [`StreamableHttp`]: the client (initialize, session id, protocol version header, JSON and SSE responses,
//!   server→client requests, resumption, timeouts with cancellation, session DELETE).
//! - [`TransportError`]: what went wrong, with the `WWW-Authenticate` values the OAuth layer needs.

pub mod era;
pub mod error;
pub mod handler;
pub mod headers;
pub mod jsonrpc;
pub mod sse;
mod streamable_http;

pub use era::{Generation, MODERN_PROTOCOL_VERSION, MODERN_PROTOCOL_VERSIONS};
pub use error::TransportError;
pub use handler::{DefaultHandler, HandlerFuture, ServerMessageHandler};
pub use jsonrpc::{Message, RequestId, RpcErrorObject};
pub use sse::{SseError, SseEvent, SseLimits, SseParser};
pub use streamable_http::{
    LATEST_PROTOCOL_VERSION, SUPPORTED_PROTOCOL_VERSIONS, ServerStream, SessionInfo, StreamableHttp, TransportOptions,
    TransportOrder,
};
