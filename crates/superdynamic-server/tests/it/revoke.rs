//! `POST /revoke` (RFC 7009): refresh tokens revoke their family, access
//! tokens stop working at /mcp, unknown and foreign tokens get 200 and are
//! left alone, client authentication is required as at /token.

use crate::common;

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use superdynamic_server::{Database, RunningServer, ServerConfig, start};

/// A public client (refresh allowed) and the tokens of one authorization.
async fn client_with_tokens(http: &reqwest::Client, server: &RunningServer, seed: &str) -> (String, Tokens) {
    let client = register_public(http, server).await;
    let p = pkce(seed);
    let code = get_code(http, server, &client.client_id, &p, "mcp:tools").await;
    let resp = exchange_code(http, server, &client.client_id, &code, &p.verifier).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    let tokens = Tokens {
        access_token: body["access_token"].as_str().unwrap().to_owned(),
        refresh_token: body["refresh_token"].as_str().map(str::to_owned),
        body,
    };
    (client.client_id, tokens)
}

async fn revoke(http: &reqwest::Client, server: &RunningServer, form: &[(&str, &str)]) -> reqwest::Response {
    http.post(url(server, "/revoke")).form(form).send().await.unwrap()
}

async fn refresh(http: &reqwest::Client, server: &RunningServer, client_id: &str, rt: &str) -> reqwest::Response {
    token_request(http, server, &[("grant_type", "refresh_token"), ("refresh_token", rt), ("client_id", client_id)])
        .await
}

/// Asserts a 200 revocation answer: empty body, not cacheable.
async fn assert_revoked_ok(resp: reqwest::Response) {
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    assert_eq!(resp.text().await.unwrap(), "");
}

async fn mcp_status(http: &reqwest::Client, server: &RunningServer, token: &str) -> (StatusCode, String) {
    let init = json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "it", "version": "0"}}
    });
    let reply = mcp_post(http, server, Some(token), None, &init).await;
    let challenge = reply.headers.get("www-authenticate").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    (reply.status, challenge)
}

#[tokio::test]
async fn revoking_a_refresh_token_revokes_its_family() {
    let server = start_server(true).await;
    let http = http();
    let (client_id, tokens) = client_with_tokens(&http, &server, "r1").await;
    let rt1 = tokens.refresh_token.unwrap();
    // Rotate once: rt1 is used, rt2 is the live member of the family.
    let resp = refresh(&http, &server, &client_id, &rt1).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let rt2 = resp.json::<Value>().await.unwrap()["refresh_token"].as_str().unwrap().to_owned();

    // Revoking the old (rotated-out) token kills the live one too.
    let resp =
        revoke(&http, &server, &[("token", &rt1), ("token_type_hint", "refresh_token"), ("client_id", &client_id)])
            .await;
    assert_revoked_ok(resp).await;
    let (status, _, error, body) = oauth_error(refresh(&http, &server, &client_id, &rt2).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error, "invalid_grant");
    assert!(body["error_description"].as_str().unwrap().contains("revoked"), "{body}");

    // Revoking the live token directly (no hint) also stops refreshing.
    let (client_id, tokens) = client_with_tokens(&http, &server, "r1b").await;
    let rt = tokens.refresh_token.unwrap();
    assert_revoked_ok(revoke(&http, &server, &[("token", &rt), ("client_id", &client_id)]).await).await;
    let (_, _, error, _) = oauth_error(refresh(&http, &server, &client_id, &rt).await).await;
    assert_eq!(error, "invalid_grant");
    // Revoking again is still 200.
    assert_revoked_ok(revoke(&http, &server, &[("token", &rt), ("client_id", &client_id)]).await).await;
    server.shutdown().await;
}

#[tokio::test]
async fn revoking_an_access_token_makes_mcp_answer_invalid_token() {
    let server = start_server(true).await;
    let http = http();
    for hint in [Some("access_token"), None, Some("refresh_token")] {
        let (client_id, tokens) = client_with_tokens(&http, &server, "r2").await;
        let at = tokens.access_token;
        assert_eq!(mcp_status(&http, &server, &at).await.0, StatusCode::OK);

        let mut form = vec![("token", at.as_str()), ("client_id", client_id.as_str())];
        if let Some(hint) = hint {
            form.push(("token_type_hint", hint));
        }
        assert_revoked_ok(revoke(&http, &server, &form).await).await;

        let (status, challenge) = mcp_status(&http, &server, &at).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "hint {hint:?}");
        assert!(challenge.contains(r#"error="invalid_token""#), "{challenge}");
        assert!(challenge.contains("revoked"), "{challenge}");
        // The refresh token of that grant is untouched and mints a working token.
        let resp = refresh(&http, &server, &client_id, tokens.refresh_token.as_deref().unwrap()).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let fresh = resp.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned();
        assert_eq!(mcp_status(&http, &server, &fresh).await.0, StatusCode::OK);
    }
    server.shutdown().await;
}

#[tokio::test]
async fn unknown_and_invalid_tokens_get_200() {
    let server = start_server(true).await;
    let http = http();
    let client = register_public(&http, &server).await;
    let id = client.client_id.as_str();
    for (token, hint) in [
        ("no-such-token", None),
        ("no-such-token", Some("refresh_token")),
        ("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", Some("access_token")),
        ("anything", Some("some_other_type")),
    ] {
        let mut form = vec![("token", token), ("client_id", id)];
        if let Some(hint) = hint {
            form.push(("token_type_hint", hint));
        }
        assert_revoked_ok(revoke(&http, &server, &form).await).await;
    }
    // A missing token is a malformed request.
    let (status, headers, error, _) = oauth_error(revoke(&http, &server, &[("client_id", id)]).await).await;
    assert_eq!((status, error.as_str()), (StatusCode::BAD_REQUEST, "invalid_request"));
    assert_eq!(headers["cache-control"], "no-store");
    server.shutdown().await;
}

#[tokio::test]
async fn another_clients_tokens_are_not_revoked() {
    let server = start_server(true).await;
    let http = http();
    let (owner_id, tokens) = client_with_tokens(&http, &server, "r4").await;
    let other = register_public(&http, &server).await;
    let rt = tokens.refresh_token.clone().unwrap();
    for (token, hint) in [(rt.as_str(), "refresh_token"), (tokens.access_token.as_str(), "access_token")] {
        let resp =
            revoke(&http, &server, &[("token", token), ("token_type_hint", hint), ("client_id", &other.client_id)])
                .await;
        assert_revoked_ok(resp).await;
    }
    assert_eq!(mcp_status(&http, &server, &tokens.access_token).await.0, StatusCode::OK);
    assert_eq!(refresh(&http, &server, &owner_id, &rt).await.status(), StatusCode::OK);
    server.shutdown().await;
}

#[tokio::test]
async fn client_authentication_is_required() {
    let server = start_server(true).await;
    let http = http();
    let mcp = server.mcp_url().to_string();

    for method in ["client_secret_basic", "client_secret_post"] {
        let client = register(
            &http,
            &server,
            json!({
                "redirect_uris": [REDIRECT],
                "grant_types": ["authorization_code", "refresh_token"],
                "token_endpoint_auth_method": method,
            }),
        )
        .await;
        let secret = client.client_secret.clone().unwrap();
        let id = client.client_id.as_str();
        let p = pkce(method);
        let code = get_code(&http, &server, id, &p, "mcp:tools").await;
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", p.verifier.as_str()),
            ("resource", mcp.as_str()),
        ];
        let request = |path: &str, form: &[(&str, &str)], secret: &str| {
            let req = http.post(url(&server, path));
            if method == "client_secret_basic" {
                req.basic_auth(id, Some(secret)).form(form)
            } else {
                let mut form = form.to_vec();
                form.push(("client_id", id));
                form.push(("client_secret", secret));
                req.form(&form)
            }
        };
        let tokens: Value = request("/token", &form, &secret).send().await.unwrap().json().await.unwrap();
        let rt = tokens["refresh_token"].as_str().unwrap();
        let at = tokens["access_token"].as_str().unwrap();

        // Wrong secret → 401 invalid_client (with a Basic challenge for Basic).
        let resp =
            request("/revoke", &[("token", rt), ("token_type_hint", "refresh_token")], "wrong").send().await.unwrap();
        let (status, headers, error, _) = oauth_error(resp).await;
        assert_eq!((status, error.as_str()), (StatusCode::UNAUTHORIZED, "invalid_client"), "{method}");
        assert_eq!(headers["cache-control"], "no-store");
        if method == "client_secret_basic" {
            assert!(headers["www-authenticate"].to_str().unwrap().starts_with("Basic"));
        }
        // Only the client_id, without the secret it registered → 401.
        let (status, _, error, _) =
            oauth_error(revoke(&http, &server, &[("token", at), ("client_id", id)]).await).await;
        assert_eq!((status, error.as_str()), (StatusCode::UNAUTHORIZED, "invalid_client"), "{method}");
        // Nothing was revoked by the failed attempts.
        assert_eq!(mcp_status(&http, &server, at).await.0, StatusCode::OK);

        // The right secret revokes.
        let resp =
            request("/revoke", &[("token", at), ("token_type_hint", "access_token")], &secret).send().await.unwrap();
        assert_revoked_ok(resp).await;
        assert_eq!(mcp_status(&http, &server, at).await.0, StatusCode::UNAUTHORIZED);
    }

    // No client identification at all, or an unknown client.
    let (status, _, error, _) = oauth_error(revoke(&http, &server, &[("token", "x")]).await).await;
    assert_eq!((status, error.as_str()), (StatusCode::UNAUTHORIZED, "invalid_client"));
    let (status, _, error, _) =
        oauth_error(revoke(&http, &server, &[("token", "x"), ("client_id", "nobody")]).await).await;
    assert_eq!((status, error.as_str()), (StatusCode::UNAUTHORIZED, "invalid_client"));
    server.shutdown().await;
}

#[tokio::test]
async fn metadata_lists_the_revocation_endpoint() {
    let server = start_server(true).await;
    let http = http();
    let iss = issuer(&server);
    for path in ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"] {
        let m: Value = http.get(url(&server, path)).send().await.unwrap().json().await.unwrap();
        assert_eq!(m["revocation_endpoint"], format!("{iss}/revoke"), "{path}");
        assert_eq!(
            m["revocation_endpoint_auth_methods_supported"],
            json!(["none", "client_secret_basic", "client_secret_post", "private_key_jwt"]),
            "{path}"
        );
    }
    server.shutdown().await;
}

#[tokio::test]
async fn a_revoked_access_token_stays_revoked_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = ServerConfig { database: Database::File(dir.path().join("server.db")), ..test_config(true) };
    let http = http();
    let server = start(config.clone()).await.unwrap();
    let (client_id, tokens) = client_with_tokens(&http, &server, "r7").await;
    let at = tokens.access_token;
    assert_revoked_ok(revoke(&http, &server, &[("token", &at), ("client_id", &client_id)]).await).await;
    let port = server.local_addr().port();
    server.shutdown().await;

    // Same port so the issuer (and token audience) stay the same.
    let server = start(ServerConfig { bind: format!("127.0.0.1:{port}").parse().unwrap(), ..config }).await.unwrap();
    let (status, challenge) = mcp_status(&http, &server, &at).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(challenge.contains("invalid_token"), "{challenge}");
    server.shutdown().await;
}
