//! Garbage collection: what nothing references any more — component blobs, migration snapshots, data of tenants that no longer exist — listed, and removed unless it is a dry run.
//!
//! - **Blobs**: a blob of the artifact store that no module version record
//!   names, and older than the grace period. Uploads (and restores) write
//!   the blob before the record, so a young blob may be about to be named:
//!   it is never removed. Leftover temporary files older than the grace go too.
//! - **Snapshots**: a `kv_snapshots` snapshot that no deployment history
//!   entry names (`snapshot`, `restored_snapshot`): the history keeps 200
//!   entries, and a promote takes its snapshot before it records it, so a
//!   snapshot is only collected when it is older than the grace too. Its age
//!   is read from the store's id counter, which snapshots and audit entries
//!   share: a snapshot whose id is below that of an audit entry written
//!   before `now - grace` is older than the grace.
//! - **Orphan data scopes**: a `kv_usage` record (and the scope's data) of a
//!   tenant that does not exist, e.g. a write that raced a tenant's deletion.
//!
//! A dry run reads exactly what a real run would remove and removes nothing.
//! The compile cache is the runtime's ([`Registry::referenced_components`]
//! gives it the digests still in use); the audit log keeps its own retention
//! ([`Registry::prune_audit`], counted here by [`Registry::prunable_audit`]).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::audit::AUDIT;
use crate::blobs::is_young;
use crate::deployments::DEPLOYMENTS;
use crate::error::RegistryError;
use crate::model::{AuditEntry, Deployment, ModuleVersion, now_ms};
use crate::module_data::{KV, KV_SNAPSHOTS, KV_USAGE};
use crate::publish::MODULES;
use crate::records::decode;
use crate::registry::Registry;
use crate::store::Batch;
use crate::tenants::TENANTS;
use crate::usage::DataUsage;

/// The lock key collections take, so two never race over the same blob
/// (tenant ids never start with `modhost-`).
const GC_LOCK: &str = "modhost-gc";

/// A blob (or leftover file) of the artifact store that nothing names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GarbageBlob {
    /// The digest, or a leftover file's name.
    pub name: String,
    /// Its size.
    pub bytes: u64,
}

/// A migration snapshot no deployment history names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GarbageSnapshot {
    /// Its id.
    pub id: u64,
    /// The data entries it holds.
    pub entries: u64,
    /// Their bytes (keys plus values).
    pub bytes: u64,
}

/// A data scope of a tenant that does not exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GarbageScope {
    /// The (missing) tenant.
    pub tenant: String,
    /// The module.
    pub module: String,
    /// What its usage record says it holds.
    pub usage: DataUsage,
    /// The data entries found under it.
    pub entries: u64,
}

/// What a collection found (and, unless it was a dry run, removed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcReport {
    /// Nothing was removed.
    pub dry_run: bool,
    /// Unreferenced blobs and leftover files, by name.
    pub blobs: Vec<GarbageBlob>,
    /// Unreferenced snapshots, by id.
    pub snapshots: Vec<GarbageSnapshot>,
    /// Data scopes of tenants that do not exist.
    pub scopes: Vec<GarbageScope>,
    /// Blobs found unreferenced but stored again meanwhile, so kept.
    pub blobs_kept: Vec<String>,
}

impl GcReport {
    /// The bytes listed: blobs, snapshots and orphan data.
    pub fn bytes(&self) -> u64 {
        let blobs: u64 = self.blobs.iter().map(|blob| blob.bytes).sum();
        let snapshots: u64 = self.snapshots.iter().map(|snapshot| snapshot.bytes).sum();
        let scopes: u64 = self.scopes.iter().map(|scope| scope.usage.bytes).sum();
        blobs + snapshots + scopes
    }
}

/// A store entry's size, as data usage counts it.
fn entry_bytes(key: &[u8], value: &[u8]) -> u64 {
    u64::try_from(key.len() + value.len()).unwrap_or(u64::MAX)
}

impl Registry {
    /// Lists what nothing references (see the module docs) and, unless
    /// `dry_run`, removes it: the store's part in one batch, then the blobs.
    /// Blobs and snapshots younger than `grace` are kept.
    pub fn collect_garbage(&self, dry_run: bool, grace: Duration) -> Result<GcReport, RegistryError> {
        let lock = self.tenant_lock(GC_LOCK);
        let _one_at_a_time = lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut report = GcReport {
            dry_run,
            ..GcReport::default()
        };
        let mut batch = Batch::new();
        self.orphan_snapshots(grace, &mut batch, &mut report)?;
        self.orphan_scopes(&mut batch, &mut report)?;
        if !dry_run && !batch.is_empty() {
            self.inner.store.apply(&batch)?;
            self.flush()?;
        }
        let referenced = self.referenced_components()?;
        for file in self.inner.blobs.files()? {
            let wanted = file
                .digest
                .as_ref()
                .is_some_and(|digest| referenced.contains(digest));
            if wanted && file.name.ends_with(".gc") {
                // Set aside by a collection that did not finish, and named again: put it back.
                if !dry_run {
                    self.inner.blobs.settle_leftover(&file, true)?;
                }
                continue;
            }
            if (wanted && file.is_blob()) || is_young(file.modified, grace) {
                continue;
            }
            if !dry_run {
                if !file.is_blob() {
                    self.inner.blobs.settle_leftover(&file, false)?;
                } else if !self.inner.blobs.remove_unused(&file.name, grace)? {
                    report.blobs_kept.push(file.name);
                    continue;
                }
            }
            report.blobs.push(GarbageBlob {
                name: file.name,
                bytes: file.bytes,
            });
        }
        if !dry_run {
            tracing::info!(
                blobs = report.blobs.len(),
                snapshots = report.snapshots.len(),
                scopes = report.scopes.len(),
                bytes = report.bytes(),
                "collected garbage"
            );
        }
        Ok(report)
    }

    /// The sha256 of every component a module version record names.
    pub fn referenced_components(&self) -> Result<BTreeSet<String>, RegistryError> {
        Ok(self
            .records::<ModuleVersion>(MODULES, &[])?
            .into_iter()
            .map(|version| version.sha256)
            .collect())
    }

    /// How many audit entries [`Registry::prune_audit`] with these limits would delete now.
    pub fn prunable_audit(&self, max_entries: u64, max_age: Duration) -> Result<u64, RegistryError> {
        let mut total: u64 = 0;
        for item in self.inner.store.scan_prefix(AUDIT, &[])? {
            item?;
            total += 1;
        }
        let excess = total.saturating_sub(max_entries);
        let cutoff_ms = now_ms().saturating_sub(u64::try_from(max_age.as_millis()).unwrap_or(u64::MAX));
        let mut prunable: u64 = 0;
        for item in self.inner.store.scan_prefix(AUDIT, &[])? {
            let (_, bytes) = item?;
            if prunable >= excess && decode::<AuditEntry>(&bytes)?.at_ms >= cutoff_ms {
                break;
            }
            prunable += 1;
        }
        Ok(prunable)
    }

    /// The smallest id that may have been handed out within `grace` of now:
    /// every id below it is older (see the module docs). With no grace,
    /// every id handed out so far.
    fn old_id_bound(&self, grace: Duration) -> Result<u64, RegistryError> {
        if grace.is_zero() {
            return Ok(self.inner.store.next_id()?);
        }
        let cutoff_ms = now_ms().saturating_sub(u64::try_from(grace.as_millis()).unwrap_or(u64::MAX));
        let mut bound = 0;
        for item in self.inner.store.scan_prefix(AUDIT, &[])? {
            let (_, bytes) = item?;
            let entry: AuditEntry = decode(&bytes)?;
            if entry.at_ms > cutoff_ms {
                break;
            }
            bound = entry.id;
        }
        Ok(bound)
    }

    /// Lists (and adds to `batch` the deletes of) snapshots older than
    /// `grace` that no deployment history names.
    fn orphan_snapshots(
        &self,
        grace: Duration,
        batch: &mut Batch,
        report: &mut GcReport,
    ) -> Result<(), RegistryError> {
        let bound = self.old_id_bound(grace)?;
        let mut named = BTreeSet::new();
        for deployment in self.records::<Deployment>(DEPLOYMENTS, &[])? {
            for event in deployment.history {
                named.extend(event.snapshot);
                named.extend(event.restored_snapshot);
            }
        }
        let mut found: BTreeMap<u64, GarbageSnapshot> = BTreeMap::new();
        for entry in self.inner.store.scan_prefix(KV_SNAPSHOTS, &[])? {
            let (key, value) = entry?;
            let Some(id) = key
                .get(..8)
                .and_then(|id| <[u8; 8]>::try_from(id).ok())
                .map(u64::from_be_bytes)
            else {
                continue;
            };
            if named.contains(&id) || id >= bound {
                continue;
            }
            let snapshot = found.entry(id).or_insert(GarbageSnapshot {
                id,
                entries: 0,
                bytes: 0,
            });
            snapshot.entries += 1;
            snapshot.bytes += entry_bytes(key.get(8..).unwrap_or_default(), &value);
            batch.delete(KV_SNAPSHOTS, key);
        }
        report.snapshots = found.into_values().collect();
        Ok(())
    }

    /// Lists (and adds to `batch` the deletes of) the usage records and
    /// data of scopes whose tenant does not exist.
    fn orphan_scopes(&self, batch: &mut Batch, report: &mut GcReport) -> Result<(), RegistryError> {
        let mut tenants: BTreeMap<Vec<u8>, bool> = BTreeMap::new();
        for entry in self.inner.store.scan_prefix(KV_USAGE, &[])? {
            let (scope, record) = entry?;
            let mut parts = scope.split(|byte| *byte == 0);
            let (Some(tenant), Some(module)) = (parts.next(), parts.next()) else {
                continue;
            };
            let exists = match tenants.get(tenant) {
                Some(exists) => *exists,
                None => {
                    let exists = self.inner.store.get(TENANTS, tenant)?.is_some();
                    tenants.insert(tenant.to_vec(), exists);
                    exists
                }
            };
            if exists {
                continue;
            }
            let mut entries = 0;
            for data in self.inner.store.scan_prefix(KV, &scope)? {
                batch.delete(KV, data?.0);
                entries += 1;
            }
            report.scopes.push(GarbageScope {
                tenant: String::from_utf8_lossy(tenant).into_owned(),
                module: String::from_utf8_lossy(module).into_owned(),
                usage: DataUsage::decode(&record).unwrap_or_default(),
                entries,
            });
            batch.delete(KV_USAGE, scope);
        }
        Ok(())
    }
}
