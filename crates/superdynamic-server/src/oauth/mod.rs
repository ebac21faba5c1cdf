//! The authorization server: discovery (RFC 8414 / OIDC), registration (RFC 7591/7592, Client ID Metadata
//! Documents), `/authorize` with sign-in and consent, `/token`, revocation (RFC 7009), introspection (RFC 7662),
//! the device flow (RFC 8628) and the signing keys.
//!
//! Every handler takes [`state::OAuthState`]; nothing here knows about the resource server or the assembly.

pub mod assertion;
pub mod authorization_response;
pub mod authorize;
pub mod cimd;
pub mod cimd_cache;
pub mod client_auth;
pub mod consent;
pub mod device;
pub mod error_response;
pub mod fetch;
pub mod grant_types;
pub mod id_jag;
pub mod introspection;
pub mod issuance;
pub mod jwt;
pub mod jwt_bearer;
pub mod keys;
pub mod local_idp;
pub mod metadata;
pub mod params;
pub mod pkce;
pub mod redirect_uri;
pub mod registration;
pub mod revocation;
pub mod revoked;
pub mod secrets;
pub mod session;
pub mod state;
pub mod token;
pub mod trusted_issuer;
pub mod users;
pub mod workload;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};

use crate::rate_limit::{Limiter, RateLimit, limit};
use state::OAuthState;

/// The authorization server's routes.
pub fn router(state: Arc<OAuthState>, rate_limit: RateLimit) -> Router {
    // One bucket per address and endpoint: a registration flood does not stop that address's refreshes.
    let limited = || axum::middleware::from_fn_with_state(Limiter::new(rate_limit), limit);
    Router::new()
        .route("/.well-known/oauth-authorization-server", get(metadata::authorization_server))
        .route("/.well-known/openid-configuration", get(metadata::authorization_server))
        .route("/register", post(registration::register).layer(limited()))
        .route(
            "/register/{client_id}",
            get(registration::read_client).put(registration::update_client).delete(registration::delete_client),
        )
        .route("/authorize", get(authorize::authorize))
        .route("/authorize/decision", post(consent::decide))
        .route("/token", post(token::token).layer(limited()))
        .route("/revoke", post(revocation::revoke))
        .route("/introspect", post(introspection::introspect))
        .route("/device_authorization", post(device::device_authorization))
        .route("/device", get(device::device_page).post(device::enter_code))
        .route("/device/decision", post(device::decide))
        .route("/login", post(session::login))
        .route("/consents", get(session::consents))
        .route("/consents/revoke", post(session::revoke_consent))
        .route("/logout", post(session::logout))
        .route("/jwks.json", get(metadata::jwks))
        .route("/idp/.well-known/openid-configuration", get(local_idp::metadata))
        .route("/idp/jwks.json", get(local_idp::jwks))
        .route("/idp/id-token", post(local_idp::id_token).layer(limited()))
        .route("/idp/token", post(local_idp::token).layer(limited()))
        .with_state(state)
}
