//! Tokens for a caller's own HTTP stack (another MCP SDK's transport): the token to send, and what to do when
//! the MCP server answers 401 or 403 to it. The same loop as [`McpClient::request`], one step at a time.

use super::McpClient;
use super::observer::Event;
use crate::discovery::BearerChallenge;
use crate::error::Error;
use crate::secret::AccessToken;

impl McpClient {
    /// The access token to send now: the stored one, refreshed first when it is about to expire (`None`
    /// before the first sign-in: send the request without one and pass its 401 to [`Self::answer_challenge`]).
    /// A DPoP-bound token (RFC 9449) needs a proof per request, which another HTTP stack does not make: for
    /// such stacks use [`crate::dpop::DpopMode::Never`], or send requests through [`Self::request`].
    pub async fn bearer_token(&self) -> Result<Option<AccessToken>, Error> {
        self.usable_token().await
    }

    /// After the MCP server answered `status` (401 or 403) with these `WWW-Authenticate` values to a request
    /// that carried `sent`: refresh, sign in, or step up (RFC 6750 §3.1 `insufficient_scope`). `Ok(true)`
    /// means a new token is stored and the request is worth sending again; `Ok(false)` that nothing helps.
    pub async fn answer_challenge(
        &self,
        status: u16,
        www_authenticate: &[String],
        sent: Option<&AccessToken>,
    ) -> Result<bool, Error> {
        self.note_dpop_challenge(www_authenticate);
        let challenge = BearerChallenge::from_headers(www_authenticate);
        self.observe(Event::Challenge { status, challenge: challenge.as_ref() });
        match status {
            401 => {
                if sent.is_some() && self.try_refresh_after_401(sent).await? {
                    return Ok(true);
                }
                self.authorize(challenge.as_ref(), None).await?;
                Ok(true)
            }
            403 => {
                let Some(challenge) = challenge.filter(BearerChallenge::is_insufficient_scope) else {
                    return Ok(false);
                };
                let wanted = challenge.scope.clone().unwrap_or_default();
                self.observe(Event::StepUp { scope: &wanted });
                self.authorize(Some(&challenge), Some(&wanted)).await?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}
