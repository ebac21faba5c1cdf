//! The one clock: whole seconds since the Unix epoch, for token expiry, registrations and DPoP proofs' `iat`.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in Unix seconds; 0 if the system clock is before 1970 (every token then looks expired: safe).
pub fn now_unix() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}
