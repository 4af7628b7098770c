//! The registry's public model: tenants, versions, deployments, configs, audit entries and tokens as callers see them.
//!
//! How they are stored is `records.rs`'s business: these types may change without changing the stored format.

use std::collections::BTreeSet;

use semver::Version;
use serde::{Deserialize, Serialize};

use crate::error::RegistryError;

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Checks a tenant id: kebab-case, 1 to 64 bytes, like module ids.
pub fn check_tenant_id(id: &str) -> Result<(), RegistryError> {
    modhost_manifest::ModuleId::parse(id).map(|_| ()).map_err(|_| RegistryError::InvalidInput {
        field: "id".into(),
        message: format!(
            "tenant id `{id}` must be kebab-case: lower-case letters, digits and single dashes, starting with a letter, at most 64 bytes"
        ),
    })
}

/// Whether a tenant is a standard client or one with custom modules: the host's one tenant kind.
pub use modhost_manifest::TenantKind;

/// Organisation details shown to the tenant's front end.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Organisation {
    /// The registered name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legal_name: Option<String>,
    /// ISO 3166 country code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// Who to contact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_email: Option<String>,
}

/// A tenant (client organisation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tenant {
    /// Kebab-case id, e.g. `banban`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Standard or custom.
    pub kind: TenantKind,
    /// Organisation details.
    pub organisation: Organisation,
    /// Enabled feature flags.
    pub features: BTreeSet<String>,
    /// When it was created.
    pub created_at_ms: u64,
    /// When it was last changed.
    pub updated_at_ms: u64,
    /// Set while the tenant is suspended: its data plane refuses every request, its data is kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspended: Option<Suspension>,
    /// The commercial plan, a short kebab-case label set by operators (e.g. `growth`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    /// What the tenant is worth per month, in cents, set by operators.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly_value_cents: Option<u64>,
}

/// Since when and why a tenant is suspended (`Registry::suspend_tenant`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suspension {
    /// When it was suspended (ms since the Unix epoch).
    pub at_ms: u64,
    /// Why, as the operator put it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// What creating a tenant takes.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTenant {
    /// Kebab-case id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Standard or custom; fixed once created.
    pub kind: TenantKind,
    /// Organisation details.
    #[serde(default)]
    pub organisation: Organisation,
    /// Feature flags.
    #[serde(default)]
    pub features: BTreeSet<String>,
    /// The commercial plan (kebab-case, at most 64 bytes).
    #[serde(default)]
    pub plan: Option<String>,
    /// What the tenant is worth per month, in cents.
    #[serde(default)]
    pub monthly_value_cents: Option<u64>,
}

/// A field of a partial update that can also be cleared: absent is `None`
/// (unchanged), `null` is `Some(None)` (cleared), a value is `Some(Some(_))`.
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// A partial update of a tenant; absent fields keep their value. The kind cannot change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantUpdate {
    /// New display name.
    #[serde(default)]
    pub name: Option<String>,
    /// New organisation details (replaces all of them).
    #[serde(default)]
    pub organisation: Option<Organisation>,
    /// New feature flags (replaces the set).
    #[serde(default)]
    pub features: Option<BTreeSet<String>>,
    /// A new plan (`Some(None)` clears it).
    #[serde(default, deserialize_with = "present")]
    pub plan: Option<Option<String>>,
    /// A new monthly value in cents (`Some(None)` clears it).
    #[serde(default, deserialize_with = "present")]
    pub monthly_value_cents: Option<Option<u64>>,
}

/// An immutable published module version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModuleVersion {
    /// The module id.
    pub module: String,
    /// The version.
    pub version: Version,
    /// Standard or custom.
    pub kind: modhost_manifest::ModuleKind,
    /// The tenant owning a custom module; `None` for standard ones.
    pub owner: Option<String>,
    /// The component's SHA-256 (lower-case hex), its key in the artifact store.
    pub sha256: String,
    /// The component's size.
    pub size_bytes: u64,
    /// The manifest as uploaded (with the sha256 filled in).
    pub manifest_text: String,
    /// Who published it.
    pub published_by: String,
    /// When.
    pub published_at_ms: u64,
}

impl ModuleVersion {
    /// The parsed manifest. It was valid when stored, so a failure means the
    /// store was damaged.
    pub fn manifest(&self) -> Result<modhost_manifest::Manifest, RegistryError> {
        modhost_manifest::parse(&self.manifest_text).map_err(|error| {
            RegistryError::Storage(format!(
                "the stored manifest of {}@{} no longer parses: {error}",
                self.module, self.version
            ))
        })
    }

    /// Whether `tenant` may see and deploy it: standard modules are visible
    /// to everyone, custom ones to their owner.
    pub fn visible_to(&self, tenant: &str) -> bool {
        self.owner.as_deref().is_none_or(|owner| owner == tenant)
    }
}

/// What moved a deployment's pointer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentEvent {
    /// Increases by one per event of this deployment.
    pub seq: u64,
    /// What happened.
    pub action: DeploymentAction,
    /// The active version before.
    pub from: Option<Version>,
    /// The active version after.
    pub to: Option<Version>,
    /// Who did it.
    pub actor: String,
    /// When.
    pub at_ms: u64,
    /// A snapshot of the module's data as `from` left it, kept because the
    /// move to `to` migrated the data; a rollback to `from` restores it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<u64>,
    /// The snapshot this rollback restored: writes made since it was taken were discarded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restored_snapshot: Option<u64>,
}

/// A tenant's deployment of one module: the active version and its history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deployment {
    /// The tenant.
    pub tenant: String,
    /// The module.
    pub module: String,
    /// The version serving requests, if enabled.
    pub active: Option<Version>,
    /// Newest last; the oldest are dropped past [`Deployment::HISTORY_LIMIT`].
    pub history: Vec<DeploymentEvent>,
}

impl Deployment {
    /// How many history entries are kept.
    pub const HISTORY_LIMIT: usize = 200;

    pub(crate) fn empty(tenant: &str, module: &str) -> Self {
        Self {
            tenant: tenant.to_owned(),
            module: module.to_owned(),
            active: None,
            history: Vec::new(),
        }
    }

    /// The version active before the current activation: what `rollback` to
    /// `previous` returns to.
    pub fn previous(&self) -> Option<&Version> {
        self.history.last().and_then(|event| event.from.as_ref())
    }

    /// The snapshot to restore when rolling back to `version`: the one taken
    /// the last time the tenant moved away from `version`, if that move migrated data.
    pub fn snapshot_for_return_to(&self, version: &Version) -> Option<u64> {
        self.history
            .iter()
            .rev()
            .find(|event| event.from.as_ref() == Some(version))
            .and_then(|event| event.snapshot)
    }

    pub(crate) fn record(
        &mut self,
        action: DeploymentAction,
        to: Option<Version>,
        actor: &str,
        snapshot: Option<u64>,
        restored_snapshot: Option<u64>,
    ) -> DeploymentEvent {
        let event = DeploymentEvent {
            seq: self.history.last().map_or(1, |last| last.seq + 1),
            action,
            from: self.active.clone(),
            to: to.clone(),
            actor: actor.to_owned(),
            at_ms: now_ms(),
            snapshot,
            restored_snapshot,
        };
        self.active = to;
        self.history.push(event.clone());
        if self.history.len() > Self::HISTORY_LIMIT {
            let excess = self.history.len() - Self::HISTORY_LIMIT;
            self.history.drain(..excess);
        }
        event
    }
}

/// A candidate version serving a share of one tenant's requests beside the active one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Canary {
    /// The tenant.
    pub tenant: String,
    /// The module.
    pub module: String,
    /// The candidate.
    pub version: Version,
    /// Its share of the tenant's requests, 1 to 99 percent.
    pub percent: u8,
    /// Who started it.
    pub started_by: String,
    /// When (ms since the Unix epoch).
    pub started_at_ms: u64,
}

/// What a new rollout promotes, where, and how patiently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRollout {
    /// The module.
    pub module: String,
    /// The version every tenant of the rings gets.
    pub version: Version,
    /// The rings, in order.
    pub rings: Vec<String>,
    /// How long a ring must stay healthy after its last promote before the next starts.
    pub soak_ms: u64,
    /// Each promote's watch window; `None`: the server's.
    pub watch_ms: Option<u64>,
}

/// Where a rollout is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RolloutState {
    /// Being advanced.
    Running,
    /// Held by an operator; resumes where it was.
    Paused,
    /// Every ring was promoted and soaked.
    Completed,
    /// Stopped by a failure (a tenant's watch, a promote refused).
    Halted,
    /// Stopped by an operator.
    Aborted,
}

impl RolloutState {
    /// The lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Completed => "completed",
            Self::Halted => "halted",
            Self::Aborted => "aborted",
        }
    }

    /// The audit verb of moving to this state.
    pub fn verb(self) -> &'static str {
        match self {
            Self::Running => "resume",
            Self::Paused => "pause",
            Self::Completed => "complete",
            Self::Halted => "halt",
            Self::Aborted => "abort",
        }
    }

    /// Running or paused: not over.
    pub fn is_live(self) -> bool {
        matches!(self, Self::Running | Self::Paused)
    }
}

/// One tenant a rollout has dealt with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolloutTenant {
    /// The tenant.
    pub tenant: String,
    /// Its ring.
    pub ring: String,
    /// `promoted`, `already` (it was at the version), or `failed: …`.
    pub outcome: String,
    /// When.
    pub at_ms: u64,
}

/// A rollout of one module version over rings of tenants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rollout {
    /// Its id.
    pub id: u64,
    /// The module.
    pub module: String,
    /// The version.
    pub version: Version,
    /// The rings, in order.
    pub rings: Vec<String>,
    /// The soak time per ring, in ms.
    pub soak_ms: u64,
    /// Each promote's watch window in ms; `None`: the server's.
    pub watch_ms: Option<u64>,
    /// Where it is.
    pub state: RolloutState,
    /// The index of the ring being rolled out (`rings.len()` when done).
    pub ring: usize,
    /// When the current ring's last promote finished and its soak began.
    pub soak_started_ms: Option<u64>,
    /// The tenants dealt with, in order.
    pub done: Vec<RolloutTenant>,
    /// The tenant whose promote was started and not yet recorded as done.
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

/// One version of a tenant's configuration of a module.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigVersion {
    /// 1 for the first, increasing by one.
    pub version: u64,
    /// The values as set (defaults are not stored; they come from the schema).
    pub values: serde_json::Map<String, serde_json::Value>,
    /// Who set them.
    pub actor: String,
    /// When.
    pub at_ms: u64,
    /// Why: `set`, or `rollback to N`.
    pub reason: String,
}

/// A tenant's configuration history for one module.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConfigHistory {
    /// Oldest first; the oldest are dropped past [`ConfigHistory::LIMIT`].
    pub versions: Vec<ConfigVersion>,
}

impl ConfigHistory {
    /// How many config versions are kept.
    pub const LIMIT: usize = 100;

    /// The values in force (empty before the first `set`).
    pub fn current_values(&self) -> serde_json::Map<String, serde_json::Value> {
        self.versions
            .last()
            .map(|version| version.values.clone())
            .unwrap_or_default()
    }
}

/// How an audited action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Increasing id.
    pub id: u64,
    /// When.
    pub at_ms: u64,
    /// Who (a token's name and role, or `system`).
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

/// Which audit records to return.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct AuditQuery {
    /// Only this tenant's.
    pub tenant: Option<String>,
    /// Only this actor's.
    pub actor: Option<String>,
    /// Only actions starting with this, e.g. `deployment.`.
    pub action: Option<String>,
    /// Only records with a larger id (for paging).
    pub after: Option<u64>,
    /// At most this many (default and cap 1000).
    pub limit: Option<usize>,
    /// Only records written at or after this time (ms since the Unix epoch).
    pub since_ms: Option<u64>,
    /// Only records written at or before this time (ms since the Unix epoch).
    pub until_ms: Option<u64>,
}

/// One page of audit records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditPage {
    /// The matching records, oldest first.
    pub entries: Vec<AuditEntry>,
    /// Set when the query stopped before the end of the log (its limit was
    /// reached, or it looked at as many records as one query may): more
    /// matches may follow, asked for with `after` set to this.
    pub next_after: Option<u64>,
}

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Everything, on every tenant.
    Operator,
    /// One tenant: upload custom modules, manage its deployments, config and tokens.
    TenantAdmin,
    /// One tenant: read it.
    TenantViewer,
    /// One tenant: call its modules (the data plane).
    Invoker,
}

impl Role {
    /// The wire name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Operator => "operator",
            Self::TenantAdmin => "tenant-admin",
            Self::TenantViewer => "tenant-viewer",
            Self::Invoker => "invoker",
        }
    }
}

/// A token's record (never the secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Token {
    /// A public id, e.g. `tok_3f2a…`, for listing and revoking.
    pub id: String,
    /// A human name, e.g. `ci deploy`.
    pub name: String,
    /// The role.
    pub role: Role,
    /// The tenant it is scoped to; `None` only for operators.
    pub tenant: Option<String>,
    /// Module permissions granted on the data plane (`*`, `inventory.*`, `inventory.read`).
    pub permissions: Vec<String>,
    /// When it was created.
    pub created_at_ms: u64,
    /// Who created it.
    pub created_by: String,
    /// When it was revoked, if it was.
    pub revoked_at_ms: Option<u64>,
}

impl Token {
    /// Whether it grants module permission `permission` (e.g. `inventory.read`).
    pub fn grants_permission(&self, permission: &str) -> bool {
        modhost_manifest::permission_granted(&self.permissions, permission)
    }
}
