//! Health, readiness and the serving status of the routes.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `GET /healthz` and `GET /readyz`: `{"status": "ok"}` / `{"status": "ready"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// `ok` or `ready`.
    pub status: String,
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
