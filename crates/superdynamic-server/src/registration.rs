//! `POST /register`: OAuth 2.0 Dynamic Client Registration (RFC 7591).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::redirect_uri::{RedirectUriError, validate_for_registration};
use crate::scope::ScopeSet;
use crate::secrets::{hash_secret, random_token};
use crate::server::AuthServerState;
use crate::storage::{RegisteredClient, now};
use crate::token::DEVICE_CODE_GRANT;

/// How a client authenticates at the token endpoint (RFC 7591 §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// Public client: no secret, proves nothing but PKCE.
    None,
    /// HTTP Basic with the form-urlencoded id and secret (RFC 6749 §2.3.1).
    ClientSecretBasic,
    /// `client_id` + `client_secret` in the form body.
    ClientSecretPost,
}

impl AuthMethod {
    pub fn has_secret(self) -> bool {
        self != AuthMethod::None
    }
}

/// The metadata we keep and echo back; unknown fields are ignored (RFC 7591 §2).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ClientMetadata {
    pub redirect_uris: Vec<String>,
    pub token_endpoint_auth_method: AuthMethod,
    pub grant_types: Vec<String>,
    pub response_types: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contacts: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software_version: Option<String>,
}

impl ClientMetadata {
    pub fn allows_grant(&self, grant_type: &str) -> bool {
        self.grant_types.iter().any(|g| g == grant_type)
    }
}

/// The request body as sent; every field optional so we can say what is missing.
#[derive(Debug, Deserialize)]
struct RegistrationRequest {
    redirect_uris: Option<Vec<String>>,
    token_endpoint_auth_method: Option<String>,
    grant_types: Option<Vec<String>>,
    response_types: Option<Vec<String>>,
    client_name: Option<String>,
    client_uri: Option<String>,
    logo_uri: Option<String>,
    scope: Option<String>,
    contacts: Option<Vec<String>>,
    application_type: Option<String>,
    software_id: Option<String>,
    software_version: Option<String>,
}

/// RFC 7591 §3.2.2 error codes.
#[derive(Debug, thiserror::Error)]
pub enum RegistrationError {
    #[error("{0}")]
    InvalidRedirectUri(String),
    #[error("{0}")]
    InvalidClientMetadata(String),
    #[error("the server could not store the client")]
    Server,
}

impl IntoResponse for RegistrationError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            Self::InvalidRedirectUri(_) => (StatusCode::BAD_REQUEST, "invalid_redirect_uri"),
            Self::InvalidClientMetadata(_) => (StatusCode::BAD_REQUEST, "invalid_client_metadata"),
            Self::Server => (StatusCode::INTERNAL_SERVER_ERROR, "server_error"),
        };
        let body = json!({"error": code, "error_description": self.to_string()});
        (status, no_store_headers(), Json(body)).into_response()
    }
}

fn no_store_headers() -> [(header::HeaderName, &'static str); 2] {
    [(header::CACHE_CONTROL, "no-store"), (header::PRAGMA, "no-cache")]
}

const KNOWN_GRANTS: [&str; 3] = ["authorization_code", "refresh_token", DEVICE_CODE_GRANT];

fn validate(req: RegistrationRequest) -> Result<ClientMetadata, RegistrationError> {
    use RegistrationError::{InvalidClientMetadata as Meta, InvalidRedirectUri as Redirect};

    // RFC 7591 §2: grant_types defaults to authorization_code.
    let grant_types = req.grant_types.unwrap_or_else(|| vec!["authorization_code".into()]);
    let uses_code = grant_types.iter().any(|g| g == "authorization_code");

    // Redirect URIs are needed by the authorization code grant only; a
    // device-only client (RFC 8628) may register none.
    let redirect_uris = req.redirect_uris.unwrap_or_default();
    if redirect_uris.is_empty() && uses_code {
        return Err(Redirect("redirect_uris is required and must list at least one URI".into()));
    }
    for uri in &redirect_uris {
        validate_for_registration(uri).map_err(|e: RedirectUriError| Redirect(e.to_string()))?;
    }

    // RFC 7591 §2: the default is client_secret_basic.
    let token_endpoint_auth_method = match req.token_endpoint_auth_method.as_deref() {
        None | Some("client_secret_basic") => AuthMethod::ClientSecretBasic,
        Some("client_secret_post") => AuthMethod::ClientSecretPost,
        Some("none") => AuthMethod::None,
        Some(other) => {
            return Err(Meta(format!(
                "token_endpoint_auth_method {other:?} is not supported; use none, client_secret_basic or client_secret_post"
            )));
        }
    };

    if let Some(unknown) = grant_types.iter().find(|g| !KNOWN_GRANTS.contains(&g.as_str())) {
        return Err(Meta(format!(
            "grant type {unknown:?} is not supported; supported: authorization_code, refresh_token, {DEVICE_CODE_GRANT}"
        )));
    }
    if !uses_code && !grant_types.iter().any(|g| g == DEVICE_CODE_GRANT) {
        return Err(Meta(format!(
            "grant_types must include authorization_code or {DEVICE_CODE_GRANT}, the only ways to obtain tokens here"
        )));
    }

    // RFC 7591 §2.1: response types must match the grant types: "code" with
    // the authorization code grant, none without it.
    let response_types = req.response_types.unwrap_or_else(|| if uses_code { vec!["code".into()] } else { Vec::new() });
    if uses_code && response_types != ["code"] {
        return Err(Meta(format!("response_types must be [\"code\"], got {response_types:?}")));
    }
    if !uses_code && !response_types.is_empty() {
        return Err(Meta(format!(
            "response_types must be empty without the authorization_code grant, got {response_types:?}"
        )));
    }

    if let Some(scope) = &req.scope {
        ScopeSet::parse(scope).map_err(|e| Meta(e.to_string()))?;
    }
    if let Some(app) = &req.application_type
        && app != "native"
        && app != "web"
    {
        return Err(Meta(format!("application_type {app:?} is not supported; use native or web")));
    }

    Ok(ClientMetadata {
        redirect_uris,
        token_endpoint_auth_method,
        grant_types,
        response_types,
        client_name: req.client_name,
        client_uri: req.client_uri,
        logo_uri: req.logo_uri,
        scope: req.scope,
        contacts: req.contacts,
        application_type: req.application_type,
        software_id: req.software_id,
        software_version: req.software_version,
    })
}

/// RFC 7591 §3: validate the metadata, mint a client_id (and a secret for
/// confidential methods, stored hashed and returned only here), answer 201.
pub async fn register(
    State(state): State<Arc<AuthServerState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, RegistrationError> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("application/json");
    if !content_type.trim_start().to_ascii_lowercase().starts_with("application/json") {
        return Err(RegistrationError::InvalidClientMetadata(format!(
            "the registration request must be application/json, not {content_type:?}"
        )));
    }
    let request: RegistrationRequest = serde_json::from_slice(&body).map_err(|e| {
        RegistrationError::InvalidClientMetadata(format!("the body is not valid client metadata JSON: {e}"))
    })?;
    let metadata = validate(request)?;

    let client_id = random_token().map_err(|_| RegistrationError::Server)?;
    let secret = if metadata.token_endpoint_auth_method.has_secret() {
        Some(random_token().map_err(|_| RegistrationError::Server)?)
    } else {
        None
    };
    let client = RegisteredClient {
        client_id: client_id.clone(),
        secret_hash: secret.as_deref().map(hash_secret),
        metadata,
        issued_at: now(),
    };
    state.store.insert_client(&client).map_err(|e| {
        tracing::error!(error = %e, "storing a registered client failed");
        RegistrationError::Server
    })?;
    tracing::info!(
        client_name = client.metadata.client_name.as_deref().unwrap_or("-"),
        method = ?client.metadata.token_endpoint_auth_method,
        "registered a client"
    );

    let mut body = serde_json::to_value(&client.metadata).map_err(|_| RegistrationError::Server)?;
    if let Some(obj) = body.as_object_mut() {
        obj.insert("client_id".into(), json!(client_id));
        obj.insert("client_id_issued_at".into(), json!(client.issued_at));
        if let Some(secret) = secret {
            obj.insert("client_secret".into(), json!(secret));
            // RFC 7591 §3.2.1: required with a secret; 0 means it never expires.
            obj.insert("client_secret_expires_at".into(), json!(0));
        }
    }
    Ok((StatusCode::CREATED, no_store_headers(), Json(body)).into_response())
}
