//! What discovery tried, step by step: every location fetched and what it answered, and each document read
//! before it is validated. `superdynamic doctor` builds its report from these; `-v` logs them.

use super::metadata::{AuthorizationServerMetadata, ProtectedResourceMetadata};
use crate::http::{Answer, HttpError};
use url::Url;

/// The document a location was fetched for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Document {
    /// RFC 9728 protected resource metadata.
    ProtectedResource,
    /// RFC 8414 or OpenID Connect Discovery authorization server metadata.
    AuthorizationServer,
}

/// Why this location was tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// The `resource_metadata` of the 401's `WWW-Authenticate` (RFC 9728 §5.1).
    Challenge,
    /// A well-known URL, in the spec's order (RFC 9728 §3.1, RFC 8414 §3.1, OpenID Connect Discovery §4).
    WellKnown,
    /// MCP 2025-03-26: the RFC 8414 URL at the MCP server's origin, with no protected resource metadata.
    LegacyOrigin,
}

#[derive(Debug)]
pub enum DiscoveryEvent<'a> {
    /// One GET: the answer's status line and content type when headers came, and the error when it failed.
    Fetched {
        document: Document,
        origin: Origin,
        url: &'a Url,
        answer: Option<&'a Answer>,
        error: Option<&'a HttpError>,
    },
    /// A protected resource metadata document was read from `url`; validation follows.
    ProtectedResource { url: &'a str, metadata: &'a ProtectedResourceMetadata },
    /// An authorization server metadata document was read from `url` for `issuer`; validation follows.
    AuthorizationServer { issuer: &'a str, url: &'a Url, metadata: &'a AuthorizationServerMetadata },
}

pub trait DiscoveryObserver: Send + Sync {
    fn event(&self, event: &DiscoveryEvent<'_>);
}

/// Logs every step at debug level (what `-v` shows).
pub struct TracingDiscoveryObserver;

impl DiscoveryObserver for TracingDiscoveryObserver {
    fn event(&self, event: &DiscoveryEvent<'_>) {
        match event {
            DiscoveryEvent::Fetched { document, origin, url, answer, error } => {
                let status = answer.map(|a| a.status);
                let content_type = answer.and_then(|a| a.content_type.as_deref());
                match error {
                    None => tracing::debug!(?document, ?origin, %url, ?status, ?content_type, "discovery: found"),
                    Some(e) => {
                        tracing::debug!(?document, ?origin, %url, ?status, ?content_type, error = %e, "discovery: tried")
                    }
                }
            }
            DiscoveryEvent::ProtectedResource { url, metadata } => {
                tracing::debug!(%url, resource = %metadata.resource, servers = ?metadata.authorization_servers,
                    "discovery: protected resource metadata");
            }
            DiscoveryEvent::AuthorizationServer { issuer, url, metadata } => {
                tracing::debug!(%issuer, %url, declared = %metadata.issuer, "discovery: authorization server metadata");
            }
        }
    }
}
