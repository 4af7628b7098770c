//! Module data: the kv capability's durable storage, scoped to (tenant, module), with snapshots.
//!
//! Keys are stored as `tenant \0 module \0 key` in the `kv` tree; tenant and
//! module ids are kebab-case and never contain NUL, so one scope's prefix can
//! never reach another's whatever the key (the runtime also refuses NUL in
//! keys). A snapshot copies a whole scope into the `kv_snapshots` tree under
//! its id; restoring one replaces the scope atomically (one sled batch).
//! Snapshots protect promotions that migrate data: see `deployments.rs`.
//! Writes are batched into one flush per request ([`Registry::kv_commit`])
//! rather than one fsync per key.

use crate::{Registry, RegistryError};

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

/// One write to the `kv` tree, applied inside a larger transaction.
pub(crate) enum KvWrite {
    Remove(Vec<u8>),
    Insert(Vec<u8>, Vec<u8>),
}

fn snapshot_prefix(id: u64) -> [u8; 8] {
    id.to_be_bytes()
}

impl Registry {
    /// The value under `key` in the (tenant, module) scope.
    pub fn kv_get(&self, tenant: &str, module: &str, key: &str) -> Result<Option<Vec<u8>>, RegistryError> {
        Ok(self
            .inner
            .kv
            .get(scoped_key(tenant, module, key))?
            .map(|value| value.to_vec()))
    }

    /// Stores `value` under `key`. Durable after [`Registry::kv_commit`]
    /// (the runtime commits before answering a request that wrote).
    pub fn kv_set(&self, tenant: &str, module: &str, key: &str, value: &[u8]) -> Result<(), RegistryError> {
        self.inner.kv.insert(scoped_key(tenant, module, key), value)?;
        Ok(())
    }

    /// Removes `key`; whether it existed. Durable after [`Registry::kv_commit`].
    pub fn kv_delete(&self, tenant: &str, module: &str, key: &str) -> Result<bool, RegistryError> {
        Ok(self.inner.kv.remove(scoped_key(tenant, module, key))?.is_some())
    }

    /// Makes every kv write so far durable.
    pub fn kv_commit(&self) -> Result<(), RegistryError> {
        self.flush()
    }

    /// Up to `limit` keys of the scope starting with `prefix`, strictly after `after`, ascending.
    pub fn kv_list(
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
        for item in self.inner.kv.range(start..) {
            let (full, _) = item?;
            let Some(key) = full.strip_prefix(scope.as_slice()) else {
                break;
            };
            let key = String::from_utf8(key.to_vec())
                .map_err(|_| RegistryError::Storage("a stored kv key is not UTF-8".to_owned()))?;
            if !key.starts_with(prefix) || keys.len() == limit {
                break;
            }
            keys.push(key);
        }
        Ok(keys)
    }

    /// Copies the scope into a new snapshot and returns its id.
    pub fn kv_snapshot(&self, tenant: &str, module: &str) -> Result<u64, RegistryError> {
        let id = self.inner.db.generate_id()?;
        let scope = scope_prefix(tenant, module);
        let mut batch = sled::Batch::default();
        for item in self.inner.kv.scan_prefix(&scope) {
            let (full, value) = item?;
            let mut snapshot_key = snapshot_prefix(id).to_vec();
            snapshot_key.extend_from_slice(&full[scope.len()..]);
            batch.insert(snapshot_key, value);
        }
        self.inner.kv_snapshots.apply_batch(batch)?;
        self.flush()?;
        Ok(id)
    }

    /// Whether the scope holds exactly what snapshot `id` holds.
    pub fn kv_matches_snapshot(&self, tenant: &str, module: &str, id: u64) -> Result<bool, RegistryError> {
        let scope = scope_prefix(tenant, module);
        let mut current = self.inner.kv.scan_prefix(&scope);
        let mut saved = self.inner.kv_snapshots.scan_prefix(snapshot_prefix(id));
        loop {
            match (current.next().transpose()?, saved.next().transpose()?) {
                (None, None) => return Ok(true),
                (Some((current_key, current_value)), Some((saved_key, saved_value))) => {
                    if current_key[scope.len()..] != saved_key[8..] || current_value != saved_value {
                        return Ok(false);
                    }
                }
                _ => return Ok(false),
            }
        }
    }

    /// Replaces the scope with snapshot `id`, atomically; writes since are discarded.
    pub fn kv_restore_snapshot(&self, tenant: &str, module: &str, id: u64) -> Result<(), RegistryError> {
        let mut batch = sled::Batch::default();
        for write in self.kv_restore_writes(tenant, module, id)? {
            match write {
                KvWrite::Remove(key) => batch.remove(key),
                KvWrite::Insert(key, value) => batch.insert(key, value),
            }
        }
        self.inner.kv.apply_batch(batch)?;
        self.flush()
    }

    /// The writes to the `kv` tree that turn the scope into snapshot `id`.
    pub(crate) fn kv_restore_writes(
        &self,
        tenant: &str,
        module: &str,
        id: u64,
    ) -> Result<Vec<KvWrite>, RegistryError> {
        let scope = scope_prefix(tenant, module);
        let mut writes = Vec::new();
        for item in self.inner.kv.scan_prefix(&scope) {
            writes.push(KvWrite::Remove(item?.0.to_vec()));
        }
        for item in self.inner.kv_snapshots.scan_prefix(snapshot_prefix(id)) {
            let (saved_key, value) = item?;
            let mut full = scope.clone();
            full.extend_from_slice(&saved_key[8..]);
            writes.push(KvWrite::Insert(full, value.to_vec()));
        }
        Ok(writes)
    }

    /// Deletes snapshot `id`.
    pub fn kv_drop_snapshot(&self, id: u64) -> Result<(), RegistryError> {
        let mut batch = sled::Batch::default();
        for item in self.inner.kv_snapshots.scan_prefix(snapshot_prefix(id)) {
            batch.remove(item?.0);
        }
        self.inner.kv_snapshots.apply_batch(batch)?;
        self.flush()
    }
}
