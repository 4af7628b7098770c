//! stub
mod config;
mod error;
mod json;
mod keywords;
mod manifest;
mod names;
mod raw;
mod smoke;
mod syntax;
mod text;
mod validate;

pub use config::{ConfigField, ConfigSchema, ConfigType, ConfigValue, ResolvedConfig};
pub use error::{ManifestError, Problem};
pub use keywords::{Capability, Method, ModuleKind};
pub use manifest::{Component, Endpoint, Limits, Manifest, ModuleInfo};
pub use names::{ModuleId, ModuleIdError};
pub use smoke::{SmokeBody, SmokeExpect, SmokeRequest, SmokeTest};

/// The manifest format version this crate reads.
pub const MANIFEST_VERSION: u32 = 1;

/// Parses, validates and normalises the text of a `module.toml`.
pub fn parse(text: &str) -> Result<Manifest, ManifestError> {
    let probe: raw::VersionProbe = toml::from_str(text).map_err(|error| syntax::syntax_error(text, &error))?;
    if let Some(found) = probe.manifest_version.filter(|found| *found != i64::from(MANIFEST_VERSION)) {
        return Err(ManifestError::UnsupportedVersion { found });
    }
    let raw: raw::RawManifest = toml::from_str(text).map_err(|error| syntax::syntax_error(text, &error))?;
    validate::validate(&raw)
}
