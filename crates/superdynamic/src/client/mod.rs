//! The whole flow for one MCP server: use stored credentials, refresh them before they expire, and on a 401 or
//! a 403 `insufficient_scope` run discovery, registration and authorization, then retry the request.
//!
//! [`McpClient`] is one type; its methods live beside the step they implement:
//! `requests` (the request loop: proactive refresh, then `challenge`: one refresh on 401, sign-in, 403
//! step-up), `sign_in` (login, the sign-in lock, probe, discovery), `grants` (authorization code, device, client credentials), `identity`
//! (which client identity, and how it authenticates), `scope`, `loopback` (the redirect listener), `refresh`,
//! `credentials` (the stored record, compare-and-swap), `generation` (the protocol generation remembered per
//! server), `logout` and `adopt` (a sign-in another client made, imported); `options` holds what a caller
//! configures ([`ClientOptions`]) and `observer` what it is told ([`Event`]).

mod adopt;
mod assertion_grants;
mod bearer;
mod challenge;
#[cfg(feature = "rmcp")]
pub(crate) use challenge::{Answer, Challenges};
mod credentials;
mod dpop;
mod generation;
mod grants;
mod identity;
mod logout;
mod loopback;
mod observer;
mod options;
mod refresh;
mod requests;
pub(crate) use requests::speaks_http_sse;
mod scope;
mod sign_in;

pub use adopt::{AdoptOptions, AdoptOutcome};
pub use assertion_grants::EnterpriseIdp;
pub use logout::LogoutOutcome;
pub use loopback::stable_port;
pub use observer::{Event, Observer, TracingObserver};
pub use options::{ClientOptions, Grant, ResourceParameter, StaticClient};
pub use sign_in::LoginOutcome;

use crate::discovery::{Discovery, DiscoveryError};
use crate::error::Error;
use crate::http;
use crate::resource::ResourceUri;
use crate::ssrf::NetworkGuard;
use crate::transport::{Generation, StreamableHttp, TransportOptions};
use std::sync::Arc;
use std::time::Instant;

/// A client for one MCP server.
pub struct McpClient {
    server: ResourceUri,
    options: ClientOptions,
    /// MCP requests (idle-based timeouts).
    http: reqwest::Client,
    /// OAuth requests and the other fetches of a sign-in ([`http::OAuthTimeouts`]).
    oauth_http: reqwest::Client,
    /// `oauth_http` without redirects, for reading the authorization endpoint's `Location`.
    fetch_http: reqwest::Client,
    transport: StreamableHttp,
    /// Where OAuth traffic may go (SSRF policy), for discovery's pre-checks of IP literals.
    network: Arc<NetworkGuard>,
    /// Single-flight refresh within this process: concurrent callers wait for one refresh.
    refresh_lock: tokio::sync::Mutex<()>,
    /// Discovery done by this client, reused by a later sign-in (step-up) in the same process.
    discovered: std::sync::Mutex<Option<Discovery>>,
    /// The last failed discovery and when, so a sign-in that waited for it gets the same answer at once.
    discovery_failure: std::sync::Mutex<Option<(Instant, DiscoveryError)>>,
    /// The generation the store holds for this server, to write it back only when it changed.
    remembered: std::sync::Mutex<Option<Generation>>,
    /// Set once the store's remembered generation was handed to the transport.
    recalled: tokio::sync::OnceCell<()>,
    /// DPoP nonces the authorization server and the MCP server gave (RFC 9449 §8, §9), per origin.
    dpop_nonces: Arc<crate::dpop::NonceStore>,
    /// The stored DPoP key last parsed, so requests do not parse it each time.
    dpop_keys: std::sync::Mutex<Option<(crate::secret::DpopPrivateKey, Arc<crate::dpop::DpopKey>)>>,
    /// Set when the MCP server sent a `DPoP` challenge: bind the next sign-in's tokens (mode auto), with one of
    /// the challenge's `algs` (RFC 9449 §7.1; empty when it named none).
    resource_dpop_algs: std::sync::Mutex<Option<Vec<String>>>,
    /// Tokens go to another HTTP stack ([`Self::bearer_token`]), which cannot sign DPoP proofs: Bearer only.
    bearer_only: std::sync::atomic::AtomicBool,
}

impl McpClient {
    pub fn new(server_url: &str, options: ClientOptions) -> Result<Self, Error> {
        let server = ResourceUri::parse(server_url)?;
        let remembered = options.generation;
        let network = match options.env_proxy {
            true => {
                NetworkGuard::with_env_proxy(server.url(), options.allow_private_network, options.address_classifier)
            }
            false => NetworkGuard::new(server.url(), options.allow_private_network, options.address_classifier),
        };
        let http =
            http::guarded_client(options.request_timeout, network.clone()).map_err(|e| Error::Token(e.into()))?;
        let oauth_http =
            http::oauth_client(&options.oauth_timeouts, network.clone()).map_err(|e| Error::Token(e.into()))?;
        let fetch_http = http::oauth_no_redirect_client(&options.oauth_timeouts, network.clone())
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
                transport: options.transport,
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
            oauth_http,
            fetch_http,
            transport,
            network,
            refresh_lock: tokio::sync::Mutex::new(()),
            discovered: std::sync::Mutex::new(None),
            discovery_failure: std::sync::Mutex::new(None),
            remembered: std::sync::Mutex::new(remembered),
            recalled: tokio::sync::OnceCell::new(),
            dpop_nonces: Arc::new(crate::dpop::NonceStore::new()),
            dpop_keys: std::sync::Mutex::new(None),
            resource_dpop_algs: std::sync::Mutex::new(None),
            bearer_only: std::sync::atomic::AtomicBool::new(false),
        })
    }

    pub fn server(&self) -> &ResourceUri {
        &self.server
    }

    pub fn transport(&self) -> &StreamableHttp {
        &self.transport
    }

    /// The HTTP client of MCP requests (the network policy, connect and idle timeouts), for transports of other
    /// SDKs that carry our tokens (`crate::rmcp`).
    #[cfg_attr(not(feature = "rmcp"), allow(dead_code))]
    pub(crate) fn mcp_http(&self) -> &reqwest::Client {
        &self.http
    }

    fn observe(&self, event: Event<'_>) {
        self.options.observer.event(&event);
    }

    fn not_signed_in(&self) -> Error {
        Error::NotSignedIn { server: self.server.to_string() }
    }
}
