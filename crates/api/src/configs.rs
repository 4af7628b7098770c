//! A tenant's configuration of a module: the current values, their history, and changes.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The values of a config, as set.
pub type ConfigValues = serde_json::Map<String, serde_json::Value>;

/// One version of a tenant's config of a module.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ConfigVersion {
    /// 1 for the first, increasing by one.
    pub version: u64,
    /// The values as set (defaults come from the module's schema).
    #[schema(value_type = Object)]
    pub values: ConfigValues,
    /// Who set them.
    pub actor: String,
    /// When (ms since the Unix epoch).
    pub at_ms: u64,
    /// Why: `set`, or `rollback to N`.
    pub reason: String,
}

/// `GET /v1/tenants/{tenant}/config/{module}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ConfigView {
    /// The current version; 0 before the first set.
    pub version: u64,
    /// The current values.
    #[schema(value_type = Object)]
    pub values: ConfigValues,
    /// The values with the active version's defaults filled in, when the module is enabled.
    #[schema(value_type = Option<Object>)]
    pub resolved: Option<serde_json::Value>,
    /// Oldest first.
    pub history: Vec<ConfigVersion>,
}

/// `PUT /v1/tenants/{tenant}/config/{module}` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetConfigRequest {
    /// The new values (replacing the current ones).
    #[schema(value_type = Object)]
    pub values: ConfigValues,
}

/// `POST /v1/tenants/{tenant}/config/{module}/rollback` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfigRollbackRequest {
    /// The config version to make current again.
    pub to: u64,
}
