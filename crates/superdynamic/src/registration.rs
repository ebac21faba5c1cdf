//! Step 2 of a sign-in: a client identity at the authorization server. Pre-registered credentials, or Dynamic
//! Client Registration (RFC 7591). The identity is bound to the issuer that issued it (MCP 2026-07-28
//! §Authorization Server Binding).

use crate::http::{self, Exchange, HttpError, MAX_OAUTH_BODY};
use crate::resource::is_secure_or_loopback;
use crate::secret::ClientSecret;
use serde::{Deserialize, Serialize};
use url::Url;

/// How the client authenticates at the token endpoint (RFC 7591 §2 `token_endpoint_auth_method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenEndpointAuth {
    None,
    ClientSecretBasic,
    ClientSecretPost,
    /// RFC 7523 §2.2 signed assertion; the key is configured, never stored.
    PrivateKeyJwt,
}

impl TokenEndpointAuth {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenEndpointAuth::None => "none",
            TokenEndpointAuth::ClientSecretBasic => "client_secret_basic",
            TokenEndpointAuth::ClientSecretPost => "client_secret_post",
            TokenEndpointAuth::PrivateKeyJwt => "private_key_jwt",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "none" => Some(Self::None),
            "client_secret_basic" => Some(Self::ClientSecretBasic),
            "client_secret_post" => Some(Self::ClientSecretPost),
            "private_key_jwt" => Some(Self::PrivateKeyJwt),
            _ => None,
        }
    }
}

/// Where a client identity came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistrationSource {
    PreRegistered,
    /// A Client ID Metadata Document: the client_id is the document's https URL.
    MetadataDocument,
    Dynamic,
}

/// A client identity at one authorization server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientRegistration {
    pub client_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<ClientSecret>,
    pub auth_method: TokenEndpointAuth,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    pub source: RegistrationSource,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id_issued_at: Option<u64>,
    /// Registered grant types (RFC 7591 §2); empty when unknown (older stores, pre-registered clients).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grant_types: Vec<String>,
    /// Unix time the secret expires; `None` or 0 for never (RFC 7591 §3.2.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_expires_at: Option<u64>,
}

impl ClientRegistration {
    /// Pre-registered credentials. The method follows what the server offers (RFC 8414 §2): a key means
    /// `private_key_jwt`; a secret means `client_secret_basic` unless the server only offers `post`.
    pub fn pre_registered(
        client_id: String,
        secret: Option<ClientSecret>,
        has_key: bool,
        server_methods: &[String],
    ) -> Self {
        let offers = |m: &str| server_methods.iter().any(|x| x == m);
        let auth_method = match (&secret, has_key) {
            (_, true) if offers("private_key_jwt") || secret.is_none() => TokenEndpointAuth::PrivateKeyJwt,
            (None, _) => TokenEndpointAuth::None,
            (Some(_), _) if offers("client_secret_basic") => TokenEndpointAuth::ClientSecretBasic,
            (Some(_), _) if offers("client_secret_post") => TokenEndpointAuth::ClientSecretPost,
            (Some(_), _) => TokenEndpointAuth::ClientSecretBasic,
        };
        Self {
            client_id,
            client_secret: secret,
            auth_method,
            redirect_uris: Vec::new(),
            source: RegistrationSource::PreRegistered,
            grant_types: Vec::new(),
            client_id_issued_at: None,
            client_secret_expires_at: None,
        }
    }

    /// A Client ID Metadata Document identity: a public client named by the document URL.
    pub fn metadata_document(url: &str) -> Self {
        Self {
            client_id: url.to_string(),
            client_secret: None,
            auth_method: TokenEndpointAuth::None,
            redirect_uris: Vec::new(),
            source: RegistrationSource::MetadataDocument,
            grant_types: Vec::new(),
            client_id_issued_at: None,
            client_secret_expires_at: None,
        }
    }

    /// Whether this registration may use `grant` (unknown grant lists are assumed to allow it).
    pub fn allows_grant(&self, grant: &str) -> bool {
        self.grant_types.is_empty() || self.grant_types.iter().any(|g| g == grant)
    }

    /// A dynamic registration is reusable while its secret has not expired and it lists our redirect URI.
    pub fn usable_for(&self, redirect_uri: &str, now: u64) -> bool {
        let secret_ok = self.client_secret_expires_at.is_none_or(|t| t == 0 || t > now + 60);
        let redirect_ok =
            self.source != RegistrationSource::Dynamic || self.redirect_uris.iter().any(|u| u == redirect_uri);
        secret_ok && redirect_ok
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RegistrationError {
    #[error(
        "the authorization server offers no dynamic client registration, and no client ID is configured for it; \
         pass --client-id (and --client-secret if it gave you one) with the credentials it issued"
    )]
    NotSupported,
    #[error("refusing the registration endpoint '{0}': it must be https (or http on loopback)")]
    InsecureEndpoint(String),
    #[error("the authorization server refused the registration: {error}{}", .description.as_ref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Refused { error: String, description: Option<String> },
    #[error("the registration response is not usable: {0}")]
    InvalidResponse(String),
    #[error(
        "'{url}' cannot be a Client ID Metadata Document URL: {reason} (it must be an https URL with a path, \
         no fragment, no user name and no . or .. segments)"
    )]
    BadMetadataDocumentUrl { url: String, reason: &'static str },
    #[error(
        "the pre-registered client is for authorization server {configured}, but this server now uses {found}; \
         credentials are never reused across authorization servers (MCP 2026-07-28). Register with {found}, or \
         drop --client-issuer"
    )]
    IssuerMismatch { configured: String, found: String },
    #[error("{}", http::in_context("registration request failed", .0))]
    Http(#[from] HttpError),
}

/// Checks a Client ID Metadata Document URL (draft-ietf-oauth-client-id-metadata-document §3): https, a
/// path, no fragment, no userinfo, no dot segments.
pub fn validate_metadata_document_url(url: &str) -> Result<(), RegistrationError> {
    let bad = |reason| RegistrationError::BadMetadataDocumentUrl { url: url.to_string(), reason };
    let parsed = Url::parse(url).map_err(|_| bad("not a URL"))?;
    if parsed.scheme() != "https" {
        return Err(bad("not https"));
    }
    if parsed.path().trim_matches('/').is_empty() {
        return Err(bad("no path"));
    }
    if parsed.fragment().is_some() || url.contains('#') {
        return Err(bad("it has a fragment"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(bad("it has a user name or password"));
    }
    // `Url` resolves dot segments, so look at the text as given.
    let path = url.split(['?', '#']).next().unwrap_or("");
    if path
        .split('/')
        .skip(3)
        .any(|seg| seg == "." || seg == ".." || seg.eq_ignore_ascii_case("%2e") || seg.eq_ignore_ascii_case("%2e%2e"))
    {
        return Err(bad("it has . or .. segments"));
    }
    Ok(())
}

/// What we ask to register as (RFC 7591 §2).
pub struct RegistrationRequest<'a> {
    pub client_name: &'a str,
    pub redirect_uri: &'a str,
    pub scope: Option<&'a str>,
    /// Also register the device authorization grant (RFC 8628 §3.4 grant type).
    pub device_grant: bool,
    /// More client metadata (RFC 7591 §2: `client_uri`, `logo_uri`, `contacts`, `software_id` …), e.g. from
    /// mcp-remote's `--static-oauth-client-metadata`. It never replaces what the flow depends on: the redirect
    /// URI, grant and response types, the authentication method and the application type.
    pub extra_metadata: Option<&'a serde_json::Map<String, serde_json::Value>>,
}

/// The registration fields [`RegistrationRequest::extra_metadata`] may not set.
const FLOW_FIELDS: [&str; 5] =
    ["redirect_uris", "grant_types", "response_types", "token_endpoint_auth_method", "application_type"];

/// RFC 8628 §3.4.
pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

#[derive(Deserialize)]
struct RegistrationResponse {
    client_id: String,
    #[serde(default)]
    client_secret: Option<String>,
    #[serde(default)]
    token_endpoint_auth_method: Option<String>,
    #[serde(default)]
    redirect_uris: Option<Vec<String>>,
    #[serde(default)]
    client_id_issued_at: Option<u64>,
    #[serde(default)]
    client_secret_expires_at: Option<u64>,
    #[serde(default)]
    grant_types: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct OAuthErrorBody {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

/// Registers a public native client (RFC 7591 §3.1): `token_endpoint_auth_method` `none`, the exact loopback
/// redirect URI we listen on, `refresh_token` among the grant types (MCP 2026-07-28 §Refresh Tokens) and
/// `application_type` `native` (MCP 2026-07-28, SEP-837).
pub async fn register(
    http: &reqwest::Client,
    endpoint: &str,
    request: &RegistrationRequest<'_>,
) -> Result<ClientRegistration, RegistrationError> {
    let url = Url::parse(endpoint).map_err(|_| RegistrationError::InsecureEndpoint(endpoint.to_string()))?;
    if !is_secure_or_loopback(&url) {
        return Err(RegistrationError::InsecureEndpoint(endpoint.to_string()));
    }
    let mut body = serde_json::json!({
        "client_name": request.client_name,
        "redirect_uris": [request.redirect_uri],
        "grant_types": if request.device_grant {
            vec!["authorization_code", DEVICE_CODE_GRANT, "refresh_token"]
        } else {
            vec!["authorization_code", "refresh_token"]
        },
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
        "application_type": "native",
    });
    if let Some(extra) = request.extra_metadata {
        for (key, value) in extra {
            if !FLOW_FIELDS.contains(&key.as_str()) {
                body[key] = value.clone();
            }
        }
    }
    if let Some(scope) = request.scope {
        body["scope"] = serde_json::Value::String(scope.to_string());
    }
    let exchange = Exchange::new("the client registration", &url);
    let response = exchange.send(http.post(url.clone()).header("Accept", "application/json").json(&body)).await?;
    let status = response.status();
    let bytes = exchange.read(response, MAX_OAUTH_BODY).await?;
    if !status.is_success() {
        if let Ok(err) = serde_json::from_slice::<OAuthErrorBody>(&bytes) {
            return Err(RegistrationError::Refused { error: err.error, description: err.error_description });
        }
        return Err(
            HttpError::Status { url: url.to_string(), status: status.as_u16(), body: http::excerpt(&bytes) }.into()
        );
    }
    let parsed: RegistrationResponse =
        serde_json::from_slice(&bytes).map_err(|e| RegistrationError::InvalidResponse(e.to_string()))?;
    if parsed.client_id.trim().is_empty() {
        return Err(RegistrationError::InvalidResponse("empty client_id".into()));
    }
    let auth_method = match parsed.token_endpoint_auth_method.as_deref() {
        None => {
            if parsed.client_secret.is_some() {
                TokenEndpointAuth::ClientSecretBasic
            } else {
                TokenEndpointAuth::None
            }
        }
        Some(m) => TokenEndpointAuth::parse(m).ok_or_else(|| {
            RegistrationError::InvalidResponse(format!("unsupported token_endpoint_auth_method '{m}'"))
        })?,
    };
    if auth_method != TokenEndpointAuth::None && parsed.client_secret.is_none() {
        return Err(RegistrationError::InvalidResponse(format!(
            "method {} needs a client_secret, none was issued",
            auth_method.as_str()
        )));
    }
    Ok(ClientRegistration {
        client_id: parsed.client_id,
        client_secret: parsed.client_secret.map(ClientSecret::new),
        auth_method,
        redirect_uris: parsed.redirect_uris.unwrap_or_else(|| vec![request.redirect_uri.to_string()]),
        source: RegistrationSource::Dynamic,
        grant_types: parsed.grant_types.unwrap_or_else(|| {
            let mut g = vec!["authorization_code".to_string(), "refresh_token".to_string()];
            if request.device_grant {
                g.push(DEVICE_CODE_GRANT.to_string());
            }
            g
        }),
        client_id_issued_at: parsed.client_id_issued_at,
        client_secret_expires_at: parsed.client_secret_expires_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pre_registered_method_follows_server_metadata() {
        let secret = Some(ClientSecret::new("s"));
        let method = |secret: Option<ClientSecret>, key: bool, offered: &[&str]| {
            let offered: Vec<String> = offered.iter().map(|s| s.to_string()).collect();
            ClientRegistration::pre_registered("c".into(), secret, key, &offered).auth_method
        };
        assert_eq!(method(None, false, &[]), TokenEndpointAuth::None);
        assert_eq!(method(secret.clone(), false, &["client_secret_post"]), TokenEndpointAuth::ClientSecretPost);
        assert_eq!(
            method(secret.clone(), false, &["client_secret_post", "client_secret_basic"]),
            TokenEndpointAuth::ClientSecretBasic
        );
        assert_eq!(method(None, true, &["private_key_jwt"]), TokenEndpointAuth::PrivateKeyJwt);
        assert_eq!(method(secret, true, &["client_secret_basic"]), TokenEndpointAuth::ClientSecretBasic);
    }

    #[test]
    fn metadata_document_urls_follow_the_cimd_rules() {
        assert!(validate_metadata_document_url("https://app.example.com/client.json").is_ok());
        for (bad, reason) in [
            ("http://app.example.com/client.json", "not https"),
            ("https://app.example.com", "no path"),
            ("https://app.example.com/", "no path"),
            ("https://app.example.com/c.json#x", "fragment"),
            ("https://u:p@app.example.com/c.json", "user name"),
            ("https://app.example.com/a/../c.json", "segments"),
            ("not a url", "not a URL"),
        ] {
            let err = validate_metadata_document_url(bad).unwrap_err().to_string();
            assert!(err.contains(reason), "{bad}: {err}");
        }
    }

    #[test]
    fn reuse_needs_our_redirect_uri_and_a_live_secret() {
        let mut r = ClientRegistration::pre_registered("c".into(), None, false, &[]);
        r.source = RegistrationSource::Dynamic;
        r.redirect_uris = vec!["http://127.0.0.1:5000/callback".into()];
        assert!(r.usable_for("http://127.0.0.1:5000/callback", 1000));
        assert!(!r.usable_for("http://127.0.0.1:5001/callback", 1000));
        r.client_secret_expires_at = Some(1000);
        assert!(!r.usable_for("http://127.0.0.1:5000/callback", 1000));
        r.client_secret_expires_at = Some(0);
        assert!(r.usable_for("http://127.0.0.1:5000/callback", 1000));
    }
}
