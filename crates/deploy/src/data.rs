//! The module data store over the registry: the sandbox's `KvStore`, backed by the registry's durable module data.

use modhost_registry::{DataQuota, DataWrite, Registry, RegistryError};
use modhost_runtime::kv::{KvDurability, KvQuota, KvQuotaExceeded, KvScope, KvStore, KvUsage, KvWrite};

/// The module data store backed by the registry's storage.
#[derive(Debug, Clone)]
pub struct RegistryKvStore(pub Registry);

impl KvStore for RegistryKvStore {
    fn get(&self, scope: &KvScope, key: &str) -> anyhow::Result<Option<Vec<u8>>> {
        Ok(self.0.kv_get(&scope.tenant, &scope.module, key)?)
    }

    fn list(
        &self,
        scope: &KvScope,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> anyhow::Result<Vec<String>> {
        Ok(self
            .0
            .kv_list(&scope.tenant, &scope.module, prefix, after, limit)?)
    }

    /// Applies the writes now (quota checked in the same step) and returns
    /// the registry's flush ticket to await: never blocks the worker on the disk.
    fn commit(&self, scope: &KvScope, writes: &[KvWrite], quota: KvQuota) -> anyhow::Result<KvDurability> {
        let writes: Vec<DataWrite> = writes
            .iter()
            .map(|write| match write {
                KvWrite::Set { key, value } => DataWrite::Set {
                    key: key.clone(),
                    value: value.clone(),
                },
                KvWrite::Delete { key } => DataWrite::Delete { key: key.clone() },
            })
            .collect();
        let quota = DataQuota {
            max_keys: quota.max_keys,
            max_bytes: quota.max_bytes,
        };
        match self.0.kv_commit(&scope.tenant, &scope.module, &writes, quota) {
            Ok(ticket) => Ok(Box::pin(async move { Ok(ticket.await?) })),
            Err(RegistryError::QuotaExceeded { after, quota, .. }) => Err(KvQuotaExceeded {
                after: KvUsage {
                    keys: after.keys,
                    bytes: after.bytes,
                },
                quota: KvQuota {
                    max_keys: quota.max_keys,
                    max_bytes: quota.max_bytes,
                },
            }
            .into()),
            Err(error) => Err(error.into()),
        }
    }

    fn usage(&self, scope: &KvScope) -> anyhow::Result<KvUsage> {
        let usage = self.0.kv_usage(&scope.tenant, &scope.module)?;
        Ok(KvUsage {
            keys: usage.keys,
            bytes: usage.bytes,
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_runtimes_self_test_tenant_is_one_no_tenant_can_take() {
        assert!(
            modhost_runtime::SELF_TEST_TENANT.starts_with(modhost_registry::RESERVED_TENANT_PREFIX),
            "`{}` must start with the registry's reserved prefix `{}`",
            modhost_runtime::SELF_TEST_TENANT,
            modhost_registry::RESERVED_TENANT_PREFIX
        );
    }
}
