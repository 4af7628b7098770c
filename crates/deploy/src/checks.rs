//! What a promote checks before it switches, shared by the promote itself, its dry run and smoke tests on demand.
//!
//! A promote refuses a version when the registry's checks fail (its
//! dependencies, the tenant's modules depending on it, the tenant's config
//! against its schema: [`Registry::check_promote`]), when it cannot be made
//! ready (compile, link, self-test, the tenant's config resolved), when one
//! of its smoke tests fails, or when its `migrate` fails. Each step is one
//! function here or in the registry, called by [`Loader::promote`] and by
//! [`Loader::promote_dry_run`], which runs them in the same order without
//! changing anything: the migration runs on the tenant's data through a store
//! that keeps no write ([`modhost_runtime::Runtime::migration_would_change`]).
//! [`Loader::smoke_test`] runs one version's smoke tests as a promote does.
//! The dry run and the smoke tests are audited (`deployment.promote-dry-run`,
//! `deployment.smoke`); nothing else is written.

use std::sync::Arc;

use modhost_registry::{AuditDraft, AuditOutcome, DeploymentProblem, ModuleVersion, RegistryError, Tenant};
use semver::Version;

use crate::errors::DeployError;
use crate::loader::Loader;
use crate::smoke::{SmokeReport, smoke_report};
use crate::table::Serving;

/// One check of a promote's dry run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromoteCheck {
    /// `dependencies`, `dependents`, `config`, `ready`, `smoke` or `migration`.
    pub name: &'static str,
    /// Whether it passed.
    pub ok: bool,
    /// For a failed check, the refusal the real promote would give; for a
    /// passed one, what it found, when there is something to say.
    pub message: Option<String>,
}

impl PromoteCheck {
    fn passed(name: &'static str, message: Option<String>) -> Self {
        Self {
            name,
            ok: true,
            message,
        }
    }

    fn failed(name: &'static str, message: String) -> Self {
        Self {
            name,
            ok: false,
            message: Some(message),
        }
    }
}

/// What a promote would do now, found without changing anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromoteDryRun {
    /// The active version now.
    pub from: Option<Version>,
    /// The version asked for.
    pub to: Version,
    /// Whether the promote would move the pointer (`false`: already active).
    pub would_change: bool,
    /// The checks that ran, in the promote's order; after a failed one the
    /// promote would stop, so the later ones are not run.
    pub checks: Vec<PromoteCheck>,
}

impl PromoteDryRun {
    /// Whether the promote would succeed now.
    pub fn ok(&self) -> bool {
        self.checks.iter().all(|check| check.ok)
    }

    /// The first failed check's message: the promote's error.
    pub fn failure(&self) -> Option<&str> {
        self.checks
            .iter()
            .find(|check| !check.ok)
            .and_then(|check| check.message.as_deref())
    }
}

/// The name of the check a registry problem belongs to.
fn problem_check(problem: &DeploymentProblem) -> &'static str {
    match problem {
        DeploymentProblem::DependencyMissing { .. } => "dependencies",
        DeploymentProblem::DependentWouldBreak { .. } => "dependents",
        DeploymentProblem::ConfigInvalid { .. } => "config",
    }
}

/// The registry's checks of a promote, one entry each, from what
/// [`modhost_registry::Registry::check_promote`] answered. A failed check's
/// message is the registry's refusal limited to that check's problems: when
/// only one check fails, exactly the promote's error. Other errors (unknown
/// tenant or version, storage) are returned as they are.
fn registry_checks(outcome: Result<(), RegistryError>) -> Result<Vec<PromoteCheck>, RegistryError> {
    const NAMES: [&str; 3] = ["dependencies", "dependents", "config"];
    let (tenant, module, target, problems) = match outcome {
        Ok(()) => return Ok(NAMES.map(|name| PromoteCheck::passed(name, None)).to_vec()),
        Err(RegistryError::DeploymentBlocked {
            tenant,
            module,
            target,
            problems,
        }) => (tenant, module, target, problems),
        Err(error) => return Err(error),
    };
    let mut checks = Vec::new();
    for name in NAMES {
        let mine: Vec<DeploymentProblem> = problems
            .iter()
            .filter(|problem| problem_check(problem) == name)
            .cloned()
            .collect();
        checks.push(if mine.is_empty() {
            PromoteCheck::passed(name, None)
        } else {
            let refusal = RegistryError::DeploymentBlocked {
                tenant: tenant.clone(),
                module: module.clone(),
                target: target.clone(),
                problems: mine,
            };
            PromoteCheck::failed(name, refusal.to_string())
        });
    }
    Ok(checks)
}

impl Loader {
    /// `module@version` as `tenant` may run it. A module the tenant sees no
    /// version of (unknown, or another tenant's custom module) is
    /// `ModuleNotFound`; an unknown version, or one the tenant may not run,
    /// `VersionNotFound`: the same answers as for what does not exist.
    pub(crate) fn visible_version(
        &self,
        tenant: &str,
        module: &str,
        version: &Version,
    ) -> Result<ModuleVersion, RegistryError> {
        let registry = &self.inner.registry;
        match registry.version(module, version, Some(tenant)) {
            Err(RegistryError::VersionNotFound { .. })
                if registry.versions(Some(module), Some(tenant))?.is_empty() =>
            {
                Err(RegistryError::ModuleNotFound(module.to_owned()))
            }
            found => found,
        }
    }

    /// Makes `record` ready for `tenant` as a promote does: compiled (or
    /// cached), self-tested, with the tenant's config resolved against its schema.
    pub(crate) async fn ready_candidate(
        &self,
        tenant: &Tenant,
        record: &ModuleVersion,
    ) -> Result<Arc<Serving>, DeployError> {
        self.serving_for(tenant, record)
            .await
            .map_err(|reason| DeployError::NotReady {
                module: record.module.clone(),
                version: record.version.clone(),
                reason,
            })
    }

    /// Runs a ready candidate's smoke tests as a promote does (on a scratch
    /// store, as the tenant); the report, and the promote's refusal when a test failed.
    pub(crate) async fn smoke_candidate(
        &self,
        tenant: &Tenant,
        serving: &Serving,
        module: &str,
    ) -> (SmokeReport, Option<DeployError>) {
        let version = &serving.version;
        let caller = Loader::caller_for(tenant, &format!("smoke-test-{module}@{version}"));
        let report = smoke_report(&self.inner.runtime, serving, &caller).await;
        let refusal = report.failure().map(|reason| DeployError::SmokeTestFailed {
            module: module.to_owned(),
            version: version.clone(),
            reason,
        });
        (report, refusal)
    }

    /// Runs `version`'s smoke tests for the tenant exactly as a promote does
    /// (made ready, on a scratch store, with the tenant's config resolved for
    /// it), changing nothing; audited as `deployment.smoke` (`failed` when a
    /// test failed or the version could not be made ready).
    pub async fn smoke_test(
        &self,
        tenant_id: &str,
        module: &str,
        version: &Version,
        actor: &str,
    ) -> Result<SmokeReport, DeployError> {
        let tenant = self.inner.registry.tenant(tenant_id)?;
        let record = self.visible_version(tenant_id, module, version)?;
        let serving = match self.ready_candidate(&tenant, &record).await {
            Ok(serving) => serving,
            Err(error) => {
                self.record_check(
                    "deployment.smoke",
                    actor,
                    &record,
                    tenant_id,
                    Err(error.to_string()),
                )?;
                return Err(error);
            }
        };
        let (report, _) = self.smoke_candidate(&tenant, &serving, module).await;
        let outcome = match report.failure() {
            Some(failure) => Err(failure),
            None => Ok(format!("{} smoke tests passed", report.tests.len())),
        };
        self.record_check("deployment.smoke", actor, &record, tenant_id, outcome)?;
        Ok(report)
    }

    /// Runs every check a promote of `version` would make before it switches,
    /// in the same order and with the same code, changing nothing: no
    /// deployment, no data, no snapshot, no config, no watch. The migration
    /// runs on the tenant's data through a store that keeps no write. Takes the
    /// module's move lock, so it sees no promote half done. Audited as
    /// `deployment.promote-dry-run` (`failed`, with the first failed check's
    /// message, when the promote would be refused). Unknown tenants, modules
    /// and versions are errors, as for a promote.
    pub async fn promote_dry_run(
        &self,
        tenant_id: &str,
        module: &str,
        version: &Version,
        actor: &str,
    ) -> Result<PromoteDryRun, DeployError> {
        let lock = self.move_lock(tenant_id, module);
        let _guard = lock.lock().await;
        let registry = &self.inner.registry;
        let tenant = registry.tenant(tenant_id)?;
        let record = self.visible_version(tenant_id, module, version)?;
        let from = registry.deployment(tenant_id, module)?.active;
        let mut run = PromoteDryRun {
            would_change: from.as_ref() != Some(version),
            from,
            to: version.clone(),
            checks: Vec::new(),
        };
        if run.would_change {
            self.dry_run_checks(&tenant, &record, &mut run).await?;
        }
        let outcome = match run.failure() {
            Some(failure) => Err(failure.to_owned()),
            None if !run.would_change => Ok(format!(
                "{version} is already active; a promote would change nothing"
            )),
            None => Ok(format!(
                "a promote would pass every check, {} in all",
                run.checks.len()
            )),
        };
        self.record_check("deployment.promote-dry-run", actor, &record, tenant_id, outcome)?;
        Ok(run)
    }

    /// Audits a check run on demand on `record` for the tenant: `ok` with
    /// what it found, or `failed` with why.
    fn record_check(
        &self,
        action: &str,
        actor: &str,
        record: &ModuleVersion,
        tenant_id: &str,
        outcome: Result<String, String>,
    ) -> Result<(), RegistryError> {
        let target = format!("{tenant_id}/{}@{}", record.module, record.version);
        let mut draft = AuditDraft::ok(actor, action, target, Some(tenant_id));
        draft.detail = Some(match outcome {
            Ok(found) => found,
            Err(failure) => {
                draft.outcome = AuditOutcome::Failed;
                failure
            }
        });
        self.inner.registry.record_audit(draft)?;
        Ok(())
    }

    /// The checks of [`Loader::promote_dry_run`], stopping at the first failed one.
    async fn dry_run_checks(
        &self,
        tenant: &Tenant,
        record: &ModuleVersion,
        run: &mut PromoteDryRun,
    ) -> Result<(), DeployError> {
        let (module, version) = (record.module.as_str(), &record.version);
        let registry_outcome = self
            .inner
            .registry
            .check_promote(&tenant.id, module, version)
            .map(drop);
        run.checks.extend(registry_checks(registry_outcome)?);
        if !run.ok() {
            return Ok(());
        }
        let serving = match self.ready_candidate(tenant, record).await {
            Ok(serving) => serving,
            Err(error) => {
                run.checks.push(PromoteCheck::failed("ready", error.to_string()));
                return Ok(());
            }
        };
        run.checks.push(PromoteCheck::passed("ready", None));
        let (report, refusal) = self.smoke_candidate(tenant, &serving, module).await;
        if let Some(error) = refusal {
            run.checks.push(PromoteCheck::failed("smoke", error.to_string()));
            return Ok(());
        }
        run.checks.push(PromoteCheck::passed(
            "smoke",
            Some(format!("{} smoke tests passed", report.tests.len())),
        ));
        let caller = Loader::caller_for(tenant, &format!("dry-run-migrate-{module}@{version}"));
        let from_text = run.from.as_ref().map(ToString::to_string);
        let would_change = self
            .inner
            .runtime
            .migration_would_change(
                serving.ready.clone(),
                &caller,
                serving.config.clone(),
                from_text.as_deref(),
            )
            .await;
        let from_name = from_text.as_deref().unwrap_or("nothing");
        run.checks.push(match would_change {
            Ok(true) => PromoteCheck::passed(
                "migration",
                Some(format!(
                    "migrating from {from_name} would change the tenant's data: a promote would snapshot it first, and a rollback would restore the snapshot"
                )),
            ),
            Ok(false) => PromoteCheck::passed(
                "migration",
                Some(format!(
                    "migrating from {from_name} would not change the tenant's data"
                )),
            ),
            Err(reason) => PromoteCheck::failed(
                "migration",
                migration_failed(module, version, reason).to_string(),
            ),
        });
        Ok(())
    }
}

/// A promote's refusal when `migrate` failed.
pub(crate) fn migration_failed(module: &str, version: &Version, reason: String) -> DeployError {
    DeployError::MigrationFailed {
        module: module.to_owned(),
        version: version.clone(),
        reason,
    }
}
