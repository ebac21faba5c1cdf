//! The session's own message stream (2025-03-26..2025-11-25 basic/transports.mdx "Listening for Messages from
//! the Server"): a GET that the server may use for requests and notifications not tied to one of our requests,
//! such as an elicitation a tool asks for through its server object. Answers go back as POSTs with the newest
//! bearer token. A server without such a stream answers 405 and nothing more is tried.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::Session;
use crate::secret::AccessToken;
use crate::transport::jsonrpc::Message;
use crate::transport::sse::SseParser;
use crate::transport::streamable_http::StreamableHttp;
use crate::transport::streamable_http::wire::{ACCEPT_SSE, Ctx, content_type};

/// Reconnections after a stream that worked for a while; a stream that fails at once is not retried.
const MAX_RECONNECTS: u32 = 20;
/// How long the first request waits for the stream to open.
const OPEN_WAIT: Duration = Duration::from_secs(2);

impl StreamableHttp {
    /// Starts listening for `session` in the background, replacing any earlier listener, and waits (briefly)
    /// until the server has answered the GET: a server that sends a request right after our next POST must
    /// find the stream open.
    pub(super) async fn start_listener(&self, session: Arc<Session>) {
        let this = self.clone();
        let (opened, is_open) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(async move { this.listen(session, Some(opened)).await });
        if let Ok(mut slot) = self.inner.listener.lock()
            && let Some(old) = slot.replace(task.abort_handle())
        {
            old.abort();
        }
        let _ = tokio::time::timeout(OPEN_WAIT, is_open).await;
    }

    /// Stops the background listener, if any.
    pub(super) fn stop_listener(&self) {
        if let Ok(mut slot) = self.inner.listener.lock()
            && let Some(task) = slot.take()
        {
            task.abort();
        }
    }

    /// Remembers the newest bearer token, for answers sent from the listener.
    pub(super) fn note_bearer(&self, bearer: Option<&AccessToken>) {
        if let Ok(mut slot) = self.inner.last_bearer.lock() {
            *slot = bearer.cloned();
        }
    }

    pub(super) fn latest_bearer(&self) -> Option<AccessToken> {
        self.inner.last_bearer.lock().ok().and_then(|b| b.clone())
    }

    async fn listen(&self, session: Arc<Session>, mut opened: Option<tokio::sync::oneshot::Sender<()>>) {
        for _ in 0..=MAX_RECONNECTS {
            let started = Instant::now();
            if !self.listen_once(&session, &mut opened).await || started.elapsed() < Duration::from_secs(1) {
                return;
            }
            // The session may have ended while the stream was open.
            if self.current_session().is_none_or(|s| s.generation != session.generation) {
                return;
            }
        }
    }

    /// One GET stream. `false` when the server does not offer one (or refused it): do not reconnect.
    async fn listen_once(&self, session: &Session, opened: &mut Option<tokio::sync::oneshot::Sender<()>>) -> bool {
        let bearer = self.latest_bearer();
        let ctx = Ctx::for_session(session, bearer.as_ref());
        let response = self.send_with(Method::GET, &ctx, ACCEPT_SSE, None, None, "the server's message stream").await;
        // Whatever the answer, the first request need not wait any longer.
        if let Some(opened) = opened.take() {
            let _ = opened.send(());
        }
        let response = match response {
            Ok(r) => r,
            Err(err) => {
                tracing::debug!(%err, "no server message stream");
                return false;
            }
        };
        if response.status() != StatusCode::OK
            || content_type(response.headers()).as_deref() != Some("text/event-stream")
        {
            tracing::debug!(status = %response.status(), "the server offers no message stream");
            return false;
        }
        let mut parser = SseParser::new(self.inner.options.sse_limits);
        let mut events = Vec::new();
        let mut stream = response.bytes_stream();
        while let Some(Ok(chunk)) = stream.next().await {
            let fed = parser.feed(&chunk, &mut events);
            for event in events.drain(..) {
                if event.event != "message" || event.data.trim().is_empty() {
                    continue;
                }
                let Ok(value) = serde_json::from_str::<Value>(&event.data) else {
                    tracing::debug!("ignoring an invalid event on the server message stream");
                    continue;
                };
                match Message::from_value(value) {
                    Ok(Message::Request(request)) => {
                        let bearer = self.latest_bearer();
                        let ctx = Ctx::for_session(session, bearer.as_ref());
                        self.answer_server_request(&ctx, request).await;
                    }
                    Ok(Message::Notification(n)) => self.handler().handle_notification(&n.method, n.params),
                    _ => tracing::debug!("ignoring a response on the server message stream"),
                }
            }
            if fed.is_err() {
                return false;
            }
        }
        true
    }
}
