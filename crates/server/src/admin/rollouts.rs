//! Rings and rollouts: label tenants with rings, and roll a module version out ring by ring (operators).

use axum::Json;
use axum::extract::State;
use modhost_api::{NewRollout, RingList, RingRequest, Rollout, RolloutList, TenantRing};
use modhost_registry::RolloutState;
use utoipa_axum::routes;

use crate::access::{Access, Caller};
use crate::admin::convert;
use crate::admin::table::{AppState, Routes};
use crate::error::ApiError;
use crate::extract::{ApiPath, JsonBody, parse_version};

/// The ring and rollout routes and who may call each.
pub(crate) fn routes(routes: Routes) -> Routes {
    routes
        .add(Access::Operator, routes!(set_ring))
        .add(Access::Operator, routes!(list_rings))
        .add(Access::Operator, routes!(start_rollout))
        .add(Access::Operator, routes!(list_rollouts))
        .add(Access::Operator, routes!(get_rollout))
        .add(Access::Operator, routes!(pause_rollout))
        .add(Access::Operator, routes!(resume_rollout))
        .add(Access::Operator, routes!(abort_rollout))
}

/// put a tenant in a ring (or in none)
#[utoipa::path(put, path = "/v1/tenants/{tenant}/ring", operation_id = "SetRing", tag = "rollouts",
    params(("tenant" = String, Path, description = "the tenant id")),
    request_body = RingRequest,
    responses((status = 200, description = "the tenant's ring now", body = TenantRing)))]
async fn set_ring(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(tenant): ApiPath<String>,
    JsonBody(body): JsonBody<RingRequest>,
) -> Result<Json<TenantRing>, ApiError> {
    app.registry
        .set_ring(&tenant, body.ring.as_deref(), &caller.actor())?;
    Ok(Json(TenantRing {
        ring: app.registry.ring_of(&tenant)?,
        tenant,
    }))
}

/// every tenant's ring
#[utoipa::path(get, path = "/v1/rings", operation_id = "ListRings", tag = "rollouts",
    responses((status = 200, description = "every tenant in a ring, by tenant id", body = RingList)))]
async fn list_rings(State(app): State<AppState>) -> Result<Json<RingList>, ApiError> {
    let tenants = app
        .registry
        .rings()?
        .into_iter()
        .map(|(tenant, ring)| TenantRing {
            tenant,
            ring: Some(ring),
        })
        .collect();
    Ok(Json(RingList { tenants }))
}

/// start a rollout: a module version promoted ring by ring
///
/// In each ring, every tenant with the module enabled gets an ordinary
/// promote (smoke tests, migration, watch window), one after the other; the
/// next ring starts when the ring has stayed healthy for `soak_secs` and no
/// watch is still running. A tenant whose watch fails (it is rolled back, or
/// held) or whose promote is refused halts the rollout. Progress is durable:
/// after a restart the rollout resumes where it was.
#[utoipa::path(post, path = "/v1/rollouts", operation_id = "StartRollout", tag = "rollouts",
    request_body = NewRollout,
    responses((status = 201, description = "the rollout, running", body = Rollout)))]
async fn start_rollout(
    State(app): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<NewRollout>,
) -> Result<(axum::http::StatusCode, Json<Rollout>), ApiError> {
    let new = modhost_registry::NewRollout {
        version: parse_version(&body.version)?,
        module: body.module,
        rings: body.rings,
        soak_ms: body.soak_secs.saturating_mul(1000),
        watch_ms: body.watch_secs.map(|secs| secs.saturating_mul(1000)),
    };
    let rollout = app.registry.create_rollout(new, &caller.actor())?;
    Ok((axum::http::StatusCode::CREATED, Json(convert::rollout(&rollout))))
}

/// every rollout
#[utoipa::path(get, path = "/v1/rollouts", operation_id = "ListRollouts", tag = "rollouts",
    responses((status = 200, description = "every rollout, oldest first", body = RolloutList)))]
async fn list_rollouts(State(app): State<AppState>) -> Result<Json<RolloutList>, ApiError> {
    let rollouts = app.registry.rollouts()?.iter().map(convert::rollout).collect();
    Ok(Json(RolloutList { rollouts }))
}

fn find(app: &AppState, id: u64) -> Result<modhost_registry::Rollout, ApiError> {
    app.registry
        .rollouts()?
        .into_iter()
        .find(|rollout| rollout.id == id)
        .ok_or_else(|| ApiError::not_found(format!("there is no rollout {id}")))
}

/// one rollout
#[utoipa::path(get, path = "/v1/rollouts/{id}", operation_id = "GetRollout", tag = "rollouts",
    params(("id" = u64, Path, description = "the rollout id")),
    responses((status = 200, description = "the rollout", body = Rollout)))]
async fn get_rollout(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<u64>,
) -> Result<Json<Rollout>, ApiError> {
    Ok(Json(convert::rollout(&find(&app, id)?)))
}

async fn steer(
    app: &AppState,
    caller: &Caller,
    id: u64,
    to: RolloutState,
) -> Result<Json<Rollout>, ApiError> {
    find(app, id)?;
    let rollout = app.registry.steer_rollout(id, to, &caller.actor())?;
    Ok(Json(convert::rollout(&rollout)))
}

/// pause a running rollout where it is
#[utoipa::path(post, path = "/v1/rollouts/{id}/pause", operation_id = "PauseRollout", tag = "rollouts",
    params(("id" = u64, Path, description = "the rollout id")),
    responses((status = 200, description = "the rollout, paused", body = Rollout)))]
async fn pause_rollout(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<u64>,
) -> Result<Json<Rollout>, ApiError> {
    steer(&app, &caller, id, RolloutState::Paused).await
}

/// resume a paused rollout
#[utoipa::path(post, path = "/v1/rollouts/{id}/resume", operation_id = "ResumeRollout", tag = "rollouts",
    params(("id" = u64, Path, description = "the rollout id")),
    responses((status = 200, description = "the rollout, running", body = Rollout)))]
async fn resume_rollout(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<u64>,
) -> Result<Json<Rollout>, ApiError> {
    steer(&app, &caller, id, RolloutState::Running).await
}

/// abort a rollout: no further tenant is promoted (those done keep the version)
#[utoipa::path(post, path = "/v1/rollouts/{id}/abort", operation_id = "AbortRollout", tag = "rollouts",
    params(("id" = u64, Path, description = "the rollout id")),
    responses((status = 200, description = "the rollout, aborted", body = Rollout)))]
async fn abort_rollout(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<u64>,
) -> Result<Json<Rollout>, ApiError> {
    steer(&app, &caller, id, RolloutState::Aborted).await
}
