//! Grant types beyond OAuth 2.1's `authorization_code` and `refresh_token`.

/// RFC 8628 §3.4 grant type.
pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// OAuth 2.1 §4.2 (MCP extension io.modelcontextprotocol/oauth-client-credentials).
pub const CLIENT_CREDENTIALS_GRANT: &str = "client_credentials";

/// RFC 7523 §2.1: a signed JWT (an ID-JAG, a workload identity token) as the grant.
pub const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
