//! The JWT bearer grant (RFC 7523 §2.1) at `/token`: an ID-JAG from the trusted enterprise IdP (SEP-990) or a
//! workload identity token from the trusted platform issuer, for an access token. No refresh token: the client
//! presents a new assertion when the access token expires.

use crate::oauth::error_response::TokenError;
use crate::oauth::issuance::{TokenResponse, issue_with};
use crate::oauth::params::QueryParams;
use crate::oauth::state::OAuthState;
use crate::oauth::{id_jag, workload};
use crate::scope::{DEFAULT_SCOPE, OFFLINE_ACCESS, ScopeSet};
use crate::storage::{RefreshRecord, RegisteredClient};

pub async fn grant(
    state: &OAuthState,
    client: &RegisteredClient,
    form: &QueryParams,
    jkt: Option<&str>,
) -> Result<TokenResponse, TokenError> {
    let assertion = form
        .get("assertion")
        .ok_or_else(|| TokenError::InvalidRequest("assertion is required (RFC 7523 §2.1)".into()))?;
    let parse = |s: &str| ScopeSet::parse(s).map_err(|e| TokenError::InvalidScope(e.to_string()));
    let requested = form.get("scope").map(parse).transpose()?.filter(|s| !s.is_empty());
    let (subject, scope, kind) = if id_jag::is_id_jag(assertion) {
        let claims = id_jag::verify(state, client, assertion).await.map_err(TokenError::InvalidGrant)?;
        // The IdP's grant bounds the access token: a narrower scope may be asked for, never a wider one.
        let granted = claims.scope.as_deref().map(parse).transpose()?;
        let scope = match (requested, granted) {
            (Some(r), Some(g)) if !r.is_subset_of(&g) => {
                return Err(TokenError::InvalidScope(format!(
                    "the ID-JAG grants {:?}; ask for no more",
                    g.to_scope_string()
                )));
            }
            (Some(r), _) => r,
            (None, Some(g)) if !g.is_empty() => g,
            (None, _) => parse(DEFAULT_SCOPE)?,
        };
        (claims.sub, scope, "an ID-JAG")
    } else {
        let sub = workload::verify(state, assertion).await.map_err(TokenError::InvalidGrant)?;
        (sub, requested.map_or_else(|| parse(DEFAULT_SCOPE), Ok)?, "a workload identity token")
    };
    if scope.contains(OFFLINE_ACCESS) {
        return Err(TokenError::InvalidScope("offline_access: assertion grants get no refresh token".into()));
    }
    // A client that registered a scope may not ask for more (RFC 7591 §2).
    if let Some(registered) = &client.metadata.scope {
        let registered = ScopeSet::parse(registered).map_err(|e| TokenError::Server(e.to_string()))?;
        if !scope.is_subset_of(&registered) {
            return Err(TokenError::InvalidScope(format!(
                "the client registered the scope {:?}; ask for no more",
                registered.to_scope_string()
            )));
        }
    }
    let base = RefreshRecord {
        family_id: String::new(),
        client_id: client.client_id.clone(),
        scope: scope.to_scope_string(),
        resource: state.resource.clone(),
        subject,
        expires_at: 0,
        used: false,
        revoked: false,
    };
    let response = issue_with(state, client, &base, &scope, false, jkt)?;
    tracing::info!(client_id = %client.client_id, sub = %base.subject, scope = %base.scope, "issued a token for {kind}");
    Ok(response)
}
