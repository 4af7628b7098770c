//! Shared helpers for the registry's API tests: temp registries, fixture components and manifests.

#![allow(dead_code, reason = "each test file uses a different subset")]

use std::path::Path;

use modhost_registry::{
    ModuleVersion, NewTenant, Organisation, Publisher, Registry, RegistryConfig, TenantKind, Upload,
};

pub const OPERATOR: &str = "operator:test";

/// A registry in a fresh temporary directory (kept alive by the returned guard).
pub fn registry() -> (tempfile::TempDir, Registry) {
    let dir = tempfile::tempdir().expect("temp dir");
    let registry = Registry::open(dir.path(), RegistryConfig::default()).expect("open registry");
    (dir, registry)
}

pub fn reopen(dir: &Path) -> Registry {
    Registry::open(dir, RegistryConfig::default()).expect("reopen registry")
}

pub fn tenant(registry: &Registry, id: &str, kind: TenantKind) {
    registry
        .create_tenant(
            NewTenant {
                id: id.to_owned(),
                name: id.to_uppercase(),
                kind,
                organisation: Organisation::default(),
                features: Default::default(),
                plan: None,
                monthly_value_cents: None,
            },
            OPERATOR,
        )
        .expect("create tenant");
}

/// A minimal valid component exporting the world's interfaces at `api`,
/// importing `imports`; `marker` makes otherwise equal components differ.
pub fn component_for(api: &str, imports: &[&str], marker: &str) -> Vec<u8> {
    let imports: String = imports
        .iter()
        .map(|name| format!("(import \"{name}\" (instance))\n"))
        .collect();
    let text = format!(
        "(component {imports}
            (instance $handler) (export \"modhost:module/handler@{api}\" (instance $handler))
            (instance $lifecycle) (export \"modhost:module/lifecycle@{api}\" (instance $lifecycle))
            (@custom \"marker\" \"{marker}\"))"
    );
    wat::parse_str(&text).expect("fixture component")
}

pub fn component(marker: &str) -> Vec<u8> {
    component_for("1.0.0", &[], marker)
}

pub use modhost_testkit::sha256;

/// A manifest for a fixture module; `extra` is appended verbatim (e.g. config fields).
pub fn manifest(
    id: &str,
    version: &str,
    kind: &str,
    dependencies: &[(&str, &str)],
    extra: &str,
    component: &[u8],
) -> String {
    let capabilities = if dependencies.is_empty() {
        "[]"
    } else {
        "[\"modules\"]"
    };
    let dependencies: String = dependencies
        .iter()
        .map(|(id, requirement)| format!("{id} = \"{requirement}\"\n"))
        .collect();
    format!(
        "manifest_version = 1\n\n[module]\nid = \"{id}\"\nversion = \"{version}\"\nkind = \"{kind}\"\napi = \"^1.0\"\ntitle = \"{id}\"\ncapabilities = {capabilities}\n\n[component]\npath = \"{id}.wasm\"\nsha256 = \"{}\"\n\n[dependencies]\n{dependencies}\n{extra}",
        sha256(component)
    )
}

/// Publishes a fixture module and returns its record.
pub fn publish(
    registry: &Registry,
    id: &str,
    version: &str,
    kind: &str,
    dependencies: &[(&str, &str)],
    extra: &str,
    publisher: &Publisher,
) -> ModuleVersion {
    let bytes = component(&format!("{id}@{version}"));
    let text = manifest(id, version, kind, dependencies, extra, &bytes);
    registry
        .publish(Upload {
            manifest_text: &text,
            component: &bytes,
            publisher,
            actor: OPERATOR,
        })
        .unwrap_or_else(|error| panic!("publish {id}@{version}: {error}"))
        .version
}

pub fn operator() -> Publisher {
    Publisher::Operator { owner: None }
}

pub fn version(text: &str) -> semver::Version {
    semver::Version::parse(text).expect("version")
}

/// The built template module: its manifest text and component.
pub fn template() -> (String, Vec<u8>) {
    modhost_testkit::built("template@0.1.0")
}
