//! Shared helpers for the runtime's tests: built modules, registries on temp dirs, version variants.

#![allow(dead_code, reason = "each test file uses a different subset")]

use modhost_registry::{NewTenant, Publisher, Registry, RegistryConfig, TenantKind, Upload};

pub const OPERATOR: &str = "operator:test";

pub use modhost_testkit::{built, variant};

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
