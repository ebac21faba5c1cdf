//! DPoP (RFC 9449) against servers that want it in ways the client cannot, or ask for it from the resource.

use crate::hostile_common;

use hostile_common::{Config, Hostile, Setup, options};
use serde_json::json;
use superdynamic::McpClient;
use superdynamic::dpop::DpopMode;

fn client(setup: &Setup, server: &Hostile, mode: DpopMode) -> McpClient {
    let mut o = options(&setup.store);
    o.dpop = mode;
    McpClient::new(&server.mcp_url(), o).unwrap()
}

fn token_requests_with_proofs(server: &Hostile) -> (usize, usize) {
    let tokens: Vec<_> = server.requests().into_iter().filter(|r| r.path == "/token").collect();
    (tokens.len(), tokens.iter().filter(|r| r.headers.contains_key("dpop")).count())
}

#[tokio::test]
async fn always_with_only_unsupported_algorithms_names_them() {
    let patch = json!({"dpop_signing_alg_values_supported": ["PS256", "ES384"]});
    let server = Hostile::start(Config { as_patch: Some(patch), ..Config::default() }).await;
    let setup = Setup::new();
    let err = client(&setup, &server, DpopMode::Always).list_tools().await.unwrap_err().to_string();
    assert!(err.contains("PS256, ES384") && err.contains("ES256, EdDSA or RS256"), "{err}");
    assert!(err.contains("--dpop never"), "says what to do next: {err}");
    assert_eq!(token_requests_with_proofs(&server), (0, 0), "no token request was made");
    server.stop().await;
}

#[tokio::test]
async fn auto_with_only_unsupported_algorithms_keeps_bearer_tokens() {
    let patch = json!({"dpop_signing_alg_values_supported": ["PS256"]});
    let server = Hostile::start(Config { as_patch: Some(patch), ..Config::default() }).await;
    let setup = Setup::new();
    client(&setup, &server, DpopMode::Auto).list_tools().await.unwrap();
    let (requests, with_proof) = token_requests_with_proofs(&server);
    assert!(requests > 0 && with_proof == 0, "{requests} token requests, {with_proof} with a proof");
    server.stop().await;
}

/// The header of the first token request's proof.
fn token_proof_header(server: &Hostile) -> serde_json::Value {
    use base64::Engine;
    let token = server.requests().into_iter().find(|r| r.path == "/token").unwrap();
    let proof = token.headers.get("dpop").unwrap().to_str().unwrap().to_owned();
    let header = proof.split('.').next().unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap()
}

#[tokio::test]
async fn eddsa_or_rs256_is_used_where_the_server_lists_only_that() {
    for (alg, kty) in [("EdDSA", "OKP"), ("RS256", "RSA")] {
        let patch = json!({"dpop_signing_alg_values_supported": [alg]});
        let server = Hostile::start(Config { as_patch: Some(patch), ..Config::default() }).await;
        let setup = Setup::new();
        client(&setup, &server, DpopMode::Auto).list_tools().await.unwrap();
        let header = token_proof_header(&server);
        assert_eq!(header["alg"], alg);
        assert_eq!(header["jwk"]["kty"], kty);
        server.stop().await;
    }
}

#[tokio::test]
async fn the_key_suits_the_resource_when_its_challenge_names_fewer_algorithms() {
    // ES256 would satisfy the authorization server and then fail at every MCP request.
    let patch = json!({"dpop_signing_alg_values_supported": ["ES256", "RS256"]});
    let server = Hostile::start(Config { as_patch: Some(patch), ..Config::default() }).await;
    let challenge =
        format!("DPoP algs=\"RS256\", resource_metadata=\"{}/.well-known/oauth-protected-resource/mcp\"", server.base);
    server.configure(|c| c.www_authenticate = Some(vec![challenge]));
    let setup = Setup::new();
    client(&setup, &server, DpopMode::Auto).list_tools().await.unwrap();
    assert_eq!(token_proof_header(&server)["alg"], "RS256");
    server.stop().await;
}

#[tokio::test]
async fn a_dpop_challenge_from_the_resource_turns_dpop_on() {
    // The authorization server says nothing about DPoP; the MCP server's 401 asks for it.
    let server = Hostile::start(Config::default()).await;
    let challenge =
        format!("DPoP algs=\"ES256\", resource_metadata=\"{}/.well-known/oauth-protected-resource/mcp\"", server.base);
    server.configure(|c| c.www_authenticate = Some(vec![challenge]));
    let setup = Setup::new();
    client(&setup, &server, DpopMode::Auto).list_tools().await.unwrap();
    let (requests, with_proof) = token_requests_with_proofs(&server);
    assert!(requests > 0 && with_proof == requests, "{requests} token requests, {with_proof} with a proof");
    server.stop().await;
}
