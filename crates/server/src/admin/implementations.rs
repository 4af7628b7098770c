//! Implementation projects: operators set and remove a tenant's onboarding milestones; the tenant's admins and viewers read them, with what is overdue today.

use axum::Json;
use axum::extract::State;
use modhost_api::{
    Implementation, ImplementationList, ImplementationRequest, ImplementationSummary, Milestone,
};
use modhost_registry::{self as registry, Date, NewImplementation, NewMilestone};
use utoipa_axum::routes;

use crate::access::{Access, Caller};
use crate::admin::table::{AppState, Routes};
use crate::error::ApiError;
use crate::extract::{ApiPath, JsonBody};

/// The implementation routes and who may call each.
pub(crate) fn routes(routes: Routes) -> Routes {
    routes
        .add(Access::TenantRead, routes!(get_implementation))
        .add(Access::Operator, routes!(put_implementation))
        .add(Access::Operator, routes!(delete_implementation))
        .add(Access::Operator, routes!(list_implementations))
}

/// The API form of a project as of `today`: each milestone's `overdue` and the summary.
pub(crate) fn implementation(project: registry::Implementation, today: Date) -> Implementation {
    let summary = project.summary(today);
    Implementation {
        milestones: project
            .milestones
            .into_iter()
            .map(|milestone| Milestone {
                overdue: milestone.is_overdue(today),
                id: milestone.id,
                title: milestone.title,
                due_date: milestone.due_date.to_string(),
                status: milestone.status.name().to_owned(),
                assignee: milestone.assignee,
                notes: milestone.notes,
                completed_at_ms: milestone.completed_at_ms,
            })
            .collect(),
        tenant: project.tenant,
        name: project.name,
        updated_by: project.updated_by,
        updated_at_ms: project.updated_at_ms,
        summary: ImplementationSummary {
            total: summary.total,
            done: summary.done,
            overdue: summary.overdue,
            state: summary.state.name().to_owned(),
        },
    }
}

/// a tenant's implementation project, with what is overdue today
#[utoipa::path(get, path = "/v1/tenants/{tenant}/implementation", operation_id = "GetImplementation", tag = "implementations",
    params(("tenant" = String, Path, description = "the tenant id")),
    responses((status = 200, description = "the project, each milestone's `overdue` and the summary", body = Implementation)))]
async fn get_implementation(
    State(app): State<AppState>,
    ApiPath(tenant): ApiPath<String>,
) -> Result<Json<Implementation>, ApiError> {
    app.registry.tenant(&tenant)?;
    let project = app
        .registry
        .implementation(&tenant)?
        .ok_or_else(|| registry::no_project(&tenant))?;
    Ok(Json(implementation(project, Date::today())))
}

/// set (replace) a tenant's implementation project
///
/// The whole project is replaced. Every field is checked first; the first
/// problem is answered as `400 invalid-input` naming it (e.g.
/// `milestones[2].due_date`) and nothing is stored.
#[utoipa::path(put, path = "/v1/tenants/{tenant}/implementation", operation_id = "PutImplementation", tag = "implementations",
    params(("tenant" = String, Path, description = "the tenant id")),
    request_body = ImplementationRequest,
    responses((status = 200, description = "the stored project", body = Implementation)))]
async fn put_implementation(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(tenant): ApiPath<String>,
    JsonBody(body): JsonBody<ImplementationRequest>,
) -> Result<Json<Implementation>, ApiError> {
    let new = NewImplementation {
        name: body.name,
        milestones: body
            .milestones
            .into_iter()
            .map(|milestone| NewMilestone {
                id: milestone.id,
                title: milestone.title,
                due_date: milestone.due_date,
                status: milestone.status,
                assignee: milestone.assignee,
                notes: milestone.notes,
                completed_at_ms: milestone.completed_at_ms,
            })
            .collect(),
    };
    let project = app.registry.put_implementation(&tenant, new, &caller.actor())?;
    Ok(Json(implementation(project, Date::today())))
}

/// remove a tenant's implementation project
#[utoipa::path(delete, path = "/v1/tenants/{tenant}/implementation", operation_id = "DeleteImplementation", tag = "implementations",
    params(("tenant" = String, Path, description = "the tenant id")),
    responses((status = 200, description = "the removed project", body = Implementation)))]
async fn delete_implementation(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(tenant): ApiPath<String>,
) -> Result<Json<Implementation>, ApiError> {
    let project = app.registry.remove_implementation(&tenant, &caller.actor())?;
    Ok(Json(implementation(project, Date::today())))
}

/// every tenant's implementation project
#[utoipa::path(get, path = "/v1/implementations", operation_id = "ListImplementations", tag = "implementations",
    responses((status = 200, description = "every project, by tenant id", body = ImplementationList)))]
async fn list_implementations(State(app): State<AppState>) -> Result<Json<ImplementationList>, ApiError> {
    let today = Date::today();
    let implementations = app
        .registry
        .implementations()?
        .into_iter()
        .map(|project| implementation(project, today))
        .collect();
    Ok(Json(ImplementationList { implementations }))
}
