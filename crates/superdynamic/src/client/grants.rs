//! The grants that end a sign-in with tokens: the authorization code with PKCE through the loopback redirect
//! (OAuth 2.1 §4.1), the device authorization grant (RFC 8628) and client credentials (OAuth 2.1 §4.2).

use super::McpClient;
use super::loopback::stable_port;
use super::observer::Event;
use super::options::ResourceParameter;
use crate::authorization::{self, AuthorizationError, AuthorizationMode, AuthorizationRequest, CallbackError};
use crate::discovery::{BearerChallenge, Discovery};
use crate::error::Error;
use crate::registration::RegistrationSource;
use crate::store::CredentialRecord;
use crate::token;
use url::Url;

impl McpClient {
    /// The authorization code grant with PKCE (OAuth 2.1 §4.1) through the loopback redirect.
    pub(super) async fn authorize_code(
        &self,
        discovery: &Discovery,
        challenge: Option<&BearerChallenge>,
        step_up: Option<&str>,
    ) -> Result<CredentialRecord, Error> {
        let listener = self.bind_listener().await?;
        let redirect_uri = listener.redirect_uri().to_string();
        let scope = self.select_scope(discovery, challenge, step_up).await;
        let stored = self.stored_for(&discovery.issuer).await?;
        let registration = self.client_identity(discovery, &redirect_uri, None, false).await?;
        let reused = registration.source == RegistrationSource::Dynamic
            && stored.as_ref().and_then(|r| r.registration.as_ref()).map(|r| &r.client_id)
                == Some(&registration.client_id);
        let (url, pending) = AuthorizationRequest {
            metadata: &discovery.authorization_server,
            client_id: &registration.client_id,
            redirect_uri: &redirect_uri,
            scope: scope.as_deref(),
            resource: (self.options.resource != ResourceParameter::Omit).then_some(&discovery.resource),
        }
        .build()?;
        let mode = self.options.authorization_mode;
        // A reused registration may have been forgotten by the server (a reset database, an expired client): an
        // error page instead of a sign-in page or a redirect says so before the user is sent there.
        if reused && mode != AuthorizationMode::Fetch && self.refused_outright(&url).await {
            return Err(self.registration_rejected(stored.as_ref(), &registration).await?);
        }
        self.observe(Event::AuthorizationUrl { url: &url, mode });
        self.observe(Event::WaitingForCallback { redirect_uri: &redirect_uri, timeout: self.options.auth_timeout });
        let code = {
            let wait = listener.wait(&pending);
            tokio::pin!(wait);
            let callback = async {
                match mode {
                    AuthorizationMode::Browser => {
                        if let Err(e) = authorization::browser::open(&url) {
                            tracing::warn!("{e}");
                        }
                        (&mut wait).await.map_err(AuthorizationError::from)
                    }
                    AuthorizationMode::PrintUrl if self.options.paste_redirect => {
                        let stdin = tokio::io::BufReader::new(tokio::io::stdin());
                        let rejected =
                            |e: &CallbackError| self.observe(Event::PasteRejected { reason: &e.to_string() });
                        tokio::select! {
                            result = &mut wait => result.map_err(AuthorizationError::from),
                            pasted = authorization::paste::read_pasted(stdin, &pending, rejected) => {
                                pasted.map_err(AuthorizationError::from)
                            }
                        }
                    }
                    AuthorizationMode::PrintUrl | AuthorizationMode::Device => {
                        (&mut wait).await.map_err(AuthorizationError::from)
                    }
                    AuthorizationMode::Fetch => {
                        tokio::select! {
                            result = &mut wait => result.map_err(AuthorizationError::from),
                            fetched = authorization::follow_redirects(&self.fetch_http, &self.network, &url, &redirect_uri) => {
                                fetched?;
                                (&mut wait).await.map_err(AuthorizationError::from)
                            }
                        }
                    }
                }
            };
            match tokio::time::timeout(self.options.auth_timeout, callback).await {
                Err(_) => return Err(AuthorizationError::TimedOut(self.options.auth_timeout.as_secs()).into()),
                Ok(Err(AuthorizationError::NeedsUser { status: 400 | 401 })) if reused => {
                    return Err(self.registration_rejected(stored.as_ref(), &registration).await?);
                }
                Ok(result) => result?,
            }
        };
        let scope_for_record = pending.scope.clone();
        let mut client = self.token_client(&registration, &discovery.issuer)?;
        client.dpop =
            self.sign_in_prover(&discovery.authorization_server, stored.as_ref().and_then(|r| r.tokens.as_ref()))?;
        let exchanged = token::exchange_code(
            &self.oauth_http,
            &discovery.authorization_server.token_endpoint,
            &client,
            token::CodeExchange {
                code,
                verifier: pending.verifier,
                redirect_uri: &redirect_uri,
                resource: &discovery.resource,
                requested_scope: scope_for_record.as_deref(),
            },
        )
        .await;
        let tokens = match exchanged {
            Err(e) if reused && e.oauth_code() == Some("invalid_client") => {
                return Err(self.registration_rejected(stored.as_ref(), &registration).await?);
            }
            other => other?,
        };
        self.observe(Event::Authorized { tokens: &tokens });
        self.save_sign_in(discovery, registration, tokens).await
    }

    /// GET the authorization URL without following it: does the server refuse it with 400 or 401?
    async fn refused_outright(&self, url: &Url) -> bool {
        match self.fetch_http.get(url.clone()).send().await {
            Ok(response) => matches!(response.status().as_u16(), 400 | 401),
            Err(_) => false,
        }
    }

    /// The device authorization grant (RFC 8628): a code to enter on any device, then polling.
    pub(super) async fn authorize_device(
        &self,
        discovery: &Discovery,
        challenge: Option<&BearerChallenge>,
        step_up: Option<&str>,
    ) -> Result<CredentialRecord, Error> {
        let metadata = &discovery.authorization_server;
        let endpoint = metadata
            .device_authorization_endpoint
            .as_deref()
            .ok_or_else(|| Error::DeviceFlowUnsupported { issuer: discovery.issuer.to_string() })?;
        // The registration also lists the loopback redirect URI, so the same client can use the browser later.
        let redirect_uri = format!("http://127.0.0.1:{}/callback", stable_port(&self.options.profile, &self.server));
        let registration = self.client_identity(discovery, &redirect_uri, None, true).await?;
        let scope = self.select_scope(discovery, challenge, step_up).await;
        let mut client = self.token_client(&registration, &discovery.issuer)?;
        let stored = self.stored_for(&discovery.issuer).await?;
        client.dpop = self.sign_in_prover(metadata, stored.as_ref().and_then(|r| r.tokens.as_ref()))?;
        let device =
            token::device_authorization(&self.oauth_http, endpoint, &client, scope.as_deref(), &discovery.resource)
                .await?;
        self.observe(Event::DeviceCode {
            user_code: &device.user_code,
            verification_uri: &device.verification_uri,
            verification_uri_complete: device.verification_uri_complete.as_deref(),
            expires_in: device.expires_in,
        });
        let poll = authorization::device::poll(
            &self.oauth_http,
            &metadata.token_endpoint,
            &client,
            &device,
            &discovery.resource,
            scope.as_deref(),
        );
        let tokens = tokio::time::timeout(self.options.auth_timeout, poll)
            .await
            .map_err(|_| AuthorizationError::TimedOut(self.options.auth_timeout.as_secs()))??;
        self.observe(Event::Authorized { tokens: &tokens });
        self.save_sign_in(discovery, registration, tokens).await
    }

    /// Machine-to-machine sign-in: discovery, the pre-registered client, and the client credentials grant
    /// (MCP extension io.modelcontextprotocol/oauth-client-credentials). No browser, no user.
    pub(super) async fn authorize_client_credentials(
        &self,
        challenge: Option<&BearerChallenge>,
        step_up: Option<&str>,
    ) -> Result<CredentialRecord, Error> {
        let discovery = self.discover(challenge).await?;
        let metadata = &discovery.authorization_server;
        let Some(s) = self.static_client_for(&discovery.issuer)? else {
            return Err(Error::MissingClientCredential { client_id: "(none)".into(), what: "pre-registered client" });
        };
        let registration = self.pre_registered(s, metadata);
        let scope = self.select_scope(&discovery, challenge, step_up).await;
        let mut client = self.token_client(&registration, &discovery.issuer)?;
        let stored = self.stored_for(&discovery.issuer).await?;
        client.dpop = self.sign_in_prover(metadata, stored.as_ref().and_then(|r| r.tokens.as_ref()))?;
        let tokens = token::client_credentials(
            &self.oauth_http,
            &metadata.token_endpoint,
            &client,
            scope.as_deref(),
            &discovery.resource,
        )
        .await?;
        self.observe(Event::Authorized { tokens: &tokens });
        self.save_sign_in(&discovery, registration, tokens).await
    }
}
