//! Start-up configuration of the combined authorization + resource server.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use url::Url;

/// Where the server keeps clients, codes, refresh tokens and its signing key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// A SQLite file; everything survives a restart with the same file.
    File(PathBuf),
    /// A private in-memory SQLite database, gone when the server stops.
    Memory,
}

/// Configuration for [`crate::start`].
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to listen on; port 0 picks a free port.
    pub bind: SocketAddr,
    /// Public base URL (the issuer). Defaults to `http://<bound address>`.
    pub public_url: Option<Url>,
    pub database: Database,
    /// Issue authorization codes without showing the consent page.
    pub auto_approve: bool,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    /// Read-only directory served by `list_files`/`read_file`; `None` uses the
    /// demo files compiled into the binary.
    pub files_dir: Option<PathBuf>,
    /// Subject (`sub`) of the user who "signs in" at the authorization endpoint.
    pub demo_user: String,
    /// Serve `/mcp` without OAuth: no bearer check; tools see the fixed
    /// subject [`ANONYMOUS_SUBJECT`](crate::ANONYMOUS_SUBJECT) with every
    /// resource scope. For conformance suites and local experiments only:
    /// [`crate::start`] refuses it unless `bind` is a loopback address.
    pub no_auth: bool,
    /// `/mcp` speaks only the 2024-11-05 HTTP+SSE transport (GET opens the event stream, messages POST to
    /// `/mcp?sessionId=…`), to test clients against servers that offer nothing newer.
    pub legacy_sse: bool,
    /// Demand server-provided DPoP nonces (RFC 9449 §8, §9) in proofs at `/token` and `/mcp`.
    pub dpop_nonce: bool,
    /// The DPoP proof algorithms accepted and advertised (default all: ES256, EdDSA, RS256).
    pub dpop_algs: Vec<crate::DpopAlg>,
    /// RFC 8628 minimum polling interval for device codes (default 5 s).
    /// Enforced to the millisecond; advertised as `interval` in whole
    /// seconds, rounded up. Each `slow_down` adds 5 s for that device code.
    pub device_poll_interval: Duration,
    /// Lifetime of device and user codes (default 600 s; whole seconds).
    pub device_code_ttl: Duration,
    /// Fetch Client ID Metadata Documents and `jwks_uri` sets from hosts that
    /// resolve to private, loopback or link-local addresses (default off:
    /// SSRF protection).
    pub allow_private_cimd_hosts: bool,
    /// Tests only: also fetch CIMD documents / `jwks_uri` over plain http
    /// from loopback hosts (127.0.0.1, ::1, localhost). Default off.
    pub insecure_cimd_for_tests: bool,
    /// Age after which the signing key is replaced at start-up (default 30
    /// days). Retired keys stay in `/jwks.json` until every token they
    /// signed has expired.
    pub signing_key_max_age: Duration,
    /// JSON file of users who may sign in before consenting (see
    /// [`hash_password`](crate::hash_password)); `None`: one user, demo/demo.
    pub users_file: Option<PathBuf>,
    /// Serve https with this certificate chain and key (PEM files).
    pub tls: Option<TlsFiles>,
    /// Split origins: serve the resource server (`/mcp` and its RFC 9728
    /// metadata) on this second address; the first stays the authorization
    /// server (the issuer). `None`: one origin for both.
    pub resource_bind: Option<SocketAddr>,
    /// Public base URL of the resource server when split (default
    /// `http(s)://<resource bound address>`).
    pub resource_public_url: Option<Url>,
    /// Requests per client address to `/register` and `/token`.
    pub rate_limit: crate::rate_limit::RateLimit,
    /// The enterprise IdP whose ID-JAGs `/token` redeems (SEP-990, JWT bearer grant). With `idp` and no
    /// other, the local IdP.
    pub trusted_idp: Option<TrustedIssuerConfig>,
    /// The platform whose workload identity tokens `/token` redeems (JWT bearer grant).
    pub workload_issuer: Option<TrustedIssuerConfig>,
    /// Serve a minimal identity provider under `/idp` (ID tokens for the users, RFC 8693 exchange for ID-JAGs),
    /// so the enterprise flow runs locally.
    pub idp: bool,
}

/// An issuer of JWT assertions and where its public keys are.
#[derive(Debug, Clone)]
pub struct TrustedIssuerConfig {
    /// Compared exactly with the assertions' `iss`.
    pub issuer: String,
    /// A JWKS file path, or an http(s) URL fetched on each use.
    pub jwks: String,
}

/// PEM files for [`ServerConfig::tls`].
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// Certificate chain, leaf first.
    pub cert_pem: PathBuf,
    /// PKCS#8, PKCS#1 or SEC1 private key.
    pub key_pem: PathBuf,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 8000)),
            public_url: None,
            database: Database::Memory,
            auto_approve: false,
            access_token_ttl: Duration::from_secs(3600),
            refresh_token_ttl: Duration::from_secs(30 * 24 * 3600),
            files_dir: None,
            demo_user: "demo-user".to_owned(),
            no_auth: false,
            legacy_sse: false,
            dpop_nonce: false,
            dpop_algs: crate::DpopAlg::ALL.to_vec(),
            device_poll_interval: Duration::from_secs(5),
            device_code_ttl: Duration::from_secs(600),
            allow_private_cimd_hosts: false,
            insecure_cimd_for_tests: false,
            signing_key_max_age: Duration::from_secs(30 * 24 * 3600),
            users_file: None,
            tls: None,
            resource_bind: None,
            resource_public_url: None,
            rate_limit: crate::rate_limit::RateLimit::default(),
            trusted_idp: None,
            workload_issuer: None,
            idp: false,
        }
    }
}
