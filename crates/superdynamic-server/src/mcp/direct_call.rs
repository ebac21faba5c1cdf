//! `tools/call` answered on `/mcp` without rmcp's per-request machinery (a session worker round trip, or a whole
//! service built for each stateless request), for speed. rmcp still serves everything else.
//!
//! Only requests whose answer is certain are taken: every check rmcp makes first must pass in a form simple
//! enough to check here, and anything unusual (an `Origin` header, media-type parameters, unknown fields,
//! arguments that do not deserialize, an unknown session, …) is left to rmcp, which then answers as before,
//! errors included. The answer is built from rmcp's own types, so its JSON is the one rmcp would send:
//! - 2026-07-28 (stateless; `_meta` carries `protocolVersion` and `clientCapabilities`): `resultType`, the
//!   `MCP-Protocol-Version`/`Mcp-Method`/`Mcp-Name` headers must match the body (SEP-2243), and the reply is one
//!   SSE event without id, as rmcp sends it;
//! - the 2025-11-25 session lifecycle (`Mcp-Session-Id` of a live session, no per-request version): no
//!   `resultType`, and the reply is a priming event then the response, both with event ids (SEP-1699), which
//!   [`DirectCalls::resume`] can replay.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use rmcp::model::{
    CallToolResult, JsonObject, ProtocolVersion, RequestId, RequestMetaObject, ServerJsonRpcMessage, ServerResult,
};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use serde::Deserialize;

use crate::mcp::sessions::{FIRST_DIRECT_STREAM, McpSession};
use crate::oauth::jwt::AccessClaims;
use crate::tools::McpTools;

const PROTOCOL_VERSION_HEADER: &str = "mcp-protocol-version";
const SESSION_HEADER: &str = "mcp-session-id";
const METHOD_HEADER: &str = "mcp-method";
const NAME_HEADER: &str = "mcp-name";
const LAST_EVENT_ID_HEADER: &str = "last-event-id";
/// `_meta` keys of the 2026-07-28 per-request lifecycle (SEP-2575) a direct answer accepts.
const META_PROTOCOL_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
const META_CLIENT_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";
const META_CLIENT_INFO: &str = "io.modelcontextprotocol/clientInfo";

/// A JSON-RPC `tools/call` request in the one shape answered here.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolCall {
    jsonrpc: String,
    id: RequestId,
    method: String,
    params: CallParams,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CallParams {
    name: String,
    #[serde(default)]
    arguments: Option<JsonObject>,
    #[serde(rename = "_meta", default)]
    meta: Option<RequestMetaObject>,
}

impl ToolCall {
    /// `None` unless `body` is a single JSON-RPC 2.0 `tools/call` request of this shape.
    pub fn parse(body: &[u8]) -> Option<Self> {
        let call: Self = serde_json::from_slice(body).ok()?;
        (call.jsonrpc == "2.0" && call.method == "tools/call").then_some(call)
    }

    pub fn tool(&self) -> &str {
        &self.params.name
    }
}

/// Which lifecycle a direct answer follows.
enum Generation {
    /// 2026-07-28, no session.
    Stateless,
    /// An initialize-negotiated session (a version before 2026-07-28).
    Session,
}

/// What the direct answers need: the tools, and the checks rmcp would make.
pub struct DirectCalls {
    tools: McpTools,
    /// Host names `Host` may carry (rmcp's allowed hosts: DNS rebinding protection), normalized as rmcp does.
    allowed_hosts: Vec<String>,
    /// SSE `retry` of the priming event in milliseconds (the session layer's `sse_retry`); without one rmcp
    /// sends no priming event, and session calls are left to it.
    retry_ms: Option<u128>,
    rmcp_sessions: Arc<LocalSessionManager>,
}

impl DirectCalls {
    /// `allowed_hosts` are host names without a port, as given to rmcp.
    pub fn new(tools: McpTools, allowed_hosts: &[String], rmcp_sessions: Arc<LocalSessionManager>) -> Self {
        Self {
            tools,
            allowed_hosts: allowed_hosts.iter().map(|h| normalize_host(h)).collect(),
            retry_ms: rmcp_sessions.session_config.sse_retry.map(|r| r.as_millis()),
            rmcp_sessions,
        }
    }

    /// Whether rmcp's checks before it reads a POST body pass for sure: `Host`, no `Origin`, `Accept` and
    /// `Content-Type` (Streamable HTTP §Sending Messages to the Server; §Security Warning).
    pub fn post_headers_pass(&self, parts: &Parts) -> bool {
        parts.method == Method::POST
            && self.host_allowed(&parts.headers)
            && !parts.headers.contains_key(header::ORIGIN)
            && accepts(&parts.headers, &["application/json", "text/event-stream"])
            && content_type_is_json(&parts.headers)
    }

    /// The answer to `call`, or `None` to leave the request to rmcp. `session` is the registry's entry for
    /// the request's `Mcp-Session-Id` (already checked to belong to the caller); `claims` are the caller's.
    pub async fn answer(
        &self,
        parts: &Parts,
        call: ToolCall,
        claims: &AccessClaims,
        session: Option<&McpSession>,
    ) -> Option<Response> {
        if !self.post_headers_pass(parts) {
            return None;
        }
        let generation = self.generation(parts, &call, session).await?;
        let ToolCall { id, params, .. } = call;
        let result = self.tools.call_directly(&params.name, params.arguments.unwrap_or_default(), claims)?;
        let json = jsonrpc_result(id, result, &generation).ok()?;
        Some(match (generation, session) {
            (Generation::Session, Some(session)) => {
                let stream = session.next_stream();
                let (body, response_at) = self.session_stream(stream, &json)?;
                session.remember_answer(stream, body.clone(), response_at);
                sse_response(body)
            }
            _ => sse_response(stateless_stream(&json)),
        })
    }

    /// Which lifecycle rmcp would route `call` to, when every header check it makes on the way passes.
    async fn generation(&self, parts: &Parts, call: &ToolCall, session: Option<&McpSession>) -> Option<Generation> {
        let headers = &parts.headers;
        let version_header = single_header(headers, PROTOCOL_VERSION_HEADER)?;
        let meta = call.params.meta.as_ref().filter(|m| !m.is_empty());
        match meta {
            None => {
                // The session lifecycle: a known version before 2026-07-28 (or none, meaning 2025-03-26) and a
                // live session.
                if version_header.is_some_and(|v| !is_known_legacy_version(v))
                    || session.is_none()
                    || self.retry_ms.is_none()
                {
                    return None;
                }
                let id = headers.get(SESSION_HEADER)?.to_str().ok()?;
                self.rmcp_sessions.sessions.read().await.contains_key(id).then_some(Generation::Session)
            }
            Some(meta) => {
                // MCP 2026-07-28: `_meta` names the version (and it must be supported) with the client's
                // capabilities; nothing else is accepted here.
                let only_lifecycle_keys = meta
                    .keys()
                    .all(|k| matches!(k.as_str(), META_PROTOCOL_VERSION | META_CLIENT_CAPABILITIES | META_CLIENT_INFO));
                let modern = ProtocolVersion::V_2026_07_28;
                let complete = meta.protocol_version().as_ref() == Some(&modern)
                    && meta.missing_required_keys(&modern).is_empty()
                    && (!meta.contains_key(META_CLIENT_INFO) || meta.client_info().is_some());
                // SEP-2243: the version header, Mcp-Method and Mcp-Name must repeat the body (a Base64-encoded
                // Mcp-Name is left to rmcp).
                let headers_match = version_header == Some(modern.as_str())
                    && single_header(headers, METHOD_HEADER)? == Some("tools/call")
                    && single_header(headers, NAME_HEADER)? == Some(call.tool());
                (only_lifecycle_keys && complete && headers_match).then_some(Generation::Stateless)
            }
        }
    }

    /// Replays a direct answer's SSE stream for a `GET` with `Last-Event-ID` naming one
    /// (Streamable HTTP §Resumability and Redelivery), as rmcp replays its own streams; `None` leaves the
    /// request to rmcp (every other `GET`, or one whose checks are not certain to pass).
    pub async fn resume(&self, parts: &Parts, session: Option<&McpSession>) -> Option<Response> {
        let headers = &parts.headers;
        let (index, stream) = single_header(headers, LAST_EVENT_ID_HEADER)?.and_then(parse_event_id)?;
        let legacy_version = match single_header(headers, PROTOCOL_VERSION_HEADER)? {
            None => true,
            Some(v) => is_known_legacy_version(v),
        };
        let checks_pass = parts.method == Method::GET
            && stream >= FIRST_DIRECT_STREAM
            && self.host_allowed(headers)
            && !headers.contains_key(header::ORIGIN)
            && accepts(headers, &["text/event-stream"])
            && legacy_version;
        let session = session.filter(|_| checks_pass)?;
        let id = headers.get(SESSION_HEADER)?.to_str().ok()?;
        if !self.rmcp_sessions.sessions.read().await.contains_key(id) {
            return None;
        }
        // An unknown or expired stream: rmcp answers an empty stream too.
        Some(sse_response(session.replay(stream, index).unwrap_or_default()))
    }

    /// rmcp's check of `Host` against its allowed hosts (entries without a port match any port).
    fn host_allowed(&self, headers: &HeaderMap) -> bool {
        let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
            return false;
        };
        let Ok(authority) = axum::http::uri::Authority::try_from(host) else {
            return false;
        };
        let host = authority.host().trim_matches('[').trim_matches(']');
        self.allowed_hosts.iter().any(|allowed| allowed.eq_ignore_ascii_case(host))
    }

    /// A session stream as rmcp's session layer writes it: a priming event (empty data, id, retry), then the
    /// response; returns the body and where the response event starts.
    fn session_stream(&self, stream: u64, json: &[u8]) -> Option<(Bytes, usize)> {
        let priming = format!("data: \nid: 0/{stream}\nretry: {}\n\n", self.retry_ms?);
        let mut body = Vec::with_capacity(priming.len() + json.len() + 40);
        body.extend_from_slice(priming.as_bytes());
        body.extend_from_slice(b"data: ");
        body.extend_from_slice(json);
        body.extend_from_slice(format!("\nid: 1/{stream}\n\n").as_bytes());
        Some((Bytes::from(body), priming.len()))
    }
}

/// The JSON-RPC response, shaped for the lifecycle as rmcp's server handler shapes it.
fn jsonrpc_result(id: RequestId, result: CallToolResult, generation: &Generation) -> serde_json::Result<Vec<u8>> {
    let mut result = ServerResult::CallToolResult(result);
    match generation {
        Generation::Stateless => result.fill_missing_cache_hints(),
        Generation::Session => {
            result.strip_result_type_for_legacy_peer();
            result.strip_non_object_output_for_legacy_peer();
        }
    }
    serde_json::to_vec(&ServerJsonRpcMessage::response(result, id))
}

fn stateless_stream(json: &[u8]) -> Bytes {
    let mut body = Vec::with_capacity(json.len() + 8);
    body.extend_from_slice(b"data: ");
    body.extend_from_slice(json);
    body.extend_from_slice(b"\n\n");
    Bytes::from(body)
}

/// `200` with the SSE headers rmcp sends.
fn sse_response(body: Bytes) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// rmcp's host normalization: brackets off, lower case.
fn normalize_host(host: &str) -> String {
    host.trim_matches('[').trim_matches(']').to_ascii_lowercase()
}

/// `Some(value)` for a header present once, `Some(None)` when absent, `None` (leave it to rmcp) when repeated
/// or not text.
fn single_header<'a>(headers: &'a HeaderMap, name: &str) -> Option<Option<&'a str>> {
    let mut values = headers.get_all(name).iter();
    let Some(first) = values.next() else {
        return Some(None);
    };
    if values.next().is_some() {
        return None;
    }
    first.to_str().ok().map(Some)
}

/// Whether `Accept` lists every one of `wanted`, for headers without parameters or quoting (which could carry
/// `q=0`: those are left to rmcp).
fn accepts(headers: &HeaderMap, wanted: &[&str]) -> bool {
    let mut missing = wanted.to_vec();
    for value in headers.get_all(header::ACCEPT) {
        let Ok(value) = value.to_str() else {
            return false;
        };
        if value.contains([';', '"']) {
            return false;
        }
        for range in value.split(',').map(str::trim) {
            missing.retain(|w| !range.eq_ignore_ascii_case(w));
        }
    }
    missing.is_empty()
}

/// rmcp's `Content-Type` rule: the media type, parameters aside, is `application/json`.
fn content_type_is_json(headers: &HeaderMap) -> bool {
    headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| {
        let essence = v.split_once(';').map_or(v, |(essence, _)| essence);
        essence.trim().eq_ignore_ascii_case("application/json")
    })
}

fn is_known_legacy_version(version: &str) -> bool {
    ProtocolVersion::KNOWN_VERSIONS
        .iter()
        .any(|v| v.as_str() == version && v.as_str() < ProtocolVersion::V_2026_07_28.as_str())
}

/// rmcp's session event id: `<index>/<stream>`.
fn parse_event_id(id: &str) -> Option<(u64, u64)> {
    let (index, stream) = id.split_once('/')?;
    Some((index.parse().ok()?, stream.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn only_plain_tool_calls_parse() {
        let call = ToolCall::parse(br#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"get_weather","arguments":{"location":"Paris"}}}"#).unwrap();
        assert_eq!(call.tool(), "get_weather");
        assert!(
            ToolCall::parse(br#"{"jsonrpc":"2.0","id":"a","method":"tools/call","params":{"name":"x"}}"#).is_some()
        );
        for other in [
            &br#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"name":"x"}}"#[..],
            br#"{"jsonrpc":"1.0","id":1,"method":"tools/call","params":{"name":"x"}}"#,
            br#"{"jsonrpc":"2.0","method":"tools/call","params":{"name":"x"}}"#,
            br#"{"jsonrpc":"2.0","id":null,"method":"tools/call","params":{"name":"x"}}"#,
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","task":{}}}"#,
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"},"extra":1}"#,
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","arguments":[1]}}"#,
            br#"[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"}}]"#,
            br#"{"jsonrpc":"2.0","id":1,"id":2,"method":"tools/call","params":{"name":"x"}}"#,
        ] {
            assert!(ToolCall::parse(other).is_none(), "{}", String::from_utf8_lossy(other));
        }
    }

    #[test]
    fn accept_and_content_type_rules() {
        let both = ["application/json", "text/event-stream"];
        assert!(accepts(&headers(&[("accept", "application/json, text/event-stream")]), &both));
        assert!(accepts(&headers(&[("accept", "text/event-stream"), ("accept", "Application/JSON")]), &both));
        assert!(!accepts(&headers(&[("accept", "application/json")]), &both));
        assert!(!accepts(&headers(&[("accept", "application/json, text/event-stream;q=0")]), &both));
        assert!(!accepts(&headers(&[]), &both));
        assert!(content_type_is_json(&headers(&[("content-type", "application/json; charset=utf-8")])));
        assert!(!content_type_is_json(&headers(&[("content-type", "text/plain")])));
        assert!(!content_type_is_json(&headers(&[])));
    }

    #[test]
    fn versions_and_event_ids() {
        assert!(is_known_legacy_version("2025-06-18") && is_known_legacy_version("2025-11-25"));
        assert!(!is_known_legacy_version("2026-07-28") && !is_known_legacy_version("2099-01-01"));
        assert_eq!(parse_event_id("1/9223372036854775808"), Some((1, FIRST_DIRECT_STREAM)));
        assert_eq!(parse_event_id("1"), None);
        assert_eq!(single_header(&headers(&[("mcp-name", "a"), ("mcp-name", "a")]), "mcp-name"), None);
        assert_eq!(single_header(&headers(&[]), "mcp-name"), Some(None));
    }
}
