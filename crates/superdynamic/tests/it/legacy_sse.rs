//! A server that only speaks the deprecated HTTP+SSE transport (MCP 2024-11-05) gets a clear error naming that
//! transport, not a bare HTTP status.

use axum::Router;
use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use superdynamic::store::FileStore;
use superdynamic::{ClientOptions, Error, McpClient};

async fn sse_endpoint() -> Response {
    // 2024-11-05: the first event names the URL to POST messages to; the stream then stays open.
    let first = futures_util::stream::once(async {
        Ok::<_, std::io::Error>("event: endpoint\ndata: /messages?sessionId=abc\n\n".to_string())
    });
    let body = Body::from_stream(futures_util::StreamExt::chain(first, futures_util::stream::pending()));
    Response::builder().header(header::CONTENT_TYPE, "text/event-stream").body(body).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_http_sse_server_is_named_in_the_error() {
    let app = Router::new().route("/sse", get(sse_endpoint).post(|| async { StatusCode::METHOD_NOT_ALLOWED }));
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
    let client = McpClient::new(&url, ClientOptions::new(FileStore::new(dir.path().join("c.json")))).unwrap();
    let err = client.list_tools().await.unwrap_err();
    assert!(matches!(err, Error::LegacySseTransport { .. }), "{err}");
    assert!(err.to_string().contains("HTTP+SSE transport of MCP 2024-11-05"), "{err}");
    drop(client);
    let _ = stop.send(());
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), server).await;
}
