//! Parses, validates and normalises a module's `module.toml`.
//!
//! Every modhost module version is a manifest plus a WebAssembly component. The
//! manifest says what the module is, which host capabilities it may import, which
//! routes it serves and with which permissions, what resources it asks for, what a
//! tenant may configure, and how to smoke-test it before promotion. This crate
//! turns the TOML text into one typed, normalised [`Manifest`] that the registry,
//! the runtime and the server share. It has no WebAssembly or storage dependency.
//!
//! # Example
//!
//! ```
//! use modhost_manifest::{Capability, Method, parse};
//!
//! let manifest = parse(r#"
//!     manifest_version = 1
//!
//!     [module]
//!     id = "inventory"
//!     version = "1.1.0"
//!     kind = "standard"
//!     api = "^1.0"
//!     title = "Inventory"
//!     capabilities = ["kv", "config"]
//!
//!     [component]
//!     path = "inventory.wasm"
//!
//!     [[endpoints]]
//!     method = "GET"
//!     path = "/items/{sku}"
//!     permission = "inventory.read"
//!
//!     [config.fields.low_stock_threshold]
//!     type = "int"
//!     default = 5
//!     min = 0
//! "#)?;
//!
//! assert_eq!(manifest.module.id.as_str(), "inventory");
//! assert!(manifest.grants(Capability::Kv));
//! assert_eq!(manifest.limits.memory_mb, 32); // the default
//!
//! let (endpoint, params) = manifest.find_endpoint(Method::Get, "/items/TS-01").expect("routed");
//! assert_eq!(endpoint.permission, "inventory.read");
//! assert_eq!(params.get("sku"), Some("TS-01"));
//!
//! let tenant_values = serde_json::Map::new();
//! let config = manifest.config.validate(&tenant_values).expect("valid config");
//! assert_eq!(serde_json::to_string(&config)?, r#"{"low_stock_threshold":5}"#);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # The format
//!
//! ```toml
//! manifest_version = 1            # required; the only version there is
//!
//! [module]
//! id = "inventory"                # required; kebab-case, 1 to 64 bytes
//! version = "1.1.0"               # required; semver
//! kind = "standard"               # required; "standard" or "custom"
//! api = "^1.0"                    # required; requirement on the host's modhost:module WIT package
//! title = "Inventory"             # required; 1 to 64 characters, one line
//! icon = "boxes"                  # optional; 1 to 32 of [a-z0-9-]
//! description = "..."             # optional; at most 1024 characters
//! capabilities = ["kv", "config"] # optional; any of kv, config, log, metrics, modules, once each
//!
//! [component]
//! path = "inventory.wasm"         # required; relative, `/`-separated, no `..`, ends with .wasm
//! sha256 = "..."                  # 64 lower-case hex; optional in a source tree, the build fills it in
//!
//! [dependencies]                  # optional; module id -> version requirement;
//! analytics = "^1.0"              # needs the "modules" capability, and not the module itself
//!
//! [[endpoints]]                   # optional, any number
//! method = "GET"                  # GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS
//! path = "/items/{sku}"           # a modhost_path::PathPattern; method + path unique
//! permission = "inventory.read"   # two or more dotted lower-case words
//! description = "..."             # optional; at most 1024 characters
//!
//! [limits]                        # optional; each field optional
//! memory_mb = 32                  # 1 to 4096, default 32
//! timeout_ms = 1000               # 1 to 60000, default 1000
//! fuel = 50_000_000               # 1 or more; absent means no fuel metering
//! kv_mb = 64                      # stored data per tenant: 1 to 65536 MiB, default 64
//! kv_keys = 100_000               # stored keys per tenant: 1 to 100000000, default 100000
//!
//! [config.fields.low_stock_threshold]  # optional; names match [a-z][a-z0-9_]*, at most 64 bytes
//! type = "int"                    # string, int, float, bool or enum
//! default = 5                     # optional; must have the type and meet the constraints
//! required = false                # optional; a required field cannot have a default
//! min = 0                         # int and float only; min <= max
//! max = 100
//! # min_length / max_length: string only, in characters. values = [...]: enum only, required there.
//!
//! [[tests]]                       # optional smoke tests, run before promotion
//! name = "health"                 # unique among tests
//! request = { method = "GET", path = "/health?deep=1", headers = { "accept" = "text/plain" } }
//! expect = { status = 200, body_contains = "ok", json = { ok = true } }
//! # request.body (text) and request.json (any TOML value, sent as JSON) are mutually exclusive;
//! # expect.json is matched as a subset, see SmokeExpect::check.
//! ```
//!
//! # Errors
//!
//! Parsing has two phases. First the TOML is read into plain structs that refuse
//! unknown fields; a failure there (bad TOML, an unknown field, a wrong type, a
//! missing field) is a single [`ManifestError::Syntax`] with a 1-based line and
//! column and, when it can be found, the field's dotted path. Then every rule
//! above is checked and every broken one is reported together as
//! [`ManifestError::Invalid`], one [`Problem`] per line:
//!
//! ```text
//! module.id: `Inventory` is not kebab-case; use lower-case letters, digits and single dashes, starting with a letter
//! endpoints[0].path: path `items` must start with `/`
//! ```
//!
//! Array indices in field paths are 0-based. An unknown `manifest_version` stops
//! everything else with [`ManifestError::UnsupportedVersion`], since a newer format
//! may mean anything.
//!
//! # Normalised form
//!
//! [`Manifest`] serialises (see [`Manifest::to_json_pretty`]) to stable JSON:
//! defaults filled in, capabilities sorted, maps sorted by key, header names in
//! lower case, versions, requirements and path patterns as strings, absent
//! optional fields left out.

mod config;
mod error;
mod json;
mod keywords;
mod manifest;
mod names;
mod permissions;
mod raw;
mod smoke;
mod syntax;
mod text;
mod validate;

pub use config::{ConfigField, ConfigSchema, ConfigType, ConfigValue, ResolvedConfig};
pub use error::{ManifestError, Problem};
pub use keywords::{Capability, Method, ModuleKind, TenantKind};
pub use manifest::{Component, Endpoint, Limits, Manifest, ModuleInfo};
pub use names::{ModuleId, ModuleIdError};
pub use permissions::permission_granted;
pub use smoke::{SmokeBody, SmokeExpect, SmokeRequest, SmokeTest};

/// The manifest format version this crate reads.
pub const MANIFEST_VERSION: u32 = 1;

/// Parses, validates and normalises the text of a `module.toml`.
pub fn parse(text: &str) -> Result<Manifest, ManifestError> {
    let probe: raw::VersionProbe =
        toml::from_str(text).map_err(|error| syntax::syntax_error(text, &error))?;
    if let Some(found) = probe
        .manifest_version
        .filter(|found| *found != i64::from(MANIFEST_VERSION))
    {
        return Err(ManifestError::UnsupportedVersion { found });
    }
    let raw: raw::RawManifest = toml::from_str(text).map_err(|error| syntax::syntax_error(text, &error))?;
    validate::validate(&raw)
}
