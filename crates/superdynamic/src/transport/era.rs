//! The two protocol generations ("eras", basic/versioning.mdx "Terminology") and the per-request `_meta` of
//! the modern one (basic/index.mdx "`_meta`", "Per-request protocol fields").

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// The modern protocol version this client speaks.
pub const MODERN_PROTOCOL_VERSION: &str = "2026-07-28";
/// Every modern version this client speaks, newest first.
pub const MODERN_PROTOCOL_VERSIONS: [&str; 1] = [MODERN_PROTOCOL_VERSION];

/// `_meta` key: the request's protocol version (required).
pub const META_PROTOCOL_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
/// `_meta` key: the client's capabilities for this request (required).
pub const META_CLIENT_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";
/// `_meta` key: the client's name and version (SHOULD).
pub const META_CLIENT_INFO: &str = "io.modelcontextprotocol/clientInfo";
/// Result `_meta` key: the server's name and version.
pub const META_SERVER_INFO: &str = "io.modelcontextprotocol/serverInfo";

/// Which protocol generation a server speaks. Serialized as `"modern"` / `"legacy"` so a caller can remember
/// it per server (basic/versioning.mdx: clients "MAY persist it across restarts of the same server
/// configuration, re-probing if the cached assumption later fails").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Generation {
    /// 2026-07-28 and later: no `initialize`, no session; version, identity and capabilities in every
    /// request's `_meta`.
    Modern,
    /// 2025-11-25, 2025-06-18, 2025-03-26: `initialize` handshake and (optionally) an `Mcp-Session-Id`.
    Legacy,
}

impl Generation {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Modern => "modern",
            Self::Legacy => "legacy",
        }
    }
}

impl std::fmt::Display for Generation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The three per-request protocol fields (basic/index.mdx "Per-request protocol fields"): protocol version and
/// client capabilities are required, client info SHOULD be sent.
pub fn request_meta(
    protocol_version: &str,
    capabilities: Value,
    client_name: &str,
    client_version: &str,
) -> Map<String, Value> {
    let mut meta = Map::new();
    meta.insert(META_PROTOCOL_VERSION.into(), Value::from(protocol_version));
    let capabilities = if capabilities.is_object() { capabilities } else { json!({}) };
    meta.insert(META_CLIENT_CAPABILITIES.into(), capabilities);
    meta.insert(META_CLIENT_INFO.into(), json!({"name": client_name, "version": client_version}));
    meta
}

/// `params` with the protocol fields merged into `params._meta` (other `_meta` keys such as `progressToken`
/// are kept; ours win on a clash). `None` params become `{"_meta": …}`. `Err` for non-object params, which
/// have nowhere to carry `_meta`.
pub fn with_meta(params: Option<Value>, meta: &Map<String, Value>) -> Result<Value, String> {
    let mut obj = match params {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(obj)) => obj,
        Some(_) => {
            return Err("request params must be a JSON object to carry the protocol `_meta`".to_owned());
        }
    };
    let mut merged = match obj.remove("_meta") {
        Some(Value::Object(existing)) => existing,
        _ => Map::new(),
    };
    for (k, v) in meta {
        merged.insert(k.clone(), v.clone());
    }
    obj.insert("_meta".into(), Value::Object(merged));
    Ok(Value::Object(obj))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_serializes_as_lowercase_words() {
        assert_eq!(serde_json::to_string(&Generation::Modern).unwrap(), r#""modern""#);
        assert_eq!(serde_json::from_str::<Generation>(r#""legacy""#).unwrap(), Generation::Legacy);
        assert!(serde_json::from_str::<Generation>(r#""other""#).is_err());
    }

    #[test]
    fn builds_the_per_request_meta() {
        let meta = request_meta("2026-07-28", json!({"elicitation": {}}), "cli", "1.2.3");
        assert_eq!(
            Value::Object(meta.clone()),
            json!({
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {"elicitation": {}},
                "io.modelcontextprotocol/clientInfo": {"name": "cli", "version": "1.2.3"},
            })
        );
        // Capabilities that are not an object become {} (the field is required).
        let meta2 = request_meta("2026-07-28", Value::Null, "cli", "1");
        assert_eq!(meta2[META_CLIENT_CAPABILITIES], json!({}));

        assert_eq!(with_meta(None, &meta).unwrap(), json!({"_meta": Value::Object(meta.clone())}));
        let merged =
            with_meta(Some(json!({"name": "t", "_meta": {"progressToken": 5, META_PROTOCOL_VERSION: "x"}})), &meta)
                .unwrap();
        assert_eq!(merged["name"], "t");
        assert_eq!(merged["_meta"]["progressToken"], 5);
        assert_eq!(merged["_meta"][META_PROTOCOL_VERSION], "2026-07-28");
        assert!(with_meta(Some(json!([1, 2])), &meta).is_err());
    }
}
