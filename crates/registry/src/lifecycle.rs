//! Tenant lifecycle: suspend (the data plane refuses, nothing is removed), resume, and delete every record of a tenant in one batch.
//!
//! Suspension is a field of the tenant record ([`Tenant::suspended`]); the
//! loader follows it through [`RegistryEvent::TenantChanged`] like any other
//! tenant change, and the server's data plane refuses a suspended tenant's
//! requests without reading the store. Deleting removes the tenant record
//! and everything keyed by the tenant — deployments, configs, canaries, its
//! ring label, backup schedule, implementation project, module data with its usage records and the
//! snapshots its deployment history references, its tokens, its alert rules, channels,
//! alerts (its rules' and those about it), their open and silence markers and
//! its channels' deliveries, and the custom module versions it owns that no
//! other tenant's deployment names — in one store batch with its audit entry.
//! Component bytes are left to garbage collection (`gc.rs`); the audit log,
//! rollout records and stored backups keep what happened. A delete waits for
//! no backup: while one of the tenant is being taken, it is refused.

use std::collections::BTreeSet;

use crate::alert_model::{Alert, Channel, Delivery};
use crate::alerts::{ALERTS, CHANNELS, OPEN, OUTBOX, OUTBOX_DONE, RULES, SILENCES};
use crate::audit::AuditDraft;
use crate::backup_schedules::BACKUP_SCHEDULES;
use crate::deployments::DEPLOYMENTS;
use crate::error::RegistryError;
use crate::model::{Deployment, ModuleVersion, Suspension, Tenant, Token, now_ms};
use crate::publish::MODULES;
use crate::records::{decode, encode};
use crate::registry::{Registry, RegistryEvent, pair_key};
use crate::rollouts::RINGS;
use crate::store::{Batch, Tree};
use crate::tenants::TENANTS;
use crate::tokens::TOKENS;

/// The longest suspension reason kept, in characters.
const MAX_REASON_CHARS: usize = 256;

/// What deleting a tenant removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeletedTenant {
    /// The tenant.
    pub tenant: String,
    /// Deployment records (one per module ever deployed).
    pub deployments: u64,
    /// Config histories (one per module configured).
    pub configs: u64,
    /// Canaries.
    pub canaries: u64,
    /// Module data entries.
    pub kv_entries: u64,
    /// Bytes of those entries (keys plus values).
    pub kv_bytes: u64,
    /// Migration snapshots its deployment history referenced.
    pub snapshots: u64,
    /// API tokens scoped to it.
    pub tokens: u64,
    /// Its alert rules.
    pub alert_rules: u64,
    /// Its notification channels.
    pub channels: u64,
    /// Alerts of its rules or about it.
    pub alerts: u64,
    /// Deliveries to its channels, pending or finished.
    pub deliveries: u64,
    /// The ring it was in.
    pub ring: Option<String>,
    /// Whether it had a backup schedule (removed; its stored backups stay).
    pub backup_schedule: bool,
    /// Custom module versions it owned, removed (`module@version`).
    pub module_versions: Vec<String>,
    /// Custom module versions it owned, kept because another tenant's deployment names them.
    pub kept_module_versions: Vec<String>,
}

impl DeletedTenant {
    /// One line for the audit log.
    fn summary(&self) -> String {
        format!(
            "removed {} deployments, {} configs, {} canaries, {} data entries ({} bytes), {} snapshots, {} tokens, {} alert rules, {} channels, {} alerts, {} deliveries, {} module versions{}",
            self.deployments,
            self.configs,
            self.canaries,
            self.kv_entries,
            self.kv_bytes,
            self.snapshots,
            self.tokens,
            self.alert_rules,
            self.channels,
            self.alerts,
            self.deliveries,
            self.module_versions.len(),
            match self.kept_module_versions.len() {
                0 => String::new(),
                kept => format!(" ({kept} kept: used by other tenants)"),
            }
        )
    }
}

fn check_reason(reason: Option<String>) -> Result<Option<String>, RegistryError> {
    let Some(reason) = reason.map(|reason| reason.trim().to_owned()) else {
        return Ok(None);
    };
    if reason.chars().count() > MAX_REASON_CHARS || reason.chars().any(char::is_control) {
        return Err(RegistryError::InvalidInput {
            field: "reason".into(),
            message: format!(
                "a suspension reason must be at most {MAX_REASON_CHARS} characters without control characters"
            ),
        });
    }
    Ok((!reason.is_empty()).then_some(reason))
}

/// Whether a key of `alert_open` or `alert_silences` (`rule scope \0 rule \0
/// subject`) belongs to `tenant`: its rule's, or about it.
fn alert_key_of(key: &[u8], tenant: &str) -> bool {
    let mut parts = key.splitn(3, |byte| *byte == 0);
    let scope = parts.next().unwrap_or_default();
    let subject = parts.nth(1).unwrap_or_default();
    let tenant = tenant.as_bytes();
    scope == tenant
        || subject == tenant
        || subject
            .strip_prefix(tenant)
            .is_some_and(|rest| rest.first() == Some(&b'/'))
}

impl Registry {
    /// Suspends `id`: its data plane answers `423 tenant-suspended` until
    /// [`Registry::resume_tenant`]; its deployments, config and data stay.
    /// Refused with [`RegistryError::Conflict`] when it is already suspended.
    pub fn suspend_tenant(
        &self,
        id: &str,
        reason: Option<String>,
        actor: &str,
    ) -> Result<Tenant, RegistryError> {
        let reason = check_reason(reason)?;
        let lock = self.tenant_lock(id);
        let _guard = lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut tenant = self.tenant(id)?;
        if tenant.suspended.is_some() {
            return Err(RegistryError::Conflict(format!(
                "tenant `{id}` is already suspended; resume it first with `modhost tenant resume {id}`"
            )));
        }
        let now = now_ms();
        tenant.suspended = Some(Suspension {
            at_ms: now,
            reason: reason.clone(),
        });
        tenant.updated_at_ms = now;
        let mut draft = AuditDraft::ok(actor, "tenant.suspend", id, Some(id));
        draft.detail = reason;
        self.commit_with_audit(TENANTS, id.as_bytes(), &encode(&tenant)?, draft)?;
        tracing::info!(tenant = id, "suspended a tenant");
        self.notify(RegistryEvent::TenantChanged {
            tenant: id.to_owned(),
        });
        Ok(tenant)
    }

    /// Lifts the suspension of `id`: its data plane serves again. Refused
    /// with [`RegistryError::Conflict`] when it is not suspended.
    pub fn resume_tenant(&self, id: &str, actor: &str) -> Result<Tenant, RegistryError> {
        let lock = self.tenant_lock(id);
        let _guard = lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut tenant = self.tenant(id)?;
        let Some(suspension) = tenant.suspended.take() else {
            return Err(RegistryError::Conflict(format!(
                "tenant `{id}` is not suspended; there is nothing to resume"
            )));
        };
        tenant.updated_at_ms = now_ms();
        let mut draft = AuditDraft::ok(actor, "tenant.resume", id, Some(id));
        draft.detail = Some(format!("suspended since {} ms", suspension.at_ms));
        self.commit_with_audit(TENANTS, id.as_bytes(), &encode(&tenant)?, draft)?;
        tracing::info!(tenant = id, "resumed a tenant");
        self.notify(RegistryEvent::TenantChanged {
            tenant: id.to_owned(),
        });
        Ok(tenant)
    }

    /// Deletes `id` and everything keyed by it (see the module docs), in
    /// one store batch with its audit entry, under the tenant's lock; the
    /// loader drops its routes on the [`RegistryEvent::TenantChanged`] that
    /// follows. The batch holds one delete per record and data entry, so a
    /// tenant with 100 MB of module data makes one batch that large in
    /// memory: acceptable for a rare operator action, and it is what makes a
    /// crash leave the tenant either whole or gone. A module call committing
    /// to the tenant's data at the same moment can leave a few entries
    /// behind; garbage collection removes data of tenants that do not exist.
    pub fn delete_tenant(&self, id: &str, actor: &str) -> Result<DeletedTenant, RegistryError> {
        let lock = self.tenant_lock(id);
        let _guard = lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        self.tenant(id)?;
        // A backup starts its capture under this lock, so none can start until the batch is applied.
        if self.inner.data.captures().of(id).is_some() {
            return Err(RegistryError::Conflict(format!(
                "a backup of tenant `{id}` is being taken; delete the tenant when it has finished"
            )));
        }
        let mut report = DeletedTenant {
            tenant: id.to_owned(),
            ..DeletedTenant::default()
        };
        let mut batch = Batch::new();
        if let Some(ring) = self.inner.store.get(RINGS, id.as_bytes())? {
            report.ring = Some(String::from_utf8_lossy(&ring).into_owned());
        }
        let counts = self.delete_tenant_records(id, &mut batch)?;
        report.deployments = counts.deployments;
        report.configs = counts.configs;
        report.canaries = counts.canaries;
        report.kv_entries = counts.kv_entries;
        report.kv_bytes = counts.kv_bytes;
        report.snapshots = counts.snapshots;
        if self.inner.store.get(BACKUP_SCHEDULES, id.as_bytes())?.is_some() {
            report.backup_schedule = true;
            batch.delete(BACKUP_SCHEDULES, id.as_bytes());
        }
        for entry in self.inner.store.scan_prefix(TOKENS, &[])? {
            let (key, bytes) = entry?;
            if decode::<Token>(&bytes)?.tenant.as_deref() == Some(id) {
                batch.delete(TOKENS, key);
                report.tokens += 1;
            }
        }
        self.delete_alerting(&mut batch, id, &mut report)?;
        self.delete_owned_modules(&mut batch, id, &mut report)?;
        let mut draft = AuditDraft::ok(actor, "tenant.delete", id, Some(id));
        draft.detail = Some(report.summary());
        let committed = self.commit_audited(batch, draft);
        // The tenant's tokens are gone (even when only the flush failed).
        self.inner.tokens.invalidate();
        committed?.ok_or_else(|| {
            RegistryError::Storage("an unconditional delete was refused by the store".to_owned())
        })?;
        tracing::info!(
            tenant = id,
            deployments = report.deployments,
            kv_entries = report.kv_entries,
            tokens = report.tokens,
            "deleted a tenant"
        );
        self.notify(RegistryEvent::TenantChanged {
            tenant: id.to_owned(),
        });
        Ok(report)
    }

    /// Adds a delete of every key of `tree` starting with `prefix`; how many.
    fn delete_prefix(&self, batch: &mut Batch, tree: Tree, prefix: &[u8]) -> Result<u64, RegistryError> {
        let mut count = 0;
        for entry in self.inner.store.scan_prefix(tree, prefix)? {
            batch.delete(tree, entry?.0);
            count += 1;
        }
        Ok(count)
    }

    /// Adds the deletes of the tenant's alert rules, channels, alerts (its
    /// rules' and those about it), their markers and its channels' deliveries.
    fn delete_alerting(
        &self,
        batch: &mut Batch,
        id: &str,
        report: &mut DeletedTenant,
    ) -> Result<(), RegistryError> {
        let scope = pair_key(id, "");
        report.alert_rules = self.delete_prefix(batch, RULES, &scope)?;
        for channel in self.records::<Channel>(CHANNELS, &scope)? {
            batch.delete(CHANNELS, pair_key(id, &channel.name));
            report.channels += 1;
        }
        let mut alert_ids = BTreeSet::new();
        for entry in self.inner.store.scan_prefix(ALERTS, &[])? {
            let (key, bytes) = entry?;
            let alert: Alert = decode(&bytes)?;
            if alert.tenant.as_deref() == Some(id) || alert.rule_tenant.as_deref() == Some(id) {
                alert_ids.insert(key.clone());
                batch.delete(ALERTS, key);
                report.alerts += 1;
            }
        }
        for tree in [OPEN, SILENCES] {
            for entry in self.inner.store.scan_prefix(tree, &[])? {
                let (key, value) = entry?;
                if alert_key_of(&key, id) || (tree == OPEN && alert_ids.contains(&value)) {
                    batch.delete(tree, key);
                }
            }
        }
        for tree in [OUTBOX, OUTBOX_DONE] {
            for entry in self.inner.store.scan_prefix(tree, &[])? {
                let (key, bytes) = entry?;
                if decode::<Delivery>(&bytes)?.channel_tenant.as_deref() == Some(id) {
                    batch.delete(tree, key);
                    report.deliveries += 1;
                }
            }
        }
        Ok(())
    }

    /// Adds the deletes of the custom module versions `id` owns that no
    /// other tenant's deployment names (active, or in its history).
    fn delete_owned_modules(
        &self,
        batch: &mut Batch,
        id: &str,
        report: &mut DeletedTenant,
    ) -> Result<(), RegistryError> {
        let owned: Vec<ModuleVersion> = self
            .records::<ModuleVersion>(MODULES, &[])?
            .into_iter()
            .filter(|version| version.owner.as_deref() == Some(id))
            .collect();
        if owned.is_empty() {
            return Ok(());
        }
        let mut used_elsewhere = BTreeSet::new();
        for deployment in self.records::<Deployment>(DEPLOYMENTS, &[])? {
            if deployment.tenant == id {
                continue;
            }
            let named = deployment
                .history
                .iter()
                .flat_map(|event| [event.from.clone(), event.to.clone()])
                .chain([deployment.active.clone()])
                .flatten();
            used_elsewhere.extend(named.map(|version| (deployment.module.clone(), version)));
        }
        for version in owned {
            let label = format!("{}@{}", version.module, version.version);
            if used_elsewhere.contains(&(version.module.clone(), version.version.clone())) {
                report.kept_module_versions.push(label);
            } else {
                batch.delete(MODULES, pair_key(&version.module, &version.version.to_string()));
                report.module_versions.push(label);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alert_keys_belong_to_their_rule_scope_or_their_subject() {
        let key = |scope: &str, rule: &str, subject: &str| {
            let mut key = pair_key(scope, rule);
            key.push(0);
            key.extend_from_slice(subject.as_bytes());
            key
        };
        assert!(alert_key_of(&key("acme", "traps", "acme/inventory"), "acme"));
        assert!(alert_key_of(&key("*", "traps", "acme/inventory"), "acme"));
        assert!(alert_key_of(&key("*", "traps", "acme"), "acme"));
        assert!(!alert_key_of(&key("*", "traps", "acme-two/inventory"), "acme"));
        assert!(!alert_key_of(&key("acme-two", "traps", "host"), "acme"));
        assert!(!alert_key_of(&key("*", "traps", "host"), "acme"));
    }

    #[test]
    fn reasons_are_trimmed_bounded_and_printable() {
        assert_eq!(check_reason(None).unwrap(), None);
        assert_eq!(check_reason(Some("  ".into())).unwrap(), None);
        assert_eq!(
            check_reason(Some(" unpaid ".into())).unwrap().as_deref(),
            Some("unpaid")
        );
        let error = check_reason(Some("a\nb".into())).unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid reason: a suspension reason must be at most 256 characters without control characters"
        );
        assert!(check_reason(Some("x".repeat(257))).is_err());
    }
}
