//! Checking one DPoP proof (RFC 9449 §4.3): a `dpop+jwt` signed with an asymmetric algorithm by the public
//! key in its own header, for this method and URI, issued just now, for this access token.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED, ED25519, RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents, UnparsedPublicKey,
};
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{Expected, IAT_WINDOW_SECS, jwk_thumbprint};

/// A proof algorithm this server can check (RFC 9449 §5.1 `dpop_signing_alg_values_supported`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DpopAlg {
    Es256,
    EdDsa,
    Rs256,
}

impl DpopAlg {
    pub const ALL: [DpopAlg; 3] = [DpopAlg::Es256, DpopAlg::EdDsa, DpopAlg::Rs256];

    /// The JWS `alg` name (RFC 7518 §3.1, RFC 8037 §3.1).
    pub fn name(self) -> &'static str {
        match self {
            DpopAlg::Es256 => "ES256",
            DpopAlg::EdDsa => "EdDSA",
            DpopAlg::Rs256 => "RS256",
        }
    }

    /// Exactly the JWS name: `alg` is case-sensitive (RFC 7515 §4.1.1).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }
}

/// A proof that held: the key's thumbprint (what `cnf.jkt` names) and what the caller still needs.
#[derive(Debug)]
pub struct VerifiedProof {
    pub jkt: String,
    pub jti: String,
    pub nonce: Option<String>,
}

/// Why a proof was refused; the text goes into `error_description`.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("a DPoP proof is required")]
    Missing,
    #[error("more than one DPoP header")]
    Multiple,
    #[error("the DPoP proof is malformed: {0}")]
    Malformed(&'static str),
    #[error("the DPoP proof's typ must be dpop+jwt")]
    WrongType,
    #[error("the DPoP proof's alg must be one of {0}")]
    UnsupportedAlg(String),
    #[error("the DPoP proof's jwk is not a usable public key: {0}")]
    BadJwk(&'static str),
    #[error("the DPoP proof's signature does not verify")]
    BadSignature,
    #[error("the DPoP proof's htm does not match the request method")]
    WrongMethod,
    #[error("the DPoP proof's htu does not match the request URI")]
    WrongUri,
    #[error("the DPoP proof's iat is not within {IAT_WINDOW_SECS} seconds of now")]
    Stale,
    #[error("the DPoP proof's ath does not match the access token")]
    WrongTokenHash,
    #[error("the DPoP proof was already used (jti seen before)")]
    Replayed,
    #[error("the DPoP proof must carry the nonce this server provides")]
    UseNonce,
    #[error("the DPoP proof is signed by another key than the one the token is bound to")]
    WrongKey,
}

#[derive(Deserialize)]
struct Header {
    typ: Option<String>,
    alg: String,
    jwk: Option<Value>,
}

#[derive(Deserialize)]
struct Claims {
    jti: Option<String>,
    htm: Option<String>,
    htu: Option<String>,
    iat: Option<i64>,
    ath: Option<String>,
    nonce: Option<String>,
}

fn decode<T: serde::de::DeserializeOwned>(part: &str, what: &'static str) -> Result<T, ProofError> {
    let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|_| ProofError::Malformed(what))?;
    serde_json::from_slice(&bytes).map_err(|_| ProofError::Malformed(what))
}

/// The URI without query and fragment, normalized (RFC 3986 §6.2.2-6.2.3 as `url` applies it).
fn bare_uri(uri: &str) -> Option<String> {
    let mut url = url::Url::parse(uri).ok()?;
    url.set_query(None);
    url.set_fragment(None);
    Some(url.to_string())
}

/// Checks `proof` (RFC 9449 §4.3) signed with one of `algs`.
pub fn verify(proof: &str, algs: &[DpopAlg], expected: &Expected<'_>, now: i64) -> Result<VerifiedProof, ProofError> {
    let mut parts = proof.split('.');
    let (Some(h), Some(c), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(ProofError::Malformed("not a compact JWS"));
    };
    let header: Header = decode(h, "the header is not base64url JSON")?;
    if header.typ.as_deref() != Some("dpop+jwt") {
        return Err(ProofError::WrongType);
    }
    let jwk = header.jwk.ok_or(ProofError::BadJwk("missing"))?;
    if jwk.get("d").is_some() {
        return Err(ProofError::BadJwk("it contains a private key"));
    }
    let member = |name: &str| {
        jwk.get(name)
            .and_then(Value::as_str)
            .and_then(|v| URL_SAFE_NO_PAD.decode(v).ok())
            .ok_or(ProofError::BadJwk("a required member is missing or not base64url"))
    };
    let signature = URL_SAFE_NO_PAD.decode(s).map_err(|_| ProofError::Malformed("the signature is not base64url"))?;
    let signed = &proof[..h.len() + 1 + c.len()];
    // RFC 9449 §4.3 step 5: never `none` or a symmetric algorithm; only those this server was told to accept.
    let alg = DpopAlg::from_name(&header.alg)
        .filter(|a| algs.contains(a))
        .ok_or_else(|| ProofError::UnsupportedAlg(algs.iter().map(|a| a.name()).collect::<Vec<_>>().join(", ")))?;
    let kty = jwk.get("kty").and_then(Value::as_str);
    match alg {
        DpopAlg::Es256 => {
            if kty != Some("EC") || jwk.get("crv").and_then(Value::as_str) != Some("P-256") {
                return Err(ProofError::BadJwk("ES256 needs an EC P-256 key"));
            }
            let point = [vec![4u8], member("x")?, member("y")?].concat();
            UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
                .verify(signed.as_bytes(), &signature)
                .map_err(|_| ProofError::BadSignature)?;
        }
        DpopAlg::EdDsa => {
            if kty != Some("OKP") || jwk.get("crv").and_then(Value::as_str) != Some("Ed25519") {
                return Err(ProofError::BadJwk("EdDSA needs an OKP Ed25519 key"));
            }
            UnparsedPublicKey::new(&ED25519, member("x")?)
                .verify(signed.as_bytes(), &signature)
                .map_err(|_| ProofError::BadSignature)?;
        }
        DpopAlg::Rs256 => {
            if kty != Some("RSA") {
                return Err(ProofError::BadJwk("RS256 needs an RSA key"));
            }
            // ring refuses moduli under 2048 bits (RFC 7518 §3.3) and public exponents below 3.
            RsaPublicKeyComponents { n: member("n")?, e: member("e")? }
                .verify(&RSA_PKCS1_2048_8192_SHA256, signed.as_bytes(), &signature)
                .map_err(|_| ProofError::BadSignature)?;
        }
    }
    let claims: Claims = decode(c, "the claims are not base64url JSON")?;
    let jti = claims.jti.filter(|j| !j.is_empty()).ok_or(ProofError::Malformed("no jti"))?;
    if claims.htm.as_deref() != Some(expected.method) {
        return Err(ProofError::WrongMethod);
    }
    let htu = claims.htu.as_deref().and_then(bare_uri);
    if htu.is_none() || htu != bare_uri(expected.url) {
        return Err(ProofError::WrongUri);
    }
    let iat = claims.iat.ok_or(ProofError::Malformed("no iat"))?;
    if (now - iat).abs() > IAT_WINDOW_SECS {
        return Err(ProofError::Stale);
    }
    if let Some(token) = expected.access_token {
        let ath = URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()));
        if claims.ath.as_deref() != Some(ath.as_str()) {
            return Err(ProofError::WrongTokenHash);
        }
    }
    let jkt = jwk_thumbprint(&jwk).ok_or(ProofError::BadJwk("no thumbprint"))?;
    Ok(VerifiedProof { jkt, jti, nonce: claims.nonce })
}

/// Proofs for tests (here and in the resource server's): ES256, Ed25519 or RS256, with any header and claims.
#[cfg(test)]
pub mod testing {
    use super::*;
    use ring::rand::SystemRandom;
    use ring::signature::{
        ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RSA_PKCS1_SHA256, RsaKeyPair,
    };
    use serde_json::json;

    pub enum TestKey {
        Ec(EcdsaKeyPair),
        Ed(Ed25519KeyPair),
        Rsa(RsaKeyPair),
    }

    impl TestKey {
        pub fn es256() -> Self {
            let rng = SystemRandom::new();
            let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
            Self::Ec(EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap())
        }

        pub fn ed25519() -> Self {
            let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
            Self::Ed(Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap())
        }

        pub fn rsa() -> Self {
            use rsa::pkcs8::EncodePrivateKey;
            let key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 2048).unwrap();
            Self::Rsa(RsaKeyPair::from_pkcs8(key.to_pkcs8_der().unwrap().as_bytes()).unwrap())
        }

        pub fn alg(&self) -> &'static str {
            match self {
                Self::Ec(_) => "ES256",
                Self::Ed(_) => "EdDSA",
                Self::Rsa(_) => "RS256",
            }
        }

        pub fn jwk(&self) -> Value {
            match self {
                Self::Ec(k) => {
                    let p = k.public_key().as_ref();
                    json!({"kty": "EC", "crv": "P-256", "x": URL_SAFE_NO_PAD.encode(&p[1..33]), "y": URL_SAFE_NO_PAD.encode(&p[33..65])})
                }
                Self::Ed(k) => json!({"kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode(k.public_key())}),
                Self::Rsa(k) => {
                    let p = ring::rsa::PublicKeyComponents::<Vec<u8>>::from(k.public());
                    json!({"kty": "RSA", "n": URL_SAFE_NO_PAD.encode(&p.n), "e": URL_SAFE_NO_PAD.encode(&p.e)})
                }
            }
        }

        pub fn jkt(&self) -> String {
            jwk_thumbprint(&self.jwk()).unwrap()
        }

        /// A signed JWT with exactly this header and these claims.
        pub fn sign(&self, header: &Value, claims: &Value) -> String {
            let input = format!(
                "{}.{}",
                URL_SAFE_NO_PAD.encode(header.to_string()),
                URL_SAFE_NO_PAD.encode(claims.to_string())
            );
            let sig = match self {
                Self::Ec(k) => k.sign(&SystemRandom::new(), input.as_bytes()).unwrap().as_ref().to_vec(),
                Self::Ed(k) => k.sign(input.as_bytes()).as_ref().to_vec(),
                Self::Rsa(k) => {
                    let mut sig = vec![0u8; k.public().modulus_len()];
                    k.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), input.as_bytes(), &mut sig).unwrap();
                    sig
                }
            };
            format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
        }

        pub fn header(&self) -> Value {
            json!({"typ": "dpop+jwt", "alg": self.alg(), "jwk": self.jwk()})
        }

        /// A valid proof for `method` `url` at `now` (with `ath` for `token`, and `nonce`).
        pub fn proof(&self, method: &str, url: &str, token: Option<&str>, nonce: Option<&str>, now: i64) -> String {
            let mut claims = json!({"jti": format!("{:x}", rand_u64()), "htm": method, "htu": url, "iat": now});
            if let Some(t) = token {
                claims["ath"] = json!(URL_SAFE_NO_PAD.encode(Sha256::digest(t.as_bytes())));
            }
            if let Some(n) = nonce {
                claims["nonce"] = json!(n);
            }
            self.sign(&self.header(), &claims)
        }
    }

    fn rand_u64() -> u64 {
        let mut b = [0u8; 8];
        getrandom::fill(&mut b).unwrap();
        u64::from_be_bytes(b)
    }
}

#[cfg(test)]
mod tests {
    use super::testing::TestKey;
    use super::*;
    use serde_json::json;

    const URL: &str = "https://server.example.com/token";
    const NOW: i64 = 1_700_000_000;

    fn expected(token: Option<&str>) -> Expected<'_> {
        Expected { method: "POST", url: URL, access_token: token }
    }

    fn verify(proof: &str, expected: &Expected<'_>, now: i64) -> Result<VerifiedProof, ProofError> {
        super::verify(proof, &DpopAlg::ALL, expected, now)
    }

    fn claims() -> Value {
        json!({"jti": "j1", "htm": "POST", "htu": URL, "iat": NOW})
    }

    #[test]
    fn valid_proofs_of_every_algorithm_give_the_key_thumbprint() {
        for key in [TestKey::es256(), TestKey::ed25519(), TestKey::rsa()] {
            let proof = key.proof("POST", "https://server.example.com/token?ignored=1", Some("tok"), Some("n"), NOW);
            let ok = verify(&proof, &expected(Some("tok")), NOW + 5).unwrap();
            assert_eq!(ok.jkt, key.jkt());
            assert_eq!(ok.nonce.as_deref(), Some("n"));
        }
    }

    #[test]
    fn every_defect_has_its_own_refusal() {
        let key = TestKey::es256();
        let other = TestKey::es256();
        let h = key.header();
        let mut cases: Vec<(String, ProofError)> = Vec::new();
        cases.push(("a.b".into(), ProofError::Malformed("not a compact JWS")));
        cases.push(("!!.e30.AA".into(), ProofError::Malformed("the header is not base64url JSON")));
        let mut typ = h.clone();
        typ["typ"] = json!("JWT");
        cases.push((key.sign(&typ, &claims()), ProofError::WrongType));
        let mut hs = h.clone();
        hs["alg"] = json!("HS256");
        let unsupported = || ProofError::UnsupportedAlg("ES256, EdDSA, RS256".into());
        cases.push((key.sign(&hs, &claims()), unsupported()));
        let mut none = h.clone();
        none["alg"] = json!("none");
        cases.push((key.sign(&none, &claims()), unsupported()));
        let mut lower = h.clone();
        lower["alg"] = json!("es256");
        cases.push((key.sign(&lower, &claims()), unsupported()));
        let mut ec_as_rsa = h.clone();
        ec_as_rsa["alg"] = json!("RS256");
        cases.push((key.sign(&ec_as_rsa, &claims()), ProofError::BadJwk("RS256 needs an RSA key")));
        let mut rsa_without_n = h.clone();
        rsa_without_n["alg"] = json!("RS256");
        rsa_without_n["jwk"] = json!({"kty": "RSA", "e": "AQAB"});
        let missing = ProofError::BadJwk("a required member is missing or not base64url");
        cases.push((key.sign(&rsa_without_n, &claims()), missing));
        let mut nojwk = h.clone();
        nojwk.as_object_mut().unwrap().remove("jwk");
        cases.push((key.sign(&nojwk, &claims()), ProofError::BadJwk("missing")));
        let mut private = h.clone();
        private["jwk"]["d"] = json!("secret");
        cases.push((key.sign(&private, &claims()), ProofError::BadJwk("it contains a private key")));
        let mut okp = h.clone();
        okp["jwk"] = TestKey::ed25519().jwk();
        cases.push((key.sign(&okp, &claims()), ProofError::BadJwk("ES256 needs an EC P-256 key")));
        // Signed by another key than the one in the header.
        cases.push((other.sign(&h, &claims()), ProofError::BadSignature));
        let mut c = claims();
        c.as_object_mut().unwrap().remove("jti");
        cases.push((key.sign(&h, &c), ProofError::Malformed("no jti")));
        let mut c = claims();
        c["htm"] = json!("GET");
        cases.push((key.sign(&h, &c), ProofError::WrongMethod));
        let mut c = claims();
        c["htu"] = json!("https://attacker.example/token");
        cases.push((key.sign(&h, &c), ProofError::WrongUri));
        let mut c = claims();
        c["iat"] = json!(NOW - 120);
        cases.push((key.sign(&h, &c), ProofError::Stale));
        let mut c = claims();
        c["iat"] = json!(NOW + 120);
        cases.push((key.sign(&h, &c), ProofError::Stale));
        let mut c = claims();
        c.as_object_mut().unwrap().remove("iat");
        cases.push((key.sign(&h, &c), ProofError::Malformed("no iat")));
        for (proof, want) in cases {
            assert_eq!(verify(&proof, &expected(None), NOW).unwrap_err(), want, "{proof}");
        }
        // A tampered payload breaks the signature.
        let good = key.sign(&h, &claims());
        let mut parts: Vec<&str> = good.split('.').collect();
        let forged =
            URL_SAFE_NO_PAD.encode(json!({"jti": "j1", "htm": "POST", "htu": URL, "iat": NOW + 1}).to_string());
        parts[1] = &forged;
        assert_eq!(verify(&parts.join("."), &expected(None), NOW).unwrap_err(), ProofError::BadSignature);
    }

    #[test]
    fn only_the_configured_algorithms_are_accepted() {
        let rsa = TestKey::rsa();
        let proof = rsa.proof("POST", URL, None, None, NOW);
        let only_ec = [DpopAlg::Es256];
        assert_eq!(
            super::verify(&proof, &only_ec, &expected(None), NOW).unwrap_err(),
            ProofError::UnsupportedAlg("ES256".into())
        );
        assert!(super::verify(&proof, &[DpopAlg::Rs256], &expected(None), NOW).is_ok());
        let ec = TestKey::es256().proof("POST", URL, None, None, NOW);
        assert_eq!(
            super::verify(&ec, &[DpopAlg::Rs256], &expected(None), NOW).unwrap_err(),
            ProofError::UnsupportedAlg("RS256".into())
        );
    }

    /// A proof signed by the rsa crate (which, unlike ring, signs with keys under 2048 bits).
    fn rsa_crate_proof(bits: usize) -> String {
        use rsa::traits::PublicKeyParts;
        let key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, bits).unwrap();
        let b64 = |v: Vec<u8>| URL_SAFE_NO_PAD.encode(v);
        let jwk = json!({"kty": "RSA", "n": b64(key.n().to_bytes_be()), "e": b64(key.e().to_bytes_be())});
        let header = json!({"typ": "dpop+jwt", "alg": "RS256", "jwk": jwk});
        let input =
            format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims().to_string()));
        // PKCS#1 v1.5 over SHA-256's DigestInfo (RFC 8017 §9.2 note 1).
        const SHA256_PREFIX: [u8; 19] = [
            0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04,
            0x20,
        ];
        let digest_info = [&SHA256_PREFIX[..], &Sha256::digest(input.as_bytes())].concat();
        let sig = key.sign(rsa::Pkcs1v15Sign::new_unprefixed(), &digest_info).unwrap();
        format!("{input}.{}", b64(sig))
    }

    #[test]
    fn short_rsa_keys_and_forged_rsa_signatures_are_refused() {
        assert!(verify(&rsa_crate_proof(2048), &expected(None), NOW).is_ok(), "the construction is sound");
        // RFC 7518 §3.3: 2048 bits at least.
        assert_eq!(verify(&rsa_crate_proof(1024), &expected(None), NOW).unwrap_err(), ProofError::BadSignature);
        let key = TestKey::rsa();
        let other = TestKey::rsa();
        let forged = other.sign(&key.header(), &claims());
        assert_eq!(verify(&forged, &expected(None), NOW).unwrap_err(), ProofError::BadSignature);
    }

    #[test]
    fn ath_must_hash_the_presented_token() {
        let key = TestKey::es256();
        let proof = key.proof("POST", URL, Some("token-a"), None, NOW);
        assert_eq!(verify(&proof, &expected(Some("token-b")), NOW).unwrap_err(), ProofError::WrongTokenHash);
        let without = key.proof("POST", URL, None, None, NOW);
        assert_eq!(verify(&without, &expected(Some("token-a")), NOW).unwrap_err(), ProofError::WrongTokenHash);
    }
}
