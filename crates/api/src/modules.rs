//! Module versions: listing, one version with its manifest, the result of an upload.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

pub use modhost_manifest::ModuleKind;

/// A published, immutable module version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ModuleVersion {
    /// The module id.
    pub module: String,
    /// The version, e.g. `1.2.0`.
    pub version: String,
    /// Standard or custom.
    pub kind: ModuleKind,
    /// The tenant owning a custom module; `null` for standard ones.
    pub owner: Option<String>,
    /// The component's SHA-256 (lower-case hex).
    pub sha256: String,
    /// The component's size.
    pub size_bytes: u64,
    /// Who published it.
    pub published_by: String,
    /// When (ms since the Unix epoch).
    pub published_at_ms: u64,
}

/// `GET /v1/modules`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct VersionList {
    /// The versions the caller may see.
    pub versions: Vec<ModuleVersion>,
}

/// `GET /v1/modules` query.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VersionsQuery {
    /// Only this module's versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    /// Only versions this tenant may see (operators; others always see their own tenant's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
}

/// `GET /v1/modules/{module}/versions/{version}`: the version and its manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct VersionDetail {
    /// The version record.
    #[serde(flatten)]
    pub version: ModuleVersion,
    /// The manifest, normalised to JSON.
    #[schema(value_type = Object)]
    pub manifest: serde_json::Value,
}

/// `POST /v1/modules`: `201` with `created: true`, or `200` with `false` for an identical re-upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PublishResult {
    /// Whether the version is new.
    pub created: bool,
    /// The stored version.
    pub version: ModuleVersion,
}

/// `POST /v1/modules` query.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PublishQuery {
    /// The tenant owning a custom module (operators; tenant admins may name only their own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

/// The multipart upload of `POST /v1/modules` (for the OpenAPI document).
#[derive(Debug, Clone, ToSchema)]
pub struct PublishUpload {
    /// The `module.toml` text.
    pub manifest: String,
    /// The component (`.wasm`).
    #[schema(value_type = String, format = Binary)]
    pub component: Vec<u8>,
}
