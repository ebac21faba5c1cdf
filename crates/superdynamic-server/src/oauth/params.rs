//! Request parameters: the query of `/authorize` and the form bodies of the back-channel endpoints, with repeated
//! parameters remembered (OAuth 2.1 §3.1 forbids them), the `Authorization` header and cookies.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use axum::http::{HeaderMap, header};

use crate::oauth::error_response::TokenError;

/// The query parameters; a parameter sent twice is remembered as such
/// because OAuth 2.1 §3.1 forbids repeating request parameters.
pub(crate) struct QueryParams {
    values: HashMap<String, String>,
    repeated: Vec<String>,
}

impl QueryParams {
    pub(crate) fn parse(raw: &str) -> Result<Self, serde_urlencoded::de::Error> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw)?;
        let mut values = HashMap::new();
        let mut repeated = Vec::new();
        for (k, v) in pairs {
            match values.entry(k) {
                Entry::Occupied(e) => repeated.push(e.key().clone()),
                Entry::Vacant(e) => {
                    e.insert(v);
                }
            }
        }
        Ok(Self { values, repeated })
    }

    /// The value, unless absent, empty (RFC 6749 §3.1: treated as omitted) or repeated.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        if self.is_repeated(name) {
            return None;
        }
        self.values.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }

    pub(crate) fn is_repeated(&self, name: &str) -> bool {
        self.repeated.iter().any(|r| r == name)
    }

    pub(crate) fn first_repeated(&self) -> Option<&str> {
        self.repeated.first().map(String::as_str)
    }
}

/// The form body of a back-channel request (token, revocation, device
/// authorization): must be form-urlencoded, parameters not repeated.
pub(crate) fn parse_form(headers: &HeaderMap, body: &[u8]) -> Result<QueryParams, TokenError> {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(TokenError::InvalidRequest("the request body must be application/x-www-form-urlencoded".into()));
    }
    let form = std::str::from_utf8(body)
        .ok()
        .and_then(|b| QueryParams::parse(b).ok())
        .ok_or_else(|| TokenError::InvalidRequest("the form body is malformed".into()))?;
    // OAuth 2.1 §3.2: parameters must not be repeated.
    if let Some(name) = form.first_repeated() {
        return Err(TokenError::InvalidRequest(format!("parameter {name} was sent more than once")));
    }
    Ok(form)
}

/// The single `Authorization` header, if any, as text.
pub(crate) fn authorization_header(headers: &HeaderMap) -> Result<Option<&str>, TokenError> {
    let mut auth_headers = headers.get_all(header::AUTHORIZATION).iter();
    let authorization = auth_headers.next();
    if auth_headers.next().is_some() {
        return Err(TokenError::InvalidRequest("more than one Authorization header".into()));
    }
    match authorization {
        Some(v) => Ok(Some(v.to_str().map_err(|_| TokenError::InvalidClient {
            description: "the Authorization header is not valid text".into(),
            basic_tried: true,
        })?)),
        None => Ok(None),
    }
}

/// The value of the cookie `name` (RFC 6265 §5.4 `Cookie` header pairs).
pub(crate) fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}
