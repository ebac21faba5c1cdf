//! The name mcp-remote gives a server's files: the MD5 (hex) of the server URL exactly as it was typed, joined
//! with `|` to the `--resource` value and the `--header` values when there are any (mcp-remote
//! `src/lib/utils.ts`, `getServerUrlHash`; from 0.1.x versions without `--resource`/`--header` it is the URL's
//! MD5 alone, which this reduces to).

use md5::{Digest, Md5};
use std::collections::BTreeMap;
use std::fmt::{self, Write as _};

/// How mcp-remote was started for one server: what its file names are derived from. Its `Debug` shows header
/// names only: a value may be a literal API key.
#[derive(Clone, PartialEq, Eq)]
pub struct ServerSpec {
    /// The URL as given to mcp-remote, not normalised: `https://x.example` and `https://x.example/` have
    /// different files.
    pub url: String,
    /// mcp-remote's `--resource` value, if any.
    pub resource: Option<String>,
    /// mcp-remote's `--header NAME:VALUE` headers as written (before it substitutes `${VAR}`, which it does
    /// after hashing). A repeated name keeps the last value, as in mcp-remote.
    pub headers: BTreeMap<String, String>,
}

impl ServerSpec {
    /// A server mcp-remote was given only the URL of.
    pub fn new(url: impl Into<String>) -> Self {
        Self { url: url.into(), resource: None, headers: BTreeMap::new() }
    }

    /// Adds one `--header` argument as mcp-remote parses it (`^([A-Za-z0-9_-]+):\s*(.*)$`); `false` when
    /// mcp-remote would ignore it (it warns and leaves it out of the hash).
    pub fn add_header_argument(&mut self, argument: &str) -> bool {
        match parse_header(argument) {
            Some((name, value)) => {
                self.headers.insert(name.to_string(), value.to_string());
                true
            }
            None => false,
        }
    }

    /// The hex MD5 prefixing this server's files.
    pub fn hash(&self) -> String {
        let mut input = self.url.clone();
        if let Some(resource) = self.resource.as_deref().filter(|r| !r.is_empty()) {
            input.push('|');
            input.push_str(resource);
        }
        if !self.headers.is_empty() {
            input.push('|');
            input.push_str(&headers_json(&self.headers));
        }
        let digest = Md5::digest(input.as_bytes());
        digest.iter().fold(String::with_capacity(32), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        })
    }
}

impl fmt::Debug for ServerSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerSpec")
            .field("url", &self.url)
            .field("resource", &self.resource)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// `JSON.stringify(headers, sortedKeys)`: the object with its keys in sorted order. Header names are ASCII (the
/// parse allows only `[A-Za-z0-9_-]`), so byte order is JavaScript's sort order; serde_json escapes strings as
/// `JSON.stringify` does (`"`, `\`, `\b\f\n\r\t`, other control characters as lowercase `\u00xx`).
fn headers_json(headers: &BTreeMap<String, String>) -> String {
    let mut out = String::from("{");
    for (i, (name, value)) in headers.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&serde_json::Value::from(name.as_str()).to_string());
        out.push(':');
        out.push_str(&serde_json::Value::from(value.as_str()).to_string());
    }
    out.push('}');
    out
}

/// mcp-remote's `/^([A-Za-z0-9_-]+):\s*(.*)$/`: JavaScript's `\s` for the spaces, and `.` (so the value) never
/// crosses a line terminator.
fn parse_header(argument: &str) -> Option<(&str, &str)> {
    let (name, rest) = argument.split_once(':')?;
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return None;
    }
    let value = rest.trim_start_matches(is_js_space);
    if value.chars().any(is_js_line_terminator) {
        return None;
    }
    Some((name, value))
}

/// ECMAScript WhiteSpace and LineTerminator: what `\s` matches.
fn is_js_space(c: char) -> bool {
    matches!(c, '\t' | '\u{b}' | '\u{c}' | ' ' | '\u{a0}' | '\u{feff}' | '\u{1680}' | '\u{2000}'..='\u{200a}')
        || matches!(c, '\u{202f}' | '\u{205f}' | '\u{3000}')
        || is_js_line_terminator(c)
}

fn is_js_line_terminator(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{2028}' | '\u{2029}')
}

#[cfg(test)]
mod tests {
    use super::*;

    // Each vector was computed with Node's crypto, running mcp-remote's getServerUrlHash as published:
    //   crypto.createHash('md5').update(parts.join('|')).digest('hex')

    #[test]
    fn a_url_alone_is_the_md5_of_the_url_as_typed() {
        assert_eq!(ServerSpec::new("https://mcp.example.com/mcp").hash(), "94baabe3c3fadb285b26c035e4e86046");
        assert_ne!(ServerSpec::new("https://mcp.example.com/mcp/").hash(), "94baabe3c3fadb285b26c035e4e86046");
    }

    #[test]
    fn the_resource_is_joined_with_a_bar() {
        let mut spec = ServerSpec::new("https://mcp.example.com/mcp");
        spec.resource = Some("https://mcp.example.com/".into());
        assert_eq!(spec.hash(), "5d3519ac3025f806cb9adbee72da8a86");
        spec.resource = Some(String::new()); // mcp-remote's default '' adds nothing
        assert_eq!(spec.hash(), "94baabe3c3fadb285b26c035e4e86046");
    }

    #[test]
    fn headers_are_joined_as_sorted_json_of_the_unsubstituted_values() {
        let mut spec = ServerSpec::new("https://mcp.example.com/mcp");
        assert!(spec.add_header_argument("X-Tenant: acme"));
        assert!(spec.add_header_argument("Authorization:Bearer ${TOKEN}"));
        assert_eq!(spec.hash(), "adb9975d7a85808007251071f7580eca");
    }

    #[test]
    fn header_values_are_escaped_as_json_stringify_does() {
        let mut spec = ServerSpec::new("https://mcp.example.com/mcp");
        spec.resource = Some("https://r.example/".into());
        spec.headers.insert("b".into(), "é\"\\\u{1}".into());
        spec.headers.insert("a".into(), "x".into());
        assert_eq!(headers_json(&spec.headers), r#"{"a":"x","b":"é\"\\\u0001"}"#);
        assert_eq!(spec.hash(), "27963e9c682cb5cd77dba5b6844fc63e");
    }

    #[test]
    fn header_arguments_mcp_remote_ignores_are_left_out() {
        let mut spec = ServerSpec::new("https://mcp.example.com/mcp");
        assert!(!spec.add_header_argument("no colon"));
        assert!(!spec.add_header_argument("Bad Name: x"));
        assert!(!spec.add_header_argument(": x"));
        assert!(!spec.add_header_argument("X: a\nb"));
        assert!(spec.headers.is_empty());
        assert!(spec.add_header_argument("X:  \u{a0}spaced "));
        assert_eq!(spec.headers["X"], "spaced ");
        assert!(spec.add_header_argument("X: later"));
        assert_eq!(spec.headers["X"], "later");
        assert!(!format!("{spec:?}").contains("later"), "a header value in Debug: {spec:?}");
    }
}
