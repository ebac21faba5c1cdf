//! Getting a client identity: a pre-registered client for this issuer, Client ID Metadata Documents, or
//! Dynamic Client Registration, which is tried for real with the request superdynamic sends.

use super::DoctorOptions;
use super::finding::{Finding, Severity, Step};
use super::metadata::http_finding;
use crate::discovery::AuthorizationServerMetadata;
use crate::registration::{self, RegistrationError, RegistrationRequest};

const APPROACHES: &str = "MCP basic/authorization §Client Registration Approaches";
/// The redirect URI of the probe registration: loopback, any port at use time (RFC 8252 §7.3).
const PROBE_REDIRECT: &str = "http://127.0.0.1/callback";

pub(super) async fn check(
    http: &reqwest::Client,
    m: &AuthorizationServerMetadata,
    options: &DoctorOptions,
    findings: &mut Vec<Finding>,
) {
    let step = Step::Registration;
    let pre_registered = options.pre_registered.iter().any(|i| i.as_deref().is_none_or(|i| i == m.issuer));
    if pre_registered {
        findings.push(
            Finding::new(step, Severity::Info, "pre_registered", "A pre-registered client is used first", APPROACHES)
                .seen(format!("a client ID is configured for {}", m.issuer)),
        );
    }
    let metadata_document = m.client_id_metadata_document_supported && options.client_metadata_url.is_some();
    let cimd = if m.client_id_metadata_document_supported {
        "client_id_metadata_document_supported: true"
    } else {
        "no client_id_metadata_document_supported"
    };
    let cimd_seen = match (&options.client_metadata_url, m.client_id_metadata_document_supported) {
        (Some(url), true) => format!("{cimd}; your document {url} will be the client ID"),
        (None, true) => format!("{cimd}; give clients --client-metadata-url to use it"),
        _ => cimd.to_string(),
    };
    findings.push(
        Finding::new(
            step,
            Severity::Info,
            "cimd",
            "An HTTPS URL can be the client ID when the server supports Client ID Metadata Documents",
            "draft-ietf-oauth-client-id-metadata-document §3; MCP basic/authorization §Client ID Metadata Documents",
        )
        .seen(cimd_seen),
    );
    let other_way = pre_registered || metadata_document;
    let Some(endpoint) = &m.registration_endpoint else {
        if !other_way {
            findings.push(
                Finding::new(
                    step,
                    Severity::Error,
                    "no_registration",
                    "A client needs an identity: pre-registration, a Client ID Metadata Document, or RFC 7591 registration",
                    APPROACHES,
                )
                .seen(format!("{} offers no registration_endpoint and no Client ID Metadata Documents, and no client ID is configured", m.issuer))
                .fix("offer Dynamic Client Registration (RFC 7591) or Client ID Metadata Documents, or hand out client IDs (clients pass --client-id)"),
            );
        }
        return;
    };
    if !options.probe_registration {
        findings.push(
            Finding::new(step, Severity::Info, "dcr_not_probed", "Dynamic Client Registration", "RFC 7591 §3.1")
                .seen(format!(
                    "{endpoint} not tried (--no-register); a registration would send redirect_uris [\"{PROBE_REDIRECT}\"], \
                     token_endpoint_auth_method none, grant_types authorization_code refresh_token, application_type native"
                )),
        );
        return;
    }
    let request = RegistrationRequest {
        client_name: "superdynamic doctor",
        redirect_uri: PROBE_REDIRECT,
        scope: None,
        device_grant: false,
        extra_metadata: None,
    };
    match registration::register(http, endpoint, &request).await {
        Ok(_) => findings.push(
            Finding::new(
                step,
                Severity::Info,
                "dcr",
                "Dynamic Client Registration accepts a public native client",
                "RFC 7591 §3.2.1",
            )
            .seen(format!("{endpoint} registered a probe client (\"superdynamic doctor\", redirect {PROBE_REDIRECT})")),
        ),
        Err(error) => {
            // Blocking only when it is the one way to a client identity.
            let severity = if other_way { Severity::Warning } else { Severity::Error };
            let mut finding = match &error {
                RegistrationError::Http(source) if !matches!(source, crate::http::HttpError::Status { .. }) => {
                    http_finding(step, endpoint, source)
                }
                _ => Finding::new(
                    step,
                    severity,
                    "dcr_failed",
                    "Dynamic Client Registration accepts a public native client (token_endpoint_auth_method none, loopback redirect URI)",
                    "RFC 7591 §3.2; RFC 8252 §7.3; MCP basic/authorization §Dynamic Client Registration",
                )
                .seen(format!("{endpoint}: {error}"))
                .fix("accept registrations with a loopback redirect URI on any port and token_endpoint_auth_method none"),
            };
            finding.severity = severity;
            findings.push(finding);
        }
    }
}
