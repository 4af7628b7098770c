//! The set of resident versions: (module, version) → ready module, with the cap, the LRU choice of victims and the self-tests passed (see `resident.rs`).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use modhost_runtime::ReadyModule;
use semver::Version;

/// How many versions stay resident unless the operator says otherwise.
pub const DEFAULT_MAX_RESIDENT_VERSIONS: usize = 20_000;

/// A resident version's key: (module, version).
pub(crate) type VersionKey = (String, Version);

/// The resident versions and the versions whose self-test has passed.
pub(crate) struct Residents {
    /// The most versions kept resident.
    pub(crate) cap: AtomicUsize,
    ready: Mutex<HashMap<VersionKey, Arc<ReadyModule>>>,
    tested: Mutex<HashSet<VersionKey>>,
    /// Versions evicted since start.
    pub(crate) evictions: AtomicU64,
}

impl Default for Residents {
    fn default() -> Self {
        Self {
            cap: AtomicUsize::new(DEFAULT_MAX_RESIDENT_VERSIONS),
            ready: Mutex::new(HashMap::new()),
            tested: Mutex::new(HashSet::new()),
            evictions: AtomicU64::new(0),
        }
    }
}

impl Residents {
    /// The resident version `key`, marked as just used.
    pub(crate) fn get(&self, key: &VersionKey) -> Option<Arc<ReadyModule>> {
        let ready = self.lock().get(key).cloned()?;
        ready.touch();
        Some(ready)
    }

    /// Whether `key`'s self-test has passed (it is not run again after an eviction).
    pub(crate) fn tested(&self, key: &VersionKey) -> bool {
        self.tested
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(key)
    }

    /// Remembers that `key`'s self-test passed.
    pub(crate) fn mark_tested(&self, key: VersionKey) {
        self.tested
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key);
    }

    /// Enters `ready` as `key` (unless that very module is already resident)
    /// and evicts past the cap; returns the resident module for `key` and the
    /// evicted ones.
    pub(crate) fn admit(
        &self,
        key: VersionKey,
        ready: Arc<ReadyModule>,
    ) -> (Arc<ReadyModule>, Vec<Arc<ReadyModule>>) {
        let cap = self.cap.load(Ordering::Relaxed).max(1);
        let mut resident = self.lock();
        let kept = resident.entry(key.clone()).or_insert(ready).clone();
        kept.touch();
        let mut evicted = Vec::new();
        while resident.len() > cap {
            let victim = resident
                .iter()
                .filter(|(candidate, ready)| **candidate != key && ready.in_flight() == 0)
                .min_by_key(|(_, ready)| ready.last_used())
                .map(|(candidate, _)| candidate.clone());
            let Some(victim) = victim else {
                tracing::debug!(
                    resident = resident.len(),
                    cap,
                    "every resident version has a call in flight; staying over the cap"
                );
                break;
            };
            if let Some(ready) = resident.remove(&victim) {
                tracing::debug!(module = %victim.0, version = %victim.1, "evicted an idle version");
                evicted.push(ready);
            }
        }
        self.evictions.fetch_add(evicted.len() as u64, Ordering::Relaxed);
        (kept, evicted)
    }

    /// Whether `ready` is the resident module of `key`.
    pub(crate) fn holds(&self, key: &VersionKey, ready: &Arc<ReadyModule>) -> bool {
        self.lock()
            .get(key)
            .is_some_and(|resident| Arc::ptr_eq(resident, ready))
    }

    /// The resident versions, locked.
    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<VersionKey, Arc<ReadyModule>>> {
        self.ready.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
