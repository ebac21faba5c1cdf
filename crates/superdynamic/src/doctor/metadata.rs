//! The discovery walk, as the library runs it (through its observer), turned into findings: every location
//! tried and what it answered, the `resource` check, the issuer comparison, PKCE, endpoint schemes, `iss`,
//! scopes, DPoP and token endpoint authentication.

use super::finding::{Finding, Severity, Step, Tried, printable};
use super::probe::{is_certificate_problem, tls_finding};
use crate::discovery::{
    self, AuthorizationServerMetadata, BearerChallenge, Discovery, DiscoveryError, DiscoveryEvent, DiscoveryObserver,
    DiscoveryPolicy, Document, ProtectedResourceMetadata,
};
use crate::http::{HttpError, OAuthTimeouts};
use crate::resource::ResourceUri;
use crate::ssrf::NetworkGuard;
use std::sync::Mutex;
use url::Url;

const RFC9728_3: &str = "RFC 9728 §3; MCP basic/authorization §Protected Resource Metadata Discovery Requirements";
const RFC8414_3: &str = "RFC 8414 §3; MCP basic/authorization §Authorization Server Metadata Discovery";
const SECURE: &str = "MCP basic/authorization §Communication Security; security_best_practices §SSRF";

/// Records what discovery reports, for the report; also logs it as `-v` does.
#[derive(Default)]
pub(super) struct Recorder {
    seen: Mutex<Recorded>,
}

#[derive(Default)]
pub(super) struct Recorded {
    pub(super) tried: Vec<Tried>,
    pub(super) protected_resource: Option<(String, ProtectedResourceMetadata)>,
    pub(super) authorization_server: Option<(String, AuthorizationServerMetadata)>,
    pub(super) findings: Vec<Finding>,
}

impl DiscoveryObserver for Recorder {
    fn event(&self, event: &DiscoveryEvent<'_>) {
        discovery::TracingDiscoveryObserver.event(event);
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        match event {
            DiscoveryEvent::Fetched { document, origin, url, answer, error } => {
                let content_type = answer.and_then(|a| a.content_type.clone());
                if error.is_none() && !content_type.as_deref().is_some_and(is_json) {
                    let step = step_of(*document);
                    let shown = content_type.as_deref().unwrap_or("none");
                    seen.findings.push(
                        Finding::new(
                            step,
                            Severity::Warning,
                            "wrong_content_type",
                            "Metadata is served as application/json",
                            "RFC 9728 §3.2; RFC 8414 §3.2",
                        )
                        .seen(format!("{url} answered Content-Type: {shown}"))
                        .fix("serve the document with Content-Type: application/json"),
                    );
                }
                seen.tried.push(Tried {
                    document: *document,
                    origin: *origin,
                    url: printable(url.as_str()),
                    status: answer.map(|a| a.status),
                    content_type: content_type.map(|c| printable(&c)),
                    error: error.map(|e| printable(&e.to_string())),
                });
            }
            DiscoveryEvent::ProtectedResource { url, metadata } => {
                seen.protected_resource = Some((url.to_string(), (*metadata).clone()));
            }
            DiscoveryEvent::AuthorizationServer { url, metadata, .. } => {
                seen.authorization_server = Some((url.to_string(), (*metadata).clone()));
            }
        }
    }
}

impl Recorder {
    pub(super) fn take(self) -> Recorded {
        self.seen.into_inner().unwrap_or_else(|p| p.into_inner())
    }
}

fn is_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    essence == "application/json" || essence.ends_with("+json")
}

fn step_of(document: Document) -> Step {
    match document {
        Document::ProtectedResource => Step::ProtectedResource,
        Document::AuthorizationServer => Step::AuthorizationServer,
    }
}

/// Runs the library's discovery and, past a failure, what can still be checked. Returns the authorization
/// server metadata found (validated or not) for the registration step.
#[allow(clippy::too_many_arguments)]
pub(super) async fn walk(
    http: &reqwest::Client,
    network: &NetworkGuard,
    server: &ResourceUri,
    challenge: Option<&BearerChallenge>,
    policy: DiscoveryPolicy,
    timeouts: &OAuthTimeouts,
    findings: &mut Vec<Finding>,
    tried: &mut Vec<Tried>,
) -> Option<AuthorizationServerMetadata> {
    let recorder = Recorder::default();
    let result =
        discovery::discover_observed(http, server, challenge, policy, network, timeouts.discovery, &recorder).await;
    let mut recorded = recorder.take();
    findings.append(&mut recorded.findings);
    tried.append(&mut recorded.tried);
    match result {
        Ok(found) => {
            checks_after_success(&found, &recorded, findings);
            let issuer = found.issuer.as_str().to_string();
            check_authorization_server(&found.authorization_server, &issuer, findings);
            Some(found.authorization_server)
        }
        Err(error) => {
            findings.push(from_error(&error));
            let validated_as = recorded.authorization_server.clone().map(|(_, m)| m);
            match (&error, &recorded.protected_resource) {
                // The resource was wrong, but the authorization server can still be looked at.
                (DiscoveryError::ResourceMismatch { .. }, Some((_, prm))) => {
                    let issuer = prm.authorization_servers.iter().find(|s| !s.trim().is_empty())?.clone();
                    let recorder = Recorder::default();
                    let deadline = timeouts.discovery;
                    let next =
                        discovery::authorization_server_observed(http, network, &issuer, policy, deadline, &recorder)
                            .await;
                    let mut recorded = recorder.take();
                    findings.append(&mut recorded.findings);
                    tried.append(&mut recorded.tried);
                    match next {
                        Ok(metadata) => {
                            check_authorization_server(&metadata, &issuer, findings);
                            Some(metadata)
                        }
                        Err(error) => {
                            findings.push(from_error(&error));
                            recorded.authorization_server.map(|(_, m)| m)
                        }
                    }
                }
                // The document was read, then refused: what else would be refused, and the rest.
                (DiscoveryError::IssuerMismatch { expected, .. }, _) => {
                    let mut metadata = validated_as?;
                    if let Err(next) = discovery::validate_endpoints(&mut metadata, policy) {
                        findings.push(from_error(&next));
                    }
                    check_authorization_server(&metadata, expected, findings);
                    Some(metadata)
                }
                (
                    DiscoveryError::PkceNotSupported { .. }
                    | DiscoveryError::InsecureEndpoint { .. }
                    | DiscoveryError::BlockedEndpoint { .. },
                    _,
                ) => {
                    let metadata = validated_as?;
                    check_authorization_server(&metadata, &metadata.issuer.clone(), findings);
                    Some(metadata)
                }
                _ => None,
            }
        }
    }
}

fn checks_after_success(found: &Discovery, recorded: &Recorded, findings: &mut Vec<Finding>) {
    match &found.protected_resource {
        None => {
            findings.push(
                Finding::new(
                    Step::ProtectedResource,
                    Severity::Warning,
                    "prm_missing",
                    "An MCP server publishes protected resource metadata",
                    RFC9728_3,
                )
                .seen("no protected resource metadata at any location tried; superdynamic falls back to MCP 2025-03-26 \
                       discovery at the server's origin, clients of 2025-06-18 and later fail")
                .fix("serve /.well-known/oauth-protected-resource (with the MCP path appended) naming your authorization server"),
            );
            if recorded.authorization_server.is_none() {
                findings.push(
                    Finding::new(
                        Step::AuthorizationServer,
                        Severity::Warning,
                        "as_metadata_missing_defaults",
                        "An authorization server publishes its metadata",
                        "RFC 8414 §3; MCP 2025-03-26 basic/authorization §Fallbacks for Servers without Metadata Discovery",
                    )
                    .seen(format!(
                        "no metadata at the origin either; assuming {}, {} and {}",
                        found.authorization_server.authorization_endpoint,
                        found.authorization_server.token_endpoint,
                        found.authorization_server.registration_endpoint.as_deref().unwrap_or("no registration"),
                    ))
                    .fix("serve /.well-known/oauth-authorization-server"),
                );
            }
        }
        Some(prm) => {
            let url = recorded.protected_resource.as_ref().map_or("", |(u, _)| u.as_str());
            let seen =
                format!("{url}: resource \"{}\", authorization_servers {:?}", prm.resource, prm.authorization_servers);
            findings.push(
                Finding::new(
                    Step::ProtectedResource,
                    Severity::Info,
                    "prm_resource",
                    "The metadata's resource identifies this server",
                    "RFC 9728 §3.3",
                )
                .seen(seen),
            );
            if let Some(scopes) = &prm.scopes_supported {
                findings.push(
                    Finding::new(
                        Step::ProtectedResource,
                        Severity::Info,
                        "prm_scopes",
                        "Scopes the server uses",
                        "RFC 9728 §2",
                    )
                    .seen(format!("scopes_supported: {}", scopes.join(" "))),
                );
            }
        }
    }
}

/// What the library's refusal means for the operator.
pub(super) fn from_error(error: &DiscoveryError) -> Finding {
    let e = Severity::Error;
    match error {
        DiscoveryError::ProtectedResource { url, source } => http_finding(Step::ProtectedResource, url, source),
        DiscoveryError::AuthorizationServer { url, source } => http_finding(Step::AuthorizationServer, url, source),
        DiscoveryError::ResourceMismatch { expected, found } => Finding::new(
            Step::ProtectedResource,
            e,
            "prm_resource_mismatch",
            "The metadata's resource is this server's URL (or a same-origin prefix of it)",
            "RFC 9728 §3.3",
        )
        .seen(format!("resource \"{found}\" for server {expected}"))
        .fix(format!("set resource to \"{expected}\"")),
        DiscoveryError::NoAuthorizationServer { url } => Finding::new(
            Step::ProtectedResource,
            e,
            "prm_no_authorization_server",
            "The metadata lists at least one authorization server",
            "RFC 9728 §2; MCP basic/authorization §Authorization Server Location",
        )
        .seen(format!("{url}: authorization_servers is empty"))
        .fix("list your authorization server's issuer in authorization_servers"),
        DiscoveryError::BadIssuer(issuer) => Finding::new(
            Step::ProtectedResource,
            e,
            "prm_bad_issuer",
            "An issuer is an https URL without query or fragment (http only on loopback)",
            "RFC 8414 §2",
        )
        .seen(format!("authorization server \"{issuer}\""))
        .fix("name the authorization server by its https issuer URL"),
        DiscoveryError::AuthorizationServerNotFound { issuer, tried } => Finding::new(
            Step::AuthorizationServer,
            e,
            "as_metadata_missing",
            "The authorization server serves RFC 8414 or OpenID Connect metadata at a well-known URL",
            RFC8414_3,
        )
        .seen(format!("no metadata for issuer {issuer} at {}", tried.join(", ")))
        .fix(format!("serve the metadata at {}", tried.first().map_or("", String::as_str))),
        DiscoveryError::IssuerMismatch { url, expected, found } => Finding::new(
            Step::AuthorizationServer,
            e,
            "as_issuer_mismatch",
            "The metadata's issuer is identical to the issuer it was fetched for",
            "RFC 8414 §3.3",
        )
        .seen(format!("{url} says issuer \"{found}\", fetched for \"{expected}\""))
        .fix(format!("make the two the same string: set issuer to \"{expected}\", or list \"{found}\" in the protected resource metadata")),
        DiscoveryError::PkceNotSupported { issuer } => Finding::new(
            Step::AuthorizationServer,
            e,
            "pkce_s256_missing",
            "The authorization server advertises PKCE S256 in code_challenge_methods_supported",
            "RFC 7636 §4.2; MCP basic/authorization §Authorization Code Protection",
        )
        .seen(format!("authorization server {issuer} does not list S256"))
        .fix("support S256 and add \"code_challenge_methods_supported\": [\"S256\"] to the metadata"),
        DiscoveryError::InsecureEndpoint { field, url, .. } => Finding::new(
            Step::AuthorizationServer,
            e,
            "endpoint_insecure",
            "Every endpoint is https (http only on loopback)",
            SECURE,
        )
        .seen(format!("{field}: {url}"))
        .fix(format!("serve {field} over https")),
        DiscoveryError::BlockedEndpoint { field, url, blocked, .. } => Finding::new(
            Step::AuthorizationServer,
            e,
            "endpoint_blocked",
            "A public server's endpoints are on public addresses",
            SECURE,
        )
        .seen(format!("{field}: {url}: {blocked}"))
        .fix(format!("give {field} a public address (private deployments: clients need --allow-private-network)")),
    }
}

/// A fetch that failed, by what failed.
pub(super) fn http_finding(step: Step, url: &str, source: &HttpError) -> Finding {
    let e = Severity::Error;
    let get = "The document is readable: HTTP 200, JSON, within bounds";
    let cite = match step {
        Step::ProtectedResource => RFC9728_3,
        _ => RFC8414_3,
    };
    let seen = source.to_string();
    match source {
        HttpError::Connect { detail, .. } if is_certificate_problem(detail) => tls_finding(url, detail),
        HttpError::Timeout { .. } => Finding::new(step, e, "slow_answer", get, cite)
            .seen(seen)
            .fix("answer metadata requests within a few seconds (clients give up)"),
        HttpError::TooLarge { limit, .. } => Finding::new(step, e, "oversized_answer", get, cite)
            .seen(format!("{url} sent more than {limit} bytes"))
            .fix("metadata is a few KiB: serve the document itself"),
        HttpError::TooManyRedirects { .. } => Finding::new(step, e, "redirect_loop", get, "RFC 9110 §15.4")
            .seen(seen)
            .fix("serve the document at the URL, or redirect once to where it is"),
        HttpError::Insecure { .. } => {
            Finding::new(step, e, "insecure_url", "Metadata is fetched over https (http only on loopback)", SECURE)
                .seen(seen)
                .fix("serve it over https, and never redirect to http")
        }
        HttpError::Blocked { .. } => {
            Finding::new(step, e, "blocked_address", "A public server's metadata is on public addresses", SECURE)
                .seen(seen)
                .fix("publish it on a public address (private deployments: clients need --allow-private-network)")
        }
        HttpError::NotJson { .. } => Finding::new(step, e, "not_json", get, cite)
            .seen(seen)
            .fix("serve the metadata as a JSON object with the required fields"),
        HttpError::Status { status, .. } => {
            let code = if *status == 404 { "metadata_not_found" } else { "metadata_status" };
            Finding::new(step, e, code, get, cite).seen(seen).fix(format!("serve the document at {url} with HTTP 200"))
        }
        HttpError::Connect { .. } | HttpError::Setup(_) => {
            Finding::new(step, e, "unreachable", get, cite).seen(seen).fix("make the URL reachable from clients")
        }
    }
}

/// The metadata's content beyond what discovery refuses on.
fn check_authorization_server(m: &AuthorizationServerMetadata, issuer: &str, findings: &mut Vec<Finding>) {
    let step = Step::AuthorizationServer;
    let info = |code, rule, cite, seen: String| Finding::new(step, Severity::Info, code, rule, cite).seen(seen);
    if m.issuer == issuer {
        findings.push(info(
            "as_issuer",
            "The metadata's issuer is the one it was fetched for",
            "RFC 8414 §3.3",
            format!("issuer \"{issuer}\""),
        ));
    }
    if let Some(methods) = &m.code_challenge_methods_supported
        && methods.iter().any(|x| x == "S256")
    {
        let seen = format!("code_challenge_methods_supported: {}", methods.join(" "));
        findings.push(info(
            "pkce",
            "PKCE S256 is advertised",
            "RFC 7636 §4.2; MCP basic/authorization §Authorization Code Protection",
            seen,
        ));
    }
    // An endpoint on another scheme than its issuer is usually a proxy that terminates TLS and rewrites URLs.
    if let Ok(issuer_url) = Url::parse(&m.issuer) {
        for (field, value) in endpoints(m) {
            let Ok(url) = Url::parse(value) else { continue };
            if url.scheme() != issuer_url.scheme() && (url.scheme() == "http" || url.scheme() == "https") {
                findings.push(
                    Finding::new(
                        step,
                        Severity::Warning,
                        "endpoint_scheme_differs",
                        "Endpoints are served on the issuer's scheme",
                        SECURE,
                    )
                    .seen(format!("issuer {} but {field} {value}", m.issuer))
                    .fix(format!(
                        "serve {field} on {}:// like the issuer (check the proxy's forwarded-proto header)",
                        issuer_url.scheme()
                    )),
                );
            }
        }
    }
    let grants = m.grant_types_supported.as_deref();
    if grants.is_some_and(|g| !g.iter().any(|x| x == "authorization_code")) {
        findings.push(
            Finding::new(
                step,
                Severity::Error,
                "no_authorization_code_grant",
                "The authorization code grant is offered",
                "RFC 8414 §2; OAuth 2.1 §4.1",
            )
            .seen(format!("grant_types_supported: {}", grants.unwrap_or_default().join(" ")))
            .fix("offer authorization_code (with PKCE)"),
        );
    }
    if grants.is_some_and(|g| !g.iter().any(|x| x == "refresh_token")) {
        findings.push(info(
            "no_refresh_token_grant",
            "Refresh tokens spare the user a sign-in when the access token expires",
            "MCP basic/authorization §Refresh Tokens",
            "grant_types_supported has no refresh_token: users sign in again at every expiry".into(),
        ));
    }
    let methods = m.auth_methods();
    if m.token_endpoint_auth_methods_supported.is_some() && !methods.iter().any(|x| x == "none") {
        findings.push(
            Finding::new(
                step,
                Severity::Warning,
                "no_public_clients",
                "Native MCP clients are public clients (token_endpoint_auth_method none)",
                "RFC 8414 §2; RFC 7591 §2; MCP basic/authorization §Client Registration Approaches",
            )
            .seen(format!("token_endpoint_auth_methods_supported: {}", methods.join(" ")))
            .fix("add \"none\" to token_endpoint_auth_methods_supported, or pre-register clients"),
        );
    } else {
        let seen = format!("token_endpoint_auth_methods_supported: {}", methods.join(" "));
        findings.push(info(
            "token_auth_methods",
            "How clients authenticate at the token endpoint",
            "RFC 8414 §2",
            seen,
        ));
    }
    if m.authorization_response_iss_parameter_supported {
        findings.push(info(
            "iss",
            "The authorization response carries iss",
            "RFC 9207 §2.3",
            "authorization_response_iss_parameter_supported: true".into(),
        ));
    } else {
        findings.push(
            Finding::new(
                step,
                Severity::Warning,
                "iss_not_supported",
                "Authorization servers include iss in authorization responses and advertise it (SHOULD)",
                "RFC 9207 §2; MCP 2026-07-28 basic/authorization §Authorization Server Issuer Identification",
            )
            .seen("authorization_response_iss_parameter_supported is absent or false")
            .fix("add iss to authorization responses and set authorization_response_iss_parameter_supported: true"),
        );
    }
    if let Some(scopes) = &m.scopes_supported {
        findings.push(info(
            "as_scopes",
            "Scopes the authorization server knows",
            "RFC 8414 §2",
            format!("scopes_supported: {}", scopes.join(" ")),
        ));
    }
    let dpop = match &m.dpop_signing_alg_values_supported {
        Some(algs) if !algs.is_empty() => format!("DPoP proofs accepted: {}", algs.join(" ")),
        _ => "no dpop_signing_alg_values_supported: bearer tokens only".to_string(),
    };
    findings.push(info(
        "dpop",
        "Sender-constrained tokens (DPoP) are advertised with their algorithms",
        "RFC 9449 §5.1",
        dpop,
    ));
}

fn endpoints(m: &AuthorizationServerMetadata) -> Vec<(&'static str, &str)> {
    let mut list = vec![
        ("authorization_endpoint", m.authorization_endpoint.as_str()),
        ("token_endpoint", m.token_endpoint.as_str()),
    ];
    for (field, value) in [
        ("registration_endpoint", &m.registration_endpoint),
        ("revocation_endpoint", &m.revocation_endpoint),
        ("device_authorization_endpoint", &m.device_authorization_endpoint),
    ] {
        if let Some(v) = value {
            list.push((field, v.as_str()));
        }
    }
    list
}

/// Browser-based clients (the MCP Inspector, web apps) read metadata cross-origin: without
/// `Access-Control-Allow-Origin` they cannot. Native clients are unaffected, so this is for the record.
pub(super) async fn cors(http: &reqwest::Client, tried: &[Tried], findings: &mut Vec<Finding>) {
    for t in tried.iter().filter(|t| t.error.is_none()) {
        let Ok(url) = Url::parse(&t.url) else { continue };
        let request = http.get(url).header("Origin", "https://client.example").header("Accept", "application/json");
        let Ok(response) = request.send().await else { continue };
        let allowed =
            response.headers().get("access-control-allow-origin").and_then(|v| v.to_str().ok()).map(printable);
        let seen = match &allowed {
            Some(origin) => format!("{}: Access-Control-Allow-Origin: {origin}", t.url),
            None => format!("{}: no Access-Control-Allow-Origin; browser-based clients cannot read it", t.url),
        };
        let rule = "Metadata read by browser-based clients is served with CORS headers";
        findings.push(
            Finding::new(step_of(t.document), Severity::Info, "cors", rule, "RFC 8414 §3; Fetch Standard §3.2 (CORS)")
                .seen(seen),
        );
    }
}
