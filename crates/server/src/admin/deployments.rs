//! Deployments: a tenant's active versions and their history; promote, roll back, disable.

use axum::Json;
use axum::extract::State;
use modhost_api::{Deployment, DeploymentChange, DeploymentList, PromoteRequest, RollbackRequest};
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
        .add(Access::TenantAdmin, routes!(promote))
        .add(Access::TenantAdmin, routes!(rollback))
        .add(Access::TenantAdmin, routes!(disable))
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
        .map(convert::deployment)
        .collect();
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
    Ok(Json(convert::deployment(deployment)))
}

/// make a version active
///
/// Prepares and self-tests the version, runs the manifest's smoke tests on a
/// scratch store, migrates the tenant's data under a snapshot, then moves the
/// pointer. Nothing changes on a refusal.
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
    let change = app
        .loader
        .promote(&path.tenant, &path.module, &version, &caller.actor())
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
