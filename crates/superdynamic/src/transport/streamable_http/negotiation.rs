//! Which generation the server speaks (basic/versioning.mdx "Backward Compatibility with Initialization-Based
//! Versions"): what is known so far, and the answers that decide it either way.

use std::sync::MutexGuard;

use serde_json::Value;

use super::{SUPPORTED_PROTOCOL_VERSIONS, StreamableHttp};
use crate::transport::era::{Generation, MODERN_PROTOCOL_VERSION};
use crate::transport::error::TransportError;
use crate::transport::jsonrpc::{METHOD_NOT_FOUND, RpcErrorObject};

/// `HeaderMismatch` (basic/transports/streamable-http.mdx "Server Validation").
pub(super) const HEADER_MISMATCH: i64 = -32020;

/// `MissingRequiredClientCapabilityError` (basic/index.mdx "Per-request protocol fields").
pub(super) const MISSING_CLIENT_CAPABILITY: i64 = -32021;

/// `UnsupportedProtocolVersionError` (basic/versioning.mdx "Protocol Version Negotiation").
pub(super) const UNSUPPORTED_PROTOCOL_VERSION: i64 = -32022;

/// What is known about the server's generation.
#[derive(Debug, Clone, Default)]
pub(super) struct EraState {
    /// Established by an answer in this run.
    pub(super) confirmed: Option<Generation>,
    /// The caller's hint, or what a probe suggested; not yet confirmed.
    pub(super) assumed: Option<Generation>,
    /// The version `initialize` asks for when a -32022 answer named a legacy one.
    pub(super) legacy_version: Option<String>,
}

/// What a modern request came to.
pub(super) enum Outcome {
    Result(Value),
    /// The server is legacy: fall back to `initialize` (with `version`, when a -32022 answer named one).
    Legacy {
        reason: String,
        version: Option<String>,
    },
}

pub(super) enum Negotiated {
    RetryModern,
    Legacy(Outcome),
}

impl StreamableHttp {
    /// The generation this server was found to speak, `None` until an answer settled it (a
    /// [`TransportOptions::generation_hint`](super::TransportOptions::generation_hint) alone does not count). Callers may store it (it is serde
    /// serializable) and pass it as the hint next time.
    pub fn generation(&self) -> Option<Generation> {
        self.lock_era().confirmed
    }

    /// Starts from `generation` (one a store remembered for this server) unless an answer or an earlier hint
    /// already settled it; the same as [`TransportOptions::generation_hint`](super::TransportOptions::generation_hint), after construction.
    pub fn assume_generation(&self, generation: Generation) {
        let mut era = self.lock_era();
        if era.confirmed.is_none() && era.assumed.is_none() {
            era.assumed = Some(generation);
        }
    }

    /// The protocol version in use: `2026-07-28` once the modern generation is confirmed, the session's version
    /// once `initialize` has run, `None` before.
    pub fn protocol_version(&self) -> Option<String> {
        match self.generation() {
            Some(Generation::Modern) => Some(MODERN_PROTOCOL_VERSION.to_owned()),
            _ => self.session().map(|s| s.protocol_version),
        }
    }

    pub(super) fn lock_era(&self) -> MutexGuard<'_, EraState> {
        self.inner.era.lock().unwrap_or_else(|poison| poison.into_inner())
    }

    pub(super) fn confirm(&self, generation: Generation) {
        let mut era = self.lock_era();
        era.confirmed = Some(generation);
        era.assumed = None;
    }

    /// A probe said "legacy": `initialize` next (with `version` if a -32022 answer named one); confirmed once
    /// `initialize` succeeds.
    pub(super) fn assume_legacy(&self, version: Option<String>) {
        let mut era = self.lock_era();
        era.confirmed = None;
        era.assumed = Some(Generation::Legacy);
        if version.is_some() {
            era.legacy_version = version;
        }
    }
}

/// `initialize` answered the way a modern-only server answers it (basic/versioning.mdx: "the server rejects
/// `initialize` with a JSON-RPC error"; on HTTP "rejected per server validation with `400 Bad Request`").
pub(super) fn refused_like_a_modern_server(err: &TransportError) -> bool {
    match err {
        // A dual-era server that answers `initialize` with the modern version.
        TransportError::UnsupportedProtocolVersion { offered } => {
            crate::transport::era::MODERN_PROTOCOL_VERSIONS.contains(&offered.as_str())
        }
        TransportError::HttpStatus { status, .. } => matches!(status, 400 | 404),
        TransportError::Rpc { code, .. } => matches!(
            *code,
            -32601 | -32602 | HEADER_MISMATCH | MISSING_CLIENT_CAPABILITY | UNSUPPORTED_PROTOCOL_VERSION
        ),
        _ => false,
    }
}

/// basic/versioning.mdx "Protocol Version Negotiation": "The client SHOULD select a mutually supported version
/// from the supported list and retry the request, or surface an error to the user if no compatible version
/// exists." This client speaks one modern version: if the list names it, the request is retried once with it;
/// otherwise the newest legacy version both speak is used, through `initialize`.
pub(super) fn negotiate(error: &RpcErrorObject, retried: bool) -> Result<Negotiated, TransportError> {
    let supported: Vec<&str> = error
        .data
        .as_ref()
        .and_then(|d| d.get("supported"))
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if supported.is_empty() {
        return Err(TransportError::UnsupportedProtocolVersion {
            offered: "(no version listed in data.supported)".to_owned(),
        });
    }
    if supported.contains(&MODERN_PROTOCOL_VERSION) && !retried {
        return Ok(Negotiated::RetryModern);
    }
    match SUPPORTED_PROTOCOL_VERSIONS.iter().find(|v| supported.contains(v)) {
        Some(version) => Ok(Negotiated::Legacy(Outcome::Legacy {
            reason: format!("UnsupportedProtocolVersionError; the server supports {}", supported.join(", ")),
            version: Some((*version).to_owned()),
        })),
        None => Err(TransportError::UnsupportedProtocolVersion { offered: supported.join(", ") }),
    }
}

/// A recognized modern JSON-RPC error (streamable-http.mdx "Backward Compatibility": "modern servers also use
/// 400 for UnsupportedProtocolVersionError, MissingRequiredClientCapabilityError, and header-validation
/// failures"; an unknown method is "404 Not Found and a JSON-RPC error with code -32601").
pub(super) fn is_modern_error(status: u16, code: i64) -> bool {
    matches!(code, HEADER_MISMATCH | MISSING_CLIENT_CAPABILITY | UNSUPPORTED_PROTOCOL_VERSION)
        || (status == 404 && code == METHOD_NOT_FOUND)
}

/// A 4xx that, without a recognized modern error body, identifies a legacy server (basic/versioning.mdx
/// compatibility matrix: "the modern request returns a 4xx without a recognized modern error body, and the
/// client falls back to initialize"). 401/403 are the OAuth layer's, 408/429 are transient.
pub(super) fn is_legacy_status(status: u16) -> bool {
    (400..500).contains(&status) && !matches!(status, 401 | 403 | 408 | 429)
}

/// Methods without side effects, safe to send twice.
pub(super) fn is_read(method: &str) -> bool {
    matches!(
        method,
        "tools/list"
            | "resources/list"
            | "resources/templates/list"
            | "resources/read"
            | "prompts/list"
            | "prompts/get"
            | "server/discover"
            | "ping"
            | "completion/complete"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn negotiation_picks_the_newest_common_legacy_version() {
        let err = |supported: Value| RpcErrorObject {
            code: UNSUPPORTED_PROTOCOL_VERSION,
            message: "Unsupported protocol version".into(),
            data: Some(json!({"supported": supported, "requested": "2026-07-28"})),
        };
        match negotiate(&err(json!(["2025-06-18", "2025-11-25", "2024-11-05"])), false) {
            Ok(Negotiated::Legacy(Outcome::Legacy { version, .. })) => {
                assert_eq!(version.as_deref(), Some("2025-11-25"))
            }
            _ => panic!("expected a legacy version"),
        }
        match negotiate(&err(json!(["2027-01-01", "2024-11-05"])), false) {
            Err(TransportError::UnsupportedProtocolVersion { offered }) => {
                assert_eq!(offered, "2027-01-01, 2024-11-05")
            }
            _ => panic!("expected UnsupportedProtocolVersion"),
        }
        // Our own version listed: retried once, then an error, unless a legacy version is listed too.
        assert!(matches!(negotiate(&err(json!(["2026-07-28"])), false), Ok(Negotiated::RetryModern)));
        assert!(matches!(
            negotiate(&err(json!(["2026-07-28"])), true),
            Err(TransportError::UnsupportedProtocolVersion { .. })
        ));
        assert!(matches!(negotiate(&err(json!(["2026-07-28", "2025-11-25"])), true), Ok(Negotiated::Legacy(_))));
        assert!(negotiate(&RpcErrorObject::new(UNSUPPORTED_PROTOCOL_VERSION, "x"), false).is_err());
    }

    #[test]
    fn classifies_errors_and_statuses() {
        assert!(is_modern_error(400, HEADER_MISMATCH));
        assert!(is_modern_error(400, MISSING_CLIENT_CAPABILITY));
        assert!(is_modern_error(404, METHOD_NOT_FOUND));
        assert!(!is_modern_error(400, METHOD_NOT_FOUND));
        assert!(!is_modern_error(400, -32000));
        for s in [400, 404, 405, 406, 415, 422] {
            assert!(is_legacy_status(s), "{s}");
        }
        for s in [200, 202, 401, 403, 408, 429, 500, 503] {
            assert!(!is_legacy_status(s), "{s}");
        }
    }
}
