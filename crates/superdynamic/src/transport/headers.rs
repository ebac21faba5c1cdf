//! HTTP request metadata headers of the 2026-07-28 Streamable HTTP transport
//! (basic/transports/streamable-http.mdx "Request Metadata"): the value encoding shared by `Mcp-Name` and
//! `Mcp-Param-{Name}`, and the `x-mcp-header` tool-schema annotation (server/tools.mdx "x-mcp-header",
//! SEP-2243).

use std::collections::HashSet;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::header::{HeaderName, HeaderValue};
use serde_json::{Map, Value};

/// `MCP-Protocol-Version` ("Protocol Version Header").
pub const PROTOCOL_VERSION: &str = "mcp-protocol-version";
/// `Mcp-Method` ("Standard Request Headers"): the JSON-RPC `method`.
pub const METHOD: &str = "mcp-method";
/// `Mcp-Name` ("Standard Request Headers"): `params.name` or `params.uri`.
pub const NAME: &str = "mcp-name";
/// The prefix of the headers mirrored from `x-mcp-header` tool parameters.
pub const PARAM_PREFIX: &str = "Mcp-Param-";

const SENTINEL_PREFIX: &str = "=?base64?";
const SENTINEL_SUFFIX: &str = "?=";
/// "Integer values MUST be within the safe range for JavaScript (−2^53+1 to 2^53−1)".
const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// Encodes a value for `Mcp-Name` or `Mcp-Param-{Name}` ("Value Encoding"): plain visible ASCII (with inner
/// spaces) is sent as is; anything with non-ASCII or control characters (tab included), leading or trailing
/// whitespace, or that itself looks like the sentinel, is sent as `=?base64?{standard base64 of UTF-8}?=`.
pub fn encode_header_value(value: &str) -> String {
    let visible = value.bytes().all(|b| b == b' ' || (0x21..=0x7e).contains(&b));
    let padded = value.starts_with(' ') || value.ends_with(' ');
    // "clients MUST also Base64-encode any plain-ASCII value that matches the sentinel pattern".
    let looks_encoded = value.starts_with(SENTINEL_PREFIX) && value.ends_with(SENTINEL_SUFFIX);
    if visible && !padded && !looks_encoded {
        value.to_owned()
    } else {
        format!("{SENTINEL_PREFIX}{}{SENTINEL_SUFFIX}", STANDARD.encode(value.as_bytes()))
    }
}

/// [`encode_header_value`] as a [`HeaderValue`]; the encoding only ever yields visible ASCII and spaces.
pub fn header_value(value: &str) -> HeaderValue {
    let encoded = encode_header_value(value);
    HeaderValue::from_str(&encoded).unwrap_or_else(|_| {
        // Unreachable by construction; fall back to the always-valid base64 form.
        HeaderValue::from_str(&format!("{SENTINEL_PREFIX}{}{SENTINEL_SUFFIX}", STANDARD.encode(value.as_bytes())))
            .unwrap_or_else(|_| HeaderValue::from_static(""))
    })
}

/// The `Mcp-Name` source for a method ("Standard Request Headers"): `params.name` for `tools/call` and
/// `prompts/get`, `params.uri` for `resources/read`; `None` for every other method.
pub fn name_source<'a>(method: &str, params: Option<&'a Value>) -> Option<&'a str> {
    let key = match method {
        "tools/call" | "prompts/get" => "name",
        "resources/read" => "uri",
        _ => return None,
    };
    params?.get(key)?.as_str()
}

/// One `x-mcp-header` annotation of a tool: the header name part and the property path (a chain of
/// `properties` keys from the schema root) of the argument it mirrors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamHeader {
    /// As written in the schema (header names are case-insensitive on the wire).
    pub name: String,
    pub path: Vec<String>,
}

impl ParamHeader {
    /// `Mcp-Param-{name}`.
    pub fn header_name(&self) -> Option<HeaderName> {
        HeaderName::from_bytes(format!("{PARAM_PREFIX}{}", self.name).as_bytes()).ok()
    }

    /// The header value for `arguments` (the `tools/call` `params.arguments`), or `None` when the value at the
    /// path is absent or null ("Client MUST omit the header"). Strings go as is, integers in decimal,
    /// booleans as `true`/`false`, each through [`encode_header_value`]. A non-primitive value (the server's
    /// schema says it cannot be one) is not mirrored; the server's validation will say what is wrong.
    pub fn value_in(&self, arguments: Option<&Value>) -> Option<String> {
        let mut value = arguments?;
        for key in &self.path {
            value = value.get(key)?;
        }
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.to_string(),
            Value::Null | Value::Array(_) | Value::Object(_) => return None,
        };
        Some(encode_header_value(&text))
    }
}

/// The `x-mcp-header` annotations of one tool definition, validated against the constraints of
/// basic/transports/streamable-http.mdx "Schema Extension". `Err` says why the tool must be rejected
/// ("the client MUST exclude the invalid tool from the result of `tools/list`").
pub fn tool_param_headers(tool: &Value) -> Result<Vec<ParamHeader>, String> {
    let Some(schema) = tool.get("inputSchema") else {
        return Ok(Vec::new());
    };
    let mut found = Vec::new();
    collect_reachable(schema, &mut Vec::new(), &mut found)?;
    let mut seen = HashSet::new();
    for header in &found {
        // "MUST be case-insensitively unique among all x-mcp-header values in the inputSchema".
        if !seen.insert(header.name.to_ascii_lowercase()) {
            return Err(format!("x-mcp-header {:?} is used more than once (names are case-insensitive)", header.name));
        }
    }
    Ok(found)
}

/// Walks a schema reachable from the root through `properties` keys only.
fn collect_reachable(schema: &Value, path: &mut Vec<String>, found: &mut Vec<ParamHeader>) -> Result<(), String> {
    let Value::Object(obj) = schema else {
        return Ok(());
    };
    if let Some(annotation) = obj.get("x-mcp-header") {
        if path.is_empty() {
            return Err("x-mcp-header on the schema root, which is not a parameter".to_owned());
        }
        found.push(validate_annotation(annotation, obj, path)?);
    }
    for (keyword, value) in obj {
        match keyword.as_str() {
            "x-mcp-header" => {}
            "properties" => {
                if let Value::Object(props) = value {
                    for (name, sub) in props {
                        path.push(name.clone());
                        let result = collect_reachable(sub, path, found);
                        path.pop();
                        result?;
                    }
                }
            }
            // Data, not schemas: an `x-mcp-header` key in an example or default is no annotation.
            "enum" | "const" | "default" | "examples" | "example" => {}
            // `items`, `oneOf`, `anyOf`, `allOf`, `not`, `if`/`then`/`else`, `$defs`, `additionalProperties` …:
            // "The chain MUST NOT pass through" them, so any annotation below makes the tool invalid.
            other => {
                if let Some(where_) = unreachable_annotation(value) {
                    return Err(format!(
                        "x-mcp-header {where_} under `{other}` of {}; only properties reachable through `properties` keys may be annotated",
                        describe_path(path)
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Finds an `x-mcp-header` annotation anywhere in a subtree that is not statically reachable.
fn unreachable_annotation(value: &Value) -> Option<String> {
    match value {
        Value::Object(obj) => {
            if let Some(a) = obj.get("x-mcp-header") {
                return Some(format!("{a}"));
            }
            obj.iter()
                .filter(|(k, _)| !matches!(k.as_str(), "enum" | "const" | "default" | "examples" | "example"))
                .find_map(|(k, v)| {
                    if k == "properties" {
                        // Property names are not keywords: look inside each property schema.
                        v.as_object().and_then(|props| props.values().find_map(unreachable_annotation))
                    } else {
                        unreachable_annotation(v)
                    }
                })
        }
        Value::Array(items) => items.iter().find_map(unreachable_annotation),
        _ => None,
    }
}

fn validate_annotation(
    annotation: &Value,
    schema: &Map<String, Value>,
    path: &[String],
) -> Result<ParamHeader, String> {
    let at = describe_path(path);
    let Value::String(name) = annotation else {
        return Err(format!("x-mcp-header of {at} is not a string"));
    };
    // "MUST NOT be empty", "MUST match HTTP field-name token syntax (1*tchar)", no control characters.
    if name.is_empty() {
        return Err(format!("x-mcp-header of {at} is empty"));
    }
    if !name.bytes().all(is_tchar) {
        return Err(format!("x-mcp-header {name:?} of {at} is not an HTTP token (RFC 9110 tchar)"));
    }
    // "MUST only be applied to parameters with primitive types (integer, string, boolean)"; `number` is not.
    let primitive = |t: &str| matches!(t, "string" | "integer" | "boolean");
    let typed_ok = match schema.get("type") {
        Some(Value::String(t)) => primitive(t),
        // A nullable primitive (`["string", "null"]`): null is simply never mirrored.
        Some(Value::Array(types)) => {
            let names: Vec<&str> = types.iter().filter_map(Value::as_str).collect();
            names.len() == types.len()
                && names.iter().filter(|t| **t != "null").count() == 1
                && names.iter().all(|t| *t == "null" || primitive(t))
        }
        _ => false,
    };
    if !typed_ok {
        return Err(format!(
            "x-mcp-header {name:?} is on {at}, whose type is {}; only integer, string and boolean parameters may be mirrored",
            schema.get("type").map_or_else(|| "not declared".to_owned(), Value::to_string)
        ));
    }
    // Integer bounds that reach outside the safe range cannot be mirrored exactly.
    for bound in ["minimum", "maximum"] {
        if let Some(n) = schema.get(bound).and_then(Value::as_f64)
            && schema.get("type").and_then(Value::as_str) == Some("integer")
            && n.abs() > MAX_SAFE_INTEGER as f64
        {
            return Err(format!(
                "x-mcp-header {name:?} is on {at}, whose {bound} {n} lies outside the safe integer range"
            ));
        }
    }
    let header = ParamHeader { name: name.clone(), path: path.to_vec() };
    if header.header_name().is_none() {
        return Err(format!("x-mcp-header {name:?} of {at} does not make a valid header name"));
    }
    Ok(header)
}

/// RFC 9110 §5.6.2 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn describe_path(path: &[String]) -> String {
    if path.is_empty() { "the schema root".to_owned() } else { format!("parameter `{}`", path.join(".")) }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn encodes_values_as_the_spec_table_shows() {
        // basic/transports/streamable-http.mdx "Value Encoding", encoding examples.
        assert_eq!(encode_header_value("us-west1"), "us-west1");
        assert_eq!(encode_header_value("Hello, 世界"), "=?base64?SGVsbG8sIOS4lueVjA==?=");
        assert_eq!(encode_header_value(" padded "), "=?base64?IHBhZGRlZCA=?=");
        assert_eq!(encode_header_value("line1\nline2"), "=?base64?bGluZTEKbGluZTI=?=");
        assert_eq!(encode_header_value("=?base64?literal?="), "=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?=");
    }

    #[test]
    fn encoding_edge_cases() {
        // Inner spaces are fine; leading or trailing ones are not.
        assert_eq!(encode_header_value("get weather"), "get weather");
        assert!(encode_header_value("trailing ").starts_with("=?base64?"));
        assert!(encode_header_value(" leading").starts_with("=?base64?"));
        // Control characters, tab and DEL included.
        for s in ["a\tb", "a\rb", "a\u{7f}b", "a\u{0}b"] {
            let e = encode_header_value(s);
            assert!(e.starts_with("=?base64?") && e.ends_with("?="), "{s:?}");
            let inner = &e[9..e.len() - 2];
            assert_eq!(STANDARD.decode(inner).unwrap(), s.as_bytes());
        }
        // Only a value with both sentinel ends is ambiguous.
        assert_eq!(encode_header_value("=?base64?abc"), "=?base64?abc");
        assert_eq!(encode_header_value("abc?="), "abc?=");
        assert_eq!(encode_header_value(""), "");
        assert_eq!(encode_header_value("file:///projects/myapp/config.json"), "file:///projects/myapp/config.json");
        // Every output is a valid header value.
        for s in ["é", "\u{1F600}", "x\ny", "=?base64??="] {
            assert!(HeaderValue::from_str(&encode_header_value(s)).is_ok());
        }
    }

    #[test]
    fn name_sources() {
        let p = json!({"name": "t", "uri": "u"});
        assert_eq!(name_source("tools/call", Some(&p)), Some("t"));
        assert_eq!(name_source("prompts/get", Some(&p)), Some("t"));
        assert_eq!(name_source("resources/read", Some(&p)), Some("u"));
        assert_eq!(name_source("tools/list", Some(&p)), None);
        assert_eq!(name_source("tools/call", None), None);
    }

    fn tool(input_schema: Value) -> Value {
        json!({"name": "t", "inputSchema": input_schema})
    }

    #[test]
    fn accepts_valid_annotations_and_extracts_values() {
        let t = tool(json!({
            "type": "object",
            "properties": {
                "region": {"type": "string", "x-mcp-header": "Region"},
                "count": {"type": "integer", "x-mcp-header": "Count"},
                "dry": {"type": "boolean", "x-mcp-header": "Dry-Run"},
                "opt": {"type": ["string", "null"], "x-mcp-header": "Opt"},
                "nested": {"type": "object", "properties": {
                    "tenant": {"type": "string", "x-mcp-header": "Tenant"}
                }},
                "query": {"type": "string"}
            }
        }));
        let headers = tool_param_headers(&t).unwrap();
        assert_eq!(headers.len(), 5);
        let args = json!({"region": "us-west1", "count": -7, "dry": false, "opt": null,
                          "nested": {"tenant": "Zürich"}});
        let value = |name: &str| headers.iter().find(|h| h.name == name).unwrap().value_in(Some(&args));
        assert_eq!(value("Region").as_deref(), Some("us-west1"));
        assert_eq!(value("Count").as_deref(), Some("-7"));
        assert_eq!(value("Dry-Run").as_deref(), Some("false"));
        assert_eq!(value("Opt"), None, "null → header omitted");
        assert_eq!(value("Tenant").as_deref(), Some("=?base64?WsO8cmljaA==?="));
        assert_eq!(headers[0].value_in(Some(&json!({}))), None, "absent → omitted");
        assert_eq!(headers[0].value_in(None), None);
        assert_eq!(
            headers.iter().find(|h| h.name == "Tenant").unwrap().header_name().unwrap().as_str(),
            "mcp-param-tenant"
        );
        // No schema, or no annotation: nothing to mirror.
        assert!(tool_param_headers(&json!({"name": "x"})).unwrap().is_empty());
        assert!(tool_param_headers(&tool(json!({"type": "object"}))).unwrap().is_empty());
        // A property *named* x-mcp-header is not an annotation.
        let named = tool(json!({"type": "object", "properties": {
            "x-mcp-header": {"type": "object"},
            "list": {"type": "array", "items": {"type": "object", "properties": {"x-mcp-header": {"type": "string"}}}}
        }}));
        assert!(tool_param_headers(&named).unwrap().is_empty());
        // Examples and defaults are data.
        let data = tool(json!({"type": "object", "properties": {
            "o": {"type": "object", "default": {"x-mcp-header": "A"}}
        }}));
        assert!(tool_param_headers(&data).unwrap().is_empty());
    }

    #[test]
    fn rejects_invalid_annotations() {
        let invalid = [
            // `number` is not allowed, nor objects, arrays, or an undeclared type.
            json!({"properties": {"p": {"type": "number", "x-mcp-header": "P"}}}),
            json!({"properties": {"p": {"type": "object", "x-mcp-header": "P"}}}),
            json!({"properties": {"p": {"type": "array", "x-mcp-header": "P"}}}),
            json!({"properties": {"p": {"x-mcp-header": "P"}}}),
            json!({"properties": {"p": {"type": ["string", "integer"], "x-mcp-header": "P"}}}),
            // Duplicate, case-insensitively.
            json!({"properties": {
                "a": {"type": "string", "x-mcp-header": "Region"},
                "b": {"type": "string", "x-mcp-header": "region"}}}),
            // Not a token: empty, space, colon, CR/LF, non-ASCII, not a string.
            json!({"properties": {"p": {"type": "string", "x-mcp-header": ""}}}),
            json!({"properties": {"p": {"type": "string", "x-mcp-header": "My Header"}}}),
            json!({"properties": {"p": {"type": "string", "x-mcp-header": "a:b"}}}),
            json!({"properties": {"p": {"type": "string", "x-mcp-header": "a\r\nb"}}}),
            json!({"properties": {"p": {"type": "string", "x-mcp-header": "Région"}}}),
            json!({"properties": {"p": {"type": "string", "x-mcp-header": 5}}}),
            // Not statically reachable.
            json!({"properties": {"p": {"type": "array", "items": {"type": "string", "x-mcp-header": "P"}}}}),
            json!({"properties": {"p": {"oneOf": [{"type": "string", "x-mcp-header": "P"}]}}}),
            json!({"anyOf": [{"properties": {"p": {"type": "string", "x-mcp-header": "P"}}}]}),
            json!({"$defs": {"d": {"type": "string", "x-mcp-header": "P"}}, "properties": {"p": {"$ref": "#/$defs/d"}}}),
            json!({"if": {"properties": {"p": {"type": "string", "x-mcp-header": "P"}}}}),
            json!({"type": "string", "x-mcp-header": "Root"}),
            // Integer bounds outside the safe range.
            json!({"properties": {"p": {"type": "integer", "maximum": 1e300, "x-mcp-header": "P"}}}),
        ];
        for schema in invalid {
            assert!(tool_param_headers(&tool(schema.clone())).is_err(), "accepted {schema}");
        }
    }
}
