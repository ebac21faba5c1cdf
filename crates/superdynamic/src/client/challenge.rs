//! What to do when the MCP server answers 401 or 403 to a request: the decision shared by [`McpClient::request`]
//! and every transport that sends requests of its own with our tokens (the rmcp transport, [`super::bearer`]).
//!
//! One operation may refresh once, sign in once, and step up at most [`MAX_STEP_UPS`] times (MCP 2025-11-25
//! §Step-Up Authorization Flow asks clients to bound retries); past that the challenge is an error.

use super::McpClient;
use super::observer::Event;
use crate::discovery::BearerChallenge;
use crate::error::Error;
use crate::secret::AccessToken;

/// Sign-ins for more scope allowed within one operation (MCP 2025-11-25 §Step-Up Authorization Flow: retry limits).
pub(crate) const MAX_STEP_UPS: u32 = 2;

/// The result of [`Challenges::answer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answer {
    /// A new token is stored (refreshed, signed in, stepped up): send the request again.
    Retry,
    /// The challenge is not one a sign-in answers (a 403 that is not `insufficient_scope`): report the response.
    GiveUp,
}

/// What one operation already tried, so each remedy is tried a bounded number of times.
#[derive(Debug, Default)]
pub(crate) struct Challenges {
    refreshed: bool,
    signed_in: bool,
    step_ups: u32,
}

impl Challenges {
    /// After the MCP server answered `status` with these `WWW-Authenticate` values to a request carrying `sent`:
    /// refresh once, then sign in once (401); step up for the scope named (403 `insufficient_scope`, RFC 6750
    /// §3.1). `Err` when the remedies are used up or a sign-in failed.
    pub(crate) async fn answer(
        &mut self,
        client: &McpClient,
        status: u16,
        www_authenticate: &[String],
        sent: Option<&AccessToken>,
    ) -> Result<Answer, Error> {
        // A `DPoP` challenge (RFC 9449 §7.1) turns DPoP on for the next sign-in (mode auto).
        client.note_dpop_challenge(www_authenticate);
        let challenge = BearerChallenge::from_headers(www_authenticate);
        client.observe(Event::Challenge { status, challenge: challenge.as_ref() });
        match status {
            401 => {
                if sent.is_some() && !self.refreshed {
                    self.refreshed = true;
                    if client.try_refresh_after_401(sent).await? {
                        return Ok(Answer::Retry);
                    }
                }
                if self.signed_in {
                    return Err(Error::StillUnauthorized { server: client.server.to_string() });
                }
                self.signed_in = true;
                client.authorize(challenge.as_ref(), None).await?;
                Ok(Answer::Retry)
            }
            403 => {
                let Some(challenge) = challenge.filter(BearerChallenge::is_insufficient_scope) else {
                    return Ok(Answer::GiveUp);
                };
                let wanted = challenge.scope.clone().unwrap_or_default();
                if self.step_ups >= MAX_STEP_UPS {
                    return Err(Error::StepUpLimit {
                        server: client.server.to_string(),
                        scope: wanted,
                        attempts: self.step_ups,
                    });
                }
                self.step_ups += 1;
                client.observe(Event::StepUp { scope: &wanted });
                client.authorize(Some(&challenge), Some(&wanted)).await?;
                Ok(Answer::Retry)
            }
            _ => Ok(Answer::GiveUp),
        }
    }
}
