//! The demo users who can sign in before consenting.
//!
//! `--users FILE` is JSON:
//!
//! ```json
//! {"users": [
//!   {"username": "alice", "password_hash": "pbkdf2-sha256$600000$<salt b64url>$<hash b64url>"},
//!   {"username": "demo", "password": "demo"}
//! ]}
//! ```
//!
//! `password_hash` is PBKDF2-HMAC-SHA256 (RFC 8018 §5.2) with a random salt;
//! make one with `superdynamic-server --hash-password` (reads stdin).
//! `password` (plain text) is accepted for demo accounts only. Without a
//! file there is one user, `demo` / `demo`.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::pbkdf2;
use serde::Deserialize;

use crate::oauth::secrets::{fill_random, hash_secret, hashes_equal};

const SCHEME: &str = "pbkdf2-sha256";
/// OWASP 2023 recommendation for PBKDF2-HMAC-SHA256.
pub const DEFAULT_ITERATIONS: u32 = 600_000;

#[derive(Debug, thiserror::Error)]
pub enum UsersError {
    #[error("could not read the users file: {0}")]
    Read(#[from] std::io::Error),
    #[error("the users file is not valid: {0}")]
    Invalid(String),
}

#[derive(Clone)]
enum Credential {
    Plain(String),
    Pbkdf2 { iterations: NonZeroU32, salt: Vec<u8>, hash: Vec<u8> },
}

/// Usernames and how to check their passwords.
#[derive(Clone)]
pub struct Users {
    users: HashMap<String, Credential>,
}

impl std::fmt::Debug for Users {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print credentials.
        f.debug_struct("Users").field("count", &self.users.len()).finish()
    }
}

#[derive(Deserialize)]
struct UsersFile {
    users: Vec<UserEntry>,
}

#[derive(Deserialize)]
struct UserEntry {
    username: String,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    password_hash: Option<String>,
}

impl Default for Users {
    /// The single demo user `demo` / `demo`.
    fn default() -> Self {
        Self { users: HashMap::from([("demo".to_owned(), Credential::Plain("demo".to_owned()))]) }
    }
}

fn parse_hash(encoded: &str) -> Result<Credential, UsersError> {
    let invalid = || UsersError::Invalid(format!("password_hash must look like {SCHEME}$<iterations>$<salt>$<hash>"));
    let mut parts = encoded.split('$');
    if parts.next() != Some(SCHEME) {
        return Err(invalid());
    }
    let iterations = parts.next().and_then(|i| i.parse::<u32>().ok()).and_then(NonZeroU32::new).ok_or_else(invalid)?;
    let salt = parts.next().and_then(|s| URL_SAFE_NO_PAD.decode(s).ok()).ok_or_else(invalid)?;
    let hash = parts.next().and_then(|h| URL_SAFE_NO_PAD.decode(h).ok()).ok_or_else(invalid)?;
    if parts.next().is_some() || salt.len() < 8 || hash.len() != 32 {
        return Err(invalid());
    }
    Ok(Credential::Pbkdf2 { iterations, salt, hash })
}

/// A new `pbkdf2-sha256$…` hash of `password` with a random 16-byte salt.
pub fn hash_password(password: &str, iterations: u32) -> Result<String, String> {
    let iterations = NonZeroU32::new(iterations).ok_or("iterations must be positive")?;
    let mut salt = [0u8; 16];
    fill_random(&mut salt).map_err(|e| e.to_string())?;
    let mut hash = [0u8; 32];
    pbkdf2::derive(pbkdf2::PBKDF2_HMAC_SHA256, iterations, &salt, password.as_bytes(), &mut hash);
    Ok(format!("{SCHEME}${iterations}${}${}", URL_SAFE_NO_PAD.encode(salt), URL_SAFE_NO_PAD.encode(hash)))
}

impl Users {
    pub fn from_json(text: &str) -> Result<Self, UsersError> {
        let file: UsersFile = serde_json::from_str(text).map_err(|e| UsersError::Invalid(e.to_string()))?;
        let mut users = HashMap::new();
        for entry in file.users {
            if entry.username.is_empty() {
                return Err(UsersError::Invalid("a username is empty".into()));
            }
            let credential = match (entry.password, entry.password_hash) {
                (None, Some(hash)) => parse_hash(&hash)?,
                (Some(plain), None) => Credential::Plain(plain),
                _ => {
                    return Err(UsersError::Invalid(format!(
                        "user {:?} needs exactly one of password_hash or password",
                        entry.username
                    )));
                }
            };
            if users.insert(entry.username.clone(), credential).is_some() {
                return Err(UsersError::Invalid(format!("user {:?} is listed twice", entry.username)));
            }
        }
        if users.is_empty() {
            return Err(UsersError::Invalid("the file lists no users".into()));
        }
        Ok(Self { users })
    }

    pub fn load(path: &Path) -> Result<Self, UsersError> {
        Self::from_json(&std::fs::read_to_string(path)?)
    }

    /// Whether `password` is right for `username` (no early exit on the
    /// password comparison; unknown users cost the same hash).
    pub fn verify(&self, username: &str, password: &str) -> bool {
        match self.users.get(username) {
            Some(Credential::Plain(expected)) => hashes_equal(&hash_secret(expected), &hash_secret(password)),
            Some(Credential::Pbkdf2 { iterations, salt, hash }) => {
                pbkdf2::verify(pbkdf2::PBKDF2_HMAC_SHA256, *iterations, salt, password.as_bytes(), hash).is_ok()
            }
            None => {
                let mut sink = [0u8; 32];
                let iterations = NonZeroU32::new(DEFAULT_ITERATIONS).unwrap_or(NonZeroU32::MIN);
                pbkdf2::derive(
                    pbkdf2::PBKDF2_HMAC_SHA256,
                    iterations,
                    b"unknown-user-salt",
                    password.as_bytes(),
                    &mut sink,
                );
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_demo_user() {
        let users = Users::default();
        assert!(users.verify("demo", "demo"));
        assert!(!users.verify("demo", "Demo"));
        assert!(!users.verify("nobody", "demo"));
    }

    #[test]
    fn hashed_and_plain_users_from_json() {
        let hash = hash_password("s3cret", 1000).unwrap();
        let json = format!(
            r#"{{"users":[{{"username":"alice","password_hash":"{hash}"}},{{"username":"bob","password":"pw"}}]}}"#
        );
        let users = Users::from_json(&json).unwrap();
        assert!(users.verify("alice", "s3cret"));
        assert!(!users.verify("alice", "s3cret "));
        assert!(users.verify("bob", "pw"));
        assert!(Users::from_json(r#"{"users":[{"username":"x"}]}"#).is_err());
        assert!(Users::from_json(r#"{"users":[{"username":"x","password_hash":"md5$1$a$b"}]}"#).is_err());
        assert!(Users::from_json(r#"{"users":[]}"#).is_err());
    }
}
