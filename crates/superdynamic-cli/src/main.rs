//! `superdynamic`: a thin command-line layer over the `superdynamic` library.

mod assertion_flags;
mod cli;
mod commands;
mod demo;
mod demo_enterprise;
mod doctor;
mod import;
mod interact;
mod mcp_remote;
mod narrate;
mod proxy;
mod setup;
mod store;

use cli::Command;
use std::process::ExitCode;
use superdynamic::ErrorKind;

/// Exit codes: 0 success, 1 the tool reported an error, 2 usage, 3 authorization (for `doctor`: sign-in is
/// blocked), 4 server or network, 5 store.
pub struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    pub fn usage(message: impl Into<String>) -> Self {
        Self { code: 2, message: message.into() }
    }

    pub fn tool(message: impl Into<String>) -> Self {
        Self { code: 1, message: message.into() }
    }

    pub fn from_lib(error: superdynamic::Error) -> Self {
        let code = match error.kind() {
            ErrorKind::Usage => 2,
            ErrorKind::Authorization => 3,
            ErrorKind::Server => 4,
            ErrorKind::Store => 5,
        };
        Self { code, message: error.to_string() }
    }

    pub fn other(message: impl Into<String>) -> Self {
        Self { code: 1, message: message.into() }
    }
}

fn init_logging(verbose: u8, silent: bool, file: Option<std::fs::File>) {
    let default = match verbose {
        0 if silent => "error",
        0 => "warn",
        1 => "superdynamic=debug,superdynamic_server=info,warn",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_target(false);
    match file {
        Some(file) => logs.with_writer(std::sync::Mutex::new(file)).with_ansi(false).init(),
        None => logs.with_writer(std::io::stderr).init(),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = mcp_remote::parse(std::env::args_os().collect());
    let log_file = match &cli.command {
        Command::Proxy(proxy::Args { log_file: Some(path), .. }) => {
            match std::fs::OpenOptions::new().create(true).append(true).open(path) {
                Ok(file) => Some(file),
                Err(e) => {
                    eprintln!("error: could not open the log file {}: {e}", path.display());
                    return ExitCode::from(2);
                }
            }
        }
        _ => None,
    };
    init_logging(cli.global.verbose, cli.global.silent, log_file);
    let g = &cli.global;
    let result = match &cli.command {
        Command::Register(a) => commands::register(g, a).await,
        Command::Login(a) => commands::login(g, a).await,
        Command::Tools(a) => commands::tools(g, a).await,
        Command::Call(a) => commands::call(g, a).await,
        Command::Clients => commands::clients(g).await,
        Command::Refresh(a) => commands::refresh(g, a).await,
        Command::Logout(a) => commands::logout(g, a).await,
        Command::Demo(args) if args.enterprise => demo_enterprise::run(g).await,
        Command::Demo(_) => demo::run(g).await,
        Command::Proxy(a) => proxy::run(g, a).await,
        Command::Doctor(a) => doctor::run(g, a).await,
        Command::Setup(a) => setup::run(g, a),
        Command::Import(a) => import::run(g, a).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("error: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}
