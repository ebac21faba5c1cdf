//! Sign-ins without a browser that end in the JWT bearer grant (RFC 7523 §2.1): enterprise-managed authorization
//! (SEP-990: the user's ID token is exchanged at the enterprise IdP for an ID-JAG, which the MCP authorization
//! server redeems) and workload identity federation (the platform's identity token is the assertion). Neither
//! gets a refresh token as a rule, so renewing is doing it again with a fresh ID token or platform token.

use super::McpClient;
use super::observer::Event;
use super::options::Grant;
use crate::assertion_source::AssertionSource;
use crate::client_auth::ClientAuthentication;
use crate::discovery::{AuthorizationServerMetadata, BearerChallenge};
use crate::error::Error;
use crate::id_jag::{self, IdJagRequest};
use crate::jwt_bearer;
use crate::registration::ClientRegistration;
use crate::resource::{Issuer, ResourceUri};
use crate::secret::{Assertion, ClientSecret, IdToken};
use crate::store::CredentialRecord;
use crate::token::{TokenClient, TokenSet};

/// The enterprise identity provider of [`Grant::Enterprise`].
#[derive(Debug, Clone)]
pub struct EnterpriseIdp {
    /// The IdP's issuer; its token endpoint is discovered (OIDC Discovery, then RFC 8414) unless given.
    pub issuer: Option<String>,
    pub token_endpoint: Option<String>,
    /// This client at the IdP (not at the MCP authorization server).
    pub client_id: String,
    pub client_secret: Option<ClientSecret>,
    /// The user's ID token from the IdP, read again on every exchange.
    pub id_token: AssertionSource,
}

impl McpClient {
    /// Discovery, the pre-registered client at the MCP authorization server, then the JWT bearer grant.
    pub(super) async fn authorize_with_assertion(
        &self,
        challenge: Option<&BearerChallenge>,
        step_up: Option<&str>,
    ) -> Result<CredentialRecord, Error> {
        let discovery = self.discover(challenge).await?;
        let Some(s) = self.static_client_for(&discovery.issuer)? else {
            return Err(Error::MissingClientCredential {
                client_id: "(none)".into(),
                what: "pre-registered client at the MCP authorization server (--client-id)",
            });
        };
        let registration = self.pre_registered(s, &discovery.authorization_server);
        // No refresh token comes with an assertion grant: offline_access would only be refused.
        let scope = self.select_scope(&discovery, challenge, step_up).await.and_then(|s| {
            let kept: Vec<&str> = s.split_whitespace().filter(|x| *x != "offline_access").collect();
            (!kept.is_empty()).then(|| kept.join(" "))
        });
        let tokens = self
            .assertion_tokens(
                &discovery.issuer,
                &discovery.authorization_server,
                &discovery.resource,
                &registration,
                scope.as_deref(),
            )
            .await?;
        self.observe(Event::Authorized { tokens: &tokens });
        self.save_sign_in(&discovery, registration, tokens).await
    }

    /// Renewal without a refresh token: the whole grant again, stored compare-and-swap.
    pub(super) async fn renew_with_assertion(
        &self,
        current: &CredentialRecord,
        registration: &ClientRegistration,
        stored: &TokenSet,
    ) -> Result<TokenSet, Error> {
        let fresh = self
            .assertion_tokens(
                &current.issuer,
                &current.authorization_server,
                &current.resource,
                registration,
                stored.scope.as_deref(),
            )
            .await?;
        self.save_tokens(current, Some(fresh.clone())).await?;
        self.observe(Event::Refreshed { tokens: &fresh });
        Ok(fresh)
    }

    /// One JWT bearer grant with the assertion this grant type uses. Never retried: a refused assertion stays
    /// refused (the wif-jwt-bearer conformance scenario checks that a client gives up).
    async fn assertion_tokens(
        &self,
        issuer: &Issuer,
        metadata: &AuthorizationServerMetadata,
        resource: &ResourceUri,
        registration: &ClientRegistration,
        scope: Option<&str>,
    ) -> Result<TokenSet, Error> {
        let assertion = match self.options.grant {
            Grant::Enterprise => self.id_jag(issuer, resource, scope).await?,
            _ => {
                let source = self.options.workload_assertion.as_ref().ok_or(Error::AssertionNotConfigured {
                    what: "workload identity token",
                    fix: "pass --assertion-file PATH or --assertion-env VAR",
                })?;
                source.read("workload identity token")?
            }
        };
        let client = self.token_client(registration, issuer)?;
        jwt_bearer::redeem(&self.oauth_http, &metadata.token_endpoint, &client, &assertion, scope, resource)
            .await
            .map_err(|source| Error::AssertionRefused { issuer: issuer.to_string(), source })
    }

    /// RFC 8693 at the enterprise IdP: the user's ID token for an ID-JAG naming this authorization server.
    async fn id_jag(&self, issuer: &Issuer, resource: &ResourceUri, scope: Option<&str>) -> Result<Assertion, Error> {
        let idp = self.options.enterprise.as_ref().ok_or(Error::AssertionNotConfigured {
            what: "enterprise identity provider",
            fix: "pass --idp-issuer, --idp-client-id and --id-token-file (or an idp entry in clients.json)",
        })?;
        let id_token = IdToken::new(idp.id_token.read("ID token")?.secret());
        let (endpoint, methods) = match (&idp.token_endpoint, &idp.issuer) {
            (Some(endpoint), _) => (endpoint.clone(), Vec::new()),
            (None, Some(idp_issuer)) => id_jag::discover_token_endpoint(&self.oauth_http, idp_issuer)
                .await
                .map_err(|source| Error::IdentityProvider { idp: idp_issuer.clone(), source })?,
            (None, None) => {
                return Err(Error::AssertionNotConfigured {
                    what: "identity provider token endpoint",
                    fix: "pass --idp-issuer (discovered) or --idp-token-endpoint",
                });
            }
        };
        let offers = |m: &str| methods.iter().any(|x| x == m);
        let auth = match &idp.client_secret {
            None => ClientAuthentication::None,
            Some(secret) if offers("client_secret_post") && !offers("client_secret_basic") => {
                ClientAuthentication::SecretPost(secret.clone())
            }
            Some(secret) => ClientAuthentication::SecretBasic(secret.clone()),
        };
        let idp_name = idp.issuer.clone().unwrap_or_else(|| endpoint.clone());
        let client =
            TokenClient { client_id: &idp.client_id, auth, issuer: &idp_name, send_resource: true, dpop: None };
        let request = IdJagRequest { subject_token: &id_token, audience: issuer.as_str(), resource, scope };
        let jag = id_jag::exchange(&self.oauth_http, &endpoint, &client, request)
            .await
            .map_err(|source| Error::IdentityProvider { idp: idp_name.clone(), source })?;
        Ok(Assertion::new(jag.secret()))
    }
}
