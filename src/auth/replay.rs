//! Token replay protection: each `(iss, jti)` is accepted once and remembered until the token
//! can no longer be accepted anyway (its `exp` plus the clock skew).
//!
//! [`ReplayStore`] is an enum of stores so a shared store (Redis, for several replicas) is one
//! more variant: `first_use` is already async and fallible (an unreachable shared store is a
//! [`ReplayStoreError`], answered 503 — fail closed). The in-memory store is per process.

use std::collections::HashMap;
use std::sync::Mutex;

/// A shared store could not answer (never produced by the in-memory store).
#[derive(Debug, Clone, thiserror::Error)]
#[error("the token replay store is unavailable: {0}")]
pub struct ReplayStoreError(pub String);

#[derive(Debug)]
pub enum ReplayStore {
    /// This process only (one replica).
    Memory(MemoryReplayStore),
}

impl ReplayStore {
    pub fn in_memory() -> ReplayStore {
        ReplayStore::Memory(MemoryReplayStore::default())
    }

    /// Record `jti` of `issuer` as used until `keep_until` (Unix seconds). `Ok(true)` the first
    /// time, `Ok(false)` when it was seen before and has not expired.
    pub async fn first_use(
        &self,
        issuer: &str,
        jti: &str,
        keep_until: i64,
        now: i64,
    ) -> Result<bool, ReplayStoreError> {
        match self {
            ReplayStore::Memory(store) => Ok(store.first_use(issuer, jti, keep_until, now)),
        }
    }
}

/// `(iss, jti)` → keep-until, purged of expired entries as it grows.
#[derive(Debug, Default)]
pub struct MemoryReplayStore {
    inner: Mutex<Seen>,
}

#[derive(Debug, Default)]
struct Seen {
    entries: HashMap<(String, String), i64>,
    /// Purge expired entries when the map grows past this size.
    purge_at: usize,
}

const MIN_PURGE_AT: usize = 1024;

impl MemoryReplayStore {
    pub fn first_use(&self, issuer: &str, jti: &str, keep_until: i64, now: i64) -> bool {
        let mut seen = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if seen.entries.len() >= seen.purge_at.max(MIN_PURGE_AT) {
            seen.entries.retain(|_, until| *until >= now);
            seen.purge_at = (seen.entries.len() * 2).max(MIN_PURGE_AT);
        }
        let key = (issuer.to_owned(), jti.to_owned());
        match seen.entries.get(&key) {
            Some(until) if *until >= now => false,
            _ => {
                seen.entries.insert(key, keep_until);
                true
            }
        }
    }

    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entries
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_jti_is_accepted_once_per_issuer() {
        let store = ReplayStore::in_memory();
        assert!(store.first_use("a", "1", 100, 0).await.unwrap());
        assert!(!store.first_use("a", "1", 100, 50).await.unwrap());
        assert!(store.first_use("b", "1", 100, 50).await.unwrap());
        assert!(store.first_use("a", "2", 100, 50).await.unwrap());
        // After keep-until the entry is gone (the token itself is no longer acceptable).
        assert!(store.first_use("a", "1", 300, 101).await.unwrap());
    }

    #[test]
    fn expired_entries_are_purged_as_the_map_grows() {
        let store = MemoryReplayStore::default();
        for i in 0..MIN_PURGE_AT {
            assert!(store.first_use("iss", &i.to_string(), 10, 0));
        }
        assert_eq!(store.len(), MIN_PURGE_AT);
        assert!(store.first_use("iss", "late", 100, 50));
        assert_eq!(store.len(), 1);
    }
}
