//! Step 4: the token endpoint (OAuth 2.1 §3.2): redeeming the code and refreshing, both with `resource`
//! (RFC 8707 §2), and the token set as it is stored, with its expiry as an absolute time.

use crate::authorization::PkceVerifier;
use crate::client_auth::{ClientAuthentication, ClientKeyError};
use crate::dpop::{DpopError, DpopProver};
use crate::http::{self, Exchange, HttpError, MAX_OAUTH_BODY};
use crate::resource::{ResourceUri, is_secure_or_loopback};
use crate::secret::{AccessToken, AuthorizationCode, DpopPrivateKey, RefreshToken};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use url::Url;

/// Refresh this long before the absolute expiry, so a token never expires in flight.
pub const EXPIRY_SKEW: Duration = Duration::from_secs(60);
/// `expires_in` above this (ten years) is treated as a broken server, not as a promise.
const MAX_EXPIRES_IN: u64 = 10 * 365 * 24 * 3600;

pub use crate::clock::now_unix;

/// Tokens as stored: never the relative `expires_in`, always the absolute time it means.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenSet {
    pub access_token: AccessToken,
    pub token_type: String,
    /// Unix seconds; `None` when the server did not say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<RefreshToken>,
    /// Granted scope (RFC 6749 §5.1), else the scope requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    pub obtained_at: u64,
    /// The DPoP key these tokens are bound to (RFC 9449), kept with them: a refresh signs with the same key,
    /// a logout forgets both. Absent for Bearer tokens (and in stores written before DPoP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_key: Option<DpopPrivateKey>,
}

impl TokenSet {
    /// True when the access token is expired or close to it: within [`EXPIRY_SKEW`], or a quarter of its
    /// lifetime for short-lived tokens (so a 2-second token is not refreshed on every use).
    pub fn needs_refresh(&self, now: u64) -> bool {
        let Some(expires_at) = self.expires_at else { return false };
        let skew = (expires_at.saturating_sub(self.obtained_at) / 4).min(EXPIRY_SKEW.as_secs());
        now + skew >= expires_at
    }

    /// Sent with the `DPoP` scheme and a proof (RFC 9449 §7.1) rather than as a Bearer token.
    pub fn is_dpop(&self) -> bool {
        self.token_type.eq_ignore_ascii_case("dpop") && self.dpop_key.is_some()
    }

    pub fn scopes(&self) -> Vec<&str> {
        self.scope.as_deref().map(|s| s.split_whitespace().collect()).unwrap_or_default()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// An OAuth error response (RFC 6749 §5.2); `invalid_grant` means the code or refresh token is spent.
    #[error("the token endpoint refused: {error}{}", .description.as_ref().map(|d| format!(" ({d})")).unwrap_or_default())]
    OAuth { error: String, description: Option<String> },
    #[error("refusing the token endpoint '{0}': it must be https (or http on loopback)")]
    InsecureEndpoint(String),
    #[error("the token response is not usable: {0}")]
    InvalidResponse(String),
    #[error("could not authenticate the client: {0}")]
    ClientKey(#[from] ClientKeyError),
    #[error("{0}")]
    Dpop(#[from] DpopError),
    #[error("{}", http::in_context("token request failed", .0))]
    Http(#[from] HttpError),
}

impl TokenError {
    pub fn oauth_code(&self) -> Option<&str> {
        match self {
            TokenError::OAuth { error, .. } => Some(error),
            _ => None,
        }
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    token_type: Option<String>,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    scope: Option<String>,
}

#[derive(Deserialize)]
struct OAuthErrorBody {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

/// Who is asking, and how it proves it (RFC 6749 §2.3).
#[derive(Debug, Clone)]
pub struct TokenClient<'a> {
    pub client_id: &'a str,
    pub auth: ClientAuthentication,
    /// The authorization server's issuer: the audience of `private_key_jwt` assertions.
    pub issuer: &'a str,
    /// Send the RFC 8707 `resource` parameter (always, unless the user opted out for an authorization server
    /// that rejects it: [`crate::client::ResourceParameter::Omit`]).
    pub send_resource: bool,
    /// Sign a DPoP proof for each request with this key (RFC 9449 §5): the tokens come back bound to it.
    pub dpop: Option<DpopProver>,
}

/// What redeeming one authorization code takes. Owns the code and the verifier: both are good for one exchange.
pub struct CodeExchange<'a> {
    pub code: AuthorizationCode,
    pub verifier: PkceVerifier,
    pub redirect_uri: &'a str,
    pub resource: &'a ResourceUri,
    /// Recorded as the granted scope when the server does not say (RFC 6749 §5.1).
    pub requested_scope: Option<&'a str>,
}

/// Redeems an authorization code (OAuth 2.1 §4.1.3).
pub async fn exchange_code(
    http: &reqwest::Client,
    token_endpoint: &str,
    client: &TokenClient<'_>,
    exchange: CodeExchange<'_>,
) -> Result<TokenSet, TokenError> {
    let form = vec![
        ("grant_type", "authorization_code".to_string()),
        ("code", exchange.code.secret().to_string()),
        ("redirect_uri", exchange.redirect_uri.to_string()),
        ("code_verifier", exchange.verifier.secret().to_string()),
        ("resource", exchange.resource.as_str().to_string()),
    ];
    post("the token request", http, token_endpoint, client, form, exchange.requested_scope).await
}

/// Refreshes (OAuth 2.1 §4.3). A response without a refresh token keeps the old one (§4.3.3).
pub async fn refresh(
    http: &reqwest::Client,
    token_endpoint: &str,
    client: &TokenClient<'_>,
    current: &TokenSet,
    resource: &ResourceUri,
) -> Result<TokenSet, TokenError> {
    let Some(refresh_token) = &current.refresh_token else {
        return Err(TokenError::OAuth {
            error: "invalid_grant".into(),
            description: Some("no refresh token is stored".into()),
        });
    };
    let form = vec![
        ("grant_type", "refresh_token".to_string()),
        ("refresh_token", refresh_token.secret().to_string()),
        // MCP §Resource Parameter Implementation: token requests include refresh requests.
        ("resource", resource.as_str().to_string()),
    ];
    let mut tokens = post("the token refresh", http, token_endpoint, client, form, current.scope.as_deref()).await?;
    if tokens.refresh_token.is_none() {
        tokens.refresh_token = current.refresh_token.clone();
    }
    Ok(tokens)
}

/// The client credentials grant (OAuth 2.1 §4.2; MCP extension io.modelcontextprotocol/oauth-client-credentials):
/// a machine client asks for a token for itself, with `resource` and the requested scope.
pub async fn client_credentials(
    http: &reqwest::Client,
    token_endpoint: &str,
    client: &TokenClient<'_>,
    scope: Option<&str>,
    resource: &ResourceUri,
) -> Result<TokenSet, TokenError> {
    let mut form = vec![("grant_type", "client_credentials".to_string()), ("resource", resource.as_str().to_string())];
    if let Some(scope) = scope {
        form.push(("scope", scope.to_string()));
    }
    post("the client credentials token request", http, token_endpoint, client, form, scope).await
}

/// Token revocation (RFC 7009 §2.1). The server answers 200 whether or not it knew the token (§2.2).
pub async fn revoke(
    http: &reqwest::Client,
    revocation_endpoint: &str,
    client: &TokenClient<'_>,
    token: &str,
    token_type_hint: &str,
) -> Result<(), TokenError> {
    let form = vec![("token", token.to_string()), ("token_type_hint", token_type_hint.to_string())];
    send_form("the token revocation", http, revocation_endpoint, client, form).await.map(drop)
}

/// One poll of the device authorization grant (RFC 8628 §3.4). `authorization_pending` and `slow_down` come
/// back as [`TokenError::OAuth`] for the caller's polling loop.
pub async fn device_code(
    http: &reqwest::Client,
    token_endpoint: &str,
    client: &TokenClient<'_>,
    device_code: &str,
    resource: &ResourceUri,
    requested_scope: Option<&str>,
) -> Result<TokenSet, TokenError> {
    let form = vec![
        ("grant_type", crate::registration::DEVICE_CODE_GRANT.to_string()),
        ("device_code", device_code.to_string()),
        ("resource", resource.as_str().to_string()),
    ];
    post("the device flow's token polling", http, token_endpoint, client, form, requested_scope).await
}

/// The device authorization request (RFC 8628 §3.1-3.2).
pub async fn device_authorization(
    http: &reqwest::Client,
    endpoint: &str,
    client: &TokenClient<'_>,
    scope: Option<&str>,
    resource: &ResourceUri,
) -> Result<DeviceAuthorization, TokenError> {
    let mut form = vec![("resource", resource.as_str().to_string())];
    if let Some(scope) = scope {
        form.push(("scope", scope.to_string()));
    }
    let bytes = send_form("the device authorization request", http, endpoint, client, form).await?;
    let parsed: DeviceAuthorization = serde_json::from_slice(&bytes)
        .map_err(|e| TokenError::InvalidResponse(format!("not a device authorization response: {e}")))?;
    for uri in [Some(&parsed.verification_uri), parsed.verification_uri_complete.as_ref()].into_iter().flatten() {
        // The user is told to open this: the same scheme rules as an authorization URL.
        if !Url::parse(uri).is_ok_and(|u| is_secure_or_loopback(&u)) {
            return Err(TokenError::InvalidResponse(format!("verification URI '{uri}' is not https")));
        }
    }
    Ok(parsed)
}

/// RFC 8628 §3.2.
#[derive(Debug, Deserialize)]
pub struct DeviceAuthorization {
    pub device_code: crate::secret::AuthorizationCode,
    pub user_code: String,
    pub verification_uri: String,
    #[serde(default)]
    pub verification_uri_complete: Option<String>,
    pub expires_in: u64,
    /// Seconds between polls; 5 when absent (§3.2).
    #[serde(default = "default_interval")]
    pub interval: u64,
}

fn default_interval() -> u64 {
    5
}

async fn post(
    step: &'static str,
    http: &reqwest::Client,
    token_endpoint: &str,
    client: &TokenClient<'_>,
    form: Vec<(&'static str, String)>,
    requested_scope: Option<&str>,
) -> Result<TokenSet, TokenError> {
    let bytes = send_form(step, http, token_endpoint, client, form).await?;
    let mut tokens = parse_token_response_with(&bytes, requested_scope, now_unix(), client.dpop.is_some())?;
    tokens.dpop_key = client.dpop.as_ref().map(|d| d.key.to_secret());
    Ok(tokens)
}

/// An authenticated form POST to an OAuth endpoint (token, revocation, device authorization): the endpoint must
/// be https (or loopback http), exactly one client authentication method is applied (RFC 6749 §2.3), the
/// answer is read with a bound, and a non-2xx answer becomes the OAuth error it carries (RFC 6749 §5.2). `step`
/// names the request in a timeout.
pub(crate) async fn send_form(
    step: &'static str,
    http: &reqwest::Client,
    endpoint: &str,
    client: &TokenClient<'_>,
    mut form: Vec<(&'static str, String)>,
) -> Result<Vec<u8>, TokenError> {
    let url = Url::parse(endpoint).map_err(|_| TokenError::InsecureEndpoint(endpoint.to_string()))?;
    if !is_secure_or_loopback(&url) {
        return Err(TokenError::InsecureEndpoint(endpoint.to_string()));
    }
    if !client.send_resource {
        form.retain(|(name, _)| *name != "resource");
    }
    let exchange = Exchange::new(step, &url);
    // RFC 9449 §8: one retry when the server answers `use_dpop_nonce` with a nonce not sent before.
    let mut nonce_retry = client.dpop.is_some();
    let (status, bytes) = loop {
        let mut form = form.clone();
        let mut request = http.post(url.clone()).header("Accept", "application/json");
        if let Some(dpop) = &client.dpop {
            request = request.header(crate::dpop::PROOF_HEADER, dpop.proof("POST", &url, None)?);
        }
        let request = client.auth.apply(request, &mut form, client.client_id, client.issuer, now_unix())?;
        let response = exchange.send(request.form(&form)).await?;
        let status = response.status();
        let fresh_nonce = match (&client.dpop, response.headers().get(crate::dpop::NONCE_HEADER)) {
            (Some(dpop), Some(value)) => value.to_str().is_ok_and(|v| dpop.nonces.remember(&url, v)),
            _ => false,
        };
        let bytes = exchange.read(response, MAX_OAUTH_BODY).await?;
        let wants_nonce = status == reqwest::StatusCode::BAD_REQUEST
            && serde_json::from_slice::<OAuthErrorBody>(&bytes).is_ok_and(|e| e.error == "use_dpop_nonce");
        if wants_nonce && fresh_nonce && nonce_retry {
            nonce_retry = false;
            continue;
        }
        break (status, bytes);
    };
    if status.is_success() {
        return Ok(bytes);
    }
    match serde_json::from_slice::<OAuthErrorBody>(&bytes) {
        // Server text shown to the user: bounded, without control characters.
        Ok(err) => Err(TokenError::OAuth {
            error: err.error.chars().take(100).collect(),
            description: err.error_description.map(|d| d.chars().filter(|c| !c.is_control()).take(300).collect()),
        }),
        Err(_) => {
            Err(HttpError::Status { url: url.to_string(), status: status.as_u16(), body: http::excerpt(&bytes) }.into())
        }
    }
}

/// Parses and checks a successful token response (RFC 6749 §5.1); public for the fuzz targets.
pub fn parse_token_response(bytes: &[u8], requested_scope: Option<&str>, now: u64) -> Result<TokenSet, TokenError> {
    parse_token_response_with(bytes, requested_scope, now, false)
}

/// [`parse_token_response`] for a request that carried a DPoP proof (`dpop_sent`): then `token_type: DPoP`
/// is accepted too (RFC 9449 §5); without a proof only Bearer is.
pub fn parse_token_response_with(
    bytes: &[u8],
    requested_scope: Option<&str>,
    now: u64,
    dpop_sent: bool,
) -> Result<TokenSet, TokenError> {
    let parsed: TokenResponse =
        serde_json::from_slice(bytes).map_err(|e| TokenError::InvalidResponse(format!("not a token response: {e}")))?;
    if parsed.access_token.is_empty() {
        return Err(TokenError::InvalidResponse("empty access_token".into()));
    }
    // RFC 6749 §5.1: token_type is REQUIRED; MCP uses Bearer tokens (RFC 6750), compared case-insensitively.
    let token_type = parsed.token_type.ok_or_else(|| TokenError::InvalidResponse("no token_type".into()))?;
    let dpop = dpop_sent && token_type.eq_ignore_ascii_case("dpop");
    if !token_type.eq_ignore_ascii_case("bearer") && !dpop {
        let expected = if dpop_sent { "Bearer or DPoP" } else { "Bearer" };
        return Err(TokenError::InvalidResponse(format!("token_type '{token_type}' is not {expected}")));
    }
    let expires_at = match parsed.expires_in {
        None | Some(serde_json::Value::Null) => None,
        Some(v) => {
            // Some servers send a string; anything negative, fractional nonsense or absurd is refused.
            let secs = v.as_u64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()));
            match secs {
                Some(s) if s <= MAX_EXPIRES_IN => Some(now + s),
                _ => {
                    return Err(TokenError::InvalidResponse(format!("expires_in {v} is not a sensible lifetime")));
                }
            }
        }
    };
    if let (Some(granted), Some(requested)) = (parsed.scope.as_deref(), requested_scope) {
        report_scope_difference(requested, granted);
    }
    Ok(TokenSet {
        access_token: AccessToken::new(parsed.access_token),
        token_type: if dpop { "DPoP" } else { "Bearer" }.into(),
        expires_at,
        refresh_token: parsed.refresh_token.filter(|r| !r.is_empty()).map(RefreshToken::new),
        scope: parsed.scope.or_else(|| requested_scope.map(str::to_string)),
        obtained_at: now,
        dpop_key: None,
    })
}

/// Scopes asked for but not granted, and granted but not asked for (RFC 6749 §3.3: the server may grant
/// either; the granted `scope` is what is recorded).
pub fn scope_difference<'a>(requested: &'a str, granted: &'a str) -> (Vec<&'a str>, Vec<&'a str>) {
    let asked: Vec<&str> = requested.split_whitespace().collect();
    let got: Vec<&str> = granted.split_whitespace().collect();
    let missing = asked.iter().filter(|s| !got.contains(s)).copied().collect();
    let extra = got.iter().filter(|s| !asked.contains(s)).copied().collect();
    (missing, extra)
}

/// A narrower grant is reported (requests that need the rest will meet 403s); a wider one is accepted and
/// recorded as granted, and noted.
fn report_scope_difference(requested: &str, granted: &str) {
    let (missing, extra) = scope_difference(requested, granted);
    if !missing.is_empty() {
        tracing::warn!(
            missing = %missing.join(" "),
            granted,
            "the authorization server granted less scope than asked; operations that need the rest will be refused"
        );
    }
    if !extra.is_empty() {
        tracing::info!(extra = %extra.join(" "), granted, "the authorization server granted more scope than asked");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_differences_are_reported_both_ways() {
        assert_eq!(scope_difference("a b c", "a c"), (vec!["b"], vec![]));
        assert_eq!(scope_difference("a", "a admin"), (vec![], vec!["admin"]));
        assert_eq!(scope_difference("a b", "b  a"), (vec![], vec![]));
        // A wider grant is recorded as the server said.
        let t = parse_token_response(br#"{"access_token":"x","token_type":"Bearer","scope":"a admin"}"#, Some("a"), 0)
            .unwrap();
        assert_eq!(t.scope.as_deref(), Some("a admin"));
    }

    #[test]
    fn expiry_becomes_absolute() {
        let t = parse_token_response(br#"{"access_token":"a","token_type":"bearer","expires_in":3600}"#, None, 1000)
            .unwrap();
        assert_eq!(t.expires_at, Some(4600));
        assert!(!t.needs_refresh(4000));
        assert!(t.needs_refresh(4541));
        let short =
            parse_token_response(br#"{"access_token":"a","token_type":"Bearer","expires_in":8}"#, None, 100).unwrap();
        assert!(!short.needs_refresh(105), "a short token is used for most of its life");
        assert!(short.needs_refresh(106));
        let s =
            parse_token_response(br#"{"access_token":"a","token_type":"Bearer","expires_in":"60"}"#, None, 0).unwrap();
        assert_eq!(s.expires_at, Some(60));
    }

    #[test]
    fn broken_token_responses_are_refused_with_a_reason() {
        for (body, needle) in [
            (r#"{"access_token":"a"}"#, "no token_type"),
            (r#"{"access_token":"a","token_type":"mac"}"#, "not Bearer"),
            (r#"{"access_token":"a","token_type":"Bearer","expires_in":-5}"#, "not a sensible lifetime"),
            (r#"{"access_token":"a","token_type":"Bearer","expires_in":99999999999}"#, "not a sensible lifetime"),
            (r#"{"access_token":"","token_type":"Bearer"}"#, "empty access_token"),
            (r#"<html>"#, "not a token response"),
        ] {
            let err = parse_token_response(body.as_bytes(), None, 0).unwrap_err().to_string();
            assert!(err.contains(needle), "{body}: {err}");
        }
    }

    #[test]
    fn dpop_tokens_are_accepted_only_after_a_proof_was_sent() {
        let body = br#"{"access_token":"a","token_type":"DPoP","expires_in":60}"#;
        let t = parse_token_response_with(body, None, 0, true).unwrap();
        assert_eq!(t.token_type, "DPoP");
        let err = parse_token_response(body, None, 0).unwrap_err().to_string();
        assert!(err.contains("token_type 'DPoP' is not Bearer"), "{err}");
        // A server that ignored the proof answers Bearer: the token is then sent as a Bearer token.
        let t = parse_token_response_with(br#"{"access_token":"a","token_type":"Bearer"}"#, None, 0, true).unwrap();
        assert!(!t.is_dpop());
        let err = parse_token_response_with(br#"{"access_token":"a","token_type":"mac"}"#, None, 0, true).unwrap_err();
        assert!(err.to_string().contains("is not Bearer or DPoP"), "{err}");
    }

    #[test]
    fn token_sets_stored_before_dpop_still_load() {
        let old = r#"{"access_token":"a","token_type":"Bearer","obtained_at":1}"#;
        let t: TokenSet = serde_json::from_str(old).unwrap();
        assert_eq!(t.dpop_key, None);
        assert!(!serde_json::to_string(&t).unwrap().contains("dpop_key"), "no new field for Bearer tokens");
        let bound = TokenSet { token_type: "DPoP".into(), dpop_key: Some(DpopPrivateKey::new("ES256:k")), ..t };
        assert!(bound.is_dpop());
        assert!(!format!("{bound:?}").contains("ES256:k"), "the key never shows in Debug");
    }

    #[test]
    fn granted_scope_wins_over_requested() {
        let t =
            parse_token_response(br#"{"access_token":"a","token_type":"Bearer","scope":"x"}"#, Some("x y"), 0).unwrap();
        assert_eq!(t.scope.as_deref(), Some("x"));
        let t = parse_token_response(br#"{"access_token":"a","token_type":"Bearer"}"#, Some("x y"), 0).unwrap();
        assert_eq!(t.scopes(), ["x", "y"]);
    }
}
