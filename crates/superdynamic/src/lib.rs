//! superdynamic: everything between "here is an MCP server URL" and "here is the tool's result".
//!
//! Modules are named after the protocol steps they implement, so each RFC step has one home.

pub mod secret;
pub mod transport;
pub mod authorization;
pub mod discovery;
pub mod http;
pub mod registration;
pub mod resource;
pub mod store;
pub mod token;
pub mod client;
pub mod error;

pub use client::{ClientOptions, Event, LoginOutcome, McpClient, Observer, StaticClient};
pub use error::{Error, ErrorKind};
