//! A tenant's configuration of a module: read with history, set, roll back.

use axum::Json;
use axum::extract::State;
use modhost_api::{ConfigRollbackRequest, ConfigVersion, ConfigView, SetConfigRequest};
use utoipa_axum::routes;

use crate::access::{Access, Caller};
use crate::admin::convert;
use crate::admin::table::{AppState, Routes};
use crate::error::ApiError;
use crate::extract::{ApiPath, JsonBody, TenantModule};

/// The config routes and who may call each.
pub(crate) fn routes(routes: Routes) -> Routes {
    routes
        .add(Access::TenantRead, routes!(get_config))
        .add(Access::TenantAdmin, routes!(set_config))
        .add(Access::TenantAdmin, routes!(rollback_config))
}

/// the tenant's config of a module with its history
#[utoipa::path(get, path = "/v1/tenants/{tenant}/config/{module}", operation_id = "GetConfig", tag = "config",
    params(("tenant" = String, Path, description = "the tenant id"), ("module" = String, Path, description = "the module id")),
    responses((status = 200, description = "current values, resolved values and history", body = ConfigView)))]
async fn get_config(
    State(app): State<AppState>,
    ApiPath(path): ApiPath<TenantModule>,
) -> Result<Json<ConfigView>, ApiError> {
    let history = app.registry.config(&path.tenant, &path.module)?;
    let resolved = app
        .registry
        .resolved_config(&path.tenant, &path.module)
        .ok()
        .and_then(|resolved| serde_json::to_value(resolved).ok());
    Ok(Json(ConfigView {
        version: history.versions.last().map_or(0, |version| version.version),
        values: history.current_values(),
        resolved,
        history: history
            .versions
            .into_iter()
            .map(convert::config_version)
            .collect(),
    }))
}

/// set the tenant's config of a module
#[utoipa::path(put, path = "/v1/tenants/{tenant}/config/{module}", operation_id = "SetConfig", tag = "config",
    params(("tenant" = String, Path, description = "the tenant id"), ("module" = String, Path, description = "the module id")),
    request_body = SetConfigRequest,
    responses((status = 200, description = "the new config version", body = ConfigVersion)))]
async fn set_config(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<TenantModule>,
    JsonBody(body): JsonBody<SetConfigRequest>,
) -> Result<Json<ConfigVersion>, ApiError> {
    let version = app
        .registry
        .set_config(&path.tenant, &path.module, body.values, &caller.actor())?;
    Ok(Json(convert::config_version(version)))
}

/// make an earlier config version current
#[utoipa::path(post, path = "/v1/tenants/{tenant}/config/{module}/rollback", operation_id = "RollbackConfig", tag = "config",
    params(("tenant" = String, Path, description = "the tenant id"), ("module" = String, Path, description = "the module id")),
    request_body = ConfigRollbackRequest,
    responses((status = 200, description = "the new config version", body = ConfigVersion)))]
async fn rollback_config(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<TenantModule>,
    JsonBody(body): JsonBody<ConfigRollbackRequest>,
) -> Result<Json<ConfigVersion>, ApiError> {
    let version = app
        .registry
        .rollback_config(&path.tenant, &path.module, body.to, &caller.actor())?;
    Ok(Json(convert::config_version(version)))
}
