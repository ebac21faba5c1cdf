//! `--legacy-sse`: `/mcp` speaks only the HTTP+SSE transport of 2024-11-05 (2024-11-05 basic/transports.mdx
//! "HTTP with SSE"), as many hosted servers still do, so clients can be tested against one. GET opens the event
//! stream, whose first `endpoint` event names `/mcp?sessionId=…`; each message POSTed there is answered 202 and
//! its response goes out on the stream. A POST without a session is refused with 405, as such servers refuse
//! Streamable HTTP. Bearer tokens and tool scopes are checked exactly as on the Streamable HTTP endpoint.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Query, Request, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::Stream;
use rmcp::ServiceExt;
use rmcp::model::{ClientJsonRpcMessage, GetExtensions, ServerJsonRpcMessage};
use serde_json::Value;
use tokio::sync::mpsc;

use crate::mcp::token_check::{MAX_MCP_BODY, Rejection, ResourceState};
use crate::oauth::jwt::AccessClaims;
use crate::tools::McpTools;

/// Messages queued towards one session's server before a POST waits.
const QUEUE: usize = 64;

pub struct LegacySse {
    pub rs: Arc<ResourceState>,
    /// As on `/mcp`: with `no_auth`, the claims every caller gets.
    pub anonymous: Option<Arc<AccessClaims>>,
    pub tools: McpTools,
    sessions: Mutex<HashMap<String, SseSession>>,
}

struct SseSession {
    /// The token subject that opened the stream: only they may post to it (MCP Security Best Practices
    /// §Session Hijacking).
    owner: String,
    to_server: mpsc::Sender<ClientJsonRpcMessage>,
}

#[derive(serde::Deserialize)]
pub struct SessionQuery {
    #[serde(rename = "sessionId")]
    session_id: Option<String>,
}

impl LegacySse {
    pub fn new(rs: Arc<ResourceState>, anonymous: Option<Arc<AccessClaims>>, tools: McpTools) -> Self {
        Self { rs, anonymous, tools, sessions: Mutex::default() }
    }

    fn caller(&self, parts: &axum::http::request::Parts) -> Result<Arc<AccessClaims>, Rejection> {
        match &self.anonymous {
            Some(anonymous) => Ok(anonymous.clone()),
            None => crate::mcp::token_check::authenticate(&self.rs, parts),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, SseSession>> {
        self.sessions.lock().unwrap_or_else(|poison| poison.into_inner())
    }
}

/// GET: a new session, served by the same tools as `/mcp`, for as long as the client keeps the stream.
pub async fn open(State(sse): State<Arc<LegacySse>>, request: Request) -> Response {
    let (parts, _) = request.into_parts();
    let claims = match sse.caller(&parts) {
        Ok(claims) => claims,
        Err(rejection) => return rejection.reject(&sse.rs),
    };
    let mut id = [0u8; 16];
    if getrandom::fill(&mut id).is_err() {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    let id: String = id.iter().map(|b| format!("{b:02x}")).collect();
    let (to_server, from_client) = mpsc::channel::<ClientJsonRpcMessage>(QUEUE);
    let (to_client, from_server) = mpsc::channel::<ServerJsonRpcMessage>(QUEUE);
    let sink = Box::pin(futures_util::sink::unfold(to_client, |to_client, message| async move {
        to_client.send(message).await.map_err(|_| std::io::Error::other("the event stream closed"))?;
        Ok::<_, std::io::Error>(to_client)
    }));
    let incoming = Box::pin(futures_util::stream::unfold(from_client, |mut rx| async move {
        rx.recv().await.map(|message| (message, rx))
    }));
    let tools = sse.tools.clone();
    tokio::spawn(async move {
        match tools.serve((sink, incoming)).await {
            Ok(running) => {
                let _ = running.waiting().await;
            }
            Err(err) => tracing::info!(%err, "an HTTP+SSE session ended before initialize"),
        }
    });
    sse.lock().insert(id.clone(), SseSession { owner: claims.sub.clone(), to_server });
    tracing::info!("HTTP+SSE session opened");
    let endpoint = Event::default().event("endpoint").data(format!("/mcp?sessionId={id}"));
    let events = EventStream { inner: from_server, endpoint: Some(endpoint), sessions: sse.clone(), id };
    Sse::new(events).keep_alive(KeepAlive::default()).into_response()
}

/// POST: one JSON-RPC message for the session the query names.
pub async fn message(
    State(sse): State<Arc<LegacySse>>,
    Query(query): Query<SessionQuery>,
    request: Request,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let claims = match sse.caller(&parts) {
        Ok(claims) => claims,
        Err(rejection) => return rejection.reject(&sse.rs),
    };
    let Some(id) = query.session_id else {
        // This server offers no Streamable HTTP: a client trying it falls back to the event stream.
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [("allow", "GET")],
            "this server speaks the HTTP+SSE transport: GET /mcp",
        )
            .into_response();
    };
    let to_server = {
        let sessions = sse.lock();
        match sessions.get(&id) {
            Some(session) if session.owner == claims.sub => session.to_server.clone(),
            Some(_) => return Rejection::ForeignSession.reject(&sse.rs),
            None => return (StatusCode::NOT_FOUND, "no such HTTP+SSE session").into_response(),
        }
    };
    let bytes: Bytes = match axum::body::to_bytes(body, MAX_MCP_BODY).await {
        Ok(bytes) => bytes,
        Err(_) => return Rejection::TooLarge.reject(&sse.rs),
    };
    let Ok(value) = serde_json::from_slice::<Value>(&bytes) else {
        return (StatusCode::BAD_REQUEST, "the body is not JSON").into_response();
    };
    if sse.anonymous.is_none()
        && let Some(rejection) = crate::mcp::token_check::missing_scope(&value, &claims)
    {
        return rejection.reject(&sse.rs);
    }
    let Ok(mut message) = serde_json::from_value::<ClientJsonRpcMessage>(value) else {
        return (StatusCode::BAD_REQUEST, "the body is not a JSON-RPC message").into_response();
    };
    // Tools read the caller's claims from the request parts, as rmcp's Streamable HTTP server hands them.
    parts.extensions.insert(AccessClaims::clone(&claims));
    if let ClientJsonRpcMessage::Request(request) = &mut message {
        request.request.extensions_mut().insert(parts);
    }
    match to_server.send(message).await {
        Ok(()) => (StatusCode::ACCEPTED, "Accepted").into_response(),
        Err(_) => (StatusCode::NOT_FOUND, "the HTTP+SSE session has ended").into_response(),
    }
}

/// The session's events: `endpoint` first, then every server message. Dropped when the client goes away,
/// which ends the session (its tools service sees its input close).
struct EventStream {
    inner: mpsc::Receiver<ServerJsonRpcMessage>,
    endpoint: Option<Event>,
    sessions: Arc<LegacySse>,
    id: String,
}

impl Drop for EventStream {
    fn drop(&mut self) {
        self.sessions.lock().remove(&self.id);
        tracing::info!("HTTP+SSE session closed");
    }
}

impl Stream for EventStream {
    type Item = Result<Event, Infallible>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        if let Some(endpoint) = self.endpoint.take() {
            return std::task::Poll::Ready(Some(Ok(endpoint)));
        }
        self.inner.poll_recv(cx).map(|message| {
            message.map(|message| {
                let data = serde_json::to_string(&message).unwrap_or_default();
                Ok(Event::default().event("message").data(data))
            })
        })
    }
}
