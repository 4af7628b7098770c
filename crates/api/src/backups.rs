//! Tenant backups: scheduled backups with retention, and the backups stored on the host.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// `PUT /v1/tenants/{tenant}/backup-schedule` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BackupScheduleRequest {
    /// Seconds between two backups: 1 to 31,536,000 (365 days); at least 60 outside tests.
    pub interval_secs: u64,
    /// How many of the newest backups to keep: 1 to 1,000.
    pub keep_count: u32,
    /// Also remove backups older than this many days (1 to 3,650), but never the newest one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age_days: Option<u32>,
}

/// One run of a backup schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BackupRun {
    /// When it started (ms since the Unix epoch).
    pub at_ms: u64,
    /// How long it took, in ms.
    pub took_ms: u64,
    /// Whether a backup was stored and retention applied.
    pub ok: bool,
    /// The stored file's name, when it succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Its size in bytes, when it succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// How many older backups retention removed, when it succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removed: Option<u32>,
    /// What went wrong, when it failed (operators see the detail; tenant
    /// admins are told to ask the operator).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A tenant's backup schedule and what its runs did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BackupSchedule {
    /// The tenant.
    pub tenant: String,
    /// Seconds between two backups.
    pub interval_secs: u64,
    /// How many of the newest backups are kept.
    pub keep_count: u32,
    /// Backups older than this many days are removed (never the newest one).
    pub max_age_days: Option<u32>,
    /// Who set it last.
    pub updated_by: String,
    /// When (ms since the Unix epoch).
    pub updated_at_ms: u64,
    /// When the next run is due (ms since the Unix epoch).
    pub next_run_at_ms: u64,
    /// Runs so far, failed ones included.
    pub runs: u64,
    /// Failed runs so far.
    pub failures: u64,
    /// Failed runs since the last success.
    pub consecutive_failures: u64,
    /// When the last successful run started.
    pub last_success_at_ms: Option<u64>,
    /// The last run.
    pub last_run: Option<BackupRun>,
}

/// `GET /v1/backup-schedules`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BackupScheduleList {
    /// Every schedule, by tenant id.
    pub schedules: Vec<BackupSchedule>,
}

/// One backup stored on the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StoredBackup {
    /// The tenant.
    pub tenant: String,
    /// The file's name, `<created_at_ms>.mhbk`.
    pub name: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// When it was made (ms since the Unix epoch).
    pub created_at_ms: u64,
    /// Where it is on the host (operators only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// `GET /v1/backups`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StoredBackupList {
    /// Newest first.
    pub backups: Vec<StoredBackup>,
}

/// `GET /v1/backups` query.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BackupsQuery {
    /// Only this tenant's (operators; tenant admins always see their own tenant's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
}

/// The last failed scheduled backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BackupFailure {
    /// The tenant.
    pub tenant: String,
    /// When the run started (ms since the Unix epoch).
    pub at_ms: u64,
    /// What went wrong.
    pub error: String,
}

/// Scheduled backups in `GET /v1/status`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BackupsStatus {
    /// Tenants with a backup schedule.
    pub scheduled: u64,
    /// Of those, tenants whose last run failed.
    pub failing: u64,
    /// The most recent failed run that is still the last run of its schedule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_failure: Option<BackupFailure>,
}

/// What a backup holds, as its manifest counts it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BackupContents {
    /// Stored records: the tenant, deployments, config histories, canary, ring, alert rules, module versions.
    pub records: u64,
    /// Module data entries.
    pub kv_entries: u64,
    /// Bytes of module data keys and values.
    pub kv_bytes: u64,
    /// Migration snapshot entries its deployment history references.
    pub snapshot_entries: u64,
    /// Custom module versions it owns, with their components.
    pub module_versions: u64,
}

/// `POST /v1/tenants/{tenant}/backups`: the backup taken and stored on the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CreatedBackup {
    /// The stored file.
    pub backup: StoredBackup,
    /// What it holds.
    pub contents: BackupContents,
}

/// `POST /v1/backups/verify`: a backup file checked member by member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct VerifiedBackup {
    /// The tenant it holds.
    pub tenant: String,
    /// Its format version.
    pub format: u32,
    /// The modhost version that wrote it.
    pub host_version: String,
    /// Its point in time (ms since the Unix epoch).
    pub created_at_ms: u64,
    /// Members checked (size and SHA-256 each), the manifest excluded.
    pub members: u64,
    /// What it holds.
    pub contents: BackupContents,
}

/// `POST /v1/backups/restore` and `POST /v1/backups/{tenant}/{name}/restore` query.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RestoreQuery {
    /// Restore under this new tenant id instead of the backup's (it must not exist).
    #[serde(default, rename = "as", skip_serializing_if = "Option::is_none")]
    #[param(rename = "as")]
    pub as_id: Option<String>,
}

/// What a restore did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RestoredTenant {
    /// The tenant restored.
    pub tenant: String,
    /// The tenant the backup was taken of.
    pub from_tenant: String,
    /// The backup's point in time (ms since the Unix epoch).
    pub created_at_ms: u64,
    /// Whether an existing tenant was replaced (else it was created).
    pub replaced: bool,
    /// What was restored.
    pub contents: BackupContents,
    /// What works only in part, e.g. a rollback target this host lacks.
    pub warnings: Vec<String>,
}
