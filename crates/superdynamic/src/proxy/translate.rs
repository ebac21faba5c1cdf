//! Translation between the host's protocol generation and the remote server's (basic/versioning.mdx
//! "Backward Compatibility with Initialization-Based Versions"): the two answers a proxy has to make up, and
//! the reasons it gives when something has no equivalent on the other side.
//!
//! | host \ remote | legacy (initialize) | modern (2026-07-28) |
//! |---|---|---|
//! | legacy | `initialize` answered from the remote's `initialize` result; everything else relayed | `initialize` answered from `server/discover`; `_meta` added to each request by the transport; input requests (MRTR) become server requests to the host |
//! | modern | `server/discover` answered from the remote's `initialize` result; server requests other than `ping` refused | relayed; `input_required` results passed through |

use serde_json::{Value, json};

use super::RemoteInfo;
use crate::transport::era::{META_CLIENT_CAPABILITIES, META_CLIENT_INFO, META_PROTOCOL_VERSION, META_SERVER_INFO};
use crate::transport::{
    Generation, LATEST_PROTOCOL_VERSION, MODERN_PROTOCOL_VERSION, MODERN_PROTOCOL_VERSIONS, SUPPORTED_PROTOCOL_VERSIONS,
};

/// The generation the stdio host speaks, read from its first message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostGeneration {
    /// Started with `initialize` (2025-03-26 … 2025-11-25).
    Legacy,
    /// Sends `_meta.io.modelcontextprotocol/protocolVersion` on every request (2026-07-28).
    Modern,
}

/// The `InitializeResult` for a legacy host (basic/lifecycle.mdx "Version Negotiation"): the version the host
/// asked for when this proxy speaks it (the proxy talks to the remote in whatever version that negotiated),
/// else the latest legacy version, which the host may refuse.
pub fn initialize_result(
    asked: Option<&str>,
    capabilities: &Value,
    server_info: &Value,
    instructions: Option<String>,
) -> Value {
    let version = asked.filter(|v| SUPPORTED_PROTOCOL_VERSIONS.contains(v)).unwrap_or(LATEST_PROTOCOL_VERSION);
    let mut result = json!({
        "protocolVersion": version,
        "capabilities": if capabilities.is_object() { capabilities.clone() } else { json!({}) },
        "serverInfo": server_info_or_default(server_info),
    });
    if let Some(text) = instructions {
        result["instructions"] = Value::from(text);
    }
    result
}

/// The `DiscoverResult` for a modern host in front of a legacy remote, from the remote's `initialize` result.
/// Not cacheable (`ttlMs` 0, private): it describes one session.
pub fn discover_result(capabilities: &Value, server_info: &Value, instructions: Option<String>) -> Value {
    let mut result = json!({
        "resultType": "complete",
        "supportedVersions": MODERN_PROTOCOL_VERSIONS,
        "capabilities": if capabilities.is_object() { capabilities.clone() } else { json!({}) },
        "_meta": { META_SERVER_INFO: server_info_or_default(server_info) },
        "ttlMs": 0,
        "cacheScope": "private",
    });
    if let Some(text) = instructions {
        result["instructions"] = Value::from(text);
    }
    result
}

pub(super) fn remote_from_discover(result: &Value) -> RemoteInfo {
    RemoteInfo {
        capabilities: result.get("capabilities").cloned().unwrap_or_else(|| json!({})),
        server_info: result.get("_meta").and_then(|m| m.get(META_SERVER_INFO)).cloned().unwrap_or(Value::Null),
        instructions: result.get("instructions").and_then(Value::as_str).map(str::to_owned),
    }
}

fn server_info_or_default(server_info: &Value) -> Value {
    if server_info.get("name").is_some_and(Value::is_string) {
        return server_info.clone();
    }
    json!({"name": "superdynamic-proxy", "version": env!("CARGO_PKG_VERSION")})
}

/// Removes the host's 2026-07-28 per-request fields (protocol version, capabilities, client info) from
/// `params._meta`: the transport sets its own for a modern remote, and a legacy remote must not see a version
/// that contradicts its session's. Other `_meta` keys (`progressToken` …) stay; an emptied `_meta` goes.
pub fn strip_protocol_meta(mut params: Value) -> Value {
    if let Some(meta) = params.get_mut("_meta").and_then(Value::as_object_mut) {
        meta.remove(META_PROTOCOL_VERSION);
        meta.remove(META_CLIENT_CAPABILITIES);
        meta.remove(META_CLIENT_INFO);
        if meta.is_empty()
            && let Some(obj) = params.as_object_mut()
        {
            obj.remove("_meta");
        }
    }
    params
}

/// Removes the tools whose name `hidden` matches from a `tools/list` result (other fields untouched).
pub fn drop_tools(result: &mut Value, hidden: impl Fn(&str) -> bool) {
    if let Some(tools) = result.get_mut("tools").and_then(Value::as_array_mut) {
        tools.retain(|tool| !tool.get("name").and_then(Value::as_str).is_some_and(&hidden));
    }
}

/// Why a "method not found" came back, when host and remote speak different generations.
pub fn explain_mismatch(
    code: i64,
    method: &str,
    host: Option<HostGeneration>,
    remote: Option<Generation>,
) -> Option<String> {
    if code != crate::transport::jsonrpc::METHOD_NOT_FOUND {
        return None;
    }
    match (host?, remote?) {
        (HostGeneration::Modern, Generation::Legacy) => Some(format!(
            "the remote server speaks the initialize-based protocol (2025-11-25 or earlier), which has no `{method}`; \
             the proxy cannot translate it"
        )),
        (HostGeneration::Legacy, Generation::Modern) => Some(format!(
            "the remote server speaks MCP {MODERN_PROTOCOL_VERSION}, which has no `{method}`; the proxy cannot \
             translate it"
        )),
        _ => None,
    }
}

/// Glob match with `*` (any run) and `?` (one character), ignoring case as mcp-remote's `--ignore-tool` does.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let t: Vec<char> = text.to_lowercase().chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(&c) if c == '?' || c == t[ti] => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_protocol_meta_is_stripped() {
        let p = json!({"name": "t", "_meta": {META_PROTOCOL_VERSION: "2026-07-28", META_CLIENT_INFO: {}, "progressToken": 7}});
        assert_eq!(strip_protocol_meta(p), json!({"name": "t", "_meta": {"progressToken": 7}}));
        let p = json!({"_meta": {META_PROTOCOL_VERSION: "2026-07-28", META_CLIENT_CAPABILITIES: {}}, "x": [1]});
        assert_eq!(strip_protocol_meta(p), json!({"x": [1]}));
        assert_eq!(strip_protocol_meta(json!({"a": 1})), json!({"a": 1}));
    }

    #[test]
    fn globs() {
        assert!(glob_match("get_*", "get_weather"));
        assert!(glob_match("*files*", "list_files"));
        assert!(glob_match("read_fil?", "read_file"));
        assert!(glob_match("*", ""));
        assert!(!glob_match("get_*", "list_files"));
        assert!(glob_match("GET_*", "get_Weather"), "case is ignored, as in mcp-remote");
        assert!(!glob_match("read_file", "read_files"));
        assert!(glob_match("a*b*c", "axxbyyc"));
        assert!(!glob_match("a*b*c", "axxbyy"));
    }

    #[test]
    fn initialize_answers_the_hosts_version_when_it_is_spoken() {
        let caps = json!({"tools": {"listChanged": true}});
        let info = json!({"name": "remote", "version": "1"});
        let r = initialize_result(Some("2025-06-18"), &caps, &info, Some("hi".into()));
        assert_eq!(r["protocolVersion"], "2025-06-18");
        assert_eq!(r["capabilities"], caps);
        assert_eq!(r["serverInfo"], info);
        assert_eq!(r["instructions"], "hi");
        let r = initialize_result(Some("2024-11-05"), &Value::Null, &Value::Null, None);
        assert_eq!(r["protocolVersion"], LATEST_PROTOCOL_VERSION);
        assert_eq!(r["capabilities"], json!({}));
        assert_eq!(r["serverInfo"]["name"], "superdynamic-proxy");
        assert!(r.get("instructions").is_none());
    }

    #[test]
    fn discover_is_made_from_an_initialize_result_and_read_back() {
        let caps = json!({"tools": {}});
        let info = json!({"name": "remote", "version": "1"});
        let d = discover_result(&caps, &info, None);
        assert_eq!(d["resultType"], "complete");
        assert_eq!(d["supportedVersions"], json!(["2026-07-28"]));
        let back = remote_from_discover(&d);
        assert_eq!(back.capabilities, caps);
        assert_eq!(back.server_info, info);
    }

    #[test]
    fn ignored_tools_are_dropped_and_the_rest_kept_as_sent() {
        let mut r = json!({"tools": [{"name": "a", "x": 1}, {"name": "b"}], "nextCursor": "c"});
        drop_tools(&mut r, |n| n == "b");
        assert_eq!(r, json!({"tools": [{"name": "a", "x": 1}], "nextCursor": "c"}));
    }

    #[test]
    fn mismatches_are_explained_only_across_generations() {
        let m =
            explain_mismatch(-32601, "subscriptions/listen", Some(HostGeneration::Modern), Some(Generation::Legacy));
        assert!(m.unwrap().contains("initialize-based"));
        assert!(explain_mismatch(-32601, "x", Some(HostGeneration::Legacy), Some(Generation::Legacy)).is_none());
        assert!(explain_mismatch(-32602, "x", Some(HostGeneration::Modern), Some(Generation::Legacy)).is_none());
    }
}
