//! The normalised manifest the rest of modhost uses, with its lookups and JSON form.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use modhost_path::{Params, PathPattern};
use semver::{Version, VersionReq};
use serde::{Serialize, Serializer};

use crate::config::ConfigSchema;
use crate::smoke::SmokeTest;
use crate::{Capability, ManifestError, Method, ModuleId, ModuleKind, Problem};

/// A validated, normalised `module.toml`: defaults filled in, capabilities
/// sorted, every field typed.
///
/// Made by [`parse`](crate::parse). Its [`Serialize`] form is the stable
/// normalised JSON shown by [`Manifest::to_json_pretty`]: optional fields that
/// are absent are left out, versions and path patterns are strings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Manifest {
    /// The manifest format version; always [`MANIFEST_VERSION`](crate::MANIFEST_VERSION).
    pub manifest_version: u32,
    /// `[module]`: what the module is.
    pub module: ModuleInfo,
    /// `[component]`: where its WebAssembly component is.
    pub component: Component,
    /// `[dependencies]`: the modules it may call, with the versions it accepts.
    pub dependencies: BTreeMap<ModuleId, VersionReq>,
    /// `[[endpoints]]`: the routes it serves, in declaration order.
    pub endpoints: Vec<Endpoint>,
    /// `[limits]`: the resources it asks for.
    pub limits: Limits,
    /// `[config]`: the configuration fields a tenant may set.
    pub config: ConfigSchema,
    /// `[[tests]]`: smoke tests run before a version is promoted.
    pub tests: Vec<SmokeTest>,
}

/// `[module]`: the module's identity and what it may import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModuleInfo {
    /// The module id, like `inventory`.
    pub id: ModuleId,
    /// This version of the module.
    pub version: Version,
    /// Standard (operator-published) or custom (one tenant's).
    pub kind: ModuleKind,
    /// The versions of the host's `modhost:module` WIT package it was built for.
    pub api: VersionReq,
    /// The name shown in the tenant's navigation.
    pub title: String,
    /// An icon name for the navigation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icon: Option<String>,
    /// A longer description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The host interfaces it may import, sorted by name.
    pub capabilities: BTreeSet<Capability>,
}

/// `[component]`: the module's WebAssembly component.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Component {
    /// The `.wasm` file, relative to the manifest, with `/` separators.
    pub path: String,
    /// The component's SHA-256 in lower-case hex; absent in a source tree
    /// until the build fills it in. See [`Manifest::require_sha256`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// One `[[endpoints]]` entry: a route and the permission it needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Endpoint {
    /// The HTTP method.
    pub method: Method,
    /// The path pattern, like `/items/{sku}`.
    #[serde(serialize_with = "pattern_as_str")]
    pub path: PathPattern,
    /// The permission a caller needs, like `inventory.read`.
    pub permission: String,
    /// What the endpoint does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

fn pattern_as_str<S: Serializer>(pattern: &PathPattern, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(pattern.as_str())
}

/// `[limits]`: the resources a module asks for, defaults applied. The operator's
/// maxima cap them at run time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Limits {
    /// Linear memory, in MiB (1 to 4096; default 32): all memories of one
    /// call's instance together. A nested `modules.call` runs under the
    /// callee's own limit, so one request's worst case is the sum along its
    /// call chain (at most 5 instances deep).
    pub memory_mb: u32,
    /// Wall-clock time per call, in milliseconds (1 to 60000; default 1000).
    pub timeout_ms: u32,
    /// Fuel per call; `None` means no fuel metering.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fuel: Option<u64>,
    /// Stored data per tenant, in MiB (1 to 65536; default 64): keys plus
    /// values of the module's kv scope for one tenant. The operator's
    /// `max_module_kv_mb` caps it.
    pub kv_mb: u32,
    /// Stored keys per tenant (1 to 100,000,000; default 100,000). The
    /// operator's `max_module_kv_keys` caps it.
    pub kv_keys: u64,
}

impl Limits {
    /// The memory asked for when `memory_mb` is not given.
    pub const DEFAULT_MEMORY_MB: u32 = 32;
    /// The largest `memory_mb` a manifest may ask for.
    pub const MAX_MEMORY_MB: u32 = 4096;
    /// The timeout asked for when `timeout_ms` is not given.
    pub const DEFAULT_TIMEOUT_MS: u32 = 1000;
    /// The largest `timeout_ms` a manifest may ask for.
    pub const MAX_TIMEOUT_MS: u32 = 60_000;
    /// The stored data asked for when `kv_mb` is not given.
    pub const DEFAULT_KV_MB: u32 = 64;
    /// The largest `kv_mb` a manifest may ask for.
    pub const MAX_KV_MB: u32 = 65_536;
    /// The stored keys asked for when `kv_keys` is not given.
    pub const DEFAULT_KV_KEYS: u64 = 100_000;
    /// The largest `kv_keys` a manifest may ask for.
    pub const MAX_KV_KEYS: u64 = 100_000_000;

    /// The memory limit in bytes.
    pub fn memory_bytes(&self) -> u64 {
        u64::from(self.memory_mb) * 1024 * 1024
    }

    /// The stored data quota in bytes.
    pub fn kv_bytes(&self) -> u64 {
        u64::from(self.kv_mb) * 1024 * 1024
    }

    /// The per-call timeout.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(u64::from(self.timeout_ms))
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory_mb: Self::DEFAULT_MEMORY_MB,
            timeout_ms: Self::DEFAULT_TIMEOUT_MS,
            fuel: None,
            kv_mb: Self::DEFAULT_KV_MB,
            kv_keys: Self::DEFAULT_KV_KEYS,
        }
    }
}

impl Manifest {
    /// The component's SHA-256, or an error if the manifest does not give one yet.
    pub fn require_sha256(&self) -> Result<&str, ManifestError> {
        self.component.sha256.as_deref().ok_or_else(|| {
            ManifestError::Invalid(vec![Problem::new(
                "component.sha256",
                "missing; run `cargo xtask build-plugins` or fill in the sha256 of the component",
            )])
        })
    }

    /// The first endpoint, in declaration order, that `method` and `path` match,
    /// with the parameters captured. A query string (`?…`) on `path` is ignored.
    pub fn find_endpoint(&self, method: Method, path: &str) -> Option<(&Endpoint, Params)> {
        let path = path.split_once('?').map_or(path, |(path, _query)| path);
        self.endpoints
            .iter()
            .filter(|endpoint| endpoint.method == method)
            .find_map(|endpoint| endpoint.path.matches(path).map(|params| (endpoint, params)))
    }

    /// Whether the manifest grants `capability`.
    pub fn grants(&self, capability: Capability) -> bool {
        self.module.capabilities.contains(&capability)
    }

    /// The normalised JSON form, pretty-printed.
    pub fn to_json_pretty(&self) -> String {
        // Serialising plain data to a string cannot fail: every map key is a string.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROUTES: &str = r#"
        manifest_version = 1

        [module]
        id = "inventory"
        version = "1.0.0"
        kind = "standard"
        api = "^1.0"
        title = "Inventory"
        capabilities = ["kv"]

        [component]
        path = "inventory.wasm"

        [[endpoints]]
        method = "GET"
        path = "/items/special"
        permission = "inventory.special"

        [[endpoints]]
        method = "GET"
        path = "/items/{sku}"
        permission = "inventory.read"

        [[endpoints]]
        method = "PUT"
        path = "/items/{sku}"
        permission = "inventory.write"

        [[endpoints]]
        method = "GET"
        path = "/files/{*rest}"
        permission = "inventory.files"
    "#;

    fn routes() -> Manifest {
        crate::parse(ROUTES).unwrap()
    }

    fn permission_for(method: Method, path: &str) -> Option<String> {
        routes()
            .find_endpoint(method, path)
            .map(|(endpoint, _)| endpoint.permission.clone())
    }

    #[test]
    fn find_endpoint_takes_the_first_match_in_declaration_order() {
        assert_eq!(
            permission_for(Method::Get, "/items/special").as_deref(),
            Some("inventory.special")
        );
        assert_eq!(
            permission_for(Method::Get, "/items/TS-01").as_deref(),
            Some("inventory.read")
        );
    }

    #[test]
    fn find_endpoint_matches_the_method() {
        assert_eq!(
            permission_for(Method::Put, "/items/TS-01").as_deref(),
            Some("inventory.write")
        );
        assert_eq!(permission_for(Method::Delete, "/items/TS-01"), None);
        assert_eq!(
            permission_for(Method::Put, "/items/special").as_deref(),
            Some("inventory.write")
        );
    }

    #[test]
    fn find_endpoint_returns_params_and_ignores_the_query() {
        let manifest = routes();
        let (endpoint, params) = manifest
            .find_endpoint(Method::Get, "/items/TS%2D01?full=1")
            .unwrap();
        assert_eq!(endpoint.path.as_str(), "/items/{sku}");
        assert_eq!(params.get("sku"), Some("TS-01"));
        let (_, params) = manifest.find_endpoint(Method::Get, "/files/a/b.txt").unwrap();
        assert_eq!(params.get("rest"), Some("a/b.txt"));
    }

    #[test]
    fn find_endpoint_refuses_unknown_paths() {
        assert_eq!(permission_for(Method::Get, "/items"), None);
        assert_eq!(permission_for(Method::Get, "/items/a/b"), None);
        assert_eq!(permission_for(Method::Get, "items/a"), None);
        assert_eq!(permission_for(Method::Get, ""), None);
    }

    #[test]
    fn require_sha256_explains_what_to_do() {
        let manifest = routes();
        assert_eq!(
            manifest.require_sha256().unwrap_err().to_string(),
            "component.sha256: missing; run `cargo xtask build-plugins` or fill in the sha256 of the component"
        );
        let hex = "0".repeat(64);
        let with_hash = crate::parse(&ROUTES.replace(
            r#"path = "inventory.wasm""#,
            &format!("path = \"inventory.wasm\"\nsha256 = \"{hex}\""),
        ))
        .unwrap();
        assert_eq!(with_hash.require_sha256().unwrap(), hex);
    }

    #[test]
    fn capabilities_and_limits_have_helpers() {
        let manifest = routes();
        assert!(manifest.grants(Capability::Kv));
        assert!(!manifest.grants(Capability::Modules));
        assert_eq!(manifest.limits, Limits::default());
        assert_eq!(manifest.limits.memory_bytes(), 32 * 1024 * 1024);
        assert_eq!(manifest.limits.timeout(), Duration::from_secs(1));
    }
}
