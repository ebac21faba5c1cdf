//! DPoP: sender-constrained tokens (RFC 9449, MCP SEP-1932). A token bound to a key is useless to whoever
//! copies it without the key: every token request, refresh and MCP request carries a fresh proof signed with
//! the credential's key.
//!
//! Files: `key` (the key pair, its storage form), `thumbprint` (RFC 7638), `proof` (the proof JWT), `nonce`
//! (server-provided nonces per origin), `challenge` (what the servers ask for in their answers).

mod challenge;
mod key;
mod nonce;
mod proof;
mod thumbprint;

pub use challenge::{dpop_challenge, is_use_dpop_nonce};
pub use key::{DpopAlg, DpopKey, SUPPORTED_ALGS};
pub use nonce::{MAX_NONCE_LEN, NonceStore, is_valid_nonce};
pub use proof::{ProofRequest, ath, build_proof, htu};
pub use thumbprint::{canonical_jwk, jwk_thumbprint};

use std::sync::Arc;
use url::Url;

/// The response header that carries a server-provided nonce (RFC 9449 §8).
pub const NONCE_HEADER: &str = "dpop-nonce";
/// The request header that carries the proof (RFC 9449 §4.1).
pub const PROOF_HEADER: &str = "dpop";

/// When to bind tokens to a key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DpopMode {
    /// When the authorization server lists `dpop_signing_alg_values_supported` or the resource asks for DPoP.
    #[default]
    Auto,
    /// Always: a server that accepts none of our algorithms is an error.
    Always,
    /// Never: plain Bearer tokens.
    Never,
}

#[derive(Debug, thiserror::Error)]
pub enum DpopError {
    #[error(
        "the server wants DPoP proofs signed with {offered}, but superdynamic signs them with ES256, EdDSA or RS256 \
         only; ask the server's operator to allow ES256, or pass --dpop never if the server also accepts Bearer tokens"
    )]
    UnsupportedAlgorithms { offered: String },
    #[error("the stored DPoP key is unusable ({0}); sign in again with `superdynamic login`")]
    StoredKey(&'static str),
    #[error("DPoP: {0}")]
    Crypto(&'static str),
    #[error("not a usable JWK: {0}")]
    Jwk(&'static str),
}

/// A credential's key with the nonces this client was given: what signs the proofs of its requests.
#[derive(Debug, Clone)]
pub struct DpopProver {
    pub key: Arc<DpopKey>,
    pub nonces: Arc<NonceStore>,
}

impl DpopProver {
    /// A proof for `method` on `url`, with `ath` for `access_token` and the nonce `url`'s origin gave last.
    pub fn proof(&self, method: &str, url: &Url, access_token: Option<&str>) -> Result<String, DpopError> {
        let nonce = self.nonces.get(url);
        let request =
            ProofRequest { method, url, access_token, nonce: nonce.as_deref(), now: crate::clock::now_unix() };
        build_proof(&self.key, &request)
    }
}
