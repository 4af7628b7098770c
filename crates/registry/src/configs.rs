//! Per-tenant module configuration: validated against the active version's schema, versioned, rollbackable.

use modhost_manifest::ResolvedConfig;
use serde_json::{Map, Value};

use crate::audit::AuditDraft;
use crate::error::RegistryError;
use crate::model::{ConfigHistory, ConfigVersion, now_ms};
use crate::records::encode;
use crate::registry::{Registry, RegistryEvent, pair_key};
use crate::store::Tree;

/// Config histories, by `tenant\0module`.
pub(crate) const CONFIGS: Tree = Tree::new("configs");

impl Registry {
    /// The tenant's config history of `module` (empty before the first set).
    pub fn config(&self, tenant: &str, module: &str) -> Result<ConfigHistory, RegistryError> {
        self.tenant(tenant)?;
        Ok(self
            .record(CONFIGS, &pair_key(tenant, module))?
            .unwrap_or_default())
    }

    /// The tenant's config of `module` checked against its active version, defaults filled in.
    pub fn resolved_config(&self, tenant: &str, module: &str) -> Result<ResolvedConfig, RegistryError> {
        let manifest = self.active_manifest(tenant, module)?;
        let values = self.config(tenant, module)?.current_values();
        validate_config(&manifest, module, &values)
    }

    /// Sets the tenant's config of `module` (the whole set of values), as a new config version.
    pub fn set_config(
        &self,
        tenant: &str,
        module: &str,
        values: Map<String, Value>,
        actor: &str,
    ) -> Result<ConfigVersion, RegistryError> {
        self.change_config(tenant, module, actor, "config.set", |_| {
            Ok((values, "set".to_owned()))
        })
    }

    /// Makes an earlier config version current again, as a new config version.
    pub fn rollback_config(
        &self,
        tenant: &str,
        module: &str,
        to: u64,
        actor: &str,
    ) -> Result<ConfigVersion, RegistryError> {
        self.change_config(tenant, module, actor, "config.rollback", |history| {
            let earlier = history
                .versions
                .iter()
                .find(|version| version.version == to)
                .ok_or_else(|| RegistryError::ConfigVersionNotFound {
                    tenant: tenant.to_owned(),
                    module: module.to_owned(),
                    version: to,
                })?;
            Ok((earlier.values.clone(), format!("rollback to {to}")))
        })
    }

    fn change_config(
        &self,
        tenant: &str,
        module: &str,
        actor: &str,
        action: &str,
        choose: impl FnOnce(&ConfigHistory) -> Result<(Map<String, Value>, String), RegistryError>,
    ) -> Result<ConfigVersion, RegistryError> {
        let result = (|| {
            let lock = self.tenant_lock(tenant);
            let _guard = lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let manifest = self.active_manifest(tenant, module)?;
            let mut history = self.config(tenant, module)?;
            let (values, reason) = choose(&history)?;
            validate_config(&manifest, module, &values)?;
            let version = ConfigVersion {
                version: history.versions.last().map_or(1, |last| last.version + 1),
                values,
                actor: actor.to_owned(),
                at_ms: now_ms(),
                reason,
            };
            history.versions.push(version.clone());
            if history.versions.len() > ConfigHistory::LIMIT {
                let excess = history.versions.len() - ConfigHistory::LIMIT;
                history.versions.drain(..excess);
            }
            let target = format!("{tenant}/{module}#config{}", version.version);
            let draft = AuditDraft::ok(actor, action, target, Some(tenant));
            self.commit_with_audit(CONFIGS, &pair_key(tenant, module), &encode(&history)?, draft)?;
            self.notify(RegistryEvent::ConfigChanged {
                tenant: tenant.to_owned(),
                module: module.to_owned(),
                version: version.version,
            });
            Ok(version)
        })();
        if let Err(error) = &result {
            self.audit_refusal(
                AuditDraft::ok(actor, action, format!("{tenant}/{module}"), Some(tenant)),
                error,
            );
        }
        result
    }

    /// The manifest of the tenant's active version of `module`.
    fn active_manifest(
        &self,
        tenant: &str,
        module: &str,
    ) -> Result<modhost_manifest::Manifest, RegistryError> {
        self.tenant(tenant)?;
        let deployment = self.deployment(tenant, module)?;
        let version = deployment.active.ok_or_else(|| RegistryError::NotEnabled {
            tenant: tenant.to_owned(),
            module: module.to_owned(),
        })?;
        self.version(module, &version, None)?.manifest()
    }
}

/// Checks `values` against the schema of `manifest`, with defaults filled in.
fn validate_config(
    manifest: &modhost_manifest::Manifest,
    module: &str,
    values: &Map<String, Value>,
) -> Result<ResolvedConfig, RegistryError> {
    manifest
        .config
        .validate(values)
        .map_err(|problems| RegistryError::ConfigInvalid {
            module: module.to_owned(),
            problems,
        })
}
