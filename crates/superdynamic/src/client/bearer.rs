//! Tokens for a caller's own HTTP stack (another MCP SDK's transport): the token to send, and what to do when
//! the MCP server answers 401 or 403 to it. The same loop as [`McpClient::request`], one step at a time.

use super::McpClient;
use super::challenge::{Answer, Challenges};
use crate::error::Error;
use crate::secret::AccessToken;

impl McpClient {
    /// The access token to send now: the stored one, refreshed first when it is about to expire (`None`
    /// before the first sign-in: send the request without one and pass its 401 to [`Self::answer_challenge`]).
    /// A DPoP-bound token (RFC 9449) needs a proof per request, which another HTTP stack does not make: from
    /// the first call on, this client signs in for Bearer tokens only, and a stored DPoP-bound credential
    /// counts as none (the 401 that follows signs in again). Send requests through [`Self::request`] to keep
    /// DPoP.
    pub async fn bearer_token(&self) -> Result<Option<AccessToken>, Error> {
        self.bearer_only.store(true, std::sync::atomic::Ordering::Relaxed);
        let bound = self.credentials().await?.and_then(|r| r.tokens).is_some_and(|t| t.is_dpop());
        if bound {
            return Ok(None);
        }
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
        let answer = Challenges::default().answer(self, status, www_authenticate, sent).await?;
        Ok(answer == Answer::Retry)
    }
}
