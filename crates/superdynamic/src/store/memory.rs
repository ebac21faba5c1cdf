//! A store in memory, for tests and for programs that keep credentials themselves (clones share contents and
//! locks; nothing outlives the process).

use super::{
    CredentialKey, CredentialRecord, CredentialStore, Expected, Saved, StoreData, StoreError, StoreFuture, StoreLock,
};
use crate::resource::ResourceUri;
use crate::transport::Generation;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    data: Arc<Mutex<StoreData>>,
    locks: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn data(&self) -> MutexGuard<'_, StoreData> {
        // A panic elsewhere while holding the lock leaves the data consistent (every change is one assignment).
        self.data.lock().unwrap_or_else(|poison| poison.into_inner())
    }

    fn named(&self, name: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|poison| poison.into_inner());
        locks.entry(name.to_owned()).or_default().clone()
    }
}

fn ready<T: Send + 'static>(value: T) -> StoreFuture<'static, T> {
    Box::pin(std::future::ready(Ok(value)))
}

impl CredentialStore for MemoryStore {
    fn load<'a>(&'a self, profile: &'a str, server: &'a ResourceUri) -> StoreFuture<'a, Vec<CredentialRecord>> {
        ready(self.data().records(profile, server))
    }

    fn list<'a>(&'a self, profile: Option<&'a str>) -> StoreFuture<'a, Vec<CredentialRecord>> {
        ready(self.data().list(profile))
    }

    fn save(&self, record: CredentialRecord, expected: Expected) -> StoreFuture<'_, Saved> {
        ready(self.data().save(record, expected))
    }

    fn delete<'a>(&'a self, key: &'a CredentialKey, expected: Expected) -> StoreFuture<'a, bool> {
        ready(self.data().delete(key, expected))
    }

    fn lock<'a>(&'a self, name: &'a str, wait: Duration) -> StoreFuture<'a, StoreLock> {
        let mutex = self.named(name);
        Box::pin(async move {
            match tokio::time::timeout(wait, mutex.lock_owned()).await {
                Ok(guard) => Ok(StoreLock::new(guard)),
                Err(_) => Err(StoreError::LockTimeout {
                    what: format!("'{}' (in memory)", name.replace('\n', " ")),
                    seconds: wait.as_secs(),
                }),
            }
        })
    }

    fn try_lock<'a>(&'a self, name: &'a str) -> StoreFuture<'a, Option<StoreLock>> {
        ready(self.named(name).try_lock_owned().ok().map(StoreLock::new))
    }

    fn generation<'a>(&'a self, server: &'a ResourceUri) -> StoreFuture<'a, Option<Generation>> {
        ready(self.data().generations.get(server.as_str()).copied())
    }

    fn remember_generation<'a>(&'a self, server: &'a ResourceUri, generation: Generation) -> StoreFuture<'a, ()> {
        self.data().remember_generation(server, generation);
        ready(())
    }

    fn describe(&self) -> String {
        "memory (this process only)".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn meets_the_store_contract() {
        crate::store::contract::exercise(&MemoryStore::new()).await;
    }

    #[tokio::test]
    async fn clones_share_records_and_locks() {
        let store = MemoryStore::new();
        crate::store::contract::shared(&store, &store.clone()).await;
    }
}
