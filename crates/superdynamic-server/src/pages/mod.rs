//! The HTML the server shows to people: sign-in, consent, device and error pages (the authorization server
//! fills them in) and the page about the server ([`docs`]).

pub mod docs;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

/// Escapes text for HTML element content and double-quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Anti-framing (clickjacking) and no caching for every page we render
/// (MCP Security Best Practices §Confused Deputy: consent UI protections).
pub fn with_page_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        // No form-action: browsers apply it to the redirect that follows the
        // form post, which goes to the client's redirect URI.
        HeaderValue::from_static("frame-ancestors 'none'; default-src 'none'; style-src 'unsafe-inline'"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

pub(crate) fn layout(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{title}</title>\
<style>body{{font-family:system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;line-height:1.5}}\
.host{{font-family:monospace;background:#eee;padding:0 .3em}}button{{font-size:1rem;padding:.4rem 1.2rem;margin-right:.6rem}}</style>\
</head><body>{body}</body></html>\n",
        title = escape(title)
    )
}

/// An error shown to the user instead of redirecting (OAuth 2.1 §4.1.2.1:
/// never redirect to an unverified redirect URI).
pub fn error_page(status: StatusCode, message: &str) -> Response {
    let body = format!(
        "<h1>Authorization error</h1><p>{}</p><p>Return to the application and try again.</p>",
        escape(message)
    );
    with_page_headers((status, Html(layout("Authorization error", &body))).into_response())
}

/// What the consent page shows and posts back.
pub struct ConsentView<'a> {
    /// Host of the client's metadata document (URL client_ids only).
    pub document_host: Option<&'a str>,
    pub client_name: &'a str,
    pub redirect_host: &'a str,
    pub redirect_uri: &'a str,
    pub scopes: Vec<(&'a str, &'static str)>,
    pub consent_id: &'a str,
    pub csrf_token: &'a str,
    pub subject: &'a str,
}

/// Each requested scope in words, with its name, as list items.
fn scope_items(scopes: &[(&str, &str)]) -> String {
    scopes
        .iter()
        .map(|(scope, words)| format!("<li>{} <small>(<code>{}</code>)</small></li>", escape(words), escape(scope)))
        .collect()
}

pub fn consent_page(view: &ConsentView<'_>) -> String {
    let scopes = scope_items(&view.scopes);
    let body = format!(
        "<h1>Allow access?</h1>\
<p><strong>{client}</strong> wants to access your account <code>{subject}</code>.</p>{published}\
<p>After you decide, you will be sent to <span class=\"host\">{host}</span> \
(<code>{uri}</code>).</p>\
<p>It asks to:</p><ul>{scopes}</ul>\
<form method=\"post\" action=\"/authorize/decision\">\
<input type=\"hidden\" name=\"consent_id\" value=\"{consent}\">\
<input type=\"hidden\" name=\"csrf_token\" value=\"{csrf}\">\
<button type=\"submit\" name=\"decision\" value=\"approve\">Approve</button>\
<button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button>\
</form>",
        client = escape(view.client_name),
        published = view
            .document_host
            .map(|h| format!("<p>This application is described by <span class=\"host\">{}</span>.</p>", escape(h)))
            .unwrap_or_default(),
        subject = escape(view.subject),
        host = escape(view.redirect_host),
        uri = escape(view.redirect_uri),
        consent = escape(view.consent_id),
        csrf = escape(view.csrf_token),
    );
    layout("Allow access?", &body)
}

/// The sign-in form shown before consent (and before `/consents`).
pub fn login_page(return_to: &str, csrf_token: &str, asking: Option<&str>, error: Option<&str>) -> String {
    let error = error.map(|e| format!("<p class=\"error\" role=\"alert\"><strong>{}</strong></p>", escape(e)));
    let asking = asking
        .map(|name| format!("<p>Sign in to continue to <strong>{}</strong>.</p>", escape(name)))
        .unwrap_or_default();
    let body = format!(
        "<h1>Sign in</h1>{error}{asking}\
<form method=\"post\" action=\"/login\">\
<input type=\"hidden\" name=\"return_to\" value=\"{return_to}\">\
<input type=\"hidden\" name=\"csrf_token\" value=\"{csrf}\">\
<p><label for=\"username\">Username</label><br><input id=\"username\" name=\"username\" autocomplete=\"username\" required></p>\
<p><label for=\"password\">Password</label><br><input id=\"password\" name=\"password\" type=\"password\" \
autocomplete=\"current-password\" required></p>\
<button type=\"submit\">Sign in</button>\
</form><p><small>Demo server: the default account is <code>demo</code> / <code>demo</code>.</small></p>",
        error = error.unwrap_or_default(),
        return_to = escape(return_to),
        csrf = escape(csrf_token),
    );
    layout("Sign in", &body)
}

/// One remembered consent on the `/consents` page.
pub struct ConsentRow {
    pub client_id: String,
    pub client_name: String,
    pub scope: String,
    pub granted_at: i64,
}

/// `/consents`: what the signed-in user has allowed, with Revoke buttons.
pub fn consents_page(username: &str, rows: &[ConsentRow], csrf_token: &str) -> String {
    let csrf = escape(csrf_token);
    let items: String = rows
        .iter()
        .map(|r| {
            format!(
                "<li><strong>{name}</strong> <small>(<code>{id}</code>)</small><br>scopes: <code>{scope}</code>, \
granted at {granted} (Unix time)\
<form method=\"post\" action=\"/consents/revoke\">\
<input type=\"hidden\" name=\"client_id\" value=\"{id}\">\
<input type=\"hidden\" name=\"csrf_token\" value=\"{csrf}\">\
<button type=\"submit\">Revoke</button></form></li>",
                name = escape(&r.client_name),
                id = escape(&r.client_id),
                scope = escape(&r.scope),
                granted = r.granted_at,
            )
        })
        .collect();
    let list = if rows.is_empty() {
        "<p>You have not allowed any application yet.</p>".to_owned()
    } else {
        format!("<ul>{items}</ul>")
    };
    let body = format!(
        "<h1>Your consents</h1><p>Signed in as <code>{user}</code>.</p>{list}\
<p>Revoking stops the application from refreshing its access; it must ask you again.</p>\
<form method=\"post\" action=\"/logout\"><input type=\"hidden\" name=\"csrf_token\" value=\"{csrf}\">\
<button type=\"submit\">Sign out</button></form>",
        user = escape(username),
    );
    layout("Your consents", &body)
}

/// A short page with a heading and one paragraph (device flow results).
pub fn info_page(title: &str, message: &str) -> String {
    layout(title, &format!("<h1>{}</h1><p>{}</p>", escape(title), escape(message)))
}

/// The device verification page (RFC 8628 §3.3): enter the user code.
pub fn device_entry_page(prefill: &str, error: Option<&str>) -> String {
    let error = error.map(|e| format!("<p class=\"error\" role=\"alert\"><strong>{}</strong></p>", escape(e)));
    let body = format!(
        "<h1>Connect a device</h1>{error}\
<p>Enter the code shown on your device.</p>\
<form method=\"post\" action=\"/device\">\
<label for=\"user_code\">Code</label> \
<input id=\"user_code\" name=\"user_code\" value=\"{prefill}\" autocomplete=\"off\" autocapitalize=\"characters\" \
spellcheck=\"false\" placeholder=\"XXXX-XXXX\" size=\"10\"> \
<button type=\"submit\">Continue</button>\
</form>",
        error = error.unwrap_or_default(),
        prefill = escape(prefill),
    );
    layout("Connect a device", &body)
}

/// What the device consent page shows and posts back.
pub struct DeviceConsentView<'a> {
    pub client_name: &'a str,
    pub user_code: &'a str,
    pub scopes: Vec<(&'a str, &'static str)>,
    pub csrf_token: &'a str,
    pub subject: &'a str,
}

pub fn device_consent_page(view: &DeviceConsentView<'_>) -> String {
    let scopes = scope_items(&view.scopes);
    let body = format!(
        "<h1>Allow a device?</h1>\
<p><strong>{client}</strong> wants to access your account <code>{subject}</code> from a device showing the code \
<span class=\"host\">{code}</span>.</p>\
<p>Only approve if you started this yourself and your device shows this exact code.</p>\
<p>It asks to:</p><ul>{scopes}</ul>\
<form method=\"post\" action=\"/device/decision\">\
<input type=\"hidden\" name=\"user_code\" value=\"{code}\">\
<input type=\"hidden\" name=\"csrf_token\" value=\"{csrf}\">\
<button type=\"submit\" name=\"decision\" value=\"approve\">Approve</button>\
<button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button>\
</form>",
        client = escape(view.client_name),
        subject = escape(view.subject),
        code = escape(view.user_code),
        csrf = escape(view.csrf_token),
    );
    layout("Allow a device?", &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(escape(r#"<script>"x"&'y'</script>"#), "&lt;script&gt;&quot;x&quot;&amp;&#39;y&#39;&lt;/script&gt;");
    }
}
