//! The report as text for a terminal or a bug report: one block per finding, the summary last. Every value
//! from the server was made printable when the finding was built.

use super::finding::{Report, Severity, Support};
use std::fmt::Write;

pub fn render_text(report: &Report) -> String {
    let mut out = String::new();
    let _ =
        writeln!(out, "superdynamic doctor {}{}", report.server, if report.signed_in { " (signed in)" } else { "" });
    if !report.tried.is_empty() {
        let _ = writeln!(out, "\nMetadata locations tried, in order:");
        for t in &report.tried {
            let answer = match (t.status, &t.error) {
                (_, None) => format!(
                    "HTTP {} {}",
                    t.status.unwrap_or(200),
                    t.content_type.as_deref().unwrap_or("(no content type)")
                ),
                (Some(status), Some(_)) if status == 404 || status == 410 => format!("HTTP {status}"),
                (_, Some(error)) => error.clone(),
            };
            let _ = writeln!(out, "  {:<6} {}\n         {answer}", label(&t.document), t.url);
        }
    }
    let mut step = None;
    for f in &report.findings {
        if step != Some(f.step) {
            let _ = writeln!(out, "\n[{}]", f.step.label());
            step = Some(f.step);
        }
        let mark = match f.severity {
            Severity::Error => "ERROR  ",
            Severity::Warning => "WARNING",
            Severity::Info => "info   ",
        };
        let _ = writeln!(out, "  {mark} {}  ({})", f.rule, f.citation);
        if !f.seen.is_empty() {
            let _ = writeln!(out, "          seen: {}", f.seen);
        }
        if let Some(fix) = &f.fix {
            let _ = writeln!(out, "          fix:  {fix}");
        }
    }
    let g = &report.generations;
    let _ =
        writeln!(out, "\nMCP generations: 2026-07-28 {}, initialize-based {}", support(g.modern), support(g.legacy));
    let s = &report.summary;
    let _ = writeln!(out, "{} error(s), {} warning(s).", s.errors, s.warnings);
    let verdict = match (s.superdynamic_can_sign_in, s.strict_clients_can_sign_in) {
        (true, true) => "superdynamic and clients that follow the specification strictly can sign in.",
        (true, false) => {
            "superdynamic can sign in; clients that follow the specification strictly may fail on the warnings."
        }
        _ => "Sign-in fails: superdynamic and other clients cannot sign in until the errors are fixed.",
    };
    let _ = writeln!(out, "{verdict}");
    out
}

fn label(document: &crate::discovery::Document) -> &'static str {
    match document {
        crate::discovery::Document::ProtectedResource => "PRM",
        crate::discovery::Document::AuthorizationServer => "AS",
    }
}

fn support(s: Support) -> &'static str {
    match s {
        Support::Yes => "yes",
        Support::No => "no",
        Support::Unknown => "unknown",
    }
}
