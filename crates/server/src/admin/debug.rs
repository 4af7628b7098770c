//! Debug tools: a version's smoke tests on demand and a promote's dry run, both changing nothing but the audit log.

use axum::Json;
use axum::extract::State;
use modhost_api::{
    PromoteCheck, PromoteDryRun, PromoteDryRunRequest, SmokeReport, SmokeRequest, SmokeTestResult,
};
use utoipa_axum::routes;

use crate::access::{Access, Caller};
use crate::admin::table::{AppState, Routes};
use crate::error::ApiError;
use crate::extract::{ApiPath, JsonBody, TenantModule, parse_version};

/// The debug routes and who may call each.
pub(crate) fn routes(routes: Routes) -> Routes {
    routes
        .add(Access::TenantAdmin, routes!(smoke))
        .add(Access::TenantAdmin, routes!(promote_dry_run))
}

/// run a version's smoke tests for the tenant, changing nothing
///
/// Runs the version's `[[tests]]` exactly as a promote does: the version made
/// ready (compiled, self-tested), the tests in order on an empty scratch store
/// with the tenant's config resolved for that version, stopping at the first
/// that fails. No deployment, data or config changes. A failing test still
/// answers `200` with `passed: false`; a version that cannot be made ready is
/// `422 not-ready`. A tenant runs at most half of `max_concurrent_checks`
/// smoke tests and dry runs at once; past it (or past the server's total),
/// `429 busy`. Audited as `deployment.smoke`.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/deployments/{module}/smoke", operation_id = "SmokeTest", tag = "deployments",
    params(("tenant" = String, Path, description = "the tenant id"), ("module" = String, Path, description = "the module id")),
    request_body = SmokeRequest,
    responses((status = 200, description = "each test that ran and how it went", body = SmokeReport)))]
async fn smoke(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<TenantModule>,
    JsonBody(body): JsonBody<SmokeRequest>,
) -> Result<Json<SmokeReport>, ApiError> {
    let version = parse_version(&body.version)?;
    let _running = app.checks.try_acquire(&path.tenant)?;
    let report = app
        .loader
        .smoke_test(&path.tenant, &path.module, &version, &caller.actor())
        .await?;
    Ok(Json(SmokeReport {
        module: path.module,
        version: version.to_string(),
        passed: report.passed(),
        tests: report
            .tests
            .into_iter()
            .map(|test| SmokeTestResult {
                name: test.name,
                ok: test.failure.is_none(),
                message: test.failure,
                took_ms: u64::try_from(test.took.as_millis()).unwrap_or(u64::MAX),
            })
            .collect(),
    }))
}

/// check a promote without making it
///
/// Runs every check a promote makes before it switches, in its order and with
/// its code: `dependencies` (each dependency active at a matching version),
/// `dependents` (no active module of the tenant loses a version it needs),
/// `config` (the tenant's config against the version's schema), `ready`
/// (compile, self-test), `smoke` (the smoke tests on a scratch store) and
/// `migration` (its `migrate` run on the tenant's data through a store that
/// keeps no write: whether the data would change). Nothing changes: no
/// deployment history, data, snapshot, config or watch. A failing check still
/// answers `200`, with `ok: false` and, as its message, exactly the error the
/// promote would answer; the checks after it are not run. Bounded with the
/// smoke tests (`429 busy`). Audited as `deployment.promote-dry-run`.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/deployments/{module}/promote/dry-run", operation_id = "PromoteDryRun", tag = "deployments",
    params(("tenant" = String, Path, description = "the tenant id"), ("module" = String, Path, description = "the module id")),
    request_body = PromoteDryRunRequest,
    responses((status = 200, description = "what a promote would do now", body = PromoteDryRun)))]
async fn promote_dry_run(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<TenantModule>,
    JsonBody(body): JsonBody<PromoteDryRunRequest>,
) -> Result<Json<PromoteDryRun>, ApiError> {
    let version = parse_version(&body.version)?;
    let _running = app.checks.try_acquire(&path.tenant)?;
    let run = app
        .loader
        .promote_dry_run(&path.tenant, &path.module, &version, &caller.actor())
        .await?;
    Ok(Json(PromoteDryRun {
        module: path.module,
        from: run.from.as_ref().map(ToString::to_string),
        to: run.to.to_string(),
        would_change: run.would_change,
        ok: run.ok(),
        checks: run
            .checks
            .into_iter()
            .map(|check| PromoteCheck {
                name: check.name.to_owned(),
                ok: check.ok,
                message: check.message,
            })
            .collect(),
    }))
}
