//! The DPoP key of one credential (RFC 9449 §4): generated here, stored as a secret string, never logged.
//! ES256 (P-256) by default; Ed25519 (`EdDSA`), then 2048-bit RSA (`RS256`), when the server accepts only those.

use super::DpopError;
use super::thumbprint::jwk_thumbprint;
use crate::secret::DpopPrivateKey;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RSA_PKCS1_SHA256, RsaKeyPair,
    RsaPublicKeyComponents,
};
use serde_json::{Value, json};
use zeroize::Zeroizing;

/// The JWS algorithms this client signs proofs with, in order of preference.
/// RS256 is last: its keys take ~150 ms to make and its proofs ~25 times as long to sign (`bench/micro`).
pub const SUPPORTED_ALGS: [&str; 3] = ["ES256", "EdDSA", "RS256"];

/// RSA modulus size: RFC 7518 §3.3 requires at least 2048 bits; ring signs with 2048 to 8192.
const RSA_BITS: usize = 2048;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DpopAlg {
    Es256,
    EdDsa,
    Rs256,
}

impl DpopAlg {
    pub fn as_str(self) -> &'static str {
        match self {
            DpopAlg::Es256 => "ES256",
            DpopAlg::EdDsa => "EdDSA",
            DpopAlg::Rs256 => "RS256",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        match name {
            "ES256" => Some(DpopAlg::Es256),
            "EdDSA" | "Ed25519" => Some(DpopAlg::EdDsa),
            "RS256" => Some(DpopAlg::Rs256),
            _ => None,
        }
    }

    /// The algorithm to use with a server that accepts `offered` (RFC 9449 §5.1
    /// `dpop_signing_alg_values_supported`): the first of [`SUPPORTED_ALGS`] it lists; an error naming the
    /// list otherwise.
    pub fn choose(offered: &[String]) -> Result<Self, DpopError> {
        SUPPORTED_ALGS
            .iter()
            .find(|ours| offered.iter().any(|o| o == *ours))
            .and_then(|a| Self::parse(a))
            .ok_or_else(|| DpopError::UnsupportedAlgorithms { offered: offered.join(", ") })
    }
}

enum Pair {
    Es256(EcdsaKeyPair),
    EdDsa(Ed25519KeyPair),
    Rs256(RsaKeyPair),
}

/// A DPoP signing key with its public JWK and thumbprint precomputed (they go into every proof).
pub struct DpopKey {
    alg: DpopAlg,
    pkcs8: Zeroizing<Vec<u8>>,
    pair: Pair,
    jwk: Value,
    thumbprint: String,
    /// The proof's protected header, base64url: the same for every proof of this key.
    pub(super) header_b64: String,
}

impl std::fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DpopKey({}, [redacted])", self.alg.as_str())
    }
}

impl DpopKey {
    /// A fresh key pair.
    pub fn generate(alg: DpopAlg) -> Result<Self, DpopError> {
        let rng = SystemRandom::new();
        let pkcs8 = match alg {
            DpopAlg::Es256 => EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng),
            DpopAlg::EdDsa => Ed25519KeyPair::generate_pkcs8(&rng),
            DpopAlg::Rs256 => return Self::from_pkcs8(alg, generate_rsa_pkcs8()?),
        }
        .map_err(|_| DpopError::Crypto("could not generate a key pair"))?;
        Self::from_pkcs8(alg, Zeroizing::new(pkcs8.as_ref().to_vec()))
    }

    /// The key as stored ([`Self::to_secret`]).
    pub fn from_secret(secret: &DpopPrivateKey) -> Result<Self, DpopError> {
        let (alg, b64) = secret.secret().split_once(':').ok_or(DpopError::StoredKey("no algorithm prefix"))?;
        let alg = DpopAlg::parse(alg).ok_or(DpopError::StoredKey("unknown algorithm"))?;
        let der = Zeroizing::new(URL_SAFE_NO_PAD.decode(b64).map_err(|_| DpopError::StoredKey("not base64url"))?);
        Self::from_pkcs8(alg, der)
    }

    /// `<alg>:<base64url PKCS#8>`, for the credential store.
    pub fn to_secret(&self) -> DpopPrivateKey {
        let encoded = Zeroizing::new(URL_SAFE_NO_PAD.encode(&*self.pkcs8));
        DpopPrivateKey::new(format!("{}:{}", self.alg.as_str(), &*encoded))
    }

    fn from_pkcs8(alg: DpopAlg, pkcs8: Zeroizing<Vec<u8>>) -> Result<Self, DpopError> {
        let (pair, jwk) = match alg {
            DpopAlg::Es256 => {
                let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8, &SystemRandom::new())
                    .map_err(|_| DpopError::StoredKey("not a P-256 PKCS#8 key"))?;
                // The uncompressed point: 0x04 || x || y (SEC 1 §2.3.3), 32 bytes each.
                let point = pair.public_key().as_ref();
                let (x, y) = point.get(1..33).zip(point.get(33..65)).ok_or(DpopError::Crypto("odd public key"))?;
                let jwk = json!({"kty": "EC", "crv": "P-256", "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y)});
                (Pair::Es256(pair), jwk)
            }
            DpopAlg::EdDsa => {
                let pair = Ed25519KeyPair::from_pkcs8(&pkcs8)
                    .map_err(|_| DpopError::StoredKey("not an Ed25519 PKCS#8 key"))?;
                let x = URL_SAFE_NO_PAD.encode(pair.public_key().as_ref());
                (Pair::EdDsa(pair), json!({"kty": "OKP", "crv": "Ed25519", "x": x}))
            }
            DpopAlg::Rs256 => {
                let pair = RsaKeyPair::from_pkcs8(&pkcs8).map_err(|_| DpopError::StoredKey("not an RSA PKCS#8 key"))?;
                let public = RsaPublicKeyComponents::<Vec<u8>>::from(pair.public());
                let jwk = json!({"kty": "RSA", "n": URL_SAFE_NO_PAD.encode(&public.n), "e": URL_SAFE_NO_PAD.encode(&public.e)});
                (Pair::Rs256(pair), jwk)
            }
        };
        let thumbprint = jwk_thumbprint(&jwk)?;
        let header = json!({"typ": "dpop+jwt", "alg": alg.as_str(), "jwk": jwk});
        let header_b64 = URL_SAFE_NO_PAD.encode(header.to_string());
        Ok(Self { alg, pkcs8, pair, jwk, thumbprint, header_b64 })
    }

    pub fn alg(&self) -> DpopAlg {
        self.alg
    }

    /// The public key as a JWK (RFC 7517), as it goes in the proof header.
    pub fn public_jwk(&self) -> &Value {
        &self.jwk
    }

    /// The RFC 7638 SHA-256 thumbprint: what a bound token's `cnf.jkt` names (RFC 9449 §6.1).
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }

    /// A JWS signature over `input` (fixed-size r||s for ES256, RFC 7518 §3.4; PKCS#1 v1.5 for RS256, §3.3).
    pub(super) fn sign(&self, input: &[u8]) -> Result<Vec<u8>, DpopError> {
        match &self.pair {
            Pair::Es256(pair) => pair
                .sign(&SystemRandom::new(), input)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| DpopError::Crypto("could not sign the proof")),
            Pair::EdDsa(pair) => Ok(pair.sign(input).as_ref().to_vec()),
            Pair::Rs256(pair) => {
                let mut signature = vec![0u8; pair.public().modulus_len()];
                pair.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), input, &mut signature)
                    .map_err(|_| DpopError::Crypto("could not sign the proof"))?;
                Ok(signature)
            }
        }
    }
}

/// A new 2048-bit RSA key (e = 65537) as PKCS#8 DER, the form ring loads.
fn generate_rsa_pkcs8() -> Result<Zeroizing<Vec<u8>>, DpopError> {
    use rsa::pkcs8::EncodePrivateKey;
    let key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, RSA_BITS)
        .map_err(|_| DpopError::Crypto("could not generate an RSA key"))?;
    let der = key.to_pkcs8_der().map_err(|_| DpopError::Crypto("could not encode the RSA key"))?;
    Ok(Zeroizing::new(der.as_bytes().to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_key_comes_back_as_the_same_key() {
        for alg in [DpopAlg::Es256, DpopAlg::EdDsa, DpopAlg::Rs256] {
            let key = DpopKey::generate(alg).unwrap();
            let secret = key.to_secret();
            assert!(secret.secret().starts_with(&format!("{}:", alg.as_str())));
            let back = DpopKey::from_secret(&secret).unwrap();
            assert_eq!(back.thumbprint(), key.thumbprint());
            assert_eq!(back.public_jwk(), key.public_jwk());
        }
    }

    #[test]
    fn rsa_keys_are_2048_bits_with_the_usual_exponent() {
        let key = DpopKey::generate(DpopAlg::Rs256).unwrap();
        let jwk = key.public_jwk();
        assert_eq!(jwk["kty"], "RSA");
        assert_eq!(jwk["e"], "AQAB");
        let n = URL_SAFE_NO_PAD.decode(jwk["n"].as_str().unwrap()).unwrap();
        assert_eq!(n.len() * 8, 2048);
        assert_eq!(format!("{key:?}"), "DpopKey(RS256, [redacted])");
    }

    #[test]
    fn debug_never_shows_the_private_key() {
        let key = DpopKey::generate(DpopAlg::Es256).unwrap();
        let secret = key.to_secret();
        let shown = format!("{key:?} {secret:?}");
        assert_eq!(shown, "DpopKey(ES256, [redacted]) DpopPrivateKey([redacted])");
        assert!(key.public_jwk().get("d").is_none(), "the JWK is public only");
    }

    #[test]
    fn algorithm_choice_prefers_es256_and_names_what_the_server_wants() {
        let list = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(DpopAlg::choose(&list(&["RS256", "ES256", "EdDSA"])).unwrap(), DpopAlg::Es256);
        assert_eq!(DpopAlg::choose(&list(&["RS256", "EdDSA"])).unwrap(), DpopAlg::EdDsa);
        assert_eq!(DpopAlg::choose(&list(&["PS256", "RS256"])).unwrap(), DpopAlg::Rs256);
        let err = DpopAlg::choose(&list(&["PS256", "ES384"])).unwrap_err().to_string();
        assert!(err.contains("PS256, ES384") && err.contains("ES256, EdDSA or RS256"), "{err}");
    }

    #[test]
    fn broken_stored_keys_are_refused_with_a_reason() {
        for (stored, needle) in [
            ("nonsense", "no algorithm prefix"),
            ("PS256:AAAA", "unknown algorithm"),
            ("ES256:!!!", "not base64url"),
            ("ES256:AAAA", "not a P-256"),
            ("RS256:AAAA", "not an RSA"),
        ] {
            let err = DpopKey::from_secret(&DpopPrivateKey::new(stored)).unwrap_err().to_string();
            assert!(err.contains(needle), "{stored}: {err}");
        }
    }
}
