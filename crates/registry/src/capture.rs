//! Point-in-time reads of module data that keeps changing: the copy-on-write capture a tenant backup reads through.
//!
//! The storage engine has no snapshots, and a tenant being backed up keeps
//! serving and writing. So while a backup of tenant `T` runs, every write to
//! one of `T`'s data keys first saves the key's value as it was when the
//! backup began (its *pre-image*: the value, or "absent") in the
//! [`BACKUP_CAPTURE`] tree, in the same batch as the write, once per key.
//! The backup scans the live data and, for each key, prefers the pre-image
//! when one exists; after the scan it adds the captured keys that were
//! deleted meanwhile. What it reads is therefore exactly the data at the
//! moment the capture started, however long the copy takes, and the tenant's
//! writers never wait for it.
//!
//! A capture starts while every scope lock is held (so no write is half-way
//! between reading its old value and applying), is keyed by a fresh id, and
//! its entries are removed when the backup ends; entries left by a crash are
//! removed when the registry opens.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use crate::error::RegistryError;
use crate::store::{Batch, Store, Tree};

/// Pre-images of module data written during a backup: `capture id (8 bytes BE) ++ kv key` →
/// `[1] ++ value` (it existed) or `[0]` (it did not).
pub(crate) const BACKUP_CAPTURE: Tree = Tree::new("backup_capture");

/// The captures running now, by tenant.
#[derive(Debug, Default)]
pub(crate) struct Captures {
    active: Mutex<HashMap<String, u64>>,
    /// How many run: every data write asks, and almost always none does.
    running: AtomicUsize,
}

impl Captures {
    /// The capture running for `tenant`, if any. Read under the scope's lock.
    pub(crate) fn of(&self, tenant: &str) -> Option<u64> {
        // Changed only while every scope lock is held, so under one it is exact.
        if self.running.load(Ordering::Relaxed) == 0 {
            return None;
        }
        self.active
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(tenant)
            .copied()
    }

    /// Starts capture `id` for `tenant`; `false` when one is already running.
    /// The caller holds every scope lock.
    pub(crate) fn start(&self, tenant: &str, id: u64) -> bool {
        let mut active = self.active.lock().unwrap_or_else(PoisonError::into_inner);
        if active.contains_key(tenant) {
            return false;
        }
        active.insert(tenant.to_owned(), id);
        self.running.store(active.len(), Ordering::Relaxed);
        true
    }

    /// Ends the capture of `tenant`. The caller holds every scope lock.
    pub(crate) fn stop(&self, tenant: &str) {
        let mut active = self.active.lock().unwrap_or_else(PoisonError::into_inner);
        active.remove(tenant);
        self.running.store(active.len(), Ordering::Relaxed);
    }
}

/// The key of `kv_key`'s pre-image in capture `id`.
pub(crate) fn capture_key(id: u64, kv_key: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(8 + kv_key.len());
    key.extend_from_slice(&id.to_be_bytes());
    key.extend_from_slice(kv_key);
    key
}

/// Adds to `batch` the pre-image of `kv_key` (whose value is `current` now)
/// unless capture `id` already holds one. The caller holds the key's scope lock.
pub(crate) fn preserve(
    store: &dyn Store,
    batch: &mut Batch,
    id: u64,
    kv_key: &[u8],
    current: Option<&[u8]>,
) -> Result<(), RegistryError> {
    let key = capture_key(id, kv_key);
    if store.get(BACKUP_CAPTURE, &key)?.is_some() {
        return Ok(());
    }
    let mut saved = Vec::with_capacity(1 + current.map_or(0, <[u8]>::len));
    match current {
        Some(value) => {
            saved.push(1);
            saved.extend_from_slice(value);
        }
        None => saved.push(0),
    }
    batch.put(BACKUP_CAPTURE, key, saved);
    Ok(())
}

/// What capture `id` saved for `kv_key`: `None` when the key was not written
/// since the capture began, `Some(None)` when it did not exist then.
pub(crate) fn preimage(
    store: &dyn Store,
    id: u64,
    kv_key: &[u8],
) -> Result<Option<Option<Vec<u8>>>, RegistryError> {
    Ok(store
        .get(BACKUP_CAPTURE, &capture_key(id, kv_key))?
        .map(|saved| decode_preimage(&saved)))
}

/// A stored pre-image: the value when the key existed.
pub(crate) fn decode_preimage(saved: &[u8]) -> Option<Vec<u8>> {
    match saved.split_first() {
        Some((1, value)) => Some(value.to_vec()),
        _ => None,
    }
}

/// Removes every entry of capture `id` (or, with `None`, of every capture).
pub(crate) fn discard(store: &dyn Store, id: Option<u64>) -> Result<(), RegistryError> {
    let prefix = id.map(|id| id.to_be_bytes().to_vec()).unwrap_or_default();
    let mut batch = Batch::new();
    let mut pending = 0usize;
    for entry in store.scan_prefix(BACKUP_CAPTURE, &prefix)? {
        batch.delete(BACKUP_CAPTURE, entry?.0);
        pending += 1;
        if pending == 10_000 {
            store.apply(&batch)?;
            batch = Batch::new();
            pending = 0;
        }
    }
    store.apply(&batch)?;
    Ok(())
}
