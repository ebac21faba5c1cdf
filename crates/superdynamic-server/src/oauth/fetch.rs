//! Outbound HTTP GETs the authorization server makes on a client's behalf:
//! Client ID Metadata Documents and `jwks_uri` sets.
//!
//! The URL comes from an unauthenticated request, so every fetch is guarded
//! against SSRF (MCP Security Best Practices §SSRF, CIMD §6):
//! - https only (http only for loopback hosts with
//!   [`FetchPolicy::insecure_loopback_http`], for tests);
//! - the host is resolved here and every address must be public (no
//!   loopback, private, link-local/metadata, CGNAT, multicast, unspecified)
//!   unless [`FetchPolicy::allow_private_hosts`]; the connection is then
//!   pinned to the checked addresses, so a second DNS answer cannot differ;
//! - no redirects, a body size cap, and time bounds: [`CONNECT_TIMEOUT`] to resolve and connect,
//!   [`FIRST_BYTE_TIMEOUT`] until the answer starts, [`DEADLINE`] for the whole answer.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use reqwest::header::CACHE_CONTROL;
use serde_json::Value;
use url::{Host, Url};

/// What outbound fetches may reach.
#[derive(Debug, Clone, Copy, Default)]
pub struct FetchPolicy {
    /// Allow hosts that resolve to private, loopback or link-local addresses.
    pub allow_private_hosts: bool,
    /// Allow plain http to loopback hosts (127.0.0.1, ::1, localhost). Tests only.
    pub insecure_loopback_http: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("the URL is not allowed: {0}")]
    NotAllowed(String),
    #[error("could not resolve the host")]
    Resolve,
    #[error("the host resolves to a non-public address ({0}), which this server does not fetch from")]
    PrivateAddress(IpAddr),
    #[error("the fetch failed: {0}")]
    Http(String),
    #[error("the server answered HTTP {0}")]
    Status(u16),
    #[error("the response is larger than {0} bytes")]
    TooLarge(usize),
    #[error("the response is not valid JSON")]
    NotJson,
    #[error("{}", stall_message(*.0))]
    TimedOut(Stall),
}

/// Which bound a fetch ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stall {
    Connect,
    FirstByte,
    Deadline,
}

fn stall_message(stall: Stall) -> String {
    let (what, bound) = match stall {
        Stall::Connect => ("no connection", CONNECT_TIMEOUT),
        Stall::FirstByte => ("the host accepted the connection but sent no answer", FIRST_BYTE_TIMEOUT),
        Stall::Deadline => ("the answer did not complete", DEADLINE),
    };
    format!("{what} within {} s; check that the host is up and serves the document", bound.as_secs())
}

/// A fetched JSON document and how long it may be cached (Cache-Control).
#[derive(Debug)]
pub struct Fetched {
    pub body: Value,
    /// `max-age` in seconds, `None` when it must not be cached.
    pub max_age: Option<u64>,
}

/// Resolving the host and opening the connection (TCP and TLS).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// From sending the request to the answer's headers.
pub const FIRST_BYTE_TIMEOUT: Duration = Duration::from_secs(5);
/// The whole fetch, body included: a host trickling its answer is cut off here.
pub const DEADLINE: Duration = Duration::from_secs(10);

fn is_loopback_name(host: &Host<&str>) -> bool {
    match host {
        Host::Ipv4(ip) => ip.is_loopback(),
        Host::Ipv6(ip) => ip.is_loopback(),
        Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
    }
}

/// Addresses nobody outside may make us call.
pub fn is_non_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_non_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_non_public_v4(v4);
            }
            let seg = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (seg[0] & 0xfe00) == 0xfc00 // unique local fc00::/7 (incl. fd00:ec2::254)
                || (seg[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
                || (seg[0] == 0x64 && seg[1] == 0xff9b) // NAT64 64:ff9b::/96 can reach v4 ranges
                || v6 == Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0, 0)
        }
    }
}

fn is_non_public_v4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local() // 169.254/16, incl. the cloud metadata address
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || o[0] == 0
        || (o[0] == 100 && (o[1] & 0xc0) == 64) // CGNAT 100.64/10
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // IETF protocol assignments
        || o[0] >= 240
}

/// Checks the URL's shape and scheme against the policy.
pub fn check_url(policy: FetchPolicy, url: &Url) -> Result<(), FetchError> {
    let host = url.host().ok_or_else(|| FetchError::NotAllowed("no host".into()))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(FetchError::NotAllowed("userinfo is not allowed".into()));
    }
    if url.fragment().is_some() {
        return Err(FetchError::NotAllowed("a fragment is not allowed".into()));
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" if policy.insecure_loopback_http && is_loopback_name(&host) => Ok(()),
        other => Err(FetchError::NotAllowed(format!("scheme {other} (only https is fetched)"))),
    }
}

/// GETs `url` as JSON under `policy`, reading at most `max_bytes`.
pub async fn get_json(policy: FetchPolicy, url: &Url, max_bytes: usize) -> Result<Fetched, FetchError> {
    check_url(policy, url)?;
    let host = url.host_str().ok_or_else(|| FetchError::NotAllowed("no host".into()))?;
    let port = url.port_or_known_default().ok_or_else(|| FetchError::NotAllowed("no port".into()))?;
    let bare_host = host.trim_start_matches('[').trim_end_matches(']');
    let deadline = tokio::time::Instant::now() + DEADLINE;
    let addrs: Vec<SocketAddr> = tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::lookup_host((bare_host, port)))
        .await
        .map_err(|_| FetchError::TimedOut(Stall::Connect))?
        .map_err(|_| FetchError::Resolve)?
        .collect();
    if addrs.is_empty() {
        return Err(FetchError::Resolve);
    }
    let loopback_for_tests = policy.insecure_loopback_http && addrs.iter().all(|a| a.ip().is_loopback());
    if !policy.allow_private_hosts
        && !loopback_for_tests
        && let Some(bad) = addrs.iter().map(SocketAddr::ip).find(|ip| is_non_public(*ip))
    {
        return Err(FetchError::PrivateAddress(bad));
    }

    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(DEADLINE)
        .connect_timeout(CONNECT_TIMEOUT)
        .no_proxy()
        // Pin the connection to the addresses checked above (no DNS rebinding).
        .resolve_to_addrs(bare_host, &addrs)
        .build()
        .map_err(|e| FetchError::Http(e.to_string()))?;
    let send = client.get(url.clone()).header(reqwest::header::ACCEPT, "application/json").send();
    let mut response = tokio::time::timeout(FIRST_BYTE_TIMEOUT, send)
        .await
        .map_err(|_| FetchError::TimedOut(Stall::FirstByte))?
        .map_err(|e| http_error(e, Stall::FirstByte))?;
    if !response.status().is_success() {
        return Err(FetchError::Status(response.status().as_u16()));
    }
    if response.content_length().is_some_and(|len| len > max_bytes as u64) {
        return Err(FetchError::TooLarge(max_bytes));
    }
    let max_age = response.headers().get(CACHE_CONTROL).and_then(|v| v.to_str().ok()).and_then(cache_max_age);
    let mut body = Vec::new();
    let read = async {
        while let Some(chunk) = response.chunk().await.map_err(|e| http_error(e, Stall::Deadline))? {
            if body.len() + chunk.len() > max_bytes {
                return Err(FetchError::TooLarge(max_bytes));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(())
    };
    tokio::time::timeout_at(deadline, read).await.map_err(|_| FetchError::TimedOut(Stall::Deadline))??;
    let body: Value = serde_json::from_slice(&body).map_err(|_| FetchError::NotJson)?;
    Ok(Fetched { body, max_age })
}

/// A transport error; reqwest's own bounds (connect, whole request) become [`FetchError::TimedOut`].
fn http_error(e: reqwest::Error, waiting_for: Stall) -> FetchError {
    if e.is_timeout() {
        return FetchError::TimedOut(if e.is_connect() { Stall::Connect } else { waiting_for });
    }
    FetchError::Http(e.without_url().to_string())
}

/// RFC 9111 §5.2.2: `max-age`, unless `no-store`/`no-cache`/`private` forbid reuse.
fn cache_max_age(value: &str) -> Option<u64> {
    let mut max_age = None;
    for directive in value.split(',').map(str::trim) {
        let (name, arg) = directive.split_once('=').unwrap_or((directive, ""));
        match name.to_ascii_lowercase().as_str() {
            "no-store" | "no-cache" => return None,
            "max-age" => max_age = arg.trim_matches('"').parse::<u64>().ok(),
            _ => {}
        }
    }
    max_age
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_public_addresses() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00:ec2::254",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_non_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "8.8.8.8"] {
            assert!(!is_non_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn url_shapes() {
        let strict = FetchPolicy::default();
        let tests = FetchPolicy { allow_private_hosts: false, insecure_loopback_http: true };
        assert!(check_url(strict, &Url::parse("https://example.com/c.json").unwrap()).is_ok());
        assert!(check_url(strict, &Url::parse("http://127.0.0.1/c.json").unwrap()).is_err());
        assert!(check_url(tests, &Url::parse("http://127.0.0.1/c.json").unwrap()).is_ok());
        assert!(check_url(tests, &Url::parse("http://example.com/c.json").unwrap()).is_err());
        assert!(check_url(strict, &Url::parse("https://u:p@example.com/c.json").unwrap()).is_err());
    }

    #[test]
    fn cache_control() {
        assert_eq!(cache_max_age("public, max-age=600"), Some(600));
        assert_eq!(cache_max_age("max-age=600, no-store"), None);
        assert_eq!(cache_max_age("no-cache"), None);
        assert_eq!(cache_max_age("public"), None);
    }
}
