//! Shared helpers for the runtime's tests: built modules, registries on temp dirs, version variants.

#![allow(dead_code, reason = "each test file uses a different subset")]

use std::path::PathBuf;

use modhost_registry::{NewTenant, Publisher, Registry, RegistryConfig, TenantKind, Upload};

pub const OPERATOR: &str = "operator:test";

/// Where `cargo xtask build-plugins` put the modules.
pub fn modules_dir() -> PathBuf {
    std::env::var_os("MODHOST_MODULES_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/modules"))
}

/// A built module's manifest text and component.
pub fn built(label: &str) -> (String, Vec<u8>) {
    let dir = modules_dir().join(label);
    let text = std::fs::read_to_string(dir.join("module.toml")).unwrap_or_else(|error| {
        panic!(
            "{}: {error}; run `cargo xtask build-plugins` first",
            dir.display()
        )
    });
    let manifest = modhost_manifest::parse(&text).expect("built manifest");
    let component = std::fs::read(dir.join(&manifest.component.path)).expect("built component");
    (text, component)
}

/// Appends a custom section: a valid component with different bytes.
pub fn with_custom_section(mut bytes: Vec<u8>, name: &str, payload: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    leb128(&mut body, name.len());
    body.extend_from_slice(name.as_bytes());
    body.extend_from_slice(payload);
    bytes.push(0);
    leb128(&mut bytes, body.len());
    bytes.extend_from_slice(&body);
    bytes
}

fn leb128(out: &mut Vec<u8>, mut value: usize) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// The built module `label` republished as `version`, with distinct bytes.
pub fn variant(label: &str, version: &str) -> (String, Vec<u8>) {
    let (text, bytes) = built(label);
    let manifest = modhost_manifest::parse(&text).expect("manifest");
    let old_version = manifest.module.version.to_string();
    let bytes = with_custom_section(bytes, "modhost-test-variant", version.as_bytes());
    let old_sha = manifest.component.sha256.clone().expect("sha256");
    let new_sha = modhost_registry::blobs::sha256_hex(&bytes);
    let text = text
        .replacen(
            &format!("version = \"{old_version}\""),
            &format!("version = \"{version}\""),
            1,
        )
        .replace(&old_sha, &new_sha);
    (text, bytes)
}

pub fn registry() -> (tempfile::TempDir, Registry) {
    let dir = tempfile::tempdir().expect("temp dir");
    let registry = Registry::open(dir.path().join("data"), RegistryConfig::default()).expect("registry");
    (dir, registry)
}

pub fn publish(registry: &Registry, (text, bytes): &(String, Vec<u8>)) {
    let publisher = Publisher::Operator { owner: None };
    registry
        .publish(Upload {
            manifest_text: text,
            component: bytes,
            publisher: &publisher,
            actor: OPERATOR,
        })
        .unwrap_or_else(|error| panic!("publish: {error}"));
}

pub fn tenant(registry: &Registry, id: &str) {
    let new = NewTenant {
        id: id.to_owned(),
        name: id.to_owned(),
        kind: TenantKind::Standard,
        organisation: Default::default(),
        features: Default::default(),
    };
    registry.create_tenant(new, OPERATOR).expect("tenant");
}

pub fn version(text: &str) -> semver::Version {
    text.parse().expect("version")
}

pub fn request(method: modhost_runtime::Method, path: &str, body: &str) -> modhost_runtime::Request {
    modhost_runtime::Request {
        method,
        path: path.to_owned(),
        query: String::new(),
        headers: vec![],
        body: body.as_bytes().to_vec(),
    }
}

pub fn caller(tenant: &str) -> modhost_runtime::Caller {
    modhost_runtime::Caller {
        tenant_id: tenant.to_owned(),
        tenant_kind: modhost_runtime::TenantKind::Standard,
        request_id: "test".to_owned(),
        permissions: vec![],
        features: vec![],
    }
}
