//! Health, readiness and the serving status of the routes.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `GET /healthz`: `{"status": "ok"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: String,
}

/// `GET /readyz`: ready when storage answers, the start-up warm-up has
/// finished and every active route of a tenant that is not suspended
/// serves (its active version, or an earlier one it fell back to).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Readiness {
    /// Whether the host is ready (the answer is `200`; else `503`).
    pub ready: bool,
    /// `ok`, or why storage did not answer (the detail for operators only).
    pub storage: String,
    /// Whether the start-up warm-up is still loading the routes.
    pub warming_up: bool,
    /// How many routes are not ready.
    pub not_ready_count: u64,
    /// The routes that are not ready, at most 100: every tenant's for
    /// operators, its own tenant's for a tenant-scoped token, none without a
    /// token.
    #[serde(default)]
    pub not_ready: Vec<UnreadyRoute>,
}

/// A route that is not ready, in [`Readiness`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UnreadyRoute {
    /// The tenant.
    pub tenant: String,
    /// The module.
    pub module: String,
    /// The active version.
    pub version: String,
    /// Why it is not ready.
    pub state: UnreadyState,
    /// Why its load failed (operators only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Why a route is not ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum UnreadyState {
    /// The warm-up is loading it now.
    Loading,
    /// Its last load failed and no earlier version could be served.
    Failed,
    /// Nothing has tried to load it yet.
    NotLoaded,
}

/// One route of the serving table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RouteStatus {
    /// The tenant.
    pub tenant: String,
    /// The module.
    pub module: String,
    /// The version the deployment names.
    pub active: String,
    /// The version actually serving (an earlier one when the active one would not load).
    pub serving: Option<String>,
    /// Whether the serving version is in memory now: `false` before its
    /// first load and after it was evicted to keep at most
    /// `max_resident_versions` resident (it still serves: its next request
    /// loads it again).
    #[serde(default)]
    pub resident: bool,
    /// Why the active version is not serving, if it is not.
    pub problem: Option<String>,
    /// What the tenant's data of this module holds, and its quota.
    #[serde(default)]
    pub data: DataUsage,
}

/// One (tenant, module) data scope: its usage and quota.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DataUsage {
    /// Stored keys.
    pub keys: u64,
    /// Bytes of every key plus its value.
    pub bytes: u64,
    /// The most keys it may hold (the serving version's ask, capped by the
    /// operator); `None` until a version has served.
    pub max_keys: Option<u64>,
    /// The most bytes it may hold; `None` until a version has served.
    pub max_bytes: Option<u64>,
}

/// `GET /v1/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Status {
    /// Every route.
    pub routes: Vec<RouteStatus>,
    /// Routes switched to another version since start.
    pub swaps: u64,
    /// Routes serving an earlier version because the active one would not load.
    pub fallbacks: u64,
    /// Components compiled since start.
    pub compiled: u64,
    /// Components loaded from the compile cache since start.
    pub compile_cache_loads: u64,
    /// Alerts firing now (not acknowledged).
    pub alerts_firing: u64,
    /// Alerts acknowledged and not yet resolved.
    pub alerts_acknowledged: u64,
    /// Notifications waiting in the outbox (as of its last poll).
    pub notifications_pending: u64,
    /// Notifications given up on since start.
    pub notifications_failed: u64,
    /// Scheduled backups: how many tenants have one, how many are failing.
    #[serde(default)]
    pub backups: crate::backups::BackupsStatus,
}
