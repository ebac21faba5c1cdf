//! The requests a client sends before it has a token, once per MCP generation: what they answered says
//! whether sign-in is wanted (the 401 and its challenge), and, once signed in, which generations the server
//! speaks. They go through the library's own transport, as a real client's would.

use super::finding::{Finding, Severity, Step, Support};
use crate::secret::AccessToken;
use crate::transport::{Generation, ServerStream, StreamableHttp, TransportError, TransportOptions};
use std::time::Duration;
use url::Url;

/// What one generation's request came to.
pub(super) struct Probe {
    pub(super) generation: Option<Generation>,
    pub(super) outcome: Result<(), TransportError>,
}

impl Probe {
    /// The 401 or 403 and its `WWW-Authenticate` values, when that is how the server answered.
    pub(super) fn challenge(&self) -> Option<(u16, &[String])> {
        match &self.outcome {
            Err(TransportError::Unauthorized { www_authenticate }) => Some((401, www_authenticate)),
            Err(TransportError::Forbidden { www_authenticate }) => Some((403, www_authenticate)),
            _ => None,
        }
    }
}

/// `tools/list` as the given generation would send it: `None` sends the 2026-07-28 request first and falls
/// back to `initialize` as superdynamic does; `Some(Legacy)` starts with `initialize`.
pub(super) async fn probe(
    http: &reqwest::Client,
    url: &Url,
    start_with: Option<Generation>,
    timeout: Duration,
    bearer: Option<&AccessToken>,
    dpop: Option<&crate::dpop::DpopProver>,
) -> Probe {
    let options = TransportOptions {
        client_name: "superdynamic-doctor".to_owned(),
        request_timeout: timeout,
        generation_hint: start_with,
        server_stream: ServerStream::Never,
        ..TransportOptions::default()
    };
    let transport = StreamableHttp::new(http.clone(), url.clone(), options);
    transport.set_dpop(dpop.cloned());
    // The transport bounds each wait; this bounds a server that trickles forever (a negotiation is a few requests).
    let outcome = match tokio::time::timeout(timeout * 4, transport.request("tools/list", None, bearer)).await {
        Ok(result) => result.map(|_| ()),
        Err(_) => Err(TransportError::Timeout { what: "the answer to tools/list".into(), after: timeout * 4 }),
    };
    Probe { generation: transport.generation(), outcome }
}

/// The error and its causes in one line (reqwest keeps the certificate problem in a source).
pub(super) fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        text = format!("{text}: {s}");
        source = s.source();
    }
    text
}

/// Whether a connection failure was the certificate's.
pub(super) fn is_certificate_problem(detail: &str) -> bool {
    let lower = detail.to_ascii_lowercase();
    lower.contains("certificate") || lower.contains("unknownissuer") || lower.contains("tls handshake")
}

pub(super) fn tls_finding(url: &str, detail: &str) -> Finding {
    Finding::new(
        Step::Tls,
        Severity::Error,
        "tls_certificate",
        "The server's certificate must be valid for its name and chain to a trusted root",
        "MCP basic/authorization §Communication Security; RFC 9110 §4.3.4",
    )
    .seen(format!("{url}: {detail}"))
    .fix("serve a certificate from a public CA (or install your CA in the system trust store of every client)")
}

/// Which generations the two probes showed, with a finding each.
pub(super) fn generations(
    auto: &Probe,
    legacy: &Probe,
    signed_in: bool,
    findings: &mut Vec<Finding>,
) -> (Support, Support) {
    let answered = |p: &Probe| p.outcome.is_ok() || matches!(p.outcome, Err(TransportError::Rpc { .. }));
    let modern = match auto.generation {
        Some(Generation::Modern) => Support::Yes,
        Some(Generation::Legacy) => Support::No,
        None => Support::Unknown,
    };
    let legacy_support = match (legacy.generation, answered(legacy)) {
        (Some(Generation::Legacy), _) => Support::Yes,
        (Some(Generation::Modern), _) => Support::No,
        (None, _) if auto.generation == Some(Generation::Legacy) && answered(auto) => Support::Yes,
        _ => Support::Unknown,
    };
    let citation = "MCP basic/versioning §Backward Compatibility with Initialization-Based Versions";
    let rule = "A client tries the 2026-07-28 request first and falls back to initialize (2025-03-26..2025-11-25)";
    if modern == Support::Unknown && legacy_support == Support::Unknown {
        let why = if auto.challenge().is_some() && !signed_in {
            "both requests were answered with a sign-in challenge; run with --sign-in to probe them with a token"
        } else {
            "neither request was answered with MCP"
        };
        findings.push(Finding::new(Step::Transport, Severity::Info, "generations_unknown", rule, citation).seen(why));
    } else {
        let name = |s: Support| match s {
            Support::Yes => "yes",
            Support::No => "no",
            Support::Unknown => "unknown",
        };
        let seen = format!("2026-07-28: {}; initialize-based: {}", name(modern), name(legacy_support));
        let finding = Finding::new(Step::Transport, Severity::Info, "generations", rule, citation).seen(seen);
        findings.push(finding);
    }
    (modern, legacy_support)
}
