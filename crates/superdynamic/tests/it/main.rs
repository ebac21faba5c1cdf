//! Integration tests, one binary: every test file here is a module, so the
//! dependency graph is linked once instead of once per file.

mod dpop;
mod hostile_common;
mod hostile_discovery;
mod hostile_tokens;
mod legacy_sse;
mod properties;
#[cfg(feature = "rmcp")]
mod rmcp_bounds;
mod stalled;
mod stalling;
mod transport_listen;
mod transport_modern;
mod transport_streamable_http;
