//! How the client proves who it is at the token endpoint (RFC 6749 §2.3, OAuth 2.1 §2.4): nothing (public
//! clients), a shared secret in a Basic header or the body, or a signed JWT assertion (RFC 7523 §2.2,
//! `private_key_jwt`).

use crate::authorization::pkce::random_urlsafe;
use crate::secret::ClientSecret;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;
use std::fmt;

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Assertions are single-use and short-lived (RFC 7523 §3: `exp` limits the replay window).
const ASSERTION_LIFETIME_SECS: u64 = 60;

#[derive(Debug, thiserror::Error)]
pub enum ClientKeyError {
    #[error("signing algorithm '{0}' is not supported; use ES256, ES384, RS256, RS384, RS512, PS256 or EdDSA")]
    UnsupportedAlgorithm(String),
    #[error("the private key is not a valid {alg} PEM key ({detail}); give a PKCS#8 PEM file")]
    BadKey { alg: String, detail: String },
    #[error("could not sign the client assertion: {0}")]
    Sign(String),
    #[error("the operating system's random number generator failed: {0}")]
    Random(getrandom::Error),
}

/// A private key for `private_key_jwt`. Holds the parsed key only; `Debug` never shows it.
#[derive(Clone)]
pub struct ClientKey {
    key: EncodingKey,
    alg: Algorithm,
    kid: Option<String>,
}

impl fmt::Debug for ClientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClientKey({:?}, [redacted])", self.alg)
    }
}

impl ClientKey {
    /// Parses a PEM private key for `alg` (default ES256).
    pub fn from_pem(pem: &[u8], alg: &str, kid: Option<String>) -> Result<Self, ClientKeyError> {
        let algorithm = match alg.to_ascii_uppercase().as_str() {
            "ES256" => Algorithm::ES256,
            "ES384" => Algorithm::ES384,
            "RS256" => Algorithm::RS256,
            "RS384" => Algorithm::RS384,
            "RS512" => Algorithm::RS512,
            "PS256" => Algorithm::PS256,
            "EDDSA" => Algorithm::EdDSA,
            _ => return Err(ClientKeyError::UnsupportedAlgorithm(alg.to_string())),
        };
        let bad =
            |e: jsonwebtoken::errors::Error| ClientKeyError::BadKey { alg: alg.to_string(), detail: e.to_string() };
        let key = match algorithm {
            Algorithm::ES256 | Algorithm::ES384 => EncodingKey::from_ec_pem(pem).map_err(bad)?,
            Algorithm::EdDSA => EncodingKey::from_ed_pem(pem).map_err(bad)?,
            _ => EncodingKey::from_rsa_pem(pem).map_err(bad)?,
        };
        Ok(Self { key, alg: algorithm, kid })
    }

    pub fn algorithm_name(&self) -> String {
        format!("{:?}", self.alg)
    }

    /// A client assertion (RFC 7523 §3): `iss` = `sub` = client_id, `aud` = the authorization server's
    /// issuer (the audience draft-ietf-oauth-rfc7523bis recommends), a fresh `jti`, one minute of life.
    pub fn assertion(&self, client_id: &str, audience: &str, now: u64) -> Result<String, ClientKeyError> {
        #[derive(Serialize)]
        struct Claims<'a> {
            iss: &'a str,
            sub: &'a str,
            aud: &'a str,
            iat: u64,
            exp: u64,
            jti: String,
        }
        let claims = Claims {
            iss: client_id,
            sub: client_id,
            aud: audience,
            iat: now,
            exp: now + ASSERTION_LIFETIME_SECS,
            jti: random_urlsafe(16).map_err(ClientKeyError::Random)?,
        };
        let mut header = Header::new(self.alg);
        header.kid = self.kid.clone();
        jsonwebtoken::encode(&header, &claims, &self.key).map_err(|e| ClientKeyError::Sign(e.to_string()))
    }
}

/// The credentials a token request is authenticated with.
#[derive(Debug, Clone)]
pub enum ClientAuthentication {
    /// A public client: `client_id` in the body.
    None,
    SecretBasic(ClientSecret),
    SecretPost(ClientSecret),
    PrivateKeyJwt(ClientKey),
}

impl ClientAuthentication {
    /// Adds this authentication to a token request: exactly one method per request (RFC 6749 §2.3).
    pub fn apply(
        &self,
        request: reqwest::RequestBuilder,
        form: &mut Vec<(&'static str, String)>,
        client_id: &str,
        issuer: &str,
        now: u64,
    ) -> Result<reqwest::RequestBuilder, ClientKeyError> {
        Ok(match self {
            ClientAuthentication::None => {
                form.push(("client_id", client_id.to_string()));
                request
            }
            ClientAuthentication::SecretBasic(secret) => {
                request.header("Authorization", basic_auth(client_id, secret.secret()))
            }
            ClientAuthentication::SecretPost(secret) => {
                form.push(("client_id", client_id.to_string()));
                form.push(("client_secret", secret.secret().to_string()));
                request
            }
            ClientAuthentication::PrivateKeyJwt(key) => {
                form.push(("client_id", client_id.to_string()));
                form.push(("client_assertion_type", ASSERTION_TYPE.to_string()));
                form.push(("client_assertion", key.assertion(client_id, issuer, now)?));
                request
            }
        })
    }
}

/// `client_secret_basic`: id and secret form-urlencoded before base64 (RFC 6749 §2.3.1).
pub fn basic_auth(client_id: &str, secret: &str) -> String {
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let raw = format!("{}:{}", enc(client_id), enc(secret));
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(raw))
}

#[cfg(test)]
mod tests {
    use super::*;

    // A throwaway P-256 key generated for this test only.
    const EC_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgNKb+n+EGgNJQcFYc
0fP/VSlvnkkOFwPhuP3APzpgoH2hRANCAASiJNFatBcaiH1qQeue5H9wTSieyjgS
WRwQEPFbDbwFx3r8wPc5NNTcrcVA+aKpl/cU4SU8dtBjpAbzIqkZEyZ+
-----END PRIVATE KEY-----
";

    #[test]
    fn basic_auth_form_encodes_before_base64() {
        // RFC 6749 §2.3.1: "a:b" and "p+q r" must round-trip.
        let header = basic_auth("a:b", "p+q r");
        let raw = base64::engine::general_purpose::STANDARD.decode(header.trim_start_matches("Basic ")).unwrap();
        assert_eq!(String::from_utf8(raw).unwrap(), "a%3Ab:p%2Bq+r");
    }

    #[test]
    fn assertion_has_the_rfc7523_claims() {
        let key = ClientKey::from_pem(EC_KEY.as_bytes(), "ES256", Some("k1".into())).unwrap();
        let jwt = key.assertion("client-1", "https://as.example", 1_000).unwrap();
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let decode = |s: &str| -> serde_json::Value {
            serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s).unwrap()).unwrap()
        };
        let header = decode(parts[0]);
        assert_eq!(header["alg"], "ES256");
        assert_eq!(header["kid"], "k1");
        let claims = decode(parts[1]);
        assert_eq!(claims["iss"], "client-1");
        assert_eq!(claims["sub"], "client-1");
        assert_eq!(claims["aud"], "https://as.example");
        assert_eq!(claims["exp"], 1_060);
        let again = decode(key.assertion("client-1", "https://as.example", 1_000).unwrap().split('.').nth(1).unwrap());
        assert_ne!(claims["jti"], again["jti"], "every assertion has a fresh jti");
        assert_eq!(format!("{key:?}"), "ClientKey(ES256, [redacted])");
    }

    #[test]
    fn bad_keys_and_algorithms_are_explained() {
        assert!(matches!(ClientKey::from_pem(b"nope", "ES256", None), Err(ClientKeyError::BadKey { .. })));
        let err = ClientKey::from_pem(EC_KEY.as_bytes(), "HS256", None).unwrap_err();
        assert!(err.to_string().contains("not supported"), "{err}");
    }
}
