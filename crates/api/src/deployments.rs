//! Deployments: a tenant's active version of a module, its history, and the moves.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What moved a deployment's pointer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeploymentAction {
    /// Moved to a chosen version.
    Promote,
    /// Moved back to an earlier version.
    Rollback,
    /// Turned the module off for the tenant.
    Disable,
}

/// One entry of a deployment's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeploymentEvent {
    /// Increases by one per event of this deployment.
    pub seq: u64,
    /// What happened.
    pub action: DeploymentAction,
    /// The active version before.
    pub from: Option<String>,
    /// The active version after.
    pub to: Option<String>,
    /// Who did it.
    pub actor: String,
    /// When (ms since the Unix epoch).
    pub at_ms: u64,
    /// The data snapshot kept because this move migrated the data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<u64>,
    /// The snapshot this rollback restored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restored_snapshot: Option<u64>,
}

/// A tenant's deployment of one module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Deployment {
    /// The tenant.
    pub tenant: String,
    /// The module.
    pub module: String,
    /// The version serving requests, if enabled.
    pub active: Option<String>,
    /// Newest last.
    pub history: Vec<DeploymentEvent>,
    /// The candidate serving a share of the requests beside the active version, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<Canary>,
}

/// A candidate version serving a sticky share of one tenant's requests beside the active one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Canary {
    /// The candidate.
    pub version: String,
    /// Its share of the tenant's callers, 1 to 99 percent.
    pub percent: u8,
    /// Who started it.
    pub started_by: String,
    /// When (ms since the Unix epoch).
    pub started_at_ms: u64,
}

/// `POST …/deployments/{module}/canary` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CanaryRequest {
    /// The candidate, e.g. `1.1.0`.
    pub version: String,
    /// Its share of the tenant's callers, 1 to 99 percent.
    pub percent: u8,
}

/// `POST …/deployments/{module}/canary/abort` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CanaryAbort {
    /// The canary that ended; `null` when there was none.
    pub aborted: Option<Canary>,
}

/// `GET /v1/tenants/{tenant}/deployments`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeploymentList {
    /// The tenant's deployments.
    pub deployments: Vec<Deployment>,
}

/// The answer to a promote, rollback or disable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeploymentChange {
    /// The tenant.
    pub tenant: String,
    /// The module.
    pub module: String,
    /// The active version before.
    pub from: Option<String>,
    /// The active version now.
    pub to: Option<String>,
    /// Whether anything changed.
    pub changed: bool,
    /// The history entry written, if anything changed.
    pub seq: Option<u64>,
    /// For a rollback across a migration: the snapshot the data was restored to.
    pub restored_snapshot: Option<u64>,
}

/// `POST …/promote` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PromoteRequest {
    /// The version to make active, e.g. `1.1.0`.
    pub version: String,
    /// How long to watch the new version, in seconds, instead of the
    /// server's `watch_window_secs`; `0` does not watch it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watch_secs: Option<u64>,
}

/// A version's health over a span: what the host saw of its calls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct VersionHealth {
    /// The version.
    pub version: String,
    /// Calls that ran.
    pub requests: u64,
    /// Of those, errors (a 5xx answer, a trap, a deadline, a resource limit).
    pub errors: u64,
    /// `errors / requests`, 0 to 1.
    pub error_rate: f64,
    /// Calls refused before running (the tenant's call limit).
    pub shed: u64,
    /// Median latency in ms (to within a factor of √2).
    pub p50_ms: Option<f64>,
    /// 99th-percentile latency in ms (to within a factor of √2).
    pub p99_ms: Option<f64>,
}

/// The watch of the latest promote from one version to another.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WatchReport {
    /// The promoted version.
    pub version: String,
    /// The version before it: the baseline and the rollback target.
    pub previous: String,
    /// `watching`, `passed`, `rolled-back`, `held` or `superseded`.
    pub state: String,
    /// Whether the promote migrated the tenant's data (a breach is then held for a person).
    pub migrated: bool,
    /// When the watch started (ms since the Unix epoch).
    pub started_at_ms: u64,
    /// When it ends or ended.
    pub ends_at_ms: u64,
    /// The previous version's health over the window before the promote.
    pub baseline: VersionHealth,
    /// The promoted version's health since the promote.
    pub current: VersionHealth,
    /// Why it ended as it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<String>,
}

/// `GET …/deployments/{module}/health`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DeploymentHealth {
    /// The span the figures cover, in seconds.
    pub span_secs: u64,
    /// Every version with calls in the span, oldest version first.
    pub versions: Vec<VersionHealth>,
    /// The latest watch, if a promote was watched since the server started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watch: Option<WatchReport>,
}

/// `POST …/rollback` body: `{}` (or empty) for the previous version, or `{"to": "1.0.0"}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackRequest {
    /// A version that was active before; the previous one when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
}
