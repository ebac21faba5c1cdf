//! The 401 and its `WWW-Authenticate`: parsed with the library's parser, with what is malformed named.

use super::finding::{Finding, Severity, Step};
use crate::discovery::{BearerChallenge, www_authenticate};
use url::Url;

const RFC6750: &str = "RFC 6750 §3";
const RFC9728_5: &str = "RFC 9728 §5.1; MCP basic/authorization §Protected Resource Metadata Discovery Requirements";

/// Findings about the challenge, and the Bearer challenge discovery will use.
pub(super) fn check(status: u16, values: &[String], findings: &mut Vec<Finding>) -> Option<BearerChallenge> {
    let step = Step::Challenge;
    if status == 403 {
        findings.push(
            Finding::new(
                step,
                Severity::Warning,
                "challenge_403",
                "A request without a token is answered 401",
                RFC6750,
            )
            .seen("the request without a token was answered HTTP 403")
            .fix("answer requests without an Authorization header with 401 and a Bearer challenge"),
        );
    }
    if values.is_empty() {
        findings.push(
            Finding::new(
                step,
                Severity::Warning,
                "challenge_missing",
                "A 401 carries a WWW-Authenticate challenge",
                RFC6750,
            )
            .seen(format!("HTTP {status} without a WWW-Authenticate header"))
            .fix(
                r#"send WWW-Authenticate: Bearer resource_metadata="https://…/.well-known/oauth-protected-resource…""#,
            ),
        );
        return None;
    }
    let challenges: Vec<_> = values.iter().flat_map(|v| www_authenticate::parse(v)).collect();
    let schemes: Vec<&str> = challenges.iter().map(|c| c.scheme.as_str()).collect();
    let Some(bearer) = BearerChallenge::from_headers(values) else {
        let seen = if schemes.is_empty() {
            format!("WWW-Authenticate: {} (no challenge could be read from it)", values.join(", "))
        } else {
            format!("WWW-Authenticate: {} (schemes: {})", values.join(", "), schemes.join(", "))
        };
        findings.push(
            Finding::new(
                step,
                Severity::Warning,
                "challenge_not_bearer",
                "The challenge uses the Bearer scheme",
                RFC6750,
            )
            .seen(seen)
            .fix(r#"send WWW-Authenticate: Bearer resource_metadata="…", scope="…""#),
        );
        return None;
    };
    let raw = values.join(", ");
    match bearer.resource_metadata.as_deref() {
        None => {
            let fix = if raw.to_ascii_lowercase().contains("resource_metadata") {
                "resource_metadata is there but could not be read: quote its value (resource_metadata=\"https://…\")"
            } else {
                "add resource_metadata=\"<URL of your protected resource metadata>\" to the Bearer challenge"
            };
            findings.push(
                Finding::new(
                    step,
                    Severity::Warning,
                    "challenge_without_resource_metadata",
                    "The Bearer challenge names the protected resource metadata (resource_metadata)",
                    RFC9728_5,
                )
                .seen(format!("WWW-Authenticate: {raw}"))
                .fix(fix),
            );
        }
        Some(url) if Url::parse(url).is_err() => {
            findings.push(
                Finding::new(
                    step,
                    Severity::Error,
                    "challenge_resource_metadata_invalid",
                    "resource_metadata is an absolute URL",
                    RFC9728_5,
                )
                .seen(format!("resource_metadata=\"{url}\""))
                .fix("give the full https URL of the protected resource metadata"),
            );
        }
        Some(url) => findings.push(
            Finding::new(step, Severity::Info, "challenge", "The Bearer challenge names the metadata", RFC9728_5)
                .seen(format!("HTTP {status}, resource_metadata=\"{url}\"")),
        ),
    }
    // RFC 9110 §11.2: a value with characters outside `token` (a URL's ':' and '/') must be a quoted-string;
    // lenient parsers read it anyway, strict ones drop the parameter.
    for (name, value) in challenges.iter().filter(|c| c.is_bearer()).flat_map(|c| c.params.iter()) {
        let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
        let quoted = raw.contains(&format!("{name}=\"")) || raw.contains(&format!("{name}= \""));
        if !quoted && !value.chars().all(token) {
            findings.push(
                Finding::new(
                    step,
                    Severity::Warning,
                    "challenge_unquoted",
                    "A parameter value outside the token characters is a quoted-string",
                    "RFC 9110 §11.2; RFC 6750 §3",
                )
                .seen(format!("{name}={value} (not quoted)"))
                .fix(format!("send {name}=\"{value}\"")),
            );
        }
    }
    if let Some(scope) = &bearer.scope {
        findings.push(
            Finding::new(
                step,
                Severity::Info,
                "challenge_scope",
                "The challenge's scope is what a client asks for first",
                "MCP basic/authorization §Scope Selection Strategy",
            )
            .seen(format!("scope=\"{scope}\"")),
        );
    }
    Some(bearer)
}
