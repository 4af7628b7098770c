//! Tenants: create, list, read, change; the front-end context (module logs are `logs.rs`).

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use modhost_api::{
    ContextEndpoint, ContextModule, ContextTenant, NewTenant, Tenant, TenantContext, TenantList, TenantUpdate,
};
use utoipa_axum::routes;

use crate::access::{Access, Caller};
use crate::admin::convert;
use crate::admin::table::{AppState, Routes};
use crate::error::ApiError;
use crate::extract::{ApiPath, JsonBody};

/// The tenant routes and who may call each.
pub(crate) fn routes(routes: Routes) -> Routes {
    routes
        .add(Access::Operator, routes!(create_tenant))
        .add(Access::Console, routes!(list_tenants))
        .add(Access::TenantRead, routes!(get_tenant))
        .add(Access::Operator, routes!(update_tenant))
        .add(Access::Context, routes!(tenant_context))
}

/// create a tenant
#[utoipa::path(post, path = "/v1/tenants", operation_id = "CreateTenant", tag = "tenants",
    request_body = NewTenant,
    responses((status = 201, description = "the new tenant", body = Tenant)))]
async fn create_tenant(
    State(app): State<AppState>,
    caller: Caller,
    JsonBody(new): JsonBody<NewTenant>,
) -> Result<(StatusCode, Json<Tenant>), ApiError> {
    let tenant = app
        .registry
        .create_tenant(convert::new_tenant(new), &caller.actor())?;
    Ok((StatusCode::CREATED, Json(convert::tenant(tenant))))
}

/// list the tenants the caller may see
#[utoipa::path(get, path = "/v1/tenants", operation_id = "ListTenants", tag = "tenants",
    responses((status = 200, description = "operators see all, others their own", body = TenantList)))]
async fn list_tenants(State(app): State<AppState>, caller: Caller) -> Result<Json<TenantList>, ApiError> {
    let tenants = app
        .registry
        .tenants()?
        .into_iter()
        .filter(|tenant| caller.0.tenant().is_none_or(|own| own == tenant.id))
        .map(convert::tenant)
        .collect();
    Ok(Json(TenantList { tenants }))
}

/// one tenant
#[utoipa::path(get, path = "/v1/tenants/{tenant}", operation_id = "GetTenant", tag = "tenants",
    params(("tenant" = String, Path, description = "the tenant id")),
    responses((status = 200, description = "the tenant", body = Tenant)))]
async fn get_tenant(
    State(app): State<AppState>,
    ApiPath(tenant): ApiPath<String>,
) -> Result<Json<Tenant>, ApiError> {
    Ok(Json(convert::tenant(app.registry.tenant(&tenant)?)))
}

/// change a tenant's name, organisation or features
#[utoipa::path(patch, path = "/v1/tenants/{tenant}", operation_id = "UpdateTenant", tag = "tenants",
    params(("tenant" = String, Path, description = "the tenant id")),
    request_body = TenantUpdate,
    responses((status = 200, description = "the changed tenant", body = Tenant)))]
async fn update_tenant(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(tenant): ApiPath<String>,
    JsonBody(update): JsonBody<TenantUpdate>,
) -> Result<Json<Tenant>, ApiError> {
    let tenant = app
        .registry
        .update_tenant(&tenant, convert::tenant_update(update), &caller.actor())?;
    Ok(Json(convert::tenant(tenant)))
}

/// the tenant's kind, features and enabled modules, for front ends
#[utoipa::path(get, path = "/v1/tenants/{tenant}/context", operation_id = "TenantContext", tag = "tenants",
    params(("tenant" = String, Path, description = "the tenant id")),
    responses((status = 200, description = "the context, with what the caller may call", body = TenantContext)))]
async fn tenant_context(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(tenant): ApiPath<String>,
) -> Result<Json<TenantContext>, ApiError> {
    let tenant = app.registry.tenant(&tenant)?;
    let mut modules = Vec::new();
    let mut granted = BTreeSet::new();
    for deployment in app.registry.deployments_of(&tenant.id)? {
        let Some(active) = deployment.active else { continue };
        let manifest = app
            .registry
            .version(&deployment.module, &active, None)?
            .manifest()?;
        let endpoints = manifest
            .endpoints
            .iter()
            .map(|endpoint| {
                let allowed = caller.0.token.grants_permission(&endpoint.permission);
                if allowed {
                    granted.insert(endpoint.permission.clone());
                }
                ContextEndpoint {
                    method: endpoint.method.name().to_owned(),
                    path: endpoint.path.as_str().to_owned(),
                    permission: endpoint.permission.clone(),
                    allowed,
                }
            })
            .collect();
        modules.push(ContextModule {
            id: deployment.module,
            title: manifest.module.title,
            icon: manifest.module.icon,
            version: active.to_string(),
            endpoints,
        });
    }
    Ok(Json(TenantContext {
        tenant: ContextTenant {
            id: tenant.id,
            name: tenant.name,
            kind: convert::tenant_kind(tenant.kind),
            organisation: convert::organisation(tenant.organisation),
        },
        features: tenant.features,
        modules,
        permissions: granted,
    }))
}
