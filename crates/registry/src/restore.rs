//! Restoring a tenant backup: verify the whole file, check this host can take it, then replace the tenant in one batch.
//!
//! [`Registry::restore_tenant`] reads the file twice:
//!
//! 1. **check** — every member against the manifest (a truncated,
//!    bit-flipped or foreign file is refused), then against this host: the
//!    standard versions the tenant needs to serve must be published here
//!    with the same component (all missing ones are named together), a
//!    custom version in the file must not clash with a different component
//!    or another owner here, and `--as` must name a free, valid tenant id;
//! 2. **apply** — the file is read and verified again while one store batch
//!    is built: the tenant's current records and data are deleted and the
//!    backup's written (tenant ids rewritten for `--as`, migration snapshots
//!    given fresh ids), with the data usage recomputed and an audit entry.
//!    Missing components are stored first (content-addressed, harmless if
//!    the restore stops there). The batch is applied atomically, so a
//!    restore that fails or is killed at any point leaves the previous state.
//!
//! The batch holds the tenant's whole data in memory (taking a backup does
//! not; restoring does, once).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::Read;

use crate::alert_model::AlertRule;
use crate::alerts::RULES;
use crate::audit::AuditDraft;
use crate::backup::tenant_prefix;
use crate::backup_format::{BackupCounts, BackupError, BackupManifest, Member, StandardRef, read_backup};
use crate::canaries::CANARIES;
use crate::configs::CONFIGS;
use crate::deployments::DEPLOYMENTS;
use crate::error::RegistryError;
use crate::implementations::{IMPLEMENTATIONS, Implementation};
use crate::model::{Canary, Deployment, ModuleVersion, Tenant, check_tenant_id};
use crate::module_data::{KV, KV_SNAPSHOTS, KV_USAGE, entry_size, scope_prefix};
use crate::publish::MODULES;
use crate::records::{decode, encode};
use crate::registry::{Registry, RegistryEvent, pair_key};
use crate::rollouts::RINGS;
use crate::store::Batch;
use crate::tenants::{RESERVED_TENANT_PREFIX, TENANTS};
use crate::usage::DataUsage;

/// What a restore did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreReport {
    /// The tenant restored (the `--as` id when one was given).
    pub tenant: String,
    /// The tenant the backup was taken of.
    pub from_tenant: String,
    /// The backup's point in time.
    pub created_at_ms: u64,
    /// Whether an existing tenant was replaced.
    pub replaced: bool,
    /// What was restored.
    pub counts: BackupCounts,
    /// Things that work but not fully, e.g. a rollback target this host lacks.
    pub warnings: Vec<String>,
}

/// Reads a whole backup and checks every member without changing anything.
pub fn verify_backup(input: impl Read) -> Result<BackupManifest, RegistryError> {
    Ok(read_backup(input, |_, _| Ok(()))?)
}

/// What pass 1 learned.
struct Plan {
    manifest: BackupManifest,
    target: String,
    /// Components to store: those of custom versions this host lacks.
    new_blobs: HashSet<String>,
    /// Custom versions this host already has, same component (kept as they are).
    kept_versions: HashSet<Vec<u8>>,
    warnings: Vec<String>,
}

impl Registry {
    /// Restores a backup (see the module docs). `open` yields the file from
    /// its start; it is called twice. `as_id` restores under another tenant
    /// id, which must be free; without it the backup's tenant is replaced
    /// (or created).
    pub fn restore_tenant<R: Read>(
        &self,
        mut open: impl FnMut() -> std::io::Result<R>,
        as_id: Option<&str>,
        actor: &str,
    ) -> Result<RestoreReport, RegistryError> {
        let reopen = |error: std::io::Error| BackupError::Io(format!("could not read the backup: {error}"));
        let plan = self.plan_restore(open().map_err(reopen)?, as_id)?;
        let lock = self.tenant_lock(&plan.target);
        let _guard = lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let replaced = self.inner.store.get(TENANTS, plan.target.as_bytes())?.is_some();
        if replaced && as_id.is_some_and(|id| id != plan.manifest.header.tenant) {
            return Err(BackupError::Conflict(format!(
                "tenant `{}` already exists; choose another id for --as, or delete that tenant first",
                plan.target
            ))
            .into());
        }
        let mut restored = RestoredTenant::new(self, &plan);
        let manifest = read_backup(open().map_err(reopen)?, |_, member| restored.add(member))?;
        if manifest != plan.manifest {
            return Err(
                BackupError::Conflict("the backup file changed while it was being restored".into()).into(),
            );
        }
        let RestoredTenant {
            mut batch,
            kv,
            modules,
            ..
        } = restored;
        let old_modules = self.modules_with_data(&plan.target)?;
        let _scopes = self.inner.data.lock_scopes(
            &plan.target,
            old_modules.iter().chain(modules.iter()).map(String::as_str),
        );
        let mut whole = Batch::new();
        self.delete_tenant_records(&plan.target, &mut whole)?;
        whole.extend(std::mem::take(&mut batch));
        let mut usage: BTreeMap<String, DataUsage> = BTreeMap::new();
        let prefix = tenant_prefix(&plan.target);
        for (key, value) in kv {
            let relative = &key[prefix.len()..];
            let module_end = relative
                .iter()
                .position(|byte| *byte == 0)
                .unwrap_or(relative.len());
            let module = String::from_utf8_lossy(&relative[..module_end]).into_owned();
            let key_len = relative.len().saturating_sub(module_end + 1);
            usage
                .entry(module)
                .or_default()
                .add(Some(entry_size(key_len, value.len())));
            whole.put(KV, key, value);
        }
        for (module, usage) in usage {
            whole.put(KV_USAGE, scope_prefix(&plan.target, &module), usage.encode());
        }
        let mut draft = AuditDraft::ok(actor, "tenant.restore", plan.target.clone(), Some(&plan.target));
        draft.detail = Some(format!(
            "from a backup of `{}` taken at {} ms: {} records, {} data entries",
            plan.manifest.header.tenant,
            plan.manifest.header.created_at_ms,
            plan.manifest.counts.records,
            plan.manifest.counts.kv_entries
        ));
        self.commit_audited(whole, draft)?.ok_or_else(|| {
            RegistryError::Storage("an unconditional write was refused by the store".to_owned())
        })?;
        self.notify(RegistryEvent::TenantChanged {
            tenant: plan.target.clone(),
        });
        tracing::info!(tenant = %plan.target, from = %plan.manifest.header.tenant, replaced, "tenant restored");
        Ok(RestoreReport {
            tenant: plan.target,
            from_tenant: plan.manifest.header.tenant.clone(),
            created_at_ms: plan.manifest.header.created_at_ms,
            replaced,
            counts: plan.manifest.counts,
            warnings: plan.warnings,
        })
    }

    /// Pass 1: verify the file and check it against this host.
    fn plan_restore(&self, input: impl Read, as_id: Option<&str>) -> Result<Plan, RegistryError> {
        let mut standard: Vec<StandardRef> = Vec::new();
        let mut custom: Vec<(Vec<u8>, ModuleVersion)> = Vec::new();
        let mut components: HashSet<String> = HashSet::new();
        let manifest = read_backup(input, |_, member| {
            match member {
                Member::Standard(refs) => standard = refs,
                Member::Entries(entries) => {
                    for entry in entries.into_iter().filter(|entry| entry.tree == MODULES.name()) {
                        let version = decode(&entry.value).map_err(|error| {
                            BackupError::Damaged(format!("a module version record: {error}"))
                        })?;
                        custom.push((entry.key, version));
                    }
                }
                Member::Blob { sha256, .. } => {
                    components.insert(sha256.to_owned());
                }
            }
            Ok(())
        })?;
        let source = manifest.header.tenant.clone();
        let target = as_id.unwrap_or(&source).to_owned();
        check_tenant_id(&target)?;
        if target.starts_with(RESERVED_TENANT_PREFIX) {
            return Err(RegistryError::InvalidInput {
                field: "as".into(),
                message: format!(
                    "tenant ids starting with `{RESERVED_TENANT_PREFIX}` are reserved for the host"
                ),
            });
        }
        let mut missing = Vec::new();
        let mut warnings = Vec::new();
        for needed in &standard {
            let name = format!("{}@{}", needed.module, needed.version);
            let version = semver::Version::parse(&needed.version)
                .map_err(|_| BackupError::Damaged(format!("standard version `{name}` is not a version")))?;
            match self.version(&needed.module, &version, None) {
                Ok(here) if here.sha256 == needed.sha256 => {}
                Ok(_) => {
                    return Err(BackupError::Conflict(format!(
                        "standard module {name} here has a different component than the backup's host had"
                    ))
                    .into());
                }
                Err(RegistryError::VersionNotFound { .. }) if needed.required => missing.push(name),
                Err(RegistryError::VersionNotFound { .. }) => warnings.push(format!(
                    "{name} is in the deployment history but not published here: rolling back to it will be refused until it is"
                )),
                Err(error) => return Err(error),
            }
        }
        if !missing.is_empty() {
            return Err(BackupError::MissingVersions(missing).into());
        }
        let mut new_blobs = HashSet::new();
        let mut kept_versions = HashSet::new();
        let mut owners_checked = HashSet::new();
        for (key, version) in custom {
            let name = format!("{}@{}", version.module, version.version);
            if key != pair_key(&version.module, &version.version.to_string()) {
                return Err(BackupError::Damaged(format!(
                    "the record of {name} is stored under another key"
                ))
                .into());
            }
            if owners_checked.insert(version.module.clone()) {
                for entry in self
                    .inner
                    .store
                    .scan_prefix(MODULES, &pair_key(&version.module, ""))?
                {
                    let here: ModuleVersion = decode(&entry?.1)?;
                    if here.owner.as_deref() != Some(target.as_str()) {
                        return Err(BackupError::Conflict(format!(
                            "module `{}` on this host belongs to {}; a custom module has one owner",
                            version.module,
                            here.owner
                                .map_or("no tenant (it is standard)".to_owned(), |owner| format!(
                                    "tenant `{owner}`"
                                ))
                        ))
                        .into());
                    }
                }
            }
            match self.record::<ModuleVersion>(MODULES, &key)? {
                Some(here) if here.sha256 == version.sha256 => {
                    kept_versions.insert(key);
                }
                Some(_) => {
                    return Err(BackupError::Conflict(format!(
                        "{name} exists here with a different component"
                    ))
                    .into());
                }
                None if components.contains(&version.sha256) => {
                    new_blobs.insert(version.sha256);
                }
                None => {
                    return Err(
                        BackupError::Damaged(format!("the component of {name} is not in the file")).into(),
                    );
                }
            }
        }
        Ok(Plan {
            manifest,
            target,
            new_blobs,
            kept_versions,
            warnings,
        })
    }

    /// Modules with data of `tenant` here now.
    fn modules_with_data(&self, tenant: &str) -> Result<BTreeSet<String>, RegistryError> {
        let prefix = tenant_prefix(tenant);
        let mut modules = BTreeSet::new();
        for tree in [KV_USAGE, DEPLOYMENTS] {
            for entry in self.inner.store.scan_prefix(tree, &prefix)? {
                let key = entry?.0;
                let relative = &key[prefix.len()..];
                let end = relative
                    .iter()
                    .position(|byte| *byte == 0)
                    .unwrap_or(relative.len());
                modules.insert(String::from_utf8_lossy(&relative[..end]).into_owned());
            }
        }
        Ok(modules)
    }
}

/// Pass 2's accumulator: the writes of the restored tenant.
struct RestoredTenant<'a> {
    registry: &'a Registry,
    plan: &'a Plan,
    prefix: Vec<u8>,
    batch: Batch,
    kv: BTreeMap<Vec<u8>, Vec<u8>>,
    modules: BTreeSet<String>,
    snapshot_ids: HashMap<u64, u64>,
}

impl<'a> RestoredTenant<'a> {
    fn new(registry: &'a Registry, plan: &'a Plan) -> Self {
        Self {
            registry,
            plan,
            prefix: tenant_prefix(&plan.target),
            batch: Batch::new(),
            kv: BTreeMap::new(),
            modules: BTreeSet::new(),
            snapshot_ids: HashMap::new(),
        }
    }

    fn add(&mut self, member: Member<'_>) -> Result<(), BackupError> {
        match member {
            Member::Entries(entries) => {
                for entry in entries {
                    self.entry(&entry.tree, entry.key, entry.value).map_err(|error| {
                        BackupError::Damaged(format!("a `{}` entry: {error}", entry.tree))
                    })?;
                }
            }
            Member::Blob { sha256, bytes } => {
                if self.plan.new_blobs.contains(sha256) {
                    self.registry
                        .inner
                        .blobs
                        .put(&bytes)
                        .map_err(|error| BackupError::Io(error.to_string()))?;
                }
            }
            Member::Standard(_) => {}
        }
        Ok(())
    }

    fn snapshot_id(&mut self, old: u64) -> Result<u64, RegistryError> {
        if let Some(new) = self.snapshot_ids.get(&old) {
            return Ok(*new);
        }
        let new = self.registry.inner.store.next_id()?;
        self.snapshot_ids.insert(old, new);
        Ok(new)
    }

    fn entry(&mut self, tree: &str, key: Vec<u8>, value: Vec<u8>) -> Result<(), RegistryError> {
        let target = self.plan.target.clone();
        let mut full = self.prefix.clone();
        full.extend_from_slice(&key);
        match tree {
            "tenants" => {
                let mut tenant: Tenant = decode(&value)?;
                tenant.id = target.clone();
                self.batch.put(TENANTS, target.as_bytes(), encode(&tenant)?);
            }
            "rings" => {
                self.batch.put(RINGS, target.as_bytes(), value);
            }
            "implementations" => {
                let mut project: Implementation = decode(&value)?;
                project.tenant = target.clone();
                self.batch
                    .put(IMPLEMENTATIONS, target.as_bytes(), encode(&project)?);
            }
            "deployments" => {
                let mut deployment: Deployment = decode(&value)?;
                named(&key, &deployment.module)?;
                deployment.tenant = target;
                for event in &mut deployment.history {
                    if let Some(id) = event.snapshot {
                        event.snapshot = Some(self.snapshot_id(id)?);
                    }
                    if let Some(id) = event.restored_snapshot {
                        event.restored_snapshot = Some(self.snapshot_id(id)?);
                    }
                }
                self.modules.insert(deployment.module.clone());
                self.batch.put(DEPLOYMENTS, full, encode(&deployment)?);
            }
            "configs" => {
                self.batch.put(CONFIGS, full, value);
            }
            "canaries" => {
                let mut canary: Canary = decode(&value)?;
                named(&key, &canary.module)?;
                canary.tenant = target;
                self.batch.put(CANARIES, full, encode(&canary)?);
            }
            "alert_rules" => {
                let mut rule: AlertRule = decode(&value)?;
                named(&key, &rule.name)?;
                rule.tenant = Some(target);
                self.batch.put(RULES, full, encode(&rule)?);
            }
            "kv_snapshots" => {
                let old: [u8; 8] = key
                    .get(..8)
                    .and_then(|id| id.try_into().ok())
                    .ok_or_else(|| RegistryError::Storage("a snapshot key is shorter than its id".into()))?;
                let mut renamed = self.snapshot_id(u64::from_be_bytes(old))?.to_be_bytes().to_vec();
                renamed.extend_from_slice(&key[8..]);
                self.batch.put(KV_SNAPSHOTS, renamed, value);
            }
            "modules" => {
                if !self.plan.kept_versions.contains(&key) {
                    let mut version: ModuleVersion = decode(&value)?;
                    version.owner = Some(target);
                    self.batch.put(MODULES, key, encode(&version)?);
                }
            }
            "kv" => {
                let end = key.iter().position(|byte| *byte == 0).unwrap_or(key.len());
                self.modules
                    .insert(String::from_utf8_lossy(&key[..end]).into_owned());
                self.kv.insert(full, value);
            }
            other => return Err(RegistryError::Storage(format!("unknown tree `{other}`"))),
        }
        Ok(())
    }
}

/// A record keyed by a name within the tenant must be stored under that name.
fn named(key: &[u8], name: &str) -> Result<(), RegistryError> {
    if key == name.as_bytes() {
        Ok(())
    } else {
        Err(RegistryError::Storage(format!(
            "the record of `{name}` is stored under another key"
        )))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]

    use super::*;
    use crate::backup_format::{BackupHeader, BackupWriter, STANDARD_MEMBER};
    use crate::model::{NewTenant, Organisation, TenantKind};
    use crate::publish::{Publisher, Upload};

    /// A backup of tenant `grid` owning custom module `grid-view` 1.0.0.
    fn backup_with_a_custom_module() -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        let registry = Registry::in_memory(dir.path(), crate::RegistryConfig::default()).unwrap();
        let new = NewTenant {
            id: "grid".into(),
            name: "Grid".into(),
            kind: TenantKind::Custom,
            organisation: Organisation::default(),
            features: Default::default(),
            plan: None,
            monthly_value_cents: None,
        };
        registry.create_tenant(new, "test").unwrap();
        let component = wat::parse_str(
            "(component (instance $h) (export \"modhost:module/handler@1.0.0\" (instance $h))
             (instance $l) (export \"modhost:module/lifecycle@1.0.0\" (instance $l)))",
        )
        .unwrap();
        let manifest = format!(
            "manifest_version = 1\n\n[module]\nid = \"grid-view\"\nversion = \"1.0.0\"\nkind = \"custom\"\napi = \"^1.0\"\ntitle = \"grid\"\ncapabilities = []\n\n[component]\npath = \"grid.wasm\"\nsha256 = \"{}\"\n",
            crate::blobs::sha256_hex(&component)
        );
        let upload = Upload {
            manifest_text: &manifest,
            component: &component,
            publisher: &Publisher::Tenant("grid".into()),
            actor: "test",
        };
        registry.publish(upload).unwrap();
        let mut bytes = Vec::new();
        registry.backup_tenant("grid", &mut bytes).unwrap();
        bytes
    }

    /// The same backup, rewritten with `keep` deciding which members stay.
    fn rewritten(bytes: &[u8], mut keep: impl FnMut(&Member<'_>) -> bool) -> Vec<u8> {
        let mut header: Option<BackupHeader> = None;
        let mut members = Vec::new();
        read_backup(bytes, |read, member| {
            header = Some(read.clone());
            if keep(&member) {
                members.push(match member {
                    Member::Entries(entries) => (0, entries, Vec::new(), String::new()),
                    Member::Blob { sha256, bytes } => (1, Vec::new(), bytes, sha256.to_owned()),
                    Member::Standard(refs) => {
                        (2, Vec::new(), serde_json::to_vec(&refs).unwrap(), String::new())
                    }
                });
            }
            Ok(())
        })
        .unwrap();
        let mut writer = BackupWriter::new(Vec::new(), header.unwrap()).unwrap();
        for (kind, entries, bytes, sha256) in members {
            match kind {
                0 => entries
                    .iter()
                    .for_each(|entry| writer.entry(&entry.tree, &entry.key, &entry.value).unwrap()),
                1 => writer.blob(&sha256, &bytes).unwrap(),
                _ => writer.member(STANDARD_MEMBER, &bytes).unwrap(),
            }
        }
        writer.finish().unwrap().0
    }

    fn restore_into_a_fresh_host(bytes: &[u8]) -> Result<RestoreReport, RegistryError> {
        let dir = tempfile::tempdir().unwrap();
        let registry = Registry::in_memory(dir.path(), crate::RegistryConfig::default()).unwrap();
        let report = registry.restore_tenant(|| Ok(bytes), None, "test");
        if report.is_err() {
            assert!(
                registry.tenants().unwrap().is_empty(),
                "a refused restore created nothing"
            );
        }
        report
    }

    #[test]
    fn a_whole_file_restores_on_a_fresh_host() {
        let report = restore_into_a_fresh_host(&backup_with_a_custom_module()).unwrap();
        assert_eq!(report.counts.module_versions, 1);
    }

    #[test]
    fn a_custom_version_without_its_component_is_refused() {
        let bytes = rewritten(&backup_with_a_custom_module(), |member| {
            !matches!(member, Member::Blob { .. })
        });
        let error = restore_into_a_fresh_host(&bytes).unwrap_err();
        assert_eq!(
            error.to_string(),
            "the backup is damaged: the component of grid-view@1.0.0 is not in the file; nothing was changed"
        );
    }
}
