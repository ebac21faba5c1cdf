//! `tools/call` answered directly (without rmcp) must be indistinguishable from rmcp's answer, in both
//! generations, and keep every check: token, scope, session owner, Host/Origin, revocation.
//!
//! rmcp's answer is obtained with an `Accept` header that carries a media-type parameter (`;q=1`): the direct
//! path leaves such requests to rmcp, which accepts them.

use crate::common;

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use superdynamic_server::{Database, ServerConfig, start};

/// Accept that rmcp takes and the direct path does not.
const ACCEPT_VIA_RMCP: &str = "application/json, text/event-stream;q=1";

struct Call<'a> {
    token: &'a str,
    session: Option<&'a str>,
    /// 2026-07-28 (per-request `_meta` and headers) instead of the session generation.
    modern: bool,
    accept: &'a str,
    extra: &'a [(&'a str, &'a str)],
}

impl Call<'_> {
    async fn post(
        &self,
        http: &reqwest::Client,
        server: &superdynamic_server::RunningServer,
        body: &Value,
    ) -> McpReply {
        let mut req =
            http.post(server.mcp_url()).header("Accept", self.accept).header("Content-Type", "application/json");
        if self.modern {
            for (name, value) in modern_headers(body) {
                req = req.header(name, value);
            }
        } else {
            req = req.header("MCP-Protocol-Version", "2025-06-18");
        }
        if let Some(session) = self.session {
            req = req.header("Mcp-Session-Id", session);
        }
        for (name, value) in self.extra {
            req = req.header(*name, *value);
        }
        let resp = req.bearer_auth(self.token).body(body.to_string()).send().await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let raw = resp.text().await.unwrap();
        McpReply { status, headers, message: parse_mcp_body(&raw), raw }
    }
}

fn tool_call(id: Value, name: &str, arguments: Value, modern: bool) -> Value {
    let params = json!({"name": name, "arguments": arguments});
    let mut body = if modern {
        modern_request(0, "tools/call", params, MODERN)
    } else {
        json!({"jsonrpc": "2.0", "id": 0, "method": "tools/call", "params": params})
    };
    body["id"] = id;
    body
}

/// The SSE field names of each line (`data`, `id`, `retry`, `` for the blank line ending an event).
fn sse_shape(raw: &str) -> Vec<&str> {
    raw.split('\n').map(|line| line.split_once(':').map_or(line, |(field, _)| field)).collect()
}

fn event_ids(raw: &str) -> Vec<&str> {
    raw.lines().filter_map(|l| l.strip_prefix("id: ")).collect()
}

#[tokio::test]
async fn direct_answers_match_rmcp_in_both_generations() {
    let server = start(ServerConfig { demo_user: "alice@example".into(), ..test_config(true) }).await.unwrap();
    let http = http();
    let tokens = obtain_tokens(&http, &server, "mcp:tools files:read profile:read").await;
    let t = tokens.access_token.as_str();
    let session = mcp_initialize(&http, &server, t).await;
    let calls = [
        ("get_weather", json!({"location": "Paris"})),
        ("get_weather", json!({"location": "Oslo", "units": "fahrenheit"})),
        ("get_weather", json!({"location": " "})),
        ("list_files", json!({})),
        ("read_file", json!({"path": "README.txt"})),
        ("read_file", json!({"path": "../etc/passwd"})),
        ("get_user_profile", json!({})),
    ];
    for modern in [false, true] {
        let session = (!modern).then_some(session.as_str());
        for (i, (name, arguments)) in calls.iter().enumerate() {
            for id in [json!(i), json!(format!("call-\"{i}\"-é"))] {
                let body = tool_call(id.clone(), name, arguments.clone(), modern);
                let direct = Call { token: t, session, modern, accept: ACCEPT_MCP, extra: &[] };
                let direct = direct.post(&http, &server, &body).await;
                let via_rmcp = Call { token: t, session, modern, accept: ACCEPT_VIA_RMCP, extra: &[] };
                let via_rmcp = via_rmcp.post(&http, &server, &body).await;
                let what = format!("{name} {arguments} modern={modern} id={id}");
                assert_eq!(direct.status, StatusCode::OK, "{what}: {}", direct.raw);
                assert_eq!(via_rmcp.status, StatusCode::OK, "{what}: {}", via_rmcp.raw);
                for header in ["content-type", "cache-control", "x-accel-buffering"] {
                    assert_eq!(direct.headers.get(header), via_rmcp.headers.get(header), "{what}: {header}");
                }
                // Which path answered: direct answers have a length, rmcp streams are chunked.
                assert!(direct.headers.contains_key("content-length"), "{what}: not answered directly");
                assert!(!via_rmcp.headers.contains_key("content-length"), "{what}: not answered by rmcp");
                let message = direct.message.clone().unwrap();
                assert_eq!(message["id"], id, "{what}");
                assert_eq!(direct.message, via_rmcp.message, "{what}");
                assert_eq!(message["result"].get("resultType").is_some(), modern, "{what}: {message}");
                // The same SSE events: a priming event and the response with ids in a session, one event
                // without id in 2026-07-28.
                assert_eq!(
                    sse_shape(&direct.raw),
                    sse_shape(&via_rmcp.raw),
                    "{what}:\n{}\n{}",
                    direct.raw,
                    via_rmcp.raw
                );
                if modern {
                    assert_eq!(direct.raw, via_rmcp.raw, "{what}");
                } else {
                    assert!(direct.raw.starts_with("data: \nid: 0/"), "{}", direct.raw);
                    assert!(direct.raw.contains("\nretry: 3000\n"), "{}", direct.raw);
                    let ids = event_ids(&direct.raw);
                    assert_eq!(ids.len(), 2);
                    assert_eq!(ids[0].strip_prefix("0/"), ids[1].strip_prefix("1/"), "one stream: {ids:?}");
                    // Stream numbers of direct answers cannot collide with rmcp's (which count from 0).
                    let stream: u64 = ids[0][2..].parse().unwrap();
                    assert!(stream >= 1 << 63, "{ids:?}");
                }
            }
        }
    }
    server.shutdown().await;
}

#[tokio::test]
async fn direct_answers_keep_every_check() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("server.db");
    let server = start(ServerConfig { database: Database::File(db.clone()), ..test_config(true) }).await.unwrap();
    let http = http();
    let tokens = obtain_tokens(&http, &server, "mcp:tools").await;
    let t = tokens.access_token.as_str();
    let session = mcp_initialize(&http, &server, t).await;
    let weather = |modern| tool_call(json!(1), "get_weather", json!({"location": "Paris"}), modern);
    for modern in [false, true] {
        let s = Some(session.as_str());
        let ok = Call { token: t, session: s, modern, accept: ACCEPT_MCP, extra: &[] };
        assert_eq!(ok.post(&http, &server, &weather(modern)).await.status, StatusCode::OK);
        // Scope: read_file needs files:read.
        let body = tool_call(json!(2), "read_file", json!({"path": "README.txt"}), modern);
        assert_eq!(ok.post(&http, &server, &body).await.status, StatusCode::FORBIDDEN);
        // DNS rebinding protection: a foreign Host or Origin is refused.
        for extra in [[("Origin", "https://evil.example.com")], [("Host", "evil.example.com")]] {
            let call = Call { extra: &extra, ..ok };
            assert_eq!(call.post(&http, &server, &weather(modern)).await.status, StatusCode::FORBIDDEN, "{extra:?}");
        }
        // The same origin passes.
        let origin = issuer(&server);
        let extra = [("Origin", origin.as_str())];
        let call = Call { extra: &extra, ..ok };
        assert_eq!(call.post(&http, &server, &weather(modern)).await.status, StatusCode::OK);
    }

    // A session is usable only with tokens of its user.
    let jwks: Value = http.get(url(&server, "/jwks.json")).send().await.unwrap().json().await.unwrap();
    let kid = jwks["keys"][0]["kid"].as_str().unwrap();
    let now = unix_now();
    let mallory = mint_with_server_key(
        &db,
        kid,
        &json!({"iss": issuer(&server), "sub": "mallory", "aud": server.mcp_url().as_str(), "exp": now + 300,
                "iat": now, "jti": "m1", "client_id": "c", "scope": "mcp:tools"}),
    );
    let foreign = Call { token: &mallory, session: Some(&session), modern: false, accept: ACCEPT_MCP, extra: &[] };
    assert_eq!(foreign.post(&http, &server, &weather(false)).await.status, StatusCode::NOT_FOUND);

    // Unknown and ended sessions are 404, as rmcp answers them.
    let unknown = Call { token: t, session: Some("no-such-session"), modern: false, accept: ACCEPT_MCP, extra: &[] };
    assert_eq!(unknown.post(&http, &server, &weather(false)).await.status, StatusCode::NOT_FOUND);
    let ended = http
        .delete(server.mcp_url())
        .bearer_auth(t)
        .header("Mcp-Session-Id", &session)
        .header("MCP-Protocol-Version", "2025-06-18")
        .send()
        .await
        .unwrap();
    assert!(ended.status().is_success(), "{}", ended.status());
    let after = Call { token: t, session: Some(&session), modern: false, accept: ACCEPT_MCP, extra: &[] };
    assert_eq!(after.post(&http, &server, &weather(false)).await.status, StatusCode::NOT_FOUND);
    server.shutdown().await;
}

#[tokio::test]
async fn a_token_used_for_direct_calls_stops_working_once_revoked() {
    let server = start_server(true).await;
    let http = http();
    let client = register_public(&http, &server).await;
    let p = pkce("revoke-direct");
    let code = get_code(&http, &server, &client.client_id, &p, "mcp:tools").await;
    let resp = exchange_code(&http, &server, &client.client_id, &code, &p.verifier).await;
    let tokens: Value = resp.json().await.unwrap();
    let t = tokens["access_token"].as_str().unwrap();
    let call = Call { token: t, session: None, modern: true, accept: ACCEPT_MCP, extra: &[] };
    let body = tool_call(json!(1), "get_weather", json!({"location": "Paris"}), true);
    // Twice: the second use is answered from the verified-token cache.
    for _ in 0..2 {
        assert_eq!(call.post(&http, &server, &body).await.status, StatusCode::OK);
    }
    let resp = http
        .post(url(&server, "/revoke"))
        .form(&[("token", t), ("token_type_hint", "access_token"), ("client_id", client.client_id.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let reply = call.post(&http, &server, &body).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(reply.headers["www-authenticate"].to_str().unwrap().contains("revoked"));
    server.shutdown().await;
}

#[tokio::test]
async fn concurrent_calls_reusing_a_request_id_are_each_answered() {
    // Clients should not reuse an id within a session, but each POST carries its own answer: none is lost
    // or sent to another request's stream.
    let server = start_server(true).await;
    let http = http();
    let tokens = obtain_tokens(&http, &server, "mcp:tools").await;
    let t = tokens.access_token.as_str();
    let session = mcp_initialize(&http, &server, t).await;
    let towns = ["Paris", "Oslo", "Lima", "Pune", "Cork", "Bern", "Kyiv", "Riga"];
    let tasks: Vec<_> = towns
        .iter()
        .map(|town| {
            let request = http
                .post(server.mcp_url())
                .header("Accept", ACCEPT_MCP)
                .header("Content-Type", "application/json")
                .header("MCP-Protocol-Version", "2025-06-18")
                .header("Mcp-Session-Id", &session)
                .bearer_auth(t)
                .body(tool_call(json!(7), "get_weather", json!({"location": town}), false).to_string());
            tokio::spawn(async move { request.send().await.unwrap().text().await.unwrap() })
        })
        .collect();
    for (town, task) in towns.iter().zip(tasks) {
        let raw = tokio::time::timeout(std::time::Duration::from_secs(10), task).await.unwrap().unwrap();
        let message = parse_mcp_body(&raw).unwrap();
        assert_eq!(message["result"]["structuredContent"]["location"], *town, "{raw}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn a_direct_session_answer_can_be_resumed_with_last_event_id() {
    let server = start_server(true).await;
    let http = http();
    let tokens = obtain_tokens(&http, &server, "mcp:tools").await;
    let t = tokens.access_token.as_str();
    let session = mcp_initialize(&http, &server, t).await;
    let call = Call { token: t, session: Some(&session), modern: false, accept: ACCEPT_MCP, extra: &[] };
    let reply =
        call.post(&http, &server, &tool_call(json!(1), "get_weather", json!({"location": "Paris"}), false)).await;
    let ids = event_ids(&reply.raw);
    let stream = ids[0].strip_prefix("0/").unwrap().to_owned();
    let resume = |last: String| {
        http.get(server.mcp_url())
            .bearer_auth(t)
            .header("Accept", "text/event-stream")
            .header("Mcp-Session-Id", &session)
            .header("MCP-Protocol-Version", "2025-06-18")
            .header("Last-Event-ID", last)
            .send()
    };
    // As rmcp replays its own streams: from the event named on, the priming event included for index 0.
    let again = resume(format!("0/{stream}")).await.unwrap();
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(again.headers()["content-type"], "text/event-stream");
    assert_eq!(again.text().await.unwrap(), reply.raw);
    let response_only = resume(format!("1/{stream}")).await.unwrap().text().await.unwrap();
    assert!(response_only.starts_with("data: {"), "{response_only}");
    assert_eq!(parse_mcp_body(&response_only), reply.message);
    assert!(resume(format!("2/{stream}")).await.unwrap().text().await.unwrap().is_empty());
    // An unknown stream: an empty stream, as rmcp answers for one it no longer has.
    let unknown = resume("0/9223372036854775900".into()).await.unwrap();
    assert_eq!(unknown.status(), StatusCode::OK);
    assert!(unknown.text().await.unwrap().is_empty());
    server.shutdown().await;
}
