//! superdynamic: everything between "here is an MCP server URL" and "here is the tool's result".
//!
//! Modules are named after the protocol steps they implement, so each RFC step has one home.
//!
//! ```no_run
//! use superdynamic::{ClientOptions, McpClient, store::FileStore};
//!
//! async fn weather() -> Result<serde_json::Value, superdynamic::Error> {
//!     let options = ClientOptions::new(FileStore::new(FileStore::default_path()?));
//!     let client = McpClient::new("https://mcp.example.com/mcp", options)?;
//!     let _tools = client.list_tools().await?; // signs in on the first 401
//!     let result = client.call_tool("get_weather", serde_json::json!({"location": "Paris"})).await?;
//!     client.close().await;
//!     Ok(result)
//! }
//! ```

pub mod assertion_source;
pub mod authorization;
pub mod client;
pub mod client_auth;
mod clock;
pub mod discovery;
pub mod doctor;
pub mod dpop;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod http;
pub mod id_jag;
pub mod import;
pub mod jwt_bearer;
pub mod proxy;
pub mod registration;
pub mod resource;
#[cfg(feature = "rmcp")]
pub mod rmcp;
pub mod secret;
pub mod ssrf;
pub mod store;
pub mod tls;
pub mod token;
pub mod transport;

pub use client::{
    AdoptOptions, AdoptOutcome, ClientOptions, EnterpriseIdp, Event, Grant, LoginOutcome, LogoutOutcome, McpClient,
    Observer, ResourceParameter, StaticClient,
};
pub use error::{Error, ErrorKind};
