//! Taking a tenant backup: everything of one tenant at one point in time, streamed with bounded memory while it keeps serving.
//!
//! [`Registry::backup_tenant`] writes the format of `backup_format.rs`:
//!
//! 1. under the tenant's lock (deployment and config changes of this tenant
//!    wait; data-plane requests do not), it starts a copy-on-write capture of
//!    the tenant's module data (`capture.rs`) — the backup's point in time —
//!    and copies the small records: the tenant, its deployments with
//!    history, config histories, canaries, ring label, alert rules, its
//!    implementation project, the
//!    migration snapshots its history references, the custom module versions
//!    it owns with their components, and references to the standard versions
//!    it runs;
//! 2. it releases the lock and streams the module data through the capture,
//!    so writes that land meanwhile are not in the copy, and the tenant's
//!    writers never wait.
//!
//! Not in a backup, by decision: API tokens (credentials; a restored tenant
//! gets new ones from an operator), alert channels (their URLs, addresses
//! and signing secrets are credentials: re-create them after a restore on
//! another host), firing alerts and the audit log (they describe the host,
//! which keeps them).
//!
//! Memory: one entries chunk ([`crate::backup_format`]'s 4 MiB), zstd's
//! window and one component at a time, whatever the tenant's size.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use crate::alerts::RULES;
use crate::backup_format::{
    BACKUP_FORMAT, BackupCounts, BackupError, BackupHeader, BackupWriter, STANDARD_MEMBER, StandardRef,
};
use crate::canaries::CANARIES;
use crate::capture::{BACKUP_CAPTURE, discard, has_preimage, uncopied_value};
use crate::configs::CONFIGS;
use crate::deployments::DEPLOYMENTS;
use crate::error::RegistryError;
use crate::implementations::IMPLEMENTATIONS;
use crate::model::{Canary, Deployment, ModuleVersion, now_ms};
use crate::module_data::{KV, KV_SNAPSHOTS, KV_USAGE};
use crate::publish::MODULES;
use crate::records::decode;
use crate::registry::{Registry, pair_key};
use crate::rollouts::RINGS;
use crate::store::Batch;
use crate::tenants::TENANTS;

/// What a backup holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupSummary {
    /// The tenant.
    pub tenant: String,
    /// The point in time it copies (ms since the epoch).
    pub created_at_ms: u64,
    /// What it holds.
    pub counts: BackupCounts,
    /// Its members, the manifest excluded.
    pub members: usize,
}

/// How many keys of module data one scan lists before the values are read.
const SCAN_PAGE: usize = 1_000;

/// The trees whose keys start with `tenant \0`, copied with the rest of the key.
pub(crate) const PAIR_TREES: [crate::store::Tree; 4] = [DEPLOYMENTS, CONFIGS, CANARIES, RULES];

impl Registry {
    /// Writes a backup of `tenant` to `out` (see the module docs). A second
    /// backup of the same tenant while one runs is refused.
    pub fn backup_tenant(&self, tenant: &str, out: &mut dyn Write) -> Result<BackupSummary, RegistryError> {
        self.tenant(tenant)?;
        let lock = self.tenant_lock(tenant);
        let guard = lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let created_at_ms = now_ms();
        let capture = self.inner.store.next_id()?;
        let started = {
            let _all = self.inner.data.lock_all_scopes();
            self.inner.data.captures().start(tenant, capture)
        };
        if !started {
            return Err(BackupError::Conflict(format!(
                "a backup of tenant `{tenant}` is already running; wait for it to finish"
            ))
            .into());
        }
        let header = BackupHeader {
            format: BACKUP_FORMAT,
            host_version: env!("CARGO_PKG_VERSION").to_owned(),
            tenant: tenant.to_owned(),
            created_at_ms,
        };
        let result = self.write_backup(header, capture, guard, out);
        {
            let _all = self.inner.data.lock_all_scopes();
            self.inner.data.captures().stop(tenant);
        }
        if let Err(error) = discard(self.inner.store.as_ref(), Some(capture)) {
            tracing::warn!(%tenant, %error, "could not remove a finished backup's capture; it is removed at the next start");
        }
        let summary = result?;
        tracing::info!(%tenant, kv_entries = summary.counts.kv_entries, members = summary.members, "tenant backed up");
        Ok(summary)
    }

    fn write_backup(
        &self,
        header: BackupHeader,
        capture: u64,
        guard: std::sync::MutexGuard<'_, ()>,
        out: &mut dyn Write,
    ) -> Result<BackupSummary, RegistryError> {
        let tenant = header.tenant.clone();
        let created_at_ms = header.created_at_ms;
        let mut writer = BackupWriter::new(&mut *out, header)?;
        let standard = self.copy_records(&tenant, &mut writer)?;
        drop(guard);
        self.copy_module_data(&tenant, capture, &mut writer)?;
        let standard = serde_json::to_vec_pretty(&standard).map_err(|error| {
            RegistryError::Storage(format!("could not encode the standard versions: {error}"))
        })?;
        writer.member(STANDARD_MEMBER, &standard)?;
        let (_, manifest) = writer.finish()?;
        out.flush()
            .map_err(|error| BackupError::Io(format!("could not write the backup: {error}")))?;
        Ok(BackupSummary {
            tenant,
            created_at_ms,
            counts: manifest.counts,
            members: manifest.members.len(),
        })
    }

    /// Step 1: the records, the snapshots and the custom versions; returns the standard references.
    fn copy_records<W: Write>(
        &self,
        tenant: &str,
        writer: &mut BackupWriter<W>,
    ) -> Result<Vec<StandardRef>, RegistryError> {
        let store = self.inner.store.as_ref();
        for tree in [TENANTS, RINGS, IMPLEMENTATIONS] {
            if let Some(value) = store.get(tree, tenant.as_bytes())? {
                writer.entry(tree.name(), b"", &value)?;
                writer.counts.records += 1;
            }
        }
        // (module, version) → whether the tenant needs it to serve.
        let mut versions: BTreeMap<(String, semver::Version), bool> = BTreeMap::new();
        let mut snapshots = BTreeSet::new();
        let prefix = pair_key(tenant, "");
        for tree in PAIR_TREES {
            for entry in store.scan_prefix(tree, &prefix)? {
                let (key, value) = entry?;
                if tree == DEPLOYMENTS {
                    let deployment: Deployment = decode(&value)?;
                    note_deployment(&deployment, &mut versions, &mut snapshots);
                } else if tree == CANARIES {
                    let canary: Canary = decode(&value)?;
                    versions.insert((canary.module, canary.version), true);
                }
                writer.entry(tree.name(), key.get(prefix.len()..).unwrap_or_default(), &value)?;
                writer.counts.records += 1;
            }
        }
        for id in snapshots {
            for entry in store.scan_prefix(KV_SNAPSHOTS, &id.to_be_bytes())? {
                let (key, value) = entry?;
                writer.entry(KV_SNAPSHOTS.name(), &key, &value)?;
                writer.counts.snapshot_entries += 1;
            }
        }
        let mut standard = Vec::new();
        for entry in store.scan_prefix(MODULES, &[])? {
            let (key, value) = entry?;
            let version: ModuleVersion = decode(&value)?;
            if version.owner.as_deref() == Some(tenant) {
                writer.entry(MODULES.name(), &key, &value)?;
                writer.blob(&version.sha256, &self.inner.blobs.get(&version.sha256)?)?;
                writer.counts.records += 1;
                writer.counts.module_versions += 1;
            } else if let Some(required) = versions.get(&(version.module.clone(), version.version.clone())) {
                standard.push(StandardRef {
                    module: version.module,
                    version: version.version.to_string(),
                    sha256: version.sha256,
                    required: *required,
                });
            }
        }
        Ok(standard)
    }

    /// Step 2: the module data as it was when the capture started.
    fn copy_module_data<W: Write>(
        &self,
        tenant: &str,
        capture: u64,
        writer: &mut BackupWriter<W>,
    ) -> Result<(), RegistryError> {
        let store = self.inner.store.as_ref();
        let prefix = tenant_prefix(tenant);
        // A page of keys at a time, then each value by key: a long-lived
        // scan of values makes the engine hold what it passed (measured:
        // 100 MB of data raised the peak by 100 MB that way, by the cache
        // size this way).
        let mut start = prefix.clone();
        loop {
            let keys: Vec<Vec<u8>> = store
                .scan(KV, &prefix, Some(&start))?
                .take(SCAN_PAGE)
                .map(|entry| entry.map(|(key, _)| key))
                .collect::<Result<_, _>>()?;
            for key in &keys {
                let value = self.read_uncaptured(tenant, capture, &prefix, key)?;
                if let Some(value) = value {
                    write_kv(writer, &key[prefix.len()..], &value)?;
                }
            }
            match keys.last() {
                Some(last) if keys.len() == SCAN_PAGE => {
                    start = last.clone();
                    start.push(0);
                }
                _ => break,
            }
        }
        // Keys written since the capture began that the scan did not copy:
        // their value at the start is the pre-image.
        for entry in store.scan_prefix(BACKUP_CAPTURE, &capture.to_be_bytes())? {
            let (key, saved) = entry?;
            if let (Some(value), Some(own_key)) = (uncopied_value(&saved), key.get(8 + prefix.len()..)) {
                write_kv(writer, own_key, value)?;
            }
        }
        Ok(())
    }

    /// The live value of the data key `key` when it was not written since
    /// capture `capture` began (otherwise the copy takes its pre-image at
    /// the end), recorded as copied. Read under the key's scope lock, so no
    /// write lands between the two; released before the value is written out.
    fn read_uncaptured(
        &self,
        tenant: &str,
        capture: u64,
        prefix: &[u8],
        key: &[u8],
    ) -> Result<Option<Vec<u8>>, RegistryError> {
        let store = self.inner.store.as_ref();
        let module = key
            .get(prefix.len()..)
            .and_then(|rest| rest.split(|byte| *byte == 0).next())
            .and_then(|module| std::str::from_utf8(module).ok())
            .ok_or_else(|| {
                RegistryError::Storage(format!(
                    "a module data key of tenant `{tenant}` names no module; restore the data directory from a backup"
                ))
            })?;
        let _scope = self.inner.data.lock_scope(tenant, module);
        let value = if has_preimage(store, capture, key)? {
            None
        } else {
            store.get(KV, key)?
        };
        self.inner.data.captures().copied(tenant, key);
        Ok(value)
    }
}

fn write_kv<W: Write>(writer: &mut BackupWriter<W>, key: &[u8], value: &[u8]) -> Result<(), RegistryError> {
    writer.entry(KV.name(), key, value)?;
    writer.counts.kv_entries += 1;
    writer.counts.kv_bytes += (key.len() + value.len()) as u64;
    Ok(())
}

/// What [`Registry::delete_tenant_records`] found, per kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct TenantRecordCounts {
    pub(crate) deployments: u64,
    pub(crate) configs: u64,
    pub(crate) canaries: u64,
    pub(crate) kv_entries: u64,
    /// Bytes of module data as usage counts them: each key after `tenant\0module\0`, plus its value.
    pub(crate) kv_bytes: u64,
    pub(crate) snapshots: u64,
}

impl Registry {
    /// Adds to `batch` the deletes of everything of `tenant` a backup holds
    /// (but its custom module versions): the tenant record, ring,
    /// implementation project, the
    /// pair-keyed trees, module data and usage, and the snapshots its
    /// history names. A restore replaces exactly this; a delete removes it
    /// and more (tokens, alerting, its schedule, its modules).
    pub(crate) fn delete_tenant_records(
        &self,
        tenant: &str,
        batch: &mut Batch,
    ) -> Result<TenantRecordCounts, RegistryError> {
        let store = self.inner.store.as_ref();
        let mut counts = TenantRecordCounts::default();
        batch.delete(TENANTS, tenant.as_bytes());
        batch.delete(RINGS, tenant.as_bytes());
        batch.delete(IMPLEMENTATIONS, tenant.as_bytes());
        let prefix = tenant_prefix(tenant);
        let mut snapshots = BTreeSet::new();
        let mut versions = BTreeMap::new();
        for tree in PAIR_TREES.into_iter().chain([KV, KV_USAGE]) {
            for entry in store.scan_prefix(tree, &prefix)? {
                let (key, value) = entry?;
                if tree == DEPLOYMENTS {
                    note_deployment(&decode(&value)?, &mut versions, &mut snapshots);
                    counts.deployments += 1;
                } else if tree == CONFIGS {
                    counts.configs += 1;
                } else if tree == CANARIES {
                    counts.canaries += 1;
                } else if tree == KV {
                    // The module's own key: after `tenant\0module\0`.
                    let own_key = key.splitn(3, |byte| *byte == 0).nth(2).unwrap_or_default();
                    counts.kv_entries += 1;
                    counts.kv_bytes += (own_key.len() + value.len()) as u64;
                }
                batch.delete(tree, key);
            }
        }
        counts.snapshots = snapshots.len() as u64;
        for id in snapshots {
            for entry in store.scan_prefix(KV_SNAPSHOTS, &id.to_be_bytes())? {
                batch.delete(KV_SNAPSHOTS, entry?.0);
            }
        }
        Ok(counts)
    }
}

/// `tenant \0`: the start of every key of the tenant in the pair-keyed trees and `kv`.
pub(crate) fn tenant_prefix(tenant: &str) -> Vec<u8> {
    pair_key(tenant, "")
}

/// Notes the versions a deployment needs (active: to serve; history: to roll
/// back) and the snapshots its history references.
pub(crate) fn note_deployment(
    deployment: &Deployment,
    versions: &mut BTreeMap<(String, semver::Version), bool>,
    snapshots: &mut BTreeSet<u64>,
) {
    if let Some(active) = &deployment.active {
        versions.insert((deployment.module.clone(), active.clone()), true);
    }
    for event in &deployment.history {
        for version in [&event.from, &event.to].into_iter().flatten() {
            versions
                .entry((deployment.module.clone(), version.clone()))
                .or_insert(false);
        }
        snapshots.extend(event.snapshot);
        snapshots.extend(event.restored_snapshot);
    }
}
