//! Entry points shared by the cargo-fuzz targets (`fuzz/`) and the property tests (`tests/it/properties.rs`): each
//! takes arbitrary bytes, runs one parser that reads what a server (or a host, or a browser) sends, and panics
//! only when an invariant breaks. Not part of the stable API.

use crate::authorization::{PendingAuthorization, PkceVerifier, callback};
use crate::discovery::{AuthorizationServerMetadata, BearerChallenge, ProtectedResourceMetadata, www_authenticate};
use crate::resource::{Issuer, ResourceUri};
use crate::transport::{SseEvent, SseLimits, SseParser};

/// The WWW-Authenticate parser (RFC 9110 §11.6.1, RFC 6750 §3): never panics; parameters it returns are found
/// in the input.
pub fn www_authenticate(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for challenge in www_authenticate::parse(&text) {
        let _ = challenge.is_bearer();
    }
    let lines: Vec<&str> = text.split('\n').collect();
    if let Some(bearer) = BearerChallenge::from_headers(&lines) {
        if let Some(rm) = &bearer.resource_metadata {
            assert!(rm.len() <= text.len(), "a parameter longer than the header");
        }
        let _ = bearer.is_insufficient_scope();
    }
}

fn sse_events(data: &[u8], split: impl Fn(&[u8]) -> Vec<&[u8]>) -> (Vec<SseEvent>, bool) {
    let limits = SseLimits { max_line: 4096, max_event: 16 * 1024 };
    let mut parser = SseParser::new(limits);
    let mut events = Vec::new();
    for chunk in split(data) {
        if parser.feed(chunk, &mut events).is_err() {
            return (events, true);
        }
    }
    parser.finish();
    (events, false)
}

/// The SSE parser (WHATWG HTML §9.2.6): the same events whether the stream arrives at once or byte by byte, and
/// every event within the limits.
pub fn sse(data: &[u8]) {
    let (whole, whole_err) = sse_events(data, |d| vec![d]);
    let (bytewise, byte_err) = sse_events(data, |d| d.chunks(1).collect());
    assert_eq!(whole_err, byte_err, "chunking changed whether the stream was refused");
    if !whole_err {
        assert_eq!(whole, bytewise, "chunking changed the events");
    }
    for event in &whole {
        assert!(event.data.len() <= 16 * 1024 && event.event.len() <= 16 * 1024);
    }
}

/// Metadata documents (RFC 9728 §2, RFC 8414 §2): parsing never panics.
pub fn metadata(data: &[u8]) {
    if let Ok(doc) = serde_json::from_slice::<AuthorizationServerMetadata>(data) {
        let _ = doc.auth_methods();
        let _ = doc.supports_scope("offline_access");
    }
    let _ = serde_json::from_slice::<ProtectedResourceMetadata>(data);
}

/// Token responses (RFC 6749 §5.1): an accepted one is a Bearer token with a non-empty access token and a sane
/// expiry.
pub fn token_response(data: &[u8]) {
    let now = 1_700_000_000;
    if let Ok(tokens) = crate::token::parse_token_response(data, Some("mcp"), now) {
        assert!(!tokens.access_token.secret().is_empty());
        assert_eq!(tokens.token_type, "Bearer");
        if let Some(at) = tokens.expires_at {
            assert!(at >= now && at - now <= 10 * 365 * 24 * 3600);
        }
    }
}

/// Resource URI canonicalization (RFC 8707 §2, MCP "Canonical Server URI"): idempotent, and never with a
/// fragment, user info or a scheme other than http(s).
pub fn resource_uri(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(uri) = ResourceUri::parse(&text) {
        let again = ResourceUri::parse(uri.as_str()).expect("a canonical URI parses again");
        assert_eq!(again.as_str(), uri.as_str(), "canonicalization is idempotent");
        assert!(matches!(uri.url().scheme(), "http" | "https"));
        assert!(uri.url().fragment().is_none() && uri.url().username().is_empty());
    }
}

/// The redirect's query (RFC 6749 §4.1.2, RFC 9207): a code is returned only with the right state and issuer.
pub fn callback_query(data: &[u8]) {
    let Ok(verifier) = PkceVerifier::generate() else { return };
    let pending = PendingAuthorization {
        state: "st".into(),
        verifier,
        issuer: Issuer::new("https://as.example"),
        iss_parameter_supported: true,
        redirect_uri: "http://127.0.0.1:1/callback".into(),
        scope: None,
    };
    let query = String::from_utf8_lossy(data);
    if let Ok(code) = callback::validate(&query, &pending) {
        assert!(!code.secret().is_empty());
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
        assert!(pairs.contains(&("state".into(), "st".into())));
        assert!(pairs.contains(&("iss".into(), "https://as.example".into())));
    }
}

/// The stdio proxy's input framing (MCP stdio transport: newline-delimited): terminates, and no message is
/// longer than the limit or contains a newline.
pub fn proxy_framing(data: &[u8]) {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().build() else { return };
    let max = 64;
    runtime.block_on(async {
        let mut reader = crate::proxy::LineReader::new(data, max);
        for _ in 0..=data.len() + 1 {
            match reader.next_line().await {
                Ok(crate::proxy::Line::Message(m)) => assert!(m.len() <= max && !m.contains(&b'\n')),
                Ok(crate::proxy::Line::TooLong) => {}
                Ok(crate::proxy::Line::Eof) | Err(_) => return,
            }
        }
        panic!("the line reader did not reach the end of its input");
    });
}

/// The network policy's address classifier: total, and consistent for IPv4-mapped IPv6.
pub fn address_class(data: &[u8]) {
    if data.len() >= 4 {
        let v4 = std::net::Ipv4Addr::new(data[0], data[1], data[2], data[3]);
        let mapped = v4.to_ipv6_mapped();
        assert_eq!(crate::ssrf::classify(v4.into()), crate::ssrf::classify(mapped.into()));
    }
    if data.len() >= 16 {
        let mut octets = [0u8; 16];
        octets.copy_from_slice(&data[..16]);
        let _ = crate::ssrf::classify(std::net::Ipv6Addr::from(octets).into());
    }
}
