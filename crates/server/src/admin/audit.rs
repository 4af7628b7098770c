//! The audit log, filtered by tenant, actor, action prefix and paging.

use axum::Json;
use axum::extract::State;
use modhost_api::{AuditList, AuditQuery};
use utoipa_axum::routes;

use crate::access::{Access, Caller};
use crate::admin::convert;
use crate::admin::scope::{operator_or_tenant_admin, scoped_tenant};
use crate::admin::table::{AppState, Routes};
use crate::error::ApiError;
use crate::extract::ApiQuery;

/// The audit route and who may call it.
pub(crate) fn routes(routes: Routes) -> Routes {
    routes.add(Access::Console, routes!(audit))
}

/// query the audit log
///
/// Operators read every entry; a tenant admin reads its tenant's. One
/// answer holds at most `limit` entries (default and cap 1,000) found among
/// at most 50,000 records; `next_after` is set when more may follow.
#[utoipa::path(get, path = "/v1/audit", operation_id = "Audit", tag = "audit",
    params(AuditQuery),
    responses((status = 200, description = "matching entries, oldest first", body = AuditList)))]
async fn audit(
    State(app): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> Result<Json<AuditList>, ApiError> {
    operator_or_tenant_admin(&caller.0, "read the audit log")?;
    let query = modhost_registry::AuditQuery {
        tenant: scoped_tenant(&caller.0, query.tenant)?,
        actor: query.actor,
        action: query.action,
        after: query.after.and_then(|after| after.parse().ok()),
        limit: query.limit.and_then(|limit| limit.parse().ok()),
    };
    let registry = app.registry.clone();
    let page = tokio::task::spawn_blocking(move || registry.audit_page(&query))
        .await
        .map_err(|error| ApiError::internal(format!("the audit task failed: {error}")))??;
    Ok(Json(AuditList {
        entries: page.entries.into_iter().map(convert::audit_entry).collect(),
        next_after: page.next_after,
    }))
}
