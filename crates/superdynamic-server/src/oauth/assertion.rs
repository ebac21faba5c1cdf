//! `private_key_jwt` client authentication (RFC 7523 §2.2 and §3, OIDC Core
//! §9): a JWT the client signs with a key from its registered `jwks` (inline)
//! or `jwks_uri`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use crate::oauth::fetch::{FetchPolicy, get_json};
use crate::oauth::secrets::hash_secret;
use crate::oauth::state::OAuthState;
use crate::storage::{RegisteredClient, now};

/// RFC 7523 §2.2 `client_assertion_type`.
pub const JWT_BEARER_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Signature algorithms accepted for client assertions (advertised as
/// `token_endpoint_auth_signing_alg_values_supported`).
pub const ASSERTION_ALGS: [&str; 2] = ["ES256", "RS256"];
/// An assertion may live at most this long from now (RFC 7523 §3: "exp"
/// limits the window; we insist it is short).
const MAX_ASSERTION_LIFETIME_SECS: i64 = 300;
const CLOCK_SKEW_SECS: u64 = 30;
const MAX_JWKS_BYTES: usize = 64 * 1024;

#[derive(Debug, Deserialize)]
struct AssertionClaims {
    iss: String,
    sub: String,
    exp: i64,
    #[serde(default)]
    jti: Option<String>,
}

/// The `sub` (= client_id) of an assertion, read without verification, to
/// know which client's keys to check it against.
pub fn unverified_subject(assertion: &str) -> Option<String> {
    let payload = assertion.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let value: Value = serde_json::from_slice(&bytes).ok()?;
    value.get("sub").and_then(Value::as_str).map(str::to_owned)
}

/// The client's keys: inline `jwks`, else fetched from `jwks_uri`.
async fn client_keys(policy: FetchPolicy, client: &RegisteredClient) -> Result<JwkSet, String> {
    let value = match (&client.metadata.jwks, &client.metadata.jwks_uri) {
        (Some(jwks), _) => jwks.clone(),
        (None, Some(uri)) => {
            let url = Url::parse(uri).map_err(|_| "the registered jwks_uri is not a URL".to_owned())?;
            get_json(policy, &url, MAX_JWKS_BYTES).await.map_err(|e| format!("fetching jwks_uri failed: {e}"))?.body
        }
        (None, None) => return Err("the client registered no keys".into()),
    };
    serde_json::from_value(value).map_err(|_| "the client's JWK set is malformed".into())
}

/// Verifies `assertion` for `client` and burns its `jti`.
pub async fn verify(state: &OAuthState, client: &RegisteredClient, assertion: &str) -> Result<(), String> {
    let header = jsonwebtoken::decode_header(assertion).map_err(|_| "the client assertion is not a JWT".to_owned())?;
    let alg = match header.alg {
        Algorithm::ES256 => Algorithm::ES256,
        Algorithm::RS256 => Algorithm::RS256,
        other => return Err(format!("client assertion algorithm {other:?} is not accepted; use ES256 or RS256")),
    };
    let keys = client_keys(state.fetch_policy, client).await?;
    let candidates: Vec<_> = keys
        .keys
        .iter()
        .filter(|k| match (&header.kid, &k.common.key_id) {
            (Some(want), Some(have)) => want == have,
            _ => true,
        })
        .collect();
    if candidates.is_empty() {
        return Err("no registered key matches the assertion's kid".into());
    }

    let token_endpoint = format!("{}/token", state.issuer);
    let mut validation = Validation::new(alg);
    validation.leeway = CLOCK_SKEW_SECS;
    // RFC 7523 §3: iss = sub = client_id; aud identifies the AS (its issuer
    // or token endpoint URL); exp is required.
    validation.set_issuer(&[&client.client_id]);
    validation.set_audience(&[state.issuer.as_str(), token_endpoint.as_str()]);
    validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
    validation.sub = Some(client.client_id.clone());

    let mut last_error = "the client assertion signature did not verify".to_owned();
    let mut claims = None;
    for jwk in candidates {
        let Ok(key) = DecodingKey::from_jwk(jwk) else {
            continue;
        };
        match jsonwebtoken::decode::<AssertionClaims>(assertion, &key, &validation) {
            Ok(data) => {
                claims = Some(data.claims);
                break;
            }
            Err(e) => {
                use jsonwebtoken::errors::ErrorKind;
                last_error = match e.kind() {
                    ErrorKind::ExpiredSignature => "the client assertion has expired".into(),
                    ErrorKind::InvalidAudience => {
                        "the client assertion's aud must be the issuer or token endpoint".into()
                    }
                    ErrorKind::InvalidIssuer | ErrorKind::InvalidSubject => {
                        "the client assertion's iss and sub must be the client_id".into()
                    }
                    ErrorKind::MissingRequiredClaim(c) => format!("the client assertion has no {c} claim"),
                    _ => last_error,
                };
            }
        }
    }
    let claims = claims.ok_or(last_error)?;
    if claims.iss != client.client_id || claims.sub != client.client_id {
        return Err("the client assertion's iss and sub must be the client_id".into());
    }
    if claims.exp > now() + MAX_ASSERTION_LIFETIME_SECS {
        return Err(format!("the client assertion's exp is more than {MAX_ASSERTION_LIFETIME_SECS} s away"));
    }
    // RFC 7523 §3 item 7: jti single use until exp.
    let jti = claims.jti.filter(|j| !j.is_empty() && j.len() <= 256).ok_or("the client assertion needs a jti")?;
    let fresh = state
        .store
        .remember_assertion_jti(&client.client_id, &hash_secret(&jti), claims.exp + CLOCK_SKEW_SECS as i64)
        .map_err(|e| format!("storage: {e}"))?;
    if !fresh {
        return Err("the client assertion's jti was already used".into());
    }
    Ok(())
}
