//! mcp-remote's two JSON files into our types. `<hash>_client_info.json` is the authorization server's
//! registration response as the MCP TypeScript SDK keeps it (`OAuthClientInformationFull`: RFC 7591 §3.2.1);
//! `<hash>_tokens.json` is its token response (`OAuthTokens`: RFC 6749 §5.1), with `expires_in` still relative,
//! so it is counted from when the file was written.
//!
//! The files are parsed as plain JSON first and read field by field, so an error names a field and never
//! quotes a value (which could be a secret).

use crate::registration::{ClientRegistration, RegistrationSource, TokenEndpointAuth};
use crate::secret::{AccessToken, ClientSecret, RefreshToken};
use crate::token::TokenSet;
use serde_json::{Map, Value};

/// Why a file's contents cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContentError {
    #[error("it is not valid JSON (line {line}, column {column})")]
    NotJson { line: usize, column: usize },
    #[error("it is not a JSON object")]
    NotAnObject,
    #[error("it has no {0}")]
    Missing(&'static str),
    #[error("its {0} is not of the expected type")]
    WrongType(&'static str),
    #[error("its token_endpoint_auth_method '{0}' is one superdynamic cannot use")]
    UnsupportedAuthMethod(String),
    #[error("its token_type '{0}' is not Bearer, the only kind MCP uses")]
    NotBearer(String),
    #[error("its client secret expired (client_secret_expires_at); mcp-remote would have to register again too")]
    SecretExpired,
}

/// The client registration in `<hash>_client_info.json`.
pub(super) fn registration(text: &str, now: u64) -> Result<ClientRegistration, ContentError> {
    let object = object(text)?;
    let client_id =
        string(&object, "client_id")?.filter(|s| !s.is_empty()).ok_or(ContentError::Missing("client_id"))?;
    let client_secret = string(&object, "client_secret")?.filter(|s| !s.is_empty()).map(ClientSecret::new);
    // RFC 7591 §2: an omitted method means client_secret_basic, which only a client with a secret can use.
    let auth_method = match string(&object, "token_endpoint_auth_method")? {
        Some(method) => match method.as_str() {
            "none" => TokenEndpointAuth::None,
            "client_secret_basic" => TokenEndpointAuth::ClientSecretBasic,
            "client_secret_post" => TokenEndpointAuth::ClientSecretPost,
            _ => return Err(ContentError::UnsupportedAuthMethod(method)),
        },
        None if client_secret.is_some() => TokenEndpointAuth::ClientSecretBasic,
        None => TokenEndpointAuth::None,
    };
    if auth_method != TokenEndpointAuth::None && client_secret.is_none() {
        return Err(ContentError::Missing("client_secret (its token_endpoint_auth_method needs one)"));
    }
    let client_secret_expires_at = unsigned(&object, "client_secret_expires_at")?;
    if client_secret.is_some() && client_secret_expires_at.is_some_and(|t| t != 0 && t <= now) {
        return Err(ContentError::SecretExpired);
    }
    Ok(ClientRegistration {
        client_id,
        client_secret,
        auth_method,
        redirect_uris: strings(&object, "redirect_uris")?,
        // Only registration responses reach this file: a static client given to mcp-remote is never saved.
        source: RegistrationSource::Dynamic,
        client_id_issued_at: unsigned(&object, "client_id_issued_at")?,
        grant_types: strings(&object, "grant_types")?,
        client_secret_expires_at,
    })
}

/// The token set in `<hash>_tokens.json`, its expiry counted from `written` (the file's modification time: the
/// SDK saves the response as soon as it arrives). A negative or malformed `expires_in` is taken as expired, so
/// the first use refreshes.
pub(super) fn tokens(text: &str, written: u64) -> Result<TokenSet, ContentError> {
    let object = object(text)?;
    let access_token =
        string(&object, "access_token")?.filter(|s| !s.is_empty()).ok_or(ContentError::Missing("access_token"))?;
    let token_type = string(&object, "token_type")?.unwrap_or_else(|| "Bearer".into());
    // RFC 6749 §5.1: the type is case-insensitive.
    if !token_type.eq_ignore_ascii_case("bearer") {
        return Err(ContentError::NotBearer(token_type));
    }
    let expires_at = match object.get("expires_in") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => Some(n.as_f64().filter(|s| *s > 0.0).map_or(written, |s| written + s as u64)),
        Some(_) => Some(written),
    };
    Ok(TokenSet {
        access_token: AccessToken::new(access_token),
        token_type: "Bearer".into(),
        expires_at,
        refresh_token: string(&object, "refresh_token")?.filter(|s| !s.is_empty()).map(RefreshToken::new),
        scope: string(&object, "scope")?.filter(|s| !s.trim().is_empty()),
        obtained_at: written,
        dpop_key: None,
    })
}

fn object(text: &str) -> Result<Map<String, Value>, ContentError> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(ContentError::NotAnObject),
        Err(e) => Err(ContentError::NotJson { line: e.line(), column: e.column() }),
    }
}

fn string(object: &Map<String, Value>, field: &'static str) -> Result<Option<String>, ContentError> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ContentError::WrongType(field)),
    }
}

fn unsigned(object: &Map<String, Value>, field: &'static str) -> Result<Option<u64>, ContentError> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_u64().map(Some).ok_or(ContentError::WrongType(field)),
        Some(_) => Err(ContentError::WrongType(field)),
    }
}

fn strings(object: &Map<String, Value>, field: &'static str) -> Result<Vec<String>, ContentError> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => {
            items.iter().map(|item| item.as_str().map(str::to_string).ok_or(ContentError::WrongType(field))).collect()
        }
        Some(_) => Err(ContentError::WrongType(field)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What mcp-remote writes after registering at a typical server (2-space JSON, as it does).
    const CLIENT_INFO: &str = r#"{
  "redirect_uris": ["http://localhost:3334/oauth/callback"],
  "token_endpoint_auth_method": "none",
  "grant_types": ["authorization_code", "refresh_token"],
  "response_types": ["code"],
  "client_name": "MCP CLI Client",
  "client_uri": "https://github.com/modelcontextprotocol/mcp-cli",
  "software_id": "2e6dc280-f3c3-4e01-99a7-8181dbd1d23d",
  "software_version": "0.1.29",
  "client_id": "abc123",
  "client_id_issued_at": 1750000000
}"#;

    #[test]
    fn a_public_client_registration() {
        let r = registration(CLIENT_INFO, 1_800_000_000).unwrap();
        assert_eq!(r.client_id, "abc123");
        assert_eq!(r.client_secret, None);
        assert_eq!(r.auth_method, TokenEndpointAuth::None);
        assert_eq!(r.redirect_uris, ["http://localhost:3334/oauth/callback"]);
        assert_eq!(r.grant_types, ["authorization_code", "refresh_token"]);
        assert_eq!(r.source, RegistrationSource::Dynamic);
        assert_eq!(r.client_id_issued_at, Some(1_750_000_000));
    }

    #[test]
    fn a_confidential_client_defaults_to_basic_and_an_expired_secret_is_refused() {
        let text = r#"{"client_id":"c","client_secret":"s3cr3t","client_secret_expires_at":0}"#;
        let r = registration(text, 1_800_000_000).unwrap();
        assert_eq!(r.auth_method, TokenEndpointAuth::ClientSecretBasic);
        assert_eq!(r.client_secret.as_ref().map(ClientSecret::secret), Some("s3cr3t"));
        let expired = r#"{"client_id":"c","client_secret":"s3cr3t","client_secret_expires_at":1700000000}"#;
        assert_eq!(registration(expired, 1_800_000_000), Err(ContentError::SecretExpired));
        let needs_secret = r#"{"client_id":"c","token_endpoint_auth_method":"client_secret_post"}"#;
        assert!(matches!(registration(needs_secret, 0), Err(ContentError::Missing(_))));
        let odd = r#"{"client_id":"c","token_endpoint_auth_method":"tls_client_auth"}"#;
        assert_eq!(registration(odd, 0), Err(ContentError::UnsupportedAuthMethod("tls_client_auth".into())));
    }

    #[test]
    fn errors_name_the_field_never_its_value() {
        let text = r#"{"client_id":"c","client_secret":12345678}"#;
        let error = registration(text, 0).unwrap_err();
        assert_eq!(error, ContentError::WrongType("client_secret"));
        assert!(!error.to_string().contains("12345678"));
        let text = r#"{"access_token":["secret-value"]}"#;
        let error = tokens(text, 0).unwrap_err();
        assert!(!error.to_string().contains("secret-value"), "{error}");
        assert_eq!(registration("{\"client_id\": \"c\",", 0), Err(ContentError::NotJson { line: 1, column: 18 }));
        assert_eq!(registration("[]", 0), Err(ContentError::NotAnObject));
        assert_eq!(registration("{}", 0), Err(ContentError::Missing("client_id")));
    }

    #[test]
    fn tokens_expire_relative_to_when_the_file_was_written() {
        let text =
            r#"{"access_token":"at","token_type":"bearer","expires_in":3600,"refresh_token":"rt","scope":"mcp"}"#;
        let t = tokens(text, 1_750_000_000).unwrap();
        assert_eq!(t.access_token.secret(), "at");
        assert_eq!(t.token_type, "Bearer");
        assert_eq!(t.expires_at, Some(1_750_003_600));
        assert_eq!(t.obtained_at, 1_750_000_000);
        assert_eq!(t.refresh_token.as_ref().map(RefreshToken::secret), Some("rt"));
        assert_eq!(t.scope.as_deref(), Some("mcp"));
        let without = tokens(r#"{"access_token":"at","token_type":"Bearer"}"#, 5).unwrap();
        assert_eq!((without.expires_at, without.refresh_token, without.scope), (None, None, None));
        let negative = tokens(r#"{"access_token":"at","token_type":"Bearer","expires_in":-1}"#, 5).unwrap();
        assert_eq!(negative.expires_at, Some(5));
    }

    #[test]
    fn only_bearer_tokens() {
        let text = r#"{"access_token":"at","token_type":"DPoP"}"#;
        assert_eq!(tokens(text, 0).unwrap_err(), ContentError::NotBearer("DPoP".into()));
        assert_eq!(tokens(r#"{"token_type":"Bearer"}"#, 0).unwrap_err(), ContentError::Missing("access_token"));
    }
}
