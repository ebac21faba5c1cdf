//! Integration tests, one binary: every test file here is a module, so the
//! dependency graph is linked once instead of once per file.

mod assertion_grants;
mod authorize;
mod cimd;
mod client_credentials;
mod client_management;
mod common;
mod consent;
mod container;
mod device;
mod direct_calls;
mod dpop;
mod introspection;
mod key_rotation;
mod malformed;
mod mcp;
mod metadata;
mod modern;
mod no_auth;
mod persistence;
mod process_restart;
mod registration;
mod revoke;
mod rmcp_client;
mod tls_and_split;
mod token;
