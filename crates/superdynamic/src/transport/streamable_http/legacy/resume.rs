//! Resuming a response stream that closed before the response (2025-11-25 basic/transports.mdx "Resumability
//! and Redelivery"): a GET with `Last-Event-ID`, after the server's `retry` delay.

use std::time::Duration;

use reqwest::{Method, StatusCode};

use crate::transport::error::TransportError;
use crate::transport::jsonrpc::Request;
use crate::transport::sse::SseParser;
use crate::transport::streamable_http::StreamableHttp;
use crate::transport::streamable_http::wire::{ACCEPT_SSE, Ctx, content_type};

/// Reconnection delay when the server never sent `retry` (WHATWG leaves the default to the client).
const DEFAULT_RECONNECT_DELAY: Duration = Duration::from_secs(1);

/// Upper bound on a server-requested `retry`, so a hostile value cannot park a request forever.
const MAX_RECONNECT_DELAY: Duration = Duration::from_secs(60);

impl StreamableHttp {
    /// After the response stream closed early: resumes it with `Last-Event-ID` (2025-11-25 "Resumability and
    /// Redelivery"), waiting the server's `retry` first, unless no event id allows it or the attempts in a row
    /// without a new message are used up.
    pub(super) async fn resume_closed_stream(
        &self,
        ctx: &Ctx<'_>,
        request: &Request,
        parser: &mut SseParser,
        resumes_without_progress: &mut u32,
    ) -> Result<reqwest::Response, TransportError> {
        if parser.finish() {
            tracing::debug!("the response stream ended in the middle of an event");
        }
        if parser.last_event_id().is_empty() {
            return Err(TransportError::Protocol(format!(
                "the stream closed before the response to `{}` arrived, and no event id allows resuming it",
                request.method
            )));
        }
        if *resumes_without_progress >= self.inner.options.max_resume_attempts {
            return Err(TransportError::Protocol(format!(
                "the stream for `{}` closed before the response; gave up after {} resumption attempts",
                request.method, self.inner.options.max_resume_attempts
            )));
        }
        *resumes_without_progress += 1;
        // 2025-11-25 "Sending Messages to the Server" 6: the client MUST wait the `retry` time before
        // reconnecting.
        let delay = parser.retry().unwrap_or(DEFAULT_RECONNECT_DELAY).min(MAX_RECONNECT_DELAY);
        tokio::time::sleep(delay).await;
        let response = self.resume(ctx, parser.last_event_id(), &request.method).await?;
        parser.reset_stream();
        Ok(response)
    }

    /// GET with `Last-Event-ID` to resume a stream (2025-11-25 "Resumability and Redelivery" 2).
    async fn resume(
        &self,
        ctx: &Ctx<'_>,
        last_event_id: &str,
        method: &str,
    ) -> Result<reqwest::Response, TransportError> {
        let response = self.send_with(Method::GET, ctx, ACCEPT_SSE, Some(last_event_id), None, method).await?;
        if response.status() == StatusCode::METHOD_NOT_ALLOWED {
            return Err(TransportError::Protocol(format!(
                "the stream closed before the response to `{method}` arrived, and the server does not allow resuming it (GET → 405)"
            )));
        }
        let response = self.check_status(response, ctx).await?;
        match content_type(response.headers()).as_deref() {
            Some("text/event-stream") => Ok(response),
            other => Err(TransportError::Protocol(format!(
                "resuming the stream for `{method}` returned content type {}; expected text/event-stream",
                other.unwrap_or("(none)")
            ))),
        }
    }
}
