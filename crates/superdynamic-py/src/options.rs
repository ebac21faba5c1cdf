//! `Client(...)` keyword arguments as [`ClientOptions`]; the store is chosen as the CLI chooses it, with the
//! same default paths, so a sign-in in the shell serves Python and back.

use crate::errors::{StoreError, UsageError};
use crate::sign_in::{BrowserFailure, PyObserver};
use pyo3::prelude::*;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use superdynamic::authorization::AuthorizationMode;
use superdynamic::http::OAuthTimeouts;
use superdynamic::secret::ClientSecret;
use superdynamic::store::{CredentialStore, FileStore};
use superdynamic::transport::ServerStream;
use superdynamic::{ClientOptions, StaticClient};

pub struct Settings {
    pub profile: String,
    pub store: String,
    pub store_path: Option<PathBuf>,
    pub database_url: Option<String>,
    pub scopes: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    /// `True`, `False`, or a callable that receives the authorization URL.
    pub browser: Py<PyAny>,
    /// "browser", "device" or "paste".
    pub flow: String,
    pub timeout: f64,
    pub auth_timeout: f64,
    pub callback_port: Option<u16>,
}

/// The options, and whether the store is shared by many profiles (PostgreSQL: `clients()` lists only this one).
pub fn build(py: Python<'_>, settings: Settings, failure: Arc<BrowserFailure>) -> PyResult<(ClientOptions, bool)> {
    if settings.client_secret.is_some() && settings.client_id.is_none() {
        return Err(UsageError::new_err("a client_secret was given without client_id"));
    }
    let (store, shared) = open_store(&settings)?;
    let mut options = ClientOptions::new(store);
    options.profile = settings.profile;
    options.scope = settings.scopes;
    options.callback_port = settings.callback_port;
    options.client_name = "superdynamic-python".into();
    // No handler answers server requests here: no GET stream for them.
    options.server_stream = ServerStream::Never;
    if let Some(id) = settings.client_id {
        options.static_clients.push(StaticClient {
            issuer: None,
            client_id: id,
            client_secret: settings.client_secret.map(ClientSecret::new),
            private_key: None,
        });
    }
    let timeout = seconds(settings.timeout, "timeout")?;
    options.request_timeout = timeout;
    options.oauth_timeouts = OAuthTimeouts::from_request(timeout);
    options.auth_timeout = seconds(settings.auth_timeout, "auth_timeout")?;
    let browser = settings.browser.bind(py);
    let callable = browser.is_callable().then(|| Arc::new(settings.browser.clone_ref(py)));
    let open_browser = callable.is_none() && browser.is_truthy()?;
    options.authorization_mode = match settings.flow.as_str() {
        "device" => AuthorizationMode::Device,
        "paste" => {
            options.paste_redirect = true;
            AuthorizationMode::PrintUrl
        }
        "browser" if open_browser => AuthorizationMode::Browser,
        "browser" => AuthorizationMode::PrintUrl,
        other => {
            return Err(UsageError::new_err(format!(
                "flow={other:?} is not a sign-in flow; use \"browser\", \"device\" or \"paste\""
            )));
        }
    };
    let paste = options.paste_redirect;
    options.observer = Arc::new(PyObserver { browser: callable, failure, paste });
    Ok((options, shared))
}

fn seconds(value: f64, name: &str) -> PyResult<Duration> {
    Duration::try_from_secs_f64(value)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| UsageError::new_err(format!("{name}={value} must be a positive number of seconds")))
}

/// The CLI's choice (`--store`, `SUPERDYNAMIC_STORE`): by default the OS keychain where one is reachable,
/// else the file store, at `SUPERDYNAMIC_STORE_PATH` or the platform's config directory.
fn open_store(settings: &Settings) -> PyResult<(Arc<dyn CredentialStore>, bool)> {
    let path = match &settings.store_path {
        Some(p) => p.clone(),
        None => FileStore::default_path().map_err(|e| StoreError::new_err(e.to_string()))?,
    };
    let kind = match settings.store.as_str() {
        "auto" => std::env::var("SUPERDYNAMIC_STORE").ok().filter(|s| !s.is_empty()).unwrap_or_else(|| "auto".into()),
        other => other.to_string(),
    };
    match kind.as_str() {
        "file" => Ok((Arc::new(FileStore::new(path)), false)),
        "keyring" => {
            Ok((keyring(&path).map_err(|reason| StoreError::new_err(format!("store=\"keyring\": {reason}")))?, false))
        }
        "auto" => Ok((keyring(&path).unwrap_or_else(|_| Arc::new(FileStore::new(path))), false)),
        "postgres" => {
            let url = settings
                .database_url
                .clone()
                .or_else(|| std::env::var("SUPERDYNAMIC_DATABASE_URL").ok())
                .filter(|u| !u.is_empty())
                .ok_or_else(|| {
                    UsageError::new_err(
                        "store=\"postgres\" needs the database: pass database_url=\"postgres://user:password@host:port/db\" \
                         (or set SUPERDYNAMIC_DATABASE_URL)",
                    )
                })?;
            let store =
                superdynamic::store::PostgresStore::new(&url).map_err(|e| UsageError::new_err(e.to_string()))?;
            Ok((Arc::new(store), true))
        }
        other => Err(UsageError::new_err(format!(
            "store={other:?} is not a store; use \"auto\", \"file\", \"keyring\" or \"postgres\""
        ))),
    }
}

fn keyring(path: &std::path::Path) -> Result<Arc<dyn CredentialStore>, String> {
    use superdynamic::store::{KeyringStore, platform_keyring};
    let keyring = platform_keyring().map_err(|e| e.to_string())?;
    Ok(Arc::new(KeyringStore::new(KeyringStore::index_path_for(path), keyring)))
}
