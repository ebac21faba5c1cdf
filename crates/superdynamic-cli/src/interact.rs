//! What the CLI answers when the server asks something of the client: elicitation (asking the user on a
//! terminal, or the schema's defaults with --accept-defaults, per SEP-1034), sampling (refused: the CLI has no
//! model), and the notifications it shows on stderr (progress, logging).

use serde_json::{Map, Value, json};
use std::io::{BufRead, IsTerminal, Write};
use superdynamic::transport::{HandlerFuture, RpcErrorObject, ServerMessageHandler};

pub struct CliHandler {
    /// Answer elicitations with the schema defaults when nobody can be asked.
    pub accept_defaults: bool,
    /// Hide progress and log notifications.
    pub quiet: bool,
}

impl ServerMessageHandler for CliHandler {
    fn client_capabilities(&self) -> Value {
        // Form-mode elicitation only (2025-11-25 client/elicitation: `{}` means form).
        json!({ "elicitation": {} })
    }

    fn handle_request<'a>(&'a self, method: &'a str, params: Option<Value>) -> HandlerFuture<'a> {
        Box::pin(async move {
            match method {
                "ping" => Ok(json!({})),
                "elicitation/create" => {
                    let params = params.unwrap_or(Value::Null);
                    let accept_defaults = self.accept_defaults;
                    tokio::task::spawn_blocking(move || elicit(&params, accept_defaults))
                        .await
                        .map_err(|e| RpcErrorObject::new(-32603, format!("the prompt failed: {e}")))
                }
                "sampling/createMessage" => Err(RpcErrorObject::new(
                    -32601,
                    "superdynamic's CLI has no language model to sample with; a program using the library can \
                     supply a sampling handler",
                )),
                other => Err(RpcErrorObject::method_not_found(other)),
            }
        })
    }

    fn handle_notification(&self, method: &str, params: Option<Value>) {
        if self.quiet {
            return;
        }
        let p = params.unwrap_or(Value::Null);
        match method {
            "notifications/progress" => {
                let total = p.get("total").map(|t| format!("/{t}")).unwrap_or_default();
                let message = p.get("message").and_then(Value::as_str).map(|m| format!(" {m}")).unwrap_or_default();
                eprintln!("progress: {}{total}{message}", p.get("progress").unwrap_or(&Value::Null));
            }
            "notifications/message" => {
                let level = p.get("level").and_then(Value::as_str).unwrap_or("info");
                let logger = p.get("logger").and_then(Value::as_str).map(|l| format!(" {l}")).unwrap_or_default();
                let data = match p.get("data") {
                    Some(Value::String(s)) => s.clone(),
                    Some(other) => other.to_string(),
                    None => String::new(),
                };
                eprintln!("server log [{level}]{logger}: {data}");
            }
            _ => tracing::debug!(method, "MCP server notification"),
        }
    }
}

/// One elicitation (MCP client/elicitation, form mode). On a terminal each field is asked for, showing its
/// default; an empty answer takes the default (SEP-1034). Elsewhere: decline, or accept the defaults when
/// allowed. End of input declines.
fn elicit(params: &Value, accept_defaults: bool) -> Value {
    if params.get("mode").and_then(Value::as_str).is_some_and(|m| m != "form") {
        return json!({ "action": "decline" });
    }
    let message = params.get("message").and_then(Value::as_str).unwrap_or("The server asks for input");
    let properties = params
        .get("requestedSchema")
        .and_then(|s| s.get("properties"))
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    if !interactive {
        if accept_defaults {
            return json!({ "action": "accept", "content": defaults(&properties) });
        }
        eprintln!(
            "The server asks: {message}\n(declined: no terminal to ask on; --accept-defaults sends the defaults)"
        );
        return json!({ "action": "decline" });
    }
    eprintln!("The server asks: {message}\n(Enter keeps the [default]; Ctrl-D declines)");
    let mut content = Map::new();
    let stdin = std::io::stdin();
    for (name, schema) in &properties {
        let title = schema.get("title").and_then(Value::as_str).unwrap_or(name);
        let default = schema.get("default");
        let shown = default.map(|d| format!(" [{}]", plain(d))).unwrap_or_default();
        loop {
            eprint!("  {title}{shown}: ");
            let _ = std::io::stderr().flush();
            let mut line = String::new();
            match stdin.lock().read_line(&mut line) {
                Ok(0) | Err(_) => {
                    eprintln!();
                    return json!({ "action": "decline" });
                }
                Ok(_) => {}
            }
            let answer = line.trim();
            if answer.is_empty() {
                if let Some(d) = default {
                    content.insert(name.clone(), d.clone());
                }
                break;
            }
            match convert(answer, schema) {
                Some(value) => {
                    content.insert(name.clone(), value);
                    break;
                }
                None => eprintln!(
                    "  not a valid {}; try again",
                    schema.get("type").and_then(Value::as_str).unwrap_or("value")
                ),
            }
        }
    }
    json!({ "action": "accept", "content": content })
}

/// SEP-1034: the default of every field that has one.
fn defaults(properties: &Map<String, Value>) -> Map<String, Value> {
    properties.iter().filter_map(|(name, schema)| schema.get("default").map(|d| (name.clone(), d.clone()))).collect()
}

fn plain(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Reads a typed answer: numbers, integers, booleans (y/n), enum members, or text.
fn convert(answer: &str, schema: &Value) -> Option<Value> {
    if let Some(options) = schema.get("enum").and_then(Value::as_array) {
        return options.iter().find(|o| plain(o) == answer).cloned();
    }
    match schema.get("type").and_then(Value::as_str) {
        Some("integer") => answer.parse::<i64>().ok().map(Value::from),
        Some("number") => answer.parse::<f64>().ok().and_then(serde_json::Number::from_f64).map(Value::Number),
        Some("boolean") => match answer.to_ascii_lowercase().as_str() {
            "y" | "yes" | "true" => Some(Value::Bool(true)),
            "n" | "no" | "false" => Some(Value::Bool(false)),
            _ => None,
        },
        _ => Some(Value::String(answer.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_taken_from_the_schema() {
        let schema = json!({
            "name": {"type": "string", "default": "Ada"},
            "age": {"type": "integer", "default": 36},
            "note": {"type": "string"}
        });
        let d = defaults(schema.as_object().unwrap());
        assert_eq!(Value::Object(d), json!({"name": "Ada", "age": 36}));
    }

    #[test]
    fn answers_are_typed_by_the_schema() {
        assert_eq!(convert("42", &json!({"type": "integer"})), Some(json!(42)));
        assert_eq!(convert("x", &json!({"type": "integer"})), None);
        assert_eq!(convert("y", &json!({"type": "boolean"})), Some(json!(true)));
        assert_eq!(convert("b", &json!({"type": "string", "enum": ["a", "b"]})), Some(json!("b")));
        assert_eq!(convert("c", &json!({"type": "string", "enum": ["a", "b"]})), None);
        assert_eq!(convert("2.5", &json!({"type": "number"})), Some(json!(2.5)));
    }

    #[test]
    fn without_a_terminal_elicitation_declines_unless_defaults_are_allowed() {
        let params =
            json!({"message": "m", "requestedSchema": {"properties": {"a": {"type": "string", "default": "x"}}}});
        // Test processes have no terminal on stdin.
        assert_eq!(elicit(&params, false), json!({"action": "decline"}));
        assert_eq!(elicit(&params, true), json!({"action": "accept", "content": {"a": "x"}}));
        assert_eq!(elicit(&json!({"mode": "url", "url": "https://x"}), true), json!({"action": "decline"}));
    }
}
