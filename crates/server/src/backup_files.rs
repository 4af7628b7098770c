//! Backups stored on the host: one file per backup under the backup directory, written whole or not at all.
//!
//! Layout: `<root>/<tenant>/<created_at_ms>.mhbk`, where `created_at_ms` is
//! the backup's point in time (bumped by a millisecond in the rare case the
//! name is taken). A backup is written to `<root>/<tenant>/.<ms>.<pid>.partial`,
//! fsynced, renamed into place and the directory fsynced, so a listed file
//! is always a complete backup; a crash leaves at most a `.partial` file,
//! which listings ignore. Uploaded files (restores, verifications) are
//! spooled to `<root>/.incoming/` and removed when the request ends.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use modhost_registry::{BACKUP_EXTENSION, BackupSummary, Registry};

/// How many backups, restores and verifications run at once; past it, `429`.
pub(crate) const MAX_RUNNING: usize = 2;

/// One backup stored on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoredBackup {
    /// The tenant.
    pub tenant: String,
    /// The file name, `<created_at_ms>.mhbk`.
    pub name: String,
    /// The whole path.
    pub path: PathBuf,
    /// Its size.
    pub bytes: u64,
    /// Its point in time (ms since the epoch), from its name.
    pub created_at_ms: u64,
}

/// Takes a backup of `tenant` and stores it under `root`; also returns what it holds.
pub(crate) fn write_stored_backup_with_summary(
    registry: &Registry,
    root: &Path,
    tenant: &str,
) -> anyhow::Result<(StoredBackup, BackupSummary)> {
    let folder = root.join(tenant);
    std::fs::create_dir_all(&folder)
        .with_context(|| format!("could not create the backup directory {}", folder.display()))?;
    let partial = folder.join(format!(
        ".{}.{}.partial",
        modhost_registry::now_ms(),
        std::process::id()
    ));
    let written = write_partial(registry, tenant, &partial);
    let summary = match written {
        Ok(summary) => summary,
        Err(error) => {
            let _ = std::fs::remove_file(&partial);
            return Err(error);
        }
    };
    let mut created_at_ms = summary.created_at_ms;
    let mut path = folder.join(file_name(created_at_ms));
    while path.exists() {
        created_at_ms += 1;
        path = folder.join(file_name(created_at_ms));
    }
    std::fs::rename(&partial, &path)
        .with_context(|| format!("could not move the backup to {}", path.display()))?;
    File::open(&folder)
        .and_then(|dir| dir.sync_all())
        .with_context(|| format!("could not sync {}", folder.display()))?;
    let bytes = std::fs::metadata(&path)
        .with_context(|| format!("could not read {}", path.display()))?
        .len();
    let stored = StoredBackup {
        tenant: tenant.to_owned(),
        name: file_name(created_at_ms),
        path,
        bytes,
        created_at_ms,
    };
    Ok((stored, summary))
}

/// Takes a backup of `tenant` and stores it under `root`.
pub(crate) fn write_stored_backup(
    registry: &Registry,
    root: &Path,
    tenant: &str,
) -> anyhow::Result<StoredBackup> {
    Ok(write_stored_backup_with_summary(registry, root, tenant)?.0)
}

fn write_partial(registry: &Registry, tenant: &str, partial: &Path) -> anyhow::Result<BackupSummary> {
    let file = File::create(partial).with_context(|| format!("could not create {}", partial.display()))?;
    let mut out = BufWriter::with_capacity(256 * 1024, file);
    let summary = registry.backup_tenant(tenant, &mut out)?;
    let file = out
        .into_inner()
        .map_err(|error| error.into_error())
        .with_context(|| format!("could not write {}", partial.display()))?;
    file.sync_all()
        .with_context(|| format!("could not sync {}", partial.display()))?;
    Ok(summary)
}

fn file_name(created_at_ms: u64) -> String {
    format!("{created_at_ms}.{BACKUP_EXTENSION}")
}

/// The backups stored under `root` (of `tenant` only, when given), newest first.
pub(crate) fn list_stored(root: &Path, tenant: Option<&str>) -> anyhow::Result<Vec<StoredBackup>> {
    let tenants: Vec<String> = match tenant {
        // Only a tenant id names a folder: nothing outside `root` is ever listed.
        Some(tenant) if modhost_registry::check_tenant_id(tenant).is_err() => Vec::new(),
        Some(tenant) => vec![tenant.to_owned()],
        None => match std::fs::read_dir(root) {
            Ok(entries) => entries
                .filter_map(Result::ok)
                .filter(|entry| entry.file_type().is_ok_and(|kind| kind.is_dir()))
                .filter_map(|entry| entry.file_name().into_string().ok())
                .filter(|name| !name.starts_with('.'))
                .collect(),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(error) => return Err(error).with_context(|| format!("could not list {}", root.display())),
        },
    };
    let mut backups = Vec::new();
    for tenant in tenants {
        let folder = root.join(&tenant);
        let entries = match std::fs::read_dir(&folder) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
            Err(error) => return Err(error).with_context(|| format!("could not list {}", folder.display())),
        };
        for entry in entries.filter_map(Result::ok) {
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            let Some(created_at_ms) = name
                .strip_suffix(&format!(".{BACKUP_EXTENSION}"))
                .and_then(|stem| stem.parse::<u64>().ok())
            else {
                continue;
            };
            let Ok(metadata) = entry.metadata() else { continue };
            backups.push(StoredBackup {
                tenant: tenant.clone(),
                name,
                path: entry.path(),
                bytes: metadata.len(),
                created_at_ms,
            });
        }
    }
    backups.sort_by(|a, b| {
        b.created_at_ms
            .cmp(&a.created_at_ms)
            .then_with(|| a.tenant.cmp(&b.tenant))
    });
    Ok(backups)
}

/// The stored backup `name` of `tenant`, if it exists; `None` for a name
/// that is not a backup's (so no path outside the backup directory is ever
/// opened).
pub(crate) fn find_stored(root: &Path, tenant: &str, name: &str) -> anyhow::Result<Option<StoredBackup>> {
    Ok(list_stored(root, Some(tenant))?
        .into_iter()
        .find(|backup| backup.name == name))
}

/// Deletes a stored backup.
pub(crate) fn remove_stored(backup: &StoredBackup) -> anyhow::Result<()> {
    std::fs::remove_file(&backup.path).with_context(|| format!("could not remove {}", backup.path.display()))
}

/// An uploaded file spooled to disk; removed when dropped.
#[derive(Debug)]
pub(crate) struct Incoming {
    pub(crate) path: PathBuf,
}

impl Incoming {
    /// A new, empty spool file under `root/.incoming`.
    pub(crate) fn create(root: &Path, request_id: &str) -> anyhow::Result<(Self, std::fs::File)> {
        let folder = root.join(".incoming");
        std::fs::create_dir_all(&folder).with_context(|| format!("could not create {}", folder.display()))?;
        let safe: String = request_id
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .take(64)
            .collect();
        let path = folder.join(format!("{}-{safe}.upload", modhost_registry::now_ms()));
        let file = File::create(&path).with_context(|| format!("could not create {}", path.display()))?;
        Ok((Self { path }, file))
    }
}

/// Removes uploads a stopped server left half-spooled (nothing else reads them).
pub(crate) fn discard_incoming(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root.join(".incoming")) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        if let Err(error) = std::fs::remove_file(entry.path()) {
            tracing::warn!(path = %entry.path().display(), %error, "could not remove a left-over backup upload");
        }
    }
}

impl Drop for Incoming {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
