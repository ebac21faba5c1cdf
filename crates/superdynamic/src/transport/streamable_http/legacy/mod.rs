//! The initialize-based generation (2025-03-26, 2025-06-18, 2025-11-25; basic/lifecycle.mdx and
//! basic/transports.mdx "Session Management"): a session opened by `initialize`, its id and negotiated version
//! on every later request, re-initialized once on 404, ended with DELETE.
//!
//! `response` reads a request's answer (JSON or an SSE stream carrying server requests), `resume` picks a
//! closed stream up again with `Last-Event-ID`, `listen` keeps the session's own GET stream, and `http_sse`
//! carries the same session over the 2024-11-05 HTTP+SSE transport instead.

mod http_sse;
mod listen;
mod response;
mod resume;

pub(super) use http_sse::SseChannel;

use std::sync::atomic::Ordering;
use std::sync::{Arc, MutexGuard};

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::options::ServerStream;
use super::wire::{Ctx, SESSION_ID_HEADER};
use super::{SUPPORTED_PROTOCOL_VERSIONS, StreamableHttp};
use crate::secret::AccessToken;
use crate::transport::era::Generation;
use crate::transport::error::TransportError;
use crate::transport::jsonrpc::{Message, Notification, Request};
use http_sse::SSE_PROTOCOL_VERSION;

/// What `initialize` negotiated.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionInfo {
    /// The version the server answered with; sent as `MCP-Protocol-Version` from then on.
    pub protocol_version: String,
    /// `serverInfo` as sent (name, version, title …), `Null` if absent.
    pub server_info: Value,
    /// The server's `capabilities`, `{}` if absent.
    pub capabilities: Value,
    pub instructions: Option<String>,
    /// The `Mcp-Session-Id` the server assigned, if any. Not a credential, but not to be shared either
    /// (2025-11-25 basic/transports.mdx "Session Management" 1).
    pub session_id: Option<String>,
}

pub(super) struct Session {
    pub(super) info: SessionInfo,
    /// Distinguishes sessions so a task that saw a 404 forgets only the session it used.
    pub(super) generation: u64,
    /// Whether this session's GET stream was opened (or tried).
    pub(super) stream_started: std::sync::atomic::AtomicBool,
    /// The HTTP+SSE channel, when the session runs over the 2024-11-05 transport.
    pub(super) sse: Option<Arc<SseChannel>>,
}

impl<'a> Ctx<'a> {
    pub(super) fn for_session(session: &'a Session, bearer: Option<&'a AccessToken>) -> Self {
        match &session.sse {
            Some(channel) => channel.ctx(&session.info.protocol_version, bearer),
            None => Self {
                session_id: session.info.session_id.as_deref(),
                protocol_version: Some(&session.info.protocol_version),
                bearer,
                post_to: None,
            },
        }
    }
}

impl StreamableHttp {
    /// The current session, if `initialize` has run (legacy only: the modern generation has no sessions).
    pub fn session(&self) -> Option<SessionInfo> {
        self.current_session().map(|s| s.info.clone())
    }

    /// The legacy request: initialize if needed, then the request in the session.
    pub(super) async fn legacy_request(
        &self,
        method: &str,
        params: Option<Value>,
        bearer: Option<&AccessToken>,
    ) -> Result<Value, TransportError> {
        let mut retried = false;
        self.note_bearer(bearer);
        loop {
            let session = self.ensure_session(bearer).await?;
            let listing = method.ends_with("/list") || method == "ping";
            if self.inner.options.server_stream == ServerStream::BeforeFirstCall && !listing {
                self.start_server_stream(&session).await;
            }
            let ctx = Ctx::for_session(&session, bearer);
            // basic/index.mdx "Requests": a fresh id for every request, never reused in the session.
            let request = Request { id: self.next_id(), method: method.to_owned(), params: params.clone() };
            let answer = match &session.sse {
                Some(channel) => self.sse_call(channel, &ctx, &request).await,
                None => self.call(&ctx, &request).await,
            };
            match answer {
                // basic/transports.mdx "Session Management" 4: a 404 to a request carrying a session id means
                // the session is gone; start a new one (without the old id) and retry once.
                Err(TransportError::SessionExpired) => {
                    self.forget_session(&session);
                    if retried {
                        return Err(TransportError::SessionExpired);
                    }
                    retried = true;
                }
                other => return other,
            }
        }
    }

    pub(super) async fn legacy_notify(
        &self,
        method: &str,
        params: Option<Value>,
        bearer: Option<&AccessToken>,
    ) -> Result<(), TransportError> {
        let message = Message::Notification(Notification { method: method.to_owned(), params });
        let mut retried = false;
        loop {
            let session = self.ensure_session(bearer).await?;
            let ctx = Ctx::for_session(&session, bearer);
            match self.post_message(&ctx, &message, method).await {
                Err(TransportError::SessionExpired) => {
                    self.forget_session(&session);
                    if retried {
                        return Err(TransportError::SessionExpired);
                    }
                    retried = true;
                }
                other => return other,
            }
        }
    }

    /// Ends the session: HTTP DELETE with the `Mcp-Session-Id` (basic/transports.mdx "Session Management" 5).
    /// 405 (the server does not let clients end sessions) and 404 (already gone) count as success. No-op without
    /// a session. The session is forgotten locally unless the server answered 401/403, so the caller can retry
    /// with a fresh token.
    pub async fn close(&self, bearer: Option<&AccessToken>) -> Result<(), TransportError> {
        self.stop_listener();
        let Some(session) = self.current_session() else {
            return Ok(());
        };
        // HTTP+SSE: closing the event stream ends the session; Streamable HTTP without a session id has
        // nothing to end either.
        if session.sse.is_some() || session.info.session_id.is_none() {
            self.forget_session(&session);
            return Ok(());
        }
        let result = self.delete_session(&Ctx::for_session(&session, bearer)).await;
        if !matches!(&result, Err(e) if e.is_auth()) {
            self.forget_session(&session);
        }
        result
    }

    fn lock_session(&self) -> MutexGuard<'_, Option<Arc<Session>>> {
        self.inner.session.lock().unwrap_or_else(|poison| poison.into_inner())
    }

    pub(super) fn current_session(&self) -> Option<Arc<Session>> {
        self.lock_session().clone()
    }

    /// Forgets `session` unless another task already replaced it.
    pub(super) fn forget_session(&self, session: &Session) {
        self.forget_generation(session.generation);
    }

    fn forget_generation(&self, generation: u64) {
        let mut current = self.lock_session();
        if current.as_ref().is_some_and(|c| c.generation == generation) {
            *current = None;
        }
    }

    pub(super) async fn ensure_session(&self, bearer: Option<&AccessToken>) -> Result<Arc<Session>, TransportError> {
        if let Some(session) = self.current_session() {
            return Ok(session);
        }
        let _guard = self.inner.init_lock.lock().await;
        if let Some(session) = self.current_session() {
            return Ok(session);
        }
        let session = Arc::new(self.initialize(bearer).await?);
        *self.lock_session() = Some(session.clone());
        self.confirm(Generation::Legacy);
        self.note_bearer(bearer);
        if self.inner.options.server_stream == ServerStream::Always {
            self.start_server_stream(&session).await;
        }
        Ok(session)
    }

    /// Opens the session's GET stream once (waiting briefly until it is open, so a server request that follows
    /// our next request has somewhere to go).
    async fn start_server_stream(&self, session: &Arc<Session>) {
        // An HTTP+SSE session's event stream already carries everything the server sends.
        if session.sse.is_none() && !session.stream_started.swap(true, Ordering::AcqRel) {
            self.start_listener(session.clone()).await;
        }
    }

    /// basic/lifecycle.mdx "Initialization": `initialize` (protocolVersion, capabilities, clientInfo), then
    /// `notifications/initialized`.
    async fn initialize(&self, bearer: Option<&AccessToken>) -> Result<Session, TransportError> {
        let options = &self.inner.options;
        // A -32022 answer to the modern probe may have named the legacy version to use.
        let version = self.lock_era().legacy_version.clone().unwrap_or_else(|| options.protocol_version.clone());
        let capabilities = self.handler().client_capabilities();
        let request = Request {
            id: self.next_id(),
            method: "initialize".to_owned(),
            params: Some(json!({
                "protocolVersion": version,
                "capabilities": capabilities,
                "clientInfo": {"name": options.client_name, "version": options.client_version},
            })),
        };
        let generation = self.inner.next_generation.fetch_add(1, Ordering::Relaxed);
        let mut assigned_id = None;
        let (sse, result) = if self.uses_sse() {
            let channel = Arc::new(self.open_sse(generation, bearer).await?);
            let result = self.sse_call(&channel, &channel.ctx("", bearer), &request).await?;
            (Some(channel), result)
        } else {
            // "Session Management" 4: a new session starts without a session id; the server's id is adopted
            // from the InitializeResult's response headers.
            let ctx = Ctx { session_id: None, protocol_version: None, bearer, post_to: None };
            (None, self.call_adopting(&ctx, &request, &mut assigned_id).await?)
        };
        let Value::Object(result) = result else {
            return Err(TransportError::Protocol("the initialize result is not a JSON object".to_owned()));
        };
        let offered = result.get("protocolVersion").and_then(Value::as_str).ok_or_else(|| {
            TransportError::Protocol("the initialize result has no protocolVersion string".to_owned())
        })?;
        // 2024-11-05 is only spoken where it was the current version: over HTTP+SSE.
        let supported =
            SUPPORTED_PROTOCOL_VERSIONS.contains(&offered) || (sse.is_some() && offered == SSE_PROTOCOL_VERSION);
        if !supported {
            // "Version Negotiation": the client SHOULD disconnect, so end the session the server opened.
            if assigned_id.is_some() {
                let ctx = Ctx { session_id: assigned_id.as_deref(), protocol_version: None, bearer, post_to: None };
                if let Err(err) = self.delete_session(&ctx).await {
                    tracing::debug!(%err, "could not end the session of an incompatible server");
                }
            }
            return Err(TransportError::UnsupportedProtocolVersion { offered: offered.to_owned() });
        }
        let info = SessionInfo {
            protocol_version: offered.to_owned(),
            server_info: result.get("serverInfo").cloned().unwrap_or(Value::Null),
            capabilities: result.get("capabilities").cloned().unwrap_or_else(|| json!({})),
            instructions: result.get("instructions").and_then(Value::as_str).map(str::to_owned),
            session_id: assigned_id,
        };
        let session = Session { info, generation, stream_started: std::sync::atomic::AtomicBool::new(false), sse };
        // "Protocol Version Header": from here on every request carries the negotiated version.
        let initialized =
            Message::Notification(Notification { method: "notifications/initialized".to_owned(), params: None });
        self.post_message(&Ctx::for_session(&session, bearer), &initialized, "notifications/initialized").await?;
        Ok(session)
    }

    /// [`Self::call`] for `initialize`: records the `Mcp-Session-Id` of the response in `assigned_id` and
    /// uses it (for answers to server requests) while the response stream is read.
    async fn call_adopting(
        &self,
        ctx: &Ctx<'_>,
        request: &Request,
        assigned_id: &mut Option<String>,
    ) -> Result<Value, TransportError> {
        let response = self.post_request(ctx, request).await?;
        *assigned_id = session_id_from(response.headers())?;
        let ctx = Ctx { session_id: assigned_id.as_deref(), ..*ctx };
        // basic/utilities/cancellation: "The initialize request MUST NOT be cancelled by clients", so no
        // cancellation on timeout here.
        self.read_response(response, &ctx, request).await
    }

    pub(super) async fn delete_session(&self, ctx: &Ctx<'_>) -> Result<(), TransportError> {
        let response = self.send(Method::DELETE, ctx, None, None, "the session DELETE").await?;
        // "Session Management" 5: the server MAY answer 405; 404 means the session is already gone.
        if matches!(response.status(), StatusCode::METHOD_NOT_ALLOWED | StatusCode::NOT_FOUND) {
            return Ok(());
        }
        self.check_status(response, ctx).await.map(drop)
    }
}

/// "Session Management" 1: the session id MUST only contain visible ASCII (0x21–0x7E).
fn session_id_from(headers: &HeaderMap) -> Result<Option<String>, TransportError> {
    let Some(value) = headers.get(SESSION_ID_HEADER) else {
        return Ok(None);
    };
    let bytes = value.as_bytes();
    if bytes.is_empty() || !bytes.iter().all(|b| (0x21..=0x7e).contains(b)) {
        return Err(TransportError::Protocol(
            "the server's Mcp-Session-Id is empty or has characters outside visible ASCII (0x21-0x7E)".to_owned(),
        ));
    }
    Ok(Some(String::from_utf8_lossy(bytes).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn session_ids_must_be_visible_ascii() {
        let mut headers = HeaderMap::new();
        assert_eq!(session_id_from(&headers).unwrap(), None);
        headers.insert(SESSION_ID_HEADER, HeaderValue::from_static("abc-123_~!"));
        assert_eq!(session_id_from(&headers).unwrap().as_deref(), Some("abc-123_~!"));
        headers.insert(SESSION_ID_HEADER, HeaderValue::from_static("has space"));
        assert!(session_id_from(&headers).is_err());
        headers.insert(SESSION_ID_HEADER, HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap());
        assert!(session_id_from(&headers).is_err());
    }
}
