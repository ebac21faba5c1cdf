//! Validating a workload identity token presented as a JWT bearer grant (RFC 7523 §3): signed by the trusted
//! platform issuer, `aud` = this authorization server, unexpired, with a subject (the workload).

use serde::Deserialize;

use crate::oauth::state::OAuthState;

#[derive(Debug, Deserialize)]
pub struct WorkloadClaims {
    pub sub: String,
}

/// The workload's subject once the token verified.
pub async fn verify(state: &OAuthState, jwt: &str) -> Result<String, String> {
    let Some(trusted) = &state.workload_issuer else {
        return Err("this authorization server trusts no workload identity issuer".into());
    };
    let token_endpoint = format!("{}/token", state.issuer);
    let claims: WorkloadClaims =
        trusted.verify(state.fetch_policy, jwt, &[&state.issuer, &token_endpoint], "workload identity token").await?;
    if claims.sub.is_empty() || claims.sub.len() > 256 {
        return Err("the workload identity token's sub must name the workload".into());
    }
    Ok(claims.sub)
}
