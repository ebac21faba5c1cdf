//! `GET /` and `/docs`: a page about the server, with its issuer and MCP endpoint.

use axum::Router;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use crate::pages::{escape, layout, with_page_headers};

/// What the page names: all it needs from the server.
#[derive(Debug, Clone)]
pub struct Site {
    pub issuer: String,
    pub mcp_url: String,
}

/// `/` and `/docs`.
pub fn router(site: Site) -> Router {
    Router::new().route("/", get(docs)).route("/docs", get(docs)).with_state(site)
}

async fn docs(State(site): State<Site>) -> Response {
    with_page_headers(Html(docs_page(&site.issuer, &site.mcp_url)).into_response())
}

/// `GET /` and `/docs`: what this server is and how to try it.
fn docs_page(issuer: &str, mcp_url: &str) -> String {
    let iss = escape(issuer);
    let mcp = escape(mcp_url);
    let endpoints: String = [
        (
            "GET",
            "/.well-known/oauth-authorization-server",
            "authorization server metadata (RFC 8414; also /.well-known/openid-configuration)",
        ),
        ("GET", "/.well-known/oauth-protected-resource/mcp", "protected resource metadata (RFC 9728)"),
        (
            "POST",
            "/register",
            "dynamic client registration (RFC 7591); GET/PUT/DELETE /register/{client_id} (RFC 7592)",
        ),
        ("GET", "/authorize", "authorization endpoint: PKCE S256, sign-in, consent"),
        ("POST", "/token", "token endpoint: authorization_code, refresh_token, client_credentials, device_code"),
        ("POST", "/revoke", "token revocation (RFC 7009)"),
        ("POST", "/introspect", "token introspection (RFC 7662)"),
        ("POST", "/device_authorization", "device authorization (RFC 8628); users enter codes at /device"),
        ("GET", "/jwks.json", "public keys that sign access tokens"),
        ("GET", "/consents", "your remembered consents (sign in as demo / demo)"),
        ("GET", "/health", "liveness"),
    ]
    .iter()
    .map(|(method, path, what)| format!("<li><code>{method} {}</code>: {}</li>", escape(path), escape(what)))
    .collect();
    let body = format!(
        "<h1>superdynamic-server</h1>\
<p>A reference OAuth 2.1 authorization server and MCP resource server. Issuer: <code>{iss}</code></p>\
<h2>MCP endpoint</h2><p><code>{mcp}</code> (Streamable HTTP; bearer token required). \
Tools: <code>get_weather</code>, <code>list_files</code>, <code>read_file</code>, <code>get_user_profile</code>.</p>\
<h2>Try it with the CLI</h2>\
<pre>superdynamic login {mcp}\nsuperdynamic tools {mcp}\nsuperdynamic call {mcp} get_weather --args '{{\"city\": \"Paris\"}}'</pre>\
<p>The browser opens this server's sign-in page: use <code>demo</code> / <code>demo</code>, then approve.</p>\
<h2>Endpoints</h2><ul>{endpoints}</ul>"
    );
    layout("superdynamic-server", &body)
}
