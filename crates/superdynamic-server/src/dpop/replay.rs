//! A bounded memory of the proofs (`jti`) seen while they could still be accepted (RFC 9449 §11.1): a proof
//! replayed within its `iat` window is refused.

use std::collections::HashMap;
use std::sync::Mutex;

pub const DEFAULT_CAPACITY: usize = 100_000;

pub struct ReplayCache {
    capacity: usize,
    /// jti → until when it matters (unix seconds).
    seen: Mutex<HashMap<String, i64>>,
}

impl ReplayCache {
    pub fn new(capacity: usize) -> Self {
        Self { capacity: capacity.max(1), seen: Mutex::default() }
    }

    /// Records `jti`; `false` when it was seen before and has not expired.
    pub fn insert(&self, jti: &str, until: i64, now: i64) -> bool {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.get(jti).is_some_and(|&t| t >= now) {
            return false;
        }
        if seen.len() >= self.capacity {
            seen.retain(|_, &mut t| t >= now);
            if seen.len() >= self.capacity {
                // Full of live entries: refusing every new proof would be worse than forgetting; a replay then
                // still needs an accepted iat, a matching htm/htu and (on resources) the token.
                seen.clear();
            }
        }
        seen.insert(jti.to_owned(), until);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jti_is_accepted_once_while_it_matters() {
        let cache = ReplayCache::new(10);
        assert!(cache.insert("a", 160, 100));
        assert!(!cache.insert("a", 170, 110), "replayed within the window");
        assert!(cache.insert("a", 300, 200), "after the window the entry is gone");
    }

    #[test]
    fn the_cache_stays_bounded() {
        let cache = ReplayCache::new(3);
        for (i, jti) in ["a", "b", "c", "d", "e"].iter().enumerate() {
            assert!(cache.insert(jti, 1000, i as i64));
        }
        assert!(cache.seen.lock().unwrap().len() <= 3);
    }
}
