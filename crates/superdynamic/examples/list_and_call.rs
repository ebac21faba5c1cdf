//! The smallest whole program over the library: list a server's tools and call one, with the credentials a
//! sign-in stored (`superdynamic login URL --store file --store-path STORE`). The benchmarks run it beside the
//! TypeScript and Python SDKs' equivalent scripts (`bench/peers/`).
//!
//! ```text
//! cargo run --release -p superdynamic --example list_and_call -- STORE URL TOOL '{"location":"Paris"}'
//! ```

use superdynamic::store::FileStore;
use superdynamic::{ClientOptions, McpClient};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [store, url, tool, arguments] = args.as_slice() else {
        eprintln!("usage: list_and_call STORE URL TOOL ARGUMENTS_JSON");
        std::process::exit(2);
    };
    let mut options = ClientOptions::new(FileStore::new(store));
    options.interactive = false; // a stored sign-in or nothing
    let client = McpClient::new(url, options)?;
    let tools = client.list_tools().await?;
    let result = client.call_tool(tool, serde_json::from_str(arguments)?).await;
    client.close().await;
    let text = result?["content"][0]["text"].as_str().unwrap_or_default().to_owned();
    println!("{} tools; {text}", tools.len());
    Ok(())
}
