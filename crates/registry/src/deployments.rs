//! Deployments: moving a tenant's active version of a module, atomically and durably.
//!
//! Every move (promote, rollback, disable) checks, under the tenant's lock,
//! that the target is visible to the tenant, that its dependencies are active
//! at matching versions, that no other active module of the tenant would lose
//! a dependency it needs, and that the tenant's config validates against the
//! target's schema. Then the new pointer and the history entry are written in
//! one transaction with the audit record and flushed before returning.

use std::collections::BTreeMap;

use modhost_manifest::Manifest;
use semver::Version;

use crate::audit::AuditDraft;
use crate::canaries::CANARIES;
use crate::configs::CONFIGS;
use crate::error::DeploymentProblem;
use crate::error::RegistryError;
use crate::model::{ConfigHistory, Deployment, DeploymentAction, DeploymentEvent, ModuleVersion};
use crate::records::encode;
use crate::registry::{Registry, RegistryEvent, pair_key};
use crate::store::{Batch, Tree};

/// Deployments, by `tenant\0module`.
pub(crate) const DEPLOYMENTS: Tree = Tree::new("deployments");

/// Where a rollback goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RollbackTarget {
    /// The version active before the current activation.
    Previous,
    /// A version that was active for the tenant before.
    To(Version),
}

/// The result of a deployment change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentChange {
    /// The tenant.
    pub tenant: String,
    /// The module.
    pub module: String,
    /// The active version before.
    pub from: Option<Version>,
    /// The active version now.
    pub to: Option<Version>,
    /// The history entry written; `None` when nothing had to change.
    pub event: Option<DeploymentEvent>,
    /// For a rollback across a migration: the snapshot the module's data was
    /// restored to (writes made since it was taken were discarded).
    pub restored_snapshot: Option<u64>,
}

/// A validated move, ready to commit.
struct PlannedMove {
    tenant: String,
    module: String,
    from: Option<Version>,
    to: Option<Version>,
    action: DeploymentAction,
    snapshot: Option<u64>,
    restore: Option<u64>,
    /// Why, for the audit entry (an automatic rollback's figures).
    reason: Option<String>,
}

impl Registry {
    /// Makes `version` the tenant's active version of `module`.
    pub fn promote(
        &self,
        tenant: &str,
        module: &str,
        version: &Version,
        actor: &str,
    ) -> Result<DeploymentChange, RegistryError> {
        self.promote_migrated(tenant, module, version, actor, None)
    }

    /// Like [`Registry::promote`], recording `snapshot`: the module's data as
    /// the current version left it, taken before the new version migrated it.
    /// A later rollback to the current version restores it.
    pub fn promote_migrated(
        &self,
        tenant: &str,
        module: &str,
        version: &Version,
        actor: &str,
        snapshot: Option<u64>,
    ) -> Result<DeploymentChange, RegistryError> {
        let target = format!("{tenant}/{module}@{version}");
        self.audited(actor, "deployment.promote", &target, tenant, || {
            let mut planned = self.plan_move(tenant, module, Some(version), DeploymentAction::Promote)?;
            planned.snapshot = snapshot;
            self.commit_move(planned, actor)
        })
    }

    /// Checks a promotion without making it: `Ok` with the current active
    /// version when [`Registry::promote`] would succeed now.
    pub fn check_promote(
        &self,
        tenant: &str,
        module: &str,
        version: &Version,
    ) -> Result<Option<Version>, RegistryError> {
        self.plan_move(tenant, module, Some(version), DeploymentAction::Promote)
            .map(|planned| planned.from)
    }

    /// Moves the tenant's active version of `module` back.
    pub fn rollback(
        &self,
        tenant: &str,
        module: &str,
        to: &RollbackTarget,
        actor: &str,
    ) -> Result<DeploymentChange, RegistryError> {
        self.rollback_because(tenant, module, to, actor, None)
    }

    /// [`Registry::rollback`], with why it happened in the audit entry's detail.
    pub fn rollback_because(
        &self,
        tenant: &str,
        module: &str,
        to: &RollbackTarget,
        actor: &str,
        reason: Option<&str>,
    ) -> Result<DeploymentChange, RegistryError> {
        let target = format!("{tenant}/{module}");
        self.audited(actor, "deployment.rollback", &target, tenant, || {
            let deployment = self.deployment(tenant, module)?;
            let not_enabled = || RegistryError::NotEnabled {
                tenant: tenant.to_owned(),
                module: module.to_owned(),
            };
            if deployment.history.is_empty() {
                return Err(not_enabled());
            }
            let destination = match to {
                RollbackTarget::Previous => {
                    deployment
                        .previous()
                        .cloned()
                        .ok_or_else(|| RegistryError::NothingToRollBack {
                            tenant: tenant.to_owned(),
                            module: module.to_owned(),
                        })?
                }
                RollbackTarget::To(version) => {
                    if !deployment
                        .history
                        .iter()
                        .any(|event| event.to.as_ref() == Some(version))
                    {
                        return Err(RegistryError::NeverActive {
                            tenant: tenant.to_owned(),
                            module: module.to_owned(),
                            version: version.clone(),
                        });
                    }
                    version.clone()
                }
            };
            let mut planned =
                self.plan_move(tenant, module, Some(&destination), DeploymentAction::Rollback)?;
            if planned.from.as_ref() != Some(&destination) {
                planned.restore = deployment.snapshot_for_return_to(&destination);
            }
            planned.reason = reason.map(str::to_owned);
            self.commit_move(planned, actor)
        })
    }

    /// Turns `module` off for the tenant.
    pub fn disable(
        &self,
        tenant: &str,
        module: &str,
        actor: &str,
    ) -> Result<DeploymentChange, RegistryError> {
        let target = format!("{tenant}/{module}");
        self.audited(actor, "deployment.disable", &target, tenant, || {
            let planned = self.plan_move(tenant, module, None, DeploymentAction::Disable)?;
            self.commit_move(planned, actor)
        })
    }

    /// Runs `operation`, recording it in the audit log when it is refused
    /// (successes record themselves in their transaction).
    fn audited<T>(
        &self,
        actor: &str,
        action: &str,
        target: &str,
        tenant: &str,
        operation: impl FnOnce() -> Result<T, RegistryError>,
    ) -> Result<T, RegistryError> {
        let result = operation();
        if let Err(error) = &result {
            self.audit_refusal(AuditDraft::ok(actor, action, target, Some(tenant)), error);
        }
        result
    }

    /// Validates a move and returns what to write. Holds no lock: `commit_move`
    /// validates again under the tenant's lock.
    fn plan_move(
        &self,
        tenant: &str,
        module: &str,
        to: Option<&Version>,
        action: DeploymentAction,
    ) -> Result<PlannedMove, RegistryError> {
        self.tenant(tenant)?;
        let deployment = self.deployment(tenant, module)?;
        let from = deployment.active.clone();
        if to.is_none() && from.is_none() {
            return Err(RegistryError::NotEnabled {
                tenant: tenant.to_owned(),
                module: module.to_owned(),
            });
        }
        let target = to
            .map(|version| self.version(module, version, Some(tenant)))
            .transpose()?;
        if from.as_ref() != to {
            let problems = self.check_move(tenant, module, target.as_ref())?;
            if !problems.is_empty() {
                return Err(RegistryError::DeploymentBlocked {
                    tenant: tenant.to_owned(),
                    module: module.to_owned(),
                    target: to.map_or_else(|| "disabled".to_owned(), ToString::to_string),
                    problems,
                });
            }
        }
        Ok(PlannedMove {
            tenant: tenant.to_owned(),
            module: module.to_owned(),
            from,
            to: to.cloned(),
            action,
            snapshot: None,
            restore: None,
            reason: None,
        })
    }

    /// Re-validates `planned` under the tenant's lock and writes it with its
    /// audit entry (and, for a rollback across a migration, the restored data)
    /// in one transaction, then flushes.
    fn commit_move(&self, planned: PlannedMove, actor: &str) -> Result<DeploymentChange, RegistryError> {
        let lock = self.tenant_lock(&planned.tenant);
        let _guard = lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let PlannedMove {
            tenant,
            module,
            to,
            action,
            snapshot,
            restore,
            reason,
            ..
        } = planned;
        let current = self.plan_move(&tenant, &module, to.as_ref(), action)?;
        let from = current.from;
        if from == to {
            return Ok(DeploymentChange {
                tenant,
                module,
                from,
                to,
                event: None,
                restored_snapshot: None,
            });
        }
        let mut deployment = self.deployment(&tenant, &module)?;
        let event = deployment.record(action, to.clone(), actor, snapshot, restore);
        let audit_target = match &to {
            Some(version) => format!("{tenant}/{module}@{version}"),
            None => format!("{tenant}/{module}"),
        };
        let action_name = format!("deployment.{}", action_name(action));
        let mut draft = AuditDraft::ok(actor, &action_name, audit_target, Some(&tenant));
        draft.detail = reason;
        let mut batch = Batch::new();
        // Calls committing to the scope wait until the restore is applied,
        // so its usage record stays exact.
        let _scope = restore.map(|_| self.inner.data.lock_scope(&tenant, &module));
        if let Some(id) = restore {
            let restored = format!(
                "module data restored to snapshot {id}, taken when {} was left; writes made since were discarded",
                to.as_ref().map_or_else(String::new, ToString::to_string)
            );
            draft.detail = Some(match draft.detail.take() {
                Some(reason) => format!("{reason}; {restored}"),
                None => restored,
            });
            self.inner.data.restore_into(&mut batch, &tenant, &module, id)?;
        }
        batch.put(DEPLOYMENTS, pair_key(&tenant, &module), encode(&deployment)?);
        // A move ends the module's canary: it ran beside the version just left.
        batch.delete(CANARIES, pair_key(&tenant, &module));
        self.commit_audited(batch, draft)?.ok_or_else(|| {
            RegistryError::Storage("an unconditional write was refused by the store".to_owned())
        })?;
        tracing::info!(%tenant, %module, from = ?from, to = ?to, action = action_name, restored_snapshot = ?restore, "deployment moved");
        self.notify(RegistryEvent::DeploymentChanged {
            tenant: tenant.clone(),
            module: module.clone(),
            active: to.clone(),
        });
        Ok(DeploymentChange {
            tenant,
            module,
            from,
            to,
            event: Some(event),
            restored_snapshot: restore,
        })
    }

    /// Every reason the tenant's `module` cannot move to `target` (`None`: disabled).
    fn check_move(
        &self,
        tenant: &str,
        module: &str,
        target: Option<&ModuleVersion>,
    ) -> Result<Vec<DeploymentProblem>, RegistryError> {
        let mut problems = Vec::new();
        let active = self.active_manifests(tenant)?;
        if let Some(target) = target {
            let manifest = target.manifest()?;
            for (dependency, requirement) in &manifest.dependencies {
                let running = active
                    .get(dependency.as_str())
                    .map(|(version, _)| version.clone());
                if !running
                    .as_ref()
                    .is_some_and(|version| requirement.matches(version))
                {
                    problems.push(DeploymentProblem::DependencyMissing {
                        dependency: dependency.as_str().to_owned(),
                        requirement: requirement.clone(),
                        active: running,
                    });
                }
            }
            let history: ConfigHistory = self
                .record(CONFIGS, &pair_key(tenant, module))?
                .unwrap_or_default();
            if let Err(config_problems) = manifest.config.validate(&history.current_values()) {
                problems.push(DeploymentProblem::ConfigInvalid {
                    problems: config_problems,
                });
            }
        }
        for (dependent, (dependent_version, manifest)) in &active {
            if dependent == module {
                continue;
            }
            let Some(requirement) = manifest.dependencies.get(module) else {
                continue;
            };
            if !target.is_some_and(|target| requirement.matches(&target.version)) {
                problems.push(DeploymentProblem::DependentWouldBreak {
                    dependent: dependent.clone(),
                    dependent_version: dependent_version.clone(),
                    requirement: requirement.clone(),
                });
            }
        }
        Ok(problems)
    }

    /// The tenant's active modules with their versions and manifests.
    fn active_manifests(&self, tenant: &str) -> Result<BTreeMap<String, (Version, Manifest)>, RegistryError> {
        let mut active = BTreeMap::new();
        for deployment in self.deployments_of(tenant)? {
            if let Some(version) = deployment.active {
                let record = self.version(&deployment.module, &version, None)?;
                active.insert(deployment.module, (version, record.manifest()?));
            }
        }
        Ok(active)
    }

    /// The tenant's deployment of `module` (empty if it never had one).
    pub fn deployment(&self, tenant: &str, module: &str) -> Result<Deployment, RegistryError> {
        Ok(self
            .record(DEPLOYMENTS, &pair_key(tenant, module))?
            .unwrap_or_else(|| Deployment::empty(tenant, module)))
    }

    /// Every deployment of the tenant, by module id (including disabled ones).
    pub fn deployments_of(&self, tenant: &str) -> Result<Vec<Deployment>, RegistryError> {
        self.records(DEPLOYMENTS, &pair_key(tenant, ""))
    }

    /// Every tenant's active versions: `(tenant, module, version)`, for loading the runtime.
    pub fn active_deployments(&self) -> Result<Vec<(String, String, Version)>, RegistryError> {
        let mut active = Vec::new();
        for deployment in self.records::<Deployment>(DEPLOYMENTS, &[])? {
            if let Some(version) = deployment.active {
                active.push((deployment.tenant, deployment.module, version));
            }
        }
        Ok(active)
    }
}

fn action_name(action: DeploymentAction) -> &'static str {
    match action {
        DeploymentAction::Promote => "promote",
        DeploymentAction::Rollback => "rollback",
        DeploymentAction::Disable => "disable",
    }
}
