//! Reference OAuth 2.1 authorization server + MCP resource server for
//! superdynamic.
//!
//! One process serves both roles on one origin, built as two routers:
//!
//! - authorization server: RFC 8414 / OIDC discovery, RFC 7591 registration,
//!   `/authorize` (PKCE S256, RFC 8707 `resource`, RFC 9207 `iss`, consent
//!   page), `/token` (code, rotating refresh tokens, RFC 8628 device code),
//!   `/revoke` (RFC 7009), `/device_authorization` + the `/device`
//!   verification pages (RFC 8628), `/jwks.json`;
//! - resource server: RFC 9728 metadata and `/mcp` (Streamable HTTP via
//!   rmcp) behind bearer-token checks, with four demo tools. `/mcp` speaks
//!   both MCP generations: the 2025-11-25 `initialize`/session lifecycle and
//!   the stateless 2026-07-28 one (per-request `_meta`, `server/discover`).
//!   With [`ServerConfig::no_auth`] (loopback only) it skips OAuth, for
//!   conformance suites.
//!
//! ```no_run
//! # async fn demo() -> Result<(), superdynamic_server::ServerError> {
//! use superdynamic_server::{Database, ServerConfig, start};
//! let server = start(ServerConfig {
//!     bind: "127.0.0.1:0".parse().expect("literal address"),
//!     database: Database::Memory,
//!     auto_approve: true,
//!     ..ServerConfig::default()
//! })
//! .await?;
//! println!("MCP endpoint: {}", server.mcp_url());
//! server.shutdown().await;
//! # Ok(()) }
//! ```

mod authorize;
mod client_auth;
mod config;
mod consent;
mod device;
mod jwt;
mod keys;
mod metadata;
mod pages;
mod pkce;
mod redirect_uri;
mod registration;
mod resource;
mod revocation;
mod scope;
mod secrets;
mod server;
mod storage;
mod token;
mod tools;

pub use config::{Database, ServerConfig};
pub use resource::ANONYMOUS_SUBJECT;
pub use server::{RunningServer, ServerError, start};
