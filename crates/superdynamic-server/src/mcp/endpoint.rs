//! `/mcp`, every method: who is calling (a bearer token, [`crate::mcp::token_check`], or the anonymous user with
//! `no_auth`), whether the MCP session named is theirs ([`crate::mcp::sessions`]), the tool's scope, and then a
//! direct answer for a plain `tools/call` ([`crate::mcp::direct_call`]) or rmcp for everything else.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use rmcp::transport::streamable_http_server::StreamableHttpService;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;

use crate::mcp::direct_call::{DirectCalls, ToolCall};
use crate::mcp::sessions::{McpSession, McpSessions};
use crate::mcp::token_check::{MAX_MCP_BODY, Rejection, ResourceState};
use crate::oauth::jwt::AccessClaims;
use crate::tools::McpTools;

const SESSION_HEADER: &str = "mcp-session-id";

pub struct McpEndpoint {
    pub rs: Arc<ResourceState>,
    /// With `no_auth` (loopback only, checked at start-up): the claims every caller gets;
    /// otherwise `None` and a bearer token is required.
    pub anonymous: Option<Arc<AccessClaims>>,
    pub sessions: Arc<McpSessions>,
    pub direct: DirectCalls,
    pub rmcp: StreamableHttpService<McpTools, LocalSessionManager>,
}

pub async fn serve(State(endpoint): State<Arc<McpEndpoint>>, request: Request) -> Response {
    match endpoint.handle(request).await {
        Ok(response) => response,
        Err(rejection) => rejection.reject(&endpoint.rs),
    }
}

impl McpEndpoint {
    async fn handle(&self, request: Request) -> Result<Response, Rejection> {
        let (mut parts, body) = request.into_parts();
        let claims = match &self.anonymous {
            Some(anonymous) => anonymous.clone(),
            None => crate::mcp::token_check::authenticate(&self.rs, &parts)?,
        };
        let session_id = parts.headers.get(SESSION_HEADER).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let session = session_id.as_deref().and_then(|id| self.sessions.get(id));
        if let Some(session) = &session {
            if !session.usable_by(&claims.sub) {
                return Err(Rejection::ForeignSession);
            }
            self.sessions.used(session);
        }

        let body = if parts.method == Method::POST {
            match self.post_body(&parts, body, &claims, session.as_deref()).await? {
                PostBody::Answered(response) => return Ok(response),
                PostBody::ForRmcp(body) => body,
            }
        } else {
            if parts.method == Method::GET
                && let Some(response) = self.direct.resume(&parts, session.as_deref()).await
            {
                return Ok(response);
            }
            body
        };

        let is_delete = parts.method == Method::DELETE;
        // Tools read the validated claims from the request rmcp hands them (`http::request::Parts`).
        parts.extensions.insert(AccessClaims::clone(&claims));
        let response = self.rmcp.handle(Request::from_parts(parts, body)).await;
        match session_id {
            Some(id) if is_delete && response.status().is_success() => self.sessions.closed(&id),
            Some(_) => {}
            // A response naming a session to a request without one opened it (`initialize`).
            None => {
                if let Some(id) = response.headers().get(SESSION_HEADER).and_then(|v| v.to_str().ok()) {
                    self.sessions.opened(id, &claims.sub);
                }
            }
        }
        Ok(response.map(Body::new))
    }

    /// Reads a POST body when the scope check or a direct answer needs it.
    async fn post_body(
        &self,
        parts: &axum::http::request::Parts,
        body: Body,
        claims: &AccessClaims,
        session: Option<&McpSession>,
    ) -> Result<PostBody, Rejection> {
        let authenticated = self.anonymous.is_none();
        if !authenticated && !self.direct.post_headers_pass(parts) {
            // Nothing to check and no direct answer: rmcp reads the body itself.
            return Ok(PostBody::ForRmcp(body));
        }
        let bytes: Bytes = match axum::body::to_bytes(body, MAX_MCP_BODY).await {
            Ok(bytes) => bytes,
            Err(_) if authenticated => return Err(Rejection::TooLarge),
            // As rmcp answers when the body cannot be read.
            Err(e) => {
                let message = format!("Failed to read request body: {e}");
                return Ok(PostBody::Answered((StatusCode::INTERNAL_SERVER_ERROR, message).into_response()));
            }
        };
        let call = ToolCall::parse(&bytes);
        if authenticated {
            let missing = match &call {
                Some(call) => crate::mcp::token_check::missing_tool_scope(call.tool(), claims),
                // Unparseable JSON is left to rmcp, which answers with a JSON-RPC parse error.
                None => serde_json::from_slice(&bytes)
                    .ok()
                    .and_then(|message| crate::mcp::token_check::missing_scope(&message, claims)),
            };
            if let Some(rejection) = missing {
                return Err(rejection);
            }
        }
        if let Some(call) = call
            && let Some(response) = self.direct.answer(parts, call, claims, session).await
        {
            return Ok(PostBody::Answered(response));
        }
        Ok(PostBody::ForRmcp(Body::from(bytes)))
    }
}

enum PostBody {
    Answered(Response),
    ForRmcp(Body),
}
