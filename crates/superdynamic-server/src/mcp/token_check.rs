//! The resource-server side of `/mcp`: the bearer token checks ([`crate::mcp::endpoint`] applies them before a
//! request reaches a tool; RFC 6750, RFC 9068 §4, MCP authorization §Access Token Usage).
//!
//! Decisions:
//! - no `Authorization`, or a non-Bearer scheme → 401 without `error`
//!   (RFC 6750 §3.1: no error code when no credentials were sent);
//! - a Bearer header that is malformed (no token, not token68, repeated
//!   header) or a token in the query string → 400 `invalid_request`;
//! - bad signature / expired / wrong issuer / wrong audience / revoked
//!   (RFC 7009, by `jti`) → 401 `invalid_token`;
//! - `tools/call` of a tool whose scope the token lacks → 403 `insufficient_scope`;
//! - a DPoP-bound token (`cnf.jkt`, RFC 9449 §7.1) sent as Bearer → 401 with a `DPoP` `invalid_token`
//!   challenge; sent with `Authorization: DPoP` but without a valid proof for this request signed by its key →
//!   401 `invalid_dpop_proof`, or `use_dpop_nonce` with a `DPoP-Nonce` when nonces are required (§9).

use std::sync::Arc;

use axum::Json;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::dpop::{DpopState, ProofError};
use crate::mcp::verified_tokens::VerifiedTokens;
use crate::oauth::jwt::{AccessClaims, TokenVerifier};
use crate::oauth::revoked::RevokedAccessTokens;
use crate::scope::DEFAULT_SCOPE;

/// The subject tools see when the server runs with `no_auth`.
pub const ANONYMOUS_SUBJECT: &str = "anonymous";

/// Largest JSON-RPC message accepted on `/mcp`.
pub const MAX_MCP_BODY: usize = 1024 * 1024;

pub struct ResourceState {
    pub issuer: String,
    /// The canonical resource URI (`<base>/mcp`), also the required `aud`.
    pub resource: String,
    /// Where the RFC 9728 document lives, for `resource_metadata=`.
    pub resource_metadata_url: String,
    /// Access token verification, remembering tokens already verified.
    tokens: VerifiedTokens,
    /// Access tokens revoked at `/revoke` (shared with the authorization server).
    revoked: Arc<RevokedAccessTokens>,
    /// DPoP proof checks (shared with the token endpoint).
    dpop: Arc<DpopState>,
}

impl ResourceState {
    pub fn new(
        issuer: String,
        resource: String,
        resource_metadata_url: String,
        verifier: TokenVerifier,
        revoked: Arc<RevokedAccessTokens>,
        dpop: Arc<DpopState>,
    ) -> Self {
        let tokens = VerifiedTokens::new(verifier, &resource, crate::mcp::verified_tokens::DEFAULT_CAPACITY);
        Self { issuer, resource, resource_metadata_url, tokens, revoked, dpop }
    }
}

/// Why a request is turned away before it reaches the MCP server.
#[derive(Debug, thiserror::Error)]
pub enum Rejection {
    #[error("this resource requires a bearer access token")]
    NoToken,
    #[error("{0}")]
    Malformed(&'static str),
    #[error("{0}")]
    InvalidToken(String),
    #[error("the tool {tool:?} requires the scope {scope:?}, which this access token does not grant")]
    InsufficientScope { tool: String, scope: &'static str },
    #[error("the request body exceeds {MAX_MCP_BODY} bytes")]
    TooLarge,
    #[error("the MCP session belongs to a different user")]
    ForeignSession,
    /// RFC 9449 §7.1: a bound token must not be accepted as a Bearer token.
    #[error("this access token is bound to a DPoP key; send it with Authorization: DPoP and a DPoP proof")]
    BoundTokenAsBearer,
    #[error("this access token is not DPoP-bound; send it with Authorization: Bearer")]
    UnboundTokenAsDpop,
    #[error("{0}")]
    InvalidDpopProof(ProofError),
    /// RFC 9449 §9: retry with the nonce sent in `DPoP-Nonce`.
    #[error("the DPoP proof must carry the nonce in the DPoP-Nonce header")]
    UseDpopNonce { nonce: String },
}

/// Quotes a value for an auth-param (RFC 9110 §11.2 quoted-string).
fn quoted(value: &str) -> String {
    value
        .chars()
        .filter(|c| !c.is_control())
        .map(|c| if c == '"' || c == '\\' { format!("\\{c}") } else { c.to_string() })
        .collect()
}

impl Rejection {
    /// The answer (logged: the reason only, never the token).
    pub fn reject(self, rs: &ResourceState) -> Response {
        tracing::info!(reason = %self, "rejected an MCP request");
        self.into_response(rs)
    }

    fn into_response(self, rs: &ResourceState) -> Response {
        let meta = quoted(&rs.resource_metadata_url);
        let description = quoted(&self.to_string());
        let algs = rs.dpop.alg_names().join(" ");
        let (status, code, challenge) = match &self {
            Self::NoToken => (
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                Some(format!(r#"Bearer resource_metadata="{meta}", scope="{DEFAULT_SCOPE}""#)),
            ),
            Self::Malformed(_) => (
                StatusCode::BAD_REQUEST,
                "invalid_request",
                Some(format!(
                    r#"Bearer error="invalid_request", error_description="{description}", resource_metadata="{meta}""#
                )),
            ),
            Self::InvalidToken(_) => (
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                Some(format!(
                    r#"Bearer error="invalid_token", error_description="{description}", resource_metadata="{meta}", scope="{DEFAULT_SCOPE}""#
                )),
            ),
            // RFC 6750 §3.1 + MCP 2025-11-25 §Scope Challenge Handling.
            Self::InsufficientScope { scope, .. } => (
                StatusCode::FORBIDDEN,
                "insufficient_scope",
                Some(format!(
                    r#"Bearer error="insufficient_scope", scope="{scope}", resource_metadata="{meta}", error_description="{description}""#
                )),
            ),
            Self::BoundTokenAsBearer => (
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                Some(format!(
                    r#"DPoP error="invalid_token", error_description="{description}", algs="{algs}", resource_metadata="{meta}""#
                )),
            ),
            Self::UnboundTokenAsDpop => (
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                Some(format!(
                    r#"Bearer error="invalid_token", error_description="{description}", resource_metadata="{meta}""#
                )),
            ),
            Self::InvalidDpopProof(_) => (
                StatusCode::UNAUTHORIZED,
                "invalid_dpop_proof",
                Some(format!(
                    r#"DPoP error="invalid_dpop_proof", error_description="{description}", algs="{algs}", resource_metadata="{meta}""#
                )),
            ),
            Self::UseDpopNonce { .. } => (
                StatusCode::UNAUTHORIZED,
                "use_dpop_nonce",
                Some(format!(
                    r#"DPoP error="use_dpop_nonce", error_description="{description}", algs="{algs}", resource_metadata="{meta}""#
                )),
            ),
            Self::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "invalid_request", None),
            Self::ForeignSession => (StatusCode::NOT_FOUND, "invalid_request", None),
        };
        let mut body = json!({"error": code, "error_description": self.to_string()});
        if matches!(self, Self::NoToken)
            && let Some(obj) = body.as_object_mut()
        {
            // No error code when no credentials were presented (RFC 6750 §3.1).
            obj.remove("error");
        }
        let mut response = (status, Json(body)).into_response();
        if let Some(challenge) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, challenge);
        }
        if let Self::UseDpopNonce { nonce } = &self
            && let Ok(value) = HeaderValue::from_str(nonce)
        {
            response.headers_mut().insert(crate::dpop::NONCE_HEADER, value);
        }
        response
    }
}

/// How the token came: `Authorization: Bearer` (RFC 6750) or `Authorization: DPoP` (RFC 9449 §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    Bearer,
    Dpop,
}

/// Extracts the token and its scheme from the (single) Authorization header.
fn presented_token(headers: &HeaderMap) -> Result<(Scheme, &str), Rejection> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Err(Rejection::NoToken);
    };
    if values.next().is_some() {
        return Err(Rejection::Malformed("more than one Authorization header"));
    }
    let value = value.to_str().map_err(|_| Rejection::Malformed("the Authorization header is not valid text"))?;
    let (scheme, rest) = value.trim().split_once(' ').unwrap_or((value.trim(), ""));
    let scheme = if scheme.eq_ignore_ascii_case("bearer") {
        Scheme::Bearer
    } else if scheme.eq_ignore_ascii_case("dpop") {
        Scheme::Dpop
    } else {
        return Err(Rejection::NoToken);
    };
    let token = rest.trim();
    // RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
    let body = token.trim_end_matches('=');
    let well_formed = !body.is_empty()
        && body.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~' | b'+' | b'/'));
    if !well_formed {
        return Err(Rejection::Malformed("the Authorization header must be 'Bearer <token>' with a token68 value"));
    }
    Ok((scheme, token))
}

/// The scope a JSON-RPC message needs beyond a valid token, if any: only
/// `tools/call` of a scoped tool. Batches (2025-03-26) are checked per entry.
pub fn missing_scope(message: &Value, claims: &AccessClaims) -> Option<Rejection> {
    match message {
        Value::Array(items) => items.iter().find_map(|m| missing_scope(m, claims)),
        Value::Object(obj) if obj.get("method").and_then(Value::as_str) == Some("tools/call") => {
            let tool = obj.get("params")?.get("name")?.as_str()?;
            missing_tool_scope(tool, claims)
        }
        _ => None,
    }
}

/// RFC 6750 §3.1 `insufficient_scope` when the token lacks the scope `tool` needs.
pub fn missing_tool_scope(tool: &str, claims: &AccessClaims) -> Option<Rejection> {
    let scope = crate::tools::required_scope(tool)?;
    (!claims.has_scope(scope)).then(|| Rejection::InsufficientScope { tool: tool.to_owned(), scope })
}

/// The bearer check of every `/mcp` request (RFC 6750 §2.1, RFC 9068 §4): the token's claims, once its
/// signature, `typ`, issuer, audience and expiry hold (or held for this exact token before, see
/// [`VerifiedTokens`]: expiry and audience are checked again) and it is not revoked (RFC 7009).
pub fn authenticate(rs: &ResourceState, parts: &Parts) -> Result<Arc<AccessClaims>, Rejection> {
    // RFC 6750 §2.3 query tokens are not supported (and MCP forbids them).
    if parts.uri.query().is_some_and(|q| q.split('&').any(|p| p.starts_with("access_token="))) {
        return Err(Rejection::Malformed("access tokens are accepted only in the Authorization header"));
    }
    let (scheme, token) = presented_token(&parts.headers)?;
    let now = crate::storage::now();
    let claims = rs.tokens.verify(token, now).map_err(|e| Rejection::InvalidToken(e.to_string()))?;
    if rs.revoked.contains(&claims.jti) {
        return Err(Rejection::InvalidToken("the token has been revoked".into()));
    }
    match (scheme, claims.cnf.as_ref()) {
        (Scheme::Bearer, None) => {}
        (Scheme::Bearer, Some(_)) => return Err(Rejection::BoundTokenAsBearer),
        (Scheme::Dpop, None) => return Err(Rejection::UnboundTokenAsDpop),
        (Scheme::Dpop, Some(cnf)) => check_proof(rs, parts, token, &cnf.jkt, now)?,
    }
    Ok(claims)
}

/// RFC 9449 §7.1 / §4.3: a proof for this request (method, the resource URI), for this token (`ath`), signed
/// by the key the token is bound to (`cnf.jkt`).
fn check_proof(rs: &ResourceState, parts: &Parts, token: &str, jkt: &str, now: i64) -> Result<(), Rejection> {
    let expected =
        crate::dpop::Expected { method: parts.method.as_str(), url: &rs.resource, access_token: Some(token) };
    let proof = match rs.dpop.check(&parts.headers, &expected, now) {
        Ok(Some(proof)) => proof,
        Ok(None) => return Err(Rejection::InvalidDpopProof(ProofError::Missing)),
        Err(ProofError::UseNonce) => {
            return Err(Rejection::UseDpopNonce { nonce: rs.dpop.current_nonce(now).unwrap_or_default() });
        }
        Err(e) => return Err(Rejection::InvalidDpopProof(e)),
    };
    if proof.jkt != jkt {
        return Err(Rejection::InvalidDpopProof(ProofError::WrongKey));
    }
    Ok(())
}

/// The claims tools see in `no_auth` mode: a fixed anonymous subject with
/// every resource scope, never expiring (`exp` 0 stands for "no token").
pub fn anonymous_claims(rs: &ResourceState) -> AccessClaims {
    AccessClaims {
        iss: rs.issuer.clone(),
        sub: ANONYMOUS_SUBJECT.to_owned(),
        aud: rs.resource.clone(),
        exp: 0,
        iat: 0,
        jti: String::new(),
        client_id: ANONYMOUS_SUBJECT.to_owned(),
        scope: crate::scope::RESOURCE_SCOPES.join(" "),
        cnf: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_header_parsing() {
        let mut h = HeaderMap::new();
        assert!(matches!(presented_token(&h), Err(Rejection::NoToken)));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer abc.def-ghi_~+/=="));
        assert_eq!(presented_token(&h).unwrap(), (Scheme::Bearer, "abc.def-ghi_~+/=="));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("bearer x"));
        assert_eq!(presented_token(&h).unwrap(), (Scheme::Bearer, "x"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("DPoP x"));
        assert_eq!(presented_token(&h).unwrap(), (Scheme::Dpop, "x"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer"));
        assert!(matches!(presented_token(&h), Err(Rejection::Malformed(_))));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer a b"));
        assert!(matches!(presented_token(&h), Err(Rejection::Malformed(_))));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic dXNlcjpwdw=="));
        assert!(matches!(presented_token(&h), Err(Rejection::NoToken)));
    }

    mod dpop {
        use super::super::*;
        use crate::dpop::proof::testing::TestKey;
        use crate::oauth::jwt::{Confirmation, mint};
        use crate::oauth::keys::SigningKey;
        use crate::storage::{Store, now};

        const ISSUER: &str = "http://127.0.0.1:1";
        const RESOURCE: &str = "http://127.0.0.1:1/mcp";

        struct Setup {
            rs: ResourceState,
            key: SigningKey,
        }

        fn setup(require_nonce: bool) -> Setup {
            let store = Store::open_memory().unwrap();
            let key = SigningKey::load_or_generate(&store).unwrap();
            let verifier = TokenVerifier::new(ISSUER, RESOURCE, &key.jwks()).unwrap();
            let revoked = Arc::new(RevokedAccessTokens::load(&store).unwrap());
            let rs = ResourceState::new(
                ISSUER.into(),
                RESOURCE.into(),
                format!("{ISSUER}/.well-known/oauth-protected-resource/mcp"),
                verifier,
                revoked,
                Arc::new(DpopState::new(crate::dpop::DpopAlg::ALL.to_vec(), require_nonce)),
            );
            Setup { rs, key }
        }

        impl Setup {
            fn token(&self, jkt: Option<&str>) -> String {
                let claims = AccessClaims {
                    iss: ISSUER.into(),
                    sub: "alice".into(),
                    aud: RESOURCE.into(),
                    exp: now() + 60,
                    iat: now(),
                    jti: format!("jti-{}", jkt.unwrap_or("none")),
                    client_id: "c".into(),
                    scope: "mcp:tools".into(),
                    cnf: jkt.map(|j| Confirmation { jkt: j.into() }),
                };
                mint(&self.key, &claims).unwrap()
            }

            /// `None` when the request is let through, else the refusal.
            fn call(&self, method: &str, authorization: &str, proof: Option<&str>) -> Option<Response> {
                let mut request = axum::http::Request::builder().method(method).uri("/mcp");
                request = request.header(header::AUTHORIZATION, authorization);
                if let Some(p) = proof {
                    request = request.header("DPoP", p);
                }
                let (parts, ()) = request.body(()).unwrap().into_parts();
                authenticate(&self.rs, &parts).err().map(|r| r.into_response(&self.rs))
            }
        }

        /// The status, `WWW-Authenticate` and `DPoP-Nonce` of a refusal.
        fn refusal(result: Option<Response>) -> (u16, String, Option<String>) {
            let response = result.expect("a refusal");
            let h = response.headers();
            let text = |name: &str| h.get(name).map(|v| v.to_str().unwrap().to_owned());
            (response.status().as_u16(), text("www-authenticate").unwrap_or_default(), text("dpop-nonce"))
        }

        #[test]
        fn a_bound_token_with_its_proof_is_accepted() {
            let s = setup(false);
            let key = TestKey::es256();
            let token = s.token(Some(&key.jkt()));
            let proof = key.proof("POST", RESOURCE, Some(&token), None, now());
            assert!(s.call("POST", &format!("DPoP {token}"), Some(&proof)).is_none());
            // A plain Bearer token still works as before.
            assert!(s.call("POST", &format!("Bearer {}", s.token(None)), None).is_none());
        }

        #[test]
        fn a_bound_token_sent_as_bearer_gets_the_dpop_challenge() {
            let s = setup(false);
            let key = TestKey::es256();
            let token = s.token(Some(&key.jkt()));
            let (status, challenge, _) = refusal(s.call("POST", &format!("Bearer {token}"), None));
            assert_eq!(status, 401);
            assert!(challenge.starts_with(r#"DPoP error="invalid_token""#), "{challenge}");
            assert!(challenge.contains(r#"algs="ES256 EdDSA RS256""#), "{challenge}");
            assert!(challenge.contains("send it with Authorization: DPoP"), "{challenge}");
        }

        #[test]
        fn an_unbound_token_sent_as_dpop_is_refused() {
            let s = setup(false);
            let (status, challenge, _) = refusal(s.call("POST", &format!("DPoP {}", s.token(None)), None));
            assert_eq!(status, 401);
            assert!(challenge.contains("is not DPoP-bound"), "{challenge}");
        }

        #[test]
        fn every_proof_defect_at_the_resource_is_refused_with_its_reason() {
            let s = setup(false);
            let key = TestKey::es256();
            let other = TestKey::es256();
            let token = s.token(Some(&key.jkt()));
            let auth = format!("DPoP {token}");
            let t = now();
            let cases = [
                (None, "a DPoP proof is required"),
                (Some(other.proof("POST", RESOURCE, Some(&token), None, t)), "signed by another key"),
                (Some(key.proof("GET", RESOURCE, Some(&token), None, t)), "htm does not match"),
                (Some(key.proof("POST", "http://127.0.0.1:1/other", Some(&token), None, t)), "htu does not match"),
                (Some(key.proof("POST", RESOURCE, Some("another-token"), None, t)), "ath does not match"),
                (Some(key.proof("POST", RESOURCE, None, None, t)), "ath does not match"),
                (Some(key.proof("POST", RESOURCE, Some(&token), None, t - 600)), "iat is not within 60 seconds"),
                (Some("not.a.jwt".to_owned()), "malformed"),
            ];
            for (proof, needle) in cases {
                let (status, challenge, _) = refusal(s.call("POST", &auth, proof.as_deref()));
                assert_eq!(status, 401, "{needle}");
                assert!(challenge.starts_with(r#"DPoP error="invalid_dpop_proof""#), "{challenge}");
                assert!(challenge.contains(needle), "{needle}: {challenge}");
            }
            let proof = key.proof("POST", RESOURCE, Some(&token), None, t);
            assert!(s.call("POST", &auth, Some(&proof)).is_none());
            let (_, challenge, _) = refusal(s.call("POST", &auth, Some(&proof)));
            assert!(challenge.contains("already used"), "a replayed proof: {challenge}");
        }

        #[test]
        fn with_nonces_required_the_resource_hands_one_out() {
            let s = setup(true);
            let key = TestKey::ed25519();
            let token = s.token(Some(&key.jkt()));
            let auth = format!("DPoP {token}");
            let first = key.proof("POST", RESOURCE, Some(&token), None, now());
            let (status, challenge, nonce) = refusal(s.call("POST", &auth, Some(&first)));
            assert_eq!(status, 401);
            assert!(challenge.starts_with(r#"DPoP error="use_dpop_nonce""#), "{challenge}");
            let nonce = nonce.expect("a DPoP-Nonce header");
            let retry = key.proof("POST", RESOURCE, Some(&token), Some(&nonce), now());
            assert!(s.call("POST", &auth, Some(&retry)).is_none());
        }
    }

    #[test]
    fn quoting() {
        assert_eq!(quoted(r#"a"b\c"#), r#"a\"b\\c"#);
    }
}
