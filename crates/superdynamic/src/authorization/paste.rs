//! Headless sign-in without a loopback redirect: the user opens the URL on any machine and pastes the URL the
//! browser was sent to (or just its code) back into the terminal. The same `state` and `iss` checks as the
//! loopback listener apply (MCP 2026-07-28 §Authorization Response Validation).

use super::callback::{CallbackError, validate};
use super::request::PendingAuthorization;
use crate::secret::AuthorizationCode;
use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// Reads lines until one is a valid redirect for `pending`. A line for another sign-in (wrong `state`) is
/// reported through `rejected` and reading goes on; other refusals end the sign-in. At end of input it never
/// returns, so the loopback listener can still win.
pub async fn read_pasted<R: AsyncBufRead + Unpin>(
    mut input: R,
    pending: &PendingAuthorization,
    rejected: impl Fn(&CallbackError),
) -> Result<AuthorizationCode, CallbackError> {
    let mut line = String::new();
    loop {
        line.clear();
        match input.read_line(&mut line).await {
            Ok(0) | Err(_) => std::future::pending::<()>().await,
            Ok(_) => {}
        }
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        match validate(&as_query(text, &pending.state), pending) {
            Ok(code) => return Ok(code),
            Err(e @ CallbackError::StateMismatch) => rejected(&e),
            Err(e) => return Err(e),
        }
    }
}

/// A pasted redirect URL, a bare query string, or a bare code (which carries no `state`: ours is assumed,
/// and PKCE still binds the code to this client).
fn as_query(text: &str, state: &str) -> String {
    if let Some((_, query)) = text.split_once('?') {
        query.split('#').next().unwrap_or("").to_string()
    } else if text.contains('=') {
        text.to_string()
    } else {
        let code: String = url::form_urlencoded::byte_serialize(text.as_bytes()).collect();
        format!("code={code}&state={state}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authorization::pkce::PkceVerifier;
    use crate::resource::Issuer;
    use std::sync::Mutex;

    fn pending(iss_supported: bool) -> PendingAuthorization {
        PendingAuthorization {
            state: "s1".into(),
            verifier: PkceVerifier::generate().unwrap(),
            issuer: Issuer::new("https://as.example"),
            iss_parameter_supported: iss_supported,
            redirect_uri: "http://127.0.0.1:1/callback".into(),
            scope: None,
        }
    }

    #[tokio::test]
    async fn a_pasted_redirect_url_is_checked_like_the_loopback_one() {
        let rejected = Mutex::new(Vec::new());
        let input = "\nhttp://127.0.0.1:1/callback?code=old&state=other\nhttp://127.0.0.1:1/callback?code=c1&state=s1&iss=https%3A%2F%2Fas.example\n";
        let code = read_pasted(input.as_bytes(), &pending(true), |e| rejected.lock().unwrap().push(e.to_string()))
            .await
            .unwrap();
        assert_eq!(code.secret(), "c1");
        assert_eq!(rejected.lock().unwrap().len(), 1, "the stale redirect was reported and skipped");
    }

    #[tokio::test]
    async fn a_wrong_issuer_ends_the_sign_in() {
        let input = "code=c1&state=s1&iss=https%3A%2F%2Fevil.example\n";
        let err = read_pasted(input.as_bytes(), &pending(false), |_| {}).await.unwrap_err();
        assert!(matches!(err, CallbackError::IssuerMismatch { .. }));
    }

    #[tokio::test]
    async fn a_bare_code_is_accepted_unless_the_server_promised_iss() {
        let code = read_pasted("abc-123\n".as_bytes(), &pending(false), |_| {}).await.unwrap();
        assert_eq!(code.secret(), "abc-123");
        let err = read_pasted("abc-123\n".as_bytes(), &pending(true), |_| {}).await.unwrap_err();
        assert_eq!(err, CallbackError::IssuerMissing);
    }
}
