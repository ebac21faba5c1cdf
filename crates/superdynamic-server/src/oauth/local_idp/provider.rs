//! The local IdP itself: its issuer (`<base>/idp`), its in-memory signing key, and the ID tokens it signs and
//! checks. Plain data for [`OAuthState`](crate::oauth::state::OAuthState); the endpoints are in the parent.

use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::oauth::error_response::TokenError;
use crate::oauth::keys::{Jwks, SigningKey};
use crate::oauth::trusted_issuer::{TrustedIssuer, TrustedKeys};
use crate::storage::now;

pub const ID_TOKEN_TTL_SECS: i64 = 3600;

/// The local IdP: its issuer (`<base>/idp`) and signing key.
pub struct LocalIdp {
    pub issuer: String,
    pub key: SigningKey,
}

impl LocalIdp {
    pub fn new(base: &str) -> Result<Self, crate::oauth::keys::KeyError> {
        Ok(Self { issuer: format!("{base}/idp"), key: SigningKey::ephemeral()? })
    }

    pub fn jwks(&self) -> Jwks {
        Jwks { keys: vec![self.key.public_jwk.clone()] }
    }

    /// This IdP as the authorization server's trusted issuer of ID-JAGs.
    pub fn as_trusted(&self) -> Result<TrustedIssuer, String> {
        let set = serde_json::to_value(self.jwks()).and_then(serde_json::from_value).map_err(|e| e.to_string())?;
        Ok(TrustedIssuer { issuer: self.issuer.clone(), keys: TrustedKeys::Loaded(set) })
    }

    pub(super) fn sign(&self, typ: &str, claims: &Value) -> Result<String, TokenError> {
        let mut header = Header::new(Algorithm::ES256);
        header.typ = Some(typ.to_owned());
        header.kid = Some(self.key.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.key.encoding_key).map_err(|e| TokenError::Server(e.to_string()))
    }

    /// An OIDC ID token for `sub`, audience the IdP client.
    pub fn id_token(&self, sub: &str, client_id: &str) -> Result<String, TokenError> {
        let iat = now();
        self.sign(
            "JWT",
            &json!({"iss": self.issuer, "sub": sub, "aud": client_id, "iat": iat, "exp": iat + ID_TOKEN_TTL_SECS}),
        )
    }

    pub(super) fn verify_id_token(&self, token: &str, client_id: &str) -> Result<String, String> {
        #[derive(Deserialize)]
        struct Claims {
            sub: String,
        }
        let jwk = &self.key.public_jwk;
        let key = DecodingKey::from_ec_components(&jwk.x, &jwk.y).map_err(|e| e.to_string())?;
        let mut validation = Validation::new(Algorithm::ES256);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[client_id]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        jsonwebtoken::decode::<Claims>(token, &key, &validation).map(|d| d.claims.sub).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            match e.kind() {
                ErrorKind::ExpiredSignature => "the ID token has expired; sign in at the IdP again".to_owned(),
                ErrorKind::InvalidAudience => format!("the ID token was issued to another client, not {client_id}"),
                _ => format!("the ID token is not one this IdP issued: {e}"),
            }
        })
    }
}
