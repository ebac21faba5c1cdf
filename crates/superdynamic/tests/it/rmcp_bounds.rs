//! Feature `rmcp`: the bounds of superdynamic's own transport hold for rmcp's client on ours: the response
//! size limit (8 MiB, below rmcp's 16 MiB default) and the MCP request timeout. The end-to-end sign-in tests
//! (reference server, both generations) are in the CLI crate, which may depend on the server.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::post;
use rmcp::ServiceExt;
use std::time::{Duration, Instant};
use superdynamic::ClientOptions;
use superdynamic::store::MemoryStore;

async fn serve(app: Router) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.ok();
    });
    (url, task)
}

fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!(" | {cause}"));
        source = cause.source();
    }
    text
}

#[tokio::test(flavor = "multi_thread")]
async fn an_oversized_answer_is_refused_at_our_limit() {
    let huge = format!(r#"{{"jsonrpc":"2.0","id":0,"result":{{"padding":"{}"}}}}"#, "x".repeat(9 * 1024 * 1024));
    let app = Router::new().route(
        "/mcp",
        post(move || {
            let huge = huge.clone();
            async move { ([(header::CONTENT_TYPE, "application/json")], huge).into_response() }
        }),
    );
    let (url, task) = serve(app).await;
    let transport = superdynamic::rmcp::transport(&url, ClientOptions::new(MemoryStore::new())).await.unwrap();
    let error = ().serve(transport).await.map(|_| ()).expect_err("9 MiB is over the limit");
    let text = chain(&error);
    assert!(text.contains("exceeded the maximum size of 8388608 bytes"), "{text}");
    task.abort();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_never_answers_times_out_with_advice() {
    let app = Router::new().route("/mcp", post(std::future::pending::<()>));
    let (url, task) = serve(app).await;
    let mut options = ClientOptions::new(MemoryStore::new());
    options.request_timeout = Duration::from_secs(1);
    let transport = superdynamic::rmcp::transport(&url, options).await.unwrap();
    let started = Instant::now();
    let error = ().serve(transport).await.map(|_| ()).expect_err("no answer");
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    let text = chain(&error);
    assert!(text.contains(&format!("the MCP request to {url} timed out")), "{text}");
    assert!(text.contains("allow more time (ClientOptions::request_timeout)"), "{text}");
    task.abort();
}
