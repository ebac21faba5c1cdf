//! DPoP at the token endpoint (RFC 9449 §5, §8): bound tokens for a valid proof, refusals that leave the code
//! unspent, nonces, and refresh tokens bound to the key; and the bound token at `/mcp`.

use crate::common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use reqwest::StatusCode;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use superdynamic_server::{DpopAlg, ServerConfig, start};

/// A client's DPoP key, written here independently of both the client library and the server.
struct Key(EcdsaKeyPair);

impl Key {
    fn new() -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        Self(EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap())
    }

    fn xy(&self) -> (String, String) {
        let p = self.0.public_key().as_ref();
        (URL_SAFE_NO_PAD.encode(&p[1..33]), URL_SAFE_NO_PAD.encode(&p[33..65]))
    }

    /// RFC 7638 thumbprint.
    fn jkt(&self) -> String {
        let (x, y) = self.xy();
        let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
        URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
    }

    fn proof(&self, method: &str, htu: &str, token: Option<&str>, nonce: Option<&str>) -> String {
        let (x, y) = self.xy();
        let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": {"kty": "EC", "crv": "P-256", "x": x, "y": y}});
        let mut jti = [0u8; 12];
        getrandom::fill(&mut jti).unwrap();
        let mut claims = json!({"jti": URL_SAFE_NO_PAD.encode(jti), "htm": method, "htu": htu, "iat": unix_now()});
        if let Some(t) = token {
            claims["ath"] = json!(URL_SAFE_NO_PAD.encode(Sha256::digest(t.as_bytes())));
        }
        if let Some(n) = nonce {
            claims["nonce"] = json!(n);
        }
        let input =
            format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
        let sig = self.0.sign(&SystemRandom::new(), input.as_bytes()).unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
    }
}

fn claims_of(token: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token.split('.').nth(1).unwrap()).unwrap()).unwrap()
}

async fn token_with_proof(
    http: &reqwest::Client,
    server: &superdynamic_server::RunningServer,
    proof: Option<&str>,
    form: &[(&str, &str)],
) -> reqwest::Response {
    let mut request = http.post(url(server, "/token")).form(form);
    if let Some(p) = proof {
        request = request.header("DPoP", p);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn a_valid_proof_gets_a_bound_token_and_a_bad_one_leaves_the_code_unspent() {
    let server = start_server(true).await;
    let http = http();
    let metadata: Value =
        http.get(url(&server, "/.well-known/oauth-authorization-server")).send().await.unwrap().json().await.unwrap();
    assert_eq!(metadata["dpop_signing_alg_values_supported"], json!(["ES256", "EdDSA", "RS256"]));

    let client = register_public(&http, &server).await;
    let p = pkce("dpop-1");
    let code = get_code(&http, &server, &client.client_id, &p, "mcp:tools").await;
    let mcp = server.mcp_url().to_string();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", p.verifier.as_str()),
        ("client_id", client.client_id.as_str()),
        ("resource", mcp.as_str()),
    ];
    let key = Key::new();
    let token_url = url(&server, "/token");
    // A proof for another URI is refused, and the code survives it.
    let wrong = key.proof("POST", "https://elsewhere.example/token", None, None);
    let (status, _, error, body) = oauth_error(token_with_proof(&http, &server, Some(&wrong), &form).await).await;
    assert_eq!((status, error.as_str()), (StatusCode::BAD_REQUEST, "invalid_dpop_proof"), "{body}");
    assert!(body["error_description"].as_str().unwrap().contains("htu does not match"), "{body}");

    let proof = key.proof("POST", &token_url, None, None);
    let resp = token_with_proof(&http, &server, Some(&proof), &form).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["token_type"], "DPoP");
    let access = body["access_token"].as_str().unwrap();
    assert_eq!(claims_of(access)["cnf"]["jkt"], key.jkt(), "RFC 9449 §6.1 cnf.jkt");

    // The same proof again is a replay.
    let (status, _, error, _) = oauth_error(token_with_proof(&http, &server, Some(&proof), &form).await).await;
    assert_eq!((status, error.as_str()), (StatusCode::BAD_REQUEST, "invalid_dpop_proof"));

    // At /mcp: with a proof for the request it works; as a Bearer token it gets the DPoP challenge.
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18",
        "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}});
    let send = |authorization: String, proof: Option<String>| {
        let mut req = http
            .post(server.mcp_url())
            .header("Accept", "application/json, text/event-stream")
            .header("Content-Type", "application/json")
            .header("Authorization", authorization);
        if let Some(p) = proof {
            req = req.header("DPoP", p);
        }
        req.body(init.to_string()).send()
    };
    let ok = send(format!("DPoP {access}"), Some(key.proof("POST", &mcp, Some(access), None))).await.unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let stolen = send(format!("Bearer {access}"), None).await.unwrap();
    assert_eq!(stolen.status(), StatusCode::UNAUTHORIZED);
    let challenge = stolen.headers()["www-authenticate"].to_str().unwrap();
    assert!(challenge.starts_with(r#"DPoP error="invalid_token""#), "{challenge}");
    server.shutdown().await;
}

#[tokio::test]
async fn refresh_tokens_of_public_clients_are_bound_to_the_key() {
    let server = start_server(true).await;
    let http = http();
    let client = register_public(&http, &server).await;
    let p = pkce("dpop-2");
    let code = get_code(&http, &server, &client.client_id, &p, "mcp:tools").await;
    let mcp = server.mcp_url().to_string();
    let key = Key::new();
    let token_url = url(&server, "/token");
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", p.verifier.as_str()),
        ("client_id", client.client_id.as_str()),
        ("resource", mcp.as_str()),
    ];
    let body: Value = token_with_proof(&http, &server, Some(&key.proof("POST", &token_url, None, None)), &form)
        .await
        .json()
        .await
        .unwrap();
    let refresh = body["refresh_token"].as_str().unwrap().to_owned();
    let form = [("grant_type", "refresh_token"), ("refresh_token", refresh.as_str()), ("client_id", &client.client_id)];
    for proof in [None, Some(Key::new().proof("POST", &token_url, None, None))] {
        let (status, _, error, body) =
            oauth_error(token_with_proof(&http, &server, proof.as_deref(), &form).await).await;
        assert_eq!((status, error.as_str()), (StatusCode::BAD_REQUEST, "invalid_dpop_proof"), "{body}");
        assert!(body["error_description"].as_str().unwrap().contains("bound to a DPoP key"), "{body}");
    }
    let resp = token_with_proof(&http, &server, Some(&key.proof("POST", &token_url, None, None)), &form).await;
    assert_eq!(resp.status(), StatusCode::OK, "the refused attempts did not spend the refresh token");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(claims_of(body["access_token"].as_str().unwrap())["cnf"]["jkt"], key.jkt());
    server.shutdown().await;
}

#[tokio::test]
async fn with_nonces_required_the_token_endpoint_hands_one_out_before_spending_the_code() {
    let server = superdynamic_server::start(ServerConfig { dpop_nonce: true, ..test_config(true) }).await.unwrap();
    let http = http();
    let client = register_public(&http, &server).await;
    let p = pkce("dpop-3");
    let code = get_code(&http, &server, &client.client_id, &p, "mcp:tools").await;
    let mcp = server.mcp_url().to_string();
    let key = Key::new();
    let token_url = url(&server, "/token");
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", p.verifier.as_str()),
        ("client_id", client.client_id.as_str()),
        ("resource", mcp.as_str()),
    ];
    let first = key.proof("POST", &token_url, None, None);
    let (status, headers, error, _) = oauth_error(token_with_proof(&http, &server, Some(&first), &form).await).await;
    assert_eq!((status, error.as_str()), (StatusCode::BAD_REQUEST, "use_dpop_nonce"));
    let nonce = headers["dpop-nonce"].to_str().unwrap().to_owned();
    let retry = key.proof("POST", &token_url, None, Some(&nonce));
    let resp = token_with_proof(&http, &server, Some(&retry), &form).await;
    assert_eq!(resp.status(), StatusCode::OK, "the code was not spent by the challenged attempt");
    server.shutdown().await;
}

#[tokio::test]
async fn the_accepted_algorithms_are_configurable_and_advertised() {
    let server = start(ServerConfig { dpop_algs: vec![DpopAlg::Rs256], ..test_config(false) }).await.unwrap();
    let metadata: Value =
        http().get(url(&server, "/.well-known/oauth-authorization-server")).send().await.unwrap().json().await.unwrap();
    assert_eq!(metadata["dpop_signing_alg_values_supported"], json!(["RS256"]));
    server.shutdown().await;
}

#[test]
fn the_binary_names_the_algorithms_it_can_check() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_superdynamic-server"))
        .args(["--dpop-algs", "ES256,PS256", "--port", "0", "--db", ":memory:"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("'PS256' is not a DPoP algorithm") && stderr.contains("ES256, EdDSA or RS256"), "{stderr}");
}
