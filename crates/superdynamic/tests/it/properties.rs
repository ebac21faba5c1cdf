//! Property tests: the fuzz targets' entry points (`superdynamic::fuzzing`, also run by `fuzz/run.sh`) on random
//! input in the normal test suite. Inputs are drawn both as raw bytes and from alphabets that reach deep into each
//! grammar (quotes, commas and `=` for WWW-Authenticate; field names and line ends for SSE …).

use proptest::prelude::*;
use superdynamic::fuzzing;

fn from_alphabet(alphabet: &'static [&'static str], max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::sample::select(alphabet), 0..max).prop_map(|parts| parts.concat().into_bytes())
}

const CHALLENGE: &[&str] = &[
    "Bearer",
    "Basic",
    "DPoP",
    " ",
    ",",
    "=",
    "\"",
    "\\",
    "resource_metadata",
    "scope",
    "error",
    "realm",
    "insufficient_scope",
    "https://a.example/x",
    "\t",
    "\u{0}",
    "é",
    "token68==",
];
const SSE: &[&str] = &[
    "data:",
    "data: x",
    "event:",
    "event: e",
    "id:",
    "id: 1",
    "retry:",
    "retry: 10",
    ":",
    "\n",
    "\r",
    "\r\n",
    " ",
    "x",
    "\u{feff}",
    "\u{0}",
    "é",
];
const URL: &[&str] = &[
    "https://",
    "http://",
    "HTTPS://",
    "a.example",
    "[::1]",
    "127.0.0.1",
    ":8443",
    ":443",
    ":0",
    "/",
    "/mcp",
    "?",
    "#",
    "@",
    "u:p@",
    "%2F",
    "..",
    ".",
    "%",
    "é",
    " ",
    "\\",
];
const QUERY: &[&str] = &[
    "code=",
    "state=",
    "iss=",
    "st",
    "https%3A%2F%2Fas.example",
    "https://as.example",
    "error=",
    "&",
    "=",
    "%",
    "c0de",
    "+",
    "%00",
];
const JSON: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "\"access_token\"",
    "\"token_type\"",
    "\"Bearer\"",
    "\"expires_in\"",
    "3600",
    "-1",
    "1e30",
    "\"scope\"",
    "\"issuer\"",
    "null",
    "\"x\"",
    "18446744073709551616",
    "0.5",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn www_authenticate_bytes(data in prop::collection::vec(any::<u8>(), 0..512)) { fuzzing::www_authenticate(&data) }
    #[test]
    fn www_authenticate_grammar(data in from_alphabet(CHALLENGE, 60)) { fuzzing::www_authenticate(&data) }
    #[test]
    fn sse_bytes(data in prop::collection::vec(any::<u8>(), 0..512)) { fuzzing::sse(&data) }
    #[test]
    fn sse_grammar(data in from_alphabet(SSE, 80)) { fuzzing::sse(&data) }
    #[test]
    fn metadata_bytes(data in prop::collection::vec(any::<u8>(), 0..512)) { fuzzing::metadata(&data) }
    #[test]
    fn token_response_grammar(data in from_alphabet(JSON, 40)) { fuzzing::token_response(&data) }
    #[test]
    fn token_response_fields(
        token in "[ -~]{0,20}", kind in "(Bearer|bearer|BEARER|mac|DPoP|)", expires in any::<i64>(), scope in "[a-z :]{0,20}"
    ) {
        let doc = serde_json::json!({"access_token": token, "token_type": kind, "expires_in": expires, "scope": scope});
        fuzzing::token_response(doc.to_string().as_bytes())
    }
    #[test]
    fn resource_uri_bytes(data in prop::collection::vec(any::<u8>(), 0..256)) { fuzzing::resource_uri(&data) }
    #[test]
    fn resource_uri_grammar(data in from_alphabet(URL, 12)) { fuzzing::resource_uri(&data) }
    #[test]
    fn callback_query_grammar(data in from_alphabet(QUERY, 20)) { fuzzing::callback_query(&data) }
    #[test]
    fn callback_query_bytes(data in prop::collection::vec(any::<u8>(), 0..256)) { fuzzing::callback_query(&data) }
    #[test]
    fn proxy_framing_bytes(data in prop::collection::vec(prop::sample::select(&[b'a', b'\n', b'\r', b'{', 0u8][..]), 0..600)) {
        fuzzing::proxy_framing(&data)
    }
    #[test]
    fn address_class_bytes(data in prop::collection::vec(any::<u8>(), 16..17)) { fuzzing::address_class(&data) }
}
