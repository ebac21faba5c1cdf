//! JSON-RPC 2.0 messages as MCP uses them (basic/index.mdx "Messages"): requests, notifications, result
//! responses and error responses. Parsing never panics: anything a server sends is either one of the four
//! message kinds or a [`ParseError`] saying what is wrong with it.

use std::fmt;

use serde_json::{Map, Value, json};

/// The only `jsonrpc` member value JSON-RPC 2.0 allows.
pub const JSONRPC_VERSION: &str = "2.0";

/// JSON-RPC error code for an unknown method (JSON-RPC 2.0 §5.1).
pub const METHOD_NOT_FOUND: i64 = -32601;
/// JSON-RPC error code for invalid parameters (JSON-RPC 2.0 §5.1).
pub const INVALID_PARAMS: i64 = -32602;
/// JSON-RPC error code for an internal error (JSON-RPC 2.0 §5.1).
pub const INTERNAL_ERROR: i64 = -32603;

/// A request id. MCP (basic/index.mdx "Requests"): a string or an integer, never null, and not reused by the
/// requester within a session.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RequestId {
    Number(i64),
    String(String),
}

impl RequestId {
    pub fn to_value(&self) -> Value {
        match self {
            Self::Number(n) => Value::from(*n),
            Self::String(s) => Value::from(s.as_str()),
        }
    }

    /// `None` for anything but a string or an integer that fits in `i64` (null, floats, objects …).
    pub fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::String(s) => Some(Self::String(s.clone())),
            Value::Number(n) => n.as_i64().map(Self::Number),
            _ => None,
        }
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Number(n) => write!(f, "{n}"),
            Self::String(s) => write!(f, "{s:?}"),
        }
    }
}

impl From<i64> for RequestId {
    fn from(n: i64) -> Self {
        Self::Number(n)
    }
}

/// A request: expects a response with the same id.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub id: RequestId,
    pub method: String,
    pub params: Option<Value>,
}

/// A notification: no id, no response.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub method: String,
    pub params: Option<Value>,
}

/// A successful response.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub id: RequestId,
    pub result: Value,
}

/// The `error` member of an error response (JSON-RPC 2.0 §5.1).
#[derive(Debug, Clone, PartialEq)]
pub struct RpcErrorObject {
    pub code: i64,
    pub message: String,
    pub data: Option<Value>,
}

impl RpcErrorObject {
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), data: None }
    }

    pub fn method_not_found(method: &str) -> Self {
        Self::new(METHOD_NOT_FOUND, format!("method not found: {method}"))
    }

    pub fn to_value(&self) -> Value {
        let mut obj = Map::new();
        obj.insert("code".into(), Value::from(self.code));
        obj.insert("message".into(), Value::from(self.message.as_str()));
        if let Some(data) = &self.data {
            obj.insert("data".into(), data.clone());
        }
        Value::Object(obj)
    }
}

/// An error response. The id is `None` when the peer could not tell which request failed (JSON-RPC 2.0 §5:
/// `"id": null`), e.g. an HTTP 4xx body answering an unparsable POST (basic/transports.mdx "Sending Messages").
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorResponse {
    pub id: Option<RequestId>,
    pub error: RpcErrorObject,
}

/// Any single JSON-RPC message. Batches are not messages: MCP 2025-06-18 removed them, and a POST body
/// "MUST be a single JSON-RPC request, notification, or response" (basic/transports.mdx).
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    Request(Request),
    Notification(Notification),
    Response(Response),
    Error(ErrorResponse),
}

/// Why some bytes are not a JSON-RPC message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid JSON-RPC 2.0 message: {0}")]
pub struct ParseError(String);

impl ParseError {
    fn new(msg: impl Into<String>) -> Self {
        Self(msg.into())
    }
}

impl Message {
    /// Parses one message from raw bytes (a POST response body or an SSE `data` payload).
    pub fn parse_slice(bytes: &[u8]) -> Result<Self, ParseError> {
        let value: Value = serde_json::from_slice(bytes).map_err(|e| ParseError::new(format!("invalid JSON ({e})")))?;
        Self::from_value(value)
    }

    pub fn parse_str(text: &str) -> Result<Self, ParseError> {
        Self::parse_slice(text.as_bytes())
    }

    /// Classifies a JSON value: `method` + `id` → request, `method` alone → notification, `result` → response,
    /// `error` → error response.
    pub fn from_value(value: Value) -> Result<Self, ParseError> {
        let mut obj = match value {
            Value::Object(obj) => obj,
            Value::Array(_) => {
                return Err(ParseError::new(
                    "got a batch (JSON array); MCP sends one message per body since 2025-06-18",
                ));
            }
            _ => return Err(ParseError::new("not a JSON object")),
        };
        match obj.get("jsonrpc") {
            Some(Value::String(v)) if v == JSONRPC_VERSION => {}
            _ => return Err(ParseError::new("the `jsonrpc` member must be \"2.0\"")),
        }
        let id = match obj.remove("id") {
            None => None,
            Some(Value::Null) => Some(None),
            Some(v) => Some(Some(
                RequestId::from_value(&v).ok_or_else(|| ParseError::new("`id` must be a string or an integer"))?,
            )),
        };
        let has_result = obj.contains_key("result");
        let has_error = obj.contains_key("error");

        if let Some(method) = obj.remove("method") {
            let Value::String(method) = method else {
                return Err(ParseError::new("`method` must be a string"));
            };
            if has_result || has_error {
                return Err(ParseError::new("a message cannot have both `method` and `result`/`error`"));
            }
            let params = parse_params(obj.remove("params"))?;
            return match id {
                None => Ok(Self::Notification(Notification { method, params })),
                Some(Some(id)) => Ok(Self::Request(Request { id, method, params })),
                // MCP: request ids "MUST NOT be null" (basic/index.mdx "Requests").
                Some(None) => Err(ParseError::new("a request id must not be null")),
            };
        }

        match (has_result, has_error) {
            (true, true) => Err(ParseError::new("a response cannot have both `result` and `error`")),
            (true, false) => {
                let Some(Some(id)) = id else {
                    return Err(ParseError::new("a result response needs a non-null `id`"));
                };
                let result = obj.remove("result").unwrap_or(Value::Null);
                Ok(Self::Response(Response { id, result }))
            }
            (false, true) => {
                let error = parse_error_object(obj.remove("error").unwrap_or(Value::Null))?;
                Ok(Self::Error(ErrorResponse { id: id.flatten(), error }))
            }
            (false, false) => Err(ParseError::new("no `method`, `result` or `error` member")),
        }
    }

    pub fn to_value(&self) -> Value {
        match self {
            Self::Request(r) => r.to_value(),
            Self::Notification(n) => n.to_value(),
            Self::Response(r) => r.to_value(),
            Self::Error(e) => e.to_value(),
        }
    }
}

impl Request {
    pub fn to_value(&self) -> Value {
        let mut obj = envelope();
        obj.insert("id".into(), self.id.to_value());
        obj.insert("method".into(), Value::from(self.method.as_str()));
        if let Some(params) = &self.params {
            obj.insert("params".into(), params.clone());
        }
        Value::Object(obj)
    }
}

impl Notification {
    pub fn to_value(&self) -> Value {
        let mut obj = envelope();
        obj.insert("method".into(), Value::from(self.method.as_str()));
        if let Some(params) = &self.params {
            obj.insert("params".into(), params.clone());
        }
        Value::Object(obj)
    }
}

impl Response {
    pub fn to_value(&self) -> Value {
        json!({"jsonrpc": JSONRPC_VERSION, "id": self.id.to_value(), "result": self.result})
    }
}

impl ErrorResponse {
    pub fn to_value(&self) -> Value {
        let id = self.id.as_ref().map_or(Value::Null, RequestId::to_value);
        json!({"jsonrpc": JSONRPC_VERSION, "id": id, "error": self.error.to_value()})
    }
}

fn envelope() -> Map<String, Value> {
    let mut obj = Map::new();
    obj.insert("jsonrpc".into(), Value::from(JSONRPC_VERSION));
    obj
}

/// JSON-RPC 2.0 §4.2: params, when present, are an object or an array. A `null` is read as absent because some
/// peers write it that way.
fn parse_params(params: Option<Value>) -> Result<Option<Value>, ParseError> {
    match params {
        None | Some(Value::Null) => Ok(None),
        Some(v @ (Value::Object(_) | Value::Array(_))) => Ok(Some(v)),
        Some(_) => Err(ParseError::new("`params` must be an object or an array")),
    }
}

fn parse_error_object(value: Value) -> Result<RpcErrorObject, ParseError> {
    let Value::Object(mut obj) = value else {
        return Err(ParseError::new("`error` must be an object"));
    };
    let code =
        obj.get("code").and_then(Value::as_i64).ok_or_else(|| ParseError::new("`error.code` must be an integer"))?;
    let message = match obj.remove("message") {
        Some(Value::String(m)) => m,
        _ => return Err(ParseError::new("`error.message` must be a string")),
    };
    Ok(RpcErrorObject { code, message, data: obj.remove("data") })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_request_with_integer_or_string_id() {
        let m = Message::parse_str(r#"{"jsonrpc":"2.0","id":7,"method":"ping"}"#).unwrap();
        assert_eq!(m, Message::Request(Request { id: RequestId::Number(7), method: "ping".into(), params: None }));
        let m =
            Message::parse_str(r#"{"jsonrpc":"2.0","id":"a-1","method":"sampling/createMessage","params":{"x":1}}"#)
                .unwrap();
        let Message::Request(r) = m else { panic!("not a request: {m:?}") };
        assert_eq!(r.id, RequestId::String("a-1".into()));
        assert_eq!(r.params, Some(json!({"x": 1})));
    }

    #[test]
    fn parses_a_notification() {
        let m = Message::parse_str(r#"{"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":1}}"#)
            .unwrap();
        assert!(matches!(m, Message::Notification(ref n) if n.method == "notifications/progress"), "{m:?}");
    }

    #[test]
    fn parses_result_and_error_responses() {
        let m = Message::parse_str(r#"{"jsonrpc":"2.0","id":3,"result":{"tools":[]}}"#).unwrap();
        assert_eq!(m, Message::Response(Response { id: RequestId::Number(3), result: json!({"tools": []}) }));
        let m =
            Message::parse_str(r#"{"jsonrpc":"2.0","id":3,"error":{"code":-32602,"message":"bad","data":{"k":1}}}"#)
                .unwrap();
        assert_eq!(
            m,
            Message::Error(ErrorResponse {
                id: Some(RequestId::Number(3)),
                error: RpcErrorObject { code: -32602, message: "bad".into(), data: Some(json!({"k": 1})) }
            })
        );
        // An error that could not be tied to a request carries a null id.
        let m = Message::parse_str(r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse error"}}"#)
            .unwrap();
        assert!(matches!(m, Message::Error(ErrorResponse { id: None, .. })));
    }

    #[test]
    fn a_null_result_is_still_a_response() {
        let m = Message::parse_str(r#"{"jsonrpc":"2.0","id":1,"result":null}"#).unwrap();
        assert!(matches!(m, Message::Response(ref r) if r.result.is_null()));
    }

    #[test]
    fn rejects_bad_input_without_panicking() {
        for bad in [
            "",
            "not json",
            "[]",
            r#"[{"jsonrpc":"2.0","id":1,"method":"a"}]"#,
            "42",
            r#""text""#,
            r#"{"id":1,"method":"a"}"#,
            r#"{"jsonrpc":"1.0","id":1,"method":"a"}"#,
            r#"{"jsonrpc":"2.0","id":null,"method":"a"}"#,
            r#"{"jsonrpc":"2.0","id":1.5,"method":"a"}"#,
            r#"{"jsonrpc":"2.0","id":{},"method":"a"}"#,
            r#"{"jsonrpc":"2.0","id":18446744073709551615,"result":{}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":5}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"a","params":3}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"a","result":{}}"#,
            r#"{"jsonrpc":"2.0","id":1,"result":{},"error":{"code":1,"message":"x"}}"#,
            r#"{"jsonrpc":"2.0","result":{}}"#,
            r#"{"jsonrpc":"2.0","id":1}"#,
            r#"{"jsonrpc":"2.0","id":1,"error":"boom"}"#,
            r#"{"jsonrpc":"2.0","id":1,"error":{"code":"x","message":"m"}}"#,
            r#"{"jsonrpc":"2.0","id":1,"error":{"code":1}}"#,
        ] {
            assert!(Message::parse_str(bad).is_err(), "accepted {bad:?}");
        }
        assert!(Message::parse_slice(&[0xff, 0xfe, 0x00]).is_err());
    }

    #[test]
    fn serializes_round_trip() {
        let messages = [
            Message::Request(Request {
                id: 1.into(),
                method: "tools/list".into(),
                params: Some(json!({"cursor": "abc"})),
            }),
            Message::Notification(Notification { method: "notifications/initialized".into(), params: None }),
            Message::Response(Response { id: RequestId::String("s".into()), result: json!({}) }),
            Message::Error(ErrorResponse { id: Some(2.into()), error: RpcErrorObject::method_not_found("x/y") }),
        ];
        for m in messages {
            let v = m.to_value();
            assert_eq!(v["jsonrpc"], "2.0");
            assert_eq!(Message::from_value(v).unwrap(), m);
        }
        let n = Notification { method: "n".into(), params: None };
        assert!(n.to_value().get("id").is_none(), "notifications carry no id");
    }
}
