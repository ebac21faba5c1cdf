//! Client ID Metadata Documents already fetched and validated, kept per their `Cache-Control: max-age`
//! (CIMD §4.3); only good documents are kept.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::storage::RegisteredClient;

/// Most documents kept at once.
pub const MAX_CACHED: usize = 256;

/// Cached documents: URL → (client, valid until).
#[derive(Default)]
pub struct Cache {
    entries: Mutex<HashMap<String, (RegisteredClient, Instant)>>,
}

impl Cache {
    pub(crate) fn get(&self, url: &str) -> Option<RegisteredClient> {
        let entries = self.entries.lock().ok()?;
        entries.get(url).filter(|(_, until)| *until > Instant::now()).map(|(c, _)| c.clone())
    }

    pub(crate) fn put(&self, url: &str, client: &RegisteredClient, max_age: Duration) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        let now = Instant::now();
        if entries.len() >= MAX_CACHED {
            entries.retain(|_, (_, until)| *until > now);
        }
        if entries.len() < MAX_CACHED {
            entries.insert(url.to_owned(), (client.clone(), now + max_age));
        }
    }
}
