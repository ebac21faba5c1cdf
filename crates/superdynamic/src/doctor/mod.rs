//! `superdynamic doctor`: every step of a sign-in walked without signing in, each finding with its severity,
//! rule, citation, what was seen and what to change. The walk is the library's own: the probe goes through
//! the transport, discovery reports through its observer, registration is the one sign-in uses.

mod challenge;
mod finding;
mod metadata;
mod probe;
mod registration;
mod render;

pub use finding::{Finding, Generations, REPORT_SCHEMA, Report, Severity, Step, Summary, Support, Tried, printable};
pub use render::render_text;

use crate::discovery::DiscoveryPolicy;
use crate::http::{self, OAuthTimeouts};
use crate::resource::{ResourceUri, ResourceUriError, is_secure_or_loopback};
use crate::secret::AccessToken;
use crate::ssrf::NetworkGuard;
use crate::transport::{Generation, TransportError};
use probe::{chain, is_certificate_problem, tls_finding};

#[derive(Debug, Clone)]
pub struct DoctorOptions {
    pub oauth_timeouts: OAuthTimeouts,
    pub allow_private_network: bool,
    pub discovery_policy: DiscoveryPolicy,
    /// Issuers a pre-registered client is configured for (`None`: for any issuer).
    pub pre_registered: Vec<Option<String>>,
    pub client_metadata_url: Option<String>,
    /// Send a real Dynamic Client Registration request (it creates a client at the server).
    pub probe_registration: bool,
    /// A token from a sign-in, for probing the MCP generations behind the 401.
    pub bearer: Option<AccessToken>,
    /// The key that token is bound to, when it is DPoP-bound ([`crate::McpClient::dpop_prover`]).
    pub dpop: Option<crate::dpop::DpopProver>,
}

impl Default for DoctorOptions {
    fn default() -> Self {
        Self {
            oauth_timeouts: OAuthTimeouts::default(),
            allow_private_network: false,
            discovery_policy: DiscoveryPolicy::default(),
            pre_registered: Vec::new(),
            client_metadata_url: None,
            probe_registration: true,
            bearer: None,
            dpop: None,
        }
    }
}

/// Diagnoses `server_url`. Only an unusable URL is an error; anything the server does is a finding.
pub async fn diagnose(server_url: &str, options: &DoctorOptions) -> Result<Report, ResourceUriError> {
    let server = ResourceUri::parse(server_url)?;
    let mut findings = Vec::new();
    let mut tried = Vec::new();
    let unknown = Generations { modern: Support::Unknown, legacy: Support::Unknown };
    let signed_in = options.bearer.is_some();
    let done = |findings, tried, generations| Ok(Report::new(server.as_str(), signed_in, findings, tried, generations));
    if !is_secure_or_loopback(server.url()) {
        findings.push(
            Finding::new(
                Step::Tls,
                Severity::Error,
                "server_not_https",
                "An MCP server is reached over https (http only on loopback)",
                "MCP basic/authorization §Communication Security",
            )
            .seen(format!("{server} is plain http on a non-loopback host"))
            .fix("serve the MCP endpoint over https"),
        );
        return done(findings, tried, unknown);
    }
    let guard = NetworkGuard::new(server.url(), options.allow_private_network, None);
    let setup = |e: http::HttpError| {
        Finding::new(Step::Transport, Severity::Error, "setup", "The client can make requests", "-").seen(e.to_string())
    };
    let oauth = match http::oauth_client(&options.oauth_timeouts, guard.clone()) {
        Ok(client) => client,
        Err(e) => return done(vec![setup(e)], tried, unknown),
    };
    let mcp = match http::guarded_client(options.oauth_timeouts.request, guard.clone()) {
        Ok(client) => client,
        Err(e) => return done(vec![setup(e)], tried, unknown),
    };
    let timeout = options.oauth_timeouts.request;
    let first = probe::probe(&mcp, server.url(), None, timeout, None, None).await;
    if let Some(blocking) = unreachable(&server, &first.outcome) {
        findings.push(blocking);
        return done(findings, tried, unknown);
    }
    let first_legacy = probe::probe(&mcp, server.url(), Some(Generation::Legacy), timeout, None, None).await;
    // With a token, the generations are probed behind the 401; the challenge is the unauthenticated answer's.
    let signed = match &options.bearer {
        Some(token) => Some((
            probe::probe(&mcp, server.url(), None, timeout, Some(token), options.dpop.as_ref()).await,
            probe::probe(&mcp, server.url(), Some(Generation::Legacy), timeout, Some(token), options.dpop.as_ref())
                .await,
        )),
        None => None,
    };
    let (auto, legacy) = signed.as_ref().map_or((&first, &first_legacy), |(a, l)| (a, l));
    let (modern_support, legacy_support) = probe::generations(auto, legacy, signed_in, &mut findings);
    let generations = Generations { modern: modern_support, legacy: legacy_support };

    let Some((status, values)) = first.challenge().map(|(s, v)| (s, v.to_vec())) else {
        not_challenged(&mcp, &server, &first, &first_legacy, &mut findings).await;
        return done(findings, tried, generations);
    };
    let bearer = challenge::check(status, &values, &mut findings);
    let policy = options.discovery_policy;
    let found = metadata::walk(
        &oauth,
        &guard,
        &server,
        bearer.as_ref(),
        policy,
        &options.oauth_timeouts,
        &mut findings,
        &mut tried,
    )
    .await;
    metadata::cors(&oauth, &tried, &mut findings).await;
    if let Some(authorization_server) = found {
        registration::check(&oauth, &authorization_server, options, &mut findings).await;
    }
    done(findings, tried, generations)
}

/// A server that could not be talked to at all: nothing else can be checked.
fn unreachable(server: &ResourceUri, outcome: &Result<(), TransportError>) -> Option<Finding> {
    let rule = "The MCP server answers the client";
    let cite = "MCP basic/transports §Streamable HTTP";
    match outcome {
        Err(TransportError::Connect { source, .. }) => {
            let detail = chain(source);
            if is_certificate_problem(&detail) {
                return Some(tls_finding(server.as_str(), &detail));
            }
            Some(
                Finding::new(Step::Transport, Severity::Error, "unreachable", rule, cite)
                    .seen(format!("{server}: {detail}"))
                    .fix("check the URL, and that the server is running and reachable from clients"),
            )
        }
        Err(error @ TransportError::Timeout { .. }) => Some(
            Finding::new(Step::Transport, Severity::Error, "slow_answer", rule, cite)
                .seen(format!("{server}: {error}"))
                .fix("answer within seconds; a client gives up on a server that does not start answering"),
        ),
        _ => None,
    }
}

/// No 401: either no sign-in is needed, or the server speaks something a client cannot use.
async fn not_challenged(
    http: &reqwest::Client,
    server: &ResourceUri,
    auto: &probe::Probe,
    legacy: &probe::Probe,
    findings: &mut Vec<Finding>,
) {
    let cite = "MCP basic/authorization §Authorization Flow Steps";
    if auto.generation.is_some() || legacy.generation.is_some() {
        findings.push(
            Finding::new(
                Step::Challenge,
                Severity::Info,
                "no_sign_in_needed",
                "A server that wants sign-in answers 401",
                cite,
            )
            .seen("the server answered MCP requests without a token: there is nothing to sign in to"),
        );
        return;
    }
    if crate::client::speaks_http_sse(http, server.url(), None, None).await {
        findings.push(
            Finding::new(
                Step::Transport,
                Severity::Warning,
                "legacy_sse_only",
                "MCP servers speak Streamable HTTP; the HTTP+SSE transport of 2024-11-05 is deprecated",
                "MCP 2025-03-26 basic/transports §Backwards Compatibility",
            )
            .seen(format!(
                "{server} answers GET with an SSE stream whose first event is endpoint, and refuses POST: superdynamic \
                 and mcp-remote fall back to it, clients that only speak Streamable HTTP cannot connect"
            ))
            .fix("serve Streamable HTTP (often the same server at /mcp), or give users that URL"),
        );
        return;
    }
    let seen = match &auto.outcome {
        Err(error) => format!("{server}: {error}"),
        Ok(()) => format!("{server}: no MCP answer"),
    };
    findings.push(
        Finding::new(
            Step::Transport,
            Severity::Error,
            "not_mcp",
            "The URL is an MCP endpoint that answers 401 without a token",
            cite,
        )
        .seen(seen)
        .fix("give clients the URL of the MCP endpoint itself (often ending in /mcp)"),
    );
}
