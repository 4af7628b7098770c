//! Upload validation: every check, every rejection message, idempotency, and that a refused upload stores nothing.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "test code: a failed expectation is a failed test"
)]

mod support;

use modhost_registry::{
    Publisher, Registry, RegistryConfig, RegistryError, TenantKind, Upload, UploadProblem,
};
use support::*;

fn upload<'a>(text: &'a str, bytes: &'a [u8], publisher: &'a Publisher) -> Upload<'a> {
    Upload {
        manifest_text: text,
        component: bytes,
        publisher,
        actor: OPERATOR,
    }
}

/// Asserts the upload is refused with exactly `expected` problems and stores nothing.
fn assert_refused(
    registry: &Registry,
    text: &str,
    bytes: &[u8],
    publisher: &Publisher,
    expected: &[(&str, &str)],
) {
    let before = registry.versions(None, None).expect("versions");
    let error = registry
        .publish(upload(text, bytes, publisher))
        .expect_err("the upload should be refused");
    let RegistryError::UploadRejected { problems } = error else {
        panic!("unexpected error: {error}")
    };
    let expected: Vec<UploadProblem> = expected
        .iter()
        .map(|(check, message)| UploadProblem {
            check: match *check {
                "size" => "size",
                "manifest" => "manifest",
                "sha256" => "sha256",
                "component" => "component",
                "interface" => "interface",
                "owner" => "owner",
                _ => "version",
            },
            message: (*message).to_owned(),
        })
        .collect();
    assert_eq!(problems, expected);
    assert_eq!(
        registry.versions(None, None).expect("versions"),
        before,
        "nothing was stored"
    );
    let location = registry.blobs().location(&sha256(bytes)).expect("location");
    let stored_before = before.iter().any(|version| version.sha256 == sha256(bytes));
    assert_eq!(
        location.exists(),
        stored_before,
        "no blob was written for a refused upload"
    );
}

#[test]
fn the_real_template_publishes_once_and_again_idempotently() {
    let (_dir, registry) = registry();
    let (text, bytes) = template();
    let first = registry
        .publish(upload(&text, &bytes, &operator()))
        .expect("published");
    assert!(first.created);
    assert_eq!(
        (
            first.version.module.as_str(),
            first.version.version.to_string().as_str()
        ),
        ("template", "0.1.0")
    );
    assert_eq!(first.version.sha256, sha256(&bytes));
    let again = registry
        .publish(upload(&text, &bytes, &operator()))
        .expect("idempotent");
    assert!(!again.created);
    assert_eq!(again.version, first.version);
    assert_eq!(registry.component(&first.version).expect("component"), bytes);
    assert_eq!(
        registry.versions(Some("template"), None).expect("versions").len(),
        1
    );
}

#[test]
fn a_changed_upload_of_a_published_version_is_a_conflict() {
    let (_dir, registry) = registry();
    let (text, bytes) = template();
    registry
        .publish(upload(&text, &bytes, &operator()))
        .expect("published");
    let changed_text = text.replace("A minimal module", "A changed module");
    assert_refused(
        &registry,
        &changed_text,
        &bytes,
        &operator(),
        &[(
            "version",
            "template@0.1.0 is already published with different contents; versions are immutable, publish a new version",
        )],
    );
}

#[test]
fn sha256_must_be_present_and_match() {
    let (_dir, registry) = registry();
    let (text, bytes) = template();
    let declared = sha256(&bytes);
    let wrong = "0".repeat(64);
    assert_refused(
        &registry,
        &text.replace(&declared, &wrong),
        &bytes,
        &operator(),
        &[(
            "sha256",
            &format!(
                "component.sha256 is {wrong} but the uploaded component's is {declared}; upload the matching pair"
            ),
        )],
    );
    let without: String = text
        .lines()
        .filter(|line| !line.starts_with("sha256"))
        .map(|line| format!("{line}\n"))
        .collect();
    assert_refused(
        &registry,
        &without,
        &bytes,
        &operator(),
        &[(
            "sha256",
            "component.sha256 is missing; fill in the component's sha256 (cargo xtask build-plugins does)",
        )],
    );
}

#[test]
fn the_size_cap_is_checked_first() {
    let dir = tempfile::tempdir().expect("temp dir");
    let registry = Registry::open(
        dir.path(),
        RegistryConfig {
            max_component_bytes: 1000,
            ..RegistryConfig::default()
        },
    )
    .expect("open");
    let (text, bytes) = template();
    assert_refused(
        &registry,
        &text,
        &bytes,
        &operator(),
        &[(
            "size",
            &format!("the component is {} bytes; the limit is 1000", bytes.len()),
        )],
    );
}

#[test]
fn bytes_that_are_not_a_component_are_refused() {
    let (_dir, registry) = registry();
    let garbage = b"not wasm at all".to_vec();
    assert_refused(
        &registry,
        &manifest("notes", "1.0.0", "standard", &[], "", &garbage),
        &garbage,
        &operator(),
        &[("component", "the file is not WebAssembly")],
    );
    let core = wat::parse_str("(module)").expect("core module");
    assert_refused(
        &registry,
        &manifest("notes", "1.0.0", "standard", &[], "", &core),
        &core,
        &operator(),
        &[(
            "component",
            "the file is a core WebAssembly module, not a component; build for wasm32-wasip2",
        )],
    );
}

#[test]
fn an_invalid_manifest_is_reported_with_the_component_problems_together() {
    let (_dir, registry) = registry();
    let garbage = b"junk".to_vec();
    let text =
        manifest("notes", "1.0.0", "standard", &[], "", &garbage).replace("id = \"notes\"", "id = \"Notes\"");
    assert_refused(
        &registry,
        &text,
        &garbage,
        &operator(),
        &[
            (
                "manifest",
                "module.id: `Notes` is not kebab-case; use lower-case letters, digits and single dashes, starting with a letter",
            ),
            ("component", "the file is not WebAssembly"),
        ],
    );
}

#[test]
fn the_component_must_export_the_world_at_an_accepted_version() {
    let (_dir, registry) = registry();
    let empty = wat::parse_str("(component)").expect("empty component");
    assert_refused(
        &registry,
        &manifest("notes", "1.0.0", "standard", &[], "", &empty),
        &empty,
        &operator(),
        &[(
            "interface",
            "the component does not export `modhost:module/handler`; a module must export the world's handler and lifecycle (use modhost_sdk::export_module!)",
        )],
    );
    let future = component_for("2.0.0", &[], "v2");
    assert_refused(
        &registry,
        &manifest("notes", "1.0.0", "standard", &[], "", &future),
        &future,
        &operator(),
        &[
            (
                "interface",
                "the component targets modhost:module@2.0.0, which this host does not implement (it implements modhost:module@1.0.0)",
            ),
            (
                "interface",
                "the component targets modhost:module@2.0.0, but module.api is `^1.0`; rebuild it or change api",
            ),
        ],
    );
}

#[test]
fn imports_must_be_provided_and_granted() {
    let (_dir, registry) = registry();
    let bytes = component_for(
        "1.0.0",
        &[
            "modhost:module/kv@1.0.0",
            "wasi:http/outgoing-handler@0.2.6",
            "wasi:cli/stdout@0.2.6",
            "modhost:module/secrets@1.0.0",
        ],
        "imports",
    );
    assert_refused(
        &registry,
        &manifest("notes", "1.0.0", "standard", &[], "", &bytes),
        &bytes,
        &operator(),
        &[
            (
                "interface",
                "the component imports `modhost:module/kv@1.0.0` but module.capabilities does not grant `kv`; add it or stop using it",
            ),
            (
                "interface",
                "import `wasi:http/outgoing-handler@0.2.6` is not provided to modules (allowed: modhost:module capabilities and WASI clocks, random, cli and io)",
            ),
            (
                "interface",
                "import `modhost:module/secrets@1.0.0` is not an interface of modhost:module",
            ),
        ],
    );
    let granted = manifest("notes", "1.0.0", "standard", &[], "", &bytes)
        .replace("capabilities = []", "capabilities = [\"kv\"]");
    let error = registry
        .publish(upload(&granted, &bytes, &operator()))
        .expect_err("still refused");
    let RegistryError::UploadRejected { problems } = error else {
        panic!("unexpected")
    };
    assert_eq!(
        problems.len(),
        2,
        "granting kv removes exactly that problem: {problems:?}"
    );
}

#[test]
fn ownership_rules_hold() {
    let (_dir, registry) = registry();
    tenant(&registry, "banban", TenantKind::Custom);
    tenant(&registry, "acme", TenantKind::Standard);
    tenant(&registry, "zara", TenantKind::Custom);
    let bytes = component("own");
    let standard = manifest("grid", "1.0.0", "standard", &[], "", &bytes);
    let custom = manifest("grid", "1.0.0", "custom", &[], "", &bytes);
    let as_tenant = Publisher::Tenant("banban".into());
    assert_refused(
        &registry,
        &standard,
        &bytes,
        &as_tenant,
        &[(
            "owner",
            "standard modules are published by operators; publish yours with kind = \"custom\"",
        )],
    );
    assert_refused(
        &registry,
        &custom,
        &bytes,
        &operator(),
        &[("owner", "a custom module needs an owner tenant; name one")],
    );
    assert_refused(
        &registry,
        &custom,
        &bytes,
        &Publisher::Tenant("acme".into()),
        &[(
            "owner",
            "tenant `acme` is a standard client; only custom tenants own custom modules",
        )],
    );
    assert_refused(
        &registry,
        &custom,
        &bytes,
        &Publisher::Tenant("ghost".into()),
        &[("owner", "tenant `ghost` does not exist")],
    );

    let published = registry
        .publish(upload(&custom, &bytes, &as_tenant))
        .expect("banban owns grid");
    assert_eq!(published.version.owner.as_deref(), Some("banban"));
    let next = component("own-2");
    let by_other = manifest("grid", "1.1.0", "custom", &[], "", &next);
    assert_refused(
        &registry,
        &by_other,
        &next,
        &Publisher::Tenant("zara".into()),
        &[(
            "owner",
            "module id `grid` belongs to another tenant; choose another id",
        )],
    );
    let as_standard = manifest("grid", "1.1.0", "standard", &[], "", &next);
    assert_refused(
        &registry,
        &as_standard,
        &next,
        &operator(),
        &[(
            "owner",
            "module `grid` is published as a custom module; keep its kind or choose another id",
        )],
    );
    assert!(
        registry
            .versions(None, Some("zara"))
            .expect("versions")
            .is_empty(),
        "custom modules are invisible to others"
    );
    assert_eq!(
        registry.versions(None, Some("banban")).expect("versions").len(),
        1
    );
    let invisible = registry.version("grid", &version("1.0.0"), Some("zara"));
    assert!(matches!(invisible, Err(RegistryError::VersionNotFound { .. })));
}

#[test]
fn refusals_are_audited() {
    let (_dir, registry) = registry();
    let garbage = b"junk".to_vec();
    let _ = registry.publish(upload(
        &manifest("notes", "1.0.0", "standard", &[], "", &garbage),
        &garbage,
        &operator(),
    ));
    let entries = registry.audit(&Default::default()).expect("audit");
    let last = entries.last().expect("an entry");
    assert_eq!(
        (last.action.as_str(), last.outcome),
        ("module.publish", modhost_registry::AuditOutcome::Failed)
    );
    assert!(
        last.detail
            .as_deref()
            .unwrap_or_default()
            .contains("the file is not WebAssembly")
    );
}
