//! Tenant lifecycle and clean-up: suspend, resume, delete (after a final backup) and garbage collection, all operator-only.
//!
//! A suspension or deletion is applied to the loader's table before the
//! answer goes out (not only when the registry's event arrives), so the very
//! next data-plane request sees it. Delete and garbage collection read and
//! write a lot, so they run on blocking threads.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use modhost_api::{
    DeleteTenantQuery, DeletedTenant, FinalBackup, GcFile, GcQuery, GcReport, GcScope, GcSnapshot,
    SuspendRequest, Tenant,
};
use modhost_registry::{AuditDraft, RegistryError};
use utoipa_axum::routes;

use crate::access::{Access, Caller};
use crate::admin::convert;
use crate::admin::table::{AppState, Routes};
use crate::backup_files;
use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery, JsonOrEmpty};

/// Blobs and snapshots younger than this are kept: an upload or restore
/// writes its blobs before the records naming them, and a promote takes its
/// snapshot before recording it.
pub(crate) const GC_GRACE: Duration = Duration::from_secs(3600);

/// The lifecycle routes and who may call each.
pub(crate) fn routes(routes: Routes) -> Routes {
    routes
        .add(Access::Operator, routes!(suspend_tenant))
        .add(Access::Operator, routes!(resume_tenant))
        .add(Access::Operator, routes!(delete_tenant))
        .add(Access::Operator, routes!(collect_garbage))
}

/// suspend a tenant: its data plane answers `423 tenant-suspended`, its data is kept
#[utoipa::path(post, path = "/v1/tenants/{tenant}/suspend", operation_id = "SuspendTenant", tag = "tenants",
    params(("tenant" = String, Path, description = "the tenant id")),
    request_body = SuspendRequest,
    responses((status = 200, description = "the suspended tenant", body = Tenant)))]
async fn suspend_tenant(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(tenant): ApiPath<String>,
    JsonOrEmpty(body): JsonOrEmpty<SuspendRequest>,
) -> Result<Json<Tenant>, ApiError> {
    let suspended = app
        .registry
        .suspend_tenant(&tenant, body.reason, &caller.actor())?;
    app.loader.refresh_tenant(&tenant);
    Ok(Json(convert::tenant(suspended)))
}

/// resume a suspended tenant: its data plane serves again
#[utoipa::path(post, path = "/v1/tenants/{tenant}/resume", operation_id = "ResumeTenant", tag = "tenants",
    params(("tenant" = String, Path, description = "the tenant id")),
    responses((status = 200, description = "the resumed tenant", body = Tenant)))]
async fn resume_tenant(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(tenant): ApiPath<String>,
) -> Result<Json<Tenant>, ApiError> {
    let resumed = app.registry.resume_tenant(&tenant, &caller.actor())?;
    app.loader.refresh_tenant(&tenant);
    Ok(Json(convert::tenant(resumed)))
}

/// delete a tenant and everything of it, after a final backup (unless `final_backup=false`)
#[utoipa::path(delete, path = "/v1/tenants/{tenant}", operation_id = "DeleteTenant", tag = "tenants",
    params(("tenant" = String, Path, description = "the tenant id"), DeleteTenantQuery),
    responses((status = 200, description = "what was removed, and where the final backup went", body = DeletedTenant)))]
async fn delete_tenant(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(tenant): ApiPath<String>,
    ApiQuery(query): ApiQuery<DeleteTenantQuery>,
) -> Result<Json<DeletedTenant>, ApiError> {
    app.registry.tenant(&tenant)?;
    let actor = caller.actor();
    let final_backup = if query.final_backup.unwrap_or(true) {
        let _running = app.backup_work.try_acquire().map_err(|_| backups_busy(&tenant))?;
        let (registry, root, id) = (app.registry.clone(), app.config.backup_dir(), tenant.clone());
        let stored = blocking(move || {
            backup_files::write_stored_backup(&registry, &root, &id)
                .map_err(|error| final_backup_failed(&id, error))
        })
        .await?;
        let mut draft = AuditDraft::ok(&actor, "backup.create", stored.name.clone(), Some(&tenant));
        draft.detail = Some("the final backup before deleting the tenant".to_owned());
        app.registry.record_audit(draft)?;
        Some(FinalBackup {
            path: stored.path.display().to_string(),
            bytes: stored.bytes,
        })
    } else {
        None
    };
    let (registry, id) = (app.registry.clone(), tenant.clone());
    let deleted = blocking(move || Ok(registry.delete_tenant(&id, &actor)?)).await?;
    if let Err(error) = app.loader.reload_tenant(&tenant) {
        tracing::error!(tenant = %tenant, %error, "could not drop the routes of a deleted tenant; they go at the next reload");
    }
    app.module_logs.forget(&tenant).await;
    tracing::info!(tenant = %tenant, final_backup = ?final_backup.as_ref().map(|backup| &backup.path), "deleted a tenant");
    Ok(Json(DeletedTenant {
        tenant: deleted.tenant,
        final_backup,
        deployments: deleted.deployments,
        configs: deleted.configs,
        canaries: deleted.canaries,
        kv_entries: deleted.kv_entries,
        kv_bytes: deleted.kv_bytes,
        snapshots: deleted.snapshots,
        tokens: deleted.tokens,
        alert_rules: deleted.alert_rules,
        channels: deleted.channels,
        alerts: deleted.alerts,
        deliveries: deleted.deliveries,
        ring: deleted.ring,
        backup_schedule: deleted.backup_schedule,
        module_versions: deleted.module_versions,
        kept_module_versions: deleted.kept_module_versions,
    }))
}

/// remove what nothing references: blobs, compiled components, snapshots, data of deleted tenants, audit past retention
#[utoipa::path(post, path = "/v1/gc", operation_id = "CollectGarbage", tag = "observe",
    params(GcQuery),
    responses((status = 200, description = "what was removed (with `dry_run=true`: what would be)", body = GcReport)))]
async fn collect_garbage(
    State(app): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<GcQuery>,
) -> Result<Json<GcReport>, ApiError> {
    let dry_run = query.dry_run.unwrap_or(false);
    let worker = app.clone();
    let report = blocking(move || collect(&worker, dry_run)).await?;
    if !dry_run {
        let mut draft = AuditDraft::ok(&caller.actor(), "gc.collect", "host", None);
        draft.detail = Some(format!(
            "removed {} blobs, {} compiled components, {} snapshots, {} data scopes, {} audit entries ({} bytes)",
            report.blobs.len(),
            report.compiled.len(),
            report.snapshots.len(),
            report.data_scopes.len(),
            report.audit_entries,
            report.bytes
        ));
        app.registry.record_audit(draft)?;
    }
    Ok(Json(report))
}

/// One collection: the registry's garbage, then the compile cache's, then the audit log past retention.
fn collect(app: &crate::app::App, dry_run: bool) -> Result<GcReport, ApiError> {
    let registry = &app.registry;
    let found = registry.collect_garbage(dry_run, GC_GRACE)?;
    let live = registry.referenced_components()?;
    let compiled = app
        .runtime()
        .compile_cache()
        .collect_stale(&live, dry_run)
        .map_err(|error| ApiError::internal(format!("{error:#}")))?;
    let max_entries = app.config.audit_max_entries;
    let max_age = Duration::from_secs(app.config.audit_max_age_days.saturating_mul(86_400));
    let audit_entries = if dry_run {
        registry.prunable_audit(max_entries, max_age)?
    } else {
        registry.prune_audit(max_entries, max_age)?
    };
    let compiled: Vec<GcFile> = compiled
        .into_iter()
        .map(|artifact| GcFile {
            name: artifact.file,
            bytes: artifact.bytes,
            reason: Some(artifact.reason.name().to_owned()),
        })
        .collect();
    let bytes = found.bytes() + compiled.iter().map(|file| file.bytes).sum::<u64>();
    Ok(GcReport {
        dry_run,
        blobs: found
            .blobs
            .into_iter()
            .map(|blob| GcFile {
                name: blob.name,
                bytes: blob.bytes,
                reason: None,
            })
            .collect(),
        compiled,
        snapshots: found
            .snapshots
            .into_iter()
            .map(|snapshot| GcSnapshot {
                id: snapshot.id,
                entries: snapshot.entries,
                bytes: snapshot.bytes,
            })
            .collect(),
        data_scopes: found
            .scopes
            .into_iter()
            .map(|scope| GcScope {
                tenant: scope.tenant,
                module: scope.module,
                entries: scope.entries,
                bytes: scope.usage.bytes,
            })
            .collect(),
        audit_entries,
        bytes,
        grace_secs: GC_GRACE.as_secs(),
    })
}

/// Runs slow registry work on a blocking thread.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| ApiError::internal(format!("the lifecycle task failed: {error}")))?
}

/// The refusal of a delete whose final backup failed: nothing was deleted.
/// A refusal of the backup (e.g. another backup of the tenant is running)
/// keeps its status and code.
fn final_backup_failed(tenant: &str, error: anyhow::Error) -> ApiError {
    match error.downcast::<RegistryError>() {
        Ok(error @ RegistryError::TenantNotFound(_)) => error.into(),
        Ok(error) => {
            let detail = error.to_string();
            let mut refusal = ApiError::from(error);
            if refusal.host_failure {
                return final_backup_error(tenant, &detail);
            }
            refusal.message = format!(
                "the final backup of tenant `{tenant}` was refused, so nothing was deleted: {}",
                refusal.message
            );
            refusal
        }
        Err(error) => final_backup_error(tenant, &format!("{error:#}")),
    }
}

fn final_backup_error(tenant: &str, detail: &str) -> ApiError {
    ApiError::host_failure(
        StatusCode::INTERNAL_SERVER_ERROR,
        "final-backup-failed",
        format!(
            "the final backup of tenant `{tenant}` failed, so nothing was deleted: {detail}; fix the backup directory, or delete without a final backup (`final_backup=false`)"
        ),
    )
}

fn backups_busy(tenant: &str) -> ApiError {
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "busy",
        format!(
            "{} backups, restores or verifications are already running, so the final backup of tenant `{tenant}` cannot start and nothing was deleted; retry when one finishes",
            backup_files::MAX_RUNNING
        ),
    )
}
