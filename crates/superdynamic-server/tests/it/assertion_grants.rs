//! The JWT bearer grant (RFC 7523 §2.1): ID-JAGs from the trusted enterprise IdP (SEP-990), workload identity
//! tokens from the trusted platform issuer, and the local IdP (`--idp`). Every rejection path has a test here,
//! with the error a client would show.

use crate::common::*;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::{Value, json};
use superdynamic_server::{RunningServer, ServerConfig, TrustedIssuerConfig, start};

const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const IDP: &str = "https://idp.example.com";
const PLATFORM: &str = "https://platform.example.com";

/// An ES256 key playing an IdP or a platform.
struct Signer {
    key: EncodingKey,
    jwk: Value,
    kid: String,
}

impl Signer {
    fn new(kid: &str) -> Self {
        let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new()).unwrap();
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, doc.as_ref(), &SystemRandom::new()).unwrap();
        let point = pair.public_key().as_ref();
        let jwk = json!({
            "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": kid,
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
        });
        Self { key: EncodingKey::from_ec_der(doc.as_ref()), jwk, kid: kid.to_owned() }
    }

    fn jwks_file(&self, dir: &std::path::Path, name: &str) -> String {
        let path = dir.join(name);
        std::fs::write(&path, json!({"keys": [self.jwk]}).to_string()).unwrap();
        path.display().to_string()
    }

    fn sign(&self, typ: Option<&str>, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.typ = typ.map(str::to_owned);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.key).unwrap()
    }
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

struct Setup {
    server: RunningServer,
    idp: Signer,
    platform: Signer,
    client_id: String,
    basic: String,
    _dir: tempfile::TempDir,
}

async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let (idp, platform) = (Signer::new("idp-1"), Signer::new("platform-1"));
    let server = start(ServerConfig {
        trusted_idp: Some(TrustedIssuerConfig { issuer: IDP.into(), jwks: idp.jwks_file(dir.path(), "idp.json") }),
        workload_issuer: Some(TrustedIssuerConfig {
            issuer: PLATFORM.into(),
            jwks: platform.jwks_file(dir.path(), "platform.json"),
        }),
        ..test_config(true)
    })
    .await
    .unwrap();
    let c = register(
        &http(),
        &server,
        json!({"client_name": "agent", "grant_types": [JWT_BEARER], "token_endpoint_auth_method": "client_secret_basic"}),
    )
    .await;
    let basic = format!("Basic {}", STANDARD.encode(format!("{}:{}", c.client_id, c.client_secret.unwrap())));
    Setup { server, idp, platform, client_id: c.client_id, basic, _dir: dir }
}

impl Setup {
    fn jag_claims(&self) -> Value {
        json!({
            "iss": IDP, "sub": "alice@example.com", "aud": issuer(&self.server), "client_id": self.client_id,
            "resource": self.server.mcp_url().to_string(), "scope": "mcp:tools files:read",
            "iat": now(), "exp": now() + 300, "jti": format!("jti-{}", rand_suffix()),
        })
    }

    fn workload_claims(&self) -> Value {
        json!({"iss": PLATFORM, "sub": "system:serviceaccount:ci:agent", "aud": issuer(&self.server),
               "iat": now(), "exp": now() + 600})
    }

    async fn redeem(&self, assertion: &str, scope: Option<&str>) -> reqwest::Response {
        let mut form = vec![("grant_type", JWT_BEARER), ("assertion", assertion)];
        if let Some(scope) = scope {
            form.push(("scope", scope));
        }
        http().post(url(&self.server, "/token")).header("authorization", &self.basic).form(&form).send().await.unwrap()
    }

    /// The request is refused with `code`, and the description says `needle`.
    async fn refused(&self, assertion: &str, scope: Option<&str>, code: &str, needle: &str) {
        let (status, _, error, body) = oauth_error(self.redeem(assertion, scope).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(error, code, "{body}");
        let description = body["error_description"].as_str().unwrap_or_default();
        assert!(description.contains(needle), "wanted {needle:?} in {description:?}");
    }
}

fn rand_suffix() -> String {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).unwrap();
    URL_SAFE_NO_PAD.encode(bytes)
}

#[tokio::test]
async fn metadata_advertises_the_jwt_bearer_grant() {
    let server = start_server(true).await;
    let meta: Value =
        http().get(url(&server, "/.well-known/oauth-authorization-server")).send().await.unwrap().json().await.unwrap();
    assert!(meta["grant_types_supported"].as_array().unwrap().contains(&json!(JWT_BEARER)));
    server.shutdown().await;
}

#[tokio::test]
async fn an_id_jag_from_the_trusted_idp_gets_a_token_for_its_user() {
    let s = setup().await;
    let jag = s.idp.sign(Some("oauth-id-jag+jwt"), &s.jag_claims());
    let resp = s.redeem(&jag, Some("mcp:tools")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    assert!(body.get("refresh_token").is_none(), "assertion grants are renewed by a new assertion");
    assert_eq!(body["scope"], "mcp:tools");
    let claims = jwt_payload(body["access_token"].as_str().unwrap());
    assert_eq!(claims["sub"], "alice@example.com");
    assert_eq!(claims["client_id"], s.client_id.as_str());
    // Without a scope, the ID-JAG's scope is granted.
    let jag = s.idp.sign(Some("oauth-id-jag+jwt"), &s.jag_claims());
    let body: Value = s.redeem(&jag, None).await.json().await.unwrap();
    assert_eq!(body["scope"], "mcp:tools files:read");
    s.server.shutdown().await;
}

#[tokio::test]
async fn every_broken_id_jag_is_refused_with_its_reason() {
    let s = setup().await;
    let typ = Some("oauth-id-jag+jwt");
    let with = |change: &dyn Fn(&mut Value)| {
        let mut claims = s.jag_claims();
        change(&mut claims);
        claims
    };
    let cases: Vec<(String, &str)> = vec![
        (s.idp.sign(typ, &with(&|c| c["iss"] = json!("https://evil.example"))), "not from the trusted issuer"),
        (
            s.idp.sign(typ, &with(&|c| c["aud"] = json!("https://other-as.example"))),
            "aud must be this authorization server",
        ),
        (s.idp.sign(typ, &with(&|c| c["exp"] = json!(now() - 120))), "has expired"),
        (s.idp.sign(typ, &with(&|c| c["iat"] = json!(now() + 600))), "issued in the future"),
        (s.idp.sign(typ, &with(&|c| c["client_id"] = json!("someone-else"))), "was issued to client"),
        (s.idp.sign(typ, &with(&|c| c["resource"] = json!("https://other.example/mcp"))), "is not this server"),
        (s.idp.sign(typ, &with(&|c| drop(c.as_object_mut().unwrap().remove("jti")))), "has no jti"),
        (s.idp.sign(typ, &with(&|c| drop(c.as_object_mut().unwrap().remove("sub")))), "has no sub claim"),
        // Signed by another key that claims the IdP's kid.
        (Signer::new("idp-1").sign(typ, &s.jag_claims()), "signature does not verify"),
        (Signer::new("unknown-kid").sign(typ, &s.jag_claims()), "matches the ID-JAG's kid"),
        ("not.a-jwt.at-all".to_owned(), "is not a JWT"),
    ];
    for (assertion, needle) in cases {
        s.refused(&assertion, None, "invalid_grant", needle).await;
    }
    // The right claims with another typ are not an ID-JAG: as a workload token, the IdP is not trusted for it.
    s.refused(&s.idp.sign(Some("JWT"), &s.jag_claims()), None, "invalid_grant", "workload identity token's kid").await;
    // More scope than the IdP granted.
    let jag = s.idp.sign(typ, &s.jag_claims());
    s.refused(&jag, Some("mcp:tools profile:read"), "invalid_scope", "the ID-JAG grants").await;
    // Replay: one ID-JAG, one token.
    let jag = s.idp.sign(typ, &s.jag_claims());
    assert_eq!(s.redeem(&jag, None).await.status(), StatusCode::OK);
    s.refused(&jag, None, "invalid_grant", "already used").await;
    // No assertion at all.
    let resp = http()
        .post(url(&s.server, "/token"))
        .header("authorization", &s.basic)
        .form(&[("grant_type", JWT_BEARER)])
        .send()
        .await
        .unwrap();
    let (_, _, error, body) = oauth_error(resp).await;
    assert_eq!(error, "invalid_request", "{body}");
    s.server.shutdown().await;
}

#[tokio::test]
async fn a_client_that_did_not_register_the_grant_is_refused() {
    let s = setup().await;
    let other = register(
        &http(),
        &s.server,
        json!({"client_name": "svc", "grant_types": ["client_credentials"], "token_endpoint_auth_method": "client_secret_basic"}),
    )
    .await;
    let basic = format!("Basic {}", STANDARD.encode(format!("{}:{}", other.client_id, other.client_secret.unwrap())));
    let jag = s.idp.sign(Some("oauth-id-jag+jwt"), &s.jag_claims());
    let resp = http()
        .post(url(&s.server, "/token"))
        .header("authorization", basic)
        .form(&[("grant_type", JWT_BEARER), ("assertion", &jag)])
        .send()
        .await
        .unwrap();
    let (_, _, error, _) = oauth_error(resp).await;
    assert_eq!(error, "unauthorized_client");
    s.server.shutdown().await;
}

#[tokio::test]
async fn a_server_without_trusted_issuers_redeems_no_assertion() {
    let server = start_server(true).await;
    let c = register(
        &http(),
        &server,
        json!({"client_name": "agent", "grant_types": [JWT_BEARER], "token_endpoint_auth_method": "none"}),
    )
    .await;
    let idp = Signer::new("k");
    for (typ, needle) in
        [(Some("oauth-id-jag+jwt"), "trusts no identity provider"), (None, "trusts no workload identity issuer")]
    {
        let jwt = idp.sign(typ, &json!({"iss": IDP, "sub": "x", "aud": issuer(&server), "exp": now() + 60}));
        let resp = http()
            .post(url(&server, "/token"))
            .form(&[("grant_type", JWT_BEARER), ("assertion", &jwt), ("client_id", &c.client_id)])
            .send()
            .await
            .unwrap();
        let (_, _, error, body) = oauth_error(resp).await;
        assert_eq!(error, "invalid_grant");
        assert!(body["error_description"].as_str().unwrap().contains(needle), "{body}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn a_workload_token_from_the_trusted_platform_gets_a_token_for_the_workload() {
    let s = setup().await;
    let token = s.platform.sign(Some("JWT"), &s.workload_claims());
    let resp = s.redeem(&token, None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["scope"], "mcp:tools");
    assert_eq!(jwt_payload(body["access_token"].as_str().unwrap())["sub"], "system:serviceaccount:ci:agent");
    // Platforms reuse one token until it is rotated: no single-use rule for workload tokens.
    assert_eq!(s.redeem(&token, None).await.status(), StatusCode::OK);
    // The token endpoint URL is an accepted audience too (RFC 7523 §3).
    let mut claims = s.workload_claims();
    claims["aud"] = json!(url(&s.server, "/token"));
    assert_eq!(s.redeem(&s.platform.sign(None, &claims), None).await.status(), StatusCode::OK);
    s.server.shutdown().await;
}

#[tokio::test]
async fn every_broken_workload_token_is_refused_with_its_reason() {
    let s = setup().await;
    let with = |change: &dyn Fn(&mut Value)| {
        let mut claims = s.workload_claims();
        change(&mut claims);
        claims
    };
    let cases: Vec<(String, &str)> = vec![
        (
            s.platform.sign(None, &with(&|c| c["aud"] = json!("https://wrong.example"))),
            "aud must be this authorization server",
        ),
        (s.platform.sign(None, &with(&|c| c["exp"] = json!(now() - 120))), "has expired"),
        (s.platform.sign(None, &with(&|c| c["iss"] = json!("https://evil.example"))), "not from the trusted issuer"),
        (s.platform.sign(None, &with(&|c| drop(c.as_object_mut().unwrap().remove("sub")))), "has no sub claim"),
        (s.platform.sign(None, &with(&|c| drop(c.as_object_mut().unwrap().remove("exp")))), "has no exp claim"),
        (s.platform.sign(None, &with(&|c| c["sub"] = json!(""))), "must name the workload"),
        (Signer::new("platform-1").sign(None, &s.workload_claims()), "signature does not verify"),
    ];
    for (assertion, needle) in cases {
        s.refused(&assertion, None, "invalid_grant", needle).await;
    }
    let token = s.platform.sign(None, &s.workload_claims());
    s.refused(&token, Some("offline_access"), "invalid_scope", "no refresh token").await;
    s.server.shutdown().await;
}

#[tokio::test]
async fn the_local_idp_signs_in_a_user_and_exchanges_the_id_token_for_an_id_jag() {
    let server = start(ServerConfig { idp: true, ..test_config(true) }).await.unwrap();
    let http = http();
    let c = register(
        &http,
        &server,
        json!({"client_name": "agent", "grant_types": [JWT_BEARER], "token_endpoint_auth_method": "client_secret_basic"}),
    )
    .await;
    let secret = c.client_secret.clone().unwrap();
    let idp = format!("{}/idp", issuer(&server));
    let meta: Value =
        http.get(format!("{idp}/.well-known/openid-configuration")).send().await.unwrap().json().await.unwrap();
    assert_eq!(meta["issuer"], idp.as_str());
    assert_eq!(meta["token_endpoint"], format!("{idp}/token"));

    let wrong = http
        .post(format!("{idp}/id-token"))
        .form(&[("username", "demo"), ("password", "nope"), ("client_id", &c.client_id)])
        .send()
        .await
        .unwrap();
    assert_eq!(oauth_error(wrong).await.2, "invalid_grant");
    let id: Value = http
        .post(format!("{idp}/id-token"))
        .form(&[("username", "demo"), ("password", "demo"), ("client_id", &c.client_id)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id_token = id["id_token"].as_str().unwrap();
    let mcp = server.mcp_url().to_string();
    let iss = issuer(&server);
    let exchange = |subject: String| {
        let form = vec![
            ("grant_type", "urn:ietf:params:oauth:grant-type:token-exchange".to_owned()),
            ("requested_token_type", "urn:ietf:params:oauth:token-type:id-jag".to_owned()),
            ("subject_token_type", "urn:ietf:params:oauth:token-type:id_token".to_owned()),
            ("subject_token", subject),
            ("audience", iss.clone()),
            ("resource", mcp.clone()),
        ];
        http.post(format!("{idp}/token")).basic_auth(&c.client_id, Some(&secret)).form(&form).send()
    };
    let resp = exchange(id_token.to_owned()).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["issued_token_type"], "urn:ietf:params:oauth:token-type:id-jag");
    let jag = body["access_token"].as_str().unwrap();
    let header: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(jag.split('.').next().unwrap()).unwrap()).unwrap();
    assert_eq!(header["typ"], "oauth-id-jag+jwt");
    let resp = http
        .post(url(&server, "/token"))
        .basic_auth(&c.client_id, Some(&secret))
        .form(&[("grant_type", JWT_BEARER), ("assertion", jag)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(jwt_payload(body["access_token"].as_str().unwrap())["sub"], "demo");
    // A forged ID token is not exchanged.
    let forged =
        Signer::new("x").sign(None, &json!({"iss": idp, "sub": "demo", "aud": c.client_id, "exp": now() + 60}));
    let (_, _, error, body) = oauth_error(exchange(forged).await.unwrap()).await;
    assert_eq!(error, "invalid_grant");
    assert!(body["error_description"].as_str().unwrap().contains("not one this IdP issued"), "{body}");
    server.shutdown().await;
}
