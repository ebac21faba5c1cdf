//! What the diagnosis found: findings with a severity, the rule and its citation, what was seen and what to
//! change, and the report that gathers them with a verdict. The JSON shape is stable (see the README).

use crate::discovery::{Document, Origin};
use serde::Serialize;

/// The shape's version, bumped on any incompatible change to the JSON document.
pub const REPORT_SCHEMA: &str = "superdynamic.doctor/1";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Blocks sign-in, for superdynamic and for clients that follow the specification.
    Error,
    /// A deviation from the specification: superdynamic copes, some clients fail on it.
    Warning,
    /// What was found, for the record.
    Info,
}

impl Severity {
    pub fn label(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// The step of a sign-in a finding is about, in the order a client meets them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// The unauthenticated request and its `WWW-Authenticate` challenge.
    Challenge,
    /// RFC 9728 protected resource metadata.
    ProtectedResource,
    /// RFC 8414 / OpenID Connect authorization server metadata.
    AuthorizationServer,
    /// Getting a client identity: pre-registered, Client ID Metadata Document, or Dynamic Client Registration.
    Registration,
    /// Transport security: https, loopback, certificates.
    Tls,
    /// The MCP protocol generations the server speaks.
    Transport,
}

impl Step {
    pub fn label(self) -> &'static str {
        match self {
            Step::Challenge => "challenge",
            Step::ProtectedResource => "protected resource metadata",
            Step::AuthorizationServer => "authorization server",
            Step::Registration => "registration",
            Step::Tls => "tls",
            Step::Transport => "transport",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub step: Step,
    pub severity: Severity,
    /// A stable identifier, e.g. `prm_resource_mismatch`.
    pub code: &'static str,
    /// The rule, in a sentence.
    pub rule: &'static str,
    /// Where the rule is written: an RFC section or an MCP specification page.
    pub citation: &'static str,
    /// What the server did (control characters removed).
    pub seen: String,
    /// What its operator should change; `None` for info findings that need nothing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Finding {
    pub fn new(step: Step, severity: Severity, code: &'static str, rule: &'static str, citation: &'static str) -> Self {
        Self { step, severity, code, rule, citation, seen: String::new(), fix: None }
    }

    pub fn seen(mut self, seen: impl AsRef<str>) -> Self {
        self.seen = printable(seen.as_ref());
        self
    }

    pub fn fix(mut self, fix: impl AsRef<str>) -> Self {
        self.fix = Some(printable(fix.as_ref()));
        self
    }
}

/// One location discovery tried and what it answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tried {
    pub document: Document,
    pub origin: Origin,
    pub url: String,
    /// The HTTP status, when response headers came.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// Why it was not used; `None` when the document was read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Whether the server speaks one MCP protocol generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Support {
    Yes,
    No,
    /// The server wants a token before it answers (run with `--sign-in`), or did not answer.
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Generations {
    /// 2026-07-28, stateless.
    pub modern: Support,
    /// 2025-03-26 to 2025-11-25, `initialize`-based.
    pub legacy: Support,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// No error finding: superdynamic can sign in.
    pub superdynamic_can_sign_in: bool,
    /// No error and no warning: a client that follows the specification strictly can sign in too.
    pub strict_clients_can_sign_in: bool,
    pub errors: usize,
    pub warnings: usize,
    pub infos: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub schema: &'static str,
    pub server: String,
    /// Whether the report comes from a signed-in run (`--sign-in`).
    pub signed_in: bool,
    pub summary: Summary,
    pub generations: Generations,
    /// Every metadata location tried, in order.
    pub tried: Vec<Tried>,
    /// In step order, errors first within a step.
    pub findings: Vec<Finding>,
}

impl Report {
    pub fn new(
        server: &str,
        signed_in: bool,
        mut findings: Vec<Finding>,
        tried: Vec<Tried>,
        generations: Generations,
    ) -> Self {
        findings.sort_by_key(|f| (f.step, f.severity));
        let count = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
        let (errors, warnings, infos) = (count(Severity::Error), count(Severity::Warning), count(Severity::Info));
        let summary = Summary {
            superdynamic_can_sign_in: errors == 0,
            strict_clients_can_sign_in: errors == 0 && warnings == 0,
            errors,
            warnings,
            infos,
        };
        Self { schema: REPORT_SCHEMA, server: printable(server), signed_in, summary, generations, tried, findings }
    }

    /// Nothing blocks sign-in.
    pub fn passes(&self) -> bool {
        self.summary.errors == 0
    }
}

/// Text from a server, made safe to print and paste: control characters (terminal escapes among them) go,
/// and very long values are cut.
pub fn printable(text: &str) -> String {
    const MAX: usize = 400;
    let mut out: String = text.chars().filter(|c| !c.is_control()).take(MAX).collect();
    if text.chars().filter(|c| !c.is_control()).nth(MAX).is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_escapes_are_removed() {
        assert_eq!(printable("a\u{1b}[31mred\u{1b}[0m\r\nb\u{7}"), "a[31mred[0mb");
        assert_eq!(printable(&"x".repeat(500)).chars().count(), 401);
    }

    #[test]
    fn the_verdict_follows_the_severities() {
        let warn = Finding::new(Step::Challenge, Severity::Warning, "w", "r", "c");
        let generations = Generations { modern: Support::Unknown, legacy: Support::Unknown };
        let report = Report::new("https://x", false, vec![warn.clone()], vec![], generations.clone());
        assert!(report.summary.superdynamic_can_sign_in && !report.summary.strict_clients_can_sign_in);
        let error = Finding::new(Step::Registration, Severity::Error, "e", "r", "c");
        let report = Report::new("https://x", false, vec![warn, error], vec![], generations);
        assert!(!report.passes());
        assert_eq!(report.findings[0].severity, Severity::Warning, "step order first");
    }
}
