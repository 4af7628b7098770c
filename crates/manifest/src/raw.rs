//! The manifest as serde reads it from TOML, before any rule is checked.
//!
//! Numbers that have a range are read as `i64` so that an out-of-range value is
//! reported by the validator, together with every other problem, rather than
//! stopping serde.

use std::collections::BTreeMap;

use serde::Deserialize;

/// Reads only `manifest_version`, ignoring everything else, so an unsupported
/// format is reported before its unknown fields are.
#[derive(Debug, Deserialize)]
pub(crate) struct VersionProbe {
    pub manifest_version: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawManifest {
    #[allow(
        dead_code,
        reason = "checked by the version probe; listed so serde knows the field"
    )]
    pub manifest_version: i64,
    pub module: RawModule,
    pub component: RawComponent,
    #[serde(default)]
    pub dependencies: BTreeMap<String, String>,
    #[serde(default)]
    pub endpoints: Vec<RawEndpoint>,
    #[serde(default)]
    pub limits: RawLimits,
    #[serde(default)]
    pub config: RawConfig,
    #[serde(default)]
    pub tests: Vec<RawTest>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawModule {
    pub id: String,
    pub version: String,
    pub kind: String,
    pub api: String,
    pub title: String,
    pub icon: Option<String>,
    pub description: Option<String>,
    #[serde(default)]
    pub capabilities: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawComponent {
    pub path: String,
    pub sha256: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEndpoint {
    pub method: String,
    pub path: String,
    pub permission: String,
    pub description: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLimits {
    pub memory_mb: Option<i64>,
    pub timeout_ms: Option<i64>,
    pub fuel: Option<i64>,
    pub kv_mb: Option<i64>,
    pub kv_keys: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    #[serde(default)]
    pub fields: BTreeMap<String, RawConfigField>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfigField {
    #[serde(rename = "type")]
    pub kind: String,
    pub default: Option<toml::Value>,
    #[serde(default)]
    pub required: bool,
    pub min: Option<toml::Value>,
    pub max: Option<toml::Value>,
    pub min_length: Option<i64>,
    pub max_length: Option<i64>,
    pub values: Option<Vec<String>>,
    pub description: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTest {
    pub name: String,
    pub request: RawRequest,
    pub expect: RawExpect,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRequest {
    pub method: String,
    pub path: String,
    pub body: Option<String>,
    pub json: Option<toml::Value>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawExpect {
    pub status: i64,
    pub body_contains: Option<String>,
    pub json: Option<toml::Value>,
}
