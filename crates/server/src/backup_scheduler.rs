//! Scheduled backups: the task that stores each tenant's due backup, applies its retention and records the run; and their metrics.
//!
//! Every second the task looks for schedules whose next run is due
//! (`Registry::backup_schedules`) and runs them one after the other, most
//! overdue first, each in `spawn_blocking` (a backup reads all of a tenant's
//! data and writes a file: never on an async worker), so at most one
//! scheduled backup runs at a time, and only in one of the host's slots for
//! backup work (`App::backup_work`, shared with requested backups, restores
//! and verifications). A run writes the backup with
//! `backup_files::write_stored_backup`, then applies the retention: of the
//! tenant's stored backups (newest first) it keeps the newest `keep_count`
//! and removes the rest, and removes those older than `max_age_days`, but
//! never the newest one because of its age alone (so a tenant whose backups
//! keep failing still has its last good one). The outcome goes back to the
//! registry (`Registry::record_backup_run`: counts, next due time, audit
//! entry `backup.scheduled`); a failure is also logged (`warn`, with the
//! tenant and the error, never data) and counted in `/metrics`
//! (`modhost_backup_failures_total{tenant}`, beside
//! `modhost_backup_last_success_timestamp_seconds{tenant}`), both read from
//! the durable schedule records, so they survive a restart.
//!
//! Error texts name the backup directory as `<backup_dir>`, not its path.
//! A backup still running at shutdown finishes on its blocking thread; one
//! cut off by a kill leaves only a `.partial` file, never a listed backup.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use modhost_registry::{
    BACKUP_SCHEDULER_ACTOR, BackupOutcome, BackupRun, BackupScheduleSpec, Registry, RegistryError, now_ms,
};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric as _};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;

use crate::app::App;
use crate::backup_files::{self, StoredBackup};

/// How often the task looks for due schedules.
const TICK: Duration = Duration::from_secs(1);

/// Starts the scheduler; abort the handle to stop it (a backup already
/// running finishes on its blocking thread).
pub(crate) fn start(app: Arc<App>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(run(app))
}

async fn run(app: Arc<App>) {
    let root = app.config.backup_dir();
    let mut ticks = tokio::time::interval(TICK);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Tenants whose last run could not be recorded (so their schedule still
    // says due) wait one interval here instead of running every second.
    let mut held: HashMap<String, Instant> = HashMap::new();
    loop {
        ticks.tick().await;
        held.retain(|_, until| *until > Instant::now());
        let registry = app.registry.clone();
        let due = match tokio::task::spawn_blocking(move || due_tenants(&registry)).await {
            Ok(Ok(due)) => due,
            Ok(Err(error)) => {
                tracing::error!(%error, "could not read the backup schedules");
                continue;
            }
            Err(error) => {
                tracing::error!(%error, "the backup scheduler's task failed");
                continue;
            }
        };
        for (tenant, interval) in due {
            if held.contains_key(&tenant) {
                continue;
            }
            // Scheduled backups share the host's slots for backup work with
            // requested backups, restores and verifications.
            let Ok(_slot) = app.backup_work.acquire().await else {
                return;
            };
            let (registry, root, name) = (app.registry.clone(), root.clone(), tenant.clone());
            let task = tokio::task::spawn_blocking(move || run_if_due(&registry, &root, &name));
            let failed = match task.await {
                Ok(Ok(())) => continue,
                Ok(Err(error)) => error.to_string(),
                Err(error) => error.to_string(),
            };
            tracing::error!(%tenant, error = %failed, "could not run or record a scheduled backup");
            held.insert(tenant, Instant::now() + Duration::from_secs(interval));
        }
    }
}

/// The tenants whose backup is due now, most overdue first, with their intervals in seconds.
fn due_tenants(registry: &Registry) -> Result<Vec<(String, u64)>, RegistryError> {
    let now = now_ms();
    let mut due: Vec<(u64, String, u64)> = registry
        .backup_schedules()?
        .into_iter()
        .filter(|schedule| schedule.is_due(now))
        .map(|schedule| {
            (
                schedule.next_run_at_ms,
                schedule.tenant,
                schedule.spec.interval_secs,
            )
        })
        .collect();
    due.sort();
    Ok(due
        .into_iter()
        .map(|(_, tenant, interval)| (tenant, interval))
        .collect())
}

/// Runs `tenant`'s scheduled backup if it still has a schedule and it is
/// still due, and records the run; removes the schedule of a tenant that
/// was deleted. Blocking.
fn run_if_due(registry: &Registry, root: &Path, tenant: &str) -> Result<(), RegistryError> {
    let Some(schedule) = registry.backup_schedule(tenant)? else {
        return Ok(());
    };
    let at_ms = now_ms();
    if !schedule.is_due(at_ms) {
        return Ok(());
    }
    if let Err(RegistryError::TenantNotFound(_)) = registry.tenant(tenant) {
        tracing::info!(%tenant, "removing the backup schedule of a deleted tenant");
        registry.remove_backup_schedule(tenant, BACKUP_SCHEDULER_ACTOR)?;
        return Ok(());
    }
    let started = Instant::now();
    let outcome = store_and_prune(registry, root, tenant, &schedule.spec);
    if let BackupOutcome::Failed { error } = &outcome {
        tracing::warn!(%tenant, %error, "a scheduled backup failed");
    }
    let run = BackupRun {
        at_ms,
        took_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        outcome,
    };
    registry.record_backup_run(tenant, run)?;
    Ok(())
}

/// Stores a backup of `tenant` under `root`, then applies the retention of `spec`.
fn store_and_prune(
    registry: &Registry,
    root: &Path,
    tenant: &str,
    spec: &BackupScheduleSpec,
) -> BackupOutcome {
    let hide_root =
        |error: anyhow::Error| format!("{error:#}").replace(&root.display().to_string(), "<backup_dir>");
    let stored = match backup_files::write_stored_backup(registry, root, tenant) {
        Ok(stored) => stored,
        Err(error) => {
            return BackupOutcome::Failed {
                error: format!("the backup could not be stored: {}", hide_root(error)),
            };
        }
    };
    match apply_retention(root, tenant, spec, now_ms()) {
        Ok(removed) => BackupOutcome::Stored {
            file: stored.name,
            bytes: stored.bytes,
            removed,
        },
        Err(error) => BackupOutcome::Failed {
            error: format!(
                "the backup was stored as {}, but older backups could not be removed: {}; check <backup_dir>/{tenant}",
                stored.name,
                hide_root(error)
            ),
        },
    }
}

/// Removes what `spec` does not keep of `tenant`'s stored backups; how many.
fn apply_retention(root: &Path, tenant: &str, spec: &BackupScheduleSpec, now_ms: u64) -> anyhow::Result<u32> {
    let stored = backup_files::list_stored(root, Some(tenant))?;
    let mut removed: u32 = 0;
    for backup in retention_victims(stored, spec, now_ms) {
        backup_files::remove_stored(&backup)?;
        removed = removed.saturating_add(1);
    }
    Ok(removed)
}

/// Which of `stored` the retention of `spec` removes at `now_ms`: all but
/// the newest `keep_count`, and those older than `max_age_days` except the
/// newest of all.
fn retention_victims(
    mut stored: Vec<StoredBackup>,
    spec: &BackupScheduleSpec,
    now_ms: u64,
) -> Vec<StoredBackup> {
    stored.sort_by(|a, b| {
        b.created_at_ms
            .cmp(&a.created_at_ms)
            .then_with(|| b.name.cmp(&a.name))
    });
    let keep = usize::try_from(spec.keep_count).unwrap_or(usize::MAX);
    let cutoff = spec
        .max_age_days
        .map(|days| now_ms.saturating_sub(u64::from(days).saturating_mul(86_400_000)));
    stored
        .into_iter()
        .enumerate()
        .filter(|(index, backup)| {
            *index >= keep || (*index > 0 && cutoff.is_some_and(|cutoff| backup.created_at_ms < cutoff))
        })
        .map(|(_, backup)| backup)
        .collect()
}

/// The scheduled backups' series for `/metrics`, read from the schedules.
#[derive(Debug)]
pub(crate) struct BackupMetrics {
    /// (tenant, failed runs, last success in ms since the Unix epoch).
    schedules: Vec<(String, u64, Option<u64>)>,
}

/// A snapshot of every schedule's figures (none if they cannot be read; logged).
pub(crate) fn metrics(registry: &Registry) -> BackupMetrics {
    let schedules = registry
        .backup_schedules()
        .unwrap_or_else(|error| {
            tracing::error!(%error, "could not read the backup schedules");
            Vec::new()
        })
        .into_iter()
        .map(|schedule| (schedule.tenant, schedule.failures, schedule.last_success_at_ms))
        .collect();
    BackupMetrics { schedules }
}

/// `tenant`'s schedule's figures only (none if it has none or it cannot be read; logged).
pub(crate) fn metrics_of(registry: &Registry, tenant: &str) -> BackupMetrics {
    let schedules = registry
        .backup_schedule(tenant)
        .unwrap_or_else(|error| {
            tracing::error!(tenant, %error, "could not read the tenant's backup schedule");
            None
        })
        .into_iter()
        .map(|schedule| (schedule.tenant, schedule.failures, schedule.last_success_at_ms))
        .collect();
    BackupMetrics { schedules }
}

impl Collector for BackupMetrics {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let tenant = |tenant: &str| vec![("tenant".to_owned(), tenant.to_owned())];
        let mut family = encoder.encode_descriptor(
            "modhost_backup_failures",
            "Scheduled backups of a tenant that failed (also audited as failed `backup.scheduled`).",
            None,
            MetricType::Counter,
        )?;
        for (name, failures, _) in &self.schedules {
            ConstCounter::new(*failures).encode(family.encode_family(&tenant(name))?)?;
        }
        let mut family = encoder.encode_descriptor(
            "modhost_backup_last_success_timestamp_seconds",
            "When a tenant's last successful scheduled backup started, in seconds since the Unix epoch.",
            None,
            MetricType::Gauge,
        )?;
        for (name, _, last_success) in &self.schedules {
            if let Some(at_ms) = last_success {
                family
                    .encode_family(&tenant(name))?
                    .encode_gauge(&(*at_ms as f64 / 1000.0))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY_MS: u64 = 86_400_000;

    fn backups(created: &[u64]) -> Vec<StoredBackup> {
        created
            .iter()
            .map(|at| StoredBackup {
                tenant: "acme".to_owned(),
                name: format!("{at}.mhbk"),
                path: std::path::PathBuf::from(format!("/b/acme/{at}.mhbk")),
                bytes: 1,
                created_at_ms: *at,
            })
            .collect()
    }

    fn victims(created: &[u64], keep_count: u32, max_age_days: Option<u32>, now: u64) -> Vec<u64> {
        let spec = BackupScheduleSpec {
            interval_secs: 60,
            keep_count,
            max_age_days,
        };
        retention_victims(backups(created), &spec, now)
            .into_iter()
            .map(|backup| backup.created_at_ms)
            .collect()
    }

    #[test]
    fn retention_keeps_the_newest_count() {
        assert_eq!(victims(&[5, 4, 3, 2, 1], 3, None, 10), [2, 1]);
        assert_eq!(victims(&[1, 5, 3, 2, 4], 3, None, 10), [2, 1]);
        assert_eq!(victims(&[5, 4], 3, None, 10), Vec::<u64>::new());
        assert_eq!(victims(&[], 1, None, 10), Vec::<u64>::new());
    }

    #[test]
    fn retention_removes_old_backups_but_never_the_newest_for_age_alone() {
        let now = 100 * DAY_MS;
        let recent = now - DAY_MS;
        let old = now - 40 * DAY_MS;
        let older = now - 50 * DAY_MS;
        assert_eq!(victims(&[recent, old, older], 10, Some(30), now), [old, older]);
        assert_eq!(victims(&[old, older], 10, Some(30), now), [older]);
        assert_eq!(victims(&[old, older], 1, Some(30), now), [older]);
        assert_eq!(victims(&[recent, old], 10, None, now), Vec::<u64>::new());
    }
}
