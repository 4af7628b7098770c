//! Liveness, readiness, the OpenAPI document, Prometheus metrics (the host's and one tenant's) and the serving status.
//!
//! `/readyz` is polled by load balancers, so it stays cheap: one small
//! storage read and the loader's in-memory table. Without a token it gives
//! counts only (no tenant ids); a tenant-scoped token also sees its own
//! tenant's routes that are not ready; an operator sees every tenant's, with
//! the load failures and the storage error.

use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use modhost_api::{DataUsage, Health, Readiness, RouteStatus, Status, UnreadyRoute, UnreadyState};
use utoipa_axum::routes;

use crate::access::{Access, Principal};
use crate::admin::table::{AppState, Routes};
use crate::error::ApiError;
use crate::extract::ApiPath;

/// The most routes `/readyz` lists (`not_ready_count` counts them all).
const MAX_UNREADY_LISTED: usize = 100;

/// The tenant `/readyz` reads to see that storage answers: reserved for the
/// host (tenant ids may not start with `modhost-`), so it never exists.
const STORAGE_PROBE_TENANT: &str = "modhost-readiness-probe";

/// The observation routes and who may call each.
pub(crate) fn routes(routes: Routes) -> Routes {
    routes
        .add(Access::Public, routes!(healthz))
        .add(Access::Public, routes!(readyz))
        .add(Access::Public, routes!(openapi))
        .add(Access::Operator, routes!(metrics))
        .add(Access::TenantRead, routes!(tenant_metrics))
        .add(Access::Operator, routes!(status))
}

/// liveness: the process answers
#[utoipa::path(get, path = "/healthz", operation_id = "Healthz", tag = "observe",
    responses((status = 200, description = "`{\"status\": \"ok\"}`", body = Health)))]
async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".to_owned(),
    })
}

/// readiness: storage answers, the warm-up has finished and every active route serves
///
/// Ready when storage answers, the start-up warm-up has finished its pass and
/// every active route of a tenant that is not suspended serves its active
/// version or an earlier one it fell back to. A route that fails to load
/// later (after a promote, a config change) makes the host not ready until
/// it is fixed or falls back. Without a token: counts only; a tenant-scoped
/// token sees its own tenant's routes; an operator every tenant's, with reasons.
#[utoipa::path(get, path = "/readyz", operation_id = "Readyz", tag = "observe",
    responses(
        (status = 200, description = "ready: `{\"ready\": true, …}`", body = Readiness),
        (status = 503, description = "not ready, with what is not", body = Readiness)))]
async fn readyz(State(app): State<AppState>, principal: Option<Extension<Principal>>) -> Response {
    let principal = principal.map(|Extension(principal)| principal);
    let operator = principal.as_ref().is_some_and(Principal::is_operator);
    let storage = match app.registry.tenant(STORAGE_PROBE_TENANT) {
        Ok(_) | Err(modhost_registry::RegistryError::TenantNotFound(_)) => None,
        Err(error) => {
            tracing::error!(%error, "readiness: storage did not answer");
            Some(if operator {
                error.to_string()
            } else {
                "unavailable".to_owned()
            })
        }
    };
    let warming_up = !app.warm_up.finished();
    let unready = app.loader.unready_routes(&app.warm_up);
    let ready = storage.is_none() && !warming_up && unready.is_empty();
    let own = principal.as_ref().and_then(Principal::tenant);
    let not_ready = unready
        .iter()
        .filter(|route| operator || own == Some(route.tenant.as_str()))
        .take(MAX_UNREADY_LISTED)
        .map(|route| UnreadyRoute {
            tenant: route.tenant.clone(),
            module: route.module.clone(),
            version: route.active.to_string(),
            state: match route.state {
                modhost_deploy::UnreadyState::Loading => UnreadyState::Loading,
                modhost_deploy::UnreadyState::Failed => UnreadyState::Failed,
                modhost_deploy::UnreadyState::NotLoaded => UnreadyState::NotLoaded,
            },
            reason: route.reason.clone().filter(|_| operator),
        })
        .collect();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = Readiness {
        ready,
        storage: storage.unwrap_or_else(|| "ok".to_owned()),
        warming_up,
        not_ready_count: unready.len() as u64,
        not_ready,
    };
    (status, Json(body)).into_response()
}

/// this document
#[utoipa::path(get, path = "/v1/openapi.json", operation_id = "OpenApi", tag = "observe",
    responses((status = 200, description = "the OpenAPI 3.1 document of the admin API", body = Object)))]
async fn openapi(State(app): State<AppState>) -> Response {
    ([(CONTENT_TYPE, "application/json")], app.openapi.clone()).into_response()
}

/// Prometheus metrics
#[utoipa::path(get, path = "/metrics", operation_id = "Metrics", tag = "observe",
    responses((status = 200, description = "the host's and the modules' metrics", body = String,
        content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8")))]
async fn metrics(State(app): State<AppState>) -> Response {
    (
        [(CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
        crate::metrics::render(&app),
    )
        .into_response()
}

/// one tenant's Prometheus metrics
///
/// The series of `/metrics` that carry this tenant's `tenant` label (calls,
/// latency, fuel, CPU, stored data, backups, module-defined metrics), and
/// nothing host-wide.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/metrics", operation_id = "TenantMetrics", tag = "observe",
    params(("tenant" = String, Path, description = "the tenant id")),
    responses((status = 200, description = "the tenant's metrics", body = String,
        content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8")))]
async fn tenant_metrics(
    State(app): State<AppState>,
    ApiPath(tenant): ApiPath<String>,
) -> Result<Response, ApiError> {
    app.registry.tenant(&tenant)?;
    Ok((
        [(CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
        crate::metrics::render_tenant(&app, &tenant),
    )
        .into_response())
}

/// routes, swaps and fallbacks, open alerts and the notification outbox
#[utoipa::path(get, path = "/v1/status", operation_id = "Status", tag = "observe",
    responses((status = 200, description = "every route and what serves it", body = Status)))]
async fn status(State(app): State<AppState>) -> Json<Status> {
    let routes = app
        .loader
        .status()
        .into_iter()
        .map(|route| {
            let usage = app.registry.kv_usage(&route.tenant, &route.module).unwrap_or_else(|error| {
                tracing::error!(tenant = %route.tenant, module = %route.module, %error, "could not read a data scope's usage");
                modhost_registry::DataUsage::default()
            });
            let suspended = app
                .loader
                .tenant(&route.tenant)
                .is_some_and(|routes| routes.tenant.suspended.is_some());
            let problem = if suspended {
                Some(format!(
                    "tenant `{}` is suspended: its requests are refused with 423",
                    route.tenant
                ))
            } else {
                route.problem
            };
            RouteStatus {
                data: DataUsage {
                    keys: usage.keys,
                    bytes: usage.bytes,
                    max_keys: route.kv_quota.map(|quota| quota.max_keys),
                    max_bytes: route.kv_quota.map(|quota| quota.max_bytes),
                },
                tenant: route.tenant,
                module: route.module,
                active: route.active.to_string(),
                serving: route.serving.map(|version| version.to_string()),
                resident: route.resident,
                problem,
            }
        })
        .collect();
    let cache = app.runtime().cache_stats();
    let open = app.registry.open_alerts().unwrap_or_else(|error| {
        tracing::error!(%error, "could not read the open alerts");
        Vec::new()
    });
    let in_state = |state| open.iter().filter(|alert| alert.state == state).count() as u64;
    let stats = &app.alerting.stats;
    Json(Status {
        alerts_firing: in_state(modhost_registry::AlertState::Firing),
        alerts_acknowledged: in_state(modhost_registry::AlertState::Acknowledged),
        notifications_pending: stats.pending.load(std::sync::atomic::Ordering::Relaxed),
        notifications_failed: stats.failed.load(std::sync::atomic::Ordering::Relaxed),
        routes,
        swaps: app.loader.swap_count(),
        fallbacks: app.loader.fallback_count(),
        compiled: cache.compiled,
        compile_cache_loads: cache.loaded,
        backups: crate::admin::backup_schedules::status(&app.registry),
    })
}
