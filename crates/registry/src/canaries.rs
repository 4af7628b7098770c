//! Canaries: a candidate version serving a share of one tenant's requests beside the active one.
//!
//! A canary is one record per (tenant, module): the candidate and its share
//! in percent. Starting one runs the same checks as a promote of the
//! candidate (the tenant and version exist and may be used, dependencies
//! and config fit) and needs the module enabled with another version active.
//! Any move of the deployment (promote, rollback, disable) deletes the
//! canary in the same batch (`deployments.rs`), so a canary never outlives
//! the active version it was started beside. Start and end are audited.

use semver::Version;

use crate::audit::AuditDraft;
use crate::error::RegistryError;
use crate::model::{Canary, now_ms};
use crate::records::encode;
use crate::registry::{Registry, pair_key};
use crate::store::{Batch, Tree};

/// Canaries, by `tenant\0module`.
pub(crate) const CANARIES: Tree = Tree::new("canaries");

impl Registry {
    /// Starts (or changes) `tenant`'s canary of `module`: `version` serves
    /// `percent` (1 to 99) of its requests beside the active version.
    pub fn start_canary(
        &self,
        tenant: &str,
        module: &str,
        version: &Version,
        percent: u8,
        actor: &str,
    ) -> Result<Canary, RegistryError> {
        let target = format!("{tenant}/{module}@{version}");
        let draft = AuditDraft::ok(actor, "deployment.canary", &target, Some(tenant));
        let result = self.check_canary(tenant, module, version, percent).and_then(|_| {
            let canary = Canary {
                tenant: tenant.to_owned(),
                module: module.to_owned(),
                version: version.clone(),
                percent,
                started_by: actor.to_owned(),
                started_at_ms: now_ms(),
            };
            let mut draft = draft.clone();
            draft.detail = Some(format!("{percent}% of the tenant's requests"));
            self.commit_with_audit(CANARIES, &pair_key(tenant, module), &encode(&canary)?, draft)?;
            Ok(canary)
        });
        if let Err(error) = &result {
            self.audit_refusal(draft, error);
        }
        result
    }

    /// Whether `version` may run as `tenant`'s canary of `module` at
    /// `percent`: the promote checks, a share from 1 to 99, and another
    /// version active. Returns the active version.
    pub fn check_canary(
        &self,
        tenant: &str,
        module: &str,
        version: &Version,
        percent: u8,
    ) -> Result<Version, RegistryError> {
        if !(1..=99).contains(&percent) {
            return Err(RegistryError::InvalidInput {
                field: "canary_percent".to_owned(),
                message: format!(
                    "{percent} is not a share from 1 to 99; promote the version to send it everything"
                ),
            });
        }
        match self.check_promote(tenant, module, version)? {
            None => Err(RegistryError::InvalidInput {
                field: "version".to_owned(),
                message: format!("{module} is not enabled for {tenant}; promote a version before a canary"),
            }),
            Some(active) if active == *version => Err(RegistryError::InvalidInput {
                field: "version".to_owned(),
                message: format!("{module}@{version} is already active for {tenant}"),
            }),
            Some(active) => Ok(active),
        }
    }

    /// Ends `tenant`'s canary of `module`, if it has one; audited as `deployment.canary-abort`.
    pub fn abort_canary(
        &self,
        tenant: &str,
        module: &str,
        actor: &str,
    ) -> Result<Option<Canary>, RegistryError> {
        self.tenant(tenant)?;
        let Some(canary) = self.canary(tenant, module)? else {
            return Ok(None);
        };
        let mut batch = Batch::new();
        batch.delete(CANARIES, pair_key(tenant, module));
        let draft = AuditDraft::ok(
            actor,
            "deployment.canary-abort",
            format!("{tenant}/{module}@{}", canary.version),
            Some(tenant),
        );
        self.commit_audited(batch, draft)?;
        Ok(Some(canary))
    }

    /// `tenant`'s canary of `module`, if any.
    pub fn canary(&self, tenant: &str, module: &str) -> Result<Option<Canary>, RegistryError> {
        self.record(CANARIES, &pair_key(tenant, module))
    }

    /// Every canary.
    pub fn canaries(&self) -> Result<Vec<Canary>, RegistryError> {
        self.records(CANARIES, &[])
    }
}
