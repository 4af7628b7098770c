//! Deployments: a tenant's active versions and their history; promote, roll back, disable.

use axum::Json;
use axum::extract::State;
use modhost_api::{
    Canary, CanaryAbort, CanaryRequest, Deployment, DeploymentChange, DeploymentHealth, DeploymentList,
    PromoteRequest, RollbackRequest,
};
use modhost_registry::RollbackTarget;
use utoipa_axum::routes;

use crate::access::{Access, Caller};
use crate::admin::convert;
use crate::admin::table::{AppState, Routes};
use crate::error::ApiError;
use crate::extract::{ApiPath, JsonBody, JsonOrEmpty, TenantModule, parse_version};

/// The deployment routes and who may call each.
pub(crate) fn routes(routes: Routes) -> Routes {
    routes
        .add(Access::TenantRead, routes!(list_deployments))
        .add(Access::TenantRead, routes!(get_deployment))
        .add(Access::TenantRead, routes!(deployment_health))
        .add(Access::TenantAdmin, routes!(promote))
        .add(Access::TenantAdmin, routes!(rollback))
        .add(Access::TenantAdmin, routes!(disable))
        .add(Access::TenantAdmin, routes!(start_canary))
        .add(Access::TenantAdmin, routes!(abort_canary))
}

/// A deployment for the wire, with its canary.
fn with_canary(app: &AppState, deployment: modhost_registry::Deployment) -> Result<Deployment, ApiError> {
    let canary = app.registry.canary(&deployment.tenant, &deployment.module)?;
    let mut deployment = convert::deployment(deployment);
    deployment.canary = canary.as_ref().map(convert::canary);
    Ok(deployment)
}

/// the tenant's deployments
#[utoipa::path(get, path = "/v1/tenants/{tenant}/deployments", operation_id = "ListDeployments", tag = "deployments",
    params(("tenant" = String, Path, description = "the tenant id")),
    responses((status = 200, description = "every module the tenant has deployed", body = DeploymentList)))]
async fn list_deployments(
    State(app): State<AppState>,
    ApiPath(tenant): ApiPath<String>,
) -> Result<Json<DeploymentList>, ApiError> {
    app.registry.tenant(&tenant)?;
    let deployments = app
        .registry
        .deployments_of(&tenant)?
        .into_iter()
        .map(|deployment| with_canary(&app, deployment))
        .collect::<Result<_, _>>()?;
    Ok(Json(DeploymentList { deployments }))
}

/// one deployment with its history
#[utoipa::path(get, path = "/v1/tenants/{tenant}/deployments/{module}", operation_id = "GetDeployment", tag = "deployments",
    params(("tenant" = String, Path, description = "the tenant id"), ("module" = String, Path, description = "the module id")),
    responses((status = 200, description = "the active version and the history, newest last", body = Deployment)))]
async fn get_deployment(
    State(app): State<AppState>,
    ApiPath(path): ApiPath<TenantModule>,
) -> Result<Json<Deployment>, ApiError> {
    app.registry.tenant(&path.tenant)?;
    let deployment = app.registry.deployment(&path.tenant, &path.module)?;
    Ok(Json(with_canary(&app, deployment)?))
}

/// the health of a tenant's module: its versions' recent calls and the latest watch
///
/// Each version with calls in the last `watch_window_secs` (at least 5
/// minutes): requests, errors, error rate, shed calls, p50 and p99 latency.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/deployments/{module}/health", operation_id = "DeploymentHealth", tag = "deployments",
    params(("tenant" = String, Path, description = "the tenant id"), ("module" = String, Path, description = "the module id")),
    responses((status = 200, description = "the versions' health and the latest watch", body = DeploymentHealth)))]
async fn deployment_health(
    State(app): State<AppState>,
    ApiPath(path): ApiPath<TenantModule>,
) -> Result<Json<DeploymentHealth>, ApiError> {
    app.registry.tenant(&path.tenant)?;
    let span = std::time::Duration::from_secs(app.config.watch_window_secs.max(300));
    let versions = app
        .loader
        .health(&path.tenant, &path.module, span)
        .into_iter()
        .map(|(version, stats)| convert::version_health(&version, &stats))
        .collect();
    Ok(Json(DeploymentHealth {
        span_secs: span.as_secs(),
        versions,
        watch: app
            .loader
            .watch(&path.tenant, &path.module)
            .map(|watch| convert::watch(&watch)),
    }))
}

/// make a version active
///
/// Prepares and self-tests the version, runs the manifest's smoke tests on a
/// scratch store, migrates the tenant's data under a snapshot, then moves the
/// pointer. Nothing changes on a refusal. A move from another version is then
/// watched (`watch_secs`, or the server's `watch_window_secs`): a breach of the
/// watch policy rolls it back automatically, or is held for a person when the
/// promote migrated data.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/deployments/{module}/promote", operation_id = "Promote", tag = "deployments",
    params(("tenant" = String, Path, description = "the tenant id"), ("module" = String, Path, description = "the module id")),
    request_body = PromoteRequest,
    responses((status = 200, description = "what changed", body = DeploymentChange)))]
async fn promote(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<TenantModule>,
    JsonBody(body): JsonBody<PromoteRequest>,
) -> Result<Json<DeploymentChange>, ApiError> {
    let version = parse_version(&body.version)?;
    let watch = body.watch_secs.map(std::time::Duration::from_secs);
    let change = app
        .loader
        .promote_watched(&path.tenant, &path.module, &version, &caller.actor(), watch)
        .await?;
    Ok(Json(convert::deployment_change(change)))
}

/// go back to the previous or a given version
#[utoipa::path(post, path = "/v1/tenants/{tenant}/deployments/{module}/rollback", operation_id = "Rollback", tag = "deployments",
    params(("tenant" = String, Path, description = "the tenant id"), ("module" = String, Path, description = "the module id")),
    request_body(content = RollbackRequest, description = "`{}` or an empty body for the previous version"),
    responses((status = 200, description = "what changed", body = DeploymentChange)))]
async fn rollback(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<TenantModule>,
    JsonOrEmpty(body): JsonOrEmpty<RollbackRequest>,
) -> Result<Json<DeploymentChange>, ApiError> {
    let target = match body.to {
        Some(version) => RollbackTarget::To(parse_version(&version)?),
        None => RollbackTarget::Previous,
    };
    let change = app
        .loader
        .rollback(&path.tenant, &path.module, &target, &caller.actor())
        .await?;
    Ok(Json(convert::deployment_change(change)))
}

/// turn a module off for the tenant
#[utoipa::path(post, path = "/v1/tenants/{tenant}/deployments/{module}/disable", operation_id = "Disable", tag = "deployments",
    params(("tenant" = String, Path, description = "the tenant id"), ("module" = String, Path, description = "the module id")),
    responses((status = 200, description = "what changed", body = DeploymentChange)))]
async fn disable(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<TenantModule>,
) -> Result<Json<DeploymentChange>, ApiError> {
    let change = app
        .loader
        .disable(&path.tenant, &path.module, &caller.actor())
        .await?;
    Ok(Json(convert::deployment_change(change)))
}

/// start a canary: a candidate serving a sticky share of the tenant's requests
///
/// Prepares and smoke-tests the candidate like a promote, then runs its
/// migration on the tenant's data without keeping any write: a candidate whose
/// migration would change the data is refused (`409 canary-needs-migration`).
/// Each caller (its `x-modhost-affinity` header, or its token) stays on one
/// version; a request may pin one with `x-modhost-pin: <version>`. Promoting
/// the candidate (or any move) ends the canary.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/deployments/{module}/canary", operation_id = "StartCanary", tag = "deployments",
    params(("tenant" = String, Path, description = "the tenant id"), ("module" = String, Path, description = "the module id")),
    request_body = CanaryRequest,
    responses((status = 200, description = "the canary now routed", body = Canary)))]
async fn start_canary(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<TenantModule>,
    JsonBody(body): JsonBody<CanaryRequest>,
) -> Result<Json<Canary>, ApiError> {
    let version = parse_version(&body.version)?;
    let canary = app
        .loader
        .start_canary(
            &path.tenant,
            &path.module,
            &version,
            body.percent,
            &caller.actor(),
        )
        .await?;
    Ok(Json(convert::canary(&canary)))
}

/// end a canary: every request goes to the active version again
#[utoipa::path(post, path = "/v1/tenants/{tenant}/deployments/{module}/canary/abort", operation_id = "AbortCanary", tag = "deployments",
    params(("tenant" = String, Path, description = "the tenant id"), ("module" = String, Path, description = "the module id")),
    responses((status = 200, description = "the canary that ended, or null", body = CanaryAbort)))]
async fn abort_canary(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<TenantModule>,
) -> Result<Json<CanaryAbort>, ApiError> {
    let aborted = app
        .loader
        .abort_canary(&path.tenant, &path.module, &caller.actor())
        .await?;
    Ok(Json(CanaryAbort {
        aborted: aborted.as_ref().map(convert::canary),
    }))
}
