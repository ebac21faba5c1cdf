//! The scope to ask for (MCP 2025-11-25 §Scope Selection Strategy).

use super::McpClient;
use crate::discovery::{BearerChallenge, Discovery};
use crate::token::TokenSet;

impl McpClient {
    /// The scope to ask for (MCP 2025-11-25 §Scope Selection Strategy; 2026-07-28 union on step-up and
    /// `offline_access` only when the authorization server lists it).
    pub(super) async fn select_scope(
        &self,
        discovery: &Discovery,
        challenge: Option<&BearerChallenge>,
        step_up: Option<&str>,
    ) -> Option<String> {
        if let Some(explicit) = &self.options.scope {
            return Some(explicit.clone());
        }
        let mut scopes: Vec<String> = Vec::new();
        let add = |scopes: &mut Vec<String>, s: &str| {
            for part in s.split_whitespace() {
                if !scopes.iter().any(|x| x == part) {
                    scopes.push(part.to_string());
                }
            }
        };
        if let Some(extra) = step_up {
            // Union with what was granted (or asked) before, so a step-up never loses a scope.
            if let Ok(Some(record)) = self.credentials().await
                && let Some(granted) = record.tokens.and_then(|t| t.scope)
            {
                add(&mut scopes, &granted);
            }
            add(&mut scopes, extra);
        } else if let Some(challenged) = challenge.and_then(|c| c.scope.as_deref()) {
            add(&mut scopes, challenged);
        } else if let Some(supported) = discovery.protected_resource.as_ref().and_then(|p| p.scopes_supported.as_ref())
        {
            add(&mut scopes, &supported.join(" "));
        }
        if scopes.is_empty() {
            return None;
        }
        if discovery.authorization_server.supports_scope("offline_access") {
            add(&mut scopes, "offline_access");
        }
        Some(scopes.join(" "))
    }
}

/// Whether `tokens` were granted every scope of `needed` (space-separated); no requirement is always covered.
pub(super) fn covers(tokens: &TokenSet, needed: Option<&str>) -> bool {
    let granted = tokens.scopes();
    needed.is_none_or(|n| n.split_whitespace().all(|s| granted.contains(&s)))
}
