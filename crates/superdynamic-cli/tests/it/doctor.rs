//! `superdynamic doctor`: the reference server gives a clean report; a loopback mock per defect class gives the
//! expected finding with its severity, the exit code says whether sign-in is blocked, and nothing hangs.

use crate::common::{Env, Run, run_with, run_with_store};
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const PRM_PATH: &str = "/.well-known/oauth-protected-resource/mcp";
const AS_PATH: &str = "/.well-known/oauth-authorization-server";
const NOT_HUNG: Duration = Duration::from_secs(30);

/// How one document is answered.
#[derive(Clone)]
enum Reply {
    Json(Value),
    Typed(Value, &'static str),
    Status(u16),
    Text(&'static str),
    RedirectLoop,
    Oversized,
    Silent,
}

/// A server with sound defaults; each test spoils one thing.
#[derive(Clone)]
struct Mock {
    /// `None`: a 401 without `WWW-Authenticate`.
    challenge: Option<String>,
    mcp_status: u16,
    prm: Reply,
    authorization_server: Reply,
    register_status: u16,
    register_body: Value,
    sse_only: bool,
}

impl Mock {
    fn sound(base: &str) -> Self {
        Self {
            challenge: Some(format!(r#"Bearer resource_metadata="{base}{PRM_PATH}", scope="mcp""#)),
            mcp_status: 401,
            prm: Reply::Json(json!({ "resource": format!("{base}/mcp"), "authorization_servers": [base] })),
            authorization_server: Reply::Json(json!({
                "issuer": base,
                "authorization_endpoint": format!("{base}/authorize"),
                "token_endpoint": format!("{base}/token"),
                "registration_endpoint": format!("{base}/register"),
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["none"],
                "authorization_response_iss_parameter_supported": true,
            })),
            register_status: 201,
            register_body: json!({ "client_id": "mock-client" }),
            sse_only: false,
        }
    }

    fn edit_as(&mut self, edit: impl FnOnce(&mut Value)) {
        if let Reply::Json(v) = &mut self.authorization_server {
            edit(v);
        }
    }

    fn edit_prm(&mut self, edit: impl FnOnce(&mut Value)) {
        if let Reply::Json(v) = &mut self.prm {
            edit(v);
        }
    }
}

fn reply(r: &Reply, url: &str) -> Response {
    let builder = Response::builder();
    match r {
        Reply::Json(v) => builder.header(header::CONTENT_TYPE, "application/json").body(Body::from(v.to_string())),
        Reply::Typed(v, ct) => builder.header(header::CONTENT_TYPE, *ct).body(Body::from(v.to_string())),
        Reply::Status(s) => builder.status(*s).body(Body::from("no")),
        Reply::Text(t) => builder.header(header::CONTENT_TYPE, "application/json").body(Body::from(*t)),
        Reply::RedirectLoop => builder.status(302).header(header::LOCATION, url).body(Body::empty()),
        Reply::Oversized => builder
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(format!("{{\"resource\":\"{}\"}}", "x".repeat(300 * 1024)))),
        Reply::Silent => unreachable!("the handler never answers"),
    }
    .unwrap()
}

struct Running {
    base: String,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = tokio::time::timeout(Duration::from_secs(5), self.task).await;
    }
}

async fn serve(spoil: impl FnOnce(&mut Mock, &str)) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let mut mock = Mock::sound(&base);
    spoil(&mut mock, &base);
    let m = mock.clone();
    let mcp = move || {
        let m = m.clone();
        async move {
            if m.sse_only {
                return Response::builder().status(405).body(Body::empty()).unwrap();
            }
            let mut r = Response::builder().status(m.mcp_status);
            if let Some(c) = &m.challenge {
                r = r.header(header::WWW_AUTHENTICATE, c);
            }
            r.body(Body::empty()).unwrap()
        }
    };
    let sse = || async {
        let first = futures_util::stream::once(async {
            Ok::<_, std::io::Error>("event: endpoint\ndata: /messages?sessionId=abc\n\n".to_string())
        });
        let body = Body::from_stream(futures_util::StreamExt::chain(first, futures_util::stream::pending()));
        Response::builder().header(header::CONTENT_TYPE, "text/event-stream").body(body).unwrap()
    };
    let (m1, m2, m3) = (mock.clone(), mock.clone(), mock.clone());
    let (prm_url, as_url) = (format!("{base}{PRM_PATH}"), format!("{base}{AS_PATH}"));
    let silent_as = matches!(mock.authorization_server, Reply::Silent);
    let silent_prm = matches!(mock.prm, Reply::Silent);
    let mut app = Router::new()
        .route(
            PRM_PATH,
            get(move || {
                let (m, u) = (m1.clone(), prm_url.clone());
                async move {
                    if silent_prm {
                        std::future::pending::<()>().await;
                    }
                    reply(&m.prm, &u)
                }
            }),
        )
        .route(
            AS_PATH,
            get(move || {
                let (m, u) = (m2.clone(), as_url.clone());
                async move {
                    if silent_as {
                        std::future::pending::<()>().await;
                    }
                    reply(&m.authorization_server, &u)
                }
            }),
        )
        .route(
            "/register",
            post(move |_: HeaderMap| {
                let m = m3.clone();
                async move {
                    Response::builder()
                        .status(StatusCode::from_u16(m.register_status).unwrap())
                        .header(header::CONTENT_TYPE, "application/json")
                        .body(Body::from(m.register_body.to_string()))
                        .unwrap()
                }
            }),
        );
    app = if mock.sse_only {
        app.route("/mcp", get(sse).post(mcp))
    } else {
        app.route("/mcp", post(mcp.clone()).get(mcp))
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                stopped.await.ok();
            })
            .await;
    });
    Running { base, stop, task }
}

async fn doctor(url: &str, extra: &[&str]) -> (Run, Value) {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["doctor", url, "--json", "--timeout", "2"];
    args.extend_from_slice(extra);
    let started = Instant::now();
    let run = run_with_store(&dir.path().join("c.json"), &args).await;
    assert!(started.elapsed() < NOT_HUNG, "{:?}", started.elapsed());
    let report: Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("the report is JSON ({e}):\n{}\nstderr:\n{}", run.stdout, run.stderr));
    (run, report)
}

fn finding<'a>(report: &'a Value, code: &str) -> &'a Value {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == code)
        .unwrap_or_else(|| panic!("no {code} finding in {}", serde_json::to_string_pretty(report).unwrap()))
}

/// One defect: the finding `code` with `severity`, and exit 3 exactly when it is an error.
async fn expect(spoil: impl FnOnce(&mut Mock, &str), code: &str, severity: &str) -> Value {
    let server = serve(spoil).await;
    let (run, report) = doctor(&format!("{}/mcp", server.base), &[]).await;
    server.stop().await;
    let f = finding(&report, code);
    assert_eq!(f["severity"], severity, "{f}");
    assert!(f["citation"].as_str().is_some_and(|c| !c.is_empty()), "{f}");
    let blocked = report["findings"].as_array().unwrap().iter().any(|f| f["severity"] == "error");
    assert_eq!(run.code, if blocked { 3 } else { 0 }, "{}", run.stderr);
    assert_eq!(report["summary"]["superdynamic_can_sign_in"], !blocked);
    if severity != "info" {
        assert_eq!(report["summary"]["strict_clients_can_sign_in"], false);
    }
    f.clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_reference_server_gets_a_clean_report() {
    let env = Env::start().await;
    let (run, report) = doctor(&env.url(), &[]).await;
    run.ok();
    assert_eq!(report["schema"], "superdynamic.doctor/1");
    assert_eq!(report["summary"]["errors"], 0, "{report:#}");
    assert_eq!(report["summary"]["warnings"], 0, "{report:#}");
    assert_eq!(report["summary"]["strict_clients_can_sign_in"], true);
    for code in ["challenge", "prm_resource", "as_issuer", "pkce", "iss", "dcr", "dpop", "cors"] {
        assert_eq!(finding(&report, code)["severity"], "info");
    }
    let tried = report["tried"].as_array().unwrap();
    assert_eq!(tried[0]["url"], format!("{}", env.url().replace("/mcp", PRM_PATH)));
    assert_eq!(tried[0]["status"], 200);
    // The text form says the same.
    let dir = tempfile::tempdir().unwrap();
    let text = run_with_store(&dir.path().join("c.json"), &["doctor", &env.url()]).await;
    text.ok();
    assert!(text.stdout.contains("superdynamic and clients that follow the specification strictly can sign in."));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn signed_in_the_generations_behind_the_401_are_probed() {
    let env = Env::start().await;
    let (run, report) =
        doctor(&env.url(), &["--sign-in", "--auto-authorize", "--callback-port", "0", "--no-register"]).await;
    run.ok();
    assert_eq!(report["signed_in"], true);
    assert_eq!(report["generations"], json!({ "modern": "yes", "legacy": "yes" }));
    assert!(!run.stdout.contains("access_token"), "no token in the report");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_protected_resource_metadata_is_a_warning() {
    expect(
        |m, _| {
            m.challenge = Some("Bearer".into());
            m.prm = Reply::Status(404);
        },
        "prm_missing",
        "warning",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_resource_mismatch_blocks() {
    let f = expect(
        |m, _| m.edit_prm(|p| p["resource"] = json!("https://other.example/mcp")),
        "prm_resource_mismatch",
        "error",
    )
    .await;
    assert!(f["seen"].as_str().unwrap().contains("https://other.example/mcp"), "{f}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_issuer_mismatch_blocks() {
    expect(|m, base| m.edit_as(|a| a["issuer"] = json!(format!("{base}/"))), "as_issuer_mismatch", "error").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn no_s256_blocks() {
    expect(
        |m, _| m.edit_as(|a| a["code_challenge_methods_supported"] = json!(["plain"])),
        "pkce_s256_missing",
        "error",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn no_registration_at_all_blocks() {
    expect(
        |m, _| m.edit_as(|a| a.as_object_mut().unwrap().remove("registration_endpoint").map(drop).unwrap()),
        "no_registration",
        "error",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_registration_endpoint_answering_500_blocks() {
    let f = expect(|m, _| m.register_status = 500, "dcr_failed", "error").await;
    assert!(f["seen"].as_str().unwrap().contains("500"), "{f}");
}

#[tokio::test(flavor = "multi_thread")]
async fn plain_http_on_a_public_host_blocks() {
    let f = expect(
        |m, _| m.edit_as(|a| a["authorization_endpoint"] = json!("http://example.com/authorize")),
        "endpoint_insecure",
        "error",
    )
    .await;
    assert_eq!(f["seen"], "authorization_endpoint: http://example.com/authorize");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_endpoint_on_another_scheme_is_a_warning() {
    let port_url = |base: &str| base.replace("http://", "https://");
    expect(
        |m, base| m.edit_as(|a| a["token_endpoint"] = json!(format!("{}/token", port_url(base)))),
        "endpoint_scheme_differs",
        "warning",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_challenge_without_resource_metadata_is_a_warning() {
    expect(|m, _| m.challenge = Some(r#"Bearer scope="mcp""#.into()), "challenge_without_resource_metadata", "warning")
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unquoted_resource_metadata_is_named() {
    let f = expect(
        |m, base| m.challenge = Some(format!("Bearer resource_metadata={base}{PRM_PATH}")),
        "challenge_unquoted",
        "warning",
    )
    .await;
    assert!(f["fix"].as_str().unwrap().starts_with("send resource_metadata=\"http://127.0.0.1:"), "{f}");
}

#[tokio::test(flavor = "multi_thread")]
async fn no_www_authenticate_is_a_warning() {
    expect(|m, _| m.challenge = None, "challenge_missing", "warning").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_challenge_of_another_scheme_is_a_warning() {
    expect(|m, _| m.challenge = Some(r#"Basic realm="mcp""#.into()), "challenge_not_bearer", "warning").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_403_without_a_token_is_a_warning() {
    expect(|m, _| m.mcp_status = 403, "challenge_403", "warning").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_content_type_is_a_warning() {
    expect(
        |m, base| {
            m.prm =
                Reply::Typed(json!({ "resource": format!("{base}/mcp"), "authorization_servers": [base] }), "text/html")
        },
        "wrong_content_type",
        "warning",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redirect_loop_blocks() {
    expect(|m, _| m.prm = Reply::RedirectLoop, "redirect_loop", "error").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_oversized_answer_blocks() {
    expect(|m, _| m.prm = Reply::Oversized, "oversized_answer", "error").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_answer_blocks_within_the_timeout() {
    let started = Instant::now();
    expect(|m, _| m.authorization_server = Reply::Silent, "slow_answer", "error").await;
    assert!(started.elapsed() < Duration::from_secs(15), "{:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread")]
async fn metadata_that_is_not_json_blocks() {
    expect(|m, _| m.prm = Reply::Text("<html>hello</html>"), "not_json", "error").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn no_authorization_server_listed_blocks() {
    expect(|m, _| m.edit_prm(|p| p["authorization_servers"] = json!([])), "prm_no_authorization_server", "error").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_authorization_server_metadata_blocks() {
    expect(|m, _| m.authorization_server = Reply::Status(404), "as_metadata_missing", "error").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn no_iss_support_is_a_warning() {
    expect(
        |m, _| m.edit_as(|a| a["authorization_response_iss_parameter_supported"] = json!(false)),
        "iss_not_supported",
        "warning",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn no_public_client_auth_is_a_warning() {
    expect(
        |m, _| m.edit_as(|a| a["token_endpoint_auth_methods_supported"] = json!(["client_secret_basic"])),
        "no_public_clients",
        "warning",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_legacy_sse_only_server_is_named() {
    expect(|m, _| m.sse_only = true, "legacy_sse_only", "warning").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn terminal_escapes_from_the_server_are_removed() {
    let server = serve(|m, _| {
        m.register_status = 400;
        m.register_body =
            json!({ "error": "invalid_client_metadata", "error_description": "\u{1b}[31mred\u{1b}[0m\u{7}" });
    })
    .await;
    let url = format!("{}/mcp", server.base);
    let (_, report) = doctor(&url, &[]).await;
    let dir = tempfile::tempdir().unwrap();
    let text = run_with_store(&dir.path().join("c.json"), &["doctor", &url]).await;
    server.stop().await;
    assert!(finding(&report, "dcr_failed")["seen"].as_str().unwrap().contains("[31mred[0m"));
    assert_eq!(text.code, 3);
    assert!(!text.stdout.contains('\u{1b}') && !text.stdout.contains('\u{7}'), "{}", text.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_server_blocks() {
    let port = crate::common::free_port();
    let (run, report) = doctor(&format!("http://127.0.0.1:{port}/mcp"), &[]).await;
    assert_eq!(run.code, 3);
    assert_eq!(finding(&report, "unreachable")["severity"], "error");
}

#[cfg(all(unix, not(target_os = "macos")))]
#[tokio::test(flavor = "multi_thread")]
async fn a_self_signed_certificate_blocks() {
    use superdynamic_server::{ServerConfig, TlsFiles};
    let dir = tempfile::tempdir().unwrap();
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let (cert_pem, key_pem) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_pem, certified.cert.pem()).unwrap();
    std::fs::write(&key_pem, certified.signing_key.serialize_pem()).unwrap();
    let env = Env::with(ServerConfig { tls: Some(TlsFiles { cert_pem, key_pem }), ..ServerConfig::default() }).await;
    let untrusted = [
        ("SUPERDYNAMIC_STORE", Some("file")),
        ("SSL_CERT_DIR", Some("/nonexistent")),
        ("SSL_CERT_FILE", Some("/nonexistent")),
    ];
    let run = run_with(&env.store(), &["doctor", &env.url(), "--json", "--timeout", "2"], &untrusted).await;
    env.stop().await;
    assert_eq!(run.code, 3, "{}", run.stderr);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    let f = finding(&report, "tls_certificate");
    assert_eq!(f["severity"], "error");
    assert!(f["seen"].as_str().unwrap().to_lowercase().contains("certificate"), "{f}");
}
