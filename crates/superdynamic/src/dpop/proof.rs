//! DPoP proof JWTs (RFC 9449 §4.2): header `{typ: "dpop+jwt", alg, jwk}`, claims `jti`, `htm`, `htu`, `iat`,
//! and `ath` (resource requests, §7.1) and `nonce` (when the server gave one, §8, §9).

use super::DpopError;
use super::key::DpopKey;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use sha2::{Digest, Sha256};
use url::Url;

#[derive(Serialize)]
struct Claims<'a> {
    jti: &'a str,
    htm: &'a str,
    htu: &'a str,
    iat: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    ath: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
}

/// What one proof is for.
pub struct ProofRequest<'a> {
    pub method: &'a str,
    pub url: &'a Url,
    /// The access token sent with it (resource requests): hashed into `ath`.
    pub access_token: Option<&'a str>,
    pub nonce: Option<&'a str>,
    pub now: u64,
}

/// `htu`: the request URI without query and fragment (RFC 9449 §4.2).
pub fn htu(url: &Url) -> String {
    let mut bare = url.clone();
    bare.set_query(None);
    bare.set_fragment(None);
    bare.to_string()
}

/// `ath`: base64url SHA-256 of the ASCII access token (RFC 9449 §4.2).
pub fn ath(access_token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(access_token.as_bytes()))
}

/// A signed proof for one HTTP request; its `jti` is 16 random bytes, never reused.
pub fn build_proof(key: &DpopKey, request: &ProofRequest<'_>) -> Result<String, DpopError> {
    let mut jti = [0u8; 16];
    getrandom::fill(&mut jti).map_err(|_| DpopError::Crypto("no randomness for the proof's jti"))?;
    let jti = URL_SAFE_NO_PAD.encode(jti);
    let ath = request.access_token.map(ath);
    let claims = Claims {
        jti: &jti,
        htm: request.method,
        htu: &htu(request.url),
        iat: request.now,
        ath: ath.as_deref(),
        nonce: request.nonce,
    };
    let payload = serde_json::to_vec(&claims).map_err(|_| DpopError::Crypto("could not encode the proof"))?;
    let signing_input = format!("{}.{}", key.header_b64, URL_SAFE_NO_PAD.encode(payload));
    let signature = key.sign(signing_input.as_bytes())?;
    Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dpop::key::DpopAlg;
    use ring::signature::{
        ECDSA_P256_SHA256_FIXED, ED25519, RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents, UnparsedPublicKey,
    };
    use serde_json::Value;

    fn decode(part: &str) -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    }

    fn verify(key: &DpopKey, proof: &str) {
        let (input, sig) = proof.rsplit_once('.').unwrap();
        let jwk = key.public_jwk();
        let b = |n: &str| URL_SAFE_NO_PAD.decode(jwk[n].as_str().unwrap()).unwrap();
        let sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
        match key.alg() {
            DpopAlg::Es256 => {
                let point = [vec![4u8], b("x"), b("y")].concat();
                UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point).verify(input.as_bytes(), &sig).unwrap();
            }
            DpopAlg::EdDsa => UnparsedPublicKey::new(&ED25519, b("x")).verify(input.as_bytes(), &sig).unwrap(),
            DpopAlg::Rs256 => RsaPublicKeyComponents { n: b("n"), e: b("e") }
                .verify(&RSA_PKCS1_2048_8192_SHA256, input.as_bytes(), &sig)
                .unwrap(),
        }
    }

    /// RFC 9449 §7.1's example: the `ath` of the access token `Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU`.
    #[test]
    fn ath_matches_the_rfc_example() {
        assert_eq!(ath("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"), "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo");
    }

    #[test]
    fn proofs_have_the_rfc9449_shape_and_verify() {
        for alg in [DpopAlg::Es256, DpopAlg::EdDsa, DpopAlg::Rs256] {
            let key = DpopKey::generate(alg).unwrap();
            let url = Url::parse("https://resource.example.org/protectedresource?x=1#frag").unwrap();
            let request = ProofRequest {
                method: "GET",
                url: &url,
                access_token: Some("tok"),
                nonce: Some("n-1"),
                now: 1562262616,
            };
            let proof = build_proof(&key, &request).unwrap();
            let parts: Vec<&str> = proof.split('.').collect();
            assert_eq!(parts.len(), 3);
            let header = decode(parts[0]);
            assert_eq!(header["typ"], "dpop+jwt");
            assert_eq!(header["alg"], alg.as_str());
            assert_eq!(&header["jwk"], key.public_jwk());
            let claims = decode(parts[1]);
            assert_eq!(claims["htm"], "GET");
            assert_eq!(claims["htu"], "https://resource.example.org/protectedresource", "no query, no fragment");
            assert_eq!(claims["iat"], 1562262616);
            assert_eq!(claims["ath"], ath("tok"));
            assert_eq!(claims["nonce"], "n-1");
            verify(&key, &proof);
            let again = decode(build_proof(&key, &request).unwrap().split('.').nth(1).unwrap());
            assert_ne!(again["jti"], claims["jti"], "every proof has its own jti");
        }
    }

    #[test]
    fn token_request_proofs_have_no_ath_or_nonce_unless_given() {
        let key = DpopKey::generate(DpopAlg::Es256).unwrap();
        let url = Url::parse("https://server.example.com/token").unwrap();
        let request = ProofRequest { method: "POST", url: &url, access_token: None, nonce: None, now: 1 };
        let claims = decode(build_proof(&key, &request).unwrap().split('.').nth(1).unwrap());
        assert!(claims.get("ath").is_none() && claims.get("nonce").is_none(), "{claims}");
        assert_eq!(claims["htu"], "https://server.example.com/token");
    }
}
