//! Multi round-trip requests (2026-07-28 basic/patterns/mrtr.mdx): an `input_required` result is answered
//! through the handler and the request sent again with `inputResponses` and the `requestState` echoed.

use serde_json::{Map, Value};

use crate::transport::error::TransportError;
use crate::transport::streamable_http::StreamableHttp;

pub(super) enum ResultKind {
    Complete,
    InputRequired,
}

impl StreamableHttp {
    /// MRTR (basic/patterns/mrtr.mdx "Client Requirements"): answers every input request through the handler.
    /// Returns the `inputResponses` (when the server sent `inputRequests`) and the `requestState` to echo.
    pub(super) async fn gather_inputs(
        &self,
        result: &Value,
        method: &str,
    ) -> Result<(Option<Value>, Option<String>), TransportError> {
        let bad = |what: &str| {
            TransportError::Protocol(format!("the input_required result of `{method}` is invalid: {what}"))
        };
        let requests = match result.get("inputRequests") {
            None | Some(Value::Null) => None,
            Some(Value::Object(map)) => Some(map),
            Some(_) => return Err(bad("inputRequests is not an object")),
        };
        let state = match result.get("requestState") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(bad("requestState is not a string")),
        };
        if requests.is_none() && state.is_none() {
            return Err(bad("it has neither inputRequests nor requestState"));
        }
        let Some(requests) = requests else {
            // "If the InputRequiredResult does not contain the inputRequests field, the client MAY retry the
            // original request immediately."
            return Ok((None, state));
        };
        let handler = self.handler();
        let mut responses = Map::new();
        for (key, input) in requests {
            let Some(input_method) = input.get("method").and_then(Value::as_str) else {
                return Err(bad(&format!("input request {key:?} has no method")));
            };
            let params = input.get("params").cloned();
            match handler.handle_input_request(input_method, params).await {
                Ok(value) => {
                    responses.insert(key.clone(), value);
                }
                Err(error) => {
                    return Err(TransportError::InputUnavailable {
                        key: key.clone(),
                        method: input_method.to_owned(),
                        reason: error.message,
                    });
                }
            }
        }
        Ok((Some(Value::Object(responses)), state))
    }
}

/// The original params plus this round's `inputResponses` and `requestState` ("the client MUST echo back the
/// exact value"; without one in the result, none is sent).
pub(super) fn with_input(
    params: Option<Value>,
    responses: Option<Value>,
    state: Option<String>,
) -> Result<Value, TransportError> {
    let mut obj = match params {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(obj)) => obj,
        Some(_) => {
            return Err(TransportError::Protocol(
                "request params must be a JSON object to carry inputResponses".to_owned(),
            ));
        }
    };
    obj.remove("inputResponses");
    obj.remove("requestState");
    if let Some(responses) = responses {
        obj.insert("inputResponses".into(), responses);
    }
    if let Some(state) = state {
        obj.insert("requestState".into(), Value::String(state));
    }
    Ok(Value::Object(obj))
}

/// schema.mdx `Result.resultType`: "when a client receives a result from a server implementing an earlier
/// protocol version (which does not include resultType), the client MUST treat the absent field as complete".
pub(super) fn result_kind(result: &Value, method: &str) -> Result<ResultKind, TransportError> {
    match result.get("resultType") {
        None | Some(Value::Null) => Ok(ResultKind::Complete),
        Some(Value::String(kind)) if kind == "complete" => Ok(ResultKind::Complete),
        Some(Value::String(kind)) if kind == "input_required" => Ok(ResultKind::InputRequired),
        Some(other) => Err(TransportError::Protocol(format!(
            "the result of `{method}` has resultType {other}, which this client does not know"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn result_types() {
        assert!(matches!(result_kind(&json!({"tools": []}), "m"), Ok(ResultKind::Complete)));
        assert!(matches!(result_kind(&json!({"resultType": "complete"}), "m"), Ok(ResultKind::Complete)));
        assert!(matches!(result_kind(&json!({"resultType": "input_required"}), "m"), Ok(ResultKind::InputRequired)));
        assert!(result_kind(&json!({"resultType": "task"}), "m").is_err());
        assert!(result_kind(&json!({"resultType": 1}), "m").is_err());
    }

    #[test]
    fn retry_params_carry_only_this_rounds_input() {
        let original = Some(json!({"name": "t", "arguments": {"a": 1}, "requestState": "stale"}));
        let p = with_input(original.clone(), Some(json!({"k": {"action": "accept"}})), None).unwrap();
        assert_eq!(p["name"], "t");
        assert_eq!(p["inputResponses"]["k"]["action"], "accept");
        assert!(p.get("requestState").is_none(), "no requestState without one in the result");
        let p = with_input(original, None, Some("opaque".into())).unwrap();
        assert_eq!(p["requestState"], "opaque");
        assert!(p.get("inputResponses").is_none());
    }
}
