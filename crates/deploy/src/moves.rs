//! Moving a deployment: promote (ready, smoke-tested, migrated under a snapshot), rollback, disable.

use modhost_registry::{AuditDraft, AuditOutcome, DeploymentChange, RegistryError, RollbackTarget};
use std::time::Duration;

use semver::Version;
use tracing::Instrument as _;

use crate::checks::migration_failed;
use crate::errors::DeployError;
use crate::loader::Loader;
use crate::table::Route;

impl Loader {
    /// Promotes `version` for the tenant: make it ready, migrate the data
    /// (with a snapshot), move the registry's pointer, swap the route; then
    /// watch it for the policy's window (see `watch.rs`).
    pub async fn promote(
        &self,
        tenant_id: &str,
        module: &str,
        version: &Version,
        actor: &str,
    ) -> Result<DeploymentChange, DeployError> {
        self.promote_watched(tenant_id, module, version, actor, None)
            .await
    }

    /// [`Loader::promote`], watching the new version for `watch` instead of
    /// the policy's window (zero: not at all). Only a move from another
    /// version is watched: there is nothing to roll back to otherwise.
    pub async fn promote_watched(
        &self,
        tenant_id: &str,
        module: &str,
        version: &Version,
        actor: &str,
        watch: Option<Duration>,
    ) -> Result<DeploymentChange, DeployError> {
        // The promote's steps are child spans (debug: free unless a layer wants them).
        let span = tracing::debug_span!(
            "promote",
            modhost.tenant = tenant_id,
            modhost.module = module,
            modhost.version = %version,
        );
        let change = self
            .promote_unwatched(tenant_id, module, version, actor)
            .instrument(span)
            .await?;
        let window = watch.unwrap_or_else(|| self.watch_policy().window);
        if let (Some(event), Some(previous)) = (&change.event, &change.from)
            && !window.is_zero()
            && previous != version
        {
            self.start_watch(
                tenant_id,
                module,
                version,
                previous,
                event.snapshot.is_some(),
                window,
            );
        }
        Ok(change)
    }

    async fn promote_unwatched(
        &self,
        tenant_id: &str,
        module: &str,
        version: &Version,
        actor: &str,
    ) -> Result<DeploymentChange, DeployError> {
        let lock = self.move_lock(tenant_id, module);
        let _guard = lock.lock().await;
        let registry = &self.inner.registry;
        // Every check before the switch is shared with `promote_dry_run` (`checks.rs`).
        let from = registry.check_promote(tenant_id, module, version)?;
        let tenant = registry.tenant(tenant_id)?;
        if from.as_ref() == Some(version) {
            return Ok(registry.promote(tenant_id, module, version, actor)?);
        }
        let record = registry.version(module, version, Some(tenant_id))?;
        let serving = self
            .ready_candidate(&tenant, &record)
            .instrument(tracing::debug_span!("promote.prepare"))
            .await?;
        let (_, refusal) = self
            .smoke_candidate(&tenant, &serving, module)
            .instrument(tracing::debug_span!("promote.smoke_tests"))
            .await;
        if let Some(error) = refusal {
            self.record_failed_move("deployment.promote", actor, tenant_id, module, version, &error)?;
            return Err(error);
        }

        let snapshot = registry.kv_snapshot(tenant_id, module)?;
        let caller = Loader::caller_for(&tenant, &format!("migrate-{module}@{version}"));
        let from_text = from.as_ref().map(ToString::to_string);
        let migrated = self
            .inner
            .runtime
            .migrate(
                serving.ready.clone(),
                &caller,
                serving.config.clone(),
                from_text.as_deref(),
            )
            .instrument(tracing::debug_span!("promote.migrate"))
            .await;
        if let Err(reason) = migrated {
            registry.kv_restore_snapshot(tenant_id, module, snapshot)?;
            registry.kv_drop_snapshot(snapshot)?;
            let error = migration_failed(module, version, reason);
            self.record_failed_move("deployment.promote", actor, tenant_id, module, version, &error)?;
            return Err(error);
        }
        // No await from here on: the entered span never crosses one.
        let _commit = tracing::debug_span!("promote.commit").entered();
        let data_changed = !registry.kv_matches_snapshot(tenant_id, module, snapshot)?;
        if !data_changed {
            registry.kv_drop_snapshot(snapshot)?;
        }
        match registry.promote_migrated(
            tenant_id,
            module,
            version,
            actor,
            data_changed.then_some(snapshot),
        ) {
            Ok(change) => {
                self.install(&tenant, module, Route::ready(serving));
                self.set_canary_route(tenant_id, module, None);
                Ok(change)
            }
            Err(error) => {
                if data_changed {
                    registry.kv_restore_snapshot(tenant_id, module, snapshot)?;
                    registry.kv_drop_snapshot(snapshot)?;
                }
                Err(error.into())
            }
        }
    }

    /// Audits a move (`action`, e.g. `deployment.promote`) refused by the
    /// loader's own checks (readiness, smoke tests, migration).
    pub(crate) fn record_failed_move(
        &self,
        action: &str,
        actor: &str,
        tenant_id: &str,
        module: &str,
        version: &Version,
        error: &DeployError,
    ) -> Result<(), RegistryError> {
        let mut draft = AuditDraft::ok(
            actor,
            action,
            format!("{tenant_id}/{module}@{version}"),
            Some(tenant_id),
        );
        draft.outcome = AuditOutcome::Failed;
        draft.detail = Some(error.to_string());
        self.inner.registry.record_audit(draft)?;
        Ok(())
    }

    /// Rolls the tenant's `module` back: make the target ready, then let the
    /// registry move the pointer (restoring pre-migration data if it crosses a
    /// migration), then swap the route.
    pub async fn rollback(
        &self,
        tenant_id: &str,
        module: &str,
        to: &RollbackTarget,
        actor: &str,
    ) -> Result<DeploymentChange, DeployError> {
        self.rollback_because(tenant_id, module, to, actor, None).await
    }

    /// [`Loader::rollback`], with why in the audit entry.
    pub async fn rollback_because(
        &self,
        tenant_id: &str,
        module: &str,
        to: &RollbackTarget,
        actor: &str,
        reason: Option<&str>,
    ) -> Result<DeploymentChange, DeployError> {
        let lock = self.move_lock(tenant_id, module);
        let _guard = lock.lock().await;
        let registry = &self.inner.registry;
        let tenant = registry.tenant(tenant_id)?;
        let deployment = registry.deployment(tenant_id, module)?;
        let destination = match to {
            RollbackTarget::Previous => deployment.previous().cloned(),
            RollbackTarget::To(version) => Some(version.clone()),
        };
        let prepared = match &destination {
            Some(version) => match registry.version(module, version, Some(tenant_id)) {
                Ok(record) => Some(self.serving_for(&tenant, &record).await.map_err(|reason| {
                    DeployError::NotReady {
                        module: module.to_owned(),
                        version: version.clone(),
                        reason,
                    }
                })?),
                Err(_) => None,
            },
            None => None,
        };
        let change = registry.rollback_because(tenant_id, module, to, actor, reason)?;
        match (change.to.as_ref(), prepared) {
            (Some(to), Some(serving)) if serving.version == *to && change.event.is_some() => {
                self.install(&tenant, module, Route::ready(serving));
            }
            _ => self.refresh(tenant_id, module),
        }
        self.set_canary_route(tenant_id, module, None);
        Ok(change)
    }

    /// Turns `module` off for the tenant.
    pub async fn disable(
        &self,
        tenant_id: &str,
        module: &str,
        actor: &str,
    ) -> Result<DeploymentChange, DeployError> {
        let lock = self.move_lock(tenant_id, module);
        let _guard = lock.lock().await;
        let change = self.inner.registry.disable(tenant_id, module, actor)?;
        self.refresh(tenant_id, module);
        self.set_canary_route(tenant_id, module, None);
        Ok(change)
    }
}
