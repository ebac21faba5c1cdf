//! SQLite persistence: registered clients, authorization codes, refresh
//! tokens, pending consent requests, device authorization requests, revoked
//! access tokens and the token signing key.
//!
//! Credentials are stored only as hashes (see [`crate::oauth::secrets`]). Each
//! statement is short, so handlers call the store directly under one mutex.

pub mod client_metadata;
mod dpop_bindings;

use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, params};

use client_metadata::ClientMetadata;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("stored client metadata is not valid JSON: {0}")]
    CorruptMetadata(#[from] serde_json::Error),
    #[error("a previous request panicked while holding the database lock")]
    Poisoned,
}

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)).unwrap_or(0)
}

/// Milliseconds since the Unix epoch (device-code polling intervals).
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)).unwrap_or(0)
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS clients (
    client_id    TEXT PRIMARY KEY,
    secret_hash  TEXT,
    metadata     TEXT NOT NULL,
    issued_at    INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS authorization_codes (
    code_hash        TEXT PRIMARY KEY,
    client_id        TEXT NOT NULL,
    redirect_uri     TEXT NOT NULL,
    redirect_uri_sent INTEGER NOT NULL,
    code_challenge   TEXT NOT NULL,
    scope            TEXT NOT NULL,
    resource         TEXT NOT NULL,
    subject          TEXT NOT NULL,
    expires_at       INTEGER NOT NULL,
    used             INTEGER NOT NULL DEFAULT 0,
    token_family     TEXT
);
CREATE TABLE IF NOT EXISTS refresh_tokens (
    token_hash  TEXT PRIMARY KEY,
    family_id   TEXT NOT NULL,
    client_id   TEXT NOT NULL,
    scope       TEXT NOT NULL,
    resource    TEXT NOT NULL,
    subject     TEXT NOT NULL,
    expires_at  INTEGER NOT NULL,
    used        INTEGER NOT NULL DEFAULT 0,
    revoked     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS refresh_tokens_family ON refresh_tokens(family_id);
CREATE TABLE IF NOT EXISTS pending_consents (
    consent_hash     TEXT PRIMARY KEY,
    csrf_hash        TEXT NOT NULL,
    client_id        TEXT NOT NULL,
    redirect_uri     TEXT NOT NULL,
    redirect_uri_sent INTEGER NOT NULL,
    state            TEXT,
    code_challenge   TEXT NOT NULL,
    scope            TEXT NOT NULL,
    resource         TEXT NOT NULL,
    subject          TEXT NOT NULL,
    expires_at       INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS device_codes (
    device_code_hash TEXT PRIMARY KEY,
    user_code_hash   TEXT NOT NULL UNIQUE,
    client_id        TEXT NOT NULL,
    scope            TEXT NOT NULL,
    resource         TEXT NOT NULL,
    expires_at       INTEGER NOT NULL,
    interval_ms      INTEGER NOT NULL,
    last_polled_ms   INTEGER,
    status           TEXT NOT NULL DEFAULT 'pending',
    subject          TEXT,
    csrf_hash        TEXT,
    token_family     TEXT
);
CREATE TABLE IF NOT EXISTS dpop_family_keys (
    family_id   TEXT PRIMARY KEY,
    jkt         TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS revoked_access_tokens (
    jti         TEXT PRIMARY KEY,
    expires_at  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS signing_keys (
    kid         TEXT PRIMARY KEY,
    pkcs8       BLOB NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    id_hash     TEXT PRIMARY KEY,
    username    TEXT NOT NULL,
    csrf_hash   TEXT NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS consents (
    subject     TEXT NOT NULL,
    client_id   TEXT NOT NULL,
    scope       TEXT NOT NULL,
    granted_at  INTEGER NOT NULL,
    PRIMARY KEY (subject, client_id)
);
CREATE TABLE IF NOT EXISTS client_assertion_jtis (
    client_id   TEXT NOT NULL,
    jti_hash    TEXT NOT NULL,
    expires_at  INTEGER NOT NULL,
    PRIMARY KEY (client_id, jti_hash)
);
";

/// A client as registered through RFC 7591.
#[derive(Debug, Clone)]
pub struct RegisteredClient {
    pub client_id: String,
    pub secret_hash: Option<String>,
    pub metadata: ClientMetadata,
    pub issued_at: i64,
    /// RFC 7592 registration access token, hashed (`None` for clients from
    /// an older database or from a Client ID Metadata Document).
    pub registration_token_hash: Option<String>,
}

/// Everything an authorization code (or a pending consent) is bound to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub client_id: String,
    /// The redirect URI used in the authorization request.
    pub redirect_uri: String,
    /// Whether the request carried `redirect_uri` explicitly; if so the token
    /// request must repeat it (RFC 6749 §4.1.3).
    pub redirect_uri_sent: bool,
    pub code_challenge: String,
    pub scope: String,
    pub resource: String,
    pub subject: String,
}

/// Result of trying to redeem an authorization code.
#[derive(Debug)]
pub enum CodeRedemption {
    Redeemed {
        grant: Grant,
        expires_at: i64,
    },
    /// Replay: the code was redeemed before. Carries the refresh-token family
    /// issued from it, if any, so it can be revoked.
    AlreadyUsed {
        token_family: Option<String>,
    },
    Unknown,
}

/// A refresh token's stored state.
#[derive(Debug, Clone)]
pub struct RefreshRecord {
    pub family_id: String,
    pub client_id: String,
    pub scope: String,
    pub resource: String,
    pub subject: String,
    pub expires_at: i64,
    pub used: bool,
    pub revoked: bool,
}

/// A consent page that was shown and is waiting for Approve/Deny.
#[derive(Debug, Clone)]
pub struct PendingConsent {
    pub csrf_hash: String,
    pub grant: Grant,
    pub state: Option<String>,
    pub expires_at: i64,
}

/// A device authorization request (RFC 8628) as the verification page sees it.
#[derive(Debug, Clone)]
pub struct DeviceRequest {
    pub client_id: String,
    pub scope: String,
    pub expires_at: i64,
    /// `pending`, `approved`, `denied` or `redeemed`.
    pub status: String,
    /// Hash of the CSRF token of the consent page last shown for it.
    pub csrf_hash: Option<String>,
}

/// What a device-code poll at the token endpoint found (RFC 8628 §3.5).
#[derive(Debug)]
pub enum DevicePoll {
    /// No such device code, or it belongs to another client.
    Unknown,
    Expired,
    /// Polled faster than the interval; the interval has grown by 5 s.
    SlowDown,
    Pending,
    Denied,
    /// Redeemed before: carries the refresh-token family it produced, if any.
    AlreadyUsed {
        token_family: Option<String>,
    },
    /// Approved; it is now marked redeemed (single use).
    Approved {
        scope: String,
        resource: String,
        subject: String,
    },
}

/// RFC 8628 §3.5: each `slow_down` adds 5 seconds to the polling interval.
const SLOW_DOWN_STEP_MS: i64 = 5_000;

pub struct Store {
    conn: Mutex<Connection>,
}

impl Store {
    pub fn open_file(path: &Path) -> Result<Self, StorageError> {
        Self::init(Connection::open(path)?)
    }

    pub fn open_memory() -> Result<Self, StorageError> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> Result<Self, StorageError> {
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        // Columns added after the first release: add them to older files.
        let has_column = |table: &str, column: &str| -> Result<bool, rusqlite::Error> {
            let mut stmt = conn.prepare(&format!("PRAGMA table_info({table})"))?;
            let names = stmt.query_map([], |r| r.get::<_, String>(1))?.collect::<Result<Vec<_>, _>>()?;
            Ok(names.iter().any(|n| n == column))
        };
        if !has_column("clients", "registration_token_hash")? {
            conn.execute_batch("ALTER TABLE clients ADD COLUMN registration_token_hash TEXT")?;
        }
        Ok(Self { conn: Mutex::new(conn) })
    }

    fn conn(&self) -> Result<MutexGuard<'_, Connection>, StorageError> {
        self.conn.lock().map_err(|_| StorageError::Poisoned)
    }

    // --- clients -----------------------------------------------------------

    pub fn insert_client(&self, client: &RegisteredClient) -> Result<(), StorageError> {
        let metadata = serde_json::to_string(&client.metadata)?;
        self.conn()?.execute(
            "INSERT INTO clients (client_id, secret_hash, metadata, issued_at, registration_token_hash)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![client.client_id, client.secret_hash, metadata, client.issued_at, client.registration_token_hash],
        )?;
        Ok(())
    }

    pub fn find_client(&self, client_id: &str) -> Result<Option<RegisteredClient>, StorageError> {
        let row = self
            .conn()?
            .query_row(
                "SELECT secret_hash, metadata, issued_at, registration_token_hash FROM clients WHERE client_id = ?1",
                params![client_id],
                |r| {
                    Ok((
                        r.get::<_, Option<String>>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, Option<String>>(3)?,
                    ))
                },
            )
            .optional()?;
        row.map(|(secret_hash, metadata, issued_at, registration_token_hash)| {
            Ok(RegisteredClient {
                client_id: client_id.to_owned(),
                secret_hash,
                metadata: serde_json::from_str(&metadata)?,
                issued_at,
                registration_token_hash,
            })
        })
        .transpose()
    }

    /// RFC 7592 §2.2: replaces a client's metadata (and secret hash).
    pub fn update_client(&self, client: &RegisteredClient) -> Result<bool, StorageError> {
        let metadata = serde_json::to_string(&client.metadata)?;
        let changed = self.conn()?.execute(
            "UPDATE clients SET secret_hash = ?2, metadata = ?3 WHERE client_id = ?1",
            params![client.client_id, client.secret_hash, metadata],
        )?;
        Ok(changed == 1)
    }

    /// RFC 7592 §2.3: forgets the client and revokes its refresh tokens, so
    /// nothing it was issued can be refreshed again.
    pub fn delete_client(&self, client_id: &str) -> Result<bool, StorageError> {
        let conn = self.conn()?;
        conn.execute("UPDATE refresh_tokens SET revoked = 1 WHERE client_id = ?1", params![client_id])?;
        conn.execute("DELETE FROM authorization_codes WHERE client_id = ?1", params![client_id])?;
        conn.execute("DELETE FROM pending_consents WHERE client_id = ?1", params![client_id])?;
        conn.execute("DELETE FROM device_codes WHERE client_id = ?1", params![client_id])?;
        let changed = conn.execute("DELETE FROM clients WHERE client_id = ?1", params![client_id])?;
        Ok(changed == 1)
    }

    /// RFC 7523 §3 (jti): records a client assertion's `jti` until `expires_at`.
    /// Returns false if the same client already used it (a replay).
    pub fn remember_assertion_jti(
        &self,
        client_id: &str,
        jti_hash: &str,
        expires_at: i64,
    ) -> Result<bool, StorageError> {
        let conn = self.conn()?;
        conn.execute("DELETE FROM client_assertion_jtis WHERE expires_at < ?1", params![now()])?;
        let changed = conn.execute(
            "INSERT OR IGNORE INTO client_assertion_jtis (client_id, jti_hash, expires_at) VALUES (?1, ?2, ?3)",
            params![client_id, jti_hash, expires_at],
        )?;
        Ok(changed == 1)
    }

    // --- authorization codes -----------------------------------------------

    pub fn insert_code(&self, code_hash: &str, grant: &Grant, expires_at: i64) -> Result<(), StorageError> {
        self.conn()?.execute(
            "INSERT INTO authorization_codes (code_hash, client_id, redirect_uri, redirect_uri_sent,
                 code_challenge, scope, resource, subject, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                code_hash,
                grant.client_id,
                grant.redirect_uri,
                grant.redirect_uri_sent,
                grant.code_challenge,
                grant.scope,
                grant.resource,
                grant.subject,
                expires_at
            ],
        )?;
        Ok(())
    }

    /// Marks the code used (single use, OAuth 2.1 §4.1.2) and returns what it
    /// was bound to. A second call for the same code reports the replay.
    pub fn redeem_code(&self, code_hash: &str) -> Result<CodeRedemption, StorageError> {
        let conn = self.conn()?;
        let row = conn
            .query_row(
                "SELECT client_id, redirect_uri, redirect_uri_sent, code_challenge, scope, resource,
                        subject, expires_at, used, token_family
                 FROM authorization_codes WHERE code_hash = ?1",
                params![code_hash],
                |r| {
                    Ok((
                        Grant {
                            client_id: r.get(0)?,
                            redirect_uri: r.get(1)?,
                            redirect_uri_sent: r.get(2)?,
                            code_challenge: r.get(3)?,
                            scope: r.get(4)?,
                            resource: r.get(5)?,
                            subject: r.get(6)?,
                        },
                        r.get::<_, i64>(7)?,
                        r.get::<_, bool>(8)?,
                        r.get::<_, Option<String>>(9)?,
                    ))
                },
            )
            .optional()?;
        let Some((grant, expires_at, used, token_family)) = row else {
            return Ok(CodeRedemption::Unknown);
        };
        if used {
            return Ok(CodeRedemption::AlreadyUsed { token_family });
        }
        conn.execute("UPDATE authorization_codes SET used = 1 WHERE code_hash = ?1", params![code_hash])?;
        Ok(CodeRedemption::Redeemed { grant, expires_at })
    }

    /// Remembers which refresh-token family a code produced, for replay revocation.
    pub fn link_code_to_family(&self, code_hash: &str, family_id: &str) -> Result<(), StorageError> {
        self.conn()?.execute(
            "UPDATE authorization_codes SET token_family = ?2 WHERE code_hash = ?1",
            params![code_hash, family_id],
        )?;
        Ok(())
    }

    // --- refresh tokens ------------------------------------------------------

    pub fn insert_refresh_token(&self, token_hash: &str, record: &RefreshRecord) -> Result<(), StorageError> {
        self.conn()?.execute(
            "INSERT INTO refresh_tokens (token_hash, family_id, client_id, scope, resource, subject, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                token_hash,
                record.family_id,
                record.client_id,
                record.scope,
                record.resource,
                record.subject,
                record.expires_at
            ],
        )?;
        Ok(())
    }

    pub fn find_refresh_token(&self, token_hash: &str) -> Result<Option<RefreshRecord>, StorageError> {
        Ok(self
            .conn()?
            .query_row(
                "SELECT family_id, client_id, scope, resource, subject, expires_at, used, revoked
                 FROM refresh_tokens WHERE token_hash = ?1",
                params![token_hash],
                |r| {
                    Ok(RefreshRecord {
                        family_id: r.get(0)?,
                        client_id: r.get(1)?,
                        scope: r.get(2)?,
                        resource: r.get(3)?,
                        subject: r.get(4)?,
                        expires_at: r.get(5)?,
                        used: r.get(6)?,
                        revoked: r.get(7)?,
                    })
                },
            )
            .optional()?)
    }

    /// Rotation: marks the token used. Returns false if it already was (a
    /// concurrent request won the race), which the caller treats as reuse.
    pub fn mark_refresh_token_used(&self, token_hash: &str) -> Result<bool, StorageError> {
        let changed = self.conn()?.execute(
            "UPDATE refresh_tokens SET used = 1 WHERE token_hash = ?1 AND used = 0 AND revoked = 0",
            params![token_hash],
        )?;
        Ok(changed == 1)
    }

    /// Revokes every refresh token descended from one authorization.
    pub fn revoke_family(&self, family_id: &str) -> Result<usize, StorageError> {
        Ok(self.conn()?.execute("UPDATE refresh_tokens SET revoked = 1 WHERE family_id = ?1", params![family_id])?)
    }

    // --- pending consents ------------------------------------------------------

    pub fn insert_pending_consent(&self, consent_hash: &str, pending: &PendingConsent) -> Result<(), StorageError> {
        let g = &pending.grant;
        self.conn()?.execute(
            "INSERT INTO pending_consents (consent_hash, csrf_hash, client_id, redirect_uri,
                 redirect_uri_sent, state, code_challenge, scope, resource, subject, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![
                consent_hash,
                pending.csrf_hash,
                g.client_id,
                g.redirect_uri,
                g.redirect_uri_sent,
                pending.state,
                g.code_challenge,
                g.scope,
                g.resource,
                g.subject,
                pending.expires_at
            ],
        )?;
        Ok(())
    }

    /// Removes and returns a pending consent: each consent page answers once.
    pub fn take_pending_consent(&self, consent_hash: &str) -> Result<Option<PendingConsent>, StorageError> {
        let conn = self.conn()?;
        let row = conn
            .query_row(
                "SELECT csrf_hash, client_id, redirect_uri, redirect_uri_sent, state, code_challenge,
                        scope, resource, subject, expires_at
                 FROM pending_consents WHERE consent_hash = ?1",
                params![consent_hash],
                |r| {
                    Ok(PendingConsent {
                        csrf_hash: r.get(0)?,
                        grant: Grant {
                            client_id: r.get(1)?,
                            redirect_uri: r.get(2)?,
                            redirect_uri_sent: r.get(3)?,
                            code_challenge: r.get(5)?,
                            scope: r.get(6)?,
                            resource: r.get(7)?,
                            subject: r.get(8)?,
                        },
                        state: r.get(4)?,
                        expires_at: r.get(9)?,
                    })
                },
            )
            .optional()?;
        if row.is_some() {
            conn.execute("DELETE FROM pending_consents WHERE consent_hash = ?1", params![consent_hash])?;
        }
        Ok(row)
    }

    // --- device authorization (RFC 8628) ------------------------------------

    /// Stores a new device authorization request. Returns false when the user
    /// code collides with an existing one (the caller draws another).
    #[allow(clippy::too_many_arguments)]
    pub fn insert_device_code(
        &self,
        device_code_hash: &str,
        user_code_hash: &str,
        client_id: &str,
        scope: &str,
        resource: &str,
        expires_at: i64,
        interval_ms: i64,
    ) -> Result<bool, StorageError> {
        let result = self.conn()?.execute(
            "INSERT INTO device_codes (device_code_hash, user_code_hash, client_id, scope, resource,
                 expires_at, interval_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![device_code_hash, user_code_hash, client_id, scope, resource, expires_at, interval_ms],
        );
        match result {
            Ok(_) => Ok(true),
            Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == rusqlite::ErrorCode::ConstraintViolation => {
                Ok(false)
            }
            Err(e) => Err(e.into()),
        }
    }

    pub fn find_device_by_user_code(&self, user_code_hash: &str) -> Result<Option<DeviceRequest>, StorageError> {
        Ok(self
            .conn()?
            .query_row(
                "SELECT client_id, scope, expires_at, status, csrf_hash
                 FROM device_codes WHERE user_code_hash = ?1",
                params![user_code_hash],
                |r| {
                    Ok(DeviceRequest {
                        client_id: r.get(0)?,
                        scope: r.get(1)?,
                        expires_at: r.get(2)?,
                        status: r.get(3)?,
                        csrf_hash: r.get(4)?,
                    })
                },
            )
            .optional()?)
    }

    /// Binds the consent page just shown to a pending request.
    pub fn set_device_csrf(&self, user_code_hash: &str, csrf_hash: &str) -> Result<bool, StorageError> {
        let changed = self.conn()?.execute(
            "UPDATE device_codes SET csrf_hash = ?2 WHERE user_code_hash = ?1 AND status = 'pending'",
            params![user_code_hash, csrf_hash],
        )?;
        Ok(changed == 1)
    }

    /// Records the user's answer. Only a pending, unexpired request changes
    /// (and, when `csrf_hash` is given, only the one whose consent page carried
    /// that token), so each request is answered once.
    pub fn decide_device(
        &self,
        user_code_hash: &str,
        csrf_hash: Option<&str>,
        approve: bool,
        subject: &str,
    ) -> Result<bool, StorageError> {
        let status = if approve { "approved" } else { "denied" };
        let changed = self.conn()?.execute(
            "UPDATE device_codes SET status = ?2, subject = ?3
             WHERE user_code_hash = ?1 AND status = 'pending' AND expires_at > ?4
               AND (?5 IS NULL OR csrf_hash = ?5)",
            params![user_code_hash, status, subject, now(), csrf_hash],
        )?;
        Ok(changed == 1)
    }

    /// One poll of the token endpoint, decided under the lock: expiry, then
    /// (while pending) the polling interval, then the user's answer. An
    /// approved code is marked redeemed here, so it yields tokens once.
    pub fn poll_device_code(&self, device_code_hash: &str, client_id: &str) -> Result<DevicePoll, StorageError> {
        let conn = self.conn()?;
        let row = conn
            .query_row(
                "SELECT client_id, scope, resource, expires_at, interval_ms, last_polled_ms, status,
                        subject, token_family
                 FROM device_codes WHERE device_code_hash = ?1",
                params![device_code_hash],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, i64>(3)?,
                        r.get::<_, i64>(4)?,
                        r.get::<_, Option<i64>>(5)?,
                        r.get::<_, String>(6)?,
                        r.get::<_, Option<String>>(7)?,
                        r.get::<_, Option<String>>(8)?,
                    ))
                },
            )
            .optional()?;
        let Some((owner, scope, resource, expires_at, interval_ms, last_polled, status, subject, family)) = row else {
            return Ok(DevicePoll::Unknown);
        };
        if owner != client_id {
            return Ok(DevicePoll::Unknown);
        }
        if status == "redeemed" {
            return Ok(DevicePoll::AlreadyUsed { token_family: family });
        }
        if expires_at <= now() {
            return Ok(DevicePoll::Expired);
        }
        match status.as_str() {
            "denied" => Ok(DevicePoll::Denied),
            "approved" => {
                let changed = conn.execute(
                    "UPDATE device_codes SET status = 'redeemed' WHERE device_code_hash = ?1 AND status = 'approved'",
                    params![device_code_hash],
                )?;
                match (changed, subject) {
                    (1, Some(subject)) => Ok(DevicePoll::Approved { scope, resource, subject }),
                    _ => Ok(DevicePoll::AlreadyUsed { token_family: family }),
                }
            }
            _ => {
                let t = now_ms();
                let too_fast = last_polled.is_some_and(|last| t.saturating_sub(last) < interval_ms);
                let interval_ms = if too_fast { interval_ms.saturating_add(SLOW_DOWN_STEP_MS) } else { interval_ms };
                conn.execute(
                    "UPDATE device_codes SET last_polled_ms = ?2, interval_ms = ?3 WHERE device_code_hash = ?1",
                    params![device_code_hash, t, interval_ms],
                )?;
                Ok(if too_fast { DevicePoll::SlowDown } else { DevicePoll::Pending })
            }
        }
    }

    /// Remembers which refresh-token family a device code produced.
    pub fn link_device_code_to_family(&self, device_code_hash: &str, family_id: &str) -> Result<(), StorageError> {
        self.conn()?.execute(
            "UPDATE device_codes SET token_family = ?2 WHERE device_code_hash = ?1",
            params![device_code_hash, family_id],
        )?;
        Ok(())
    }

    // --- revoked access tokens (RFC 7009) -----------------------------------

    pub fn insert_revoked_access_token(&self, jti: &str, expires_at: i64) -> Result<(), StorageError> {
        self.conn()?.execute(
            "INSERT OR IGNORE INTO revoked_access_tokens (jti, expires_at) VALUES (?1, ?2)",
            params![jti, expires_at],
        )?;
        Ok(())
    }

    /// Revoked access tokens that have not expired yet, as (jti, exp).
    pub fn revoked_access_tokens(&self) -> Result<Vec<(String, i64)>, StorageError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare("SELECT jti, expires_at FROM revoked_access_tokens WHERE expires_at >= ?1")?;
        let rows = stmt.query_map(params![now()], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    // --- browser sessions and remembered consents ---------------------------

    pub fn insert_session(
        &self,
        id_hash: &str,
        username: &str,
        csrf_hash: &str,
        expires_at: i64,
    ) -> Result<(), StorageError> {
        self.conn()?.execute(
            "INSERT INTO sessions (id_hash, username, csrf_hash, expires_at) VALUES (?1, ?2, ?3, ?4)",
            params![id_hash, username, csrf_hash, expires_at],
        )?;
        Ok(())
    }

    /// A live session as (username, csrf_hash).
    pub fn find_session(&self, id_hash: &str) -> Result<Option<(String, String)>, StorageError> {
        Ok(self
            .conn()?
            .query_row(
                "SELECT username, csrf_hash FROM sessions WHERE id_hash = ?1 AND expires_at > ?2",
                params![id_hash, now()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    pub fn delete_session(&self, id_hash: &str) -> Result<(), StorageError> {
        self.conn()?.execute("DELETE FROM sessions WHERE id_hash = ?1", params![id_hash])?;
        Ok(())
    }

    /// Remembers that `subject` granted `scope` to `client_id` (replacing
    /// the previous grant, which the caller has merged in).
    pub fn upsert_consent(&self, subject: &str, client_id: &str, scope: &str) -> Result<(), StorageError> {
        self.conn()?.execute(
            "INSERT INTO consents (subject, client_id, scope, granted_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (subject, client_id) DO UPDATE SET scope = excluded.scope, granted_at = excluded.granted_at",
            params![subject, client_id, scope, now()],
        )?;
        Ok(())
    }

    pub fn find_consent(&self, subject: &str, client_id: &str) -> Result<Option<String>, StorageError> {
        Ok(self
            .conn()?
            .query_row(
                "SELECT scope FROM consents WHERE subject = ?1 AND client_id = ?2",
                params![subject, client_id],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// The consents of `subject` as (client_id, scope, granted_at), newest first.
    pub fn list_consents(&self, subject: &str) -> Result<Vec<(String, String, i64)>, StorageError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare(
            "SELECT client_id, scope, granted_at FROM consents WHERE subject = ?1 ORDER BY granted_at DESC, client_id",
        )?;
        let rows = stmt.query_map(params![subject], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Forgets a consent and revokes the refresh tokens `client_id` holds for
    /// `subject`. Returns whether there was a consent.
    pub fn revoke_consent(&self, subject: &str, client_id: &str) -> Result<bool, StorageError> {
        let conn = self.conn()?;
        conn.execute(
            "UPDATE refresh_tokens SET revoked = 1 WHERE client_id = ?1 AND subject = ?2",
            params![client_id, subject],
        )?;
        let changed =
            conn.execute("DELETE FROM consents WHERE subject = ?1 AND client_id = ?2", params![subject, client_id])?;
        Ok(changed == 1)
    }

    // --- signing keys --------------------------------------------------------

    /// The newest stored signing key as (kid, PKCS#8 DER).
    #[cfg(test)]
    pub fn latest_signing_key(&self) -> Result<Option<(String, Vec<u8>)>, StorageError> {
        Ok(self
            .conn()?
            .query_row("SELECT kid, pkcs8 FROM signing_keys ORDER BY created_at DESC, rowid DESC LIMIT 1", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?)
    }

    /// Every stored signing key as (kid, PKCS#8 DER, created_at), oldest first.
    pub fn signing_keys(&self) -> Result<Vec<(String, Vec<u8>, i64)>, StorageError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare("SELECT kid, pkcs8, created_at FROM signing_keys ORDER BY created_at, rowid")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    pub fn delete_signing_key(&self, kid: &str) -> Result<(), StorageError> {
        self.conn()?.execute("DELETE FROM signing_keys WHERE kid = ?1", params![kid])?;
        Ok(())
    }

    pub fn insert_signing_key(&self, kid: &str, pkcs8: &[u8]) -> Result<(), StorageError> {
        self.conn()?.execute(
            "INSERT INTO signing_keys (kid, pkcs8, created_at) VALUES (?1, ?2, ?3)",
            params![kid, pkcs8, now()],
        )?;
        Ok(())
    }

    /// Drops expired codes, consents and refresh tokens.
    pub fn purge_expired(&self) -> Result<(), StorageError> {
        let conn = self.conn()?;
        let t = now();
        // Used codes are kept a while past expiry so replays are still recognised.
        conn.execute("DELETE FROM authorization_codes WHERE expires_at < ?1", params![t - 3600])?;
        conn.execute("DELETE FROM pending_consents WHERE expires_at < ?1", params![t])?;
        conn.execute("DELETE FROM refresh_tokens WHERE expires_at < ?1", params![t])?;
        // Kept an hour past expiry so late polls get expired_token and
        // replays are still recognised.
        conn.execute("DELETE FROM device_codes WHERE expires_at < ?1", params![t - 3600])?;
        conn.execute("DELETE FROM revoked_access_tokens WHERE expires_at < ?1", params![t])?;
        conn.execute("DELETE FROM sessions WHERE expires_at < ?1", params![t])?;
        conn.execute("DELETE FROM client_assertion_jtis WHERE expires_at < ?1", params![t])?;
        Ok(())
    }
}
