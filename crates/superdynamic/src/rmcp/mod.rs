//! superdynamic inside rmcp, the official Rust MCP SDK (feature `rmcp`).
//!
//! Two ways in:
//! - [`transport`]: an rmcp client transport whose HTTP is superdynamic's: the first 401 starts discovery,
//!   registration and the sign-in `ClientOptions` configures (browser, printed URL, device flow, headless
//!   fetch, or a web app's handler: `PrintUrl` and an [`Observer`](crate::Observer) receiving
//!   [`Event::AuthorizationUrl`](crate::Event::AuthorizationUrl)); tokens live in any [`crate::store`] and refresh single-flight across processes; a 403
//!   `insufficient_scope` steps up; the network policy, issuer binding, size limits and timeouts all apply.
//!
//!   ```no_run
//!   # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//!   use rmcp::ServiceExt;
//!   use superdynamic::{ClientOptions, store::FileStore};
//!   let options = ClientOptions::new(FileStore::new(FileStore::default_path()?));
//!   let client = ().serve(superdynamic::rmcp::transport("https://mcp.example.com/mcp", options).await?).await?;
//!   let tools = client.list_all_tools().await?;
//!   # Ok(()) }
//!   ```
//! - [`RmcpCredentialStore`] and [`RmcpStateStore`]: rmcp's own `AuthorizationManager` flow, keeping its tokens
//!   in our stores (file, keychain, PostgreSQL, memory), shared with the CLI.

mod credential_store;
mod error;
pub mod state_store;
mod transport;

pub use credential_store::RmcpCredentialStore;
pub use error::AuthorizedHttpError;
pub use state_store::RmcpStateStore;
pub use transport::{AuthorizedHttpClient, AuthorizedTransport, transport, transport_for};
