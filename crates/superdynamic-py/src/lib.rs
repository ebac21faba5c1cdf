//! The `superdynamic._native` extension module: [`superdynamic::McpClient`] for Python. The typed `Client` and
//! `AsyncClient` (python/superdynamic) wrap [`client::NativeClient`]; every call runs on the module's tokio
//! runtime, with the GIL released, and every failure (a Rust panic included) reaches Python as an exception.

mod client;
mod errors;
mod options;
mod sign_in;
mod values;

use pyo3::prelude::*;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<client::NativeClient>()?;
    errors::register(m)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
