//! `superdynamic proxy URL`: a remote MCP server on stdin/stdout, for hosts that only launch stdio servers.
//! The relay is the library's [`superdynamic::proxy`]; this maps flags to options. stdout carries only
//! JSON-RPC messages; everything else (narration, logs) goes to stderr or the log file.

use crate::Failure;
use crate::cli::GlobalArgs;
use crate::commands::{options, server_url};
use superdynamic::proxy::{HeaderMap, HeaderName, HeaderValue, ProxyEnd, ProxyOptions};
use superdynamic::resource::{ResourceUri, is_loopback_host};
use superdynamic::secret::ClientSecret;
use superdynamic::{McpClient, ResourceParameter, StaticClient};

pub use crate::cli::ProxyArgs as Args;

pub async fn run(global: &GlobalArgs, args: &Args) -> Result<(), Failure> {
    let url = server_url(global, args.url.as_deref())?;
    let parsed = url::Url::parse(url.trim()).map_err(|e| Failure::usage(format!("'{url}' is not a URL: {e}")))?;
    if parsed.scheme() == "http" && !is_loopback_host(&parsed) && !args.allow_http {
        return Err(Failure::usage(format!(
            "'{url}' is plain http to another machine: the access token would cross the network unencrypted. \
             Use https, or pass --allow-http if this network is trusted"
        )));
    }
    let mut options = options(global)?;
    options.server_stream = superdynamic::transport::ServerStream::Always; // list changes reach the host any time
    // stdin is the host's JSON-RPC channel: never read a pasted redirect from it.
    options.paste_redirect = false;
    options.handler = None;
    options.headers = headers(&args.headers)?;
    options.resource = match (args.resource.as_deref().map(str::trim), args.no_resource) {
        // mcp-remote: `--resource ""` is how its users switch the parameter off.
        (Some(""), _) | (None, true) => ResourceParameter::Omit,
        (Some(raw), _) => ResourceParameter::Override(
            ResourceUri::parse(raw).map_err(|e| Failure::usage(format!("--resource: {e}")))?,
        ),
        (None, false) => ResourceParameter::Discovered,
    };
    if let Some(info) = &args.static_client_info {
        if global.client_id.is_some() {
            return Err(Failure::usage("give either --static-client-info or --client-id, not both"));
        }
        options.static_clients.insert(0, static_client(info)?);
    }
    if let Some(raw) = &args.static_client_metadata {
        let mut metadata = client_metadata(raw)?;
        // Ours to decide: the scope (unless --scope says otherwise) and the name go where the flow uses them.
        if let Some(scope) = metadata.remove("scope").as_ref().and_then(serde_json::Value::as_str)
            && options.scope.is_none()
        {
            options.scope = Some(scope.to_owned());
        }
        if let Some(serde_json::Value::String(name)) = metadata.remove("client_name") {
            options.client_name = name;
        }
        options.registration_metadata = metadata;
    }
    if args.port.is_some() && global.callback_port.is_some() && args.port != global.callback_port {
        return Err(Failure::usage("give the callback port once: after the URL or as --callback-port"));
    }
    let callback_port = args.port.or(global.callback_port);
    options.callback_port = callback_port;
    if args.callback_host.is_some() || args.callback_path.is_some() {
        let server = ResourceUri::parse(&url).map_err(|e| Failure::usage(e.to_string()))?;
        let port = callback_port.unwrap_or_else(|| superdynamic::client::stable_port(&global.profile, &server));
        let host = args.callback_host.as_deref().unwrap_or("127.0.0.1");
        let path = args.callback_path.as_deref().unwrap_or("/callback");
        if !path.starts_with('/') {
            return Err(Failure::usage(format!("--callback-path '{path}' must start with /")));
        }
        let uri = url::Url::parse(&format!("http://{host}:{port}{path}"))
            .map_err(|e| Failure::usage(format!("--callback-host '{host}' / --callback-path '{path}': {e}")))?;
        options.redirect_uri = Some(uri);
    }
    let client = McpClient::new(&url, options).map_err(Failure::from_lib)?;
    let proxy_options = ProxyOptions { ignore_tools: args.ignore_tools.clone(), ..ProxyOptions::default() };
    let end = superdynamic::proxy::run(client, tokio::io::stdin(), tokio::io::stdout(), proxy_options, terminated())
        .await
        .map_err(|e| Failure::other(format!("reading stdin failed: {e}")))?;
    tracing::debug!(?end, "proxy finished");
    if end == ProxyEnd::Shutdown {
        // The runtime would wait for the blocking read of stdin, which may never return: leave now (stdout
        // was flushed by the relay).
        std::process::exit(0);
    }
    Ok(())
}

/// SIGTERM or Ctrl-C (SIGINT).
async fn terminated() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// `NAME:VALUE` pairs, `${VAR}` expanded from the environment (a missing variable is an error, not "").
fn headers(raw: &[String]) -> Result<HeaderMap, Failure> {
    let mut map = HeaderMap::new();
    for item in raw {
        let Some((name, value)) = item.split_once(':') else {
            return Err(Failure::usage(format!("--header '{item}' must be NAME:VALUE")));
        };
        let name = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| Failure::usage(format!("--header: '{}' is not a valid header name", name.trim())))?;
        let value = expand_env(value.trim(), |var| std::env::var(var).ok())?;
        let mut value = HeaderValue::from_str(&value)
            .map_err(|_| Failure::usage(format!("--header {name}: the value has characters a header cannot carry")))?;
        // Header values often hold API keys: keep them out of debug output.
        value.set_sensitive(true);
        map.append(name, value);
    }
    Ok(map)
}

/// Replaces each `${VAR}` with `lookup(VAR)`.
pub fn expand_env(input: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String, Failure> {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err(Failure::usage(format!("--header: unterminated ${{ in '{input}'")));
        };
        let var = &after[..end];
        let value = lookup(var)
            .ok_or_else(|| Failure::usage(format!("--header names ${{{var}}}, but that variable is not set")))?;
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// mcp-remote's files hold the whole registration (redirect URIs, issue time …): only these two are used.
#[derive(serde::Deserialize)]
struct StaticClientInfo {
    client_id: String,
    #[serde(default)]
    client_secret: Option<String>,
}

/// Inline JSON, or `@FILE` holding it (mcp-remote's convention).
fn json_argument(flag: &str, raw: &str) -> Result<String, Failure> {
    match raw.strip_prefix('@') {
        Some(path) => {
            std::fs::read_to_string(path).map_err(|e| Failure::usage(format!("{flag}: could not read {path}: {e}")))
        }
        None => Ok(raw.to_owned()),
    }
}

fn client_metadata(raw: &str) -> Result<serde_json::Map<String, serde_json::Value>, Failure> {
    let text = json_argument("--static-client-metadata", raw)?;
    serde_json::from_str(&text).map_err(|e| {
        Failure::usage(format!("--static-client-metadata must be a JSON object of client metadata (RFC 7591 §2): {e}"))
    })
}

fn static_client(raw: &str) -> Result<StaticClient, Failure> {
    let text = json_argument("--static-client-info", raw)?;
    let info: StaticClientInfo = serde_json::from_str(&text).map_err(|e| {
        Failure::usage(format!("--static-client-info must be {{\"client_id\": …, \"client_secret\": …}}: {e}"))
    })?;
    Ok(StaticClient {
        issuer: None,
        client_id: info.client_id,
        client_secret: info.client_secret.map(ClientSecret::new),
        private_key: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_variables_are_expanded_and_missing_ones_refused() {
        let lookup = |v: &str| (v == "TOKEN").then(|| "abc".to_owned());
        assert_eq!(expand_env("Bearer ${TOKEN}", lookup).ok().unwrap(), "Bearer abc");
        assert_eq!(expand_env("${TOKEN}-${TOKEN}", lookup).ok().unwrap(), "abc-abc");
        assert_eq!(expand_env("plain", lookup).ok().unwrap(), "plain");
        assert!(expand_env("${MISSING}", lookup).is_err());
        assert!(expand_env("${TOKEN", lookup).is_err());
    }

    #[test]
    fn headers_are_parsed_and_checked() {
        let map = headers(&["X-Api-Key: k1".to_owned(), "x-other:v".to_owned()]).ok().unwrap();
        assert_eq!(map.get("x-api-key").unwrap(), "k1");
        assert_eq!(map.get("x-other").unwrap(), "v");
        assert!(headers(&["nocolon".to_owned()]).is_err());
        assert!(headers(&["bad name: v".to_owned()]).is_err());
    }

    #[test]
    fn static_client_info_is_json() {
        let c = static_client(r#"{"client_id":"abc","client_secret":"s"}"#).ok().unwrap();
        assert_eq!(c.client_id, "abc");
        assert!(c.client_secret.is_some());
        assert!(static_client(r#"{"id":"abc"}"#).is_err());
    }
}
