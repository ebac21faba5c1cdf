//! The legacy session's GET stream: a server request that is not tied to one of our requests (here an
//! elicitation a tool sends through its server object, as the TypeScript SDK's `server.request` does) arrives
//! there, the handler answers it, and the answer is POSTed back with the session id and bearer token.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::Response;
use axum::routing::any;
use futures_util::StreamExt as _;
use serde_json::{Value, json};
use superdynamic::secret::AccessToken;
use superdynamic::transport::{
    Generation, HandlerFuture, RpcErrorObject, ServerMessageHandler, ServerStream, StreamableHttp, TransportOptions,
};
use tokio::sync::{mpsc, oneshot};

/// The client's answer and the Authorization header it came with.
type Answer = (Value, Option<String>);

#[derive(Clone)]
struct Mock {
    answers: Arc<Mutex<Option<oneshot::Sender<Answer>>>>,
    answer: Arc<tokio::sync::Mutex<Option<oneshot::Receiver<Answer>>>>,
    stream_tx: Arc<Mutex<Option<mpsc::Sender<String>>>>,
}

fn json_response(value: Value) -> Response {
    Response::builder()
        .header(header::CONTENT_TYPE, "application/json")
        .header("mcp-session-id", "sess-1")
        .body(Body::from(value.to_string()))
        .unwrap()
}

async fn handle(State(mock): State<Mock>, method: Method, headers: HeaderMap, body: String) -> Response {
    if method == Method::GET {
        // The session's message stream: keep it open and push what the tool wants to ask.
        let (tx, mut rx) = mpsc::channel::<String>(4);
        *mock.stream_tx.lock().unwrap() = Some(tx);
        let stream = async_stream(async move { rx.recv().await });
        return Response::builder().header(header::CONTENT_TYPE, "text/event-stream").body(stream).unwrap();
    }
    let message: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let id = message.get("id").cloned().unwrap_or(Value::Null);
    match message.get("method").and_then(Value::as_str) {
        Some("initialize") => json_response(json!({"jsonrpc": "2.0", "id": id, "result": {
            "protocolVersion": "2025-11-25", "capabilities": {"tools": {}}, "serverInfo": {"name": "mock", "version": "1"}
        }})),
        Some("tools/list") => json_response(json!({"jsonrpc": "2.0", "id": id, "result": {"tools": []}})),
        Some("notifications/initialized") => {
            Response::builder().status(StatusCode::ACCEPTED).body(Body::empty()).unwrap()
        }
        Some("tools/call") => {
            // Ask the client through the session stream, then wait for its answer before finishing the call.
            for _ in 0..100 {
                if mock.stream_tx.lock().unwrap().is_some() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let tx = mock.stream_tx.lock().unwrap().clone().expect("the client opened the session stream");
            let ask = json!({"jsonrpc": "2.0", "id": "srv-9", "method": "elicitation/create", "params": {
                "message": "Your name?", "requestedSchema": {"type": "object", "properties": {"name": {"type": "string"}}}
            }});
            tx.send(format!("data: {ask}\n\n")).await.unwrap();
            let receiver = mock.answer.lock().await.take().unwrap();
            let (answer, authorization) = receiver.await.unwrap();
            json_response(json!({"jsonrpc": "2.0", "id": id, "result": {
                "content": [{"type": "text", "text": format!("hello {}", answer["result"]["content"]["name"])}],
                "structuredContent": {"authorization": authorization}
            }}))
        }
        None => {
            // A response from the client: the elicitation answer.
            let auth = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_string);
            if let Some(tx) = mock.answers.lock().unwrap().take() {
                let _ = tx.send((message, auth));
            }
            Response::builder().status(StatusCode::ACCEPTED).body(Body::empty()).unwrap()
        }
        Some(_) => json_response(json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32601, "message": "no"}})),
    }
}

/// An SSE body fed by `next` until it yields `None` (then the stream stays open until dropped).
fn async_stream<F>(first: F) -> Body
where
    F: std::future::Future<Output = Option<String>> + Send + 'static,
{
    let stream = futures_util::stream::once(first).filter_map(|item| async move { item.map(Ok::<_, std::io::Error>) });
    let stream = futures_util::StreamExt::chain(stream, futures_util::stream::pending());
    Body::from_stream(stream)
}

struct Answers;

impl ServerMessageHandler for Answers {
    fn client_capabilities(&self) -> Value {
        json!({"elicitation": {}})
    }

    fn handle_request<'a>(&'a self, method: &'a str, _params: Option<Value>) -> HandlerFuture<'a> {
        Box::pin(async move {
            match method {
                "elicitation/create" => Ok(json!({"action": "accept", "content": {"name": "Ada"}})),
                other => Err(RpcErrorObject::method_not_found(other)),
            }
        })
    }
}

/// The mock server on 127.0.0.1:0; stopped by sending on the returned channel.
async fn serve() -> (Mock, String, oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (tx, rx) = oneshot::channel();
    let mock = Mock {
        answers: Arc::new(Mutex::new(Some(tx))),
        answer: Arc::new(tokio::sync::Mutex::new(Some(rx))),
        stream_tx: Arc::new(Mutex::new(None)),
    };
    let app = Router::new().route("/mcp", any(handle)).with_state(mock.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                stopped.await.ok();
            })
            .await
            .unwrap();
    });
    (mock, url, stop, server)
}

fn client(url: &str, server_stream: ServerStream) -> StreamableHttp {
    let options = TransportOptions {
        generation_hint: Some(Generation::Legacy),
        request_timeout: Duration::from_secs(5),
        server_stream,
        ..TransportOptions::default()
    };
    StreamableHttp::new(reqwest::Client::new(), url.parse().unwrap(), options).with_handler(Arc::new(Answers))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_on_the_session_stream_is_answered_with_the_newest_token() {
    let (_mock, url, stop, server) = serve().await;
    let client = client(&url, ServerStream::Always);
    let token = AccessToken::new("tok-1");
    let result =
        client.request("tools/call", Some(json!({"name": "greet", "arguments": {}})), Some(&token)).await.unwrap();
    assert_eq!(result["content"][0]["text"], "hello \"Ada\"");
    assert_eq!(result["structuredContent"]["authorization"], "Bearer tok-1");
    client.close(Some(&token)).await.ok();
    let _ = stop.send(());
    server.await.unwrap();
}

/// `BeforeFirstCall`: a listing opens no stream (one request fewer for a one-shot `tools`), and the stream is
/// open before a call whose tool asks something through it.
#[tokio::test(flavor = "multi_thread")]
async fn a_listing_opens_no_stream_and_a_call_opens_it_first() {
    let (mock, url, stop, server) = serve().await;
    let client = client(&url, ServerStream::BeforeFirstCall);
    let token = AccessToken::new("tok-1");
    client.request("tools/list", None, Some(&token)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(mock.stream_tx.lock().unwrap().is_none(), "no GET stream for a listing");
    let result =
        client.request("tools/call", Some(json!({"name": "greet", "arguments": {}})), Some(&token)).await.unwrap();
    assert_eq!(result["content"][0]["text"], "hello \"Ada\"");
    client.close(Some(&token)).await.ok();
    let _ = stop.send(());
    server.await.unwrap();
}
