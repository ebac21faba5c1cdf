//! The loopback redirect listener (RFC 8252 §7.3), on a port stable per server.

use super::McpClient;
use crate::authorization::{AuthorizationError, CallbackListener};
use crate::error::Error;
use crate::resource::ResourceUri;

impl McpClient {
    /// RFC 8252 §7.3 loopback redirect on a port stable per server (so a dynamic registration's redirect URI
    /// keeps matching), falling back to any free port when it is taken.
    pub(super) async fn bind_listener(&self) -> Result<CallbackListener, Error> {
        if let Some(uri) = &self.options.redirect_uri {
            let port = self.options.callback_port.or(uri.port_or_known_default()).unwrap_or(0);
            return CallbackListener::bind_for(port, uri)
                .await
                .map_err(|source| AuthorizationError::Listen { port, source }.into());
        }
        let port = self.options.callback_port.unwrap_or_else(|| stable_port(&self.options.profile, &self.server));
        match CallbackListener::bind(port).await {
            Ok(l) => Ok(l),
            Err(_) if self.options.callback_port.is_none() => {
                CallbackListener::bind(0).await.map_err(|source| AuthorizationError::Listen { port: 0, source }.into())
            }
            Err(source) => Err(AuthorizationError::Listen { port, source }.into()),
        }
    }
}

/// A port in 49152..=65535 derived from (profile, server) with FNV-1a: the same server gets the same redirect
/// URI on every run, so its dynamic registration stays valid.
pub fn stable_port(profile: &str, server: &ResourceUri) -> u16 {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in profile.bytes().chain([0]).chain(server.as_str().bytes()) {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    49152 + (hash % 16384) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_port_is_stable_and_in_the_dynamic_range() {
        let a = ResourceUri::parse("https://mcp.example.com/mcp").unwrap();
        let b = ResourceUri::parse("https://other.example.com/mcp").unwrap();
        assert_eq!(stable_port("default", &a), stable_port("default", &a));
        assert_ne!(stable_port("default", &a), stable_port("default", &b));
        assert_ne!(stable_port("default", &a), stable_port("work", &a));
        assert!(stable_port("default", &a) >= 49152);
    }
}
