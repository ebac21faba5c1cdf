//! The request loop: every MCP request goes out with the stored token (refreshed first when about to expire);
//! a 401 leads to one refresh, then a sign-in; a 403 `insufficient_scope` to a sign-in for more scope.

use super::McpClient;
use super::challenge::{Answer, Challenges};
use crate::error::Error;
use crate::secret::AccessToken;
use crate::token::now_unix;
use crate::transport::{TransportError, TransportOrder};
use serde_json::{Value, json};
use std::time::Duration;

impl McpClient {
    /// Every tool, following `nextCursor` to the end (MCP pagination). Tools are returned as sent.
    pub async fn list_tools(&self) -> Result<Vec<Value>, Error> {
        let mut tools = Vec::new();
        let mut cursor: Option<String> = None;
        // A hostile server could page forever; 1000 pages is far beyond any real tool list.
        for _ in 0..1000 {
            let params = cursor.as_ref().map(|c| json!({ "cursor": c }));
            let result = self.request("tools/list", params).await?;
            if let Some(page) = result.get("tools").and_then(Value::as_array) {
                tools.extend(page.iter().cloned());
            }
            match result.get("nextCursor").and_then(Value::as_str) {
                Some(next) => cursor = Some(next.to_string()),
                None => return Ok(tools),
            }
        }
        Err(TransportError::Protocol("tools/list returned more than 1000 pages".into()).into())
    }

    /// Calls a tool; the result (`content`, `structuredContent`, `isError`, …) is returned exactly as sent.
    pub async fn call_tool(&self, name: &str, arguments: Value) -> Result<Value, Error> {
        self.request("tools/call", Some(json!({ "name": name, "arguments": arguments }))).await
    }

    /// Sends a JSON-RPC notification with the stored (refreshed if due) token. No sign-in: a notification that
    /// meets a 401 is reported, not retried.
    pub async fn notify(&self, method: &str, params: Option<Value>) -> Result<(), Error> {
        self.recall_generation().await;
        let token = self.usable_token().await?;
        Ok(self.transport.notify(method, params, token.as_ref()).await?)
    }

    /// Ends the MCP session, if one is open.
    pub async fn close(&self) {
        let token = self.stored_token().await.ok().flatten();
        if let Err(e) = self.transport.close(token.as_ref()).await {
            tracing::debug!(error = %e, "closing the MCP session failed");
        }
    }

    /// One JSON-RPC request with the authorization loop around it: proactive refresh, one refresh on 401,
    /// sign-in on 401 when no refresh helps, step-up on 403 `insufficient_scope`.
    pub async fn request(&self, method: &str, params: Option<Value>) -> Result<Value, Error> {
        let mut challenges = Challenges::default();
        self.recall_generation().await;
        loop {
            let token = self.usable_token().await?;
            let error = match self.transport.request(method, params.clone(), token.as_ref()).await {
                Ok(result) => {
                    self.remember_generation().await;
                    return Ok(result);
                }
                Err(e) => e,
            };
            match error {
                TransportError::Unauthorized { www_authenticate } => {
                    challenges.answer(self, 401, &www_authenticate, token.as_ref()).await?;
                }
                TransportError::Forbidden { www_authenticate } => {
                    if challenges.answer(self, 403, &www_authenticate, token.as_ref()).await? == Answer::GiveUp {
                        return Err(TransportError::Forbidden { www_authenticate }.into());
                    }
                }
                // With HTTP+SSE allowed the transport already tried it; told not to, say what the server speaks.
                TransportError::HttpStatus { status: status @ (400 | 404 | 405), body } => {
                    if self.transport.options().transport == TransportOrder::HttpOnly
                        && self.speaks_http_sse(token.as_ref()).await
                    {
                        return Err(Error::LegacySseTransport { server: self.server.to_string() });
                    }
                    return Err(TransportError::HttpStatus { status, body }.into());
                }
                other => return Err(other.into()),
            }
        }
    }

    async fn speaks_http_sse(&self, bearer: Option<&AccessToken>) -> bool {
        speaks_http_sse(&self.http, self.server.url(), bearer, self.transport.dpop().as_ref()).await
    }

    async fn stored_token(&self) -> Result<Option<AccessToken>, Error> {
        Ok(self.credentials().await?.and_then(|r| r.tokens).map(|t| t.access_token))
    }

    /// The access token to send: the stored one, refreshed first when it is about to expire.
    pub(super) async fn usable_token(&self) -> Result<Option<AccessToken>, Error> {
        let Some(record) = self.credentials().await? else {
            return Ok(None);
        };
        let Some(tokens) = record.tokens.clone() else {
            return Ok(None);
        };
        if !tokens.needs_refresh(now_unix()) {
            self.present(Some(&tokens))?;
            return Ok(Some(tokens.access_token));
        }
        if tokens.refresh_token.is_none() {
            return Ok(None); // expired, nothing to refresh with: the 401 path signs in again
        }
        match self.refresh_record(&record, &tokens).await {
            Ok(fresh) => {
                self.present(Some(&fresh))?;
                Ok(Some(fresh.access_token))
            }
            // The grant or the client is gone: the 401 path signs in again (registering anew if needed).
            Err(Error::Token(e)) if matches!(e.oauth_code(), Some("invalid_grant" | "invalid_client")) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// After a 401 on `sent`: refresh once if a refresh token is stored. `Ok(false)` means sign in again.
    pub(super) async fn try_refresh_after_401(&self, sent: Option<&AccessToken>) -> Result<bool, Error> {
        let Some(record) = self.credentials().await? else {
            return Ok(false);
        };
        let Some(tokens) = record.tokens.clone() else {
            return Ok(false);
        };
        if sent.is_some_and(|s| *s != tokens.access_token) {
            return Ok(true); // someone else stored a newer token meanwhile: try that one
        }
        if tokens.refresh_token.is_none() {
            return Ok(false);
        }
        match self.refresh_record(&record, &tokens).await {
            Ok(_) => Ok(true),
            Err(Error::Token(e)) if e.oauth_code().is_some() => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// Whether the server speaks the HTTP+SSE transport of 2024-11-05 (deprecated since 2025-03-26): a GET
/// answered with an event stream whose first event is `endpoint` (2024-11-05 basic/transports "HTTP with SSE").
pub(crate) async fn speaks_http_sse(
    http: &reqwest::Client,
    url: &url::Url,
    bearer: Option<&AccessToken>,
    dpop: Option<&crate::dpop::DpopProver>,
) -> bool {
    let probe = async {
        let mut request = http.get(url.clone()).header("Accept", "text/event-stream");
        match (bearer, dpop) {
            // RFC 9449 §7.1: a bound token goes with the DPoP scheme and a proof for this request.
            (Some(token), Some(dpop)) => {
                let proof = dpop.proof("GET", url, Some(token.secret())).ok()?;
                let value = zeroize::Zeroizing::new(format!("DPoP {}", token.secret()));
                let mut value = reqwest::header::HeaderValue::from_str(&value).ok()?;
                value.set_sensitive(true);
                request =
                    request.header(reqwest::header::AUTHORIZATION, value).header(crate::dpop::PROOF_HEADER, proof);
            }
            (Some(token), None) => request = request.bearer_auth(token.secret()),
            (None, _) => {}
        }
        let response = request.send().await.ok()?;
        let is_sse = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        if !response.status().is_success() || !is_sse {
            return Some(false);
        }
        let mut parser = crate::transport::SseParser::new(crate::transport::SseLimits::default());
        let mut events = Vec::new();
        let mut stream = futures_util::StreamExt::fuse(response.bytes_stream());
        while let Some(Ok(chunk)) = futures_util::StreamExt::next(&mut stream).await {
            parser.feed(&chunk, &mut events).ok()?;
            if let Some(first) = events.first() {
                return Some(first.event == "endpoint");
            }
        }
        Some(false)
    };
    tokio::time::timeout(Duration::from_secs(3), probe).await.ok().flatten().unwrap_or(false)
}
