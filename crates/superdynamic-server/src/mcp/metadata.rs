//! The protected resource's discovery document (RFC 9728).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::mcp::token_check::ResourceState;
use crate::scope::RESOURCE_SCOPES;

/// RFC 9728 §2, served at `/.well-known/oauth-protected-resource/mcp` (path
/// form, RFC 9728 §3.1) and at the root well-known URI.
pub async fn protected_resource(State(state): State<Arc<ResourceState>>) -> Json<Value> {
    Json(json!({
        "resource": state.resource,
        "authorization_servers": [state.issuer],
        "scopes_supported": RESOURCE_SCOPES,
        "bearer_methods_supported": ["header"],
        "resource_name": "superdynamic demo MCP server",
    }))
}
