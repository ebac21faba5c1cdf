//! A bounded cache of access tokens whose ES256 signature already verified, so the bearer check on `/mcp` does
//! not repeat the signature check (about 190 µs, most of a request's CPU time) for every request of a client.
//!
//! Only successful verifications are cached, keyed by the SHA-256 of the exact token string, together with its
//! claims. A cached entry is only a record that *this* token's signature, `typ`, issuer and audience were checked
//! (RFC 9068 §4); everything that can change with time is checked again on every use:
//! - expiry (`exp`, no leeway, as on a first verification);
//! - the audience, against the one this resource requires (MCP 2025-06-18 §Token Audience Binding);
//! - revocation (RFC 7009) is left to the caller, which consults the revoked set on every request.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use sha2::{Digest, Sha256};

use crate::oauth::jwt::{AccessClaims, TokenError, TokenVerifier};

/// How many distinct tokens are remembered at most (one entry is ~0.5 KB).
pub const DEFAULT_CAPACITY: usize = 10_000;

/// A [`TokenVerifier`] with a memory of the tokens it has already accepted.
pub struct VerifiedTokens {
    verifier: TokenVerifier,
    audience: String,
    capacity: usize,
    accepted: RwLock<HashMap<[u8; 32], Arc<AccessClaims>>>,
}

impl VerifiedTokens {
    pub fn new(verifier: TokenVerifier, audience: &str, capacity: usize) -> Self {
        Self { verifier, audience: audience.to_owned(), capacity: capacity.max(1), accepted: RwLock::default() }
    }

    /// Verifies `token` at time `now` (seconds since the epoch): from the cache when this exact token was
    /// verified before, else in full.
    pub fn verify(&self, token: &str, now: i64) -> Result<Arc<AccessClaims>, TokenError> {
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let cached = self.accepted.read().unwrap_or_else(|e| e.into_inner()).get(&key).cloned();
        if let Some(claims) = cached {
            return self.still_valid(claims, now);
        }
        let claims = Arc::new(self.verifier.verify(token)?);
        // A token that verified is still checked like a cached one (the clock may have moved on since).
        let claims = self.still_valid(claims, now)?;
        self.remember(key, claims.clone(), now);
        Ok(claims)
    }

    fn still_valid(&self, claims: Arc<AccessClaims>, now: i64) -> Result<Arc<AccessClaims>, TokenError> {
        // RFC 9068 §4 / RFC 7519 §4.1.4: expired once `exp` is in the past (the same rule, without leeway, as the
        // first verification).
        if claims.exp < now {
            return Err(TokenError::Expired);
        }
        if claims.aud != self.audience {
            return Err(TokenError::WrongAudience);
        }
        Ok(claims)
    }

    fn remember(&self, key: [u8; 32], claims: Arc<AccessClaims>, now: i64) {
        let mut accepted = self.accepted.write().unwrap_or_else(|e| e.into_inner());
        if accepted.len() >= self.capacity {
            accepted.retain(|_, c| c.exp >= now);
            if accepted.len() >= self.capacity {
                // Still full of live tokens: start over rather than grow (a miss only costs one verification).
                accepted.clear();
            }
        }
        accepted.insert(key, claims);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.accepted.read().unwrap_or_else(|e| e.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::jwt::mint;
    use crate::oauth::keys::SigningKey;
    use crate::storage::{Store, now};

    const ISSUER: &str = "http://127.0.0.1:1";
    const AUD: &str = "http://127.0.0.1:1/mcp";

    fn claims(aud: &str, exp: i64, jti: &str) -> AccessClaims {
        AccessClaims {
            cnf: None,
            iss: ISSUER.into(),
            sub: "alice".into(),
            aud: aud.into(),
            exp,
            iat: now(),
            jti: jti.into(),
            client_id: "c".into(),
            scope: "mcp:tools".into(),
        }
    }

    fn setup(capacity: usize) -> (SigningKey, VerifiedTokens) {
        let store = Store::open_memory().unwrap();
        let key = SigningKey::load_or_generate(&store).unwrap();
        let verifier = TokenVerifier::new(ISSUER, AUD, &key.jwks()).unwrap();
        (key, VerifiedTokens::new(verifier, AUD, capacity))
    }

    #[test]
    fn a_cached_token_is_refused_once_it_expires() {
        let (key, tokens) = setup(16);
        let t0 = now();
        let token = mint(&key, &claims(AUD, t0 + 60, "a")).unwrap();
        assert_eq!(tokens.verify(&token, t0).unwrap().jti, "a");
        assert_eq!(tokens.len(), 1, "a verified token is remembered");
        // Still accepted up to and including its `exp` second, refused after it, although it is in the cache.
        assert!(tokens.verify(&token, t0 + 60).is_ok());
        assert!(matches!(tokens.verify(&token, t0 + 61), Err(TokenError::Expired)));
    }

    #[test]
    fn failures_are_not_cached_and_every_token_is_verified_on_its_own() {
        let (key, tokens) = setup(16);
        let t0 = now();
        let other_audience = mint(&key, &claims("https://other.example/mcp", t0 + 60, "b")).unwrap();
        assert!(matches!(tokens.verify(&other_audience, t0), Err(TokenError::WrongAudience)));
        assert!(matches!(tokens.verify(&other_audience, t0), Err(TokenError::WrongAudience)));
        let expired = mint(&key, &claims(AUD, t0 - 1, "c")).unwrap();
        assert!(matches!(tokens.verify(&expired, t0), Err(TokenError::Expired)));
        assert_eq!(tokens.len(), 0);

        // A tampered copy of a cached token is a different key: verified in full, and refused.
        let good = mint(&key, &claims(AUD, t0 + 60, "d")).unwrap();
        tokens.verify(&good, t0).unwrap();
        let (head_payload, signature) = good.rsplit_once('.').unwrap();
        let flipped = if signature.starts_with('A') { "B" } else { "A" };
        let tampered = format!("{head_payload}.{flipped}{}", &signature[1..]);
        assert!(tokens.verify(&tampered, t0).is_err());
        // Foreign signer, same claims.
        let other_store = Store::open_memory().unwrap();
        let other_key = SigningKey::load_or_generate(&other_store).unwrap();
        let forged = mint(&other_key, &claims(AUD, t0 + 60, "d")).unwrap();
        assert!(matches!(tokens.verify(&forged, t0), Err(TokenError::UnknownKey)));
    }

    #[test]
    fn a_cached_entry_for_another_audience_is_refused() {
        // Defence in depth: the cache only ever holds tokens for its own audience, and says so on every hit.
        let (key, tokens) = setup(16);
        let t0 = now();
        let foreign = Arc::new(claims("https://other.example/mcp", t0 + 60, "e"));
        let token = mint(&key, &foreign).unwrap();
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        tokens.remember(digest, foreign, t0);
        assert!(matches!(tokens.verify(&token, t0), Err(TokenError::WrongAudience)));
    }

    #[test]
    fn the_cache_stays_bounded() {
        let (key, tokens) = setup(3);
        let t0 = now();
        for i in 0..10 {
            let token = mint(&key, &claims(AUD, t0 + 60, &format!("j{i}"))).unwrap();
            tokens.verify(&token, t0).unwrap();
            assert!(tokens.len() <= 3);
        }
        // Expired entries go first when it is full.
        let (key, tokens) = setup(2);
        let short = mint(&key, &claims(AUD, t0 + 1, "short")).unwrap();
        let long = mint(&key, &claims(AUD, t0 + 60, "long")).unwrap();
        tokens.verify(&short, t0).unwrap();
        tokens.verify(&long, t0).unwrap();
        let third = mint(&key, &claims(AUD, t0 + 60, "third")).unwrap();
        tokens.verify(&third, t0 + 5).unwrap();
        assert_eq!(tokens.len(), 2, "the expired entry made room");
    }
}
