//! Client authentication at the token endpoint (OAuth 2.1 §2.4, RFC 6749 §2.3).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::oauth::error_response::TokenError;
use crate::oauth::params::QueryParams;
use crate::oauth::secrets::{hash_secret, hashes_equal};
use crate::oauth::state::OAuthState;
use crate::storage::RegisteredClient;
use crate::storage::client_metadata::AuthMethod;

/// Credentials as presented, before they are checked.
#[derive(Debug)]
enum Presented {
    Basic { client_id: String, secret: String },
    Post { client_id: String, secret: String },
    IdOnly { client_id: String },
    Assertion { client_id: String, assertion: String },
}

/// Decodes `Authorization: Basic` per RFC 6749 §2.3.1: base64 of
/// `urlencode(client_id) ":" urlencode(secret)`.
fn parse_basic(value: &str) -> Option<(String, String)> {
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(encoded.trim()).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let id = form_decode(id)?;
    let secret = form_decode(secret)?;
    (!id.is_empty()).then_some((id, secret))
}

/// application/x-www-form-urlencoded decoding of one component.
fn form_decode(component: &str) -> Option<String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(&format!("v={component}")).ok()?;
    match pairs.as_slice() {
        [(_, v)] => Some(v.clone()),
        [] => Some(String::new()),
        _ => None,
    }
}

/// Looks a client up: registered clients from the store, and (when the
/// client_id is an https URL) Client ID Metadata Documents.
pub async fn find_client(state: &OAuthState, client_id: &str) -> Result<Option<RegisteredClient>, TokenError> {
    if crate::oauth::cimd::is_cimd_client_id(client_id) {
        return match crate::oauth::cimd::resolve(state.fetch_policy, &state.cimd_cache, client_id).await {
            Ok(client) => Ok(Some(client)),
            Err(e) => {
                tracing::info!(error = %e, "client ID metadata document refused");
                Ok(None)
            }
        };
    }
    state.store.find_client(client_id).map_err(|e| TokenError::Server(e.to_string()))
}

/// Authenticates the client with exactly the method it registered.
pub async fn authenticate(
    state: &OAuthState,
    authorization: Option<&str>,
    form: &QueryParams,
) -> Result<RegisteredClient, TokenError> {
    let basic_tried = authorization.is_some();
    let invalid_client = |msg: &str| TokenError::InvalidClient { description: msg.to_owned(), basic_tried };

    let assertion = form.get("client_assertion");
    let presented = match (authorization, form.get("client_secret"), assertion) {
        // RFC 6749 §2.3: one method per request.
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) | (_, Some(_), Some(_)) => {
            return Err(TokenError::InvalidRequest("use exactly one client authentication method per request".into()));
        }
        (None, None, Some(assertion)) => {
            // RFC 7523 §2.2.
            match form.get("client_assertion_type") {
                Some(crate::oauth::assertion::JWT_BEARER_ASSERTION) => {}
                Some(_) => return Err(invalid_client("unsupported client_assertion_type")),
                None => return Err(TokenError::InvalidRequest("client_assertion_type is required".into())),
            }
            let sub = crate::oauth::assertion::unverified_subject(assertion)
                .ok_or_else(|| invalid_client("the client assertion is not a JWT with a sub claim"))?;
            let client_id = match form.get("client_id") {
                Some(id) if id != sub => return Err(invalid_client("client_id differs from the assertion's sub")),
                _ => sub,
            };
            Presented::Assertion { client_id, assertion: assertion.to_owned() }
        }
        (Some(header), None, None) => {
            let (client_id, secret) = parse_basic(header).ok_or_else(|| {
                invalid_client("the Authorization header is not valid HTTP Basic client authentication")
            })?;
            if form.get("client_id").is_some_and(|id| id != client_id) {
                return Err(TokenError::InvalidRequest(
                    "client_id in the body differs from the one in the Authorization header".into(),
                ));
            }
            Presented::Basic { client_id, secret }
        }
        (None, Some(secret), None) => Presented::Post {
            client_id: form
                .get("client_id")
                .ok_or_else(|| TokenError::InvalidRequest("client_secret was sent without client_id".into()))?
                .to_owned(),
            secret: secret.to_owned(),
        },
        (None, None, None) => Presented::IdOnly {
            client_id: form
                .get("client_id")
                .ok_or_else(|| invalid_client("no client authentication and no client_id"))?
                .to_owned(),
        },
    };

    let client_id = match &presented {
        Presented::Basic { client_id, .. }
        | Presented::Post { client_id, .. }
        | Presented::IdOnly { client_id }
        | Presented::Assertion { client_id, .. } => client_id,
    };
    let client = find_client(state, client_id).await?.ok_or_else(|| invalid_client("unknown client"))?;

    let registered = client.metadata.token_endpoint_auth_method;
    let secret = match (&presented, registered) {
        (Presented::IdOnly { .. }, AuthMethod::None) => return Ok(client),
        (Presented::Assertion { assertion, .. }, AuthMethod::PrivateKeyJwt) => {
            return match crate::oauth::assertion::verify(state, &client, assertion).await {
                Ok(()) => Ok(client),
                Err(reason) => {
                    tracing::info!(client_id = %client.client_id, reason, "client assertion refused");
                    Err(invalid_client(&reason))
                }
            };
        }
        (Presented::Basic { secret, .. }, AuthMethod::ClientSecretBasic)
        | (Presented::Post { secret, .. }, AuthMethod::ClientSecretPost) => secret,
        (_, AuthMethod::None) => {
            return Err(invalid_client(
                "the client registered token_endpoint_auth_method none and must not send credentials",
            ));
        }
        (_, AuthMethod::ClientSecretBasic) => {
            return Err(invalid_client(
                "the client registered client_secret_basic and must authenticate with HTTP Basic",
            ));
        }
        (_, AuthMethod::ClientSecretPost) => {
            return Err(invalid_client(
                "the client registered client_secret_post and must send client_secret in the body",
            ));
        }
        (_, AuthMethod::PrivateKeyJwt) => {
            return Err(invalid_client(
                "the client registered private_key_jwt and must send a client_assertion (RFC 7523)",
            ));
        }
    };
    let ok = client.secret_hash.as_deref().is_some_and(|stored| hashes_equal(&hash_secret(secret), stored));
    if ok { Ok(client) } else { Err(invalid_client("client authentication failed")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_decoded() {
        // id "a b", secret "s:+%" → urlencoded "a+b" : "s%3A%2B%25"
        let header = format!("Basic {}", STANDARD.encode("a+b:s%3A%2B%25"));
        assert_eq!(parse_basic(&header), Some(("a b".into(), "s:+%".into())));
        assert_eq!(parse_basic("Bearer xyz"), None);
        assert_eq!(parse_basic("Basic !!!"), None);
        assert_eq!(parse_basic(&format!("Basic {}", STANDARD.encode("nocolon"))), None);
    }
}
