//! The MCP resource server: RFC 9728 metadata and `/mcp` (bearer token check, session owners, the direct
//! `tools/call` path, rmcp for the rest). It imports the authorization server only for the token format
//! ([`crate::oauth::jwt`]) and the revocation list it shares.

pub mod direct_call;
pub mod endpoint;
pub mod metadata;
pub mod sessions;
pub mod token_check;
pub mod verified_tokens;

use std::sync::Arc;

use axum::Router;
use axum::routing::{any, get};
use tower_http::limit::RequestBodyLimitLayer;

use endpoint::McpEndpoint;
use token_check::{MAX_MCP_BODY, ResourceState};

/// The resource server's routes (bearer-protected unless `no_auth`, which the assembly allows on loopback only).
pub fn router(state: Arc<ResourceState>, mcp: Arc<McpEndpoint>) -> Router {
    let mcp_route = Router::new()
        .route("/mcp", any(endpoint::serve))
        .with_state(mcp)
        .layer(RequestBodyLimitLayer::new(MAX_MCP_BODY));
    Router::new()
        .route("/.well-known/oauth-protected-resource/mcp", get(metadata::protected_resource))
        .route("/.well-known/oauth-protected-resource", get(metadata::protected_resource))
        .with_state(state)
        .merge(mcp_route)
}
