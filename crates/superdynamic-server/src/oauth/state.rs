//! What the authorization server's handlers share. Only plain data and leaf modules come in here (storage, keys,
//! the CIMD cache...): handlers import this, never the server assembly.

use std::sync::Arc;
use std::time::Duration;

use crate::oauth::cimd_cache::Cache;
use crate::oauth::fetch::FetchPolicy;
use crate::oauth::jwt::TokenVerifier;
use crate::oauth::keys::{Jwks, SigningKey};
use crate::oauth::revoked::RevokedAccessTokens;
use crate::oauth::users::Users;
use crate::storage::Store;

/// State shared by the authorization server handlers.
pub struct OAuthState {
    /// Exact issuer string (no trailing slash), RFC 8414 §2 / RFC 9207.
    pub issuer: String,
    /// The one resource tokens can be issued for (`<base>/mcp`).
    pub resource: String,
    pub store: Store,
    pub signing_key: SigningKey,
    /// Every public key that still verifies (current first), for `/jwks.json`.
    pub jwks: Jwks,
    pub auto_approve: bool,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub demo_user: String,
    /// Verifies access tokens presented for revocation (RFC 7009).
    pub verifier: TokenVerifier,
    /// Shared with the resource server's bearer check.
    pub revoked_access_tokens: Arc<RevokedAccessTokens>,
    pub device_poll_interval: Duration,
    pub device_code_ttl: Duration,
    /// SSRF policy for CIMD documents and `jwks_uri`.
    pub fetch_policy: FetchPolicy,
    pub cimd_cache: Cache,
    /// Who may sign in before consenting.
    pub users: Users,
    /// The enterprise IdP whose ID-JAGs the JWT bearer grant accepts (SEP-990).
    pub trusted_idp: Option<crate::oauth::trusted_issuer::TrustedIssuer>,
    /// The platform whose workload identity tokens the JWT bearer grant accepts.
    pub workload_issuer: Option<crate::oauth::trusted_issuer::TrustedIssuer>,
    /// `--idp`: the minimal identity provider under `/idp`.
    pub local_idp: Option<crate::oauth::local_idp::provider::LocalIdp>,
    /// DPoP proof checks (RFC 9449), shared with the resource server.
    pub dpop: Arc<crate::dpop::DpopState>,
}
