//! The behaviour every [`CredentialStore`] must have, as test routines each store's tests run (the file,
//! memory and keychain stores in unit tests, PostgreSQL against a real server). Panics on a broken store: this
//! is test support, not product code.

use super::{CredentialKey, CredentialRecord, CredentialStore, Expected, Saved, StoreError, current};
use crate::discovery::AuthorizationServerMetadata;
use crate::registration::ClientRegistration;
use crate::resource::{Issuer, ResourceUri};
use crate::secret::{AccessToken, ClientSecret, RefreshToken};
use crate::token::TokenSet;
use crate::transport::Generation;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A server URL no earlier run used, so a long-lived database needs no cleaning between runs.
pub fn unique_server() -> ResourceUri {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let url = format!("http://127.0.0.1:9/mcp/{nanos}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed));
    ResourceUri::parse(&url).expect("a valid URL")
}

/// A complete record, with every kind of secret set.
pub fn sample_record(profile: &str, server: &ResourceUri, issuer: &str, token: &str) -> CredentialRecord {
    let mut registration = ClientRegistration::metadata_document("https://client.example/metadata.json");
    registration.client_id = format!("client-of-{profile}");
    registration.client_secret = Some(ClientSecret::new(format!("client-secret-{token}")));
    CredentialRecord {
        profile: profile.to_owned(),
        server: server.clone(),
        issuer: Issuer::new(issuer),
        resource: server.clone(),
        authorization_server: AuthorizationServerMetadata::default_endpoints(issuer),
        registration: Some(registration),
        tokens: Some(TokenSet {
            access_token: AccessToken::new(format!("access-{token}")),
            token_type: "Bearer".into(),
            expires_at: Some(2_000_000_000),
            refresh_token: Some(RefreshToken::new(format!("refresh-{token}"))),
            scope: Some("read write".into()),
            obtained_at: 1_700_000_000,
            // Every store keeps the DPoP key with the tokens (the keychain store among its secrets).
            dpop_key: Some(crate::secret::DpopPrivateKey::new(format!("ES256:key-{token}"))),
        }),
        updated_at: 1_700_000_000,
        revision: 0,
    }
}

fn written(saved: Saved) -> CredentialRecord {
    match saved {
        Saved::Written(r) => *r,
        Saved::Conflict => panic!("expected the write to succeed"),
    }
}

fn access(record: &CredentialRecord) -> &str {
    record.tokens.as_ref().map(|t| t.access_token.secret()).unwrap_or_default()
}

/// One store on its own: compare-and-swap, keys, profiles, listing, deletion, locks and generations.
pub async fn exercise(store: &dyn CredentialStore) {
    let server = unique_server();
    assert!(store.load("default", &server).await.unwrap().is_empty(), "a new server has no records");

    // Absent: only the first writer wins.
    let first = written(
        store.save(sample_record("default", &server, "https://as.example", "1"), Expected::Absent).await.unwrap(),
    );
    assert_eq!(first.revision, 1);
    let again =
        store.save(sample_record("default", &server, "https://as.example", "x"), Expected::Absent).await.unwrap();
    assert_eq!(again, Saved::Conflict, "Absent must not overwrite");
    let loaded = store.load("default", &server).await.unwrap();
    assert_eq!(loaded, vec![first.clone()], "secrets and metadata come back exactly");

    // Revision: a writer holding a stale revision loses, and loses nothing of the newer write.
    let mut second = first.clone();
    second.tokens = sample_record("default", &server, "https://as.example", "2").tokens;
    let second = written(store.save(second, Expected::Revision(1)).await.unwrap());
    assert_eq!(second.revision, 2);
    let mut stale = first.clone();
    stale.tokens = None;
    assert_eq!(store.save(stale, Expected::Revision(1)).await.unwrap(), Saved::Conflict);
    let now = current(store.load("default", &server).await.unwrap()).unwrap();
    assert_eq!((access(&now), now.revision), ("access-2", 2));

    // A second authorization server for the same server is a second record; the newest is current.
    let mut other = sample_record("default", &server, "https://other-as.example", "3");
    other.updated_at += 10;
    written(store.save(other, Expected::Absent).await.unwrap());
    let both = store.load("default", &server).await.unwrap();
    assert_eq!(both.len(), 2);
    assert_eq!(current(both).unwrap().issuer.as_str(), "https://other-as.example");

    // Profiles (tenants) never see each other's records.
    written(store.save(sample_record("work", &server, "https://as.example", "w"), Expected::Absent).await.unwrap());
    let default_records = store.load("default", &server).await.unwrap();
    assert!(default_records.iter().all(|r| r.profile == "default"));
    let work = store.load("work", &server).await.unwrap();
    assert_eq!((work.len(), access(&work[0])), (1, "access-w"));
    let listed: Vec<_> = store.list(Some("work")).await.unwrap().into_iter().filter(|r| r.server == server).collect();
    assert_eq!(listed.len(), 1);
    let all = store.list(None).await.unwrap().into_iter().filter(|r| r.server == server).count();
    assert_eq!(all, 3);

    // Delete is compare-and-swap too.
    let key =
        CredentialKey { profile: "default".into(), server: server.clone(), issuer: Issuer::new("https://as.example") };
    assert!(!store.delete(&key, Expected::Revision(1)).await.unwrap(), "a stale delete is refused");
    assert!(store.delete(&key, Expected::Revision(2)).await.unwrap());
    assert!(!store.delete(&key, Expected::Any).await.unwrap(), "nothing left to delete");
    let left = store.load("default", &server).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].issuer.as_str(), "https://other-as.example");

    // Locks are exclusive per name until dropped.
    let name = format!("refresh\n{server}");
    let held = store.lock(&name, Duration::from_secs(5)).await.unwrap();
    assert!(store.try_lock(&name).await.unwrap().is_none(), "a held lock is not free");
    assert!(store.try_lock(&format!("{name}-other")).await.unwrap().is_some(), "names are independent");
    let waited = store.lock(&name, Duration::from_millis(150)).await.unwrap_err();
    assert!(matches!(waited, StoreError::LockTimeout { .. }), "{waited}");
    drop(held);
    let mut freed = None;
    for _ in 0..40 {
        freed = store.try_lock(&name).await.unwrap();
        if freed.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(freed.is_some(), "a dropped lock is released");

    // Generations.
    assert_eq!(store.generation(&server).await.unwrap(), None);
    store.remember_generation(&server, Generation::Modern).await.unwrap();
    assert_eq!(store.generation(&server).await.unwrap(), Some(Generation::Modern));
    store.remember_generation(&server, Generation::Legacy).await.unwrap();
    assert_eq!(store.generation(&server).await.unwrap(), Some(Generation::Legacy));
    assert!(!store.describe().is_empty());
}

/// Two handles on one store (as two processes have): each sees the other's writes, a stale compare-and-swap
/// loses, locks exclude across handles, and concurrent read-modify-write loops lose no update.
pub async fn shared(a: &dyn CredentialStore, b: &dyn CredentialStore) {
    let server = unique_server();
    let first =
        written(a.save(sample_record("default", &server, "https://as.example", "1"), Expected::Absent).await.unwrap());
    let seen = b.load("default", &server).await.unwrap();
    assert_eq!(seen, vec![first.clone()]);
    let mut newer = first.clone();
    newer.tokens = sample_record("default", &server, "https://as.example", "2").tokens;
    written(b.save(newer, Expected::Revision(first.revision)).await.unwrap());
    assert_eq!(a.save(first.clone(), Expected::Revision(first.revision)).await.unwrap(), Saved::Conflict);

    let name = format!("refresh\n{server}");
    let held = a.lock(&name, Duration::from_secs(5)).await.unwrap();
    assert!(b.try_lock(&name).await.unwrap().is_none(), "a lock held through one handle excludes the other");
    drop(held);
    assert!(b.lock(&name, Duration::from_secs(5)).await.is_ok());

    // 2 × 10 increments of the revision through read + compare-and-swap, retrying on conflict.
    let bump = |store: &'static str| {
        let (s, server) = (if store == "a" { a } else { b }, server.clone());
        async move {
            let mut done = 0;
            while done < 10 {
                let record = current(s.load("default", &server).await.unwrap()).unwrap();
                let revision = record.revision;
                if let Saved::Written(_) = s.save(record, Expected::Revision(revision)).await.unwrap() {
                    done += 1;
                }
            }
        }
    };
    futures_util::future::join(bump("a"), bump("b")).await;
    let last = current(a.load("default", &server).await.unwrap()).unwrap();
    assert_eq!(last.revision, 2 + 20, "every successful compare-and-swap counted once");
}
