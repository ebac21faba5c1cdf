//! An issuer whose signed JWTs the JWT bearer grant (RFC 7523 §3) accepts: the enterprise IdP that signs ID-JAGs,
//! or the platform that signs workload identity tokens. Its keys come from a JWKS file (read at start-up), a JWKS
//! URL (fetched, SSRF-guarded, on each use, so the platform's key rotation is followed) or the local IdP.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::de::DeserializeOwned;
use url::Url;

use crate::oauth::fetch::{FetchPolicy, get_json};

const CLOCK_SKEW_SECS: u64 = 30;
const MAX_JWKS_BYTES: usize = 64 * 1024;

/// Where a trusted issuer's public keys are.
#[derive(Debug, Clone)]
pub enum TrustedKeys {
    Loaded(JwkSet),
    Url(Url),
}

#[derive(Debug, Clone)]
pub struct TrustedIssuer {
    /// Compared exactly with `iss`.
    pub issuer: String,
    pub keys: TrustedKeys,
}

impl TrustedIssuer {
    /// Keys from a JWKS file (`path`) or URL (`http(s)://…`).
    pub fn from_jwks_location(issuer: &str, location: &str) -> Result<Self, String> {
        let keys = if location.starts_with("https://") || location.starts_with("http://") {
            TrustedKeys::Url(Url::parse(location).map_err(|e| format!("the JWKS URL {location:?} is not valid: {e}"))?)
        } else {
            let text = std::fs::read_to_string(location)
                .map_err(|e| format!("could not read the JWKS file {location}: {e}"))?;
            TrustedKeys::Loaded(
                serde_json::from_str(&text).map_err(|e| format!("the JWKS file {location} is not a JWK set: {e}"))?,
            )
        };
        Ok(Self { issuer: issuer.to_owned(), keys })
    }

    async fn key_set(&self, policy: FetchPolicy) -> Result<JwkSet, String> {
        match &self.keys {
            TrustedKeys::Loaded(set) => Ok(set.clone()),
            TrustedKeys::Url(url) => {
                let fetched = get_json(policy, url, MAX_JWKS_BYTES)
                    .await
                    .map_err(|e| format!("fetching the keys of {} failed: {e}", self.issuer))?;
                serde_json::from_value(fetched.body).map_err(|_| format!("the JWK set of {} is malformed", self.issuer))
            }
        }
    }

    /// Checks the signature (ES256 or RS256, a key of this issuer), `iss`, `aud` (one of `audiences`), `exp`
    /// and `sub`, and that `iat`, when present, is not in the future. `what` names the JWT in errors.
    pub async fn verify<C: DeserializeOwned>(
        &self,
        policy: FetchPolicy,
        jwt: &str,
        audiences: &[&str],
        what: &str,
    ) -> Result<C, String> {
        let header = jsonwebtoken::decode_header(jwt).map_err(|_| format!("the {what} is not a JWT"))?;
        let alg = match header.alg {
            Algorithm::ES256 => Algorithm::ES256,
            Algorithm::RS256 => Algorithm::RS256,
            other => return Err(format!("the {what}'s algorithm {other:?} is not accepted; use ES256 or RS256")),
        };
        let set = self.key_set(policy).await?;
        let candidates: Vec<_> = set
            .keys
            .iter()
            .filter(|k| match (&header.kid, &k.common.key_id) {
                (Some(want), Some(have)) => want == have,
                _ => true,
            })
            .collect();
        if candidates.is_empty() {
            return Err(format!("no key of the trusted issuer {} matches the {what}'s kid", self.issuer));
        }
        let mut validation = Validation::new(alg);
        validation.leeway = CLOCK_SKEW_SECS;
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(audiences);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let mut last = format!("the {what}'s signature does not verify with the keys of {}", self.issuer);
        for jwk in candidates {
            let Ok(key) = DecodingKey::from_jwk(jwk) else { continue };
            match jsonwebtoken::decode::<serde_json::Value>(jwt, &key, &validation) {
                Ok(data) => {
                    let iat = data.claims.get("iat").and_then(serde_json::Value::as_i64);
                    if iat.is_some_and(|iat| iat > crate::storage::now() + CLOCK_SKEW_SECS as i64) {
                        return Err(format!("the {what} was issued in the future (iat)"));
                    }
                    return serde_json::from_value(data.claims).map_err(|e| format!("the {what}'s claims: {e}"));
                }
                Err(e) => {
                    use jsonwebtoken::errors::ErrorKind;
                    last = match e.kind() {
                        ErrorKind::ExpiredSignature => format!("the {what} has expired"),
                        ErrorKind::InvalidAudience => {
                            format!("the {what}'s aud must be this authorization server ({})", audiences.join(" or "))
                        }
                        ErrorKind::InvalidIssuer => {
                            format!("the {what} is not from the trusted issuer {}", self.issuer)
                        }
                        ErrorKind::MissingRequiredClaim(c) => format!("the {what} has no {c} claim"),
                        ErrorKind::InvalidSignature => last,
                        _ => format!("the {what} is invalid: {e}"),
                    };
                }
            }
        }
        Err(last)
    }
}
