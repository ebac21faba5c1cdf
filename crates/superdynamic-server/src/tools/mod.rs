//! The MCP tools served on `/mcp` (through rmcp), and which scope each needs.

mod files;
mod profile;
mod weather;

use std::sync::Arc;

use axum::http::request::Parts;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::Extension;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock, Implementation, JsonObject, ServerCapabilities};
use rmcp::{ErrorData, ServerHandler, tool, tool_handler, tool_router};
use serde::de::DeserializeOwned;

pub use files::{FileError, FileRoot};

use crate::oauth::jwt::AccessClaims;
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

/// One instance per MCP session (a clone of one built at start-up: building the tool router generates every
/// input schema); all state it needs is shared and read-only.
#[derive(Clone)]
pub struct McpTools {
    files: Arc<FileRoot>,
    tool_router: ToolRouter<Self>,
}

impl McpTools {
    pub fn new(files: Arc<FileRoot>) -> Self {
        Self { files, tool_router: Self::tool_router() }
    }

    /// Runs tool `name` for a `tools/call` answered without rmcp (`crate::mcp::direct_call`), with the same code
    /// and the same argument deserialization as the `#[tool]` methods below. `None` when `name` is not one of
    /// these tools or its arguments do not deserialize: rmcp then answers, with its own error.
    pub fn call_directly(&self, name: &str, arguments: JsonObject, claims: &AccessClaims) -> Option<CallToolResult> {
        fn args<T: DeserializeOwned>(arguments: JsonObject) -> Option<T> {
            // As rmcp's `Parameters<T>`: absent arguments are an empty object.
            serde_json::from_value(serde_json::Value::Object(arguments)).ok()
        }
        Some(match name {
            "get_weather" => weather_result(&args(arguments)?),
            "list_files" => self.list_result(&args(arguments)?),
            "read_file" => self.read_result(&args(arguments)?),
            // Takes no parameters: rmcp does not look at the arguments either.
            "get_user_profile" => profile_result(claims),
            _ => return None,
        })
    }

    fn list_result(&self, args: &files::ListArgs) -> CallToolResult {
        let path = args.path.as_deref().unwrap_or("");
        match self.files.list(path) {
            Ok(listing) => structured(listing.summary(), listing.to_json()),
            Err(e) => tool_error(e.to_string()),
        }
    }

    fn read_result(&self, args: &files::ReadArgs) -> CallToolResult {
        match self.files.read(&args.path) {
            Ok(content) => structured(content.clone(), serde_json::json!({"path": args.path, "content": content})),
            Err(e) => tool_error(e.to_string()),
        }
    }
}

fn weather_result(args: &weather::WeatherArgs) -> CallToolResult {
    match weather::report(args) {
        Ok(report) => structured(report.summary(), report.to_json()),
        Err(message) => tool_error(message),
    }
}

fn profile_result(claims: &AccessClaims) -> CallToolResult {
    let profile = profile::Profile::from_claims(claims);
    structured(profile.summary(), profile.to_json())
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
        Ok(weather_result(&args))
    }

    #[tool(
        description = "List the files in the read-only demo directory, or in one of its subdirectories. Needs scope files:read."
    )]
    async fn list_files(&self, Parameters(args): Parameters<files::ListArgs>) -> Result<CallToolResult, ErrorData> {
        Ok(self.list_result(&args))
    }

    #[tool(
        description = "Read a text file from the read-only demo directory (path relative to it). Needs scope files:read."
    )]
    async fn read_file(&self, Parameters(args): Parameters<files::ReadArgs>) -> Result<CallToolResult, ErrorData> {
        Ok(self.read_result(&args))
    }

    #[tool(
        description = "Who the access token belongs to: subject, client and granted scopes. Needs scope profile:read."
    )]
    async fn get_user_profile(&self, Extension(parts): Extension<Parts>) -> Result<CallToolResult, ErrorData> {
        // The bearer check put the validated claims in the HTTP request;
        // rmcp passes that request's Parts to us.
        let Some(claims) = parts.extensions.get::<AccessClaims>() else {
            return Err(ErrorData::internal_error("no validated access token reached the tool", None));
        };
        Ok(profile_result(claims))
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
