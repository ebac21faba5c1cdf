//! The assertion grants end to end, the CLI against the reference server: enterprise-managed authorization
//! (the local IdP's ID token → ID-JAG → access token, no browser) and workload identity federation (a platform
//! token in a file, re-read when it rotates), and what a refused assertion looks like.

use crate::common::*;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use std::time::Duration;
use superdynamic::client_auth::ClientKey;
use superdynamic_server::{ServerConfig, TrustedIssuerConfig};

const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const PLATFORM: &str = "https://platform.example.com";

/// POST JSON over a bare socket; returns the body.
async fn post_json(url: &str, body: &Value) -> Value {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let url = url::Url::parse(url).unwrap();
    let mut stream = tokio::net::TcpStream::connect((url.host_str().unwrap(), url.port().unwrap())).await.unwrap();
    let body = body.to_string();
    let request = format!(
        "POST {} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        url.path(),
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut out = String::new();
    stream.read_to_string(&mut out).await.unwrap();
    serde_json::from_str(out.split("\r\n\r\n").nth(1).unwrap()).unwrap()
}

fn issuer(env: &Env) -> String {
    env.server.as_ref().unwrap().base_url().as_str().trim_end_matches('/').to_owned()
}

/// A confidential client registered for the JWT bearer grant: (client_id, client_secret).
async fn register(env: &Env) -> (String, String) {
    let body = post_json(
        &format!("{}/register", issuer(env)),
        &json!({"client_name": "agent", "grant_types": [JWT_BEARER], "token_endpoint_auth_method": "client_secret_basic"}),
    )
    .await;
    (body["client_id"].as_str().unwrap().to_owned(), body["client_secret"].as_str().unwrap().to_owned())
}

/// The local IdP's ID token for the demo user, issued to `client_id`.
async fn id_token(env: &Env, client_id: &str) -> String {
    let (status, out) = http_post_form(
        &format!("{}/idp/id-token", issuer(env)),
        &format!("username=demo&password=demo&client_id={client_id}"),
    )
    .await
    .unwrap();
    assert_eq!(status, 200, "{out}");
    let body: Value = serde_json::from_str(out.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    body["id_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn enterprise_sign_in_exchanges_the_id_token_and_renews_without_a_browser() {
    let env =
        Env::with(ServerConfig { idp: true, access_token_ttl: Duration::from_secs(2), ..ServerConfig::default() })
            .await;
    let (client_id, secret) = register(&env).await;
    let token_file = env.dir.path().join("id-token");
    std::fs::write(&token_file, id_token(&env, &client_id).await).unwrap();
    let idp = format!("{}/idp", issuer(&env));
    let url = env.url();
    let args = [
        "tools",
        &url,
        "--json",
        "--grant",
        "enterprise",
        "--client-id",
        &client_id,
        "--client-secret",
        &secret,
        "--idp-issuer",
        &idp,
        "--idp-client-id",
        &client_id,
        "--idp-client-secret",
        &secret,
        "--id-token-file",
        token_file.to_str().unwrap(),
    ];
    let run = env.run(&args).await;
    run.ok();
    assert!(run.stdout.contains("get_weather"), "{}", run.stdout);
    assert!(!run.stderr.contains(&secret), "the client secret is never printed");
    let stored = env.stored().to_string();
    assert!(!stored.contains("refresh_token\":\""), "no refresh token for an assertion grant: {stored}");
    // The 2-second token expires: the next run repeats the exchange (no refresh token, no browser).
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let run = env.run(&args).await;
    run.ok();
    assert!(run.stdout.contains("get_weather"), "{}", run.stdout);
    // An ID token issued to another client is refused by the IdP, and the error says where and what to check.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    std::fs::write(&token_file, id_token(&env, "another-client").await).unwrap();
    let run = env.run(&args).await;
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!("the identity provider {idp} could not exchange the ID token")),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("issued to another client"), "{}", run.stderr);
    env.stop().await;
}

#[tokio::test]
async fn enterprise_settings_can_come_from_the_clients_file() {
    let env = Env::with(ServerConfig { idp: true, ..ServerConfig::default() }).await;
    let (client_id, secret) = register(&env).await;
    let token_file = env.dir.path().join("id-token");
    std::fs::write(&token_file, id_token(&env, &client_id).await).unwrap();
    let clients = env.dir.path().join("clients.json");
    let entry = json!({"clients": [{
        "issuer": issuer(&env), "client_id": client_id, "client_secret": secret,
        "idp": {"issuer": format!("{}/idp", issuer(&env)), "client_id": client_id, "client_secret_env": "IDP_SECRET",
                "id_token_file": token_file},
    }]});
    std::fs::write(&clients, entry.to_string()).unwrap();
    let url = env.url();
    let args = ["tools", &url, "--json", "--grant", "enterprise", "--clients-file", clients.to_str().unwrap()];
    let run =
        run_with(&env.store(), &args, &[("SUPERDYNAMIC_STORE", Some("file")), ("IDP_SECRET", Some(&secret))]).await;
    run.ok();
    assert!(run.stdout.contains("get_weather"), "{}", run.stdout);
    // Without the IdP at all, the usage error lists what to pass.
    let bare = ["tools", &url, "--grant", "enterprise", "--client-id", &client_id];
    let run = env.run(&bare).await;
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("--grant enterprise needs the identity provider: --idp-issuer URL"), "{}", run.stderr);
    env.stop().await;
}

/// A platform: a P-256 key, its JWKS file, and tokens it signs for `aud`.
struct Platform {
    key: ClientKey,
}

impl Platform {
    fn new(dir: &std::path::Path) -> (Self, String) {
        let pair = rcgen::KeyPair::generate().unwrap();
        let point = pair.public_key_raw();
        let jwk = json!({"kty": "EC", "crv": "P-256", "alg": "ES256", "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
                         "y": URL_SAFE_NO_PAD.encode(&point[33..65])});
        let path = dir.join("platform-jwks.json");
        std::fs::write(&path, json!({"keys": [jwk]}).to_string()).unwrap();
        let key = ClientKey::from_pem(pair.serialize_pem().as_bytes(), "ES256", None).unwrap();
        (Self { key }, path.display().to_string())
    }

    /// A token with iss = sub = the platform (the shape of RFC 7523 client assertions, fine for a workload).
    fn token(&self, aud: &str) -> String {
        self.key.assertion(PLATFORM, aud, superdynamic::token::now_unix()).unwrap()
    }
}

#[tokio::test]
async fn workload_tokens_are_read_again_after_rotation_and_a_bad_one_is_explained() {
    let dir = tempfile::tempdir().unwrap();
    let (platform, jwks) = Platform::new(dir.path());
    let env = Env::with(ServerConfig {
        workload_issuer: Some(TrustedIssuerConfig { issuer: PLATFORM.into(), jwks }),
        access_token_ttl: Duration::from_secs(2),
        ..ServerConfig::default()
    })
    .await;
    let (client_id, secret) = register(&env).await;
    let token_file = env.dir.path().join("workload-token");
    std::fs::write(&token_file, platform.token(&issuer(&env))).unwrap();
    let url = env.url();
    let args = [
        "tools",
        &url,
        "--json",
        "--grant",
        "workload",
        "--client-id",
        &client_id,
        "--client-secret",
        &secret,
        "--assertion-file",
        token_file.to_str().unwrap(),
    ];
    env.run(&args).await.ok();
    // The platform rotates the file to a token for the wrong audience; the expired access token is renewed
    // with what the file holds now, so the refusal proves the file was read again.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    std::fs::write(&token_file, platform.token("https://wrong.example")).unwrap();
    let run = env.run(&args).await;
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stderr.contains("refused the JWT bearer assertion"), "{}", run.stderr);
    assert!(run.stderr.contains("aud must be this authorization server"), "{}", run.stderr);
    assert!(run.stderr.contains("Not retrying"), "{}", run.stderr);
    // Rotated again to a good token: works, with no other change.
    std::fs::write(&token_file, platform.token(&issuer(&env))).unwrap();
    let run = env.run(&args).await;
    run.ok();
    assert!(run.stdout.contains("get_weather"), "{}", run.stdout);
    // A missing file is a clear error too.
    let gone = env.dir.path().join("nope");
    let mut missing = args.to_vec();
    missing[10] = gone.to_str().unwrap();
    let run = env.run(&["logout", &url]).await;
    run.ok();
    let run = env.run(&missing).await;
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("could not read the workload identity token from"), "{}", run.stderr);
    env.stop().await;
}

#[tokio::test]
async fn the_enterprise_demo_runs_the_whole_flow() {
    let dir = tempfile::tempdir().unwrap();
    let run = run_with_store(&dir.path().join("credentials.json"), &["demo", "--enterprise"]).await;
    run.ok();
    assert!(run.stdout.contains("redeems it there with the JWT bearer grant"), "{}", run.stdout);
    assert!(run.stdout.contains("You are demo"), "{}", run.stdout);
}
