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

/// What start-up does with the stored keys (see [`KeyRing::load`]).
#[derive(Debug, PartialEq, Eq)]
struct RotationPlan {
    /// Generate a new current key.
    rotate: bool,
    /// Retired keys whose tokens have all expired.
    drop: Vec<String>,
}

/// `keys` as (kid, created_at), oldest first. A key stops signing when the
/// next one is created and must keep verifying for `token_ttl` after that.
fn plan_rotation(keys: &[(String, i64)], now: i64, max_age: i64, token_ttl: i64) -> RotationPlan {
    let rotate = keys.last().is_none_or(|(_, created)| now.saturating_sub(*created) >= max_age);
    let drop = keys
        .windows(2)
        .filter(|pair| now > pair[1].1.saturating_add(token_ttl))
        .map(|pair| pair[0].0.clone())
        .collect();
    RotationPlan { rotate, drop }
}

/// The current signing key plus every public key that still verifies.
pub struct KeyRing {
    pub current: SigningKey,
    pub jwks: Jwks,
}

impl KeyRing {
    /// Loads the stored keys; generates a new current key when there is
    /// none or the newest is older than `max_age`, and drops retired keys
    /// once every access token they signed (`token_ttl`) has expired.
    pub fn load(store: &Store, max_age: std::time::Duration, token_ttl: std::time::Duration) -> Result<Self, KeyError> {
        let secs = |d: std::time::Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
        let stored = store.signing_keys()?;
        let ages: Vec<(String, i64)> = stored.iter().map(|(kid, _, created)| (kid.clone(), *created)).collect();
        let now = crate::storage::now();
        let plan = plan_rotation(&ages, now, secs(max_age), secs(token_ttl));
        for kid in &plan.drop {
            store.delete_signing_key(kid)?;
            tracing::info!(%kid, "dropped a retired signing key");
        }
        let mut keys = Vec::new();
        for (kid, pkcs8, _) in stored.iter().filter(|(kid, _, _)| !plan.drop.contains(kid)) {
            let key = SigningKey::from_pkcs8(pkcs8)?;
            if &key.kid != kid {
                return Err(KeyError::InvalidStoredKey);
            }
            keys.push(key);
        }
        if plan.rotate {
            let key = SigningKey::generate(store)?;
            if !keys.is_empty() {
                tracing::info!(kid = %key.kid, "rotated the signing key (the previous key was older than the maximum age)");
            }
            keys.push(key);
        }
        let current = keys.pop().ok_or(KeyError::Generate)?;
        // Current key first, then the retired ones (newest first).
        let mut public = vec![current.public_jwk.clone()];
        public.extend(keys.iter().rev().map(|k| k.public_jwk.clone()));
        Ok(Self { current, jwks: Jwks { keys: public } })
    }
}

impl SigningKey {
    /// Loads the newest key from the store, generating one if there is none.
    #[cfg(test)]
    pub fn load_or_generate(store: &Store) -> Result<Self, KeyError> {
        if let Some((_, pkcs8)) = store.latest_signing_key()? {
            return Self::from_pkcs8(&pkcs8);
        }
        Self::generate(store)
    }

    fn generate(store: &Store) -> Result<Self, KeyError> {
        let rng = SystemRandom::new();
        let doc =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).map_err(|_| KeyError::Generate)?;
        let key = Self::from_pkcs8(doc.as_ref())?;
        store.insert_signing_key(&key.kid, doc.as_ref())?;
        tracing::info!(kid = %key.kid, "generated a new ES256 signing key");
        Ok(key)
    }

    /// A key kept only in memory (the local IdP's: its ID tokens and ID-JAGs live minutes, not across restarts).
    pub fn ephemeral() -> Result<Self, KeyError> {
        let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
            .map_err(|_| KeyError::Generate)?;
        Self::from_pkcs8(doc.as_ref())
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

    #[cfg(test)]
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
    fn rotation_plan() {
        let day = 86_400;
        // No key: generate.
        assert_eq!(plan_rotation(&[], 100, day, 3600), RotationPlan { rotate: true, drop: vec![] });
        // Young key: keep.
        let keys = vec![("a".to_owned(), 0)];
        assert_eq!(plan_rotation(&keys, day - 1, day, 3600), RotationPlan { rotate: false, drop: vec![] });
        // Old key: rotate, keep the old one (it just retired).
        assert_eq!(plan_rotation(&keys, day, day, 3600), RotationPlan { rotate: true, drop: vec![] });
        // Retired at 100 (when b was created): verifies until 100 + ttl.
        let keys = vec![("a".to_owned(), 0), ("b".to_owned(), 100)];
        assert_eq!(plan_rotation(&keys, 3700, day, 3600).drop, Vec::<String>::new());
        assert_eq!(plan_rotation(&keys, 3701, day, 3600).drop, vec!["a".to_owned()]);
    }

    #[test]
    fn key_ring_rotates_and_keeps_the_old_public_key() {
        use std::time::Duration;
        let store = Store::open_memory().unwrap();
        let first = KeyRing::load(&store, Duration::from_secs(3600), Duration::from_secs(60)).unwrap();
        assert_eq!(first.jwks.keys.len(), 1);
        let same = KeyRing::load(&store, Duration::from_secs(3600), Duration::from_secs(60)).unwrap();
        assert_eq!(same.current.kid, first.current.kid);
        // max_age 0: every start rotates; the previous key is still published.
        let rotated = KeyRing::load(&store, Duration::ZERO, Duration::from_secs(60)).unwrap();
        assert_ne!(rotated.current.kid, first.current.kid);
        assert_eq!(rotated.jwks.keys.len(), 2);
        assert_eq!(rotated.jwks.keys[0].kid, rotated.current.kid);
        assert_eq!(rotated.jwks.keys[1].kid, first.current.kid);
    }

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
