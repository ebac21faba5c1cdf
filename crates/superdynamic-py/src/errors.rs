//! Exception classes mirroring the library's error enums, each carrying the message the CLI prints.

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use superdynamic::Error;
use superdynamic::transport::TransportError as LibTransportError;

create_exception!(superdynamic, SuperdynamicError, PyException, "Any failure of superdynamic.");
create_exception!(superdynamic, UsageError, SuperdynamicError, "A wrong input: a server URL, an option, arguments.");
create_exception!(
    superdynamic,
    DiscoveryError,
    SuperdynamicError,
    "Protected resource or authorization server metadata could not be found or used."
);
create_exception!(superdynamic, RegistrationError, SuperdynamicError, "Client registration failed.");
create_exception!(superdynamic, AuthorizationError, SuperdynamicError, "Sign-in, consent, tokens or scopes.");
create_exception!(superdynamic, TransportError, SuperdynamicError, "The MCP server or the network.");
create_exception!(superdynamic, StoreError, SuperdynamicError, "The local credential store.");
create_exception!(
    superdynamic,
    ToolError,
    SuperdynamicError,
    "A tool call failed: the server rejected it or the tool reported an error."
);

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("SuperdynamicError", py.get_type::<SuperdynamicError>())?;
    m.add("UsageError", py.get_type::<UsageError>())?;
    m.add("DiscoveryError", py.get_type::<DiscoveryError>())?;
    m.add("RegistrationError", py.get_type::<RegistrationError>())?;
    m.add("AuthorizationError", py.get_type::<AuthorizationError>())?;
    m.add("TransportError", py.get_type::<TransportError>())?;
    m.add("StoreError", py.get_type::<StoreError>())?;
    m.add("ToolError", py.get_type::<ToolError>())?;
    Ok(())
}

/// The exception for a library error, by the step that failed.
pub fn to_py(error: Error) -> PyErr {
    let message = error.to_string();
    match &error {
        Error::InvalidServerUrl(_) => UsageError::new_err(message),
        Error::Discovery(_) => DiscoveryError::new_err(message),
        Error::Registration(_) => RegistrationError::new_err(message),
        Error::Store(_) => StoreError::new_err(message),
        Error::Transport(e) if e.is_auth() => AuthorizationError::new_err(message),
        Error::Transport(_) | Error::LegacySseTransport { .. } => TransportError::new_err(message),
        _ if error.kind() == superdynamic::ErrorKind::Server => TransportError::new_err(message),
        _ => AuthorizationError::new_err(message),
    }
}

/// As [`to_py`], except that the server's JSON-RPC refusal of a `tools/call` (unknown tool, invalid
/// arguments: MCP server/tools §Error Handling) is a [`ToolError`].
pub fn tool_call_to_py(error: Error) -> PyErr {
    match &error {
        Error::Transport(LibTransportError::Rpc { .. }) => ToolError::new_err(error.to_string()),
        _ => to_py(error),
    }
}

/// A panic inside the library, as an exception instead of an aborted interpreter.
pub fn panicked(payload: Box<dyn std::any::Any + Send>) -> PyErr {
    let detail = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".into());
    SuperdynamicError::new_err(format!(
        "internal error in superdynamic ({detail}); nothing was lost, but please report it with the steps that led here"
    ))
}
