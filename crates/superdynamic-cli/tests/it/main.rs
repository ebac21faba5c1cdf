//! Integration tests, one binary: every test file here is a module, so the
//! dependency graph is linked once instead of once per file.

mod cli;
mod common;
mod doctor;
mod dpop;
mod enterprise;
#[cfg(unix)]
mod import;
mod lifecycle;
mod mcp_remote;
mod proxy;
mod rmcp_refresh;
mod rmcp_stores;
mod rmcp_transport;
mod setup;
mod stalled;
mod store_kill;
mod stores;
mod tls;
