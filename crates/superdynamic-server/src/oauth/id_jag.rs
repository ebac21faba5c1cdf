//! Validating an Identity Assertion JWT Authorization Grant (SEP-990; draft-ietf-oauth-identity-assertion-authz-grant
//! §5.1) presented with the JWT bearer grant: typ `oauth-id-jag+jwt`, signed by the trusted IdP, `aud` = this
//! issuer, unexpired, issued to the client that authenticates, for this resource, and used once.

use serde::Deserialize;

use crate::oauth::secrets::hash_secret;
use crate::oauth::state::OAuthState;
use crate::storage::RegisteredClient;

/// The JOSE `typ` of an ID-JAG: stops an ID token or access token from the same IdP being replayed as a grant.
pub const ID_JAG_TYP: &str = "oauth-id-jag+jwt";

#[derive(Debug, Deserialize)]
pub struct IdJagClaims {
    pub sub: String,
    pub exp: i64,
    pub client_id: Option<String>,
    pub resource: Option<String>,
    pub scope: Option<String>,
    pub jti: Option<String>,
}

/// True when the JWT's header says it is an ID-JAG (read without verification, to pick the validation).
pub fn is_id_jag(jwt: &str) -> bool {
    jsonwebtoken::decode_header(jwt).ok().and_then(|h| h.typ).is_some_and(|t| t.eq_ignore_ascii_case(ID_JAG_TYP))
}

/// The ID-JAG's claims once every check passed; the error says which did not.
pub async fn verify(state: &OAuthState, client: &RegisteredClient, jwt: &str) -> Result<IdJagClaims, String> {
    let Some(idp) = &state.trusted_idp else {
        return Err("this authorization server trusts no identity provider for ID-JAGs".into());
    };
    if !is_id_jag(jwt) {
        return Err(format!("the assertion is not an ID-JAG (its typ must be {ID_JAG_TYP})"));
    }
    let claims: IdJagClaims = idp.verify(state.fetch_policy, jwt, &[&state.issuer], "ID-JAG").await?;
    // §5.1: the client_id claim names the client this grant was issued to.
    if claims.client_id.as_deref() != Some(client.client_id.as_str()) {
        return Err(format!("the ID-JAG was issued to client {:?}, not {:?}", claims.client_id, client.client_id));
    }
    if claims.resource.as_deref() != Some(state.resource.as_str()) {
        return Err(format!("the ID-JAG's resource {:?} is not this server ({})", claims.resource, state.resource));
    }
    let jti = claims.jti.as_deref().filter(|j| !j.is_empty() && j.len() <= 256).ok_or("the ID-JAG has no jti")?;
    let fresh = state
        .store
        .remember_assertion_jti(&format!("id-jag:{}", idp.issuer), &hash_secret(jti), claims.exp + 30)
        .map_err(|e| format!("storage: {e}"))?;
    if !fresh {
        return Err("the ID-JAG was already used (jti replay)".into());
    }
    Ok(claims)
}
