//! Canaries in the loader: a candidate made ready beside the active version, and which requests it serves.
//!
//! `start_canary` prepares the candidate like a promote (ready, self-tested,
//! smoke-tested on a scratch store), then runs its `migrate` on the tenant's
//! data without keeping any write: if it would change the data, the canary
//! is refused (both versions would run on data in two shapes). Only then is
//! the canary recorded (durably, audited) and routed.
//!
//! A request goes to the candidate when its caller falls in the canary's
//! share: the FNV-1a hash of (tenant, module, affinity) modulo 100 is below
//! the percent, where the affinity is the caller's `x-modhost-affinity`
//! header or its token id. So a caller stays on one version for the whole
//! canary. A request may pin itself to the active version or the candidate
//! (`x-modhost-pin`). Promoting, rolling back or disabling the module ends
//! its canary.

use std::sync::Arc;

use modhost_registry::Canary;
use semver::Version;
use tokio::sync::OnceCell;

use crate::checks::migration_failed;
use crate::errors::{DeployError, ServeError};
use crate::loader::Loader;
use crate::table::{CanaryRoute, Serving};

/// Which hundredth of the callers `affinity` falls in, for `tenant`'s `module`.
pub fn canary_bucket(tenant: &str, module: &str, affinity: &str) -> u8 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in [tenant, module, affinity] {
        for byte in part.bytes().chain(std::iter::once(0)) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    u8::try_from(hash % 100).unwrap_or(0)
}

impl Loader {
    /// Starts a canary: `version` serves `percent` of `tenant`'s requests of `module`.
    pub async fn start_canary(
        &self,
        tenant_id: &str,
        module: &str,
        version: &Version,
        percent: u8,
        actor: &str,
    ) -> Result<Canary, DeployError> {
        let lock = self.move_lock(tenant_id, module);
        let _guard = lock.lock().await;
        let registry = &self.inner.registry;
        let tenant = registry.tenant(tenant_id)?;
        let from = match registry.check_canary(tenant_id, module, version, percent) {
            Ok(from) => from,
            Err(error) => {
                let error = DeployError::from(error);
                self.record_failed_move("deployment.canary", actor, tenant_id, module, version, &error)?;
                return Err(error);
            }
        };
        let record = registry.version(module, version, Some(tenant_id))?;
        let serving = self.ready_candidate(&tenant, &record).await?;
        let (_, smoke_refusal) = self.smoke_candidate(&tenant, &serving, module).await;
        let refusal = if smoke_refusal.is_some() {
            smoke_refusal
        } else {
            let caller = Loader::caller_for(&tenant, &format!("canary-migrate-{module}@{version}"));
            let from_text = from.to_string();
            match self
                .inner
                .runtime
                .migration_would_change(
                    serving.ready.clone(),
                    &caller,
                    serving.config.clone(),
                    Some(&from_text),
                )
                .await
            {
                Ok(false) => None,
                Ok(true) => Some(DeployError::CanaryNeedsMigration {
                    tenant: tenant_id.to_owned(),
                    module: module.to_owned(),
                    version: version.clone(),
                    from: from.clone(),
                }),
                Err(reason) => Some(migration_failed(module, version, reason)),
            }
        };
        if let Some(error) = refusal {
            self.record_failed_move("deployment.canary", actor, tenant_id, module, version, &error)?;
            return Err(error);
        }
        let canary = registry.start_canary(tenant_id, module, version, percent, actor)?;
        self.set_canary_route(
            tenant_id,
            module,
            Some(Arc::new(CanaryRoute {
                version: version.clone(),
                percent,
                serving: OnceCell::new_with(Some(serving)),
            })),
        );
        Ok(canary)
    }

    /// Ends `tenant`'s canary of `module`: every request goes to the active version again.
    pub async fn abort_canary(
        &self,
        tenant_id: &str,
        module: &str,
        actor: &str,
    ) -> Result<Option<Canary>, DeployError> {
        let lock = self.move_lock(tenant_id, module);
        let _guard = lock.lock().await;
        let ended = self.inner.registry.abort_canary(tenant_id, module, actor)?;
        self.set_canary_route(tenant_id, module, None);
        Ok(ended)
    }

    /// The canary of `tenant`'s `module` as routed: its version and percent.
    pub fn canary(&self, tenant: &str, module: &str) -> Option<(Version, u8)> {
        self.canary_route(tenant, module)
            .map(|route| (route.version.clone(), route.percent))
    }

    /// What serves one request of `tenant`'s `module`: the canary for callers
    /// in its share or pinned to it, else the active version.
    pub async fn serving_request(
        &self,
        tenant: &str,
        module: &str,
        affinity: &str,
        pin: Option<&Version>,
    ) -> Result<Arc<Serving>, ServeError> {
        let active = self.serving(tenant, module).await?;
        let canary = self.canary_route(tenant, module);
        let wants_canary = match (pin, &canary) {
            (Some(pinned), Some(canary)) if *pinned == canary.version => true,
            (Some(pinned), _) if *pinned == active.version => false,
            (Some(pinned), _) => {
                return Err(ServeError::PinNotServed {
                    tenant: tenant.to_owned(),
                    module: module.to_owned(),
                    version: pinned.clone(),
                });
            }
            (None, Some(canary)) => canary_bucket(tenant, module, affinity) < canary.percent,
            (None, None) => false,
        };
        let Some(canary) = canary.filter(|_| wants_canary) else {
            return Ok(active);
        };
        match self.canary_serving(tenant, module, &canary).await {
            Some(serving) => Ok(serving),
            None => Ok(active),
        }
    }

    /// The canary's ready version, loaded on first use (after a restart); `None`
    /// when it cannot load, and the active version serves instead.
    async fn canary_serving(
        &self,
        tenant_id: &str,
        module: &str,
        canary: &CanaryRoute,
    ) -> Option<Arc<Serving>> {
        let loaded = canary
            .serving
            .get_or_try_init(|| async {
                let tenant = self
                    .inner
                    .registry
                    .tenant(tenant_id)
                    .map_err(|error| error.to_string())?;
                let record = self
                    .inner
                    .registry
                    .version(module, &canary.version, Some(tenant_id))
                    .map_err(|error| error.to_string())?;
                self.serving_for(&tenant, &record).await
            })
            .await;
        match loaded {
            Ok(serving) => Some(serving.clone()),
            Err(reason) => {
                tracing::error!(tenant = tenant_id, module, version = %canary.version, %reason, "the canary cannot be loaded; the active version serves its share");
                None
            }
        }
    }
}
