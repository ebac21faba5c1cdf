//! An AI application serving many users from many replicas: every replica opens the same PostgreSQL store and
//! acts for a user by using that user's id as the profile (the tenant key). Refreshes are coordinated through
//! the database, so replicas never spend a rotating refresh token twice.
//!
//! ```text
//! cargo run -p superdynamic --features postgres --example fleet -- DATABASE_URL MCP_SERVER_URL USER_ID
//! ```
//!
//! A user signs in once, from any machine, with the CLI on the same database:
//! `SUPERDYNAMIC_DATABASE_URL=... superdynamic login MCP_SERVER_URL --store postgres --profile USER_ID`.

use serde_json::json;
use superdynamic::store::PostgresStore;
use superdynamic::{ClientOptions, Error, McpClient};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [database_url, server_url, user] = args.as_slice() else {
        eprintln!("usage: fleet DATABASE_URL MCP_SERVER_URL USER_ID");
        std::process::exit(2);
    };
    // One store per replica, shared by every request it serves (clones share one connection).
    let store = PostgresStore::connect(database_url).await?;

    let mut options = ClientOptions::new(store.clone());
    options.profile = user.clone(); // the tenant: this user's credentials only
    options.interactive = false; // a server has no browser: a missing sign-in is reported, not started
    let client = McpClient::new(server_url, options)?;

    match client.list_tools().await {
        Ok(tools) => {
            println!("{} tools for {user}", tools.len());
            if tools.iter().any(|t| t["name"] == "get_weather") {
                let result = client.call_tool("get_weather", json!({ "location": "Paris" })).await?;
                println!("{}", serde_json::to_string_pretty(&result)?);
            }
        }
        // Ask the user to sign in (for example by sending them the CLI command above), then retry.
        Err(e @ (Error::SignInRequired { .. } | Error::NotSignedIn { .. })) => eprintln!("{user}: {e}"),
        Err(e) => return Err(e.into()),
    }
    client.close().await;
    Ok(())
}
