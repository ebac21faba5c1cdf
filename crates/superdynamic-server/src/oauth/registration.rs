//! `POST /register`: OAuth 2.0 Dynamic Client Registration (RFC 7591).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::oauth::grant_types::{CLIENT_CREDENTIALS_GRANT, DEVICE_CODE_GRANT, JWT_BEARER_GRANT};
use crate::oauth::redirect_uri::{RedirectUriError, validate_for_registration};
use crate::oauth::secrets::{hash_secret, hashes_equal, random_token};
use crate::oauth::state::OAuthState;
use crate::scope::ScopeSet;
use crate::storage::client_metadata::{AuthMethod, ClientMetadata};
use crate::storage::{RegisteredClient, now};

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
    jwks: Option<Value>,
    jwks_uri: Option<String>,
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

const KNOWN_GRANTS: [&str; 5] =
    ["authorization_code", "refresh_token", DEVICE_CODE_GRANT, CLIENT_CREDENTIALS_GRANT, JWT_BEARER_GRANT];

/// Checks a `jwks` value: a JWK set of public ES256/RS256 signing keys.
pub(crate) fn validate_jwks(jwks: &Value) -> Result<(), String> {
    let keys = jwks.get("keys").and_then(Value::as_array).ok_or("jwks must be an object with a \"keys\" array")?;
    if keys.is_empty() {
        return Err("jwks has no keys".into());
    }
    for key in keys {
        // RFC 7517 §4 / RFC 7518 §6: private members must never be registered.
        if ["d", "p", "q", "dp", "dq", "qi", "k"].iter().any(|m| key.get(m).is_some()) {
            return Err("jwks must contain public keys only".into());
        }
        let jwk: jsonwebtoken::jwk::Jwk =
            serde_json::from_value(key.clone()).map_err(|e| format!("jwks holds an invalid JWK: {e}"))?;
        jsonwebtoken::DecodingKey::from_jwk(&jwk).map_err(|e| format!("jwks holds an unusable JWK: {e}"))?;
    }
    Ok(())
}

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
        Some("private_key_jwt") => AuthMethod::PrivateKeyJwt,
        Some(other) => {
            return Err(Meta(format!(
                "token_endpoint_auth_method {other:?} is not supported; use none, client_secret_basic, client_secret_post or private_key_jwt"
            )));
        }
    };
    // RFC 7591 §2: jwks and jwks_uri MUST NOT both be present.
    if req.jwks.is_some() && req.jwks_uri.is_some() {
        return Err(Meta("send either jwks or jwks_uri, not both".into()));
    }
    if let Some(jwks) = &req.jwks {
        validate_jwks(jwks).map_err(Meta)?;
    }
    if let Some(uri) = &req.jwks_uri {
        let parsed = url::Url::parse(uri).map_err(|_| Meta("jwks_uri is not an absolute URL".into()))?;
        if !matches!(parsed.scheme(), "https" | "http") || parsed.host().is_none() {
            return Err(Meta("jwks_uri must be an https URL".into()));
        }
    }
    if token_endpoint_auth_method == AuthMethod::PrivateKeyJwt && req.jwks.is_none() && req.jwks_uri.is_none() {
        return Err(Meta("private_key_jwt needs jwks or jwks_uri with the client's public keys".into()));
    }

    if let Some(unknown) = grant_types.iter().find(|g| !KNOWN_GRANTS.contains(&g.as_str())) {
        return Err(Meta(format!(
            "grant type {unknown:?} is not supported; supported: authorization_code, refresh_token, {DEVICE_CODE_GRANT}, client_credentials, {JWT_BEARER_GRANT}"
        )));
    }
    let uses_cc = grant_types.iter().any(|g| g == CLIENT_CREDENTIALS_GRANT);
    let obtains = |g: &String| g == DEVICE_CODE_GRANT || g == JWT_BEARER_GRANT;
    if !uses_code && !uses_cc && !grant_types.iter().any(obtains) {
        return Err(Meta(format!(
            "grant_types must include authorization_code, {DEVICE_CODE_GRANT}, client_credentials or {JWT_BEARER_GRANT}, the only ways to obtain tokens here"
        )));
    }
    // OAuth 2.1 §4.2: only confidential clients may use client credentials.
    if uses_cc && !token_endpoint_auth_method.is_confidential() {
        return Err(Meta(
            "the client_credentials grant needs a confidential client (client_secret_basic, client_secret_post or private_key_jwt)"
                .into(),
        ));
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
        jwks: req.jwks,
        jwks_uri: req.jwks_uri,
    })
}

/// Validates client metadata given as JSON (DCR bodies, CIMD documents).
pub(crate) fn validate_metadata(value: Value) -> Result<ClientMetadata, RegistrationError> {
    let request: RegistrationRequest = serde_json::from_value(value).map_err(|e| {
        RegistrationError::InvalidClientMetadata(format!("the body is not valid client metadata JSON: {e}"))
    })?;
    validate(request)
}

/// RFC 7591 §3: validate the metadata, mint a client_id (and a secret for
/// confidential methods, stored hashed and returned only here), answer 201.
pub async fn register(
    State(state): State<Arc<OAuthState>>,
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
    // RFC 7592 §3: a bearer credential for managing this registration.
    let registration_token = random_token().map_err(|_| RegistrationError::Server)?;
    let client = RegisteredClient {
        client_id: client_id.clone(),
        secret_hash: secret.as_deref().map(hash_secret),
        metadata,
        issued_at: now(),
        registration_token_hash: Some(hash_secret(&registration_token)),
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
    let body = client_information(&state, &client, secret.as_deref(), &registration_token)?;
    Ok((StatusCode::CREATED, no_store_headers(), Json(body)).into_response())
}

/// RFC 7591 §3.2.1 + RFC 7592 §3 client information response. The secret
/// is only known (and so only returned) when it was just issued.
fn client_information(
    state: &OAuthState,
    client: &RegisteredClient,
    secret: Option<&str>,
    registration_token: &str,
) -> Result<Value, RegistrationError> {
    let mut body = serde_json::to_value(&client.metadata).map_err(|_| RegistrationError::Server)?;
    if let Some(obj) = body.as_object_mut() {
        obj.insert("client_id".into(), json!(client.client_id));
        obj.insert("client_id_issued_at".into(), json!(client.issued_at));
        if let Some(secret) = secret {
            obj.insert("client_secret".into(), json!(secret));
        }
        if client.metadata.token_endpoint_auth_method.has_secret() {
            // RFC 7591 §3.2.1: required with a secret; 0 means it never expires.
            obj.insert("client_secret_expires_at".into(), json!(0));
        }
        obj.insert("registration_access_token".into(), json!(registration_token));
        obj.insert("registration_client_uri".into(), json!(format!("{}/register/{}", state.issuer, client.client_id)));
    }
    Ok(body)
}

/// RFC 7592 §2: errors of the client configuration endpoint.
fn invalid_token() -> Response {
    let mut response = (
        StatusCode::UNAUTHORIZED,
        no_store_headers(),
        Json(json!({"error": "invalid_token", "error_description": "unknown client or invalid registration access token"})),
    )
        .into_response();
    response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer error=\"invalid_token\""));
    response
}

/// RFC 7592 §2: the client named in the path, if the request carries its
/// registration access token. Unknown clients and bad tokens look the same.
// The error is the finished response; it is built once per refused request.
#[allow(clippy::result_large_err)]
fn managed_client(
    state: &OAuthState,
    headers: &HeaderMap,
    client_id: &str,
) -> Result<(RegisteredClient, String), Response> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .ok_or_else(invalid_token)?;
    let client = match state.store.find_client(client_id) {
        Ok(Some(c)) => c,
        Ok(None) => return Err(invalid_token()),
        Err(e) => {
            tracing::error!(error = %e, "client lookup failed");
            return Err(RegistrationError::Server.into_response());
        }
    };
    let ok = client.registration_token_hash.as_deref().is_some_and(|h| hashes_equal(&hash_secret(&token), h));
    if ok { Ok((client, token)) } else { Err(invalid_token()) }
}

/// `GET /register/{client_id}` (RFC 7592 §2.1).
pub async fn read_client(
    State(state): State<Arc<OAuthState>>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let (client, token) = match managed_client(&state, &headers, &client_id) {
        Ok(found) => found,
        Err(response) => return response,
    };
    match client_information(&state, &client, None, &token) {
        Ok(body) => (StatusCode::OK, no_store_headers(), Json(body)).into_response(),
        Err(e) => e.into_response(),
    }
}

/// `PUT /register/{client_id}` (RFC 7592 §2.2): replaces the metadata; the
/// body must name the same client_id and may repeat (not change) the secret.
pub async fn update_client(
    State(state): State<Arc<OAuthState>>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (client, token) = match managed_client(&state, &headers, &client_id) {
        Ok(found) => found,
        Err(response) => return response,
    };
    match apply_update(&state, client, &token, &body) {
        Ok(body) => (StatusCode::OK, no_store_headers(), Json(body)).into_response(),
        Err(e) => e.into_response(),
    }
}

fn apply_update(
    state: &OAuthState,
    mut client: RegisteredClient,
    token: &str,
    body: &[u8],
) -> Result<Value, RegistrationError> {
    use RegistrationError::InvalidClientMetadata as Meta;
    let mut value: Value =
        serde_json::from_slice(body).map_err(|e| Meta(format!("the body is not valid JSON: {e}")))?;
    let obj = value.as_object_mut().ok_or_else(|| Meta("the body must be a JSON object".into()))?;
    // §2.2: client_id MUST be included and match.
    if obj.get("client_id").and_then(Value::as_str) != Some(client.client_id.as_str()) {
        return Err(Meta("client_id must be included and equal the client's id".into()));
    }
    // §2.2: a secret, if sent, must be the current one (it cannot be chosen).
    if let Some(sent) = obj.get("client_secret").and_then(Value::as_str) {
        let matches = client.secret_hash.as_deref().is_some_and(|h| hashes_equal(&hash_secret(sent), h));
        if !matches {
            return Err(Meta("client_secret does not match the current secret".into()));
        }
    }
    for server_owned in [
        "client_id",
        "client_secret",
        "client_id_issued_at",
        "client_secret_expires_at",
        "registration_access_token",
        "registration_client_uri",
    ] {
        obj.remove(server_owned);
    }
    let metadata = validate_metadata(value)?;
    let mut new_secret = None;
    if metadata.token_endpoint_auth_method.has_secret() {
        if client.secret_hash.is_none() {
            let secret = random_token().map_err(|_| RegistrationError::Server)?;
            client.secret_hash = Some(hash_secret(&secret));
            new_secret = Some(secret);
        }
    } else {
        client.secret_hash = None;
    }
    client.metadata = metadata;
    match state.store.update_client(&client) {
        Ok(true) => {}
        Ok(false) => return Err(Meta("the client no longer exists".into())),
        Err(e) => {
            tracing::error!(error = %e, "updating a client failed");
            return Err(RegistrationError::Server);
        }
    }
    tracing::info!(client_id = %client.client_id, "updated a client registration");
    client_information(state, &client, new_secret.as_deref(), token)
}

/// `DELETE /register/{client_id}` (RFC 7592 §2.3): the client becomes
/// unknown and its refresh tokens stop working.
pub async fn delete_client(
    State(state): State<Arc<OAuthState>>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let (client, _) = match managed_client(&state, &headers, &client_id) {
        Ok(found) => found,
        Err(response) => return response,
    };
    match state.store.delete_client(&client.client_id) {
        Ok(_) => {
            tracing::info!(client_id = %client.client_id, "deleted a client registration");
            (StatusCode::NO_CONTENT, no_store_headers()).into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "deleting a client failed");
            RegistrationError::Server.into_response()
        }
    }
}
