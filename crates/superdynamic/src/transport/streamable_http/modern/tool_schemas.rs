//! The tools' `x-mcp-header` annotations (2026-07-28 basic/transports/streamable-http.mdx "Schema Extension"):
//! learnt from `tools/list`, mirrored as `Mcp-Param-*` headers on `tools/call`, re-listed after a HeaderMismatch.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use serde_json::{Value, json};

use super::Outcome;
use crate::secret::AccessToken;
use crate::transport::era::Generation;
use crate::transport::error::TransportError;
use crate::transport::headers::{self as mcp_headers, ParamHeader};
use crate::transport::streamable_http::StreamableHttp;

/// Pages read when re-listing tools after a HeaderMismatch.
const MAX_RELIST_PAGES: usize = 100;

impl StreamableHttp {
    /// Drops the tools whose `x-mcp-header` annotations are invalid from a `tools/list` page and remembers the
    /// annotations of the others (streamable-http.mdx "Schema Extension": the client "MUST exclude the invalid
    /// tool from the result of tools/list" and "SHOULD log a warning").
    pub(super) fn screen_tools_page(&self, mut result: Value) -> Value {
        let found = screen_tools(&mut result);
        self.lock_tool_headers().extend(found);
        if matches!(result.get("nextCursor"), None | Some(Value::Null)) {
            // The last page: every tool has been seen (assuming the caller read the earlier pages).
            self.inner.tools_listed.store(true, Ordering::Relaxed);
        }
        result
    }

    /// Whether a tools/call must first learn the tool's `x-mcp-header` annotations: the server is not known to
    /// be legacy, the tool was not in any listing, and no complete listing has been seen or tried yet.
    pub(in crate::transport::streamable_http) fn needs_tool_schemas(&self, params: Option<&Value>) -> bool {
        let Some(tool) = params.and_then(|p| p.get("name")).and_then(Value::as_str) else {
            return false;
        };
        let era = self.lock_era().clone();
        era.confirmed.or(era.assumed) != Some(Generation::Legacy)
            && !self.inner.tools_listed.load(Ordering::Relaxed)
            && !self.lock_tool_headers().contains_key(tool)
    }

    /// Reads every `tools/list` page (the generation negotiated on the way) to learn the tools' annotations.
    /// Tried once per transport; failures other than 401/403 only mean the call goes without `Mcp-Param-*`
    /// headers (a HeaderMismatch answer then triggers a re-list).
    pub(in crate::transport::streamable_http) async fn fetch_tool_schemas(
        &self,
        bearer: Option<&AccessToken>,
    ) -> Result<(), TransportError> {
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_RELIST_PAGES {
            let probing = self.lock_era().confirmed != Some(Generation::Modern);
            let params = cursor.take().map(|c| json!({ "cursor": c }));
            match self.modern_request("tools/list", params, bearer, probing).await {
                Ok(Outcome::Result(result)) => {
                    // A lenient legacy server may have answered: then the call goes the legacy way.
                    if self.lock_era().assumed == Some(Generation::Legacy) {
                        break;
                    }
                    match result.get("nextCursor") {
                        Some(Value::String(next)) => cursor = Some(next.clone()),
                        _ => break,
                    }
                }
                Ok(Outcome::Legacy { reason, version }) => {
                    tracing::info!(%reason, "the MCP server is legacy; falling back to initialize");
                    self.assume_legacy(version);
                    break;
                }
                Err(err) if err.is_auth() => return Err(err),
                Err(err) => {
                    tracing::debug!(%err, "could not list tools before tools/call");
                    break;
                }
            }
        }
        self.inner.tools_listed.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// Reads every page of `tools/list` again and replaces the remembered annotations.
    pub(super) async fn relist_tools(&self, bearer: Option<&AccessToken>) -> Result<(), TransportError> {
        let mut all = HashMap::new();
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_RELIST_PAGES {
            let params = cursor.take().map(|c| json!({ "cursor": c }));
            let mut result = self.modern_plain("tools/list", params, bearer).await?;
            all.extend(screen_tools(&mut result));
            // server/utilities/pagination.mdx: only an absent or null nextCursor ends the list ("" is a cursor).
            match result.get("nextCursor") {
                Some(Value::String(next)) => cursor = Some(next.clone()),
                _ => {
                    *self.lock_tool_headers() = all;
                    self.inner.tools_listed.store(true, Ordering::Relaxed);
                    return Ok(());
                }
            }
        }
        Err(TransportError::Protocol(format!("tools/list returned more than {MAX_RELIST_PAGES} pages")))
    }

    pub(super) fn lock_tool_headers(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<ParamHeader>>> {
        self.inner.tool_headers.lock().unwrap_or_else(|poison| poison.into_inner())
    }
}

/// Removes invalid tools from a `tools/list` result; returns the annotations of the valid ones by name.
fn screen_tools(result: &mut Value) -> Vec<(String, Vec<ParamHeader>)> {
    let Some(tools) = result.get_mut("tools").and_then(Value::as_array_mut) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    tools.retain(|tool| {
        let name = tool.get("name").and_then(Value::as_str).unwrap_or_default();
        match mcp_headers::tool_param_headers(tool) {
            Ok(params) => {
                found.push((name.to_owned(), params));
                true
            }
            Err(reason) => {
                tracing::warn!(tool = name, %reason, "rejecting a tool definition with an invalid x-mcp-header");
                false
            }
        }
    });
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_tools_are_screened_out() {
        let mut result = json!({"tools": [
            {"name": "good", "inputSchema": {"type": "object", "properties": {
                "region": {"type": "string", "x-mcp-header": "Region"}}}},
            {"name": "bad", "inputSchema": {"type": "object", "properties": {
                "n": {"type": "number", "x-mcp-header": "N"}}}},
            {"name": "plain", "inputSchema": {"type": "object"}}
        ]});
        let found = screen_tools(&mut result);
        let names: Vec<&str> =
            result["tools"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["good", "plain"]);
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].1[0].name, "Region");
    }
}
