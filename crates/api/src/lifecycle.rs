//! Tenant lifecycle and clean-up: suspend and resume bodies, what a delete removed, and what garbage collection found.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Since when and why a tenant is suspended: its data plane answers `423 tenant-suspended`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Suspension {
    /// When it was suspended (ms since the Unix epoch).
    pub at_ms: u64,
    /// Why, as the operator put it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `POST /v1/tenants/{tenant}/suspend` body; may be empty.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SuspendRequest {
    /// Why (at most 256 characters), kept with the suspension and in the audit log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `DELETE /v1/tenants/{tenant}` query.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeleteTenantQuery {
    /// Take a final backup of the tenant first (default `true`); when it
    /// fails, nothing is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_backup: Option<bool>,
}

/// Where a delete's final backup went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FinalBackup {
    /// The backup file, on the server.
    pub path: String,
    /// Its size.
    pub bytes: u64,
}

/// `DELETE /v1/tenants/{tenant}`: what was removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeletedTenant {
    /// The tenant.
    pub tenant: String,
    /// The final backup, unless the delete was asked without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_backup: Option<FinalBackup>,
    /// Deployment records (one per module ever deployed).
    pub deployments: u64,
    /// Config histories.
    pub configs: u64,
    /// Canaries.
    pub canaries: u64,
    /// Module data entries.
    pub kv_entries: u64,
    /// Their bytes (keys plus values).
    pub kv_bytes: u64,
    /// Migration snapshots its deployment history referenced.
    pub snapshots: u64,
    /// API tokens scoped to it.
    pub tokens: u64,
    /// Its alert rules.
    pub alert_rules: u64,
    /// Its notification channels.
    pub channels: u64,
    /// Alerts of its rules or about it.
    pub alerts: u64,
    /// Deliveries to its channels.
    pub deliveries: u64,
    /// The ring it was in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ring: Option<String>,
    /// Whether its backup schedule was removed (its stored backups stay).
    #[serde(default)]
    pub backup_schedule: bool,
    /// Custom module versions it owned, removed (`module@version`); their
    /// components go at the next garbage collection.
    pub module_versions: Vec<String>,
    /// Custom module versions it owned, kept because another tenant's deployment names them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kept_module_versions: Vec<String>,
}

/// `POST /v1/gc` query.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct GcQuery {
    /// Only list what would be removed (default `false`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
}

/// A file garbage collection found unreferenced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GcFile {
    /// A blob's sha256, a leftover file's name, or a compiled artifact's file name.
    pub name: String,
    /// Its size.
    pub bytes: u64,
    /// For a compiled artifact: `other-engine` or `unused`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A migration snapshot no deployment history names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GcSnapshot {
    /// Its id.
    pub id: u64,
    /// The data entries it holds.
    pub entries: u64,
    /// Their bytes.
    pub bytes: u64,
}

/// A data scope of a tenant that does not exist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GcScope {
    /// The (missing) tenant.
    pub tenant: String,
    /// The module.
    pub module: String,
    /// Its data entries.
    pub entries: u64,
    /// Their bytes, as its usage record counts them.
    pub bytes: u64,
}

/// `POST /v1/gc`: what nothing references (removed, unless `dry_run`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GcReport {
    /// Nothing was removed; the lists say what a real run would remove now.
    pub dry_run: bool,
    /// Component blobs no module version names, older than the grace period
    /// (and leftover temporary files).
    pub blobs: Vec<GcFile>,
    /// Compiled components of another engine or of components no version names.
    pub compiled: Vec<GcFile>,
    /// Migration snapshots no deployment history names, older than the grace period.
    pub snapshots: Vec<GcSnapshot>,
    /// Data of tenants that do not exist.
    pub data_scopes: Vec<GcScope>,
    /// Audit entries past the retention (`audit_max_entries`, `audit_max_age_days`).
    pub audit_entries: u64,
    /// The bytes of everything listed.
    pub bytes: u64,
    /// The grace period: younger blobs and snapshots are kept, in seconds.
    pub grace_secs: u64,
}
