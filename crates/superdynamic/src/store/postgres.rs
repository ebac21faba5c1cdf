//! A PostgreSQL store for fleets: many processes on many machines share one set of credentials, keyed by a
//! tenant (the profile: one per end user of an AI product), with refreshes coordinated through advisory locks.
//!
//! - Schema: created on first use, versioned in `superdynamic_schema`, migrations serialized by a transaction
//!   advisory lock so replicas starting together do not race.
//! - Compare-and-swap: every write is one statement conditioned on the row's `revision`.
//! - Locks: session advisory locks, each on a connection of its own that the guard closes, so a lock is
//!   released when its holder is done or dies (the server ends the session when the socket closes).

use super::{CredentialKey, CredentialRecord, CredentialStore, Expected, Saved, StoreError, StoreFuture, StoreLock};
use crate::resource::ResourceUri;
use crate::transport::Generation;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_postgres::{Client, Config, Row};
use tokio_postgres_rustls::MakeRustlsConnect;

/// Namespace of superdynamic's advisory locks (the first key of the two-key form).
const LOCK_NAMESPACE: i32 = 0x5344_4d43; // "SDMC"
const MIGRATION_LOCK: i32 = 0;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const LOCK_POLL: Duration = Duration::from_millis(25);

/// Each entry brings the schema from the previous version to the next.
const MIGRATIONS: &[&str] = &["CREATE TABLE superdynamic_credentials (
        tenant text NOT NULL,
        server text NOT NULL,
        issuer text NOT NULL,
        revision bigint NOT NULL,
        updated_at bigint NOT NULL,
        record jsonb NOT NULL,
        PRIMARY KEY (tenant, server, issuer)
    );
    CREATE TABLE superdynamic_generations (
        server text PRIMARY KEY,
        generation text NOT NULL
    );"];

/// A cheap handle (clones share one connection) on a PostgreSQL credential store.
#[derive(Clone)]
pub struct PostgresStore {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    tls: MakeRustlsConnect,
    /// `user@host:port/db`, for messages: never the password.
    target: String,
    /// The shared connection, replaced when it closes; `true` once the schema is known current.
    client: tokio::sync::Mutex<Option<(Arc<Client>, bool)>>,
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStore").field("target", &self.inner.target).finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// A store on the database at `url` (`postgres://user:password@host:port/db?sslmode=...`, or the
    /// key=value form). Nothing is contacted until first use; see [`PostgresStore::connect`] to fail early.
    pub fn new(url: &str) -> Result<Self, StoreError> {
        let mut config: Config = url.parse().map_err(|e: tokio_postgres::Error| StoreError::Postgres {
            target: "(the database URL)".into(),
            action: "URL parsing",
            detail: format!("{e}; expected postgres://user:password@host:port/database"),
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        // The shared TLS settings (platform verifier), without HTTP's ALPN: PostgreSQL 17 refuses other protocols.
        let mut tls_config = rustls::ClientConfig::clone(&crate::tls::client_config());
        tls_config.alpn_protocols.clear();
        let inner = Inner {
            target: target_of(&config),
            config,
            tls: MakeRustlsConnect::new(tls_config),
            client: tokio::sync::Mutex::new(None),
        };
        Ok(Self { inner: Arc::new(inner) })
    }

    /// [`PostgresStore::new`], then connects and brings the schema up to date.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let store = Self::new(url)?;
        store.client().await?;
        Ok(store)
    }

    fn error(&self, action: &'static str, e: &tokio_postgres::Error) -> StoreError {
        StoreError::Postgres { target: self.inner.target.clone(), action, detail: describe_error(e) }
    }

    async fn open_connection(&self) -> Result<Client, StoreError> {
        let (client, connection) =
            self.inner.config.connect(self.inner.tls.clone()).await.map_err(|e| self.error("connection", &e))?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "PostgreSQL connection ended");
            }
        });
        Ok(client)
    }

    /// The shared connection, (re)connected and migrated as needed.
    async fn client(&self) -> Result<Arc<Client>, StoreError> {
        let mut slot = self.inner.client.lock().await;
        if let Some((client, true)) = slot.as_ref()
            && !client.is_closed()
        {
            return Ok(client.clone());
        }
        let client = Arc::new(self.open_connection().await?);
        self.migrate(&client).await?;
        *slot = Some((client.clone(), true));
        Ok(client)
    }

    async fn migrate(&self, client: &Client) -> Result<(), StoreError> {
        let fail = |e: tokio_postgres::Error| self.error("schema migration", &e);
        client.batch_execute("BEGIN").await.map_err(fail)?;
        let result = async {
            client.execute("SELECT pg_advisory_xact_lock($1, $2)", &[&LOCK_NAMESPACE, &MIGRATION_LOCK]).await?;
            client.batch_execute("CREATE TABLE IF NOT EXISTS superdynamic_schema (version integer NOT NULL)").await?;
            let version: i32 =
                client.query_one("SELECT coalesce(max(version), 0) FROM superdynamic_schema", &[]).await?.try_get(0)?;
            for (i, step) in MIGRATIONS.iter().enumerate().skip(usize::try_from(version).unwrap_or(usize::MAX)) {
                client.batch_execute(step).await?;
                let next = i32::try_from(i + 1).unwrap_or(i32::MAX);
                client.execute("INSERT INTO superdynamic_schema (version) VALUES ($1)", &[&next]).await?;
            }
            Ok::<_, tokio_postgres::Error>(version)
        }
        .await;
        match result {
            Ok(version) => {
                client.batch_execute("COMMIT").await.map_err(fail)?;
                let known = i32::try_from(MIGRATIONS.len()).unwrap_or(i32::MAX);
                if version > known {
                    return Err(StoreError::Postgres {
                        target: self.inner.target.clone(),
                        action: "schema check",
                        detail: format!(
                            "the database has schema version {version}, newer than this superdynamic knows ({known}); upgrade superdynamic"
                        ),
                    });
                }
                Ok(())
            }
            Err(e) => {
                let _ = client.batch_execute("ROLLBACK").await;
                Err(fail(e))
            }
        }
    }

    fn record_from(&self, row: &Row) -> Result<CredentialRecord, StoreError> {
        let corrupt = |detail: String| StoreError::CorruptRecord {
            server: row.try_get::<_, String>(2).unwrap_or_default(),
            detail: format!("in {}: {detail}", self.inner.target),
        };
        let json: String = row.try_get(0).map_err(|e| corrupt(e.to_string()))?;
        let revision: i64 = row.try_get(1).map_err(|e| corrupt(e.to_string()))?;
        let mut record: CredentialRecord = serde_json::from_str(&json).map_err(|e| corrupt(e.to_string()))?;
        record.revision = u64::try_from(revision).unwrap_or(0);
        Ok(record)
    }

    async fn query_records(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<CredentialRecord>, StoreError> {
        let client = self.client().await?;
        let rows = client.query(sql, params).await.map_err(|e| self.error("read", &e))?;
        rows.iter().map(|row| self.record_from(row)).collect()
    }

    async fn save_record(&self, mut record: CredentialRecord, expected: Expected) -> Result<Saved, StoreError> {
        let client = self.client().await?;
        record.revision = 0; // the column is authoritative
        let json = serde_json::to_string(&record).map_err(|e| StoreError::Task(e.to_string()))?;
        let updated_at = i64::try_from(record.updated_at).unwrap_or(i64::MAX);
        let (tenant, server, issuer) = (&record.profile, record.server.as_str(), record.issuer.as_str());
        let sql = match expected {
            Expected::Any => {
                "INSERT INTO superdynamic_credentials (tenant, server, issuer, revision, updated_at, record)
                 VALUES ($1, $2, $3, 1, $4, CAST($5::text AS jsonb))
                 ON CONFLICT (tenant, server, issuer) DO UPDATE
                 SET revision = superdynamic_credentials.revision + 1, updated_at = EXCLUDED.updated_at,
                     record = EXCLUDED.record
                 RETURNING revision"
            }
            Expected::Absent => {
                "INSERT INTO superdynamic_credentials (tenant, server, issuer, revision, updated_at, record)
                 VALUES ($1, $2, $3, 1, $4, CAST($5::text AS jsonb))
                 ON CONFLICT (tenant, server, issuer) DO NOTHING
                 RETURNING revision"
            }
            Expected::Revision(_) => {
                "UPDATE superdynamic_credentials
                 SET revision = revision + 1, updated_at = $4, record = CAST($5::text AS jsonb)
                 WHERE tenant = $1 AND server = $2 AND issuer = $3 AND revision = $6
                 RETURNING revision"
            }
        };
        let expected_revision = match expected {
            Expected::Revision(r) => i64::try_from(r).unwrap_or(-1),
            _ => 0,
        };
        let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
            vec![tenant, &server, &issuer, &updated_at, &json];
        if let Expected::Revision(_) = expected {
            params.push(&expected_revision);
        }
        let row = client.query_opt(sql, &params).await.map_err(|e| self.error("write", &e))?;
        Ok(match row {
            Some(row) => {
                let revision: i64 = row.try_get(0).map_err(|e| self.error("write", &e))?;
                record.revision = u64::try_from(revision).unwrap_or(0);
                Saved::Written(Box::new(record))
            }
            None => Saved::Conflict,
        })
    }

    async fn delete_record(&self, key: &CredentialKey, expected: Expected) -> Result<bool, StoreError> {
        let revision: Option<i64> = match expected {
            Expected::Any => None,
            Expected::Absent => return Ok(false),
            Expected::Revision(r) => Some(i64::try_from(r).unwrap_or(-1)),
        };
        let client = self.client().await?;
        let deleted = client
            .execute(
                "DELETE FROM superdynamic_credentials
                 WHERE tenant = $1 AND server = $2 AND issuer = $3 AND ($4::bigint IS NULL OR revision = $4)",
                &[&key.profile, &key.server.as_str(), &key.issuer.as_str(), &revision],
            )
            .await
            .map_err(|e| self.error("delete", &e))?;
        Ok(deleted > 0)
    }

    /// Tries once on `client` (a connection of the lock's own).
    async fn try_advisory(&self, client: &Client, name: &str) -> Result<bool, StoreError> {
        let row = client
            .query_one("SELECT pg_try_advisory_lock($1, $2)", &[&LOCK_NAMESPACE, &lock_key(name)])
            .await
            .map_err(|e| self.error("lock", &e))?;
        row.try_get(0).map_err(|e| self.error("lock", &e))
    }

    async fn acquire(&self, name: &str, wait: Option<Duration>) -> Result<Option<StoreLock>, StoreError> {
        let client = self.open_connection().await?;
        let start = Instant::now();
        loop {
            if self.try_advisory(&client, name).await? {
                // Dropping the client closes the connection, which ends the session and so releases the lock.
                return Ok(Some(StoreLock::new(client)));
            }
            match wait {
                Some(wait) if start.elapsed() < wait => tokio::time::sleep(LOCK_POLL).await,
                Some(wait) => {
                    return Err(StoreError::LockTimeout {
                        what: format!(
                            "'{}' (a PostgreSQL advisory lock in {})",
                            name.replace('\n', " "),
                            self.inner.target
                        ),
                        seconds: wait.as_secs(),
                    });
                }
                None => return Ok(None),
            }
        }
    }
}

/// The second key of a lock's advisory lock: FNV-1a of its name, folded to 32 bits. A collision only makes two
/// unrelated credentials wait for each other.
fn lock_key(name: &str) -> i32 {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in name.bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    i32::from_ne_bytes(hash.to_ne_bytes())
}

fn target_of(config: &Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(name) => name.clone(),
            #[cfg(unix)]
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".into());
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let user = config.get_user().unwrap_or("(default user)");
    let db = config.get_dbname().unwrap_or("(default database)");
    format!("{user}@{host}:{port}/{db}")
}

/// The error and its causes on one line ("error connecting to server: Connection refused"), with the server's
/// message for database errors.
fn describe_error(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{} ({})", db.message(), db.code().code());
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let part = cause.to_string();
        if !text.contains(&part) {
            text = format!("{text}: {part}");
        }
        source = cause.source();
    }
    text
}

impl CredentialStore for PostgresStore {
    fn load<'a>(&'a self, profile: &'a str, server: &'a ResourceUri) -> StoreFuture<'a, Vec<CredentialRecord>> {
        Box::pin(async move {
            self.query_records(
                "SELECT record::text, revision, server FROM superdynamic_credentials WHERE tenant = $1 AND server = $2",
                &[&profile, &server.as_str()],
            )
            .await
        })
    }

    fn list<'a>(&'a self, profile: Option<&'a str>) -> StoreFuture<'a, Vec<CredentialRecord>> {
        Box::pin(async move {
            self.query_records(
                "SELECT record::text, revision, server FROM superdynamic_credentials
                 WHERE $1::text IS NULL OR tenant = $1 ORDER BY tenant, server, issuer",
                &[&profile],
            )
            .await
        })
    }

    fn save(&self, record: CredentialRecord, expected: Expected) -> StoreFuture<'_, Saved> {
        Box::pin(self.save_record(record, expected))
    }

    fn delete<'a>(&'a self, key: &'a CredentialKey, expected: Expected) -> StoreFuture<'a, bool> {
        Box::pin(self.delete_record(key, expected))
    }

    fn lock<'a>(&'a self, name: &'a str, wait: Duration) -> StoreFuture<'a, StoreLock> {
        Box::pin(async move {
            match self.acquire(name, Some(wait)).await? {
                Some(lock) => Ok(lock),
                None => Err(StoreError::LockTimeout { what: name.replace('\n', " "), seconds: wait.as_secs() }),
            }
        })
    }

    fn try_lock<'a>(&'a self, name: &'a str) -> StoreFuture<'a, Option<StoreLock>> {
        Box::pin(self.acquire(name, None))
    }

    fn generation<'a>(&'a self, server: &'a ResourceUri) -> StoreFuture<'a, Option<Generation>> {
        Box::pin(async move {
            let client = self.client().await?;
            let row = client
                .query_opt("SELECT generation FROM superdynamic_generations WHERE server = $1", &[&server.as_str()])
                .await
                .map_err(|e| self.error("read", &e))?;
            // An unknown value (a newer superdynamic wrote it) is as good as none: negotiate again.
            Ok(row.and_then(|r| r.try_get::<_, String>(0).ok()).and_then(|v| serde_json::from_str(&v).ok()))
        })
    }

    fn remember_generation<'a>(&'a self, server: &'a ResourceUri, generation: Generation) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let client = self.client().await?;
            let value = serde_json::to_string(&generation).map_err(|e| StoreError::Task(e.to_string()))?;
            client
                .execute(
                    "INSERT INTO superdynamic_generations (server, generation) VALUES ($1, $2)
                     ON CONFLICT (server) DO UPDATE SET generation = EXCLUDED.generation",
                    &[&server.as_str(), &value],
                )
                .await
                .map_err(|e| self.error("write", &e))?;
            Ok(())
        })
    }

    fn describe(&self) -> String {
        format!("PostgreSQL {}", self.inner.target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::contract;

    /// The test server's URL, or `None` (with a notice) when these tests cannot run here.
    fn database_url() -> Option<String> {
        let url = std::env::var("SUPERDYNAMIC_TEST_DATABASE_URL").ok().filter(|u| !u.is_empty());
        if url.is_none() {
            eprintln!(
                "skipped: set SUPERDYNAMIC_TEST_DATABASE_URL (or run `.ci/with-postgres cargo test`) to test the PostgreSQL store"
            );
        }
        url
    }

    #[tokio::test]
    async fn meets_the_store_contract() {
        let Some(url) = database_url() else { return };
        contract::exercise(&PostgresStore::connect(&url).await.unwrap()).await;
    }

    #[tokio::test]
    async fn two_stores_on_one_database_share_credentials_and_locks() {
        let Some(url) = database_url() else { return };
        let (a, b) = (PostgresStore::connect(&url).await.unwrap(), PostgresStore::connect(&url).await.unwrap());
        contract::shared(&a, &b).await;
    }

    #[tokio::test]
    async fn replicas_starting_together_migrate_a_new_database_once() {
        let Some(url) = database_url() else { return };
        let admin = PostgresStore::connect(&url).await.unwrap();
        let admin_client = admin.client().await.unwrap();
        let db = format!("superdynamic_test_{}", std::process::id());
        admin_client.batch_execute(&format!("DROP DATABASE IF EXISTS {db}")).await.unwrap();
        admin_client.batch_execute(&format!("CREATE DATABASE {db}")).await.unwrap();
        let config: Config = url.parse().unwrap();
        let fresh = format!("{} dbname={db}", key_value_without_dbname(&config));
        let replicas = futures_util::future::join_all((0..6).map(|_| PostgresStore::connect(&fresh))).await;
        for replica in &replicas {
            assert!(replica.is_ok(), "{:?}", replica.as_ref().err().map(ToString::to_string));
        }
        let store = replicas.into_iter().next().unwrap().unwrap();
        let versions: i64 = store
            .client()
            .await
            .unwrap()
            .query_one("SELECT count(*) FROM superdynamic_schema", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(versions, i64::try_from(MIGRATIONS.len()).unwrap());
        contract::exercise(&store).await;
        drop(store);
        admin_client.batch_execute(&format!("DROP DATABASE {db} WITH (FORCE)")).await.unwrap();
    }

    fn key_value_without_dbname(config: &Config) -> String {
        let host = match config.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
            _ => "127.0.0.1".into(),
        };
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let user = config.get_user().unwrap_or("postgres");
        let password =
            config.get_password().map(|p| format!(" password={}", String::from_utf8_lossy(p))).unwrap_or_default();
        format!("host={host} port={port} user={user}{password} sslmode=disable")
    }

    #[tokio::test]
    async fn a_database_that_is_not_there_is_a_clear_error() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port(); // then closed
        let err = PostgresStore::connect(&format!("postgres://fleet:hunter2@127.0.0.1:{port}/creds?sslmode=disable"))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(&format!(
                "the PostgreSQL credential store (fleet@127.0.0.1:{port}/creds) connection failed"
            )),
            "{err}"
        );
        assert!(err.to_lowercase().contains("refused"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn a_malformed_url_is_explained_and_the_password_never_shown() {
        let err = PostgresStore::new("postgres://fleet:hunter2@127.0.0.1:notaport/db").unwrap_err().to_string();
        assert!(err.contains("expected postgres://user:password@host:port/database"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        let store = PostgresStore::new("postgres://fleet:hunter2@db.internal:5433/creds").unwrap();
        assert_eq!(store.describe(), "PostgreSQL fleet@db.internal:5433/creds");
        assert!(!format!("{store:?}").contains("hunter2"));
    }

    #[test]
    fn lock_keys_are_stable_and_spread() {
        assert_eq!(lock_key("refresh\na"), lock_key("refresh\na"));
        assert_ne!(lock_key("refresh\na"), lock_key("refresh\nb"));
    }
}
