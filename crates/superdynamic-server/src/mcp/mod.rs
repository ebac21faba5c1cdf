//! The MCP resource server: RFC 9728 metadata and `/mcp` (bearer token check, session owners, the direct
//! `tools/call` path, rmcp for the rest). It imports the authorization server only for the token format
//! ([`crate::oauth::jwt`]) and the revocation list it shares.

pub mod direct_call;
pub mod endpoint;
pub mod legacy_sse;
pub mod metadata;
pub mod sessions;
pub mod token_check;
pub mod verified_tokens;

use std::sync::Arc;

use axum::Router;
use axum::routing::{any, get};
use tower_http::limit::RequestBodyLimitLayer;

use endpoint::McpEndpoint;
use legacy_sse::LegacySse;
use token_check::{MAX_MCP_BODY, ResourceState};

/// How `/mcp` is served.
pub enum McpRoute {
    StreamableHttp(Arc<McpEndpoint>),
    /// `--legacy-sse`: only the 2024-11-05 HTTP+SSE transport.
    LegacySse(Arc<LegacySse>),
}

/// The resource server's routes (bearer-protected unless `no_auth`, which the assembly allows on loopback only).
pub fn router(state: Arc<ResourceState>, mcp: McpRoute) -> Router {
    let mcp_route = match mcp {
        McpRoute::StreamableHttp(mcp) => Router::new().route("/mcp", any(endpoint::serve)).with_state(mcp),
        McpRoute::LegacySse(sse) => {
            Router::new().route("/mcp", get(legacy_sse::open).post(legacy_sse::message)).with_state(sse)
        }
    }
    .layer(RequestBodyLimitLayer::new(MAX_MCP_BODY));
    Router::new()
        .route("/.well-known/oauth-protected-resource/mcp", get(metadata::protected_resource))
        .route("/.well-known/oauth-protected-resource", get(metadata::protected_resource))
        .with_state(state)
        .merge(mcp_route)
}
