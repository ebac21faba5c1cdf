//! Sign-ins other MCP clients already hold, carried over into the credential store so switching to
//! superdynamic does not mean signing in to every server again.

pub mod mcp_remote;
