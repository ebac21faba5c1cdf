//! The scopes this server knows, and scope strings (RFC 6749 §3.3).

/// Calling `get_weather`; also the default when a client asks for nothing.
pub const MCP_TOOLS: &str = "mcp:tools";
/// `list_files` and `read_file`.
pub const FILES_READ: &str = "files:read";
/// `get_user_profile`.
pub const PROFILE_READ: &str = "profile:read";
/// Asks for a refresh token (OIDC Core §11); only the AS advertises it.
pub const OFFLINE_ACCESS: &str = "offline_access";

/// Scopes of the protected resource (RFC 9728 `scopes_supported`). No
/// `offline_access` here: it is an AS concern (MCP 2026-07-28, SEP-2207).
pub const RESOURCE_SCOPES: [&str; 3] = [MCP_TOOLS, FILES_READ, PROFILE_READ];
/// Scopes the authorization server accepts.
pub const ALL_SCOPES: [&str; 4] = [MCP_TOOLS, FILES_READ, PROFILE_READ, OFFLINE_ACCESS];
/// Granted when the authorization request has no `scope`.
pub const DEFAULT_SCOPE: &str = MCP_TOOLS;

/// A set of known scopes, kept in the order of [`ALL_SCOPES`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeSet(Vec<&'static str>);

/// A scope string named something this server does not know.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown scope {0:?}; supported scopes are: {list}", list = ALL_SCOPES.join(" "))]
pub struct UnknownScope(pub String);

impl ScopeSet {
    /// Parses a space-delimited scope string; an empty string is an empty set.
    pub fn parse(raw: &str) -> Result<Self, UnknownScope> {
        let mut found = Vec::new();
        for token in raw.split(' ').filter(|t| !t.is_empty()) {
            let known = ALL_SCOPES.iter().find(|s| **s == token).ok_or_else(|| UnknownScope(token.to_owned()))?;
            found.push(*known);
        }
        Ok(Self(ALL_SCOPES.iter().copied().filter(|s| found.contains(s)).collect()))
    }

    pub fn contains(&self, scope: &str) -> bool {
        self.0.contains(&scope)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn is_subset_of(&self, other: &ScopeSet) -> bool {
        self.0.iter().all(|s| other.contains(s))
    }

    /// The space-delimited form used on the wire and in the database.
    pub fn to_scope_string(&self) -> String {
        self.0.join(" ")
    }
}

/// What a scope lets the client do, in words for the consent page.
pub fn describe(scope: &str) -> &'static str {
    match scope {
        MCP_TOOLS => "Use the MCP tools of this server (such as the weather tool)",
        FILES_READ => "Read the files in the demo directory",
        PROFILE_READ => "See your user id",
        OFFLINE_ACCESS => "Stay signed in (receive a refresh token)",
        _ => "Unknown permission",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_dedups_orders_and_rejects_unknown() {
        let s = ScopeSet::parse("files:read  mcp:tools files:read").unwrap();
        assert_eq!(s.to_scope_string(), "mcp:tools files:read");
        assert_eq!(ScopeSet::parse("mcp:tools admin"), Err(UnknownScope("admin".into())));
        assert!(ScopeSet::parse("").unwrap().is_empty());
    }

    #[test]
    fn subset() {
        let all = ScopeSet::parse("mcp:tools files:read").unwrap();
        let one = ScopeSet::parse("files:read").unwrap();
        assert!(one.is_subset_of(&all));
        assert!(!all.is_subset_of(&one));
    }
}
