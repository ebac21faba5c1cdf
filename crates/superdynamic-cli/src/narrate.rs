//! Tells the user on stderr what the library is doing, so a sign-in is never a silent wait.

use superdynamic::authorization::AuthorizationMode;
use superdynamic::{Event, Observer};

pub struct Narrator {
    pub quiet: bool,
}

impl Observer for Narrator {
    fn event(&self, event: &Event<'_>) {
        let line = match event {
            Event::Challenge { status, challenge } => {
                let scope = challenge
                    .and_then(|c| c.scope.as_deref())
                    .map(|s| format!(" (scope: {s})"))
                    .unwrap_or_default();
                match status {
                    403 => format!("The server asks for more scope{scope}"),
                    _ => format!("The server requires authorization{scope}"),
                }
            }
            Event::Discovered { discovery } => {
                format!("Authorization server: {}", discovery.issuer)
            }
            Event::Registered {
                registration,
                reused,
            } => {
                if *reused {
                    format!("Using client {}", registration.client_id)
                } else {
                    format!("Registered client {}", registration.client_id)
                }
            }
            Event::AuthorizationUrl { url, mode } => match mode {
                AuthorizationMode::PrintUrl => {
                    format!("Open this URL in your browser to sign in:\n\n  {url}\n")
                }
                AuthorizationMode::Browser => {
                    format!("Opening your browser to sign in. If it does not open, visit:\n  {url}")
                }
                AuthorizationMode::Fetch => return,
            },
            Event::WaitingForCallback { timeout, .. } => {
                if self.quiet {
                    return;
                }
                format!(
                    "Waiting up to {} s for the sign-in to complete (Ctrl-C to cancel)…",
                    timeout.as_secs()
                )
            }
            Event::Authorized { tokens } => {
                format!("Signed in{}", describe_scope(tokens.scope.as_deref()))
            }
            Event::Refreshed { .. } => "Access token refreshed".to_string(),
            Event::StepUp { scope } => format!("Signing in again for scope: {scope}"),
            Event::WaitingForOtherSignIn { server } => {
                format!("Another superdynamic process is signing in to {server}; waiting for it to finish")
            }
        };
        if !self.quiet || matches!(event, Event::AuthorizationUrl { .. }) {
            eprintln!("{line}");
        }
    }
}

fn describe_scope(scope: Option<&str>) -> String {
    scope.map(|s| format!(" (scope: {s})")).unwrap_or_default()
}
