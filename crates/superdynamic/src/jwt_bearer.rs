//! The JWT bearer authorization grant (RFC 7523 §2.1): a signed JWT — an ID-JAG from the enterprise identity
//! provider (SEP-990), or a workload's platform identity token — is traded for an access token.

use crate::resource::ResourceUri;
use crate::secret::Assertion;
use crate::token::{self, TokenClient, TokenError, TokenSet};

/// RFC 7523 §2.1 `grant_type`.
pub const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// Redeems `assertion` at the token endpoint, with `resource` (RFC 8707) and the scope asked for. RFC 7523
/// §3.1: client authentication is separate from the grant; `client` authenticates as usual.
pub async fn redeem(
    http: &reqwest::Client,
    token_endpoint: &str,
    client: &TokenClient<'_>,
    assertion: &Assertion,
    scope: Option<&str>,
    resource: &ResourceUri,
) -> Result<TokenSet, TokenError> {
    let mut form = vec![
        ("grant_type", JWT_BEARER_GRANT.to_string()),
        ("assertion", assertion.secret().to_string()),
        ("resource", resource.as_str().to_string()),
    ];
    if let Some(scope) = scope {
        form.push(("scope", scope.to_string()));
    }
    let bytes = token::send_form("the JWT bearer token request", http, token_endpoint, client, form).await?;
    token::parse_token_response(&bytes, scope, token::now_unix())
}
