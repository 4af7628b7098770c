//! The audit log: entries and the query that selects them.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// How an audited action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AuditOutcome {
    /// It happened.
    Ok,
    /// The caller was not allowed.
    Denied,
    /// It was refused or failed.
    Failed,
}

/// One append-only audit record. Never holds a token or a payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AuditEntry {
    /// Increasing id.
    pub id: u64,
    /// When (ms since the Unix epoch).
    pub at_ms: u64,
    /// Who (a token's id and role, or `system`).
    pub actor: String,
    /// What, e.g. `deployment.promote`.
    pub action: String,
    /// On what, e.g. `banban/inventory@1.1.0`.
    pub target: String,
    /// The tenant concerned, if any.
    pub tenant: Option<String>,
    /// How it ended.
    pub outcome: AuditOutcome,
    /// A short explanation, e.g. the refusal reason.
    pub detail: Option<String>,
}

/// `GET /v1/audit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AuditList {
    /// Oldest first.
    pub entries: Vec<AuditEntry>,
    /// Set when the query stopped before the end of the log (its limit was
    /// reached, or it looked at as many records as one query may): more
    /// matches may follow; ask again with `after` set to this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_after: Option<u64>,
}

/// `GET /v1/audit` query. `after` and `limit` that do not parse are ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only this tenant's (operators; tenant admins always see their own tenant's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Only this actor's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// Only actions starting with this, e.g. `deployment.`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// Only records with a larger id (for paging).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<u64>)]
    #[schema(value_type = Option<u64>)]
    pub after: Option<String>,
    /// At most this many (default and cap 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<u64>)]
    #[schema(value_type = Option<u64>)]
    pub limit: Option<String>,
    /// Only entries written at or after this time (ms since the Unix epoch);
    /// not a number: `400`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<u64>)]
    #[schema(value_type = Option<u64>)]
    pub since_ms: Option<String>,
    /// Only entries written at or before this time (ms since the Unix epoch);
    /// not a number: `400`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<u64>)]
    #[schema(value_type = Option<u64>)]
    pub until_ms: Option<String>,
}

/// `GET /v1/audit/export` query: the filters of `GET /v1/audit`, without paging.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditExportQuery {
    /// Only this tenant's (operators; tenant admins always get their own tenant's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Only this actor's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// Only actions starting with this, e.g. `deployment.`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// Only entries written at or after this time (ms since the Unix epoch);
    /// not a number: `400`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<u64>)]
    #[schema(value_type = Option<u64>)]
    pub since_ms: Option<String>,
    /// Only entries written at or before this time (ms since the Unix epoch);
    /// not a number: `400`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<u64>)]
    #[schema(value_type = Option<u64>)]
    pub until_ms: Option<String>,
}
