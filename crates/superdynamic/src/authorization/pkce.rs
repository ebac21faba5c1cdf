//! Proof Key for Code Exchange (RFC 7636), S256 only.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// A PKCE code verifier. Deliberately not `Clone`: a verifier belongs to exactly one authorization request
/// and is consumed by the token exchange that redeems its code.
pub struct PkceVerifier(Zeroizing<String>);

impl PkceVerifier {
    /// 32 random bytes, base64url without padding: 43 characters from the RFC 7636 §4.1 alphabet.
    pub fn generate() -> Result<Self, getrandom::Error> {
        Ok(Self(Zeroizing::new(random_urlsafe(32)?)))
    }

    /// `BASE64URL(SHA256(ASCII(code_verifier)))` (RFC 7636 §4.2).
    pub fn challenge(&self) -> String {
        URL_SAFE_NO_PAD.encode(Sha256::digest(self.0.as_bytes()))
    }

    pub fn secret(&self) -> &str {
        &self.0
    }

    #[cfg(test)]
    fn from_str(s: &str) -> Self {
        Self(Zeroizing::new(s.to_string()))
    }
}

impl std::fmt::Debug for PkceVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PkceVerifier([redacted])")
    }
}

/// `bytes` random bytes from the OS, base64url-encoded without padding (for `state` and verifiers).
pub fn random_urlsafe(bytes: usize) -> Result<String, getrandom::Error> {
    let mut buf = Zeroizing::new(vec![0u8; bytes]);
    getrandom::fill(&mut buf)?;
    Ok(URL_SAFE_NO_PAD.encode(&*buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b_vector() {
        let v = PkceVerifier::from_str("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
        assert_eq!(v.challenge(), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    }

    #[test]
    fn generated_verifiers_are_valid_and_distinct() {
        let a = PkceVerifier::generate().unwrap();
        let b = PkceVerifier::generate().unwrap();
        assert_eq!(a.secret().len(), 43);
        assert!(a.secret().bytes().all(|c| c.is_ascii_alphanumeric() || b"-._~".contains(&c)));
        assert_ne!(a.secret(), b.secret());
        assert_eq!(format!("{a:?}"), "PkceVerifier([redacted])");
    }
}
