//! Step 1 of a sign-in: from an MCP server URL (and its 401 challenge) to a validated authorization server.
//!
//! Protected resource metadata (RFC 9728), then authorization server metadata (RFC 8414 or OpenID Connect
//! Discovery), each validated as the MCP specification requires before anything is sent to the server it names.

mod metadata;
pub mod observer;
pub mod well_known;
pub mod www_authenticate;

pub use metadata::{AuthorizationServerMetadata, ProtectedResourceMetadata};
pub use observer::{DiscoveryEvent, DiscoveryObserver, Document, Origin, TracingDiscoveryObserver};
pub use www_authenticate::{BearerChallenge, Challenge};

use crate::http::{self, HttpError, Stall, in_context};
use crate::resource::{Issuer, ResourceUri, is_secure_or_loopback};
use crate::ssrf::{Blocked, NetworkGuard};
use serde::de::DeserializeOwned;
use std::time::Duration;
use tokio::time::Instant;
use url::Url;

const PROTECTED_RESOURCE: &str = "the protected resource metadata";
const AUTHORIZATION_SERVER: &str = "the authorization server metadata";

#[derive(Debug, Clone, thiserror::Error)]
pub enum DiscoveryError {
    #[error("{}", in_context(&format!("could not read the protected resource metadata at {url}"), source))]
    ProtectedResource { url: String, source: HttpError },
    #[error(
        "the protected resource metadata names resource '{found}', but this server is '{expected}'; \
         refusing to use it (RFC 9728 §3.3). The server is misconfigured or impersonating another"
    )]
    ResourceMismatch { expected: String, found: String },
    #[error("the protected resource metadata at {url} lists no authorization server (RFC 9728 §2)")]
    NoAuthorizationServer { url: String },
    #[error("'{0}' is not a usable authorization server issuer: it must be an https URL (or http on loopback)")]
    BadIssuer(String),
    #[error("no authorization server metadata for issuer {issuer}; tried {}", .tried.join(", "))]
    AuthorizationServerNotFound { issuer: String, tried: Vec<String> },
    #[error("{}", in_context(&format!("could not read the authorization server metadata at {url}"), source))]
    AuthorizationServer { url: String, source: HttpError },
    #[error(
        "the metadata at {url} says its issuer is '{found}', but it was fetched for issuer '{expected}'; \
         refusing it (RFC 8414 §3.3)"
    )]
    IssuerMismatch { url: String, expected: String, found: String },
    #[error(
        "authorization server {issuer} does not advertise PKCE S256 (code_challenge_methods_supported), which \
         MCP requires; refusing to authorize there"
    )]
    PkceNotSupported { issuer: String },
    #[error("authorization server {issuer} gives a {field} of '{url}', which is not https (or http on loopback)")]
    InsecureEndpoint { issuer: String, field: &'static str, url: String },
    #[error("authorization server {issuer} gives a {field} of '{url}': {blocked}")]
    BlockedEndpoint { issuer: String, field: &'static str, url: String, blocked: Box<Blocked> },
}

/// Deliberate relaxations a user may opt into for known non-compliant servers.
#[derive(Debug, Clone, Copy, Default)]
pub struct DiscoveryPolicy {
    /// Proceed (with S256, and a warning) when the metadata omits `code_challenge_methods_supported`
    /// entirely. A list without S256 is still refused.
    pub allow_missing_pkce_metadata: bool,
}

/// A validated view of the MCP server's authorization setup.
#[derive(Debug, Clone)]
pub struct Discovery {
    /// The `resource` value for authorization and token requests (RFC 8707).
    pub resource: ResourceUri,
    /// `None` for a 2025-03-26 server without protected resource metadata.
    pub protected_resource: Option<ProtectedResourceMetadata>,
    pub authorization_server: AuthorizationServerMetadata,
    pub issuer: Issuer,
    /// Every HTTP GET discovery made, in order (for narration and request counting).
    pub fetched: Vec<String>,
}

/// Runs discovery for `server` given the `WWW-Authenticate` challenge of its 401 (if any), each request within
/// the client's own bounds.
pub async fn discover(
    http: &reqwest::Client,
    server: &ResourceUri,
    challenge: Option<&BearerChallenge>,
    policy: DiscoveryPolicy,
    network: &NetworkGuard,
) -> Result<Discovery, DiscoveryError> {
    run(http, server, challenge, policy, network, &Budget::unlimited(), &TracingDiscoveryObserver).await
}

/// [`discover`] within `deadline` for all of it: every location it tries shares the one budget, so a server
/// that stalls everywhere is reported once the deadline passes, whatever the number of places tried.
pub async fn discover_within(
    http: &reqwest::Client,
    server: &ResourceUri,
    challenge: Option<&BearerChallenge>,
    policy: DiscoveryPolicy,
    network: &NetworkGuard,
    deadline: Duration,
) -> Result<Discovery, DiscoveryError> {
    run(http, server, challenge, policy, network, &Budget::of(deadline), &TracingDiscoveryObserver).await
}

/// [`discover_within`], telling `observer` every location it tries and every document it reads.
pub async fn discover_observed(
    http: &reqwest::Client,
    server: &ResourceUri,
    challenge: Option<&BearerChallenge>,
    policy: DiscoveryPolicy,
    network: &NetworkGuard,
    deadline: Duration,
    observer: &dyn DiscoveryObserver,
) -> Result<Discovery, DiscoveryError> {
    run(http, server, challenge, policy, network, &Budget::of(deadline), observer).await
}

/// The authorization server step alone, for `issuer`, within `deadline`, told to `observer`.
pub async fn authorization_server_observed(
    http: &reqwest::Client,
    network: &NetworkGuard,
    issuer: &str,
    policy: DiscoveryPolicy,
    deadline: Duration,
    observer: &dyn DiscoveryObserver,
) -> Result<AuthorizationServerMetadata, DiscoveryError> {
    let mut fetched = Vec::new();
    authorization_server_within(http, network, issuer, &mut fetched, policy, &Budget::of(deadline), observer).await
}

/// Discovery's deadline: when it ends, and how long it was.
struct Budget {
    ends: Option<(Instant, Duration)>,
}

impl Budget {
    fn unlimited() -> Self {
        Self { ends: None }
    }

    fn of(deadline: Duration) -> Self {
        Self { ends: Some((Instant::now() + deadline, deadline)) }
    }
}

async fn run(
    http: &reqwest::Client,
    server: &ResourceUri,
    challenge: Option<&BearerChallenge>,
    policy: DiscoveryPolicy,
    network: &NetworkGuard,
    budget: &Budget,
    observer: &dyn DiscoveryObserver,
) -> Result<Discovery, DiscoveryError> {
    let mut fetched = Vec::new();
    let prm = fetch_protected_resource(http, network, server, challenge, &mut fetched, budget, observer).await?;
    let Some((prm, prm_url)) = prm else {
        return legacy_discovery(http, network, server, fetched, policy, budget, observer).await;
    };
    observer.event(&DiscoveryEvent::ProtectedResource { url: &prm_url, metadata: &prm });
    let resource = validate_resource(server, &prm)?;
    // RFC 9728 §7.6 leaves the choice to the client: take the first, deterministically.
    let issuer = prm
        .authorization_servers
        .iter()
        .find(|s| !s.trim().is_empty())
        .ok_or_else(|| DiscoveryError::NoAuthorizationServer { url: prm_url.clone() })?;
    let authorization_server =
        authorization_server_within(http, network, issuer, &mut fetched, policy, budget, observer).await?;
    Ok(Discovery {
        resource,
        protected_resource: Some(prm),
        issuer: Issuer::new(authorization_server.issuer.clone()),
        authorization_server,
        fetched,
    })
}

/// Where and why a discovery GET goes.
#[derive(Clone, Copy)]
struct Location<'a> {
    document: Document,
    origin: Origin,
    url: &'a Url,
}

/// A discovery GET: scheme and network policy first (MCP Security Best Practices §SSRF), then a bounded read,
/// within what is left of the budget; what it came to is told to `observer`.
async fn get<T: DeserializeOwned>(
    http: &reqwest::Client,
    network: &NetworkGuard,
    at: Location<'_>,
    extra_headers: &[(&str, &str)],
    budget: &Budget,
    observer: &dyn DiscoveryObserver,
) -> Result<T, HttpError> {
    let url = at.url;
    let step = match at.document {
        Document::ProtectedResource => PROTECTED_RESOURCE,
        Document::AuthorizationServer => AUTHORIZATION_SERVER,
    };
    let fetch = async {
        if let Err(e) = http::check_destination(network, url).await {
            return (None, Err(e));
        }
        http::get_json_answered(step, http, url, extra_headers).await
    };
    let (answer, result) = match budget.ends {
        None => fetch.await,
        Some((ends, deadline)) => match tokio::time::timeout_at(ends, fetch).await {
            Ok(done) => done,
            Err(_) => {
                let seconds = http::rounded_seconds(deadline);
                (None, Err(HttpError::Timeout { url: url.to_string(), seconds, step, stall: Stall::Discovery }))
            }
        },
    };
    let (document, origin) = (at.document, at.origin);
    let error = result.as_ref().err();
    observer.event(&DiscoveryEvent::Fetched { document, origin, url, answer: answer.as_ref(), error });
    result
}

async fn fetch_protected_resource(
    http: &reqwest::Client,
    network: &NetworkGuard,
    server: &ResourceUri,
    challenge: Option<&BearerChallenge>,
    fetched: &mut Vec<String>,
    budget: &Budget,
    observer: &dyn DiscoveryObserver,
) -> Result<Option<(ProtectedResourceMetadata, String)>, DiscoveryError> {
    // MCP 2025-11-25: use `resource_metadata` from the challenge when present, else the well-known URLs.
    if let Some(url) = challenge.and_then(|c| c.resource_metadata.as_deref()) {
        let parsed = Url::parse(url).map_err(|_| DiscoveryError::ProtectedResource {
            url: url.to_string(),
            source: HttpError::NotJson { url: url.to_string(), detail: "not a valid URL".into() },
        })?;
        fetched.push(parsed.to_string());
        let at = Location { document: Document::ProtectedResource, origin: Origin::Challenge, url: &parsed };
        let doc = get(http, network, at, &[], budget, observer)
            .await
            .map_err(|source| DiscoveryError::ProtectedResource { url: url.to_string(), source })?;
        return Ok(Some((doc, url.to_string())));
    }
    for candidate in well_known::protected_resource_candidates(server.url()) {
        fetched.push(candidate.to_string());
        let at = Location { document: Document::ProtectedResource, origin: Origin::WellKnown, url: &candidate };
        match get(http, network, at, &[], budget, observer).await {
            Ok(doc) => return Ok(Some((doc, candidate.to_string()))),
            Err(e) if e.is_not_found() => continue,
            Err(source) => {
                return Err(DiscoveryError::ProtectedResource { url: candidate.to_string(), source });
            }
        }
    }
    Ok(None)
}

/// RFC 9728 §3.3: the document's `resource` must identify this server. Like the official SDKs, a document for
/// a same-origin path prefix of the server URL (for example the root metadata naming the origin) is accepted,
/// and its value becomes the `resource` parameter.
pub(crate) fn validate_resource(
    server: &ResourceUri,
    prm: &ProtectedResourceMetadata,
) -> Result<ResourceUri, DiscoveryError> {
    let mismatch = || DiscoveryError::ResourceMismatch { expected: server.to_string(), found: prm.resource.clone() };
    let declared = ResourceUri::parse(&prm.resource).map_err(|_| mismatch())?;
    if declared == *server {
        return Ok(declared);
    }
    let server_path = server.url().path().trim_end_matches('/');
    let declared_path = declared.url().path().trim_end_matches('/');
    let prefix = declared_path.is_empty()
        || server_path == declared_path
        || server_path.starts_with(&format!("{declared_path}/"));
    if server.same_origin(declared.url()) && prefix && declared.url().query().is_none() {
        Ok(declared)
    } else {
        Err(mismatch())
    }
}

/// Fetches and validates authorization server metadata for `issuer`, trying the well-known URLs in order.
pub async fn fetch_authorization_server(
    http: &reqwest::Client,
    network: &NetworkGuard,
    issuer: &str,
    fetched: &mut Vec<String>,
    policy: DiscoveryPolicy,
) -> Result<AuthorizationServerMetadata, DiscoveryError> {
    let (budget, observer) = (&Budget::unlimited(), &TracingDiscoveryObserver);
    authorization_server_within(http, network, issuer, fetched, policy, budget, observer).await
}

async fn authorization_server_within(
    http: &reqwest::Client,
    network: &NetworkGuard,
    issuer: &str,
    fetched: &mut Vec<String>,
    policy: DiscoveryPolicy,
    budget: &Budget,
    observer: &dyn DiscoveryObserver,
) -> Result<AuthorizationServerMetadata, DiscoveryError> {
    let issuer_url = Url::parse(issuer).map_err(|_| DiscoveryError::BadIssuer(issuer.to_string()))?;
    if !is_secure_or_loopback(&issuer_url) || issuer_url.query().is_some() || issuer_url.fragment().is_some() {
        return Err(DiscoveryError::BadIssuer(issuer.to_string()));
    }
    let mut tried = Vec::new();
    for candidate in well_known::authorization_server_candidates(&issuer_url) {
        fetched.push(candidate.to_string());
        tried.push(candidate.to_string());
        let at = Location { document: Document::AuthorizationServer, origin: Origin::WellKnown, url: &candidate };
        match get::<AuthorizationServerMetadata>(http, network, at, &[], budget, observer).await {
            Ok(mut doc) => {
                observer.event(&DiscoveryEvent::AuthorizationServer { issuer, url: &candidate, metadata: &doc });
                validate_authorization_server(issuer, &candidate, &mut doc, policy)?;
                check_endpoint_addresses(network, &doc).await?;
                return Ok(doc);
            }
            Err(e) if e.is_not_found() => continue,
            Err(source) => {
                return Err(DiscoveryError::AuthorizationServer { url: candidate.to_string(), source });
            }
        }
    }
    Err(DiscoveryError::AuthorizationServerNotFound { issuer: issuer.to_string(), tried })
}

fn validate_authorization_server(
    issuer: &str,
    url: &Url,
    doc: &mut AuthorizationServerMetadata,
    policy: DiscoveryPolicy,
) -> Result<(), DiscoveryError> {
    // MCP 2026-07-28 §Authorization Server Metadata Discovery: identical, no normalization.
    if doc.issuer != issuer {
        return Err(DiscoveryError::IssuerMismatch {
            url: url.to_string(),
            expected: issuer.to_string(),
            found: doc.issuer.clone(),
        });
    }
    validate_endpoints(doc, policy)
}

pub(crate) fn validate_endpoints(
    doc: &mut AuthorizationServerMetadata,
    policy: DiscoveryPolicy,
) -> Result<(), DiscoveryError> {
    // MCP 2025-11-25 §Authorization Code Protection: no S256, no authorization.
    match &doc.code_challenge_methods_supported {
        Some(methods) if methods.iter().any(|x| x == "S256") => {}
        None if policy.allow_missing_pkce_metadata => {
            tracing::warn!(
                issuer = %doc.issuer,
                "the authorization server does not advertise PKCE support; proceeding with S256 as you allowed"
            );
            doc.code_challenge_methods_supported = Some(vec!["S256".to_string()]);
        }
        _ => return Err(DiscoveryError::PkceNotSupported { issuer: doc.issuer.clone() }),
    }
    let mut endpoints = vec![
        ("authorization_endpoint", Some(&doc.authorization_endpoint)),
        ("token_endpoint", Some(&doc.token_endpoint)),
    ];
    endpoints.push(("registration_endpoint", doc.registration_endpoint.as_ref()));
    endpoints.push(("revocation_endpoint", doc.revocation_endpoint.as_ref()));
    for (field, value) in endpoints {
        let Some(value) = value else { continue };
        // Security best practices §Authorization URL validation: no javascript:, data:, file:, plain http.
        let ok = Url::parse(value).is_ok_and(|u| is_secure_or_loopback(&u));
        if !ok {
            return Err(DiscoveryError::InsecureEndpoint { issuer: doc.issuer.clone(), field, url: value.clone() });
        }
    }
    Ok(())
}

/// Endpoints given as IP literals must pass the network policy too (names are checked when resolved).
async fn check_endpoint_addresses(
    network: &NetworkGuard,
    doc: &AuthorizationServerMetadata,
) -> Result<(), DiscoveryError> {
    let endpoints = [
        ("authorization_endpoint", Some(&doc.authorization_endpoint)),
        ("token_endpoint", Some(&doc.token_endpoint)),
        ("registration_endpoint", doc.registration_endpoint.as_ref()),
        ("revocation_endpoint", doc.revocation_endpoint.as_ref()),
        ("device_authorization_endpoint", doc.device_authorization_endpoint.as_ref()),
    ];
    for (field, value) in endpoints {
        let Some(url) = value.and_then(|v| Url::parse(v).ok()) else { continue };
        if let Err(blocked) = network.check_url(&url).await {
            let (issuer, url) = (doc.issuer.clone(), url.to_string());
            return Err(DiscoveryError::BlockedEndpoint { issuer, field, url, blocked: Box::new(blocked) });
        }
    }
    Ok(())
}

/// MCP 2025-03-26: no protected resource metadata means the MCP server's origin is the authorization server;
/// its RFC 8414 metadata is used when present, else the default endpoints.
async fn legacy_discovery(
    http: &reqwest::Client,
    network: &NetworkGuard,
    server: &ResourceUri,
    mut fetched: Vec<String>,
    policy: DiscoveryPolicy,
    budget: &Budget,
    observer: &dyn DiscoveryObserver,
) -> Result<Discovery, DiscoveryError> {
    let origin = server.url().origin().ascii_serialization();
    let mut metadata_url = server.url().clone();
    metadata_url.set_path("/.well-known/oauth-authorization-server");
    metadata_url.set_query(None);
    fetched.push(metadata_url.to_string());
    let at = Location { document: Document::AuthorizationServer, origin: Origin::LegacyOrigin, url: &metadata_url };
    let version = [("MCP-Protocol-Version", "2025-03-26")];
    let authorization_server =
        match get::<AuthorizationServerMetadata>(http, network, at, &version, budget, observer).await {
            Ok(mut doc) => {
                observer.event(&DiscoveryEvent::AuthorizationServer {
                    issuer: &origin,
                    url: &metadata_url,
                    metadata: &doc,
                });
                validate_endpoints(&mut doc, policy)?;
                check_endpoint_addresses(network, &doc).await?;
                doc
            }
            Err(e) if e.is_not_found() => AuthorizationServerMetadata::default_endpoints(&origin),
            Err(source) => {
                return Err(DiscoveryError::AuthorizationServer { url: metadata_url.to_string(), source });
            }
        };
    Ok(Discovery {
        resource: server.clone(),
        protected_resource: None,
        issuer: Issuer::new(authorization_server.issuer.clone()),
        authorization_server,
        fetched,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prm(resource: &str) -> ProtectedResourceMetadata {
        ProtectedResourceMetadata {
            resource: resource.into(),
            authorization_servers: vec!["https://as.example".into()],
            scopes_supported: None,
            resource_name: None,
        }
    }

    #[test]
    fn resource_must_match_or_be_a_same_origin_prefix() {
        let server = ResourceUri::parse("https://mcp.example.com/v1/mcp").unwrap();
        assert!(validate_resource(&server, &prm("https://mcp.example.com/v1/mcp")).is_ok());
        assert!(validate_resource(&server, &prm("HTTPS://MCP.example.com/v1/mcp/")).is_ok());
        assert!(validate_resource(&server, &prm("https://mcp.example.com")).is_ok());
        assert!(validate_resource(&server, &prm("https://mcp.example.com/v1")).is_ok());
        for bad in [
            "https://evil.example.com/v1/mcp",
            "https://mcp.example.com/v1/mc",
            "https://mcp.example.com/other",
            "not a url",
        ] {
            let err = validate_resource(&server, &prm(bad)).unwrap_err();
            assert!(err.to_string().contains("refusing to use it"), "{bad}: {err}");
        }
    }

    fn as_meta() -> AuthorizationServerMetadata {
        let mut m = AuthorizationServerMetadata::default_endpoints("https://as.example");
        m.registration_endpoint = None;
        m
    }

    #[test]
    fn issuer_must_be_identical() {
        let url = Url::parse("https://as.example/.well-known/oauth-authorization-server").unwrap();
        let strict = DiscoveryPolicy::default();
        assert!(validate_authorization_server("https://as.example", &url, &mut as_meta(), strict).is_ok());
        let err = validate_authorization_server("https://as.example/", &url, &mut as_meta(), strict).unwrap_err();
        assert!(matches!(err, DiscoveryError::IssuerMismatch { .. }), "{err}");
        assert_eq!(
            err.to_string(),
            "the metadata at https://as.example/.well-known/oauth-authorization-server says its issuer is \
             'https://as.example', but it was fetched for issuer 'https://as.example/'; refusing it (RFC 8414 §3.3)"
        );
    }

    #[test]
    fn pkce_s256_is_required() {
        let url = Url::parse("https://as.example/x").unwrap();
        let strict = DiscoveryPolicy::default();
        let lenient = DiscoveryPolicy { allow_missing_pkce_metadata: true };
        let mut m = as_meta();
        m.code_challenge_methods_supported = None;
        let err = validate_authorization_server("https://as.example", &url, &mut m.clone(), strict).unwrap_err();
        assert!(err.to_string().contains("does not advertise PKCE S256"), "{err}");
        // The opt-in accepts a missing list (and records S256), never a list without S256.
        validate_authorization_server("https://as.example", &url, &mut m, lenient).unwrap();
        assert_eq!(m.code_challenge_methods_supported, Some(vec!["S256".to_string()]));
        m.code_challenge_methods_supported = Some(vec!["plain".into()]);
        assert!(matches!(
            validate_authorization_server("https://as.example", &url, &mut m, lenient),
            Err(DiscoveryError::PkceNotSupported { .. })
        ));
    }

    #[test]
    fn dangerous_endpoints_are_refused() {
        let url = Url::parse("https://as.example/x").unwrap();
        for bad in [
            "javascript:alert(1)",
            "data:text/html,hi",
            "file:///etc/passwd",
            "vbscript:x",
            "http://as.example/authorize",
            "https://a.example/$(touch /tmp/x)`",
        ] {
            let mut m = as_meta();
            m.authorization_endpoint = bad.into();
            let result = validate_authorization_server("https://as.example", &url, &mut m, DiscoveryPolicy::default());
            if bad.starts_with("https://") {
                // Shell metacharacters are harmless: the URL is never handed to a shell.
                assert!(result.is_ok(), "{bad}");
            } else {
                assert!(matches!(result, Err(DiscoveryError::InsecureEndpoint { .. })), "{bad}");
            }
        }
    }
}
