//! Random credentials (codes, tokens, client secrets) and how they are stored.
//!
//! Every credential handed out is 256 bits from the OS RNG; only its SHA-256
//! is written to the database, so a leaked database does not leak credentials.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// The OS random number generator failed; nothing safe can be issued.
#[derive(Debug, thiserror::Error)]
#[error("the operating system random number generator failed: {0}")]
pub struct RandomError(String);

/// A new random credential: 32 random bytes, base64url without padding.
pub fn random_token() -> Result<String, RandomError> {
    let mut bytes = [0u8; 32];
    fill_random(&mut bytes)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// Fills `bytes` from the OS random number generator.
pub fn fill_random(bytes: &mut [u8]) -> Result<(), RandomError> {
    getrandom::fill(bytes).map_err(|e| RandomError(e.to_string()))
}

/// The form a credential is stored and looked up in: base64url(SHA-256).
pub fn hash_secret(secret: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(secret.as_bytes()))
}

/// Compares two stored hashes without an early exit on the first difference.
pub fn hashes_equal(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_unique_and_url_safe() {
        let a = random_token().unwrap();
        let b = random_token().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
    }

    #[test]
    fn hash_comparison() {
        assert!(hashes_equal(&hash_secret("x"), &hash_secret("x")));
        assert!(!hashes_equal(&hash_secret("x"), &hash_secret("y")));
        assert!(!hashes_equal("ab", "abc"));
    }
}
