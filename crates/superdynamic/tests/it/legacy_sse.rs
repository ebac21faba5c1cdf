//! Servers that only speak the HTTP+SSE transport of MCP 2024-11-05, broken or hostile: each refusal is a clear
//! error, and `--transport http-only` names the transport the server speaks. (The working path runs against the
//! reference server with `legacy_sse` in the CLI's tests.)

use axum::Router;
use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use superdynamic::store::FileStore;
use superdynamic::transport::TransportOrder;
use superdynamic::{ClientOptions, Error, McpClient};

/// An event stream whose first event is `first` (nothing if empty); it then stays open, or ends if `close`.
fn stream(first: &'static str, close: bool) -> Response {
    let first = futures_util::stream::iter((!first.is_empty()).then(|| Ok::<_, std::io::Error>(first.to_string())));
    let body = if close {
        Body::from_stream(first)
    } else {
        Body::from_stream(futures_util::StreamExt::chain(first, futures_util::stream::pending()))
    };
    Response::builder().header(header::CONTENT_TYPE, "text/event-stream").body(body).unwrap()
}

async fn list_tools_against(
    first: &'static str,
    close: bool,
    transport: TransportOrder,
) -> (Error, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let posts = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = posts.clone();
    let app = Router::new()
        .route(
            "/sse",
            get(move || async move { stream(first, close) }).post(|| async { StatusCode::METHOD_NOT_ALLOWED }),
        )
        .route(
            "/messages",
            axum::routing::post(move || async move {
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                StatusCode::NOT_FOUND
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/sse", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                stopped.await.ok();
            })
            .await
            .unwrap();
    });
    let dir = tempfile::tempdir().unwrap();
    let mut options = ClientOptions::new(FileStore::new(dir.path().join("c.json")));
    options.transport = transport;
    options.request_timeout = std::time::Duration::from_secs(2);
    let client = McpClient::new(&url, options).unwrap();
    let err = client.list_tools().await.unwrap_err();
    drop(client);
    let _ = stop.send(());
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), server).await;
    (err, posts)
}

const ENDPOINT: &str = "event: endpoint\ndata: /messages?sessionId=abc\n\n";

#[tokio::test(flavor = "multi_thread")]
async fn told_http_only_the_client_names_the_transport_the_server_speaks() {
    let (err, _) = list_tools_against(ENDPOINT, false, TransportOrder::HttpOnly).await;
    assert!(matches!(err, Error::LegacySseTransport { .. }), "{err}");
    assert!(err.to_string().contains("speaks only the HTTP+SSE transport of MCP 2024-11-05"), "{err}");
    assert!(err.to_string().contains("--transport http-first or sse-only"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_endpoint_that_refuses_initialize_is_the_error() {
    let (err, posts) = list_tools_against(ENDPOINT, false, TransportOrder::HttpFirst).await;
    assert!(err.to_string().contains("HTTP 404"), "{err}");
    assert_eq!(posts.load(std::sync::atomic::Ordering::SeqCst), 1, "initialize is sent once, not retried");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_endpoint_on_another_origin_never_gets_the_token() {
    let (err, posts) =
        list_tools_against("event: endpoint\ndata: http://127.0.0.2:9/messages\n\n", false, TransportOrder::SseOnly)
            .await;
    assert!(err.to_string().contains("names another origin (http://127.0.0.2:9)"), "{err}");
    assert_eq!(posts.load(std::sync::atomic::Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stream_without_an_endpoint_event_is_refused() {
    let (err, _) = list_tools_against("event: message\ndata: {}\n\n", true, TransportOrder::SseOnly).await;
    assert!(err.to_string().contains("ended before its `endpoint` event"), "{err}");
    // A silent stream: the wait for the endpoint (or the idle limit on the stream, the same 2 s) ends it.
    let started = std::time::Instant::now();
    let (err, _) = list_tools_against("", false, TransportOrder::SseOnly).await;
    assert!(err.to_string().contains("`endpoint` event"), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "bounded by the request timeout");
}
