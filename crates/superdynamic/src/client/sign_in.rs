//! Signing in: the unauthenticated probe, discovery, and the sign-in itself under a lock per server, so a
//! second process waits for the first one's result instead of opening a second browser tab.

use super::McpClient;
use super::observer::Event;
use super::options::{Grant, ResourceParameter};
use super::scope::covers;
use crate::authorization::{AuthorizationError, AuthorizationMode};
use crate::discovery::{self, BearerChallenge, Discovery, DiscoveryError};
use crate::error::Error;
use crate::http;
use crate::registration::ClientRegistration;
use crate::store::{self, CredentialRecord, Expected};
use crate::token::now_unix;
use crate::transport::TransportError;
use serde_json::json;
use std::time::{Duration, Instant};

/// The result of [`McpClient::login`].
#[derive(Debug)]
pub enum LoginOutcome {
    SignedIn(Box<CredentialRecord>),
    /// The server answered without asking for authorization.
    NotRequired,
}

impl McpClient {
    /// Signs in now, whatever is stored: probe, discovery, registration, authorization, token.
    pub async fn login(&self) -> Result<LoginOutcome, Error> {
        match self.probe().await? {
            None => Ok(LoginOutcome::NotRequired),
            Some(challenge) => {
                let record = self.authorize(challenge.as_ref(), None).await?;
                Ok(LoginOutcome::SignedIn(Box::new(record)))
            }
        }
    }

    /// Discovery and registration only (no sign-in). Returns the registration in use.
    pub async fn register(&self) -> Result<Option<ClientRegistration>, Error> {
        let Some(challenge) = self.probe().await? else {
            return Ok(None);
        };
        let discovery = self.discover(challenge.as_ref()).await?;
        let listener = self.bind_listener().await?;
        let device = self.options.authorization_mode == AuthorizationMode::Device;
        let registration = self.client_identity(&discovery, listener.redirect_uri(), None, device).await?;
        let existing = self.stored_for(&discovery.issuer).await?;
        let existing_tokens = existing.as_ref().and_then(|r| r.tokens.clone());
        let record = CredentialRecord {
            profile: self.options.profile.clone(),
            server: self.server.clone(),
            issuer: discovery.issuer.clone(),
            resource: discovery.resource.clone(),
            authorization_server: discovery.authorization_server.clone(),
            registration: Some(registration.clone()),
            tokens: existing_tokens,
            updated_at: now_unix(),
            revision: 0,
        };
        self.options.store.save(record, Expected::Any).await?;
        Ok(Some(registration))
    }

    /// Where this server's credentials are bound: the probe's challenge, then discovery (protected resource
    /// metadata, the authorization server's metadata and its issuer). For stores used by another SDK's own
    /// OAuth flow (`crate::rmcp`), which need the issuer before any sign-in.
    #[cfg_attr(not(feature = "rmcp"), allow(dead_code))]
    pub(crate) async fn discover_binding(&self) -> Result<Discovery, Error> {
        match self.probe().await? {
            None => Err(Error::AuthorizationNotRequired { server: self.server.to_string() }),
            Some(challenge) => self.discover(challenge.as_ref()).await,
        }
    }

    /// An unauthenticated `initialize` POST, to learn whether and how the server wants authorization.
    pub(super) async fn probe(&self) -> Result<Option<Option<BearerChallenge>>, Error> {
        let body = json!({
            "jsonrpc": "2.0", "id": 0, "method": "initialize",
            "params": {
                "protocolVersion": crate::transport::LATEST_PROTOCOL_VERSION,
                "capabilities": {},
                "clientInfo": { "name": self.options.client_name, "version": env!("CARGO_PKG_VERSION") }
            }
        });
        let response = self
            .http
            .post(self.server.url().clone())
            .headers(self.options.headers.clone())
            .header("Accept", "application/json, text/event-stream")
            .json(&body)
            .send()
            .await
            .map_err(|source| TransportError::Connect { url: self.server.to_string(), source })?;
        let status = response.status().as_u16();
        let challenges: Vec<String> = response
            .headers()
            .get_all(reqwest::header::WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_string))
            .collect();
        match status {
            401 | 403 => {
                let challenge = BearerChallenge::from_headers(&challenges);
                self.observe(Event::Challenge { status, challenge: challenge.as_ref() });
                Ok(Some(challenge))
            }
            200..=299 => Ok(None),
            _ => {
                let body = http::read_limited(self.server.url(), response, 4096).await.unwrap_or_default();
                Err(TransportError::HttpStatus { status, body: http::excerpt(&body) }.into())
            }
        }
    }

    pub(super) async fn discover(&self, challenge: Option<&BearerChallenge>) -> Result<Discovery, Error> {
        let cached = self.discovered.lock().ok().and_then(|d| d.clone());
        if let Some(discovery) = cached {
            return Ok(discovery);
        }
        let found = discovery::discover_within(
            &self.oauth_http,
            &self.server,
            challenge,
            self.options.discovery_policy,
            &self.network,
            self.options.oauth_timeouts.discovery,
        )
        .await;
        let mut discovery = match found {
            Ok(discovery) => discovery,
            Err(e) => {
                if let Ok(mut slot) = self.discovery_failure.lock() {
                    *slot = Some((Instant::now(), e.clone()));
                }
                return Err(e.into());
            }
        };
        if let ResourceParameter::Override(resource) = &self.options.resource {
            discovery.resource = resource.clone();
        }
        self.observe(Event::Discovered { discovery: &discovery });
        if let Ok(mut slot) = self.discovered.lock() {
            *slot = Some(discovery.clone());
        }
        Ok(discovery)
    }

    /// How discovery failed in this process after `since`, if it did.
    fn discovery_failed_since(&self, since: Instant) -> Option<DiscoveryError> {
        let slot = self.discovery_failure.lock().ok()?;
        slot.as_ref().filter(|(at, _)| *at >= since).map(|(_, e)| e.clone())
    }

    /// The sign-in: discovery, client identity, authorization code with PKCE, token. Stores and returns the record.
    pub(super) async fn authorize(
        &self,
        challenge: Option<&BearerChallenge>,
        step_up: Option<&str>,
    ) -> Result<CredentialRecord, Error> {
        if self.options.grant == Grant::ClientCredentials {
            return self.authorize_client_credentials(challenge, step_up).await;
        }
        if self.options.grant.uses_assertion() {
            return self.authorize_with_assertion(challenge, step_up).await;
        }
        if !self.options.interactive {
            let reason = if step_up.is_some() { "more scope is needed" } else { "no valid token" };
            return Err(Error::SignInRequired { server: self.server.to_string(), reason: reason.into() });
        }
        // One sign-in per server at a time: a second process waits for the first one's result instead of
        // opening a second browser tab.
        let lock_name = store::sign_in_lock_name(&self.options.profile, &self.server);
        let store = &self.options.store;
        let _sign_in = match store.try_lock(&lock_name).await? {
            Some(lock) => lock,
            None => {
                let started = now_unix();
                let waiting_since = Instant::now();
                self.observe(Event::WaitingForOtherSignIn { server: &self.server });
                let wait = self.options.auth_timeout + Duration::from_secs(30);
                let lock = store.lock(&lock_name, wait).await?;
                // The sign-in waited for failed at discovery (this process): the same answer, not a second wait.
                if let Some(failure) = self.discovery_failed_since(waiting_since) {
                    return Err(failure.into());
                }
                if let Some(record) = self.credentials().await?
                    && record.updated_at >= started
                    && record.tokens.as_ref().is_some_and(|t| covers(t, step_up))
                {
                    return Ok(record);
                }
                lock
            }
        };
        let discovery = self.discover(challenge).await?;
        if self.options.authorization_mode == AuthorizationMode::Device {
            return self.authorize_device(&discovery, challenge, step_up).await;
        }
        match self.authorize_code(&discovery, challenge, step_up).await {
            // A stored registration the server has forgotten: it was discarded, so this registers anew, once.
            Err(Error::Authorization(AuthorizationError::RegistrationRejected)) => {
                self.authorize_code(&discovery, challenge, step_up).await
            }
            other => other,
        }
    }
}
