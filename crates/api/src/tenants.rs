//! Tenants: records (with the operators' plan and monthly value), creation and update bodies, the front-end context, module logs.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

pub use modhost_manifest::TenantKind;

/// Organisation details shown to the tenant's front end.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
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

/// A tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
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
    /// When it was created (ms since the Unix epoch).
    pub created_at_ms: u64,
    /// When it was last changed.
    pub updated_at_ms: u64,
    /// Set while it is suspended: its data plane answers `423 tenant-suspended`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspended: Option<crate::lifecycle::Suspension>,
    /// The commercial plan, a kebab-case label operators set (e.g. `growth`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    /// What the tenant is worth per month, in cents, as operators set it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly_value_cents: Option<u64>,
}

/// `POST /v1/tenants` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
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
    /// The commercial plan: kebab-case, 1 to 64 bytes (e.g. `growth`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    /// What the tenant is worth per month, in cents (at most 100,000,000,000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly_value_cents: Option<u64>,
}

/// A field of a partial update that can be cleared: absent → `None`
/// (unchanged), `null` → `Some(None)` (cleared), a value → `Some(Some(_))`.
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// `PATCH /v1/tenants/{tenant}` body; absent fields keep their value, `null` clears `plan` and `monthly_value_cents`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantUpdate {
    /// New display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// New organisation details (replaces all of them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organisation: Option<Organisation>,
    /// New feature flags (replaces the set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub features: Option<BTreeSet<String>>,
    /// A new plan (kebab-case, 1 to 64 bytes); `null` clears it.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    pub plan: Option<Option<String>>,
    /// A new monthly value in cents (at most 100,000,000,000); `null` clears it.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<u64>)]
    pub monthly_value_cents: Option<Option<u64>>,
}

/// `GET /v1/tenants`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TenantList {
    /// The tenants the caller may see.
    pub tenants: Vec<Tenant>,
}

/// The tenant part of a [`TenantContext`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ContextTenant {
    /// Id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Standard or custom.
    pub kind: TenantKind,
    /// Organisation details.
    pub organisation: Organisation,
}

/// One endpoint of an enabled module, and whether the caller may call it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ContextEndpoint {
    /// `GET`, `POST`, …
    pub method: String,
    /// The endpoint's path pattern.
    pub path: String,
    /// The permission it needs.
    pub permission: String,
    /// Whether the caller's token grants it.
    pub allowed: bool,
}

/// One enabled module in a [`TenantContext`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ContextModule {
    /// The module id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Its icon, if it has one.
    pub icon: Option<String>,
    /// The active version.
    pub version: String,
    /// Its endpoints.
    pub endpoints: Vec<ContextEndpoint>,
}

/// `GET /v1/tenants/{tenant}/context`: what a front end needs to draw the tenant's navigation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TenantContext {
    /// The tenant.
    pub tenant: ContextTenant,
    /// Its feature flags.
    pub features: BTreeSet<String>,
    /// Its enabled modules.
    pub modules: Vec<ContextModule>,
    /// The permissions the caller holds among the modules' endpoints.
    pub permissions: BTreeSet<String>,
}

/// `GET /v1/tenants/{tenant}/logs` query: every filter given must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogsQuery {
    /// At most this many records, 1 to 1000 (default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<u64>)]
    #[schema(value_type = Option<u64>)]
    pub limit: Option<String>,
    /// Only this module's records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    /// Only records of this level or a more severe one: `trace`, `debug`, `info`, `warn`, `error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    /// Only the records of this request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Only records at or after this time (ms since the Unix epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<u64>)]
    #[schema(value_type = Option<u64>)]
    pub since_ms: Option<String>,
    /// Only records at or before this time (ms since the Unix epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<u64>)]
    #[schema(value_type = Option<u64>)]
    pub until_ms: Option<String>,
    /// Only records older than this: the `next` of a previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
}

/// `GET /v1/tenants/{tenant}/logs/stream` query: every filter given must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogStreamQuery {
    /// Only this module's records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    /// Only records of this level or a more severe one: `trace`, `debug`, `info`, `warn`, `error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    /// Only the records of this request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// One module log record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LogRecord {
    /// When (ms since the Unix epoch).
    pub time_ms: u64,
    /// The module.
    pub module: String,
    /// Its version.
    pub version: String,
    /// The request that logged it.
    pub request_id: String,
    /// `trace`, `debug`, `info`, `warn` or `error`.
    pub level: String,
    /// The message.
    pub message: String,
    /// Structured fields.
    pub fields: BTreeMap<String, String>,
}

/// `GET /v1/tenants/{tenant}/logs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LogRecords {
    /// The newest matching records (older than `before`, when given), listed oldest first.
    pub records: Vec<LogRecord>,
    /// When the page is full: pass it as `before` for the older records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}
