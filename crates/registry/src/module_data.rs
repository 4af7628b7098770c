//! Module data: the kv capability's durable storage behind [`ModuleDataStore`], scoped to (tenant, module), with snapshots.
//!
//! [`StoreModuleData`] keeps it in a [`Store`]: keys as `tenant \0 module \0 key`
//! in the `kv` tree; tenant and module ids are kebab-case and never contain
//! NUL, so one scope's prefix never reaches another's whatever the key (the
//! runtime also refuses NUL in keys). A snapshot copies a whole scope into the
//! `kv_snapshots` tree under a fresh id; restoring one replaces the scope in
//! one batch. One sandbox call's writes arrive together and are applied in
//! one batch ([`ModuleDataStore::apply`]), then made durable by the registry's
//! group-commit flusher (`group_commit.rs`), whose one flush serves every
//! writer waiting at that moment; [`ModuleDataStore::apply_with_ticket`]
//! returns once the batch is applied, with the ticket to await.
//!
//! Each scope's usage ([`DataUsage`]: keys, and bytes of keys plus values) is
//! kept in the `kv_usage` tree and updated in the same batch as the data, so
//! the two never disagree. A scope with no usage record yet (data written
//! before usage was tracked) is counted by one scan the first time it is
//! needed. Applying a call's writes, counting and restoring take the scope's
//! lock (one of [`LOCK_STRIPES`] striped mutexes), so two calls committing
//! at once cannot both pass the [`DataQuota`] on the same old usage; the wait
//! for the flush happens after the lock is released.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::capture::{Captures, preserve};
use crate::error::RegistryError;
use crate::group_commit::{FlushTicket, GroupCommit};
use crate::store::{Batch, Store, Tree};
use crate::usage::{DataQuota, DataUsage};

/// Module data, per (tenant, module).
pub(crate) const KV: Tree = Tree::new("kv");
/// Scope snapshots, keyed by snapshot id then key.
pub(crate) const KV_SNAPSHOTS: Tree = Tree::new("kv_snapshots");
/// Each scope's [`DataUsage`], keyed like the scope's prefix in [`KV`].
pub(crate) const KV_USAGE: Tree = Tree::new("kv_usage");

/// How many mutexes scopes share for their read-check-write of usage.
const LOCK_STRIPES: usize = 64;

/// One write of a module's call, applied with the call's other writes or not at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataWrite {
    /// Store `value` under `key`.
    Set {
        /// The key.
        key: String,
        /// The value.
        value: Vec<u8>,
    },
    /// Remove `key` (a no-op when absent).
    Delete {
        /// The key.
        key: String,
    },
}

/// Where modules' key-value data lives: per-scope reads, atomic call
/// commits, and scope snapshots for migrations and rollbacks.
pub trait ModuleDataStore: Send + Sync {
    /// The value under `key` in the (tenant, module) scope.
    fn get(&self, tenant: &str, module: &str, key: &str) -> Result<Option<Vec<u8>>, RegistryError>;

    /// Up to `limit` keys of the scope starting with `prefix`, strictly after `after`, ascending.
    fn list(
        &self,
        tenant: &str,
        module: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, RegistryError>;

    /// Applies `writes` to the scope in order, all or none, durably; refused
    /// with [`RegistryError::QuotaExceeded`], writing nothing, when they would
    /// grow the scope past `quota`. Blocks the calling thread until the
    /// writes are durable: async callers use [`Self::apply_with_ticket`].
    fn apply(
        &self,
        tenant: &str,
        module: &str,
        writes: &[DataWrite],
        quota: DataQuota,
    ) -> Result<(), RegistryError> {
        self.apply_with_ticket(tenant, module, writes, quota)?.wait()
    }

    /// Applies `writes` like [`Self::apply`] (the quota check and the write
    /// are one step) but returns as soon as they are applied, visible and not
    /// yet durable, with the ticket that completes once they are durable. The
    /// caller acknowledges the writes only after the ticket completed `Ok`.
    fn apply_with_ticket(
        &self,
        tenant: &str,
        module: &str,
        writes: &[DataWrite],
        quota: DataQuota,
    ) -> Result<FlushTicket, RegistryError>;

    /// What the scope holds now.
    fn usage(&self, tenant: &str, module: &str) -> Result<DataUsage, RegistryError>;

    /// Copies the scope into a new snapshot and returns its id.
    fn snapshot(&self, tenant: &str, module: &str) -> Result<u64, RegistryError>;

    /// Whether the scope holds exactly what snapshot `id` holds.
    fn matches_snapshot(&self, tenant: &str, module: &str, id: u64) -> Result<bool, RegistryError>;

    /// Replaces the scope with snapshot `id`, atomically and durably.
    fn restore(&self, tenant: &str, module: &str, id: u64) -> Result<(), RegistryError>;

    /// Deletes snapshot `id`.
    fn drop_snapshot(&self, id: u64) -> Result<(), RegistryError>;
}

pub(crate) fn scope_prefix(tenant: &str, module: &str) -> Vec<u8> {
    let mut prefix = Vec::with_capacity(tenant.len() + module.len() + 2);
    prefix.extend_from_slice(tenant.as_bytes());
    prefix.push(0);
    prefix.extend_from_slice(module.as_bytes());
    prefix.push(0);
    prefix
}

fn scoped_key(tenant: &str, module: &str, key: &str) -> Vec<u8> {
    let mut full = scope_prefix(tenant, module);
    full.extend_from_slice(key.as_bytes());
    full
}

fn snapshot_prefix(id: u64) -> [u8; 8] {
    id.to_be_bytes()
}

/// [`ModuleDataStore`] over the registry's [`Store`] (the same store as the
/// rest of the registry, so a rollback restores data in the deployment's batch).
#[derive(Clone)]
pub struct StoreModuleData {
    store: Arc<dyn Store>,
    commits: Arc<GroupCommit>,
    locks: Arc<[Mutex<()>]>,
    captures: Arc<Captures>,
}

impl std::fmt::Debug for StoreModuleData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreModuleData").finish_non_exhaustive()
    }
}

impl StoreModuleData {
    /// Module data kept in `store`, made durable by `commits` (the flusher of the same store).
    pub fn new(store: Arc<dyn Store>, commits: Arc<GroupCommit>) -> Self {
        let locks: Vec<Mutex<()>> = (0..LOCK_STRIPES).map(|_| Mutex::new(())).collect();
        Self {
            store,
            commits,
            locks: locks.into(),
            captures: Arc::default(),
        }
    }

    /// The backups' copy-on-write captures (see `capture.rs`).
    pub(crate) fn captures(&self) -> &Captures {
        &self.captures
    }

    /// Every scope lock, in order: while they are held no scope is between
    /// reading and applying a write.
    pub(crate) fn lock_all_scopes(&self) -> Vec<MutexGuard<'_, ()>> {
        self.locks
            .iter()
            .map(|lock| lock.lock().unwrap_or_else(PoisonError::into_inner))
            .collect()
    }

    /// The lock of the scope's usage: held while its usage is read, checked
    /// and written with its data. Hold it from [`Self::restore_into`] until
    /// the batch is applied.
    pub(crate) fn lock_scope(&self, tenant: &str, module: &str) -> MutexGuard<'_, ()> {
        self.locks
            .get(stripe_of(tenant, module))
            .unwrap_or(&self.locks[0])
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The locks of every (tenant, module) scope named, each stripe once, in
    /// stripe order (so two callers never wait on each other in a cycle).
    pub(crate) fn lock_scopes<'a>(
        &self,
        tenant: &str,
        modules: impl IntoIterator<Item = &'a str>,
    ) -> Vec<MutexGuard<'_, ()>> {
        let stripes: std::collections::BTreeSet<usize> = modules
            .into_iter()
            .map(|module| stripe_of(tenant, module))
            .collect();
        stripes
            .into_iter()
            .filter_map(|stripe| self.locks.get(stripe))
            .map(|lock| lock.lock().unwrap_or_else(PoisonError::into_inner))
            .collect()
    }

    /// Adds to `batch` the writes that turn the scope into snapshot `id`,
    /// its usage record included. The caller holds [`Self::lock_scope`].
    pub(crate) fn restore_into(
        &self,
        batch: &mut Batch,
        tenant: &str,
        module: &str,
        id: u64,
    ) -> Result<(), RegistryError> {
        let scope = scope_prefix(tenant, module);
        let capture = self.captures.of(tenant);
        for entry in self.store.scan_prefix(KV, &scope)? {
            let (full, value) = entry?;
            if let Some(capture) = &capture {
                preserve(self.store.as_ref(), batch, capture, &full, Some(&value))?;
            }
            batch.delete(KV, full);
        }
        let mut usage = DataUsage::default();
        for entry in self.store.scan_prefix(KV_SNAPSHOTS, &snapshot_prefix(id))? {
            let (saved_key, value) = entry?;
            let key = saved_key.get(8..).unwrap_or_default();
            usage.add(Some(entry_size(key.len(), value.len())));
            let mut full = scope.clone();
            full.extend_from_slice(key);
            if let Some(capture) = &capture {
                let current = self.store.get(KV, &full)?;
                preserve(self.store.as_ref(), batch, capture, &full, current.as_deref())?;
            }
            batch.put(KV, full, value);
        }
        batch.put(KV_USAGE, scope, usage.encode());
        Ok(())
    }

    /// The scope's usage: its record, or one scan (recorded) when it has none.
    /// The caller holds [`Self::lock_scope`].
    fn usage_locked(&self, tenant: &str, module: &str) -> Result<DataUsage, RegistryError> {
        let scope = scope_prefix(tenant, module);
        if let Some(record) = self.store.get(KV_USAGE, &scope)? {
            return DataUsage::decode(&record).ok_or_else(|| {
                RegistryError::Storage(format!(
                    "the data usage record of {tenant}/{module} is unreadable; restore the data directory from a backup"
                ))
            });
        }
        let mut usage = DataUsage::default();
        for entry in self.store.scan_prefix(KV, &scope)? {
            let (full, value) = entry?;
            usage.add(Some(entry_size(full.len() - scope.len(), value.len())));
        }
        if usage != DataUsage::default() {
            // Derived data: recomputed by the same scan if this write is lost.
            self.store.put(KV_USAGE, &scope, &usage.encode())?;
        }
        Ok(usage)
    }

    /// Every scope's recorded usage, as (tenant, module, usage).
    pub fn usages(&self) -> Result<Vec<(String, String, DataUsage)>, RegistryError> {
        self.usages_under(&[])
    }

    /// `tenant`'s scopes' recorded usage, as (tenant, module, usage).
    pub fn usages_of(&self, tenant: &str) -> Result<Vec<(String, String, DataUsage)>, RegistryError> {
        let mut prefix = tenant.as_bytes().to_vec();
        prefix.push(0);
        self.usages_under(&prefix)
    }

    fn usages_under(&self, prefix: &[u8]) -> Result<Vec<(String, String, DataUsage)>, RegistryError> {
        let mut usages = Vec::new();
        for entry in self.store.scan_prefix(KV_USAGE, prefix)? {
            let (scope, record) = entry?;
            let mut parts = scope.split(|byte| *byte == 0);
            let (Some(tenant), Some(module), Some(usage)) =
                (parts.next(), parts.next(), DataUsage::decode(&record))
            else {
                continue;
            };
            usages.push((
                String::from_utf8_lossy(tenant).into_owned(),
                String::from_utf8_lossy(module).into_owned(),
                usage,
            ));
        }
        Ok(usages)
    }
}

/// The lock stripe of a scope.
fn stripe_of(tenant: &str, module: &str) -> usize {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (tenant, module).hash(&mut hasher);
    usize::try_from(hasher.finish() % LOCK_STRIPES as u64).unwrap_or(0)
}

/// What one entry counts against a quota: its key's bytes plus its value's.
pub(crate) fn entry_size(key_len: usize, value_len: usize) -> u64 {
    u64::try_from(key_len.saturating_add(value_len)).unwrap_or(u64::MAX)
}

impl ModuleDataStore for StoreModuleData {
    fn get(&self, tenant: &str, module: &str, key: &str) -> Result<Option<Vec<u8>>, RegistryError> {
        Ok(self.store.get(KV, &scoped_key(tenant, module, key))?)
    }

    fn list(
        &self,
        tenant: &str,
        module: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, RegistryError> {
        let scope = scope_prefix(tenant, module);
        let start = match after {
            Some(after) if after >= prefix => {
                let mut start = scoped_key(tenant, module, after);
                start.push(0);
                start
            }
            _ => scoped_key(tenant, module, prefix),
        };
        let mut keys = Vec::new();
        if limit == 0 {
            return Ok(keys);
        }
        for entry in self
            .store
            .scan(KV, &scoped_key(tenant, module, prefix), Some(&start))?
        {
            let (full, _) = entry?;
            let key = full.get(scope.len()..).unwrap_or_default().to_vec();
            let key = String::from_utf8(key).map_err(|_| {
                RegistryError::Storage(
                    "a stored kv key is not UTF-8; restore the data directory from a backup".to_owned(),
                )
            })?;
            keys.push(key);
            if keys.len() == limit {
                break;
            }
        }
        Ok(keys)
    }

    fn apply_with_ticket(
        &self,
        tenant: &str,
        module: &str,
        writes: &[DataWrite],
        quota: DataQuota,
    ) -> Result<FlushTicket, RegistryError> {
        if writes.is_empty() {
            return Ok(FlushTicket::done());
        }
        let applying = {
            let _scope = self.lock_scope(tenant, module);
            // Announced under the scope lock: a flush waits for this writer,
            // and holders of scope locks wait for flushes (a deployment's
            // restore), so it must not be announced while it could still
            // wait for one of them.
            let applying = self.commits.begin();
            let capture = self.captures.of(tenant);
            let before = self.usage_locked(tenant, module)?;
            let mut after = before;
            // Each written key's entry size as the batch leaves it so far.
            let mut sizes: HashMap<&str, Option<u64>> = HashMap::new();
            let mut batch = Batch::new();
            for write in writes {
                let (key, new_size) = match write {
                    DataWrite::Set { key, value } => {
                        batch.put(KV, scoped_key(tenant, module, key), value.clone());
                        (key, Some(entry_size(key.len(), value.len())))
                    }
                    DataWrite::Delete { key } => {
                        batch.delete(KV, scoped_key(tenant, module, key));
                        (key, None)
                    }
                };
                let old_size = match sizes.get(key.as_str()) {
                    Some(size) => *size,
                    None => {
                        let full = scoped_key(tenant, module, key);
                        let current = self.store.get(KV, &full)?;
                        if let Some(capture) = &capture {
                            preserve(
                                self.store.as_ref(),
                                &mut batch,
                                capture,
                                &full,
                                current.as_deref(),
                            )?;
                        }
                        current.map(|value| entry_size(key.len(), value.len()))
                    }
                };
                after.remove(old_size);
                after.add(new_size);
                sizes.insert(key, new_size);
            }
            if quota.refuses(before, after) {
                return Err(RegistryError::QuotaExceeded {
                    tenant: tenant.to_owned(),
                    module: module.to_owned(),
                    after,
                    quota,
                });
            }
            batch.put(KV_USAGE, scope_prefix(tenant, module), after.encode());
            self.store.apply(&batch)?;
            applying
        };
        // Requested after the batch was applied: the flush that completes
        // this ticket started after the writes, so it covers them.
        Ok(applying.request())
    }

    fn usage(&self, tenant: &str, module: &str) -> Result<DataUsage, RegistryError> {
        let _scope = self.lock_scope(tenant, module);
        self.usage_locked(tenant, module)
    }

    fn snapshot(&self, tenant: &str, module: &str) -> Result<u64, RegistryError> {
        let id = self.store.next_id()?;
        let scope = scope_prefix(tenant, module);
        let mut batch = Batch::new();
        for entry in self.store.scan_prefix(KV, &scope)? {
            let (full, value) = entry?;
            let mut snapshot_key = snapshot_prefix(id).to_vec();
            snapshot_key.extend_from_slice(full.get(scope.len()..).unwrap_or_default());
            batch.put(KV_SNAPSHOTS, snapshot_key, value);
        }
        self.store.apply(&batch)?;
        self.commits.flush()?;
        Ok(id)
    }

    fn matches_snapshot(&self, tenant: &str, module: &str, id: u64) -> Result<bool, RegistryError> {
        let scope = scope_prefix(tenant, module);
        let mut current = self.store.scan_prefix(KV, &scope)?;
        let mut saved = self.store.scan_prefix(KV_SNAPSHOTS, &snapshot_prefix(id))?;
        loop {
            match (current.next().transpose()?, saved.next().transpose()?) {
                (None, None) => return Ok(true),
                (Some((current_key, current_value)), Some((saved_key, saved_value))) => {
                    if current_key.get(scope.len()..) != saved_key.get(8..) || current_value != saved_value {
                        return Ok(false);
                    }
                }
                _ => return Ok(false),
            }
        }
    }

    fn restore(&self, tenant: &str, module: &str, id: u64) -> Result<(), RegistryError> {
        {
            let _scope = self.lock_scope(tenant, module);
            let mut batch = Batch::new();
            self.restore_into(&mut batch, tenant, module, id)?;
            self.store.apply(&batch)?;
        }
        self.commits.flush()
    }

    fn drop_snapshot(&self, id: u64) -> Result<(), RegistryError> {
        let mut batch = Batch::new();
        for entry in self.store.scan_prefix(KV_SNAPSHOTS, &snapshot_prefix(id))? {
            batch.delete(KV_SNAPSHOTS, entry?.0);
        }
        self.store.apply(&batch)?;
        self.commits.flush()
    }
}
