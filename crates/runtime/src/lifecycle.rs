//! Running a version before it serves: `self-test`, calls against a scratch store (for smoke tests), `migrate` on the tenant's data.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use crate::error::CallError;
use crate::kv::{KvDurability, KvQuota, KvScope, KvStore, KvUsage, KvWrite, MemoryKvStore, durable_now};
use crate::ready::ReadyModule;
use crate::runtime::{CallTarget, Runtime};
use crate::types::{Caller, ModuleConfig, Request, Response, TenantKind};

/// The tenant id self-tests run as; it never owns data (its store is thrown away).
pub const SELF_TEST_TENANT: &str = "modhost-self-test";

impl Runtime {
    /// Serves one request like [`Runtime::call`], but against `store`
    /// instead of the tenant's data (a smoke test's scratch store, which the
    /// module's nested calls share) and without counting it in the request
    /// metrics.
    pub async fn call_with_store(
        &self,
        module: Arc<ReadyModule>,
        caller: &Caller,
        config: Arc<ModuleConfig>,
        store: Arc<dyn KvStore>,
        request: Request,
    ) -> Result<Response, CallError> {
        let deadline = Instant::now() + module.spec().timeout;
        let target = CallTarget {
            module,
            caller: caller.clone(),
            config,
            store,
            depth: 0,
            deadline,
        };
        self.handle(&target, request).await.0
    }

    /// Runs the module's `migrate` export on the caller's real data; its
    /// writes are committed only if it succeeds. Returns the module's
    /// refusal, or a description of how the call failed.
    pub async fn migrate(
        &self,
        module: Arc<ReadyModule>,
        caller: &Caller,
        config: Arc<ModuleConfig>,
        from_version: Option<&str>,
    ) -> Result<(), String> {
        self.run_migrate(module, caller, config, self.data_store(), from_version)
            .await
    }

    /// Runs the module's `migrate` export on the caller's real data without
    /// keeping any write: whether it would change the data (a key set to a
    /// new value, added or removed). A canary beside the active version is
    /// refused when it would: the two versions would share data in two shapes.
    pub async fn migration_would_change(
        &self,
        module: Arc<ReadyModule>,
        caller: &Caller,
        config: Arc<ModuleConfig>,
        from_version: Option<&str>,
    ) -> Result<bool, String> {
        let probe = Arc::new(DryRunStore {
            inner: self.data_store(),
            changed: AtomicBool::new(false),
        });
        self.run_migrate(module, caller, config, probe.clone(), from_version)
            .await?;
        Ok(probe.changed.load(Ordering::SeqCst))
    }

    async fn run_migrate(
        &self,
        module: Arc<ReadyModule>,
        caller: &Caller,
        config: Arc<ModuleConfig>,
        store: Arc<dyn KvStore>,
        from_version: Option<&str>,
    ) -> Result<(), String> {
        let deadline = Instant::now() + module.spec().timeout;
        let target = CallTarget {
            module,
            caller: caller.clone(),
            config,
            store,
            depth: 0,
            deadline,
        };
        let (outcome, _) = self
            .run_in_fresh_instance(
                &target,
                async |pre, store| pre.migrate(store, from_version).await,
                Result::is_ok,
            )
            .await;
        match outcome {
            Ok(Ok(())) => Ok(()),
            Ok(Err(message)) => Err(message),
            Err(error) => Err(error.to_string()),
        }
    }

    /// Runs the module's `self-test` export with `config` (normally the schema's
    /// defaults) and an empty kv store that is thrown away afterwards.
    pub async fn self_test(&self, module: Arc<ReadyModule>, config: Arc<ModuleConfig>) -> Result<(), String> {
        let caller = Caller {
            tenant_id: SELF_TEST_TENANT.into(),
            tenant_kind: TenantKind::Standard,
            request_id: "self-test".into(),
            permissions: vec![],
            grants: vec![],
            features: vec![],
        };
        let deadline = Instant::now() + module.spec().timeout;
        let target = CallTarget {
            module,
            caller,
            config,
            store: Arc::new(MemoryKvStore::new()),
            depth: 0,
            deadline,
        };
        let (outcome, _) = self
            .run_in_fresh_instance(
                &target,
                async |pre, store| pre.self_test(store).await,
                Result::is_ok,
            )
            .await;
        match outcome {
            Ok(Ok(())) => Ok(()),
            Ok(Err(message)) => Err(message),
            Err(error) => Err(error.to_string()),
        }
    }
}

/// A store that reads the real data and keeps no write, noting whether a
/// commit would have changed anything.
struct DryRunStore {
    inner: Arc<dyn KvStore>,
    changed: AtomicBool,
}

impl KvStore for DryRunStore {
    fn get(&self, scope: &KvScope, key: &str) -> anyhow::Result<Option<Vec<u8>>> {
        self.inner.get(scope, key)
    }

    fn list(
        &self,
        scope: &KvScope,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> anyhow::Result<Vec<String>> {
        self.inner.list(scope, prefix, after, limit)
    }

    fn commit(&self, scope: &KvScope, writes: &[KvWrite], _quota: KvQuota) -> anyhow::Result<KvDurability> {
        let mut last = std::collections::BTreeMap::new();
        for write in writes {
            match write {
                KvWrite::Set { key, value } => last.insert(key.as_str(), Some(value.as_slice())),
                KvWrite::Delete { key } => last.insert(key.as_str(), None),
            };
        }
        for (key, value) in last {
            if self.inner.get(scope, key)?.as_deref() != value {
                self.changed.store(true, Ordering::SeqCst);
            }
        }
        Ok(durable_now())
    }

    fn usage(&self, scope: &KvScope) -> anyhow::Result<KvUsage> {
        self.inner.usage(scope)
    }
}
