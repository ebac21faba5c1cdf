//! [`NativeClient`]: one [`McpClient`] and the module's runtime. Each method runs to completion with the GIL
//! released (`asynchronous=False`) or returns an awaitable for asyncio that runs on the runtime's threads, so
//! the event loop never blocks.

use crate::errors::{self, UsageError};
use crate::options::{self, Settings};
use crate::sign_in::BrowserFailure;
use crate::values::{from_python, to_python};
use futures_util::FutureExt;
use pyo3::prelude::*;
use serde_json::{Value, json};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::Arc;
use superdynamic::secret::AccessToken;
use superdynamic::store::CredentialStore;
use superdynamic::token::now_unix;
use superdynamic::{LoginOutcome, McpClient};

struct Inner {
    client: McpClient,
    store: Arc<dyn CredentialStore>,
    profile: String,
    /// A store shared by many profiles (tenants), whose listing is this profile's only.
    shared_store: bool,
    failure: Arc<BrowserFailure>,
}

#[pyclass(frozen, module = "superdynamic._native")]
pub struct NativeClient {
    inner: Arc<Inner>,
}

fn runtime() -> &'static tokio::runtime::Runtime {
    pyo3_async_runtimes::tokio::get_runtime()
}

/// `work`, ended early by an exception of the `browser=` callable, and with a panic as an exception.
async fn guarded(inner: Arc<Inner>, work: impl Future<Output = PyResult<Value>>) -> PyResult<Value> {
    let work = async {
        tokio::select! {
            result = work => result,
            error = inner.failure.raised() => Err(error),
        }
    };
    AssertUnwindSafe(work).catch_unwind().await.unwrap_or_else(|payload| Err(errors::panicked(payload)))
}

impl NativeClient {
    fn run<F, Fut>(&self, py: Python<'_>, asynchronous: bool, work: F) -> PyResult<Py<PyAny>>
    where
        F: FnOnce(Arc<Inner>) -> Fut,
        Fut: Future<Output = PyResult<Value>> + Send + 'static,
    {
        let work = guarded(self.inner.clone(), work(self.inner.clone()));
        if asynchronous {
            let awaitable = pyo3_async_runtimes::tokio::future_into_py(py, async move {
                let value = work.await?;
                Python::attach(|py| Ok(to_python(py, &value)?.unbind()))
            })?;
            return Ok(awaitable.unbind());
        }
        let value = py
            .detach(|| std::panic::catch_unwind(AssertUnwindSafe(|| runtime().block_on(work))))
            .unwrap_or_else(|payload| Err(errors::panicked(payload)))?;
        Ok(to_python(py, &value)?.unbind())
    }
}

#[pymethods]
impl NativeClient {
    #[new]
    #[pyo3(signature = (server_url, *, profile, store, store_path, database_url, scopes, client_id, client_secret,
                        browser, flow, timeout, auth_timeout, callback_port))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        server_url: &str,
        profile: String,
        store: String,
        store_path: Option<PathBuf>,
        database_url: Option<String>,
        scopes: Option<String>,
        client_id: Option<String>,
        client_secret: Option<String>,
        browser: Py<PyAny>,
        flow: String,
        timeout: f64,
        auth_timeout: f64,
        callback_port: Option<u16>,
    ) -> PyResult<Self> {
        let settings = Settings {
            profile: profile.clone(),
            store,
            store_path,
            database_url,
            scopes,
            client_id,
            client_secret,
            browser,
            flow,
            timeout,
            auth_timeout,
            callback_port,
        };
        let failure = Arc::new(BrowserFailure::default());
        // Stores and HTTP clients may start tasks: inside the runtime.
        let _entered = runtime().enter();
        let (options, shared_store) =
            std::panic::catch_unwind(AssertUnwindSafe(|| options::build(py, settings, failure.clone())))
                .unwrap_or_else(|payload| Err(errors::panicked(payload)))?;
        let store = options.store.clone();
        let client = McpClient::new(server_url, options).map_err(errors::to_py)?;
        Ok(Self { inner: Arc::new(Inner { client, store, profile, shared_store, failure }) })
    }

    /// The MCP server's canonical URI.
    #[getter]
    fn server(&self) -> String {
        self.inner.client.server().to_string()
    }

    #[pyo3(signature = (*, asynchronous=false))]
    fn login(&self, py: Python<'_>, asynchronous: bool) -> PyResult<Py<PyAny>> {
        self.run(py, asynchronous, |inner| async move {
            Ok(match inner.client.login().await.map_err(errors::to_py)? {
                LoginOutcome::NotRequired => json!({ "authorization_required": false }),
                LoginOutcome::SignedIn(record) => {
                    let tokens = record.tokens.as_ref();
                    json!({
                        "authorization_required": true,
                        "server": record.server, "issuer": record.issuer,
                        "client_id": record.registration.as_ref().map(|r| r.client_id.clone()),
                        "scope": tokens.and_then(|t| t.scope.clone()),
                        "expires_in": tokens.and_then(|t| t.expires_at).map(|t| t.saturating_sub(now_unix())),
                        "refresh_token": tokens.is_some_and(|t| t.refresh_token.is_some()),
                    })
                }
            })
        })
    }

    #[pyo3(signature = (keep_registration=false, *, asynchronous=false))]
    fn logout(&self, py: Python<'_>, keep_registration: bool, asynchronous: bool) -> PyResult<Py<PyAny>> {
        self.run(py, asynchronous, move |inner| async move {
            let outcome = inner.client.logout(keep_registration).await.map_err(errors::to_py)?;
            Ok(json!({
                "removed": outcome.removed, "revoked": outcome.revoked,
                "revocation_errors": outcome.revocation_errors,
            }))
        })
    }

    #[pyo3(signature = (*, asynchronous=false))]
    fn list_tools(&self, py: Python<'_>, asynchronous: bool) -> PyResult<Py<PyAny>> {
        self.run(py, asynchronous, |inner| async move {
            Ok(Value::Array(inner.client.list_tools().await.map_err(errors::to_py)?))
        })
    }

    /// The MCP result of `tools/call` as a dict; the wrapper raises `ToolError` when it says `isError`.
    #[pyo3(signature = (name, arguments=None, *, asynchronous=false))]
    fn call_tool(
        &self,
        py: Python<'_>,
        name: String,
        arguments: Option<&Bound<'_, PyAny>>,
        asynchronous: bool,
    ) -> PyResult<Py<PyAny>> {
        let arguments = match arguments {
            None => json!({}),
            Some(a) => from_python(a, "arguments")?,
        };
        if !arguments.is_object() {
            return Err(UsageError::new_err(
                "arguments must be a dict of the tool's parameters, for example {\"location\": \"Paris\"}",
            ));
        }
        self.run(py, asynchronous, move |inner| async move {
            inner.client.call_tool(&name, arguments).await.map_err(errors::tool_call_to_py)
        })
    }

    #[pyo3(signature = (*, asynchronous=false))]
    fn refresh(&self, py: Python<'_>, asynchronous: bool) -> PyResult<Py<PyAny>> {
        self.run(py, asynchronous, |inner| async move {
            let tokens = inner.client.refresh().await.map_err(errors::to_py)?;
            let expires_in = tokens.expires_at.map(|t| t.saturating_sub(now_unix()));
            Ok(json!({ "refreshed": true, "expires_in": expires_in, "scope": tokens.scope }))
        })
    }

    /// Every stored credential, never a secret (as `superdynamic clients --json`).
    #[pyo3(signature = (*, asynchronous=false))]
    fn clients(&self, py: Python<'_>, asynchronous: bool) -> PyResult<Py<PyAny>> {
        self.run(py, asynchronous, |inner| async move {
            // A shared PostgreSQL store lists only this profile (tenant), as in the CLI.
            let profile = inner.shared_store.then_some(inner.profile.as_str());
            let records = inner.store.list(profile).await.map_err(|e| errors::to_py(e.into()))?;
            let now = now_unix() as i64;
            let rows: Vec<Value> = records
                .iter()
                .map(|r| {
                    let tokens = r.tokens.as_ref();
                    json!({
                        "profile": r.profile, "server": r.server, "issuer": r.issuer,
                        "client_id": r.registration.as_ref().map(|g| g.client_id.clone()),
                        "registration": r.registration.as_ref().map(|g| g.source),
                        "signed_in": tokens.is_some(),
                        "scope": tokens.and_then(|t| t.scope.clone()),
                        "expires_in": tokens.and_then(|t| t.expires_at).map(|t| t as i64 - now),
                        "refreshable": tokens.is_some_and(|t| t.refresh_token.is_some()),
                    })
                })
                .collect();
            Ok(json!({ "store": inner.store.describe(), "credentials": rows }))
        })
    }

    /// The access token to send now (refreshed when about to expire), or None before the first sign-in.
    #[pyo3(signature = (*, asynchronous=false))]
    fn bearer_token(&self, py: Python<'_>, asynchronous: bool) -> PyResult<Py<PyAny>> {
        self.run(py, asynchronous, |inner| async move {
            let token = inner.client.bearer_token().await.map_err(errors::to_py)?;
            Ok(token.map(|t| Value::String(t.secret().to_string())).unwrap_or(Value::Null))
        })
    }

    /// After a 401 or 403 to a request that carried `sent`: refresh, sign in or step up. True when the
    /// request is worth sending again.
    #[pyo3(signature = (status, www_authenticate, sent, *, asynchronous=false))]
    fn answer_challenge(
        &self,
        py: Python<'_>,
        status: u16,
        www_authenticate: Vec<String>,
        sent: Option<String>,
        asynchronous: bool,
    ) -> PyResult<Py<PyAny>> {
        self.run(py, asynchronous, move |inner| async move {
            let sent = sent.map(AccessToken::new);
            let retry =
                inner.client.answer_challenge(status, &www_authenticate, sent.as_ref()).await.map_err(errors::to_py)?;
            Ok(Value::Bool(retry))
        })
    }

    /// Ends the MCP session (HTTP DELETE where the server keeps one).
    #[pyo3(signature = (*, asynchronous=false))]
    fn close(&self, py: Python<'_>, asynchronous: bool) -> PyResult<Py<PyAny>> {
        self.run(py, asynchronous, |inner| async move {
            inner.client.close().await;
            Ok(Value::Null)
        })
    }
}
