//! `modhost backup schedule set|show|rm|list` and `modhost backup list`: scheduled backups and the backups stored on the host.

use modhost_api::{BackupSchedule, BackupScheduleList, BackupScheduleRequest, StoredBackupList};

use crate::client::{path, with_query};
use crate::commands::Context;
use crate::error::CliError;
use crate::output::{fields, format_bytes, format_ms, table};

/// `PUT /v1/tenants/{tenant}/backup-schedule`.
pub fn set(
    ctx: &Context,
    tenant: &str,
    interval_secs: u64,
    keep_count: u32,
    max_age_days: Option<u32>,
) -> Result<(), CliError> {
    let schedule: BackupSchedule = ctx.client.put_as(
        &path(&["v1", "tenants", tenant, "backup-schedule"]),
        &BackupScheduleRequest {
            interval_secs,
            keep_count,
            max_age_days,
        },
    )?;
    ctx.show(&schedule, describe);
    Ok(())
}

/// `GET /v1/tenants/{tenant}/backup-schedule`.
pub fn show(ctx: &Context, tenant: &str) -> Result<(), CliError> {
    let schedule: BackupSchedule = ctx
        .client
        .get_as(&path(&["v1", "tenants", tenant, "backup-schedule"]))?;
    ctx.show(&schedule, describe);
    Ok(())
}

/// `DELETE /v1/tenants/{tenant}/backup-schedule`.
pub fn remove(ctx: &Context, tenant: &str) -> Result<(), CliError> {
    let schedule: BackupSchedule =
        ctx.client
            .delete_as(&path(&["v1", "tenants", tenant, "backup-schedule"]))?;
    ctx.show(&schedule, |schedule| {
        format!(
            "removed the backup schedule of {}; its stored backups stay",
            schedule.tenant
        )
    });
    Ok(())
}

/// `GET /v1/backup-schedules`.
pub fn list(ctx: &Context) -> Result<(), CliError> {
    let list: BackupScheduleList = ctx.client.get_as("/v1/backup-schedules")?;
    ctx.show(&list, |list| {
        if list.schedules.is_empty() {
            return "no backup schedules".to_owned();
        }
        let rows = list
            .schedules
            .iter()
            .map(|schedule| {
                vec![
                    schedule.tenant.clone(),
                    every(schedule.interval_secs),
                    retention(schedule),
                    format_ms(schedule.next_run_at_ms),
                    last_run(schedule),
                    format!("{}/{}", schedule.failures, schedule.runs),
                ]
            })
            .collect();
        table(
            &["tenant", "every", "keep", "next run", "last run", "failed/runs"],
            rows,
        )
    });
    Ok(())
}

/// `GET /v1/backups[?tenant=]`.
pub fn list_stored(ctx: &Context, tenant: Option<String>) -> Result<(), CliError> {
    let list: StoredBackupList = ctx
        .client
        .get_as(&with_query("/v1/backups", &[("tenant", tenant)]))?;
    ctx.show(&list, |list| {
        if list.backups.is_empty() {
            return "no stored backups".to_owned();
        }
        let rows = list
            .backups
            .iter()
            .map(|backup| {
                vec![
                    backup.tenant.clone(),
                    backup.name.clone(),
                    format_bytes(backup.bytes),
                    format_ms(backup.created_at_ms),
                ]
            })
            .collect();
        table(&["tenant", "name", "size", "created"], rows)
    });
    Ok(())
}

/// `6h`, `90s`: an interval in its largest whole unit.
fn every(secs: u64) -> String {
    match secs {
        0 => "0s".to_owned(),
        _ if secs.is_multiple_of(86_400) => format!("{}d", secs / 86_400),
        _ if secs.is_multiple_of(3600) => format!("{}h", secs / 3600),
        _ if secs.is_multiple_of(60) => format!("{}m", secs / 60),
        _ => format!("{secs}s"),
    }
}

/// `7` or `7, ≤ 30d`.
fn retention(schedule: &BackupSchedule) -> String {
    match schedule.max_age_days {
        Some(days) => format!("{}, ≤ {days}d", schedule.keep_count),
        None => schedule.keep_count.to_string(),
    }
}

/// The last run in one line: when, and what it stored or why it failed.
fn last_run(schedule: &BackupSchedule) -> String {
    let Some(run) = &schedule.last_run else {
        return "-".to_owned();
    };
    match (&run.file, &run.error) {
        (_, Some(error)) => format!("{} failed: {error}", format_ms(run.at_ms)),
        (Some(file), None) => format!(
            "{} {file} ({})",
            format_ms(run.at_ms),
            format_bytes(run.bytes.unwrap_or(0))
        ),
        (None, None) => format_ms(run.at_ms),
    }
}

fn describe(schedule: &BackupSchedule) -> String {
    let mut pairs = vec![
        ("tenant", schedule.tenant.clone()),
        ("every", every(schedule.interval_secs)),
        ("keep", retention(schedule)),
        ("next run", format_ms(schedule.next_run_at_ms)),
        ("last run", last_run(schedule)),
        (
            "last success",
            schedule
                .last_success_at_ms
                .map_or_else(|| "-".to_owned(), format_ms),
        ),
        (
            "runs",
            format!(
                "{} ({} failed, {} in a row)",
                schedule.runs, schedule.failures, schedule.consecutive_failures
            ),
        ),
        (
            "set by",
            format!("{} at {}", schedule.updated_by, format_ms(schedule.updated_at_ms)),
        ),
    ];
    if let Some(removed) = schedule.last_run.as_ref().and_then(|run| run.removed) {
        pairs.insert(5, ("removed", format!("{removed} by the last run's retention")));
    }
    fields(&pairs)
}

#[cfg(test)]
mod tests {
    use super::every;

    #[test]
    fn intervals_show_in_their_largest_whole_unit() {
        assert_eq!(every(21_600), "6h");
        assert_eq!(every(86_400), "1d");
        assert_eq!(every(90), "90s");
        assert_eq!(every(600), "10m");
    }
}
