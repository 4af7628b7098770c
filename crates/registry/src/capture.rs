//! Point-in-time reads of module data that keeps changing: the copy-on-write capture a tenant backup reads through.
//!
//! The storage engine has no snapshots, and a tenant being backed up keeps
//! serving and writing. So while a backup of tenant `T` runs, every write to
//! one of `T`'s data keys first saves the key's value as it was when the
//! backup began (its *pre-image*: the value, or "absent") in the
//! [`BACKUP_CAPTURE`] tree, in the same batch as the write, once per key.
//!
//! The backup scans the live data in key order. For each key, under the
//! key's scope lock, it copies the live value only when the key has no
//! pre-image (so the live value is still the one of the start), and moves the
//! capture's *copied-through* mark to the key. A pre-image saved for a key at
//! or before the mark records that the scan already copied it; any other
//! pre-image of a value is copied after the scan, from the capture. Each key
//! that existed at the start is therefore copied exactly once with its value
//! then, however long the copy takes and whatever is deleted and created
//! again meanwhile (a key gone when its page was listed and back by the end
//! included), and the tenant's writers never wait for it.
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
/// `[0]` (it did not exist), `[1] ++ value` (it existed; the scan has not
/// copied it) or `[2] ++ value` (it existed; the scan copied it first).
pub(crate) const BACKUP_CAPTURE: Tree = Tree::new("backup_capture");

/// The captures running now, by tenant.
#[derive(Debug, Default)]
pub(crate) struct Captures {
    active: Mutex<HashMap<String, ActiveCapture>>,
    /// How many run: every data write asks, and almost always none does.
    running: AtomicUsize,
}

/// One running capture, as a writer holding a scope lock sees it.
#[derive(Debug, Clone)]
pub(crate) struct ActiveCapture {
    /// Its id: the prefix of its entries.
    pub(crate) id: u64,
    /// The last key the backup's scan has copied (empty before the first).
    copied_through: Vec<u8>,
}

impl Captures {
    /// The capture running for `tenant`, if any. Read under the scope's lock.
    pub(crate) fn of(&self, tenant: &str) -> Option<ActiveCapture> {
        // Changed only while every scope lock is held, so under one it is exact.
        if self.running.load(Ordering::Relaxed) == 0 {
            return None;
        }
        self.active
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(tenant)
            .cloned()
    }

    /// Records that the backup of `tenant` copied `kv_key` (keys come in
    /// ascending order). The caller holds the key's scope lock.
    pub(crate) fn copied(&self, tenant: &str, kv_key: &[u8]) {
        let mut active = self.active.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(capture) = active.get_mut(tenant) {
            capture.copied_through.clear();
            capture.copied_through.extend_from_slice(kv_key);
        }
    }

    /// Starts capture `id` for `tenant`; `false` when one is already running.
    /// The caller holds every scope lock.
    pub(crate) fn start(&self, tenant: &str, id: u64) -> bool {
        let mut active = self.active.lock().unwrap_or_else(PoisonError::into_inner);
        if active.contains_key(tenant) {
            return false;
        }
        active.insert(
            tenant.to_owned(),
            ActiveCapture {
                id,
                copied_through: Vec::new(),
            },
        );
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
/// unless `capture` already holds one. The caller holds the key's scope lock.
pub(crate) fn preserve(
    store: &dyn Store,
    batch: &mut Batch,
    capture: &ActiveCapture,
    kv_key: &[u8],
    current: Option<&[u8]>,
) -> Result<(), RegistryError> {
    let key = capture_key(capture.id, kv_key);
    if store.get(BACKUP_CAPTURE, &key)?.is_some() {
        return Ok(());
    }
    let mut saved = Vec::with_capacity(1 + current.map_or(0, <[u8]>::len));
    match current {
        Some(value) => {
            let copied = !capture.copied_through.is_empty() && kv_key <= capture.copied_through.as_slice();
            saved.push(if copied { 2 } else { 1 });
            saved.extend_from_slice(value);
        }
        None => saved.push(0),
    }
    batch.put(BACKUP_CAPTURE, key, saved);
    Ok(())
}

/// Whether capture `id` saved a pre-image of `kv_key` (it was written since the capture began).
pub(crate) fn has_preimage(store: &dyn Store, id: u64, kv_key: &[u8]) -> Result<bool, RegistryError> {
    Ok(store.get(BACKUP_CAPTURE, &capture_key(id, kv_key))?.is_some())
}

/// A stored pre-image's value when the key existed and the scan did not copy it.
pub(crate) fn uncopied_value(saved: &[u8]) -> Option<&[u8]> {
    match saved.split_first() {
        Some((1, value)) => Some(value),
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
