//! What a run reports while it goes: the CLI narrates these events, a library user may log them.

use crate::authorization::AuthorizationMode;
use crate::discovery::{BearerChallenge, Discovery};
use crate::registration::ClientRegistration;
use crate::resource::ResourceUri;
use crate::token::TokenSet;
use std::time::Duration;
use url::Url;

/// Something worth telling the user while the flow runs. The CLI narrates these; a library user may log them.
#[derive(Debug)]
pub enum Event<'a> {
    /// The MCP server asked for authorization.
    Challenge {
        status: u16,
        challenge: Option<&'a BearerChallenge>,
    },
    Discovered {
        discovery: &'a Discovery,
    },
    Registered {
        registration: &'a ClientRegistration,
        reused: bool,
    },
    /// The URL the user must open (printed in `PrintUrl` mode, shown as a fallback otherwise).
    AuthorizationUrl {
        url: &'a Url,
        mode: AuthorizationMode,
    },
    WaitingForCallback {
        redirect_uri: &'a str,
        timeout: Duration,
    },
    Authorized {
        tokens: &'a TokenSet,
    },
    Refreshed {
        tokens: &'a TokenSet,
    },
    StepUp {
        scope: &'a str,
    },
    /// Device flow (RFC 8628): the code the user enters at the verification URI.
    DeviceCode {
        user_code: &'a str,
        verification_uri: &'a str,
        verification_uri_complete: Option<&'a str>,
        expires_in: u64,
    },
    /// The authorization server no longer accepts this registration; it was forgotten and a new one follows.
    RegistrationDiscarded {
        client_id: &'a str,
    },
    /// A pasted redirect was for another sign-in; waiting for the right one.
    PasteRejected {
        reason: &'a str,
    },
    /// Another process is signing in to this server; this one waits for its result.
    WaitingForOtherSignIn {
        server: &'a ResourceUri,
    },
}

pub trait Observer: Send + Sync {
    fn event(&self, event: &Event<'_>);
}

/// An observer that logs events at debug level.
pub struct TracingObserver;

impl Observer for TracingObserver {
    fn event(&self, event: &Event<'_>) {
        tracing::debug!(?event, "superdynamic");
    }
}
