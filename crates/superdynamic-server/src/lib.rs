//! Reference OAuth 2.1 authorization server + MCP resource server for
//! superdynamic.
//!
//! One process serves both roles, on one origin or (with
//! [`ServerConfig::resource_bind`]) on two, built as two routers:
//!
//! - authorization server: RFC 8414 / OIDC discovery, RFC 7591 registration
//!   and RFC 7592 client management (`/register/{client_id}`), Client ID
//!   Metadata Documents (https `client_id`s, SSRF-guarded fetch),
//!   `/authorize` (PKCE S256, RFC 8707 `resource`, RFC 9207 `iss`, demo
//!   sign-in, remembered consent, consent page), `/token` (code, rotating
//!   refresh tokens, client credentials, RFC 8628 device code; client auth
//!   with secrets or RFC 7523 `private_key_jwt`), `/revoke` (RFC 7009),
//!   `/introspect` (RFC 7662), `/device_authorization` + the `/device`
//!   verification pages (RFC 8628), `/consents`, `/jwks.json` (rotating
//!   ES256 keys), and `/` (a page about the server);
//! - resource server: RFC 9728 metadata and `/mcp` (Streamable HTTP via
//!   rmcp; a plain `tools/call` is answered directly, with the same result)
//!   behind bearer-token checks, with four demo tools. `/mcp` speaks
//!   both MCP generations: the 2025-11-25 `initialize`/session lifecycle and
//!   the stateless 2026-07-28 one (per-request `_meta`, `server/discover`).
//!   With [`ServerConfig::no_auth`] (loopback only) it skips OAuth, for
//!   conformance suites.
//!
//! Optional https ([`ServerConfig::tls`]) uses rustls with the ring provider.
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

mod config;
mod dpop;
mod listener;
mod mcp;
mod oauth;
mod pages;
mod rate_limit;
mod scope;
mod server;
mod storage;
mod tls;
mod tools;

pub use config::{Database, ServerConfig, TlsFiles, TrustedIssuerConfig};
pub use dpop::DpopAlg;
pub use mcp::token_check::ANONYMOUS_SUBJECT;
pub use oauth::users::{DEFAULT_ITERATIONS, hash_password};
pub use rate_limit::RateLimit;
pub use server::{RunningServer, ServerError, start};
