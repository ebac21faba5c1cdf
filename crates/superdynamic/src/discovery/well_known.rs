//! Well-known URL construction: RFC 9728 §3.1 (protected resource) and RFC 8414 §3.1 / OIDC Discovery §4
//! (authorization server), in the order the MCP specification gives.

use url::Url;

const PROTECTED_RESOURCE: &str = "/.well-known/oauth-protected-resource";
const OAUTH_AS: &str = "/.well-known/oauth-authorization-server";
const OPENID: &str = "/.well-known/openid-configuration";

/// The path of a URL without its trailing slash; empty for a root URL.
fn trimmed_path(url: &Url) -> &str {
    url.path().trim_end_matches('/')
}

fn origin_with(url: &Url, path: &str) -> Url {
    let mut out = url.clone();
    out.set_path(path);
    out.set_query(None);
    out.set_fragment(None);
    out
}

/// Where to look for protected resource metadata when the 401 gave no `resource_metadata`: the path form
/// first (only when the MCP URL has a path), then the root form (MCP 2025-11-25 §Protected Resource Metadata
/// Discovery). The suffix is inserted between host and path; the query is kept (RFC 9728 §3.1).
pub fn protected_resource_candidates(resource: &Url) -> Vec<Url> {
    let mut out = Vec::with_capacity(2);
    let path = trimmed_path(resource);
    if !path.is_empty() {
        let mut url = origin_with(resource, &format!("{PROTECTED_RESOURCE}{path}"));
        url.set_query(resource.query());
        out.push(url);
    }
    out.push(origin_with(resource, PROTECTED_RESOURCE));
    out
}

/// Where to look for authorization server metadata for an issuer (MCP 2025-11-25 §Authorization Server
/// Metadata Discovery): with a path, OAuth insertion, OIDC insertion, OIDC appending; without, OAuth then OIDC.
pub fn authorization_server_candidates(issuer: &Url) -> Vec<Url> {
    let path = trimmed_path(issuer);
    if path.is_empty() {
        vec![origin_with(issuer, OAUTH_AS), origin_with(issuer, OPENID)]
    } else {
        vec![
            origin_with(issuer, &format!("{OAUTH_AS}{path}")),
            origin_with(issuer, &format!("{OPENID}{path}")),
            origin_with(issuer, &format!("{path}{OPENID}")),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(urls: Vec<Url>) -> Vec<String> {
        urls.into_iter().map(String::from).collect()
    }

    #[test]
    fn protected_resource_urls_keep_port_and_drop_trailing_slash() {
        let u = Url::parse("https://h:8443/a/mcp").unwrap();
        assert_eq!(
            strings(protected_resource_candidates(&u)),
            [
                "https://h:8443/.well-known/oauth-protected-resource/a/mcp",
                "https://h:8443/.well-known/oauth-protected-resource"
            ]
        );
        let root = Url::parse("https://h/").unwrap();
        assert_eq!(strings(protected_resource_candidates(&root)), ["https://h/.well-known/oauth-protected-resource"]);
        let slash = Url::parse("https://h/mcp/").unwrap();
        assert_eq!(
            strings(protected_resource_candidates(&slash))[0],
            "https://h/.well-known/oauth-protected-resource/mcp"
        );
        let query = Url::parse("https://h/mcp?tenant=1").unwrap();
        assert_eq!(
            strings(protected_resource_candidates(&query))[0],
            "https://h/.well-known/oauth-protected-resource/mcp?tenant=1"
        );
    }

    #[test]
    fn authorization_server_urls_in_spec_order() {
        let with_path = Url::parse("https://auth.example.com/tenant1").unwrap();
        assert_eq!(
            strings(authorization_server_candidates(&with_path)),
            [
                "https://auth.example.com/.well-known/oauth-authorization-server/tenant1",
                "https://auth.example.com/.well-known/openid-configuration/tenant1",
                "https://auth.example.com/tenant1/.well-known/openid-configuration",
            ]
        );
        let bare = Url::parse("https://auth.example.com").unwrap();
        assert_eq!(
            strings(authorization_server_candidates(&bare)),
            [
                "https://auth.example.com/.well-known/oauth-authorization-server",
                "https://auth.example.com/.well-known/openid-configuration",
            ]
        );
    }
}
