//! Identifiers that must be compared exactly: the MCP server's canonical resource URI (RFC 8707 §2, MCP
//! authorization "Canonical Server URI") and an authorization server's issuer (RFC 8414 §3.3, RFC 9207 §2.4).

use serde::{Deserialize, Serialize};
use std::fmt;
use url::Url;

/// Why a URL cannot name an MCP server.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResourceUriError {
    #[error("'{0}' is not an absolute URL; give the full server URL, for example https://mcp.example.com/mcp")]
    NotAbsolute(String),
    #[error("'{0}' uses scheme '{1}'; MCP servers are reached over https (or http on loopback)")]
    UnsupportedScheme(String, String),
    #[error("'{0}' has a fragment (#…), which a resource identifier must not have (RFC 8707 §2)")]
    Fragment(String),
    #[error("'{0}' carries a user name or password; remove them from the URL")]
    Userinfo(String),
}

/// The canonical URI of an MCP server: lowercase scheme and host (the `url` crate does that), no fragment,
/// and no trailing slash unless the path is only `/`, which is dropped too (MCP "Canonical Server URI").
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ResourceUri {
    text: String,
    url: Url,
}

impl TryFrom<String> for ResourceUri {
    type Error = ResourceUriError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<ResourceUri> for String {
    fn from(value: ResourceUri) -> Self {
        value.text
    }
}

impl ResourceUri {
    pub fn parse(input: &str) -> Result<Self, ResourceUriError> {
        let url = Url::parse(input.trim()).map_err(|_| ResourceUriError::NotAbsolute(input.to_string()))?;
        Self::from_url(&url)
    }

    pub fn from_url(url: &Url) -> Result<Self, ResourceUriError> {
        let shown = url.as_str().to_string();
        match url.scheme() {
            "https" | "http" => {}
            other => {
                return Err(ResourceUriError::UnsupportedScheme(shown, other.to_string()));
            }
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(ResourceUriError::NotAbsolute(shown));
        }
        if url.fragment().is_some() {
            return Err(ResourceUriError::Fragment(shown));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(ResourceUriError::Userinfo(shown));
        }
        let mut canonical = url.as_str().to_string();
        // `Url` always serializes an empty path as "/"; the canonical form drops it (RFC 8707 examples), and every
        // trailing slash with it, so canonicalization is idempotent ("http:p://" is "http://p//"; fuzzing found
        // that dropping one slash left "http://p/", whose canonical form is "http://p").
        if url.query().is_none() {
            while canonical.ends_with('/') {
                canonical.pop();
            }
        }
        Ok(Self { text: canonical, url: url.clone() })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn url(&self) -> &Url {
        &self.url
    }

    /// True when this resource and `other` share scheme, host and port.
    pub fn same_origin(&self, other: &Url) -> bool {
        self.url.origin() == other.origin()
    }
}

impl fmt::Display for ResourceUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for ResourceUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ResourceUri({})", self.text)
    }
}

/// An authorization server issuer identifier. Compared by exact string, never normalized: RFC 8414 §3.3
/// and RFC 9207 §2.4 require simple string comparison, so `https://a/` and `https://a` are different issuers.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Issuer(String);

impl Issuer {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Issuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Issuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Issuer({})", self.0)
    }
}

/// True for hosts that name this machine: 127.0.0.0/8, ::1 and `localhost`.
pub fn is_loopback_host(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost") || d.ends_with(".localhost"),
        None => false,
    }
}

/// Where a URL may be used for OAuth traffic: https anywhere, http only on loopback (OAuth 2.1 §1.5,
/// MCP "Communication Security").
pub fn is_secure_or_loopback(url: &Url) -> bool {
    match url.scheme() {
        "https" => true,
        "http" => is_loopback_host(url),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_forms_from_the_mcp_spec() {
        // MCP authorization "Canonical Server URI" valid examples, and case normalization (CHECKLIST §9.3-9.5).
        for (input, expected) in [
            ("https://mcp.example.com/mcp", "https://mcp.example.com/mcp"),
            ("https://mcp.example.com", "https://mcp.example.com"),
            ("https://mcp.example.com/", "https://mcp.example.com"),
            ("https://mcp.example.com:8443", "https://mcp.example.com:8443"),
            ("https://mcp.example.com/server/mcp", "https://mcp.example.com/server/mcp"),
            ("HTTPS://MCP.Example.com/mcp", "https://mcp.example.com/mcp"),
            ("https://mcp.example.com:443/mcp", "https://mcp.example.com/mcp"),
            ("http://127.0.0.1:8000/mcp/", "http://127.0.0.1:8000/mcp"),
            ("http:p://", "http://p"),
            ("https://mcp.example.com/mcp//", "https://mcp.example.com/mcp"),
        ] {
            assert_eq!(ResourceUri::parse(input).unwrap().as_str(), expected, "{input}");
            assert_eq!(ResourceUri::parse(expected).unwrap().as_str(), expected, "idempotent: {expected}");
        }
    }

    #[test]
    fn invalid_resource_uris_are_refused_with_a_reason() {
        assert!(matches!(ResourceUri::parse("mcp.example.com"), Err(ResourceUriError::NotAbsolute(_))));
        assert!(matches!(ResourceUri::parse("https://mcp.example.com#fragment"), Err(ResourceUriError::Fragment(_))));
        assert!(matches!(ResourceUri::parse("ftp://mcp.example.com"), Err(ResourceUriError::UnsupportedScheme(..))));
        assert!(matches!(ResourceUri::parse("https://u:p@mcp.example.com"), Err(ResourceUriError::Userinfo(_))));
        let msg = ResourceUri::parse("mcp.example.com").unwrap_err().to_string();
        assert!(msg.contains("full server URL"), "{msg}");
    }

    #[test]
    fn issuers_compare_exactly() {
        assert_ne!(Issuer::new("https://a.example"), Issuer::new("https://a.example/"));
        assert_ne!(Issuer::new("https://A.example"), Issuer::new("https://a.example"));
    }

    #[test]
    fn loopback_and_scheme_rules() {
        for ok in ["https://x.example/a", "http://127.0.0.1:9/a", "http://[::1]:9/", "http://localhost/"] {
            assert!(is_secure_or_loopback(&Url::parse(ok).unwrap()), "{ok}");
        }
        for bad in ["http://x.example/", "javascript:alert(1)", "file:///etc/passwd", "data:text/html,x"] {
            assert!(!is_secure_or_loopback(&Url::parse(bad).unwrap()), "{bad}");
        }
    }
}
