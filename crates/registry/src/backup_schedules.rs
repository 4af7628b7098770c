//! Backup schedules: per tenant, how often a backup is stored and how many are kept, with the last run's outcome.
//!
//! One record per tenant (tree `backup_schedules`, key = tenant id): the
//! interval, the retention (`keep_count` newest backups, optionally none
//! older than `max_age_days`), when the next run is due, and what the runs
//! did (the last one's outcome, counts of runs and failures, the last
//! success). The registry only keeps the schedule; the server's scheduler
//! runs the backups, stores them as files and reports each run back with
//! [`Registry::record_backup_run`], which writes the outcome and its audit
//! entry (`backup.scheduled`, by `system:backups`) in one batch.
//!
//! The interval may be as short as one second so that tests can watch
//! several runs; in production a backup every minute is the least that
//! makes sense (a backup reads all of the tenant's data), and hours are usual.
//! Setting a schedule again keeps its run history; removing it keeps the
//! backups already stored.

use serde::{Deserialize, Serialize};

use crate::audit::AuditDraft;
use crate::error::RegistryError;
use crate::model::{AuditOutcome, now_ms};
use crate::records::{FORMAT, Record, encode};
use crate::registry::Registry;
use crate::store::{Batch, Tree};

/// Backup schedules, by tenant id (a tenant's deletion should remove its record).
pub(crate) const BACKUP_SCHEDULES: Tree = Tree::new("backup_schedules");

/// The longest interval between two scheduled backups: 365 days, in seconds.
pub const MAX_BACKUP_INTERVAL_SECS: u64 = 365 * 86_400;
/// The most backups a schedule may keep.
pub const MAX_BACKUP_KEEP_COUNT: u32 = 1000;
/// The oldest a schedule may keep backups, in days (ten years).
pub const MAX_BACKUP_AGE_DAYS: u32 = 3650;
/// The actor of scheduled backups' audit entries.
pub const BACKUP_SCHEDULER_ACTOR: &str = "system:backups";
/// The audit action of a scheduled backup's run.
pub const BACKUP_RUN_ACTION: &str = "backup.scheduled";

/// What an operator sets: how often, and what to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackupScheduleSpec {
    /// Seconds between two backups (1 to [`MAX_BACKUP_INTERVAL_SECS`]; at least 60 outside tests).
    pub interval_secs: u64,
    /// How many of the newest backups to keep (1 to [`MAX_BACKUP_KEEP_COUNT`]).
    pub keep_count: u32,
    /// Remove backups older than this many days (1 to [`MAX_BACKUP_AGE_DAYS`]),
    /// but never the newest one; `None`: age alone removes nothing.
    pub max_age_days: Option<u32>,
}

/// How a scheduled backup ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackupOutcome {
    /// The backup was stored and retention applied.
    Stored {
        /// The stored file's name, e.g. `1767225600000.mhbk`.
        file: String,
        /// Its size in bytes.
        bytes: u64,
        /// How many older backups retention removed.
        removed: u32,
    },
    /// The backup, or the retention after it, failed.
    Failed {
        /// What went wrong (no data, no secrets).
        error: String,
    },
}

/// One run of a schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupRun {
    /// When it started (ms since the Unix epoch).
    pub at_ms: u64,
    /// How long it took, in ms.
    pub took_ms: u64,
    /// How it ended.
    pub outcome: BackupOutcome,
}

/// A tenant's backup schedule and what its runs did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupSchedule {
    /// The tenant.
    pub tenant: String,
    /// How often, and what to keep.
    pub spec: BackupScheduleSpec,
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

impl BackupSchedule {
    /// Whether a run is due at `now_ms`.
    pub fn is_due(&self, now_ms: u64) -> bool {
        self.next_run_at_ms <= now_ms
    }
}

fn invalid(field: &str, message: String) -> RegistryError {
    RegistryError::InvalidInput {
        field: field.to_owned(),
        message,
    }
}

/// Checks what an operator asked for.
fn check_spec(spec: &BackupScheduleSpec) -> Result<(), RegistryError> {
    if !(1..=MAX_BACKUP_INTERVAL_SECS).contains(&spec.interval_secs) {
        return Err(invalid(
            "interval_secs",
            format!(
                "{} is not an interval from 1 to {MAX_BACKUP_INTERVAL_SECS} seconds (365 days); use at least 60 outside tests",
                spec.interval_secs
            ),
        ));
    }
    if !(1..=MAX_BACKUP_KEEP_COUNT).contains(&spec.keep_count) {
        return Err(invalid(
            "keep_count",
            format!(
                "{} is not a number of backups to keep from 1 to {MAX_BACKUP_KEEP_COUNT}",
                spec.keep_count
            ),
        ));
    }
    if let Some(days) = spec.max_age_days
        && !(1..=MAX_BACKUP_AGE_DAYS).contains(&days)
    {
        return Err(invalid(
            "max_age_days",
            format!(
                "{days} is not an age from 1 to {MAX_BACKUP_AGE_DAYS} days; leave it out to keep backups whatever their age"
            ),
        ));
    }
    Ok(())
}

/// The audit detail of a run.
fn describe_run(run: &BackupRun) -> String {
    match &run.outcome {
        BackupOutcome::Stored { file, bytes, removed } => {
            format!(
                "stored {file} ({bytes} bytes in {} ms); retention removed {removed}",
                run.took_ms
            )
        }
        BackupOutcome::Failed { error } => error.clone(),
    }
}

impl Registry {
    /// Sets (creates or changes) `tenant`'s backup schedule; audited as
    /// `backup-schedule.set`. A new schedule's first run is due at once; a
    /// changed one keeps its history and is next due one new interval after
    /// its last run.
    pub fn set_backup_schedule(
        &self,
        tenant: &str,
        spec: BackupScheduleSpec,
        actor: &str,
    ) -> Result<BackupSchedule, RegistryError> {
        check_spec(&spec)?;
        let lock = self.tenant_lock(tenant);
        let _guard = lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        self.tenant(tenant)?;
        let now = now_ms();
        let schedule = match self.backup_schedule(tenant)? {
            None => BackupSchedule {
                tenant: tenant.to_owned(),
                spec,
                updated_by: actor.to_owned(),
                updated_at_ms: now,
                next_run_at_ms: now,
                runs: 0,
                failures: 0,
                consecutive_failures: 0,
                last_success_at_ms: None,
                last_run: None,
            },
            Some(old) => BackupSchedule {
                spec,
                updated_by: actor.to_owned(),
                updated_at_ms: now,
                next_run_at_ms: old.last_run.as_ref().map_or(now, |run| {
                    run.at_ms.saturating_add(spec.interval_secs.saturating_mul(1000))
                }),
                ..old
            },
        };
        let mut draft = AuditDraft::ok(actor, "backup-schedule.set", tenant, Some(tenant));
        draft.detail = Some(format!(
            "every {} s, keep {}{}",
            spec.interval_secs,
            spec.keep_count,
            spec.max_age_days
                .map_or_else(String::new, |days| format!(", at most {days} days old"))
        ));
        self.commit_with_audit(BACKUP_SCHEDULES, tenant.as_bytes(), &encode(&schedule)?, draft)?;
        Ok(schedule)
    }

    /// `tenant`'s backup schedule, if it has one.
    pub fn backup_schedule(&self, tenant: &str) -> Result<Option<BackupSchedule>, RegistryError> {
        self.record(BACKUP_SCHEDULES, tenant.as_bytes())
    }

    /// Removes `tenant`'s backup schedule; the backups already stored stay.
    /// Audited as `backup-schedule.delete`. A schedule left behind by a
    /// deleted tenant can be removed too.
    pub fn remove_backup_schedule(&self, tenant: &str, actor: &str) -> Result<BackupSchedule, RegistryError> {
        let lock = self.tenant_lock(tenant);
        let _guard = lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(schedule) = self.backup_schedule(tenant)? else {
            self.tenant(tenant)?;
            return Err(RegistryError::NotFound(format!(
                "tenant `{tenant}` has no backup schedule; set one with PUT /v1/tenants/{tenant}/backup-schedule"
            )));
        };
        let mut batch = Batch::new();
        batch.delete(BACKUP_SCHEDULES, tenant.as_bytes());
        let draft = AuditDraft::ok(actor, "backup-schedule.delete", tenant, Some(tenant));
        self.commit_audited(batch, draft)?;
        Ok(schedule)
    }

    /// Every backup schedule, by tenant id.
    pub fn backup_schedules(&self) -> Result<Vec<BackupSchedule>, RegistryError> {
        self.records(BACKUP_SCHEDULES, &[])
    }

    /// Records a scheduled run of `tenant`'s backup: its outcome, the
    /// counts, the next due time (one interval after the run started) and
    /// the audit entry (`backup.scheduled`, failed when the run failed), in
    /// one batch. When the schedule was removed meanwhile, only the audit
    /// entry is written and `None` returned.
    pub fn record_backup_run(
        &self,
        tenant: &str,
        run: BackupRun,
    ) -> Result<Option<BackupSchedule>, RegistryError> {
        let lock = self.tenant_lock(tenant);
        let _guard = lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut draft = AuditDraft::ok(BACKUP_SCHEDULER_ACTOR, BACKUP_RUN_ACTION, tenant, Some(tenant));
        draft.detail = Some(describe_run(&run));
        if matches!(run.outcome, BackupOutcome::Failed { .. }) {
            draft.outcome = AuditOutcome::Failed;
        }
        let Some(mut schedule) = self.backup_schedule(tenant)? else {
            self.record_audit(draft)?;
            return Ok(None);
        };
        schedule.runs = schedule.runs.saturating_add(1);
        match run.outcome {
            BackupOutcome::Stored { .. } => {
                schedule.consecutive_failures = 0;
                schedule.last_success_at_ms = Some(run.at_ms);
            }
            BackupOutcome::Failed { .. } => {
                schedule.failures = schedule.failures.saturating_add(1);
                schedule.consecutive_failures = schedule.consecutive_failures.saturating_add(1);
            }
        }
        schedule.next_run_at_ms = run
            .at_ms
            .saturating_add(schedule.spec.interval_secs.saturating_mul(1000));
        schedule.last_run = Some(run);
        self.commit_with_audit(BACKUP_SCHEDULES, tenant.as_bytes(), &encode(&schedule)?, draft)?;
        Ok(Some(schedule))
    }
}

fn format_v1() -> u32 {
    1
}

/// A backup schedule, format 1.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StoredBackupScheduleV1 {
    #[serde(default = "format_v1")]
    format: u32,
    tenant: String,
    interval_secs: u64,
    keep_count: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_age_days: Option<u32>,
    updated_by: String,
    updated_at_ms: u64,
    next_run_at_ms: u64,
    runs: u64,
    failures: u64,
    consecutive_failures: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_success_at_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_run: Option<StoredBackupRunV1>,
}

/// One run of a schedule, format 1: `file`, `bytes` and `removed` when it
/// stored a backup, `error` when it failed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StoredBackupRunV1 {
    at_ms: u64,
    took_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    file: Option<String>,
    #[serde(default)]
    bytes: u64,
    #[serde(default)]
    removed: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

impl Record for BackupSchedule {
    const NAME: &'static str = "backup schedule";
    type Stored = StoredBackupScheduleV1;

    fn to_stored(&self) -> StoredBackupScheduleV1 {
        StoredBackupScheduleV1 {
            format: FORMAT,
            tenant: self.tenant.clone(),
            interval_secs: self.spec.interval_secs,
            keep_count: self.spec.keep_count,
            max_age_days: self.spec.max_age_days,
            updated_by: self.updated_by.clone(),
            updated_at_ms: self.updated_at_ms,
            next_run_at_ms: self.next_run_at_ms,
            runs: self.runs,
            failures: self.failures,
            consecutive_failures: self.consecutive_failures,
            last_success_at_ms: self.last_success_at_ms,
            last_run: self.last_run.as_ref().map(|run| {
                let (file, bytes, removed, error) = match &run.outcome {
                    BackupOutcome::Stored { file, bytes, removed } => {
                        (Some(file.clone()), *bytes, *removed, None)
                    }
                    BackupOutcome::Failed { error } => (None, 0, 0, Some(error.clone())),
                };
                StoredBackupRunV1 {
                    at_ms: run.at_ms,
                    took_ms: run.took_ms,
                    file,
                    bytes,
                    removed,
                    error,
                }
            }),
        }
    }

    fn from_stored(stored: StoredBackupScheduleV1) -> Self {
        Self {
            tenant: stored.tenant,
            spec: BackupScheduleSpec {
                interval_secs: stored.interval_secs,
                keep_count: stored.keep_count,
                max_age_days: stored.max_age_days,
            },
            updated_by: stored.updated_by,
            updated_at_ms: stored.updated_at_ms,
            next_run_at_ms: stored.next_run_at_ms,
            runs: stored.runs,
            failures: stored.failures,
            consecutive_failures: stored.consecutive_failures,
            last_success_at_ms: stored.last_success_at_ms,
            last_run: stored.last_run.map(|run| BackupRun {
                at_ms: run.at_ms,
                took_ms: run.took_ms,
                outcome: match (run.error, run.file) {
                    (Some(error), _) => BackupOutcome::Failed { error },
                    (None, file) => BackupOutcome::Stored {
                        file: file.unwrap_or_default(),
                        bytes: run.bytes,
                        removed: run.removed,
                    },
                },
            }),
        }
    }
}
