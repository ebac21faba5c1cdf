//! `superdynamic-server`: run the reference authorization + MCP server.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use clap::builder::BoolishValueParser;
use superdynamic_server::{Database, ServerConfig, TlsFiles, TrustedIssuerConfig, start};
use url::Url;

/// Reference OAuth 2.1 authorization server and MCP resource server.
///
/// Serves RFC 8414/9728 metadata, dynamic client registration, /authorize
/// (PKCE S256, consent page), /token, /revoke (RFC 7009), the device flow
/// (/device_authorization and the /device page, RFC 8628), /jwks.json and the
/// MCP endpoint /mcp with the tools get_weather, list_files, read_file and
/// get_user_profile.
///
/// Every flag can also be set by an environment variable, SUPERDYNAMIC_SERVER_ and the flag's name
/// (SUPERDYNAMIC_SERVER_PORT, ..._BIND, ..._PUBLIC_URL, ..._AUTO_APPROVE=true or false, ...), as the container
/// image does;
/// a flag given on the command line wins.
#[derive(Debug, Parser)]
#[command(name = "superdynamic-server", version)]
struct Args {
    /// Port to listen on (0 picks a free port).
    #[arg(long, env = "SUPERDYNAMIC_SERVER_PORT", default_value_t = 8000)]
    port: u16,

    /// Address to listen on. Beyond loopback (e.g. 0.0.0.0) it needs --public-url or TLS, so tokens name an
    /// issuer clients can reach.
    #[arg(long, env = "SUPERDYNAMIC_SERVER_BIND", default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    bind: IpAddr,

    /// Public base URL, used as the issuer and to build the MCP resource URI
    /// (default: http://<bind>:<port>).
    #[arg(long, env = "SUPERDYNAMIC_SERVER_PUBLIC_URL")]
    public_url: Option<Url>,

    /// SQLite database file, or ":memory:" for a throw-away database.
    /// Default: $XDG_DATA_HOME/superdynamic/server.db, else
    /// ~/.local/share/superdynamic/server.db, else ./superdynamic-server.db.
    #[arg(long, env = "SUPERDYNAMIC_SERVER_DB")]
    db: Option<String>,

    /// Skip the consent page and approve every authorization request.
    #[arg(long, env = "SUPERDYNAMIC_SERVER_AUTO_APPROVE", value_parser = BoolishValueParser::new())]
    auto_approve: bool,

    /// Access token lifetime in seconds.
    #[arg(long, env = "SUPERDYNAMIC_SERVER_ACCESS_TOKEN_TTL", default_value_t = 3600, value_parser = clap::value_parser!(u64).range(1..))]
    access_token_ttl: u64,

    /// Directory served read-only by list_files/read_file (default: built-in demo files).
    #[arg(long, env = "SUPERDYNAMIC_SERVER_FILES_DIR")]
    files_dir: Option<PathBuf>,

    /// Serve /mcp WITHOUT authorization (for conformance suites): no bearer
    /// token needed, tools see the subject "anonymous" with every scope.
    /// Only allowed when --bind is a loopback address.
    #[arg(long, env = "SUPERDYNAMIC_SERVER_NO_AUTH", value_parser = BoolishValueParser::new())]
    no_auth: bool,

    /// Speak only the 2024-11-05 HTTP+SSE transport at /mcp (GET opens the event stream; messages POST to
    /// /mcp?sessionId=…), like servers that offer nothing newer. For testing clients.
    #[arg(long, env = "SUPERDYNAMIC_SERVER_LEGACY_SSE", value_parser = BoolishValueParser::new())]
    legacy_sse: bool,

    /// Demand server-provided DPoP nonces (RFC 9449 §8, §9) at /token and /mcp, to exercise clients' nonce
    /// handling.
    #[arg(long, env = "SUPERDYNAMIC_SERVER_DPOP_NONCE", value_parser = BoolishValueParser::new())]
    dpop_nonce: bool,

    /// DPoP proof algorithms to accept and advertise, comma-separated (ES256, EdDSA, RS256; default all),
    /// to test clients against servers that accept fewer.
    #[arg(long, env = "SUPERDYNAMIC_SERVER_DPOP_ALGS", value_name = "ALGS", value_delimiter = ',', value_parser = dpop_alg)]
    dpop_algs: Option<Vec<superdynamic_server::DpopAlg>>,

    /// JSON file of users who can sign in before consenting:
    /// {"users":[{"username":"alice","password_hash":"pbkdf2-sha256$…"}]}
    /// (make hashes with --hash-password). Default: one user, demo / demo.
    #[arg(long, env = "SUPERDYNAMIC_SERVER_USERS", value_name = "FILE")]
    users: Option<PathBuf>,

    /// Read a password from stdin, print its password_hash for --users, and exit.
    #[arg(long)]
    hash_password: bool,

    /// Replace the token signing key at start-up once it is older than this
    /// many seconds (old keys keep verifying until their tokens expire).
    #[arg(long, env = "SUPERDYNAMIC_SERVER_SIGNING_KEY_MAX_AGE", default_value_t = 30 * 24 * 3600, value_parser = clap::value_parser!(u64).range(1..))]
    signing_key_max_age: u64,

    /// Fetch Client ID Metadata Documents and jwks_uri from private,
    /// loopback and link-local addresses too (default: refused, SSRF guard).
    #[arg(long, env = "SUPERDYNAMIC_SERVER_ALLOW_PRIVATE_CIMD_HOSTS", value_parser = BoolishValueParser::new())]
    allow_private_cimd_hosts: bool,

    /// Requests each client address may make to /register and /token per minute (also the burst size);
    /// over it the answer is 429 temporarily_unavailable with Retry-After.
    #[arg(long, env = "SUPERDYNAMIC_SERVER_RATE_LIMIT_PER_MINUTE", default_value_t = 600, value_parser = clap::value_parser!(u32).range(1..))]
    rate_limit_per_minute: u32,

    /// Serve a minimal enterprise identity provider under /idp (ID tokens for the users, token exchange for
    /// ID-JAGs) and trust it, so enterprise-managed authorization (SEP-990) runs locally.
    #[arg(long)]
    idp: bool,

    /// Redeem ID-JAGs (SEP-990) from this enterprise IdP issuer (needs --trusted-idp-jwks).
    #[arg(long, value_name = "ISSUER", requires = "trusted_idp_jwks")]
    trusted_idp_issuer: Option<String>,

    /// The trusted IdP's public keys: a JWKS file or an https URL.
    #[arg(long, value_name = "FILE|URL", requires = "trusted_idp_issuer")]
    trusted_idp_jwks: Option<String>,

    /// Redeem workload identity tokens from this platform issuer (needs --workload-jwks).
    #[arg(long, value_name = "ISSUER", requires = "workload_jwks")]
    workload_issuer: Option<String>,

    /// The workload issuer's public keys: a JWKS file or an https URL (fetched on each use: keys rotate).
    #[arg(long, value_name = "FILE|URL", requires = "workload_issuer")]
    workload_jwks: Option<String>,

    /// Tests only: also fetch CIMD documents / jwks_uri over plain http from loopback hosts.
    #[arg(long, hide = true)]
    insecure_cimd_for_tests: bool,

    /// Serve https: PEM certificate chain (needs --tls-key).
    #[arg(long, env = "SUPERDYNAMIC_SERVER_TLS_CERT", value_name = "PEM", requires = "tls_key")]
    tls_cert: Option<PathBuf>,

    /// Serve https: PEM private key (needs --tls-cert).
    #[arg(long, env = "SUPERDYNAMIC_SERVER_TLS_KEY", value_name = "PEM", requires = "tls_cert")]
    tls_key: Option<PathBuf>,

    /// Split origins: serve the MCP resource server on this second port (on
    /// --bind); --port stays the authorization server (the issuer).
    #[arg(long, env = "SUPERDYNAMIC_SERVER_RESOURCE_PORT")]
    resource_port: Option<u16>,

    /// Public base URL of the resource server when split (default http(s)://<bind>:<resource-port>).
    #[arg(long, env = "SUPERDYNAMIC_SERVER_RESOURCE_PUBLIC_URL", requires = "resource_port")]
    resource_public_url: Option<Url>,
}

/// One `--dpop-algs` entry: a JWS name as RFC 7518 / RFC 8037 spell it.
fn dpop_alg(name: &str) -> Result<superdynamic_server::DpopAlg, String> {
    superdynamic_server::DpopAlg::from_name(name.trim())
        .ok_or_else(|| format!("'{name}' is not a DPoP algorithm this server checks; use ES256, EdDSA or RS256"))
}

fn default_db_path() -> PathBuf {
    let data_home = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")));
    match data_home {
        Some(dir) => dir.join("superdynamic").join("server.db"),
        None => PathBuf::from("superdynamic-server.db"),
    }
}

fn database(arg: Option<&str>) -> anyhow::Result<Database> {
    let path = match arg {
        Some(":memory:") => return Ok(Database::Memory),
        Some(path) => PathBuf::from(path),
        None => default_db_path(),
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating the database directory {}", parent.display()))?;
    }
    Ok(Database::File(path))
}

/// Ctrl-C, or SIGTERM on Unix (what service managers and `kill` send).
async fn wait_for_stop_signal() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("installing the SIGTERM handler")?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r.context("waiting for Ctrl-C")?,
            _ = term.recv() => {}
        }
        Ok(())
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await.context("waiting for Ctrl-C")
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();

    let args = Args::parse();
    if args.hash_password {
        let mut password = String::new();
        std::io::stdin().read_line(&mut password).context("reading the password from stdin")?;
        let password = password.trim_end_matches(['\r', '\n']);
        if password.is_empty() {
            anyhow::bail!("the password is empty");
        }
        let hash = superdynamic_server::hash_password(password, superdynamic_server::DEFAULT_ITERATIONS)
            .map_err(|e| anyhow::anyhow!(e))?;
        println!("{hash}");
        return Ok(());
    }
    if args.no_auth && !args.bind.is_loopback() {
        anyhow::bail!(
            "--no-auth serves MCP without authorization and is only allowed with a loopback --bind (127.0.0.1 or ::1), not {}",
            args.bind
        );
    }
    let database = database(args.db.as_deref())?;
    if let Database::File(path) = &database {
        tracing::info!(path = %path.display(), "using database file");
    }
    let config = ServerConfig {
        bind: SocketAddr::new(args.bind, args.port),
        public_url: args.public_url,
        database,
        auto_approve: args.auto_approve,
        access_token_ttl: Duration::from_secs(args.access_token_ttl),
        files_dir: args.files_dir,
        no_auth: args.no_auth,
        legacy_sse: args.legacy_sse,
        dpop_nonce: args.dpop_nonce,
        dpop_algs: args.dpop_algs.unwrap_or_else(|| superdynamic_server::DpopAlg::ALL.to_vec()),
        users_file: args.users,
        signing_key_max_age: Duration::from_secs(args.signing_key_max_age),
        allow_private_cimd_hosts: args.allow_private_cimd_hosts,
        rate_limit: superdynamic_server::RateLimit {
            burst: args.rate_limit_per_minute,
            per_minute: args.rate_limit_per_minute,
        },
        insecure_cimd_for_tests: args.insecure_cimd_for_tests,
        tls: match (args.tls_cert, args.tls_key) {
            (Some(cert_pem), Some(key_pem)) => Some(TlsFiles { cert_pem, key_pem }),
            _ => None,
        },
        resource_bind: args.resource_port.map(|port| SocketAddr::new(args.bind, port)),
        resource_public_url: args.resource_public_url,
        idp: args.idp,
        trusted_idp: args
            .trusted_idp_issuer
            .zip(args.trusted_idp_jwks)
            .map(|(issuer, jwks)| TrustedIssuerConfig { issuer, jwks }),
        workload_issuer: args
            .workload_issuer
            .zip(args.workload_jwks)
            .map(|(issuer, jwks)| TrustedIssuerConfig { issuer, jwks }),
        ..ServerConfig::default()
    };
    let server = start(config).await.context("starting the server")?;
    eprintln!("superdynamic-server: issuer {}", server.issuer());
    eprintln!("superdynamic-server: MCP endpoint {}", server.mcp_url());

    wait_for_stop_signal().await?;
    tracing::info!("shutting down");
    server.shutdown().await;
    Ok(())
}
