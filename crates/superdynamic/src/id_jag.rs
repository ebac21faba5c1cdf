//! Token exchange (RFC 8693) at the enterprise identity provider for an Identity Assertion JWT Authorization
//! Grant (ID-JAG, SEP-990 / draft-ietf-oauth-identity-assertion-authz-grant §4.3): the user's ID token goes in,
//! a short-lived grant for one authorization server (`audience`) and one MCP server (`resource`) comes out.

use crate::http::{self, Exchange, HttpError, MAX_OAUTH_BODY};
use crate::resource::{ResourceUri, is_secure_or_loopback};
use crate::secret::{IdJag, IdToken};
use crate::token::{self, TokenClient, TokenError};
use serde::Deserialize;

/// RFC 8693 §2.1 `grant_type`.
pub const TOKEN_EXCHANGE_GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// The requested token type of an ID-JAG.
pub const ID_JAG_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:id-jag";
/// RFC 8693 §3: an OpenID Connect ID token as the subject token.
pub const ID_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:id_token";

/// What the exchange asks for.
pub struct IdJagRequest<'a> {
    pub subject_token: &'a IdToken,
    /// The MCP authorization server's issuer.
    pub audience: &'a str,
    /// The MCP server (RFC 8707).
    pub resource: &'a ResourceUri,
    pub scope: Option<&'a str>,
}

/// The IdP's discovery document: only what the exchange needs.
#[derive(Deserialize)]
struct IdpMetadata {
    issuer: String,
    token_endpoint: String,
    #[serde(default)]
    token_endpoint_auth_methods_supported: Vec<String>,
}

/// The IdP's token endpoint and its client authentication methods, from OpenID Connect Discovery 1.0 §4
/// (`<issuer>/.well-known/openid-configuration`; an IdP is an OpenID provider), the issuer compared exactly.
pub async fn discover_token_endpoint(
    http: &reqwest::Client,
    issuer: &str,
) -> Result<(String, Vec<String>), TokenError> {
    let bad = |why: String| TokenError::InvalidResponse(format!("the identity provider {issuer}: {why}"));
    let url = url::Url::parse(&format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/')))
        .map_err(|_| bad("the issuer is not a URL".into()))?;
    if !is_secure_or_loopback(&url) {
        return Err(TokenError::InsecureEndpoint(url.to_string()));
    }
    let exchange = Exchange::new("the identity provider's discovery", &url);
    let response = exchange.send(http.get(url.clone()).header("Accept", "application/json")).await?;
    let status = response.status();
    let bytes = exchange.read(response, MAX_OAUTH_BODY).await?;
    if !status.is_success() {
        return Err(
            HttpError::Status { url: url.to_string(), status: status.as_u16(), body: http::excerpt(&bytes) }.into()
        );
    }
    let doc: IdpMetadata =
        serde_json::from_slice(&bytes).map_err(|e| bad(format!("{url} is not a discovery document: {e}")))?;
    if doc.issuer != issuer {
        return Err(bad(format!("its discovery document names the issuer {:?}", doc.issuer)));
    }
    Ok((doc.token_endpoint, doc.token_endpoint_auth_methods_supported))
}

#[derive(Deserialize)]
struct ExchangeResponse {
    access_token: String,
    #[serde(default)]
    issued_token_type: Option<String>,
}

/// Exchanges the ID token at the IdP's token endpoint, authenticating as the IdP client.
pub async fn exchange(
    http: &reqwest::Client,
    idp_token_endpoint: &str,
    idp_client: &TokenClient<'_>,
    request: IdJagRequest<'_>,
) -> Result<IdJag, TokenError> {
    let mut form = vec![
        ("grant_type", TOKEN_EXCHANGE_GRANT.to_string()),
        ("requested_token_type", ID_JAG_TOKEN_TYPE.to_string()),
        ("audience", request.audience.to_string()),
        ("resource", request.resource.as_str().to_string()),
        ("subject_token", request.subject_token.secret().to_string()),
        ("subject_token_type", ID_TOKEN_TYPE.to_string()),
    ];
    if let Some(scope) = request.scope {
        form.push(("scope", scope.to_string()));
    }
    let bytes = token::send_form("the ID-JAG token exchange", http, idp_token_endpoint, idp_client, form).await?;
    parse_exchange_response(&bytes)
}

/// RFC 8693 §2.2.1: `access_token` holds the issued token; `issued_token_type` must say it is an ID-JAG
/// (`token_type` is `N_A`: it is not an access token, and is never sent to a resource).
pub fn parse_exchange_response(bytes: &[u8]) -> Result<IdJag, TokenError> {
    let parsed: ExchangeResponse = serde_json::from_slice(bytes)
        .map_err(|e| TokenError::InvalidResponse(format!("not a token exchange response: {e}")))?;
    match parsed.issued_token_type.as_deref() {
        Some(ID_JAG_TOKEN_TYPE) => {}
        other => {
            return Err(TokenError::InvalidResponse(format!(
                "the identity provider issued {} instead of an ID-JAG ({ID_JAG_TOKEN_TYPE})",
                other.unwrap_or("a token of no stated type")
            )));
        }
    }
    if parsed.access_token.split('.').count() != 3 {
        return Err(TokenError::InvalidResponse("the issued ID-JAG is not a JWT".into()));
    }
    Ok(IdJag::new(parsed.access_token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_id_jag_is_accepted() {
        let ok = br#"{"access_token":"a.b.c","issued_token_type":"urn:ietf:params:oauth:token-type:id-jag","token_type":"N_A"}"#;
        assert_eq!(parse_exchange_response(ok).unwrap().secret(), "a.b.c");
        let wrong = br#"{"access_token":"a.b.c","issued_token_type":"urn:ietf:params:oauth:token-type:access_token"}"#;
        let err = parse_exchange_response(wrong).unwrap_err().to_string();
        assert!(err.contains("instead of an ID-JAG"), "{err}");
        let opaque = br#"{"access_token":"opaque","issued_token_type":"urn:ietf:params:oauth:token-type:id-jag"}"#;
        assert!(parse_exchange_response(opaque).unwrap_err().to_string().contains("not a JWT"));
    }
}
