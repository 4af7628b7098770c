//! Module data: the kv capability's durable storage behind [`ModuleDataStore`], scoped to (tenant, module), with snapshots.
//!
//! [`StoreModuleData`] keeps it in a [`Store`]: keys as `tenant \0 module \0 key`
//! in the `kv` tree; tenant and module ids are kebab-case and never contain
//! NUL, so one scope's prefix never reaches another's whatever the key (the
//! runtime also refuses NUL in keys). A snapshot copies a whole scope into the
//! `kv_snapshots` tree under a fresh id; restoring one replaces the scope in
//! one batch. One sandbox call's writes arrive together and are applied in
//! one batch with one flush ([`ModuleDataStore::apply`]).

use std::sync::Arc;

use crate::error::RegistryError;
use crate::store::{Batch, Store, Tree};

/// Module data, per (tenant, module).
pub(crate) const KV: Tree = Tree::new("kv");
/// Scope snapshots, keyed by snapshot id then key.
pub(crate) const KV_SNAPSHOTS: Tree = Tree::new("kv_snapshots");

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

    /// Applies `writes` to the scope in order, all or none, durably.
    fn apply(&self, tenant: &str, module: &str, writes: &[DataWrite]) -> Result<(), RegistryError>;

    /// Copies the scope into a new snapshot and returns its id.
    fn snapshot(&self, tenant: &str, module: &str) -> Result<u64, RegistryError>;

    /// Whether the scope holds exactly what snapshot `id` holds.
    fn matches_snapshot(&self, tenant: &str, module: &str, id: u64) -> Result<bool, RegistryError>;

    /// Replaces the scope with snapshot `id`, atomically and durably.
    fn restore(&self, tenant: &str, module: &str, id: u64) -> Result<(), RegistryError>;

    /// Deletes snapshot `id`.
    fn drop_snapshot(&self, id: u64) -> Result<(), RegistryError>;
}

fn scope_prefix(tenant: &str, module: &str) -> Vec<u8> {
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
}

impl std::fmt::Debug for StoreModuleData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreModuleData").finish_non_exhaustive()
    }
}

impl StoreModuleData {
    /// Module data kept in `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    /// Adds to `batch` the writes that turn the scope into snapshot `id`.
    pub(crate) fn restore_into(
        &self,
        batch: &mut Batch,
        tenant: &str,
        module: &str,
        id: u64,
    ) -> Result<(), RegistryError> {
        let scope = scope_prefix(tenant, module);
        for entry in self.store.scan_prefix(KV, &scope)? {
            batch.delete(KV, entry?.0);
        }
        for entry in self.store.scan_prefix(KV_SNAPSHOTS, &snapshot_prefix(id))? {
            let (saved_key, value) = entry?;
            let mut full = scope.clone();
            full.extend_from_slice(saved_key.get(8..).unwrap_or_default());
            batch.put(KV, full, value);
        }
        Ok(())
    }
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

    fn apply(&self, tenant: &str, module: &str, writes: &[DataWrite]) -> Result<(), RegistryError> {
        if writes.is_empty() {
            return Ok(());
        }
        let mut batch = Batch::new();
        for write in writes {
            match write {
                DataWrite::Set { key, value } => {
                    batch.put(KV, scoped_key(tenant, module, key), value.clone())
                }
                DataWrite::Delete { key } => batch.delete(KV, scoped_key(tenant, module, key)),
            };
        }
        self.store.apply(&batch)?;
        Ok(self.store.flush()?)
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
        self.store.flush()?;
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
        let mut batch = Batch::new();
        self.restore_into(&mut batch, tenant, module, id)?;
        self.store.apply(&batch)?;
        Ok(self.store.flush()?)
    }

    fn drop_snapshot(&self, id: u64) -> Result<(), RegistryError> {
        let mut batch = Batch::new();
        for entry in self.store.scan_prefix(KV_SNAPSHOTS, &snapshot_prefix(id))? {
            batch.delete(KV_SNAPSHOTS, entry?.0);
        }
        self.store.apply(&batch)?;
        Ok(self.store.flush()?)
    }
}
