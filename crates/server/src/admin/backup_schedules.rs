//! Scheduled backups and the backups stored on the host: operators set and remove schedules; a tenant admin reads its own.

use axum::Json;
use axum::extract::State;
use modhost_api::{
    BackupFailure, BackupRun, BackupSchedule, BackupScheduleList, BackupScheduleRequest, BackupsQuery,
    BackupsStatus, StoredBackup, StoredBackupList,
};
use modhost_registry::{self as registry, BackupOutcome, BackupScheduleSpec, Registry, RegistryError};
use utoipa_axum::routes;

use crate::access::{Access, Caller};
use crate::admin::scope::{operator_or_tenant_admin, scoped_tenant};
use crate::admin::table::{AppState, Routes};
use crate::backup_files;
use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery, JsonBody};

/// The backup schedule routes and who may call each.
pub(crate) fn routes(routes: Routes) -> Routes {
    routes
        .add(Access::Operator, routes!(set_schedule))
        .add(Access::TenantAdmin, routes!(get_schedule))
        .add(Access::Operator, routes!(delete_schedule))
        .add(Access::Operator, routes!(list_schedules))
        .add(Access::Console, routes!(list_backups))
}

/// What a tenant admin reads instead of a failed run's error (which may name host paths).
const FAILURE_FOR_TENANTS: &str = "the backup failed; the operator can see why in the audit log";

/// The API form of a schedule; `operator` callers see a failed run's error.
fn schedule(schedule: registry::BackupSchedule, operator: bool) -> BackupSchedule {
    BackupSchedule {
        tenant: schedule.tenant,
        interval_secs: schedule.spec.interval_secs,
        keep_count: schedule.spec.keep_count,
        max_age_days: schedule.spec.max_age_days,
        updated_by: schedule.updated_by,
        updated_at_ms: schedule.updated_at_ms,
        next_run_at_ms: schedule.next_run_at_ms,
        runs: schedule.runs,
        failures: schedule.failures,
        consecutive_failures: schedule.consecutive_failures,
        last_success_at_ms: schedule.last_success_at_ms,
        last_run: schedule.last_run.map(|run| {
            let (file, bytes, removed, error) = match run.outcome {
                BackupOutcome::Stored { file, bytes, removed } => {
                    (Some(file), Some(bytes), Some(removed), None)
                }
                BackupOutcome::Failed { error } if operator => (None, None, None, Some(error)),
                BackupOutcome::Failed { .. } => (None, None, None, Some(FAILURE_FOR_TENANTS.to_owned())),
            };
            BackupRun {
                at_ms: run.at_ms,
                took_ms: run.took_ms,
                ok: error.is_none(),
                file,
                bytes,
                removed,
                error,
            }
        }),
    }
}

fn no_schedule(tenant: &str) -> ApiError {
    ApiError::not_found(format!(
        "tenant `{tenant}` has no backup schedule; an operator sets one with PUT /v1/tenants/{tenant}/backup-schedule"
    ))
}

/// set a tenant's backup schedule
///
/// A new schedule's first backup is due at once; a changed one keeps its
/// history and is next due one new interval after its last run. Backups
/// are stored under the server's backup directory,
/// `<backup_dir>/<tenant>/<created_at_ms>.mhbk`; after each, the newest
/// `keep_count` are kept and, with `max_age_days`, older ones removed (never
/// the newest). An interval under 60 s is accepted for tests only.
#[utoipa::path(put, path = "/v1/tenants/{tenant}/backup-schedule", operation_id = "SetBackupSchedule", tag = "backups",
    params(("tenant" = String, Path, description = "the tenant id")),
    request_body = BackupScheduleRequest,
    responses((status = 200, description = "the schedule", body = BackupSchedule)))]
async fn set_schedule(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(tenant): ApiPath<String>,
    JsonBody(body): JsonBody<BackupScheduleRequest>,
) -> Result<Json<BackupSchedule>, ApiError> {
    let spec = BackupScheduleSpec {
        interval_secs: body.interval_secs,
        keep_count: body.keep_count,
        max_age_days: body.max_age_days,
    };
    let set = app.registry.set_backup_schedule(&tenant, spec, &caller.actor())?;
    Ok(Json(schedule(set, true)))
}

/// a tenant's backup schedule and its last run
#[utoipa::path(get, path = "/v1/tenants/{tenant}/backup-schedule", operation_id = "GetBackupSchedule", tag = "backups",
    params(("tenant" = String, Path, description = "the tenant id")),
    responses((status = 200, description = "the schedule", body = BackupSchedule)))]
async fn get_schedule(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(tenant): ApiPath<String>,
) -> Result<Json<BackupSchedule>, ApiError> {
    app.registry.tenant(&tenant)?;
    let found = app
        .registry
        .backup_schedule(&tenant)?
        .ok_or_else(|| no_schedule(&tenant))?;
    Ok(Json(schedule(found, caller.0.is_operator())))
}

/// remove a tenant's backup schedule (its stored backups stay)
#[utoipa::path(delete, path = "/v1/tenants/{tenant}/backup-schedule", operation_id = "DeleteBackupSchedule", tag = "backups",
    params(("tenant" = String, Path, description = "the tenant id")),
    responses((status = 200, description = "the removed schedule", body = BackupSchedule)))]
async fn delete_schedule(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(tenant): ApiPath<String>,
) -> Result<Json<BackupSchedule>, ApiError> {
    match app.registry.remove_backup_schedule(&tenant, &caller.actor()) {
        Ok(removed) => Ok(Json(schedule(removed, true))),
        Err(RegistryError::NotFound(_)) => Err(no_schedule(&tenant)),
        Err(error) => Err(error.into()),
    }
}

/// every tenant's backup schedule
#[utoipa::path(get, path = "/v1/backup-schedules", operation_id = "ListBackupSchedules", tag = "backups",
    responses((status = 200, description = "every schedule, by tenant id", body = BackupScheduleList)))]
async fn list_schedules(State(app): State<AppState>) -> Result<Json<BackupScheduleList>, ApiError> {
    let schedules = app
        .registry
        .backup_schedules()?
        .into_iter()
        .map(|found| schedule(found, true))
        .collect();
    Ok(Json(BackupScheduleList { schedules }))
}

/// the backups stored on the host
///
/// Operators see every tenant's (or `tenant`'s) with their paths; a tenant
/// admin sees its own tenant's.
#[utoipa::path(get, path = "/v1/backups", operation_id = "ListBackups", tag = "backups",
    params(BackupsQuery),
    responses((status = 200, description = "newest first", body = StoredBackupList)))]
async fn list_backups(
    State(app): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<BackupsQuery>,
) -> Result<Json<StoredBackupList>, ApiError> {
    operator_or_tenant_admin(&caller.0, "list backups")?;
    let tenant = scoped_tenant(&caller.0, query.tenant)?;
    if let Some(tenant) = &tenant {
        app.registry.tenant(tenant)?;
    }
    let root = app.config.backup_dir();
    let stored = tokio::task::spawn_blocking(move || backup_files::list_stored(&root, tenant.as_deref()))
        .await
        .map_err(|error| ApiError::internal(format!("the backup listing task failed: {error}")))?
        .map_err(|error| ApiError::internal(format!("could not list the stored backups: {error:#}")))?;
    let operator = caller.0.is_operator();
    let backups = stored
        .into_iter()
        .map(|backup| StoredBackup {
            path: operator.then(|| backup.path.display().to_string()),
            tenant: backup.tenant,
            name: backup.name,
            bytes: backup.bytes,
            created_at_ms: backup.created_at_ms,
        })
        .collect();
    Ok(Json(StoredBackupList { backups }))
}

/// The scheduled backups' part of `GET /v1/status`.
pub(crate) fn status(registry: &Registry) -> BackupsStatus {
    let schedules = registry.backup_schedules().unwrap_or_else(|error| {
        tracing::error!(%error, "could not read the backup schedules");
        Vec::new()
    });
    let mut summary = BackupsStatus {
        scheduled: schedules.len() as u64,
        ..BackupsStatus::default()
    };
    for found in schedules {
        let Some(run) = found.last_run else { continue };
        let BackupOutcome::Failed { error } = run.outcome else {
            continue;
        };
        summary.failing += 1;
        if summary
            .last_failure
            .as_ref()
            .is_none_or(|last| last.at_ms < run.at_ms)
        {
            summary.last_failure = Some(BackupFailure {
                tenant: found.tenant,
                at_ms: run.at_ms,
                error,
            });
        }
    }
    summary
}
