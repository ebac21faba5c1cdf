//! Access tokens: JWTs per RFC 9068, signed ES256.
//!
//! The authorization server mints them with [`mint`]; the resource server
//! checks them with a [`TokenVerifier`] that only knows the public JWKS, the
//! issuer and its own resource URI, so the two roles could live apart.

use std::collections::HashMap;

use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::oauth::keys::{Jwks, SigningKey};

/// RFC 9068 §2.1 media type, sent as the JOSE `typ` header.
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// RFC 9068 §2.2 claims.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: String,
    /// The single resource this token is for (RFC 8707 audience).
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub client_id: String,
    /// Space-delimited granted scopes.
    pub scope: String,
    /// RFC 9449 §6.1: the DPoP key the token is bound to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
}

/// RFC 7800 §3.1 `cnf`, with the RFC 9449 §6.1 `jkt` member.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Confirmation {
    pub jkt: String,
}

impl AccessClaims {
    pub fn has_scope(&self, wanted: &str) -> bool {
        self.scope.split(' ').any(|s| s == wanted)
    }

    pub fn scopes(&self) -> Vec<String> {
        self.scope.split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("could not sign the access token: {0}")]
    Sign(jsonwebtoken::errors::Error),
    #[error("the token is not a well-formed JWT")]
    Malformed,
    #[error("the token is not an access token (typ must be at+jwt)")]
    WrongType,
    #[error("the token was signed with an unknown key")]
    UnknownKey,
    #[error("the token has expired")]
    Expired,
    #[error("the token was issued by a different authorization server")]
    WrongIssuer,
    #[error("the token was issued for a different resource (audience)")]
    WrongAudience,
    #[error("the token is invalid: {0}")]
    Invalid(String),
}

/// Signs `claims` as an `at+jwt` with the current key.
pub fn mint(key: &SigningKey, claims: &AccessClaims) -> Result<String, TokenError> {
    let mut header = Header::new(Algorithm::ES256);
    header.typ = Some(ACCESS_TOKEN_TYP.to_owned());
    header.kid = Some(key.kid.clone());
    jsonwebtoken::encode(&header, claims, &key.encoding_key).map_err(TokenError::Sign)
}

/// Validates access tokens for one resource (RFC 9068 §4).
pub struct TokenVerifier {
    issuer: String,
    audience: String,
    keys: HashMap<String, DecodingKey>,
}

impl TokenVerifier {
    pub fn new(issuer: &str, audience: &str, jwks: &Jwks) -> Result<Self, TokenError> {
        let mut keys = HashMap::new();
        for jwk in &jwks.keys {
            let key =
                DecodingKey::from_ec_components(&jwk.x, &jwk.y).map_err(|e| TokenError::Invalid(e.to_string()))?;
            keys.insert(jwk.kid.clone(), key);
        }
        Ok(Self { issuer: issuer.to_owned(), audience: audience.to_owned(), keys })
    }

    pub fn verify(&self, token: &str) -> Result<AccessClaims, TokenError> {
        use jsonwebtoken::errors::ErrorKind;

        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        // RFC 9068 §4: reject tokens whose typ is not at+jwt (stops ID tokens
        // or other JWTs from this issuer being replayed as access tokens).
        let typ_ok = header
            .typ
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case(ACCESS_TOKEN_TYP) || t.eq_ignore_ascii_case("application/at+jwt"));
        if !typ_ok {
            return Err(TokenError::WrongType);
        }
        let key = header.kid.as_deref().and_then(|kid| self.keys.get(kid)).ok_or(TokenError::UnknownKey)?;
        let mut validation = Validation::new(Algorithm::ES256);
        validation.leeway = 0;
        validation.set_issuer(&[&self.issuer]);
        // MCP 2025-06-18 §Token Audience Binding: aud must be this resource.
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        jsonwebtoken::decode::<AccessClaims>(token, key, &validation).map(|data| data.claims).map_err(|e| {
            match e.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                ErrorKind::InvalidIssuer => TokenError::WrongIssuer,
                ErrorKind::InvalidAudience => TokenError::WrongAudience,
                ErrorKind::InvalidToken | ErrorKind::Base64(_) | ErrorKind::Json(_) | ErrorKind::Utf8(_) => {
                    TokenError::Malformed
                }
                _ => TokenError::Invalid(e.to_string()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{Store, now};

    fn claims(aud: &str, exp: i64) -> AccessClaims {
        AccessClaims {
            cnf: None,
            iss: "http://127.0.0.1:1".into(),
            sub: "alice".into(),
            aud: aud.into(),
            exp,
            iat: now(),
            jti: "j".into(),
            client_id: "c".into(),
            scope: "mcp:tools files:read".into(),
        }
    }

    #[test]
    fn round_trip_and_rejections() {
        let store = Store::open_memory().unwrap();
        let key = SigningKey::load_or_generate(&store).unwrap();
        let aud = "http://127.0.0.1:1/mcp";
        let v = TokenVerifier::new("http://127.0.0.1:1", aud, &key.jwks()).unwrap();

        let good = mint(&key, &claims(aud, now() + 60)).unwrap();
        let c = v.verify(&good).unwrap();
        assert!(c.has_scope("files:read") && !c.has_scope("profile:read"));

        let expired = mint(&key, &claims(aud, now() - 10)).unwrap();
        assert!(matches!(v.verify(&expired), Err(TokenError::Expired)));
        let other = mint(&key, &claims("https://other/mcp", now() + 60)).unwrap();
        assert!(matches!(v.verify(&other), Err(TokenError::WrongAudience)));
        assert!(matches!(v.verify("not-a-jwt"), Err(TokenError::Malformed)));

        // Signed by a key the verifier does not know.
        let other_store = Store::open_memory().unwrap();
        let other_key = SigningKey::load_or_generate(&other_store).unwrap();
        let foreign = mint(&other_key, &claims(aud, now() + 60)).unwrap();
        assert!(matches!(v.verify(&foreign), Err(TokenError::UnknownKey)));
    }
}
