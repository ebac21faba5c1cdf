//! The MCP tools served on `/mcp` (through rmcp), and which scope each needs.

mod files;
mod profile;
mod weather;

use std::sync::Arc;

use axum::http::request::Parts;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::Extension;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock, Implementation, ServerCapabilities};
use rmcp::{ErrorData, ServerHandler, tool, tool_handler, tool_router};

pub use files::{FileError, FileRoot};

use crate::jwt::AccessClaims;
use crate::scope::{FILES_READ, MCP_TOOLS, PROFILE_READ};

/// The scope `tools/call` needs for each tool; `None` for unknown tools
/// (rmcp answers those with a JSON-RPC error).
pub fn required_scope(tool: &str) -> Option<&'static str> {
    match tool {
        "get_weather" => Some(MCP_TOOLS),
        "list_files" | "read_file" => Some(FILES_READ),
        "get_user_profile" => Some(PROFILE_READ),
        _ => None,
    }
}

/// A tool result with readable text and the same data as structuredContent.
fn structured(text: String, data: serde_json::Value) -> CallToolResult {
    let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
    result.structured_content = Some(data);
    result
}

/// A tool-level error (`isError: true`) the caller's model can read.
fn tool_error(message: impl Into<String>) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(message.into())])
}

/// One instance per MCP session; all state it needs is shared and read-only.
#[derive(Clone)]
pub struct McpTools {
    files: Arc<FileRoot>,
    tool_router: ToolRouter<Self>,
}

impl McpTools {
    pub fn new(files: Arc<FileRoot>) -> Self {
        Self { files, tool_router: Self::tool_router() }
    }
}

#[tool_router]
impl McpTools {
    #[tool(
        description = "Current weather for a location (demo data: deterministic per location). Needs scope mcp:tools."
    )]
    async fn get_weather(
        &self,
        Parameters(args): Parameters<weather::WeatherArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(match weather::report(&args) {
            Ok(report) => structured(report.summary(), report.to_json()),
            Err(message) => tool_error(message),
        })
    }

    #[tool(
        description = "List the files in the read-only demo directory, or in one of its subdirectories. Needs scope files:read."
    )]
    async fn list_files(&self, Parameters(args): Parameters<files::ListArgs>) -> Result<CallToolResult, ErrorData> {
        let path = args.path.as_deref().unwrap_or("");
        Ok(match self.files.list(path) {
            Ok(listing) => structured(listing.summary(), listing.to_json()),
            Err(e) => tool_error(e.to_string()),
        })
    }

    #[tool(
        description = "Read a text file from the read-only demo directory (path relative to it). Needs scope files:read."
    )]
    async fn read_file(&self, Parameters(args): Parameters<files::ReadArgs>) -> Result<CallToolResult, ErrorData> {
        Ok(match self.files.read(&args.path) {
            Ok(content) => structured(content.clone(), serde_json::json!({"path": args.path, "content": content})),
            Err(e) => tool_error(e.to_string()),
        })
    }

    #[tool(
        description = "Who the access token belongs to: subject, client and granted scopes. Needs scope profile:read."
    )]
    async fn get_user_profile(&self, Extension(parts): Extension<Parts>) -> Result<CallToolResult, ErrorData> {
        // The bearer middleware put the validated claims in the HTTP request;
        // rmcp passes that request's Parts to us.
        let Some(claims) = parts.extensions.get::<AccessClaims>() else {
            return Err(ErrorData::internal_error("no validated access token reached the tool", None));
        };
        let profile = profile::Profile::from_claims(claims);
        Ok(structured(profile.summary(), profile.to_json()))
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for McpTools {
    fn get_info(&self) -> rmcp::model::ServerConfig {
        rmcp::model::ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(
                "superdynamic-server",
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions(
                "Demo MCP server for superdynamic: weather (mcp:tools), read-only files (files:read) and the caller's profile (profile:read).",
            )
    }
}
