//! The redirect back to the client: a loopback listener (RFC 8252 §7.3) that accepts exactly one valid
//! callback, and the checks on what it carries (`state`, RFC 9207 `iss`, `code` or `error`).

use super::request::PendingAuthorization;
use crate::secret::AuthorizationCode;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub const CALLBACK_PATH: &str = "/callback";
const MAX_REQUEST_HEAD: usize = 16 * 1024;

/// What a callback's query says, once checked against the pending request.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum CallbackError {
    /// Not the redirect we wait for (a stale tab, another request, a forgery): answered, then ignored.
    #[error("the redirect's state does not match this sign-in")]
    StateMismatch,
    #[error("the redirect has a parameter more than once ({0}); refusing it (RFC 6749 §3.1)")]
    DuplicateParameter(String),
    #[error(
        "the redirect did not say which authorization server sent it (no `iss`), although the server promised \
         to (RFC 9207); refusing it as a possible mix-up attack"
    )]
    IssuerMissing,
    /// The error text of a mismatched response is deliberately not kept (MCP 2026-07-28 §10.11).
    #[error(
        "the redirect came from authorization server '{found}', not '{expected}'; refusing it as a possible \
         mix-up attack (RFC 9207)"
    )]
    IssuerMismatch { expected: String, found: String },
    #[error("the authorization server refused: {error}{}", .description.as_ref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Denied { error: String, description: Option<String> },
    #[error("the redirect carries neither a code nor an error")]
    MissingCode,
}

impl CallbackError {
    fn is_terminal(&self) -> bool {
        !matches!(self, CallbackError::StateMismatch)
    }
}

/// Checks a redirect's query string. `state` first: a response for another request is never acted upon.
pub fn validate(query: &str, pending: &PendingAuthorization) -> Result<AuthorizationCode, CallbackError> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        if pairs.iter().any(|(n, _)| *n == name) {
            return Err(CallbackError::DuplicateParameter(name.into_owned()));
        }
        pairs.push((name.into_owned(), value.into_owned()));
    }
    let get = |name: &str| pairs.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    // Constant-time comparison is unnecessary: `state` is single-use and the listener lives for one request.
    if get("state") != Some(pending.state.as_str()) {
        return Err(CallbackError::StateMismatch);
    }
    // RFC 9207 §2.4 as tabled in MCP 2026-07-28: simple string comparison, no normalization.
    match get("iss") {
        Some(found) if found != pending.issuer.as_str() => {
            return Err(CallbackError::IssuerMismatch {
                expected: pending.issuer.to_string(),
                found: found.to_string(),
            });
        }
        None if pending.iss_parameter_supported => return Err(CallbackError::IssuerMissing),
        _ => {}
    }
    if let Some(error) = get("error") {
        return Err(CallbackError::Denied {
            error: sanitize(error),
            description: get("error_description").map(sanitize),
        });
    }
    match get("code") {
        Some(code) if !code.is_empty() => Ok(AuthorizationCode::new(code)),
        _ => Err(CallbackError::MissingCode),
    }
}

/// Server-supplied text shown to the user: printable characters only, bounded.
fn sanitize(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(300).collect()
}

/// A listener on 127.0.0.1 for the redirect.
pub struct CallbackListener {
    listener: TcpListener,
    redirect_uri: String,
    path: String,
}

impl CallbackListener {
    /// Binds 127.0.0.1:`port` (0 picks a free port). RFC 8252 §7.3: loopback IP literal, not `localhost`.
    pub async fn bind(port: u16) -> std::io::Result<Self> {
        let listener = TcpListener::bind(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)).await?;
        let port = listener.local_addr()?.port();
        Ok(Self {
            listener,
            redirect_uri: format!("http://127.0.0.1:{port}{CALLBACK_PATH}"),
            path: CALLBACK_PATH.into(),
        })
    }

    /// Binds 127.0.0.1:`port` but announces `redirect_uri` (for port forwarding: the browser reaches this
    /// listener through another address). Callbacks are accepted on that URI's path.
    pub async fn bind_for(port: u16, redirect_uri: &url::Url) -> std::io::Result<Self> {
        let listener = TcpListener::bind(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)).await?;
        Ok(Self { listener, redirect_uri: redirect_uri.to_string(), path: redirect_uri.path().to_string() })
    }

    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// Serves requests until one valid callback (or a terminal error) arrives. Wrong paths get 404 and wrong
    /// `state` gets 400; both leave the listener waiting, so a stray or forged request cannot end the sign-in.
    pub async fn wait(self, pending: &PendingAuthorization) -> Result<AuthorizationCode, CallbackError> {
        loop {
            let Ok((stream, peer)) = self.listener.accept().await else {
                continue;
            };
            if !peer.ip().is_loopback() {
                continue;
            }
            match handle_connection(stream, &self.path, pending).await {
                Some(Ok(code)) => return Ok(code),
                Some(Err(e)) if e.is_terminal() => return Err(e),
                _ => continue,
            }
        }
    }
}

/// Reads one HTTP request head and answers it. `None` when it was not a callback for us.
async fn handle_connection(
    mut stream: TcpStream,
    callback_path: &str,
    pending: &PendingAuthorization,
) -> Option<Result<AuthorizationCode, CallbackError>> {
    let head = match tokio::time::timeout(Duration::from_secs(10), read_head(&mut stream)).await {
        Ok(Some(head)) => head,
        _ => return None,
    };
    let target = head.lines().next().and_then(|line| {
        let mut parts = line.split(' ');
        match (parts.next(), parts.next()) {
            (Some("GET"), Some(target)) => Some(target.to_string()),
            _ => None,
        }
    });
    let Some(target) = target else {
        respond(&mut stream, 405, "Not supported", "This address only receives the sign-in redirect.").await;
        return None;
    };
    let (path, query) = target.split_once('?').unwrap_or((target.as_str(), ""));
    if path != callback_path {
        respond(&mut stream, 404, "Not found", "This address only receives the sign-in redirect.").await;
        return None;
    }
    let result = validate(query, pending);
    match &result {
        Ok(_) => {
            respond(&mut stream, 200, "Signed in", "superdynamic received the authorization. You can close this tab.")
                .await
        }
        Err(CallbackError::StateMismatch) => {
            respond(
                &mut stream,
                400,
                "Unexpected sign-in",
                "This redirect does not belong to the sign-in superdynamic is waiting for. It was ignored.",
            )
            .await
        }
        Err(e) => respond(&mut stream, 400, "Sign-in failed", &format!("{e}. Return to your terminal.")).await,
    }
    Some(result)
}

async fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            buf.truncate(end);
            return String::from_utf8(buf).ok();
        }
        if buf.len() > MAX_REQUEST_HEAD {
            return None;
        }
    }
}

async fn respond(stream: &mut TcpStream, status: u16, title: &str, message: &str) {
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Bad Request",
    };
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{t}</title></head>\
         <body style=\"font-family:sans-serif;margin:3em\"><h1>{t}</h1><p>{m}</p></body></html>",
        t = html_escape(title),
        m = html_escape(message)
    );
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nReferrer-Policy: no-referrer\r\nContent-Security-Policy: default-src 'none'; \
         style-src 'unsafe-inline'\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authorization::pkce::PkceVerifier;
    use crate::resource::Issuer;

    fn pending(iss_supported: bool) -> PendingAuthorization {
        PendingAuthorization {
            state: "st4te".into(),
            verifier: PkceVerifier::generate().unwrap(),
            issuer: Issuer::new("https://as.example"),
            iss_parameter_supported: iss_supported,
            redirect_uri: "http://127.0.0.1:1/callback".into(),
            scope: None,
        }
    }

    #[test]
    fn state_is_checked_first() {
        assert_eq!(validate("code=c", &pending(false)).unwrap_err(), CallbackError::StateMismatch);
        assert_eq!(validate("code=c&state=other", &pending(false)).unwrap_err(), CallbackError::StateMismatch);
        assert_eq!(
            validate("state=st4te&state=st4te&code=c", &pending(false)).unwrap_err(),
            CallbackError::DuplicateParameter("state".into())
        );
    }

    #[test]
    fn rfc9207_table() {
        let ok = "code=c&state=st4te&iss=https%3A%2F%2Fas.example";
        let missing = "code=c&state=st4te";
        let wrong = "code=c&state=st4te&iss=https%3A%2F%2Fevil.example";
        let normalized = "code=c&state=st4te&iss=https%3A%2F%2Fas.example%2F";
        // supported + present: compare
        assert_eq!(validate(ok, &pending(true)).unwrap().secret(), "c");
        assert!(matches!(validate(wrong, &pending(true)), Err(CallbackError::IssuerMismatch { .. })));
        // supported + absent: reject
        assert_eq!(validate(missing, &pending(true)).unwrap_err(), CallbackError::IssuerMissing);
        // not advertised + present: compare
        assert!(validate(ok, &pending(false)).is_ok());
        assert!(matches!(validate(wrong, &pending(false)), Err(CallbackError::IssuerMismatch { .. })));
        // not advertised + absent: proceed
        assert!(validate(missing, &pending(false)).is_ok());
        // no normalization: a trailing slash is a different issuer
        assert!(matches!(validate(normalized, &pending(true)), Err(CallbackError::IssuerMismatch { .. })));
    }

    #[test]
    fn error_text_of_a_mismatched_response_is_never_shown() {
        let q = "error=access_denied&error_description=click%20evil.example&state=st4te&iss=https%3A%2F%2Fevil.example";
        let err = validate(q, &pending(false)).unwrap_err();
        assert!(!err.to_string().contains("click"), "{err}");
        assert!(!err.to_string().contains("access_denied"), "{err}");
    }

    #[test]
    fn denial_is_reported_with_its_description() {
        let q = "error=access_denied&error_description=The%20user%20said%20no&state=st4te&iss=https%3A%2F%2Fas.example";
        let err = validate(q, &pending(true)).unwrap_err();
        assert_eq!(err.to_string(), "the authorization server refused: access_denied (The user said no)");
        assert_eq!(validate("state=st4te", &pending(false)).unwrap_err(), CallbackError::MissingCode);
    }

    async fn get(port: u16, target: &str) -> String {
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        s.write_all(format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes()).await.unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn the_listener_is_reachable_from_this_machine_only() {
        // Bound to 127.0.0.1: a peer on another host cannot connect at all (RFC 8252 §8.3), and `wait` also
        // drops any non-loopback peer as a second line of defence.
        let listener = CallbackListener::bind(0).await.unwrap();
        let addr = listener.listener.local_addr().unwrap();
        assert!(addr.ip().is_loopback(), "{addr}");
    }

    #[tokio::test]
    async fn listener_ignores_strays_and_accepts_exactly_one_valid_callback() {
        let listener = CallbackListener::bind(0).await.unwrap();
        let port = listener.port();
        assert_eq!(listener.redirect_uri(), format!("http://127.0.0.1:{port}/callback"));
        let p = pending(false);
        let client = tokio::spawn(async move {
            let not_found = get(port, "/favicon.ico").await;
            let wrong_state = get(port, "/callback?code=x&state=nope").await;
            let ok = get(port, "/callback?code=the-code&state=st4te").await;
            (not_found, wrong_state, ok)
        });
        let code = listener.wait(&p).await.unwrap();
        assert_eq!(code.secret(), "the-code");
        let (not_found, wrong_state, ok) = client.await.unwrap();
        assert!(not_found.starts_with("HTTP/1.1 404"), "{not_found}");
        assert!(wrong_state.starts_with("HTTP/1.1 400"), "{wrong_state}");
        assert!(ok.starts_with("HTTP/1.1 200") && ok.contains("You can close this tab"), "{ok}");
        // The listener is gone: a replayed callback finds nothing listening.
        assert!(TcpStream::connect(("127.0.0.1", port)).await.is_err());
    }
}
