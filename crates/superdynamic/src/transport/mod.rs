//! MCP Streamable HTTP transport.
