//! The authorization request (OAuth 2.1 §4.1.1) and the record kept for it until the redirect comes back.

use super::pkce::{PkceVerifier, random_urlsafe};
use crate::discovery::AuthorizationServerMetadata;
use crate::resource::{Issuer, ResourceUri};
use url::Url;

/// Everything needed to check the redirect and redeem its code. MCP 2026-07-28 §Authorization Response
/// Validation: the validated issuer is recorded with the PKCE verifier and `state` before redirecting.
#[derive(Debug)]
pub struct PendingAuthorization {
    pub state: String,
    pub verifier: PkceVerifier,
    pub issuer: Issuer,
    pub iss_parameter_supported: bool,
    pub redirect_uri: String,
    pub scope: Option<String>,
}

pub struct AuthorizationRequest<'a> {
    pub metadata: &'a AuthorizationServerMetadata,
    pub client_id: &'a str,
    pub redirect_uri: &'a str,
    pub scope: Option<&'a str>,
    /// `None` only when the user opted out for an authorization server that rejects the parameter.
    pub resource: Option<&'a ResourceUri>,
}

impl AuthorizationRequest<'_> {
    /// The URL to open and the record to keep. A new verifier and `state` every time (RFC 7636 §4.1).
    pub fn build(&self) -> Result<(Url, PendingAuthorization), super::AuthorizationError> {
        let mut url = Url::parse(&self.metadata.authorization_endpoint).map_err(|_| {
            super::AuthorizationError::BadAuthorizationEndpoint(self.metadata.authorization_endpoint.clone())
        })?;
        let verifier = PkceVerifier::generate().map_err(super::AuthorizationError::Random)?;
        let state = random_urlsafe(24).map_err(super::AuthorizationError::Random)?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("response_type", "code");
            q.append_pair("client_id", self.client_id);
            q.append_pair("redirect_uri", self.redirect_uri);
            q.append_pair("code_challenge", &verifier.challenge());
            q.append_pair("code_challenge_method", "S256");
            q.append_pair("state", &state);
            // RFC 8707 §2, MCP §Resource Parameter Implementation: always, even if the server ignores it.
            if let Some(resource) = self.resource {
                q.append_pair("resource", resource.as_str());
            }
            if let Some(scope) = self.scope {
                q.append_pair("scope", scope);
            }
        }
        let pending = PendingAuthorization {
            state,
            verifier,
            issuer: Issuer::new(self.metadata.issuer.clone()),
            iss_parameter_supported: self.metadata.authorization_response_iss_parameter_supported,
            redirect_uri: self.redirect_uri.to_string(),
            scope: self.scope.map(str::to_string),
        };
        Ok((url, pending))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_carries_pkce_state_resource_and_scope() {
        let metadata = AuthorizationServerMetadata::default_endpoints("https://as.example");
        let resource = ResourceUri::parse("https://mcp.example/mcp").unwrap();
        let req = AuthorizationRequest {
            metadata: &metadata,
            client_id: "c1",
            redirect_uri: "http://127.0.0.1:5000/callback",
            scope: Some("a b"),
            resource: Some(&resource),
        };
        let (url, pending) = req.build().unwrap();
        let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["code_challenge"], pending.verifier.challenge());
        assert_eq!(q["state"], pending.state);
        assert_eq!(q["resource"], "https://mcp.example/mcp");
        assert_eq!(q["scope"], "a b");
        assert!(!url.as_str().contains(pending.verifier.secret()), "the verifier never leaves the client");
        let (_, again) = req.build().unwrap();
        assert_ne!(again.state, pending.state);
    }
}
