//! What a [`McpClient`](super::McpClient) is configured with.

use super::observer::{Observer, TracingObserver};
use crate::authorization::AuthorizationMode;
use crate::client_auth::ClientKey;
use crate::discovery::DiscoveryPolicy;
use crate::http::OAuthTimeouts;
use crate::resource::{Issuer, ResourceUri};
use crate::secret::ClientSecret;
use crate::ssrf::AddressClassifier;
use crate::store::{CredentialStore, DEFAULT_PROFILE};
use crate::transport::{Generation, ServerMessageHandler, ServerStream, TransportOrder};
use std::sync::Arc;
use std::time::Duration;
use url::Url;

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
    /// Enterprise-managed authorization (SEP-990): an ID-JAG from the enterprise IdP ([`ClientOptions::enterprise`]),
    /// redeemed with the JWT bearer grant (RFC 7523). Needs a pre-registered client.
    Enterprise,
    /// Workload identity federation: the platform's identity token ([`ClientOptions::workload_assertion`]) as
    /// a JWT bearer grant (RFC 7523 §2.1). Needs a pre-registered client.
    Workload,
}

impl Grant {
    /// Signs in with a JWT bearer assertion, without a browser or a user at the MCP authorization server.
    pub fn uses_assertion(self) -> bool {
        matches!(self, Grant::Enterprise | Grant::Workload)
    }
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
    /// The enterprise IdP of [`Grant::Enterprise`].
    pub enterprise: Option<super::EnterpriseIdp>,
    /// The platform identity token of [`Grant::Workload`], read again on every use (platforms rotate it).
    pub workload_assertion: Option<crate::assertion_source::AssertionSource>,
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
    /// MCP requests: the wait for the response headers and the longest silence in an answer, never a total
    /// deadline (a slow tool is not a stalled server).
    pub request_timeout: Duration,
    /// OAuth requests (discovery, registration, token, refresh, revocation, the device flow): a few seconds
    /// to connect and to start answering, a deadline per request and one for all of discovery.
    pub oauth_timeouts: OAuthTimeouts,
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
    /// Streamable HTTP, the 2024-11-05 HTTP+SSE transport, or one then the other (default: Streamable HTTP
    /// first, HTTP+SSE when the endpoint refuses it).
    pub transport: TransportOrder,
    /// More client metadata for Dynamic Client Registration (see
    /// [`RegistrationRequest::extra_metadata`](crate::registration::RegistrationRequest::extra_metadata)).
    pub registration_metadata: serde_json::Map<String, serde_json::Value>,
    /// Send requests through the proxies `HTTPS_PROXY` / `HTTP_PROXY` / `ALL_PROXY` name (minus `NO_PROXY`).
    /// Off by default: then every name is resolved here, under the network policy. With a proxy, the proxy
    /// resolves names, so only IP literals and schemes are checked here.
    pub env_proxy: bool,
    /// Let a public MCP server's discovery reach private, loopback and link-local addresses (never the cloud
    /// metadata service). Off by default: see [`crate::ssrf`]. For private deployments you trust.
    pub allow_private_network: bool,
    /// Replaces the address classifier of the network policy. For tests that play public and private networks
    /// on loopback addresses; `None` (the default) classifies addresses as they are.
    pub address_classifier: Option<AddressClassifier>,
    /// DPoP-bound tokens (RFC 9449): when the authorization server offers them (the default), always, or never.
    pub dpop: crate::dpop::DpopMode,
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
            enterprise: None,
            workload_assertion: None,
            static_clients: Vec::new(),
            pre_registered_only: false,
            client_metadata_url: None,
            discovery_policy: DiscoveryPolicy::default(),
            scope: None,
            callback_port: None,
            redirect_uri: None,
            paste_redirect: false,
            request_timeout: Duration::from_secs(60),
            oauth_timeouts: OAuthTimeouts::default(),
            auth_timeout: Duration::from_secs(300),
            observer: Arc::new(TracingObserver),
            handler: None,
            generation: None,
            headers: reqwest::header::HeaderMap::new(),
            resource: ResourceParameter::Discovered,
            server_stream: ServerStream::Always,
            transport: TransportOrder::HttpFirst,
            registration_metadata: serde_json::Map::new(),
            env_proxy: false,
            allow_private_network: false,
            address_classifier: None,
            dpop: crate::dpop::DpopMode::Auto,
        }
    }
}
