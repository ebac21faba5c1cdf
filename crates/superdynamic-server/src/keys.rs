//! The ES256 (P-256) key that signs access tokens, and its JWKS form.
//!
//! Generated with ring on first start and kept in SQLite, so tokens stay
//! valid across restarts with the same database file.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::EncodingKey;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::storage::{StorageError, Store};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("could not generate a P-256 key pair")]
    Generate,
    #[error("the stored signing key is not a valid P-256 PKCS#8 key")]
    InvalidStoredKey,
    #[error("the public key is not an uncompressed P-256 point")]
    UnexpectedPublicKey,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// A public key in JWK form (RFC 7517 / RFC 7518 §6.2).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PublicJwk {
    pub kty: String,
    pub crv: String,
    pub x: String,
    pub y: String,
    pub kid: String,
    pub alg: String,
    #[serde(rename = "use")]
    pub use_: String,
}

/// `GET /jwks.json` body.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Jwks {
    pub keys: Vec<PublicJwk>,
}

pub struct SigningKey {
    pub kid: String,
    pub encoding_key: EncodingKey,
    pub public_jwk: PublicJwk,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print private key material.
        f.debug_struct("SigningKey").field("kid", &self.kid).finish()
    }
}

impl SigningKey {
    /// Loads the newest key from the store, generating one if there is none.
    pub fn load_or_generate(store: &Store) -> Result<Self, KeyError> {
        if let Some((_, pkcs8)) = store.latest_signing_key()? {
            return Self::from_pkcs8(&pkcs8);
        }
        let rng = SystemRandom::new();
        let doc =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).map_err(|_| KeyError::Generate)?;
        let key = Self::from_pkcs8(doc.as_ref())?;
        store.insert_signing_key(&key.kid, doc.as_ref())?;
        tracing::info!(kid = %key.kid, "generated a new ES256 signing key");
        Ok(key)
    }

    fn from_pkcs8(pkcs8: &[u8]) -> Result<Self, KeyError> {
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8, &SystemRandom::new())
            .map_err(|_| KeyError::InvalidStoredKey)?;
        // Uncompressed SEC1 point: 0x04 || X (32 bytes) || Y (32 bytes).
        let point = pair.public_key().as_ref();
        if point.len() != 65 || point[0] != 0x04 {
            return Err(KeyError::UnexpectedPublicKey);
        }
        let x = URL_SAFE_NO_PAD.encode(&point[1..33]);
        let y = URL_SAFE_NO_PAD.encode(&point[33..65]);
        let kid = thumbprint(&x, &y);
        Ok(Self {
            encoding_key: EncodingKey::from_ec_der(pkcs8),
            public_jwk: PublicJwk {
                kty: "EC".into(),
                crv: "P-256".into(),
                x,
                y,
                kid: kid.clone(),
                alg: "ES256".into(),
                use_: "sig".into(),
            },
            kid,
        })
    }

    pub fn jwks(&self) -> Jwks {
        Jwks { keys: vec![self.public_jwk.clone()] }
    }
}

/// RFC 7638 JWK thumbprint: SHA-256 over the required members in lexical order.
fn thumbprint(x: &str, y: &str) -> String {
    let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_survives_reload_from_store() {
        let store = Store::open_memory().unwrap();
        let first = SigningKey::load_or_generate(&store).unwrap();
        let again = SigningKey::load_or_generate(&store).unwrap();
        assert_eq!(first.public_jwk, again.public_jwk);
        assert_eq!(first.public_jwk.kty, "EC");
        assert_eq!(URL_SAFE_NO_PAD.decode(&first.public_jwk.x).unwrap().len(), 32);
    }
}
