//! Tenant backups over the API: take one, download it, verify or restore an uploaded or stored one.
//!
//! Every route here is the operators'. A backup, restore or verification
//! reads or writes a whole tenant, so at most
//! [`crate::backup_files::MAX_RUNNING`] run at once (past that, `429 busy`
//! before a byte of an upload is read), each on a blocking thread, never on
//! the request workers. An uploaded file is spooled to the backup
//! directory's `.incoming/` (bounded by `max_backup_upload_bytes`, never
//! held in memory), checked and restored from there, and removed.

use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use modhost_api::{
    BackupContents, CreatedBackup, RestoreQuery, RestoredTenant, StoredBackup, VerifiedBackup,
};
use modhost_registry::{AuditDraft, BackupCounts, RegistryError};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use utoipa_axum::routes;

use crate::access::{Access, Caller};
use crate::admin::table::{AppState, Routes};
use crate::backup_files::{self, Incoming};
use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery, BodyChunks, BodyRules};

/// The backup routes and who may call each.
pub(crate) fn routes(routes: Routes) -> Routes {
    routes
        .add(Access::Operator, routes!(create_backup))
        .add(Access::Operator, routes!(download_backup))
        .add(Access::Operator, routes!(verify_backup))
        .add(Access::Operator, routes!(restore_uploaded))
        .add(Access::Operator, routes!(restore_stored))
}

/// take a backup of a tenant and store it on the host
#[utoipa::path(post, path = "/v1/tenants/{tenant}/backups", operation_id = "CreateBackup", tag = "backups",
    params(("tenant" = String, Path, description = "the tenant id")),
    responses((status = 201, description = "the stored backup and what it holds", body = CreatedBackup)))]
async fn create_backup(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(tenant): ApiPath<String>,
) -> Result<(StatusCode, Json<CreatedBackup>), ApiError> {
    let _running = app.backup_work.try_acquire().map_err(|_| busy())?;
    let registry = app.registry.clone();
    let root = app.config.backup_dir();
    let (stored, summary) = blocking(move || {
        backup_files::write_stored_backup_with_summary(&registry, &root, &tenant).map_err(from_anyhow)
    })
    .await?;
    let draft = AuditDraft::ok(
        &caller.actor(),
        "backup.create",
        stored.name.clone(),
        Some(&stored.tenant),
    );
    app.registry.record_audit(draft)?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedBackup {
            backup: stored_view(&stored),
            contents: contents(summary.counts),
        }),
    ))
}

/// download a stored backup
#[utoipa::path(get, path = "/v1/backups/{tenant}/{name}", operation_id = "DownloadBackup", tag = "backups",
    params(("tenant" = String, Path, description = "the tenant id"),
           ("name" = String, Path, description = "the backup's file name, e.g. `1796640000000.mhbk`")),
    responses((status = 200, description = "the backup file", body = Vec<u8>, content_type = "application/octet-stream")))]
async fn download_backup(
    State(app): State<AppState>,
    ApiPath((tenant, name)): ApiPath<(String, String)>,
) -> Result<Response, ApiError> {
    let stored = find(&app, &tenant, &name)?;
    let file = tokio::fs::File::open(&stored.path)
        .await
        .map_err(|error| ApiError::internal(format!("could not open {}: {error}", stored.path.display())))?;
    let chunks = futures_util::stream::unfold(Some(file), |file| async move {
        let mut file = file?;
        let mut buffer = vec![0u8; 256 * 1024];
        match file.read(&mut buffer).await {
            Ok(0) => None,
            Ok(read) => {
                buffer.truncate(read);
                Some((Ok::<_, std::io::Error>(bytes::Bytes::from(buffer)), Some(file)))
            }
            Err(error) => Some((Err(error), None)),
        }
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header(header::CONTENT_LENGTH, stored.bytes)
        .header(
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{}-{}\"", stored.tenant, stored.name),
        )
        .body(Body::from_stream(chunks))
        .map_err(|error| ApiError::internal(format!("could not answer the download: {error}")))
}

/// check an uploaded backup file member by member, changing nothing
#[utoipa::path(post, path = "/v1/backups/verify", operation_id = "VerifyBackup", tag = "backups",
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "a backup file"),
    responses((status = 200, description = "the backup is whole: what it holds", body = VerifiedBackup)))]
async fn verify_backup(
    State(app): State<AppState>,
    request: Request,
) -> Result<Json<VerifiedBackup>, ApiError> {
    let body = upload_body(&app, request)?;
    let _running = app.backup_work.try_acquire().map_err(|_| busy_closing())?;
    let incoming = spool(&app, body).await?;
    let path = incoming.path.clone();
    let manifest = blocking(move || {
        let file = std::fs::File::open(&path)
            .map_err(|error| ApiError::internal(format!("could not read the upload back: {error}")))?;
        Ok(modhost_registry::verify_backup(std::io::BufReader::new(file))?)
    })
    .await?;
    drop(incoming);
    Ok(Json(VerifiedBackup {
        tenant: manifest.header.tenant.clone(),
        format: manifest.header.format,
        host_version: manifest.header.host_version.clone(),
        created_at_ms: manifest.header.created_at_ms,
        members: manifest.members.len() as u64,
        contents: contents(manifest.counts),
    }))
}

/// restore a tenant from an uploaded backup file, all or nothing
#[utoipa::path(post, path = "/v1/backups/restore", operation_id = "RestoreBackup", tag = "backups",
    params(RestoreQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "a backup file"),
    responses((status = 200, description = "what was restored", body = RestoredTenant)))]
async fn restore_uploaded(
    State(app): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<RestoreQuery>,
    request: Request,
) -> Result<Json<RestoredTenant>, ApiError> {
    let body = upload_body(&app, request)?;
    let _running = app.backup_work.try_acquire().map_err(|_| busy_closing())?;
    let incoming = spool(&app, body).await?;
    let restored = restore(&app, incoming.path.clone(), query, caller.actor()).await;
    drop(incoming);
    restored.map(Json)
}

/// restore a tenant from a backup stored on the host, all or nothing
#[utoipa::path(post, path = "/v1/backups/{tenant}/{name}/restore", operation_id = "RestoreStoredBackup", tag = "backups",
    params(("tenant" = String, Path, description = "the tenant whose backup it is"),
           ("name" = String, Path, description = "the backup's file name"), RestoreQuery),
    responses((status = 200, description = "what was restored", body = RestoredTenant)))]
async fn restore_stored(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath((tenant, name)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<RestoreQuery>,
) -> Result<Json<RestoredTenant>, ApiError> {
    let _running = app.backup_work.try_acquire().map_err(|_| busy())?;
    let stored = find(&app, &tenant, &name)?;
    restore(&app, stored.path, query, caller.actor()).await.map(Json)
}

async fn restore(
    app: &AppState,
    path: std::path::PathBuf,
    query: RestoreQuery,
    actor: String,
) -> Result<RestoredTenant, ApiError> {
    let registry = app.registry.clone();
    let report = blocking(move || {
        let open = || std::fs::File::open(&path).map(std::io::BufReader::new);
        Ok(registry.restore_tenant(open, query.as_id.as_deref(), &actor)?)
    })
    .await?;
    app.loader.reload_tenant(&report.tenant)?;
    Ok(RestoredTenant {
        tenant: report.tenant,
        from_tenant: report.from_tenant,
        created_at_ms: report.created_at_ms,
        replaced: report.replaced,
        contents: contents(report.counts),
        warnings: report.warnings,
    })
}

/// The request body under the rules for backup uploads: one declared past
/// the cap is refused here, before a slot is taken or a byte read.
fn upload_body(app: &AppState, request: Request) -> Result<BodyChunks, ApiError> {
    let (parts, body) = request.into_parts();
    let rules = BodyRules {
        max_bytes: usize::try_from(app.config.max_backup_upload_bytes).unwrap_or(usize::MAX),
        idle: Duration::from_millis(app.config.body_idle_timeout_ms),
        total: Duration::from_secs(app.config.backup_upload_timeout_secs),
    };
    BodyChunks::new(&parts.headers, body, rules)
}

/// Writes an upload's body to a spool file.
async fn spool(app: &AppState, mut chunks: BodyChunks) -> Result<Incoming, ApiError> {
    let root = app.config.backup_dir();
    let request_id = app.next_request_id();
    let (incoming, file) =
        Incoming::create(&root, &request_id).map_err(|error| ApiError::internal(format!("{error:#}")))?;
    let mut file = tokio::fs::File::from_std(file);
    let write_failed =
        |error: std::io::Error| ApiError::internal(format!("could not spool the upload: {error}"));
    while let Some(chunk) = chunks.next().await? {
        file.write_all(&chunk).await.map_err(write_failed)?;
    }
    file.flush().await.map_err(write_failed)?;
    Ok(incoming)
}

fn find(app: &AppState, tenant: &str, name: &str) -> Result<backup_files::StoredBackup, ApiError> {
    backup_files::find_stored(&app.config.backup_dir(), tenant, name)
        .map_err(|error| ApiError::internal(format!("{error:#}")))?
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "tenant `{tenant}` has no stored backup `{name}`; list them with `modhost backup list --tenant {tenant}`"
            ))
        })
}

/// Runs registry work on a blocking thread.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| ApiError::internal(format!("the backup task failed: {error}")))?
}

/// A registry refusal keeps its typed answer; anything else is the host's failure.
fn from_anyhow(error: anyhow::Error) -> ApiError {
    match error.downcast::<RegistryError>() {
        Ok(error) => error.into(),
        Err(error) => ApiError::internal(format!("{error:#}")),
    }
}

fn busy() -> ApiError {
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "busy",
        format!(
            "{} backups, restores or verifications are already running; retry when one finishes",
            backup_files::MAX_RUNNING
        ),
    )
}

/// [`busy`], closing the connection: the upload's body is never read.
fn busy_closing() -> ApiError {
    busy().closing()
}

fn contents(counts: BackupCounts) -> BackupContents {
    BackupContents {
        records: counts.records,
        kv_entries: counts.kv_entries,
        kv_bytes: counts.kv_bytes,
        snapshot_entries: counts.snapshot_entries,
        module_versions: counts.module_versions,
    }
}

/// A stored backup as the API shows it to operators.
pub(crate) fn stored_view(stored: &backup_files::StoredBackup) -> StoredBackup {
    StoredBackup {
        tenant: stored.tenant.clone(),
        name: stored.name.clone(),
        bytes: stored.bytes,
        created_at_ms: stored.created_at_ms,
        path: Some(stored.path.display().to_string()),
    }
}
