//! Rings and rollouts: tenant ring labels, and a module version promoted ring by ring.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `PUT /v1/tenants/{tenant}/ring` body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RingRequest {
    /// The ring, e.g. `beta`; `null` takes the tenant out of every ring.
    pub ring: Option<String>,
}

/// One tenant's ring.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TenantRing {
    /// The tenant.
    pub tenant: String,
    /// Its ring, if any.
    pub ring: Option<String>,
}

/// `GET /v1/rings`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RingList {
    /// Every tenant in a ring, by tenant id.
    pub tenants: Vec<TenantRing>,
}

/// `POST /v1/rollouts` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRollout {
    /// The module.
    pub module: String,
    /// The version every tenant of the rings gets, e.g. `1.1.0`.
    pub version: String,
    /// The rings, in order, e.g. `["internal", "beta", "general"]`.
    pub rings: Vec<String>,
    /// How long each ring must stay healthy after its last promote, in seconds.
    pub soak_secs: u64,
    /// Each promote's watch window in seconds; absent: the server's `watch_window_secs`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watch_secs: Option<u64>,
}

/// One tenant a rollout dealt with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RolloutTenant {
    /// The tenant.
    pub tenant: String,
    /// Its ring.
    pub ring: String,
    /// `promoted`, `already` (it was at the version) or `failed: …`.
    pub outcome: String,
    /// When (ms since the Unix epoch).
    pub at_ms: u64,
}

/// A rollout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Rollout {
    /// Its id.
    pub id: u64,
    /// The module.
    pub module: String,
    /// The version.
    pub version: String,
    /// The rings, in order.
    pub rings: Vec<String>,
    /// The soak time per ring, in seconds.
    pub soak_secs: u64,
    /// Each promote's watch window in seconds, if not the server's.
    pub watch_secs: Option<u64>,
    /// `running`, `paused`, `completed`, `halted` or `aborted`.
    pub state: String,
    /// The ring being rolled out (`null` once past the last).
    pub ring: Option<String>,
    /// Whether that ring's tenants are all promoted and it is soaking.
    pub soaking: bool,
    /// The tenants dealt with, in order.
    pub done: Vec<RolloutTenant>,
    /// The tenant being promoted.
    pub in_flight: Option<String>,
    /// Who started it.
    pub started_by: String,
    /// When.
    pub started_at_ms: u64,
    /// When it last changed.
    pub updated_at_ms: u64,
    /// Why it halted or completed.
    pub reason: Option<String>,
}

/// `GET /v1/rollouts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RolloutList {
    /// Oldest first.
    pub rollouts: Vec<Rollout>,
}
