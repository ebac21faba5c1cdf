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
                let scope =
                    challenge.and_then(|c| c.scope.as_deref()).map(|s| format!(" (scope: {s})")).unwrap_or_default();
                match status {
                    403 => format!("The server asks for more scope{scope}"),
                    _ => format!("The server requires authorization{scope}"),
                }
            }
            Event::Discovered { discovery } => {
                format!("Authorization server: {}", discovery.issuer)
            }
            Event::Registered { registration, reused } => {
                if *reused {
                    format!("Using client {}", registration.client_id)
                } else {
                    format!("Registered client {}", registration.client_id)
                }
            }
            Event::AuthorizationUrl { url, mode } => match mode {
                AuthorizationMode::PrintUrl => format!(
                    "Open this URL in your browser to sign in:\n\n  {url}\n\nA browser on this machine finishes by itself. \
                     Elsewhere, paste here the address the browser ends on (or its code) and press Enter."
                ),
                AuthorizationMode::Browser => {
                    format!("Opening your browser to sign in. If it does not open, visit:\n  {url}")
                }
                AuthorizationMode::Fetch | AuthorizationMode::Device => return,
            },
            Event::WaitingForCallback { timeout, .. } => {
                if self.quiet {
                    return;
                }
                format!("Waiting up to {} s for the sign-in to complete (Ctrl-C to cancel)…", timeout.as_secs())
            }
            Event::Authorized { tokens } => {
                format!("Signed in{}", describe_scope(tokens.scope.as_deref()))
            }
            Event::Refreshed { .. } => "Access token refreshed".to_string(),
            Event::StepUp { scope } => format!("Signing in again for scope: {scope}"),
            Event::PasteRejected { reason } => {
                format!("That is not the redirect of this sign-in ({reason}); paste the newest one")
            }
            Event::DeviceCode { user_code, verification_uri, verification_uri_complete, expires_in } => {
                let direct = verification_uri_complete.map(|u| format!("\n  (or open {u})")).unwrap_or_default();
                let line = format!(
                    "To sign in, open {verification_uri} on any device and enter the code\n\n    {user_code}\n{direct}\n\
                     The code expires in {} min. Waiting…",
                    expires_in / 60
                );
                eprintln!("{line}");
                return;
            }
            Event::RegistrationDiscarded { client_id } => {
                format!("The authorization server no longer accepts client {client_id}; registering again")
            }
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
