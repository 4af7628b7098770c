//! The registry's module data operations (`kv_*`), delegating to its [`ModuleDataStore`].
//!
//! The sandbox buffers one call's writes and hands them over once, on
//! success: [`Registry::kv_apply`] applies them atomically and waits for the
//! group-commit flush that makes them durable; [`Registry::kv_commit`] applies
//! them and hands back that flush's ticket, for async callers to await.
//! Snapshots protect promotions that migrate data: see `deployments.rs`.

use crate::error::RegistryError;
use crate::group_commit::FlushTicket;
use crate::module_data::{DataWrite, ModuleDataStore};
use crate::registry::Registry;
use crate::usage::{DataQuota, DataUsage};

impl Registry {
    /// The module data store (for adapters that want the trait).
    pub fn module_data(&self) -> &dyn ModuleDataStore {
        &self.inner.data
    }

    /// The value under `key` in the (tenant, module) scope.
    pub fn kv_get(&self, tenant: &str, module: &str, key: &str) -> Result<Option<Vec<u8>>, RegistryError> {
        self.inner.data.get(tenant, module, key)
    }

    /// Applies one call's `writes` to the (tenant, module) scope, in order,
    /// all or none, and makes them durable before returning; refused with
    /// [`RegistryError::QuotaExceeded`], writing nothing, past `quota`.
    pub fn kv_apply(
        &self,
        tenant: &str,
        module: &str,
        writes: &[DataWrite],
        quota: DataQuota,
    ) -> Result<(), RegistryError> {
        self.inner.data.apply(tenant, module, writes, quota)
    }

    /// Applies one call's `writes` like [`Self::kv_apply`] (atomically, the
    /// quota checked in the same step) but returns once they are applied,
    /// with the ticket that completes when they are durable: await it (or
    /// [`FlushTicket::wait`] off an async executor) before acknowledging them.
    pub fn kv_commit(
        &self,
        tenant: &str,
        module: &str,
        writes: &[DataWrite],
        quota: DataQuota,
    ) -> Result<FlushTicket, RegistryError> {
        self.inner.data.apply_with_ticket(tenant, module, writes, quota)
    }

    /// What the (tenant, module) scope holds.
    pub fn kv_usage(&self, tenant: &str, module: &str) -> Result<DataUsage, RegistryError> {
        self.inner.data.usage(tenant, module)
    }

    /// Every scope's recorded usage, as (tenant, module, usage).
    pub fn kv_usages(&self) -> Result<Vec<(String, String, DataUsage)>, RegistryError> {
        self.inner.data.usages()
    }

    /// `tenant`'s scopes' recorded usage, as (tenant, module, usage).
    pub fn kv_usages_of(&self, tenant: &str) -> Result<Vec<(String, String, DataUsage)>, RegistryError> {
        self.inner.data.usages_of(tenant)
    }

    /// Stores `value` under `key`, durably, with no quota (an operator's write).
    pub fn kv_set(&self, tenant: &str, module: &str, key: &str, value: &[u8]) -> Result<(), RegistryError> {
        let write = DataWrite::Set {
            key: key.to_owned(),
            value: value.to_vec(),
        };
        self.kv_apply(tenant, module, &[write], DataQuota::UNLIMITED)
    }

    /// Removes `key`, durably; whether it existed.
    pub fn kv_delete(&self, tenant: &str, module: &str, key: &str) -> Result<bool, RegistryError> {
        let existed = self.kv_get(tenant, module, key)?.is_some();
        self.kv_apply(
            tenant,
            module,
            &[DataWrite::Delete { key: key.to_owned() }],
            DataQuota::UNLIMITED,
        )?;
        Ok(existed)
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
        self.inner.data.list(tenant, module, prefix, after, limit)
    }

    /// Copies the scope into a new snapshot and returns its id.
    pub fn kv_snapshot(&self, tenant: &str, module: &str) -> Result<u64, RegistryError> {
        self.inner.data.snapshot(tenant, module)
    }

    /// Whether the scope holds exactly what snapshot `id` holds.
    pub fn kv_matches_snapshot(&self, tenant: &str, module: &str, id: u64) -> Result<bool, RegistryError> {
        self.inner.data.matches_snapshot(tenant, module, id)
    }

    /// Replaces the scope with snapshot `id`, atomically; writes since are discarded.
    pub fn kv_restore_snapshot(&self, tenant: &str, module: &str, id: u64) -> Result<(), RegistryError> {
        self.inner.data.restore(tenant, module, id)
    }

    /// Deletes snapshot `id`.
    pub fn kv_drop_snapshot(&self, id: u64) -> Result<(), RegistryError> {
        self.inner.data.drop_snapshot(id)
    }
}
