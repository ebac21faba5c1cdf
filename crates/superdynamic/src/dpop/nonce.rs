//! Server-provided DPoP nonces (RFC 9449 §8, §9), remembered per origin: the authorization server and the
//! MCP server each hand out their own.

use std::collections::HashMap;
use std::sync::Mutex;
use url::Url;

/// RFC 9449 §8.1 does not bound a nonce; 512 bytes is far beyond any real one and keeps headers small.
pub const MAX_NONCE_LEN: usize = 512;

/// The nonce each origin asked for last.
#[derive(Debug, Default)]
pub struct NonceStore {
    by_origin: Mutex<HashMap<String, String>>,
}

impl NonceStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// The nonce to put in a proof for `url`, if its origin gave one.
    pub fn get(&self, url: &Url) -> Option<String> {
        self.by_origin.lock().ok()?.get(&origin(url)).cloned()
    }

    /// Remembers a `DPoP-Nonce` header value from `url`'s origin. A value that is not a valid nonce
    /// (§8.1: `1*NQCHAR`, here at most [`MAX_NONCE_LEN`] bytes) is ignored; the answer says whether it was
    /// kept and differs from the one known before (a retry with it is worth making).
    pub fn remember(&self, url: &Url, value: &str) -> bool {
        if !is_valid_nonce(value) {
            tracing::debug!(origin = %origin(url), "ignoring a DPoP-Nonce that is not 1*NQCHAR of at most 512 bytes");
            return false;
        }
        let Ok(mut map) = self.by_origin.lock() else { return false };
        map.insert(origin(url), value.to_string()).as_deref() != Some(value)
    }
}

/// RFC 9449 §8.1: `nonce = 1*NQCHAR`, NQCHAR = %x21 / %x23-5B / %x5D-7E (printable ASCII but `"` and `\`).
pub fn is_valid_nonce(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= MAX_NONCE_LEN
        && value.bytes().all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
}

fn origin(url: &Url) -> String {
    url.origin().ascii_serialization()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_are_kept_per_origin() {
        let store = NonceStore::new();
        let a = Url::parse("https://as.example/token").unwrap();
        let a_other_path = Url::parse("https://as.example/other?x=1").unwrap();
        let b = Url::parse("https://mcp.example/mcp").unwrap();
        assert!(store.remember(&a, "eyJ7S_zG.eyJH0-Z.HX4w-7v"));
        assert_eq!(store.get(&a_other_path).as_deref(), Some("eyJ7S_zG.eyJH0-Z.HX4w-7v"));
        assert_eq!(store.get(&b), None);
        assert!(!store.remember(&a, "eyJ7S_zG.eyJH0-Z.HX4w-7v"), "the same nonce again is no reason to retry");
    }

    #[test]
    fn invalid_nonces_are_ignored() {
        let store = NonceStore::new();
        let url = Url::parse("https://as.example/token").unwrap();
        for bad in ["", "has space", "quote\"d", "back\\slash", "tab\t", "é", &"n".repeat(513)] {
            assert!(!store.remember(&url, bad), "{bad:?}");
        }
        assert_eq!(store.get(&url), None);
        assert!(store.remember(&url, &"n".repeat(512)));
    }
}
