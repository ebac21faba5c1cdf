//! Command-line shape: every server command takes the server URL as its first positional argument (or the
//! seed's `--server-url`); global flags work before or after the subcommand.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "superdynamic",
    version,
    about = "Sign in to OAuth-protected MCP servers and use their tools",
    long_about = "Sign in to OAuth-protected MCP servers and use their tools.\n\n\
        superdynamic discovers the server's authorization server, registers a client, runs the OAuth 2.1 \
        authorization code flow with PKCE in your browser, keeps the tokens safely on disk, refreshes them, \
        and speaks MCP over Streamable HTTP.\n\nTry it without any server: superdynamic demo"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Print machine-readable JSON on stdout.
    #[arg(long, global = true)]
    pub json: bool,
    /// The MCP server URL (instead of the positional URL).
    #[arg(long, global = true, value_name = "URL")]
    pub server_url: Option<String>,
    /// Keep separate credentials under this name.
    #[arg(long, global = true, env = "SUPERDYNAMIC_PROFILE", default_value = "default")]
    pub profile: String,
    /// Credential store [default: the OS keychain where one is reachable, else the file]
    #[arg(long, global = true, env = "SUPERDYNAMIC_STORE", value_enum)]
    pub store: Option<StoreKind>,
    /// Credential file for the file store (the keychain store keeps its index beside it)
    /// [default: the platform config directory]
    #[arg(long, global = true, env = "SUPERDYNAMIC_STORE_PATH", value_name = "PATH")]
    pub store_path: Option<PathBuf>,
    /// The database of `--store postgres` (postgres://user:password@host:port/db); the profile is the tenant.
    #[arg(long, global = true, env = "SUPERDYNAMIC_DATABASE_URL", value_name = "URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Print the authorization URL instead of opening a browser.
    #[arg(long, global = true)]
    pub no_browser: bool,
    /// Sign in with the device flow (RFC 8628): enter a short code on any device with a browser.
    #[arg(long, global = true, conflicts_with_all = ["no_browser", "auto_authorize"])]
    pub device: bool,
    /// Complete sign-in without a browser by following the authorization server's redirects (only for
    /// servers that approve without a person, such as `superdynamic-server --auto-approve`).
    #[arg(long, global = true, conflicts_with = "no_browser")]
    pub auto_authorize: bool,
    /// Never start a sign-in; fail with instructions instead (for scripts).
    #[arg(long, global = true)]
    pub non_interactive: bool,
    /// A pre-registered client ID for the server's authorization server.
    // Credentials are opaque strings that may start with '-' (base64url): taken as values, never as flags.
    #[arg(long, global = true, env = "SUPERDYNAMIC_CLIENT_ID", allow_hyphen_values = true)]
    pub client_id: Option<String>,
    /// The secret of the pre-registered client (prefer the environment variable).
    #[arg(long, global = true, env = "SUPERDYNAMIC_CLIENT_SECRET", hide_env_values = true, allow_hyphen_values = true)]
    pub client_secret: Option<String>,
    /// The authorization server the --client-id credentials belong to; any other is refused.
    #[arg(long, global = true, value_name = "ISSUER")]
    pub client_issuer: Option<String>,
    /// PEM private key of the pre-registered client, for private_key_jwt (RFC 7523).
    #[arg(long, global = true, value_name = "FILE")]
    pub private_key: Option<PathBuf>,
    /// Signing algorithm for --private-key.
    #[arg(long, global = true, default_value = "ES256")]
    pub signing_alg: String,
    /// Pre-registered clients per authorization server, as JSON
    /// [default: clients.json beside the credential store, when present]
    #[arg(long, global = true, env = "SUPERDYNAMIC_CLIENTS_FILE", value_name = "PATH")]
    pub clients_file: Option<PathBuf>,
    /// Your Client ID Metadata Document URL (https), used when the authorization server supports them.
    #[arg(long, global = true, env = "SUPERDYNAMIC_CLIENT_METADATA_URL", value_name = "URL")]
    pub client_metadata_url: Option<String>,
    /// How to get tokens: a user signs in, or the pre-registered client authenticates as itself.
    #[arg(long, global = true, value_enum, default_value_t = GrantKind::AuthorizationCode)]
    pub grant: GrantKind,
    /// --grant enterprise: the enterprise identity provider's issuer (its token endpoint is discovered).
    #[arg(long, global = true, env = "SUPERDYNAMIC_IDP_ISSUER", value_name = "URL")]
    pub idp_issuer: Option<String>,
    /// --grant enterprise: the IdP's token endpoint, when it is not discovered from --idp-issuer.
    #[arg(long, global = true, value_name = "URL")]
    pub idp_token_endpoint: Option<String>,
    /// --grant enterprise: this client's ID at the identity provider.
    #[arg(long, global = true, env = "SUPERDYNAMIC_IDP_CLIENT_ID", allow_hyphen_values = true)]
    pub idp_client_id: Option<String>,
    /// --grant enterprise: this client's secret at the identity provider (prefer the environment variable).
    #[arg(
        long,
        global = true,
        env = "SUPERDYNAMIC_IDP_CLIENT_SECRET",
        hide_env_values = true,
        allow_hyphen_values = true
    )]
    pub idp_client_secret: Option<String>,
    /// --grant enterprise: a file holding the user's ID token from the IdP (read again on every exchange).
    #[arg(long, global = true, value_name = "PATH", conflicts_with = "id_token_env")]
    pub id_token_file: Option<PathBuf>,
    /// --grant enterprise: an environment variable holding the user's ID token.
    #[arg(long, global = true, value_name = "VAR")]
    pub id_token_env: Option<String>,
    /// --grant workload: a file holding the platform's identity token (read again on every use: platforms
    /// rotate it).
    #[arg(long, global = true, value_name = "PATH", conflicts_with = "assertion_env")]
    pub assertion_file: Option<PathBuf>,
    /// --grant workload: an environment variable holding the platform's identity token.
    #[arg(long, global = true, value_name = "VAR")]
    pub assertion_env: Option<String>,
    /// Accept an authorization server whose metadata omits code_challenge_methods_supported (S256 is still
    /// used). For known non-compliant servers only.
    #[arg(long, global = true)]
    pub allow_missing_pkce_metadata: bool,
    /// Let a public MCP server's discovery reach private, loopback and link-local addresses (never the cloud
    /// metadata service). Blocked by default as a server-side request forgery defence; for private deployments.
    #[arg(long, global = true)]
    pub allow_private_network: bool,
    /// Ask for exactly these scopes (space-separated) instead of the ones the server suggests.
    #[arg(long, global = true)]
    pub scope: Option<String>,
    /// Loopback port for the sign-in redirect [default: a port derived from the server URL].
    #[arg(long, global = true)]
    pub callback_port: Option<u16>,
    /// Redirect URI to register and send when the browser reaches this machine through another address (port
    /// forwarding); the listener binds 127.0.0.1 on --callback-port, else this URI's port.
    #[arg(long, global = true, value_name = "URL")]
    pub redirect_uri: Option<String>,
    /// When the server asks for input and there is no terminal to ask on, send the form's default values
    /// (instead of declining).
    #[arg(long, global = true)]
    pub accept_defaults: bool,
    /// MCP protocol generation: negotiate (remembering the answer per server), or force one.
    #[arg(long, global = true, value_enum, default_value_t = ProtocolChoice::Auto)]
    pub mcp_protocol: ProtocolChoice,
    /// Seconds each OAuth request (discovery, registration, token, refresh, revocation) may take; connecting
    /// and the first byte get half of it, discovery as a whole one and a half times it.
    #[arg(long, global = true, default_value_t = 10, value_name = "SECONDS")]
    pub timeout: u64,
    /// Seconds an MCP request may wait for the server's answer to start, or go without a byte once it has
    /// (an answer that keeps coming is never cut).
    #[arg(long, global = true, default_value_t = 60, value_name = "SECONDS")]
    pub mcp_timeout: u64,
    /// Seconds to wait for the sign-in to complete in the browser.
    #[arg(long, global = true, default_value_t = 300)]
    pub auth_timeout: u64,
    /// Which MCP transport: Streamable HTTP, falling back to the HTTP+SSE transport of 2024-11-05 when the
    /// server refuses it (http-first), the other way round, or only one.
    #[arg(long, global = true, value_enum, default_value_t = TransportChoice::HttpFirst, env = "SUPERDYNAMIC_TRANSPORT")]
    pub transport: TransportChoice,
    /// Send requests through the proxies HTTPS_PROXY / HTTP_PROXY / ALL_PROXY name (minus NO_PROXY); names are
    /// then resolved by the proxy [default: connect directly]
    #[arg(long, global = true, env = "SUPERDYNAMIC_ENABLE_PROXY", value_parser = clap::builder::BoolishValueParser::new())]
    pub enable_proxy: bool,
    /// DPoP-bound tokens (RFC 9449): when the authorization server offers them (auto), always, or never.
    #[arg(long, global = true, value_enum, default_value_t = DpopChoice::Auto, env = "SUPERDYNAMIC_DPOP")]
    pub dpop: DpopChoice,
    /// Print only errors on stderr (no narration, no warnings); -v/--debug still log.
    #[arg(long, global = true)]
    pub silent: bool,
    /// More logging on stderr (-v debug, -vv trace; --debug is -v). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count, visible_alias = "debug")]
    pub verbose: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DpopChoice {
    /// Bind tokens to a key when the authorization server lists DPoP algorithms or the server asks for it.
    Auto,
    /// Always bind tokens to a key; fail when the server accepts none of ES256 and EdDSA.
    Always,
    /// Plain Bearer tokens.
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TransportChoice {
    /// Streamable HTTP; the HTTP+SSE transport when the server refuses it (HTTP 400/404/405).
    HttpFirst,
    /// The HTTP+SSE transport; Streamable HTTP when the server offers no event stream.
    SseFirst,
    HttpOnly,
    SseOnly,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StoreKind {
    /// A JSON file, 0600 in a 0700 directory.
    File,
    /// Secrets in the OS keychain (macOS Keychain, Windows Credential Manager, Secret Service), the rest in a
    /// private index file; fails when no keychain is reachable.
    Keyring,
    /// A PostgreSQL database shared by many processes and machines (`--database-url`).
    Postgres,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProtocolChoice {
    /// Try the stateless 2026-07-28 protocol, fall back to the initialize-based one (2025-03-26..2025-11-25).
    Auto,
    /// Only the stateless 2026-07-28 protocol.
    Modern,
    /// Only the initialize-based protocol (2025-03-26, 2025-06-18, 2025-11-25).
    Legacy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GrantKind {
    /// OAuth 2.1 authorization code with PKCE, in a browser.
    AuthorizationCode,
    /// OAuth 2.1 client credentials, for machine clients (needs --client-id with --client-secret or --private-key).
    ClientCredentials,
    /// Enterprise-managed authorization (SEP-990): the user's ID token is exchanged at the company IdP for an
    /// ID-JAG, redeemed with the JWT bearer grant (needs --client-id, --idp-issuer, --idp-client-id, --id-token-file).
    Enterprise,
    /// Workload identity federation: the platform's identity token as a JWT bearer grant (needs --client-id and
    /// --assertion-file or --assertion-env).
    Workload,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Show enterprise-managed authorization instead: ID token at the company IdP -> ID-JAG -> access token.
    #[arg(long)]
    pub enterprise: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Discover the authorization server and register a client (no sign-in).
    Register(ServerArg),
    /// Sign in to the server now (opens the browser).
    #[command(alias = "authorize")]
    Login(ServerArg),
    /// List the server's tools.
    #[command(alias = "list-tools")]
    Tools(ServerArg),
    /// Call a tool: superdynamic call URL TOOL --args '{"k":"v"}'
    #[command(alias = "call-tool")]
    Call(CallArgs),
    /// List stored credentials (never their secrets).
    #[command(alias = "list-clients")]
    Clients,
    /// Refresh the stored access token now.
    Refresh(ServerArg),
    /// Revoke the tokens at the authorization server (when it can) and delete the stored credentials.
    Logout(LogoutArgs),
    /// Start the reference server in-process and walk through the whole flow.
    Demo(DemoArgs),
    /// Serve a remote MCP server on stdin/stdout, for MCP hosts that only launch local (stdio) servers.
    Proxy(ProxyArgs),
    /// Say why sign-in to a server works or fails, step by step, and what its operator must fix.
    Doctor(DoctorArgs),
    /// Write an MCP host's config entry (Claude Desktop, Cursor, VS Code, Windsurf, Codex, Zed) that launches
    /// `superdynamic proxy URL`; prints it unless --write.
    Setup(SetupArgs),
    /// Carry over sign-ins another client keeps: superdynamic import mcp-remote URL...
    Import(ImportArgs),
}

#[derive(Debug, Args)]
pub struct SetupArgs {
    /// The MCP host whose config to write.
    #[arg(value_enum)]
    pub host: crate::setup::hosts::Host,
    /// The remote MCP server URL (with --from-mcp-remote: rewrite only the entries for this URL).
    pub url: Option<String>,
    /// The entry's name in the host's config [default: from the URL's host, e.g. mcp-example-com].
    #[arg(long, conflicts_with = "from_mcp_remote")]
    pub name: Option<String>,
    /// Merge the entry into the host's config file (a backup copy is kept) instead of printing it.
    #[arg(long)]
    pub write: bool,
    /// The host's config file [default: where the host keeps it for this user].
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Turn the config's `npx mcp-remote URL ...` entries into superdynamic proxy entries, keeping their
    /// arguments and env.
    #[arg(long)]
    pub from_mcp_remote: bool,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub server: ServerArg,
    /// Sign in first (as `login` does), then probe the MCP generations behind the 401 with the token.
    #[arg(long)]
    pub sign_in: bool,
    /// Do not send a probe Dynamic Client Registration (which creates a client at the server).
    #[arg(long)]
    pub no_register: bool,
}

/// The proxy takes mcp-remote's command line as it is (`npx mcp-remote URL [PORT] [flags]`): its flags are
/// names or aliases of these, and flags of newer mcp-remote versions are dropped with a warning
/// (`crate::mcp_remote`).
#[derive(Debug, Args)]
pub struct ProxyArgs {
    /// The remote MCP server URL (Streamable HTTP or HTTP+SSE), for example https://mcp.example.com/mcp
    pub url: Option<String>,
    /// Loopback port for the sign-in redirect, where mcp-remote takes it (the same as --callback-port).
    #[arg(value_name = "CALLBACK_PORT")]
    pub port: Option<u16>,
    /// Extra header for every request to the MCP server, as NAME:VALUE; ${VAR} is replaced by the environment
    /// variable VAR. Repeatable.
    #[arg(long = "header", short = 'H', value_name = "NAME:VALUE")]
    pub headers: Vec<String>,
    /// Allow plain http to a server that is not on this machine (tokens would cross the network unencrypted).
    #[arg(long)]
    pub allow_http: bool,
    /// Hide tools whose name matches this pattern (* and ? wildcards) from the host. Repeatable.
    #[arg(long = "ignore-tool", value_name = "PATTERN")]
    pub ignore_tools: Vec<String>,
    /// Send this value as the OAuth `resource` parameter instead of the one the server's metadata names (an
    /// empty value sends none, as in mcp-remote).
    #[arg(long, value_name = "URI", conflicts_with = "no_resource")]
    pub resource: Option<String>,
    /// Send no OAuth `resource` parameter, for authorization servers that reject it.
    #[arg(long, alias = "disable-resource-parameter")]
    pub no_resource: bool,
    /// A pre-registered client as JSON, {"client_id": "...", "client_secret": "..."}, or @FILE holding it
    /// (the same as --client-id / --client-secret).
    #[arg(long, visible_alias = "static-oauth-client-info", value_name = "JSON|@FILE")]
    pub static_client_info: Option<String>,
    /// Client metadata for Dynamic Client Registration as JSON, or @FILE holding it, e.g. {"scope": "mcp",
    /// "client_name": "My host"}; what the flow depends on (redirect URIs, grant types) stays ours.
    #[arg(long, visible_alias = "static-oauth-client-metadata", value_name = "JSON|@FILE")]
    pub static_client_metadata: Option<String>,
    /// Host name in the sign-in redirect URI (http://HOST:PORT/callback) [default: 127.0.0.1]
    #[arg(long, visible_alias = "host", value_name = "HOST")]
    pub callback_host: Option<String>,
    /// Path of the sign-in redirect URI [default: /callback]
    #[arg(long, value_name = "PATH")]
    pub callback_path: Option<String>,
    /// Write logs to this file (appending) instead of stderr.
    #[arg(long, value_name = "PATH")]
    pub log_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ServerArg {
    /// The MCP server URL, for example https://mcp.example.com/mcp
    pub url: Option<String>,
}

#[derive(Debug, Args)]
pub struct LogoutArgs {
    #[command(flatten)]
    pub server: ServerArg,
    /// Keep the client registration (only the tokens are deleted).
    #[arg(long)]
    pub keep_registration: bool,
}

#[derive(Debug, Args)]
pub struct CallArgs {
    /// The MCP server URL, then the tool name (or only the tool name with --server-url).
    #[arg(value_name = "URL TOOL", num_args = 1..=2, required = true)]
    pub positional: Vec<String>,
    /// Tool arguments as a JSON object.
    #[arg(long, default_value = "{}")]
    pub args: String,
}

/// `superdynamic import`: where sign-ins made by other tools are read from (`crate::import`).
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    #[command(subcommand)]
    pub source: ImportSource,
}

#[derive(Debug, clap::Subcommand)]
pub enum ImportSource {
    /// Sign-ins kept by mcp-remote (npm), from $MCP_REMOTE_CONFIG_DIR or ~/.mcp-auth; its files are only read.
    McpRemote(ImportMcpRemoteArgs),
}

#[derive(Debug, clap::Args)]
pub struct ImportMcpRemoteArgs {
    /// The server URLs, exactly as given to mcp-remote (its file names are derived from the text).
    #[arg(value_name = "URL")]
    pub urls: Vec<String>,
    /// Take the servers from an MCP host's JSON configuration: its mcp-remote entries, with their --header and
    /// --resource arguments.
    #[arg(long, value_name = "PATH")]
    pub from_config: Option<PathBuf>,
    /// mcp-remote's directory [default: $MCP_REMOTE_CONFIG_DIR, else ~/.mcp-auth]
    #[arg(long, value_name = "PATH")]
    pub dir: Option<PathBuf>,
    /// A --header NAME:VALUE the URLs were given to mcp-remote with (as written, ${VAR} unexpanded): mcp-remote
    /// names its files after them too. Repeatable.
    #[arg(long = "header", short = 'H', value_name = "NAME:VALUE")]
    pub headers: Vec<String>,
    /// The --resource the URLs were given to mcp-remote with.
    #[arg(long, value_name = "URI")]
    pub resource: Option<String>,
    /// Replace credentials already stored for a server.
    #[arg(long)]
    pub force: bool,
    /// Read, check and discover everything, but save nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::Parser;

    /// Client IDs and secrets are base64url strings that servers hand out; one in 64 starts with '-'.
    #[test]
    fn credentials_that_start_with_a_hyphen_are_values() {
        let cli = Cli::try_parse_from([
            "superdynamic",
            "tools",
            "https://a/mcp",
            "--client-id",
            "-Xq3v",
            "--client-secret",
            "-s3cr3t",
            "--idp-client-id",
            "--idp",
            "--idp-client-secret",
            "-x",
            "--json",
        ])
        .unwrap();
        let g = cli.global;
        assert_eq!(g.client_id.as_deref(), Some("-Xq3v"));
        assert_eq!(g.client_secret.as_deref(), Some("-s3cr3t"));
        assert_eq!(g.idp_client_id.as_deref(), Some("--idp"));
        assert_eq!(g.idp_client_secret.as_deref(), Some("-x"));
        assert!(g.json, "flags after them still parse");
    }
}
