//! Redirect URI rules: what may be registered and what matches at /authorize.

use url::{Host, Url};

/// Why a redirect URI cannot be registered.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RedirectUriError {
    #[error("redirect URI {0:?} is not an absolute URL")]
    NotAbsolute(String),
    #[error("redirect URI {0:?} has a fragment, which OAuth forbids (RFC 6749 §3.1.2)")]
    HasFragment(String),
    #[error("redirect URI {0:?} must use https, or http on a loopback host (127.0.0.1, [::1], localhost)")]
    InsecureScheme(String),
    #[error("redirect URI {0:?} carries user credentials")]
    HasUserinfo(String),
}

/// MCP authorization §Communication Security: redirect URIs are https or
/// loopback http; RFC 6749 §3.1.2: absolute and without fragment.
pub fn validate_for_registration(raw: &str) -> Result<Url, RedirectUriError> {
    let url = Url::parse(raw).map_err(|_| RedirectUriError::NotAbsolute(raw.to_owned()))?;
    if url.fragment().is_some() || raw.contains('#') {
        return Err(RedirectUriError::HasFragment(raw.to_owned()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(RedirectUriError::HasUserinfo(raw.to_owned()));
    }
    match url.scheme() {
        "https" if url.host().is_some() => Ok(url),
        "http" if is_loopback_host(&url) => Ok(url),
        _ => Err(RedirectUriError::InsecureScheme(raw.to_owned())),
    }
}

fn is_loopback_host(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        Some(Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// Finds the registered redirect URI that `requested` matches.
///
/// OAuth 2.1 §2.3.1 / MCP 2025-06-18: exact string match, except that for
/// loopback http URIs the port may differ (RFC 8252 §7.3: native apps take an
/// ephemeral port at request time). Scheme, host, path and query must still match.
pub fn find_match<'a>(requested: &str, registered: &'a [String]) -> Option<&'a str> {
    if let Some(exact) = registered.iter().find(|r| r.as_str() == requested) {
        return Some(exact);
    }
    let req = Url::parse(requested).ok()?;
    if req.scheme() != "http" || !is_loopback_host(&req) || req.fragment().is_some() {
        return None;
    }
    registered
        .iter()
        .find(|candidate| {
            Url::parse(candidate).is_ok_and(|reg| {
                reg.scheme() == "http"
                    && is_loopback_host(&reg)
                    && reg.host() == req.host()
                    && reg.path() == req.path()
                    && reg.query() == req.query()
                    && reg.username() == req.username()
                    && reg.password() == req.password()
            })
        })
        .map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regs(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn registration_accepts_https_and_loopback_http() {
        for ok in [
            "https://app.example.com/callback",
            "http://127.0.0.1/cb",
            "http://127.0.0.1:8765/cb",
            "http://[::1]:9000/cb",
            "http://localhost:3000/callback",
        ] {
            assert!(validate_for_registration(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn registration_rejects_the_rest() {
        assert!(matches!(validate_for_registration("http://example.com/cb"), Err(RedirectUriError::InsecureScheme(_))));
        assert!(matches!(
            validate_for_registration("https://app.example.com/cb#frag"),
            Err(RedirectUriError::HasFragment(_))
        ));
        assert!(matches!(validate_for_registration("/relative/cb"), Err(RedirectUriError::NotAbsolute(_))));
        assert!(matches!(validate_for_registration("javascript:alert(1)"), Err(RedirectUriError::InsecureScheme(_))));
        assert!(matches!(
            validate_for_registration("http://localhost.evil.com/cb"),
            Err(RedirectUriError::InsecureScheme(_))
        ));
    }

    #[test]
    fn exact_match() {
        let r = regs(&["https://app.example.com/cb"]);
        assert_eq!(find_match("https://app.example.com/cb", &r), Some("https://app.example.com/cb"));
        assert_eq!(find_match("https://app.example.com/cb/", &r), None);
        assert_eq!(find_match("https://app.example.com/CB", &r), None);
        assert_eq!(find_match("https://app.example.com/cb?x=1", &r), None);
        assert_eq!(find_match("https://app.example.com:8443/cb", &r), None);
    }

    #[test]
    fn loopback_any_port_but_same_host_path_and_query() {
        let r = regs(&["http://127.0.0.1/cb", "http://localhost:3000/callback"]);
        assert_eq!(find_match("http://127.0.0.1:53127/cb", &r), Some("http://127.0.0.1/cb"));
        assert_eq!(find_match("http://localhost:9999/callback", &r), Some("http://localhost:3000/callback"));
        assert_eq!(find_match("http://127.0.0.1:53127/other", &r), None);
        assert_eq!(find_match("http://[::1]:53127/cb", &r), None);
        assert_eq!(find_match("http://127.0.0.1:53127/cb?x=1", &r), None);
        // https is never port-relaxed.
        let r = regs(&["https://127.0.0.1/cb"]);
        assert_eq!(find_match("https://127.0.0.1:4443/cb", &r), None);
    }
}
