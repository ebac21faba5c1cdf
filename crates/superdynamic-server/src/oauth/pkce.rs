//! PKCE (RFC 7636) as OAuth 2.1 requires it: S256 only.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// The only transform accepted; `plain` is refused (OAuth 2.1 §4.1.1).
pub const S256: &str = "S256";

/// RFC 7636 §4.1/§4.2: 43..=128 characters of `[A-Za-z0-9-._~]`.
/// Verifiers and challenges share this shape.
pub fn is_well_formed(value: &str) -> bool {
    (43..=128).contains(&value.len())
        && value.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~'))
}

/// RFC 7636 §4.2: BASE64URL(SHA256(ASCII(code_verifier))).
pub fn s256_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// RFC 7636 §4.6: does `verifier` hash to the challenge stored with the code?
pub fn verify_s256(verifier: &str, challenge: &str) -> bool {
    is_well_formed(verifier) && crate::oauth::secrets::hashes_equal(&s256_challenge(verifier), challenge)
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7636 Appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn rfc7636_appendix_b_vector() {
        assert_eq!(s256_challenge(VERIFIER), CHALLENGE);
        assert!(verify_s256(VERIFIER, CHALLENGE));
    }

    #[test]
    fn wrong_or_malformed_verifier_is_refused() {
        assert!(!verify_s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK", CHALLENGE));
        // The challenge itself is not a verifier for itself.
        assert!(!verify_s256(CHALLENGE, CHALLENGE));
        // Too short.
        assert!(!verify_s256("abc", CHALLENGE));
        // Outside the unreserved set.
        assert!(!is_well_formed(&"a".repeat(42).replace('a', "+")));
        assert!(!is_well_formed(&"a".repeat(129)));
        assert!(is_well_formed(&"a".repeat(128)));
    }
}
