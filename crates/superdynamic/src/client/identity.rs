//! Which client identity to use at the authorization server, in the MCP order, and how it authenticates at
//! the token endpoint.

use super::McpClient;
use super::observer::Event;
use super::options::{ResourceParameter, StaticClient};
use crate::client_auth::ClientAuthentication;
use crate::discovery::{AuthorizationServerMetadata, Discovery};
use crate::error::Error;
use crate::registration::{
    self, ClientRegistration, RegistrationError, RegistrationRequest, RegistrationSource, TokenEndpointAuth,
};
use crate::resource::Issuer;
use crate::token::{TokenClient, now_unix};

impl McpClient {
    /// How this client authenticates at the token endpoint: the stored method, with the secret or key from
    /// the configured pre-registered client when it is the same client.
    pub(super) fn token_client<'a>(
        &self,
        registration: &'a ClientRegistration,
        issuer: &'a Issuer,
    ) -> Result<TokenClient<'a>, Error> {
        let configured = self.options.static_clients.iter().find(|s| s.client_id == registration.client_id);
        let secret = configured.and_then(|s| s.client_secret.clone()).or_else(|| registration.client_secret.clone());
        let missing =
            |what: &'static str| Error::MissingClientCredential { client_id: registration.client_id.clone(), what };
        let auth = match registration.auth_method {
            TokenEndpointAuth::None => ClientAuthentication::None,
            TokenEndpointAuth::ClientSecretBasic => {
                ClientAuthentication::SecretBasic(secret.ok_or_else(|| missing("client secret"))?)
            }
            TokenEndpointAuth::ClientSecretPost => {
                ClientAuthentication::SecretPost(secret.ok_or_else(|| missing("client secret"))?)
            }
            TokenEndpointAuth::PrivateKeyJwt => ClientAuthentication::PrivateKeyJwt(
                configured.and_then(|s| s.private_key.clone()).ok_or_else(|| missing("private key"))?,
            ),
        };
        let send_resource = self.options.resource != ResourceParameter::Omit;
        Ok(TokenClient { client_id: &registration.client_id, auth, issuer: issuer.as_str(), send_resource, dpop: None })
    }

    /// The identity of a pre-registered client, with the token endpoint method the server supports.
    pub(super) fn pre_registered(
        &self,
        s: &StaticClient,
        metadata: &AuthorizationServerMetadata,
    ) -> ClientRegistration {
        let registration = ClientRegistration::pre_registered(
            s.client_id.clone(),
            s.client_secret.clone(),
            s.private_key.is_some(),
            &metadata.auth_methods(),
        );
        self.observe(Event::Registered { registration: &registration, reused: true });
        registration
    }

    /// The pre-registered client for `issuer`: an exact issuer match first, then one configured for any issuer.
    pub(super) fn static_client_for(&self, issuer: &Issuer) -> Result<Option<&StaticClient>, Error> {
        let clients = &self.options.static_clients;
        let found = clients
            .iter()
            .find(|s| s.issuer.as_ref() == Some(issuer))
            .or_else(|| clients.iter().find(|s| s.issuer.is_none()));
        if found.is_none() && self.options.pre_registered_only {
            // MCP 2026-07-28 §Authorization Server Binding: say so rather than use credentials elsewhere.
            let configured: Vec<String> =
                clients.iter().filter_map(|s| s.issuer.as_ref().map(Issuer::to_string)).collect();
            let found = issuer.to_string();
            return Err(RegistrationError::IssuerMismatch { configured: configured.join(", "), found }.into());
        }
        Ok(found)
    }

    /// The client identity, in the MCP order (2025-11-25 §Client Registration Approaches): pre-registered
    /// credentials, a Client ID Metadata Document when the server supports them, a stored registration with this
    /// issuer, then Dynamic Client Registration. A new registration is stored with the tokens it leads to, so an
    /// abandoned sign-in (Ctrl-C, a timeout) leaves the store as it was.
    pub(super) async fn client_identity(
        &self,
        discovery: &Discovery,
        redirect_uri: &str,
        scope: Option<&str>,
        device: bool,
    ) -> Result<ClientRegistration, Error> {
        let metadata = &discovery.authorization_server;
        if let Some(s) = self.static_client_for(&discovery.issuer)? {
            return Ok(self.pre_registered(s, metadata));
        }
        if let Some(url) = &self.options.client_metadata_url
            && metadata.client_id_metadata_document_supported
        {
            registration::validate_metadata_document_url(url)?;
            let registration = ClientRegistration::metadata_document(url);
            self.observe(Event::Registered { registration: &registration, reused: true });
            return Ok(registration);
        }
        let existing = self.stored_for(&discovery.issuer).await?;
        if let Some(reg) = existing.and_then(|r| r.registration)
            && reg.source == RegistrationSource::Dynamic
            && reg.usable_for(redirect_uri, now_unix())
            && (!device || reg.allows_grant(registration::DEVICE_CODE_GRANT))
        {
            self.observe(Event::Registered { registration: &reg, reused: true });
            return Ok(reg);
        }
        let endpoint = metadata.registration_endpoint.as_deref().ok_or(RegistrationError::NotSupported)?;
        let request = RegistrationRequest {
            client_name: &self.options.client_name,
            redirect_uri,
            scope,
            device_grant: device,
            extra_metadata: Some(&self.options.registration_metadata),
        };
        let registration = registration::register(&self.oauth_http, endpoint, &request).await?;
        self.observe(Event::Registered { registration: &registration, reused: false });
        Ok(registration)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::ClientOptions;

    fn client(clients: Vec<StaticClient>, only: bool) -> McpClient {
        let mut options = ClientOptions::new(crate::store::MemoryStore::new());
        options.static_clients = clients;
        options.pre_registered_only = only;
        McpClient::new("https://mcp.example.com/mcp", options).unwrap()
    }

    fn static_client(issuer: Option<&str>, id: &str) -> StaticClient {
        StaticClient { issuer: issuer.map(Issuer::new), client_id: id.into(), client_secret: None, private_key: None }
    }

    #[test]
    fn pre_registered_clients_are_matched_by_exact_issuer() {
        let c = client(vec![static_client(Some("https://a.example"), "a"), static_client(None, "any")], false);
        assert_eq!(c.static_client_for(&Issuer::new("https://a.example")).unwrap().unwrap().client_id, "a");
        assert_eq!(c.static_client_for(&Issuer::new("https://a.example/")).unwrap().unwrap().client_id, "any");
        let c = client(vec![static_client(Some("https://a.example"), "a")], false);
        assert!(c.static_client_for(&Issuer::new("https://b.example")).unwrap().is_none());
    }

    #[test]
    fn credentials_bound_to_another_issuer_are_refused_with_a_reason() {
        let c = client(vec![static_client(Some("https://a.example"), "a")], true);
        let err = c.static_client_for(&Issuer::new("https://b.example")).unwrap_err().to_string();
        assert!(err.contains("is for authorization server https://a.example"), "{err}");
        assert!(err.contains("now uses https://b.example"), "{err}");
    }

    #[test]
    fn a_secret_method_without_a_secret_is_explained() {
        let c = client(vec![], false);
        let mut reg = ClientRegistration::pre_registered("c1".into(), None, false, &[]);
        reg.auth_method = TokenEndpointAuth::ClientSecretBasic;
        let issuer = Issuer::new("https://a.example");
        let err = c.token_client(&reg, &issuer).unwrap_err().to_string();
        assert_eq!(
            err,
            "no client secret is configured for client 'c1'; pass it (for example --client-secret or --private-key)"
        );
    }
}
