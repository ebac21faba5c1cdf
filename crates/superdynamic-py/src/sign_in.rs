//! What a sign-in shows the user: the authorization URL handed to the `browser=` callable (a web app
//! redirecting its own user, a test's stand-in browser) or printed, and the device flow's code.

use pyo3::prelude::*;
use std::sync::Mutex;
use superdynamic::authorization::AuthorizationMode;
use superdynamic::{Event, Observer};
use tokio::sync::Notify;

/// The exception the `browser=` callable raised, which ends the sign-in waiting for it.
#[derive(Default)]
pub struct BrowserFailure {
    error: Mutex<Option<PyErr>>,
    raised: Notify,
}

impl BrowserFailure {
    fn set(&self, error: PyErr) {
        if let Ok(mut slot) = self.error.lock() {
            *slot = Some(error);
        }
        self.raised.notify_waiters();
    }

    /// Resolves when the callable raises during the operation that awaits this.
    pub async fn raised(&self) -> PyErr {
        self.raised.notified().await;
        let error = self.error.lock().ok().and_then(|mut slot| slot.take());
        match error {
            Some(e) => e,
            None => crate::errors::AuthorizationError::new_err("the browser callable raised an exception"),
        }
    }
}

pub struct PyObserver {
    pub browser: Option<std::sync::Arc<Py<PyAny>>>,
    pub failure: std::sync::Arc<BrowserFailure>,
    /// `flow="paste"`: the redirect may also be pasted on standard input.
    pub paste: bool,
}

impl PyObserver {
    /// Calls the `browser=` callable on a thread of its own: it may follow the URL to our redirect listener,
    /// which this runtime must keep serving meanwhile.
    fn hand_to(&self, callable: &std::sync::Arc<Py<PyAny>>, url: String) {
        let callable = callable.clone();
        let failure = self.failure.clone();
        std::thread::spawn(move || {
            Python::attach(|py| {
                if let Err(e) = callable.call1(py, (url,)) {
                    failure.set(e);
                }
            })
        });
    }
}

impl Observer for PyObserver {
    fn event(&self, event: &Event<'_>) {
        match event {
            Event::AuthorizationUrl { url, mode } => match &self.browser {
                Some(callable) => self.hand_to(callable, url.to_string()),
                None if *mode == AuthorizationMode::Browser => {
                    eprintln!("Opening the browser to sign in. If it does not open, visit:\n  {url}")
                }
                None if self.paste => eprintln!(
                    "To sign in, open this URL in a browser:\n  {url}\nA browser on this machine finishes by \
                     itself. Elsewhere, paste here the address the browser ends on (or its code) and press Enter."
                ),
                None => eprintln!("To sign in, open this URL in a browser:\n  {url}"),
            },
            Event::PasteRejected { reason } => {
                eprintln!("That is not the redirect of this sign-in ({reason}); paste the newest one")
            }
            Event::DeviceCode { user_code, verification_uri, verification_uri_complete, .. } => {
                // RFC 8628 §3.3.1: the complete URI carries the code, so a callable can open it for the user.
                match (&self.browser, verification_uri_complete) {
                    (Some(callable), Some(complete)) => self.hand_to(callable, complete.to_string()),
                    _ => {
                        let target = verification_uri_complete.unwrap_or(verification_uri);
                        eprintln!("To sign in, visit {target} and enter the code {user_code}");
                    }
                }
            }
            _ => {}
        }
    }
}
