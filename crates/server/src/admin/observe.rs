//! Liveness, readiness, the OpenAPI document, Prometheus metrics and the serving status.

use axum::Json;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use modhost_api::{DataUsage, Health, RouteStatus, Status};
use utoipa_axum::routes;

use crate::access::Access;
use crate::admin::table::{AppState, Routes};

/// The observation routes and who may call each.
pub(crate) fn routes(routes: Routes) -> Routes {
    routes
        .add(Access::Public, routes!(healthz))
        .add(Access::Public, routes!(readyz))
        .add(Access::Public, routes!(openapi))
        .add(Access::Operator, routes!(metrics))
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

/// readiness: registry and runtime are up
#[utoipa::path(get, path = "/readyz", operation_id = "Readyz", tag = "observe",
    responses((status = 200, description = "`{\"status\": \"ready\"}`", body = Health)))]
async fn readyz() -> Json<Health> {
    Json(Health {
        status: "ready".to_owned(),
    })
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
