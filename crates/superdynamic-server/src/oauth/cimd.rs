//! Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document,
//! MCP 2025-11-25 §Client Registration): a `client_id` that is an https URL
//! names a JSON document, fetched on demand, that describes the client.
//!
//! Rules (CIMD §3, §4, §6; CHECKLIST §6.6-6.11, §12.7):
//! - the URL is https with a path, no fragment, no userinfo, no dot segments;
//! - the fetch is SSRF-guarded (see [`crate::oauth::fetch`]) and capped at 5 KiB;
//! - the document is JSON, its `client_id` equals the URL exactly, it has
//!   `redirect_uris`, no `client_secret`, and authenticates with `none` or
//!   `private_key_jwt` (public keys only);
//! - good documents are cached per `Cache-Control: max-age` (at most 1 h,
//!   at most [`crate::oauth::cimd_cache::MAX_CACHED`] entries); failures are never cached.

use std::time::Duration;

use serde_json::Value;
use url::Url;

use crate::oauth::cimd_cache::Cache;
use crate::oauth::fetch::{FetchError, FetchPolicy, get_json};
use crate::oauth::registration::validate_metadata;
use crate::storage::client_metadata::AuthMethod;
use crate::storage::{RegisteredClient, now};

/// CIMD §4.3 (later drafts): documents are small; refuse anything larger.
pub const MAX_DOCUMENT_BYTES: usize = 5 * 1024;
const MAX_CACHE_AGE: Duration = Duration::from_secs(3600);

#[derive(Debug, thiserror::Error)]
pub enum CimdError {
    #[error("the client_id URL is not acceptable: {0}")]
    BadUrl(String),
    #[error("could not fetch the client metadata document {url}: {source}")]
    Fetch { url: String, source: FetchError },
    #[error("the client metadata document is invalid: {0}")]
    Invalid(String),
}

/// Whether `client_id` is a URL (and so names a metadata document).
pub fn is_cimd_client_id(client_id: &str) -> bool {
    client_id.starts_with("https://") || client_id.starts_with("http://")
}

/// CIMD §3: the shape of an acceptable client_id URL.
fn check_client_id_url(policy: FetchPolicy, client_id: &str) -> Result<Url, CimdError> {
    let url = Url::parse(client_id).map_err(|_| CimdError::BadUrl("not an absolute URL".into()))?;
    // An exact round trip rules out dot segments, default ports, case games
    // and other forms that normalise to something else.
    if url.as_str() != client_id {
        return Err(CimdError::BadUrl("the URL is not in normalised form (e.g. has . or .. segments)".into()));
    }
    if url.path() == "/" || url.path().is_empty() {
        return Err(CimdError::BadUrl("the URL must have a path".into()));
    }
    crate::oauth::fetch::check_url(policy, &url).map_err(|e| CimdError::BadUrl(e.to_string()))?;
    Ok(url)
}

/// Validates a fetched document into client metadata.
fn client_from_document(client_id: &str, mut doc: Value) -> Result<RegisteredClient, CimdError> {
    let obj = doc.as_object_mut().ok_or_else(|| CimdError::Invalid("not a JSON object".into()))?;
    // CIMD §4.1: client_id must equal the document URL exactly.
    match obj.get("client_id").and_then(Value::as_str) {
        Some(id) if id == client_id => {}
        Some(_) => return Err(CimdError::Invalid("client_id does not equal the document URL".into())),
        None => return Err(CimdError::Invalid("client_id is missing".into())),
    }
    // CIMD §4.1: no shared secrets.
    if obj.contains_key("client_secret") || obj.contains_key("client_secret_expires_at") {
        return Err(CimdError::Invalid("the document must not contain client_secret".into()));
    }
    if obj.get("redirect_uris").and_then(Value::as_array).is_none_or(|a| a.is_empty()) {
        return Err(CimdError::Invalid("redirect_uris is required".into()));
    }
    // Public client unless it says private_key_jwt (RFC 7591's default,
    // client_secret_basic, makes no sense without a secret).
    obj.entry("token_endpoint_auth_method").or_insert_with(|| Value::from("none"));
    obj.remove("client_id");
    let metadata = validate_metadata(doc).map_err(|e| CimdError::Invalid(e.to_string()))?;
    if !matches!(metadata.token_endpoint_auth_method, AuthMethod::None | AuthMethod::PrivateKeyJwt) {
        return Err(CimdError::Invalid("token_endpoint_auth_method must be none or private_key_jwt".into()));
    }
    Ok(RegisteredClient {
        client_id: client_id.to_owned(),
        secret_hash: None,
        metadata,
        issued_at: now(),
        registration_token_hash: None,
    })
}

/// The client a URL client_id names: from the cache or freshly fetched.
pub async fn resolve(policy: FetchPolicy, cache: &Cache, client_id: &str) -> Result<RegisteredClient, CimdError> {
    let url = check_client_id_url(policy, client_id)?;
    if let Some(client) = cache.get(client_id) {
        return Ok(client);
    }
    let fetched = get_json(policy, &url, MAX_DOCUMENT_BYTES)
        .await
        .map_err(|source| CimdError::Fetch { url: client_id.to_owned(), source })?;
    let client = client_from_document(client_id, fetched.body)?;
    if let Some(age) = fetched.max_age.filter(|a| *a > 0) {
        cache.put(client_id, &client, Duration::from_secs(age).min(MAX_CACHE_AGE));
    }
    tracing::info!(client_id, "loaded a client ID metadata document");
    Ok(client)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ID: &str = "https://app.example.com/client.json";

    fn doc() -> Value {
        json!({"client_id": ID, "client_name": "App", "redirect_uris": ["http://127.0.0.1/cb"]})
    }

    #[test]
    fn accepts_a_minimal_public_document() {
        let c = client_from_document(ID, doc()).unwrap();
        assert_eq!(c.metadata.token_endpoint_auth_method, AuthMethod::None);
        assert_eq!(c.client_id, ID);
    }

    #[test]
    fn rejects_violations() {
        let mut d = doc();
        d["client_id"] = json!(format!("{ID}/"));
        assert!(client_from_document(ID, d).is_err(), "trailing slash");
        let mut d = doc();
        d["client_secret"] = json!("s");
        assert!(client_from_document(ID, d).is_err(), "secret");
        let mut d = doc();
        d["token_endpoint_auth_method"] = json!("client_secret_basic");
        assert!(client_from_document(ID, d).is_err(), "shared secret method");
        let mut d = doc();
        d.as_object_mut().unwrap().remove("redirect_uris");
        assert!(client_from_document(ID, d).is_err(), "no redirect_uris");
        assert!(client_from_document(ID, json!([1])).is_err(), "not an object");
    }
}
