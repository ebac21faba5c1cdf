//! Server-provided nonces (RFC 9449 §8, §9): a random value replaced every few minutes; the one before is
//! still accepted, so a client that just fetched one is not turned away at the switch.

use std::sync::Mutex;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// How long one nonce is handed out.
pub const ROTATION_SECS: i64 = 300;

pub struct NonceIssuer {
    state: Mutex<Rotation>,
}

struct Rotation {
    current: String,
    previous: Option<String>,
    since: i64,
}

fn fresh() -> String {
    let mut bytes = [0u8; 18];
    // Without randomness the nonce is still unique per server start-up; it only has to be unpredictable
    // enough that a proof cannot be made in advance.
    if getrandom::fill(&mut bytes).is_err() {
        bytes[..8].copy_from_slice(&crate::storage::now().to_be_bytes());
    }
    URL_SAFE_NO_PAD.encode(bytes)
}

impl Default for NonceIssuer {
    fn default() -> Self {
        Self::new()
    }
}

impl NonceIssuer {
    pub fn new() -> Self {
        Self { state: Mutex::new(Rotation { current: fresh(), previous: None, since: crate::storage::now() }) }
    }

    fn rotate(&self, now: i64) -> std::sync::MutexGuard<'_, Rotation> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if now - state.since >= ROTATION_SECS {
            let next = fresh();
            state.previous = Some(std::mem::replace(&mut state.current, next));
            state.since = now;
        }
        state
    }

    pub fn current(&self, now: i64) -> String {
        self.rotate(now).current.clone()
    }

    pub fn accepts(&self, nonce: &str, now: i64) -> bool {
        let state = self.rotate(now);
        state.current == nonce || state.previous.as_deref() == Some(nonce)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_previous_nonce_is_accepted_for_one_rotation() {
        let issuer = NonceIssuer::new();
        let t0 = crate::storage::now();
        let first = issuer.current(t0);
        assert!(issuer.accepts(&first, t0));
        assert!(!issuer.accepts("made-up", t0));
        let second = issuer.current(t0 + ROTATION_SECS);
        assert_ne!(first, second);
        assert!(issuer.accepts(&first, t0 + ROTATION_SECS), "the one before still works");
        issuer.current(t0 + 2 * ROTATION_SECS);
        assert!(!issuer.accepts(&first, t0 + 2 * ROTATION_SECS), "two rotations later it does not");
    }
}
