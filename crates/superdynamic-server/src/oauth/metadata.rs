//! The authorization server's discovery documents: RFC 8414 / OIDC Discovery metadata and the JWK set.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::oauth::assertion::ASSERTION_ALGS;
use crate::oauth::grant_types::{CLIENT_CREDENTIALS_GRANT, DEVICE_CODE_GRANT, JWT_BEARER_GRANT};
use crate::oauth::keys::Jwks;
use crate::oauth::state::OAuthState;
use crate::scope::ALL_SCOPES;

/// Client authentication methods accepted at every back-channel endpoint.
const AUTH_METHODS: [&str; 4] = ["none", "client_secret_basic", "client_secret_post", "private_key_jwt"];

/// RFC 8414 §2 (also served as OIDC Discovery: MCP 2025-11-25 lets clients
/// try either). `issuer` has no trailing slash and is the exact string put in
/// `iss` of tokens and authorization responses.
pub async fn authorization_server(State(state): State<Arc<OAuthState>>) -> Json<Value> {
    let issuer = &state.issuer;
    Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "registration_endpoint": format!("{issuer}/register"),
        // RFC 7009 (metadata names from RFC 8414 §2).
        "revocation_endpoint": format!("{issuer}/revoke"),
        "revocation_endpoint_auth_methods_supported": AUTH_METHODS,
        // RFC 7662 / RFC 8414 §2.
        "introspection_endpoint": format!("{issuer}/introspect"),
        "introspection_endpoint_auth_methods_supported": AUTH_METHODS,
        "introspection_endpoint_auth_signing_alg_values_supported": ASSERTION_ALGS,
        // RFC 8628 §4.
        "device_authorization_endpoint": format!("{issuer}/device_authorization"),
        "jwks_uri": format!("{issuer}/jwks.json"),
        "scopes_supported": ALL_SCOPES,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": [
            "authorization_code", "refresh_token", DEVICE_CODE_GRANT, CLIENT_CREDENTIALS_GRANT, JWT_BEARER_GRANT
        ],
        "code_challenge_methods_supported": [crate::oauth::pkce::S256],
        "token_endpoint_auth_methods_supported": AUTH_METHODS,
        // RFC 8414 §2: algorithms for private_key_jwt (RFC 7523).
        "token_endpoint_auth_signing_alg_values_supported": ASSERTION_ALGS,
        "revocation_endpoint_auth_signing_alg_values_supported": ASSERTION_ALGS,
        // CIMD §5 / MCP 2025-11-25: https client_ids name metadata documents.
        "client_id_metadata_document_supported": true,
        // RFC 9207 §3: we send `iss` on every authorization response.
        "authorization_response_iss_parameter_supported": true,
        // RFC 9449 §5.1: DPoP-bound tokens for clients that send proofs.
        "dpop_signing_alg_values_supported": state.dpop.alg_names(),
        // RFC 8707 is honoured at /authorize and /token.
        "resource_indicators_supported": true,
        // OIDC Discovery requires these three; we issue no ID tokens, but the
        // access tokens are ES256 JWTs with a public subject.
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
    }))
}

/// `/jwks.json`: every public key that still verifies, current first.
pub async fn jwks(State(state): State<Arc<OAuthState>>) -> Json<Jwks> {
    Json(state.jwks.clone())
}
