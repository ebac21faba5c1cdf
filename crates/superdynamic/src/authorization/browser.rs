//! Opening the authorization URL in the user's browser: never through a shell, and only for https (or http
//! on loopback) URLs (MCP security best practices §Authorization URL validation).

use crate::resource::is_secure_or_loopback;
use std::process::{Command, Stdio};
use url::Url;

#[derive(Debug, thiserror::Error)]
pub enum BrowserError {
    #[error("refusing to open '{0}': only https URLs (or http on this machine) are opened")]
    UnsafeUrl(String),
    #[error("could not start a browser ({program}): {source}. Open the URL yourself, or use --no-browser")]
    Launch { program: String, source: std::io::Error },
}

/// Opens `url` with `$BROWSER` when set (a program name or path, run with the URL as its only argument),
/// else the platform's opener.
pub fn open(url: &Url) -> Result<(), BrowserError> {
    if !is_secure_or_loopback(url) {
        return Err(BrowserError::UnsafeUrl(url.to_string()));
    }
    let (program, mut args): (String, Vec<String>) = match std::env::var("BROWSER") {
        Ok(b) if !b.trim().is_empty() => (b.trim().to_string(), vec![]),
        _ if cfg!(target_os = "macos") => ("open".into(), vec![]),
        _ if cfg!(windows) => ("rundll32".into(), vec!["url.dll,FileProtocolHandler".into()]),
        _ => ("xdg-open".into(), vec![]),
    };
    args.push(url.to_string());
    Command::new(&program)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map(drop)
        .map_err(|source| BrowserError::Launch { program, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dangerous_schemes_are_never_opened() {
        for bad in ["javascript:alert(1)", "file:///etc/passwd", "data:text/html,x", "http://example.com/a"] {
            let url = Url::parse(bad).unwrap();
            assert!(matches!(open(&url), Err(BrowserError::UnsafeUrl(_))), "{bad}");
        }
    }
}
