//! The whole flow for one MCP server: use stored credentials, refresh them before they expire, and on a 401 or
//! a 403 `insufficient_scope` run discovery, registration and authorization, then retry the request.

use crate::authorization::{
    self, AuthorizationError, AuthorizationMode, AuthorizationRequest, CallbackError, CallbackListener,
};
use crate::client_auth::{ClientAuthentication, ClientKey};
use crate::discovery::{self, AuthorizationServerMetadata, BearerChallenge, Discovery, DiscoveryPolicy};
use crate::error::Error;
use crate::http;
use crate::registration::{
    self, ClientRegistration, RegistrationError, RegistrationRequest, RegistrationSource, TokenEndpointAuth,
};
use crate::resource::{Issuer, ResourceUri};
use crate::secret::{AccessToken, ClientSecret};
use crate::ssrf::{AddressClassifier, NetworkGuard};
use crate::store::{self, CredentialRecord, CredentialStore, DEFAULT_PROFILE, Expected, Saved};
use crate::token::{self, TokenClient, TokenSet, now_unix};
use crate::transport::{
    Generation, ServerMessageHandler, ServerStream, StreamableHttp, TransportError, TransportOptions,
};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// Sign-ins for more scope allowed within one operation (MCP 2025-11-25 §Step-Up Authorization Flow: retry limits).
const MAX_STEP_UPS: u32 = 2;
/// How long a refresh waits for another process's refresh of the same credential.
const REFRESH_LOCK_WAIT: Duration = Duration::from_secs(30);

/// Something worth telling the user while the flow runs. The CLI narrates these; a library user may log them.
#[derive(Debug)]
pub enum Event<'a> {
    /// The MCP server asked for authorization.
    Challenge {
        status: u16,
        challenge: Option<&'a BearerChallenge>,
    },
    Discovered {
        discovery: &'a Discovery,
    },
    Registered {
        registration: &'a ClientRegistration,
        reused: bool,
    },
    /// The URL the user must open (printed in `PrintUrl` mode, shown as a fallback otherwise).
    AuthorizationUrl {
        url: &'a Url,
        mode: AuthorizationMode,
    },
    WaitingForCallback {
        redirect_uri: &'a str,
        timeout: Duration,
    },
    Authorized {
        tokens: &'a TokenSet,
    },
    Refreshed {
        tokens: &'a TokenSet,
    },
    StepUp {
        scope: &'a str,
    },
    /// Device flow (RFC 8628): the code the user enters at the verification URI.
    DeviceCode {
        user_code: &'a str,
        verification_uri: &'a str,
        verification_uri_complete: Option<&'a str>,
        expires_in: u64,
    },
    /// The authorization server no longer accepts this registration; it was forgotten and a new one follows.
    RegistrationDiscarded {
        client_id: &'a str,
    },
    /// A pasted redirect was for another sign-in; waiting for the right one.
    PasteRejected {
        reason: &'a str,
    },
    /// Another process is signing in to this server; this one waits for its result.
    WaitingForOtherSignIn {
        server: &'a ResourceUri,
    },
}

pub trait Observer: Send + Sync {
    fn event(&self, event: &Event<'_>);
}

/// An observer that logs events at debug level.
pub struct TracingObserver;

impl Observer for TracingObserver {
    fn event(&self, event: &Event<'_>) {
        tracing::debug!(?event, "superdynamic");
    }
}

/// Pre-registered client credentials (MCP §Client Registration: pre-registration comes first).
#[derive(Debug, Clone)]
pub struct StaticClient {
    /// The authorization server these credentials belong to; `None` for whichever the server names.
    pub issuer: Option<Issuer>,
    pub client_id: String,
    pub client_secret: Option<ClientSecret>,
    /// For `private_key_jwt` (RFC 7523).
    pub private_key: Option<ClientKey>,
}

/// How tokens are obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    /// A user signs in (OAuth 2.1 §4.1, with PKCE).
    AuthorizationCode,
    /// A machine client authenticates as itself (OAuth 2.1 §4.2): needs a pre-registered client.
    ClientCredentials,
}

#[derive(Clone)]
pub struct ClientOptions {
    pub profile: String,
    pub store: Arc<dyn CredentialStore>,
    pub authorization_mode: AuthorizationMode,
    /// May this client start a sign-in when one is needed? When false, such a need is an error.
    pub interactive: bool,
    pub client_name: String,
    pub grant: Grant,
    /// Pre-registered clients, matched by issuer (an entry without issuer matches any).
    pub static_clients: Vec<StaticClient>,
    /// Fail rather than register when no pre-registered client matches the server's issuer.
    pub pre_registered_only: bool,
    /// A Client ID Metadata Document URL, used when the authorization server supports them.
    pub client_metadata_url: Option<String>,
    pub discovery_policy: DiscoveryPolicy,
    /// Overrides the scope selection of the MCP specification.
    pub scope: Option<String>,
    /// Fixed loopback port for the redirect; `None` derives a stable one from the server URL.
    pub callback_port: Option<u16>,
    /// The redirect URI to register and send, when the browser reaches the listener through another address
    /// (port forwarding). The listener still binds 127.0.0.1 (`callback_port`, else this URI's port).
    pub redirect_uri: Option<Url>,
    /// In `PrintUrl` mode, also accept the redirect URL (or code) pasted on standard input.
    pub paste_redirect: bool,
    pub request_timeout: Duration,
    /// How long to wait for the user to finish signing in.
    pub auth_timeout: Duration,
    pub observer: Arc<dyn Observer>,
    /// Answers what the server asks of the client (elicitation, sampling …) and receives its notifications.
    pub handler: Option<Arc<dyn ServerMessageHandler>>,
    /// Force an MCP protocol generation; `None` negotiates (and remembers the result in the store).
    pub generation: Option<Generation>,
    /// Extra headers for every request to the MCP server (never to the authorization server, never replacing a
    /// protocol header). For gateways that want an API key besides the OAuth token.
    pub headers: reqwest::header::HeaderMap,
    /// The RFC 8707 `resource` parameter of authorization and token requests.
    pub resource: ResourceParameter,
    /// Initialize-generation sessions: when to open the GET stream for server messages outside a response
    /// (default: right after `initialize`; a one-shot program can wait for its first call).
    pub server_stream: ServerStream,
    /// Let a public MCP server's discovery reach private, loopback and link-local addresses (never the cloud
    /// metadata service). Off by default: see [`crate::ssrf`]. For private deployments you trust.
    pub allow_private_network: bool,
    /// Replaces the address classifier of the network policy. For tests that play public and private networks
    /// on loopback addresses; `None` (the default) classifies addresses as they are.
    pub address_classifier: Option<AddressClassifier>,
}

/// What to send as the RFC 8707 `resource` parameter (MCP §Resource Parameter Implementation).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ResourceParameter {
    /// The resource the protected resource metadata names (the MCP server's canonical URI). The default.
    #[default]
    Discovered,
    /// This value instead, for servers whose authorization server expects another audience.
    Override(ResourceUri),
    /// No `resource` parameter at all, for authorization servers that reject it (non-compliant, but common).
    Omit,
}

impl ClientOptions {
    /// Options with defaults, keeping credentials in `store` (a [`crate::store::FileStore`], a
    /// [`crate::store::MemoryStore`], or any [`CredentialStore`]).
    pub fn new(store: impl CredentialStore + 'static) -> Self {
        Self {
            profile: DEFAULT_PROFILE.to_string(),
            store: Arc::new(store),
            authorization_mode: AuthorizationMode::Browser,
            interactive: true,
            client_name: "superdynamic".to_string(),
            grant: Grant::AuthorizationCode,
            static_clients: Vec::new(),
            pre_registered_only: false,
            client_metadata_url: None,
            discovery_policy: DiscoveryPolicy::default(),
            scope: None,
            callback_port: None,
            redirect_uri: None,
            paste_redirect: false,
            request_timeout: Duration::from_secs(60),
            auth_timeout: Duration::from_secs(300),
            observer: Arc::new(TracingObserver),
            handler: None,
            generation: None,
            headers: reqwest::header::HeaderMap::new(),
            resource: ResourceParameter::Discovered,
            server_stream: ServerStream::Always,
            allow_private_network: false,
            address_classifier: None,
        }
    }
}

/// The result of [`McpClient::logout`].
#[derive(Debug, Default)]
pub struct LogoutOutcome {
    /// Whether any local credentials existed.
    pub removed: bool,
    /// Token types revoked at the authorization server.
    pub revoked: Vec<&'static str>,
    /// Revocations that failed (the local credentials were deleted anyway).
    pub revocation_errors: Vec<String>,
}

/// The result of [`McpClient::login`].
#[derive(Debug)]
pub enum LoginOutcome {
    SignedIn(Box<CredentialRecord>),
    /// The server answered without asking for authorization.
    NotRequired,
}

/// A client for one MCP server.
pub struct McpClient {
    server: ResourceUri,
    options: ClientOptions,
    http: reqwest::Client,
    fetch_http: reqwest::Client,
    transport: StreamableHttp,
    /// Where OAuth traffic may go (SSRF policy), for discovery's pre-checks of IP literals.
    network: Arc<NetworkGuard>,
    /// Single-flight refresh within this process: concurrent callers wait for one refresh.
    refresh_lock: tokio::sync::Mutex<()>,
    /// Discovery done by this client, reused by a later sign-in (step-up) in the same process.
    discovered: std::sync::Mutex<Option<Discovery>>,
    /// The generation the store holds for this server, to write it back only when it changed.
    remembered: std::sync::Mutex<Option<Generation>>,
    /// Set once the store's remembered generation was handed to the transport.
    recalled: tokio::sync::OnceCell<()>,
}

impl McpClient {
    pub fn new(server_url: &str, options: ClientOptions) -> Result<Self, Error> {
        let server = ResourceUri::parse(server_url)?;
        let remembered = options.generation;
        let network = NetworkGuard::new(server.url(), options.allow_private_network, options.address_classifier);
        let http =
            http::guarded_client(options.request_timeout, network.clone()).map_err(|e| Error::Token(e.into()))?;
        let fetch_http = http::guarded_no_redirect_client(options.request_timeout, network.clone())
            .map_err(|e| Error::Token(e.into()))?;
        let transport = StreamableHttp::new(
            http.clone(),
            server.url().clone(),
            TransportOptions {
                client_name: options.client_name.clone(),
                request_timeout: options.request_timeout,
                generation_hint: remembered,
                extra_headers: options.headers.clone(),
                server_stream: options.server_stream,
                ..TransportOptions::default()
            },
        );
        if let Some(handler) = &options.handler {
            transport.set_handler(handler.clone());
        }
        Ok(Self {
            server,
            options,
            http,
            fetch_http,
            transport,
            network,
            refresh_lock: tokio::sync::Mutex::new(()),
            discovered: std::sync::Mutex::new(None),
            remembered: std::sync::Mutex::new(remembered),
            recalled: tokio::sync::OnceCell::new(),
        })
    }

    pub fn server(&self) -> &ResourceUri {
        &self.server
    }

    pub fn transport(&self) -> &StreamableHttp {
        &self.transport
    }

    /// The stored record for this server, if any.
    pub async fn credentials(&self) -> Result<Option<CredentialRecord>, Error> {
        Ok(store::current(self.options.store.load(&self.options.profile, &self.server).await?))
    }

    /// The stored record for this server at `issuer`, if any.
    async fn stored_for(&self, issuer: &Issuer) -> Result<Option<CredentialRecord>, Error> {
        let records = self.options.store.load(&self.options.profile, &self.server).await?;
        Ok(records.into_iter().find(|r| r.issuer == *issuer))
    }

    /// Hands the generation the store remembers for this server to the transport, once, before the first
    /// request (MCP 2026-07-28 §Versioning). A store that cannot say costs only a probe.
    async fn recall_generation(&self) {
        self.recalled
            .get_or_init(|| async {
                if self.options.generation.is_some() {
                    return;
                }
                match self.options.store.generation(&self.server).await {
                    Ok(Some(generation)) => {
                        self.transport.assume_generation(generation);
                        if let Ok(mut remembered) = self.remembered.lock() {
                            *remembered = Some(generation);
                        }
                    }
                    Ok(None) => {}
                    Err(e) => tracing::debug!(error = %e, "could not read the remembered protocol generation"),
                }
            })
            .await;
    }

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

    /// Every tool, following `nextCursor` to the end (MCP pagination). Tools are returned as sent.
    pub async fn list_tools(&self) -> Result<Vec<Value>, Error> {
        let mut tools = Vec::new();
        let mut cursor: Option<String> = None;
        // A hostile server could page forever; 1000 pages is far beyond any real tool list.
        for _ in 0..1000 {
            let params = cursor.as_ref().map(|c| json!({ "cursor": c }));
            let result = self.request("tools/list", params).await?;
            if let Some(page) = result.get("tools").and_then(Value::as_array) {
                tools.extend(page.iter().cloned());
            }
            match result.get("nextCursor").and_then(Value::as_str) {
                Some(next) => cursor = Some(next.to_string()),
                None => return Ok(tools),
            }
        }
        Err(TransportError::Protocol("tools/list returned more than 1000 pages".into()).into())
    }

    /// Calls a tool; the result (`content`, `structuredContent`, `isError`, …) is returned exactly as sent.
    pub async fn call_tool(&self, name: &str, arguments: Value) -> Result<Value, Error> {
        self.request("tools/call", Some(json!({ "name": name, "arguments": arguments }))).await
    }

    /// Refreshes the stored tokens now.
    pub async fn refresh(&self) -> Result<TokenSet, Error> {
        let record = self.credentials().await?.ok_or_else(|| self.not_signed_in())?;
        let tokens = record.tokens.clone().ok_or_else(|| self.not_signed_in())?;
        self.refresh_record(&record, &tokens).await
    }

    /// Signs out: revokes the refresh and access tokens at the authorization server when it offers
    /// `revocation_endpoint` (RFC 7009), then deletes the local credentials (keeping the client registration
    /// when `keep_registration`). A failed revocation is reported, and the local credentials go anyway.
    pub async fn logout(&self, keep_registration: bool) -> Result<LogoutOutcome, Error> {
        let records = self.options.store.load(&self.options.profile, &self.server).await?;
        let mut outcome = LogoutOutcome { removed: !records.is_empty(), ..LogoutOutcome::default() };
        for record in &records {
            let (Some(tokens), Some(registration), Some(endpoint)) =
                (&record.tokens, &record.registration, &record.authorization_server.revocation_endpoint)
            else {
                continue;
            };
            let client = self.token_client(registration, &record.issuer)?;
            // The refresh token first: revoking it also ends the grant its access tokens came from (RFC 7009 §2.1).
            let mut pending: Vec<(&str, &str)> = Vec::new();
            if let Some(rt) = &tokens.refresh_token {
                pending.push((rt.secret(), "refresh_token"));
            }
            pending.push((tokens.access_token.secret(), "access_token"));
            for (token, hint) in pending {
                match token::revoke(&self.http, endpoint, &client, token, hint).await {
                    Ok(()) => outcome.revoked.push(hint),
                    Err(e) => outcome.revocation_errors.push(format!("{hint}: {e}")),
                }
            }
        }
        for record in records {
            if keep_registration {
                let revision = record.revision;
                let signed_out = CredentialRecord { tokens: None, updated_at: now_unix(), ..record };
                self.options.store.save(signed_out, Expected::Revision(revision)).await?;
            } else {
                self.options.store.delete(&record.key(), Expected::Any).await?;
            }
        }
        Ok(outcome)
    }

    /// Sends a JSON-RPC notification with the stored (refreshed if due) token. No sign-in: a notification that
    /// meets a 401 is reported, not retried.
    pub async fn notify(&self, method: &str, params: Option<Value>) -> Result<(), Error> {
        self.recall_generation().await;
        let token = self.usable_token().await?;
        Ok(self.transport.notify(method, params, token.as_ref()).await?)
    }

    /// Ends the MCP session, if one is open.
    pub async fn close(&self) {
        let token = self.stored_token().await.ok().flatten();
        if let Err(e) = self.transport.close(token.as_ref()).await {
            tracing::debug!(error = %e, "closing the MCP session failed");
        }
    }

    /// One JSON-RPC request with the authorization loop around it: proactive refresh, one refresh on 401,
    /// sign-in on 401 when no refresh helps, step-up on 403 `insufficient_scope`.
    pub async fn request(&self, method: &str, params: Option<Value>) -> Result<Value, Error> {
        let mut refreshed = false;
        let mut signed_in = false;
        let mut step_ups = 0;
        self.recall_generation().await;
        loop {
            let token = self.usable_token().await?;
            let error = match self.transport.request(method, params.clone(), token.as_ref()).await {
                Ok(result) => {
                    self.remember_generation().await;
                    return Ok(result);
                }
                Err(e) => e,
            };
            match error {
                TransportError::Unauthorized { www_authenticate } => {
                    let challenge = BearerChallenge::from_headers(&www_authenticate);
                    self.observe(Event::Challenge { status: 401, challenge: challenge.as_ref() });
                    if token.is_some() && !refreshed {
                        refreshed = true;
                        if self.try_refresh_after_401(token.as_ref()).await? {
                            continue;
                        }
                    }
                    if signed_in {
                        return Err(Error::StillUnauthorized { server: self.server.to_string() });
                    }
                    signed_in = true;
                    self.authorize(challenge.as_ref(), None).await?;
                }
                TransportError::Forbidden { www_authenticate } => {
                    let challenge = BearerChallenge::from_headers(&www_authenticate);
                    self.observe(Event::Challenge { status: 403, challenge: challenge.as_ref() });
                    let Some(challenge) = challenge.filter(BearerChallenge::is_insufficient_scope) else {
                        return Err(TransportError::Forbidden { www_authenticate }.into());
                    };
                    let wanted = challenge.scope.clone().unwrap_or_default();
                    if step_ups >= MAX_STEP_UPS {
                        return Err(Error::StepUpLimit {
                            server: self.server.to_string(),
                            scope: wanted,
                            attempts: step_ups,
                        });
                    }
                    step_ups += 1;
                    self.observe(Event::StepUp { scope: &wanted });
                    self.authorize(Some(&challenge), Some(&wanted)).await?;
                }
                TransportError::HttpStatus { status: status @ (400 | 404 | 405), body } => {
                    if self.speaks_http_sse().await {
                        return Err(Error::LegacySseTransport { server: self.server.to_string() });
                    }
                    return Err(TransportError::HttpStatus { status, body }.into());
                }
                other => return Err(other.into()),
            }
        }
    }

    /// Whether the server speaks the HTTP+SSE transport of 2024-11-05 (deprecated since 2025-03-26): a GET
    /// answered with an event stream whose first event is `endpoint` (2024-11-05 basic/transports "HTTP with SSE").
    async fn speaks_http_sse(&self) -> bool {
        let probe = async {
            let response =
                self.http.get(self.server.url().clone()).header("Accept", "text/event-stream").send().await.ok()?;
            let is_sse = response
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("text/event-stream"));
            if !response.status().is_success() || !is_sse {
                return Some(false);
            }
            let mut parser = crate::transport::SseParser::new(crate::transport::SseLimits::default());
            let mut events = Vec::new();
            let mut stream = futures_util::StreamExt::fuse(response.bytes_stream());
            while let Some(Ok(chunk)) = futures_util::StreamExt::next(&mut stream).await {
                parser.feed(&chunk, &mut events).ok()?;
                if let Some(first) = events.first() {
                    return Some(first.event == "endpoint");
                }
            }
            Some(false)
        };
        tokio::time::timeout(Duration::from_secs(3), probe).await.ok().flatten().unwrap_or(false)
    }

    /// Stores the negotiated generation when it differs from what the store knew (best effort: a store that
    /// cannot be written costs only a probe next time).
    async fn remember_generation(&self) {
        let Some(current) = self.transport.generation() else { return };
        let known = self.remembered.lock().map(|r| *r == Some(current)).unwrap_or(true);
        if known || self.options.generation.is_some() {
            return;
        }
        match self.options.store.remember_generation(&self.server, current).await {
            Ok(()) => {
                if let Ok(mut remembered) = self.remembered.lock() {
                    *remembered = Some(current);
                }
            }
            Err(e) => tracing::debug!(error = %e, "could not remember the protocol generation"),
        }
    }

    fn observe(&self, event: Event<'_>) {
        self.options.observer.event(&event);
    }

    fn not_signed_in(&self) -> Error {
        Error::NotSignedIn { server: self.server.to_string() }
    }

    async fn stored_token(&self) -> Result<Option<AccessToken>, Error> {
        Ok(self.credentials().await?.and_then(|r| r.tokens).map(|t| t.access_token))
    }

    /// The access token to send: the stored one, refreshed first when it is about to expire.
    async fn usable_token(&self) -> Result<Option<AccessToken>, Error> {
        let Some(record) = self.credentials().await? else {
            return Ok(None);
        };
        let Some(tokens) = record.tokens.clone() else {
            return Ok(None);
        };
        if !tokens.needs_refresh(now_unix()) {
            return Ok(Some(tokens.access_token));
        }
        if tokens.refresh_token.is_none() {
            return Ok(None); // expired, nothing to refresh with: the 401 path signs in again
        }
        match self.refresh_record(&record, &tokens).await {
            Ok(fresh) => Ok(Some(fresh.access_token)),
            // The grant or the client is gone: the 401 path signs in again (registering anew if needed).
            Err(Error::Token(e)) if matches!(e.oauth_code(), Some("invalid_grant" | "invalid_client")) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// After a 401 on `sent`: refresh once if a refresh token is stored. `Ok(false)` means sign in again.
    async fn try_refresh_after_401(&self, sent: Option<&AccessToken>) -> Result<bool, Error> {
        let Some(record) = self.credentials().await? else {
            return Ok(false);
        };
        let Some(tokens) = record.tokens.clone() else {
            return Ok(false);
        };
        if sent.is_some_and(|s| *s != tokens.access_token) {
            return Ok(true); // someone else stored a newer token meanwhile: try that one
        }
        if tokens.refresh_token.is_none() {
            return Ok(false);
        }
        match self.refresh_record(&record, &tokens).await {
            Ok(_) => Ok(true),
            Err(Error::Token(e)) if e.oauth_code().is_some() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Refreshes `seen` for `record`, unless another caller already replaced it. A refresh token rejected with
    /// `invalid_grant` is removed, but only if it is still the one stored (compare-and-swap).
    async fn refresh_record(&self, record: &CredentialRecord, seen: &TokenSet) -> Result<TokenSet, Error> {
        let _single_flight = self.refresh_lock.lock().await;
        let store = &self.options.store;
        // Across processes sharing the store: hold the lock around read, refresh and write, so a rotating
        // refresh token is spent once; whoever waited then finds the new token below.
        let key = record.key();
        let _cross_process = store.lock(&store::refresh_lock_name(&key), REFRESH_LOCK_WAIT).await?;
        let Some(current) = self.stored_for(&key.issuer).await? else {
            return Err(self.not_signed_in());
        };
        match &current.tokens {
            Some(t) if t.access_token != seen.access_token && !t.needs_refresh(now_unix()) => {
                return Ok(t.clone());
            }
            None => return Err(self.not_signed_in()),
            _ => {}
        }
        let registration = current.registration.clone().ok_or_else(|| self.not_signed_in())?;
        let stored = current.tokens.clone().ok_or_else(|| self.not_signed_in())?;
        let client = self.token_client(&registration, &current.issuer)?;
        let endpoint = &current.authorization_server.token_endpoint;
        let result = if stored.refresh_token.is_none() && self.options.grant == Grant::ClientCredentials {
            // Client credentials tokens are renewed by asking again (OAuth 2.1 §4.2: no refresh token).
            token::client_credentials(&self.http, endpoint, &client, stored.scope.as_deref(), &current.resource).await
        } else {
            token::refresh(&self.http, endpoint, &client, &stored, &current.resource).await
        };
        match result {
            Ok(fresh) => {
                // Persist the rotated refresh token before the new access token is used.
                self.save_tokens(&current, Some(fresh.clone())).await?;
                self.observe(Event::Refreshed { tokens: &fresh });
                Ok(fresh)
            }
            Err(e) => {
                match e.oauth_code() {
                    Some("invalid_grant") => self.save_tokens(&current, None).await?,
                    Some("invalid_client") => self.discard_registration(&current, &registration).await?,
                    _ => {}
                }
                Err(e.into())
            }
        }
    }

    /// The authorization server no longer knows this client (`invalid_client`, a redirect URI it refuses):
    /// forget the registration and its tokens, if they are still the stored ones, so the next sign-in registers
    /// again. Pre-registered clients are the user's to fix and are kept.
    async fn discard_registration(
        &self,
        record: &CredentialRecord,
        registration: &ClientRegistration,
    ) -> Result<(), Error> {
        if registration.source == RegistrationSource::PreRegistered {
            return Ok(());
        }
        self.observe(Event::RegistrationDiscarded { client_id: &registration.client_id });
        if let Some(stored) = self.stored_for(&record.issuer).await?
            && stored.registration.as_ref().is_some_and(|g| g.client_id == registration.client_id)
        {
            let revision = stored.revision;
            let forgotten = CredentialRecord { registration: None, tokens: None, updated_at: now_unix(), ..stored };
            // A conflict means another process already replaced the registration: nothing left to forget.
            self.options.store.save(forgotten, Expected::Revision(revision)).await?;
        }
        Ok(())
    }

    /// Replaces the tokens of `record`, only if the record is still the one read (compare-and-swap): a newer
    /// token set written meanwhile by another process is never overwritten.
    async fn save_tokens(&self, record: &CredentialRecord, new: Option<TokenSet>) -> Result<(), Error> {
        let updated = CredentialRecord { tokens: new, updated_at: now_unix(), ..record.clone() };
        if self.options.store.save(updated, Expected::Revision(record.revision)).await? == Saved::Conflict {
            tracing::debug!(server = %record.server, "credentials changed meanwhile; kept the newer ones");
        }
        Ok(())
    }

    /// An unauthenticated `initialize` POST, to learn whether and how the server wants authorization.
    async fn probe(&self) -> Result<Option<Option<BearerChallenge>>, Error> {
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

    async fn discover(&self, challenge: Option<&BearerChallenge>) -> Result<Discovery, Error> {
        let cached = self.discovered.lock().ok().and_then(|d| d.clone());
        if let Some(discovery) = cached {
            return Ok(discovery);
        }
        let mut discovery =
            discovery::discover(&self.http, &self.server, challenge, self.options.discovery_policy, &self.network)
                .await?;
        if let ResourceParameter::Override(resource) = &self.options.resource {
            discovery.resource = resource.clone();
        }
        self.observe(Event::Discovered { discovery: &discovery });
        if let Ok(mut slot) = self.discovered.lock() {
            *slot = Some(discovery.clone());
        }
        Ok(discovery)
    }

    /// RFC 8252 §7.3 loopback redirect on a port stable per server (so a dynamic registration's redirect URI
    /// keeps matching), falling back to any free port when it is taken.
    async fn bind_listener(&self) -> Result<CallbackListener, Error> {
        if let Some(uri) = &self.options.redirect_uri {
            let port = self.options.callback_port.or(uri.port_or_known_default()).unwrap_or(0);
            return CallbackListener::bind_for(port, uri)
                .await
                .map_err(|source| AuthorizationError::Listen { port, source }.into());
        }
        let port = self.options.callback_port.unwrap_or_else(|| stable_port(&self.options.profile, &self.server));
        match CallbackListener::bind(port).await {
            Ok(l) => Ok(l),
            Err(_) if self.options.callback_port.is_none() => {
                CallbackListener::bind(0).await.map_err(|source| AuthorizationError::Listen { port: 0, source }.into())
            }
            Err(source) => Err(AuthorizationError::Listen { port, source }.into()),
        }
    }

    /// How this client authenticates at the token endpoint: the stored method, with the secret or key from
    /// the configured pre-registered client when it is the same client.
    fn token_client<'a>(
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
        Ok(TokenClient { client_id: &registration.client_id, auth, issuer: issuer.as_str(), send_resource })
    }

    /// The identity of a pre-registered client, with the token endpoint method the server supports.
    fn pre_registered(&self, s: &StaticClient, metadata: &AuthorizationServerMetadata) -> ClientRegistration {
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
    fn static_client_for(&self, issuer: &Issuer) -> Result<Option<&StaticClient>, Error> {
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
    async fn client_identity(
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
        let request =
            RegistrationRequest { client_name: &self.options.client_name, redirect_uri, scope, device_grant: device };
        let registration = registration::register(&self.http, endpoint, &request).await?;
        self.observe(Event::Registered { registration: &registration, reused: false });
        Ok(registration)
    }

    /// The scope to ask for (MCP 2025-11-25 §Scope Selection Strategy; 2026-07-28 union on step-up and
    /// `offline_access` only when the authorization server lists it).
    async fn select_scope(
        &self,
        discovery: &Discovery,
        challenge: Option<&BearerChallenge>,
        step_up: Option<&str>,
    ) -> Option<String> {
        if let Some(explicit) = &self.options.scope {
            return Some(explicit.clone());
        }
        let mut scopes: Vec<String> = Vec::new();
        let add = |scopes: &mut Vec<String>, s: &str| {
            for part in s.split_whitespace() {
                if !scopes.iter().any(|x| x == part) {
                    scopes.push(part.to_string());
                }
            }
        };
        if let Some(extra) = step_up {
            // Union with what was granted (or asked) before, so a step-up never loses a scope.
            if let Ok(Some(record)) = self.credentials().await
                && let Some(granted) = record.tokens.and_then(|t| t.scope)
            {
                add(&mut scopes, &granted);
            }
            add(&mut scopes, extra);
        } else if let Some(challenged) = challenge.and_then(|c| c.scope.as_deref()) {
            add(&mut scopes, challenged);
        } else if let Some(supported) = discovery.protected_resource.as_ref().and_then(|p| p.scopes_supported.as_ref())
        {
            add(&mut scopes, &supported.join(" "));
        }
        if scopes.is_empty() {
            return None;
        }
        if discovery.authorization_server.supports_scope("offline_access") {
            add(&mut scopes, "offline_access");
        }
        Some(scopes.join(" "))
    }

    /// The sign-in: discovery, client identity, authorization code with PKCE, token. Stores and returns the record.
    async fn authorize(
        &self,
        challenge: Option<&BearerChallenge>,
        step_up: Option<&str>,
    ) -> Result<CredentialRecord, Error> {
        if self.options.grant == Grant::ClientCredentials {
            return self.authorize_client_credentials(challenge, step_up).await;
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
                self.observe(Event::WaitingForOtherSignIn { server: &self.server });
                let wait = self.options.auth_timeout + Duration::from_secs(30);
                let lock = store.lock(&lock_name, wait).await?;
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

    /// The authorization code grant with PKCE (OAuth 2.1 §4.1) through the loopback redirect.
    async fn authorize_code(
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
        let client = self.token_client(&registration, &discovery.issuer)?;
        let exchanged = token::exchange_code(
            &self.http,
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
}

impl McpClient {
    /// The device authorization grant (RFC 8628): a code to enter on any device, then polling.
    async fn authorize_device(
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
        let client = self.token_client(&registration, &discovery.issuer)?;
        let device =
            token::device_authorization(&self.http, endpoint, &client, scope.as_deref(), &discovery.resource).await?;
        self.observe(Event::DeviceCode {
            user_code: &device.user_code,
            verification_uri: &device.verification_uri,
            verification_uri_complete: device.verification_uri_complete.as_deref(),
            expires_in: device.expires_in,
        });
        let poll = authorization::device::poll(
            &self.http,
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

    /// The server refused a stored registration: forget it (so the next attempt registers anew) and say so.
    async fn registration_rejected(
        &self,
        stored: Option<&CredentialRecord>,
        registration: &ClientRegistration,
    ) -> Result<Error, Error> {
        if let Some(record) = stored {
            self.discard_registration(record, registration).await?;
        }
        Ok(AuthorizationError::RegistrationRejected.into())
    }

    /// Stores the result of a sign-in as the current record for this server and issuer.
    async fn save_sign_in(
        &self,
        discovery: &Discovery,
        registration: ClientRegistration,
        tokens: TokenSet,
    ) -> Result<CredentialRecord, Error> {
        let record = CredentialRecord {
            profile: self.options.profile.clone(),
            server: self.server.clone(),
            issuer: discovery.issuer.clone(),
            resource: discovery.resource.clone(),
            authorization_server: discovery.authorization_server.clone(),
            registration: Some(registration),
            tokens: Some(tokens),
            updated_at: now_unix(),
            revision: 0,
        };
        match self.options.store.save(record.clone(), Expected::Any).await? {
            Saved::Written(stored) => Ok(*stored),
            Saved::Conflict => Ok(record), // `Any` never conflicts
        }
    }

    /// Machine-to-machine sign-in: discovery, the pre-registered client, and the client credentials grant
    /// (MCP extension io.modelcontextprotocol/oauth-client-credentials). No browser, no user.
    async fn authorize_client_credentials(
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
        let client = self.token_client(&registration, &discovery.issuer)?;
        let tokens = token::client_credentials(
            &self.http,
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

/// Whether `tokens` were granted every scope of `needed` (space-separated); no requirement is always covered.
fn covers(tokens: &TokenSet, needed: Option<&str>) -> bool {
    let granted = tokens.scopes();
    needed.is_none_or(|n| n.split_whitespace().all(|s| granted.contains(&s)))
}

/// A port in 49152..=65535 derived from (profile, server) with FNV-1a: the same server gets the same redirect
/// URI on every run, so its dynamic registration stays valid.
pub fn stable_port(profile: &str, server: &ResourceUri) -> u16 {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in profile.bytes().chain([0]).chain(server.as_str().bytes()) {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    49152 + (hash % 16384) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_port_is_stable_and_in_the_dynamic_range() {
        let a = ResourceUri::parse("https://mcp.example.com/mcp").unwrap();
        let b = ResourceUri::parse("https://other.example.com/mcp").unwrap();
        assert_eq!(stable_port("default", &a), stable_port("default", &a));
        assert_ne!(stable_port("default", &a), stable_port("default", &b));
        assert_ne!(stable_port("default", &a), stable_port("work", &a));
        assert!(stable_port("default", &a) >= 49152);
    }
}

#[cfg(test)]
mod identity_tests {
    use super::*;

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

    #[tokio::test]
    async fn invalidation_removes_only_the_token_generation_that_was_rejected() {
        use crate::store::{MemoryStore, contract};
        let c = McpClient::new("https://mcp.example.com/mcp", ClientOptions::new(MemoryStore::new())).unwrap();
        let mut record = contract::sample_record("default", &c.server, "https://as.example", "older");
        record = match c.options.store.save(record, Expected::Absent).await.unwrap() {
            Saved::Written(r) => *r,
            Saved::Conflict => panic!("empty store"),
        };
        // Another process replaces "older" with "newer" meanwhile.
        let newer = CredentialRecord {
            tokens: contract::sample_record("default", &c.server, "https://as.example", "newer").tokens,
            ..record.clone()
        };
        c.options.store.save(newer.clone(), Expected::Revision(record.revision)).await.unwrap();
        // Rejecting "older" (the record as read before) must not remove "newer".
        c.save_tokens(&record, None).await.unwrap();
        let stored = c.credentials().await.unwrap().unwrap();
        assert_eq!(stored.tokens, newer.tokens);
        c.save_tokens(&stored, None).await.unwrap();
        assert_eq!(c.credentials().await.unwrap().unwrap().tokens, None);
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
