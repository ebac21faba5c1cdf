//! rmcp's `StateStore`: the PKCE verifier and CSRF `state` of a sign-in, kept between the authorization URL and
//! the callback.
//!
//! In memory on purpose: the state lives for one sign-in, and the callback is received by the process that
//! made the authorization URL (a loopback listener, or the web app's own route). Writing verifiers to a file,
//! keychain or database would only widen where a secret can be read, and a restarted process cannot finish a
//! sign-in anyway (its redirect listener is gone). A state older than [`STATE_TTL`] is dropped, as rmcp asks
//! of implementors.

use crate::token::now_unix;
use ::rmcp::transport::auth::{AuthError, StateStore, StoredAuthorizationState};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;

/// A sign-in not finished within this is abandoned (the same as `ClientOptions::auth_timeout`'s default).
pub const STATE_TTL: Duration = Duration::from_secs(300);

/// Pending sign-ins by their CSRF `state`.
#[derive(Clone, Default)]
pub struct RmcpStateStore {
    states: Arc<Mutex<HashMap<String, StoredAuthorizationState>>>,
}

impl std::fmt::Debug for RmcpStateStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RmcpStateStore")
    }
}

impl RmcpStateStore {
    pub fn new() -> Self {
        Self::default()
    }
}

fn fresh(state: &StoredAuthorizationState, now: u64) -> bool {
    now.saturating_sub(state.created_at) < STATE_TTL.as_secs()
}

#[async_trait::async_trait]
impl StateStore for RmcpStateStore {
    async fn save(&self, csrf_token: &str, state: StoredAuthorizationState) -> Result<(), AuthError> {
        let mut states = self.states.lock().await;
        let now = now_unix();
        states.retain(|_, s| fresh(s, now));
        states.insert(csrf_token.to_string(), state);
        Ok(())
    }

    async fn load(&self, csrf_token: &str) -> Result<Option<StoredAuthorizationState>, AuthError> {
        let states = self.states.lock().await;
        Ok(states.get(csrf_token).filter(|s| fresh(s, now_unix())).cloned())
    }

    async fn delete(&self, csrf_token: &str) -> Result<(), AuthError> {
        self.states.lock().await.remove(csrf_token);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// rmcp's state is `non_exhaustive`; its serde form is public.
    fn state(created_at: u64) -> StoredAuthorizationState {
        let state =
            serde_json::json!({ "pkce_verifier": "v".repeat(43), "csrf_token": "csrf", "created_at": created_at });
        serde_json::from_value(state).unwrap()
    }

    #[tokio::test]
    async fn a_state_is_kept_until_deleted_and_an_abandoned_one_expires() {
        let store = RmcpStateStore::new();
        store.save("fresh", state(now_unix())).await.unwrap();
        assert!(store.load("fresh").await.unwrap().is_some());
        store.delete("fresh").await.unwrap();
        assert!(store.load("fresh").await.unwrap().is_none());

        store.save("old", state(now_unix() - STATE_TTL.as_secs() - 1)).await.unwrap();
        assert!(store.load("old").await.unwrap().is_none(), "older than the sign-in timeout");
        store.save("another", state(now_unix())).await.unwrap();
        assert_eq!(store.states.lock().await.len(), 1, "saving drops the abandoned ones");
    }
}
