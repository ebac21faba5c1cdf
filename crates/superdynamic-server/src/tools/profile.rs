//! `get_user_profile`: what the access token says about its holder.

use serde_json::{Value, json};

use crate::oauth::jwt::AccessClaims;

pub struct Profile {
    pub sub: String,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub expires_at: i64,
}

impl Profile {
    pub fn from_claims(claims: &AccessClaims) -> Self {
        Self {
            sub: claims.sub.clone(),
            client_id: claims.client_id.clone(),
            scopes: claims.scopes(),
            expires_at: claims.exp,
        }
    }

    pub fn summary(&self) -> String {
        format!("You are {} (via client {}) with scopes: {}", self.sub, self.client_id, self.scopes.join(" "))
    }

    pub fn to_json(&self) -> Value {
        json!({
            "sub": self.sub,
            "client_id": self.client_id,
            "scopes": self.scopes,
            "expires_at": self.expires_at,
        })
    }
}
