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
}

/// `POST …/rollback` body: `{}` (or empty) for the previous version, or `{"to": "1.0.0"}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackRequest {
    /// A version that was active before; the previous one when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
}
