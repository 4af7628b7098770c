//! Promotions that migrate data, on a real on-disk registry with the real `chaos` module: failure leaves
//! everything as it was; a rollback across a migration restores the data as it was.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "test code: a failed expectation is a failed test"
)]

mod support;

use std::sync::Arc;

use modhost_deploy::{DeployError, Loader, RegistryKvStore};
use modhost_registry::{AuditOutcome, AuditQuery, RollbackTarget};
use modhost_runtime::{CallError, ErrorCode, Method, Runtime, RuntimeConfig};
use support::*;

/// acme runs template 0.1.0 (chaos depends on it) and chaos 1.0.0; chaos 2.0.0 is published.
async fn setup() -> (tempfile::TempDir, modhost_registry::Registry, Loader) {
    let (dir, registry) = registry();
    tenant(&registry, "acme");
    publish(&registry, &built("template@0.1.0"));
    publish(&registry, &built("chaos@1.0.0"));
    publish(&registry, &variant("chaos@1.0.0", "2.0.0"));
    let runtime = Runtime::new(
        RuntimeConfig::default(),
        Arc::new(RegistryKvStore(registry.clone())),
    )
    .expect("runtime");
    let loader = Loader::start(runtime, registry.clone()).expect("loader");
    loader
        .promote("acme", "template", &version("0.1.0"), OPERATOR)
        .await
        .expect("template");
    loader
        .promote("acme", "chaos", &version("1.0.0"), OPERATOR)
        .await
        .expect("chaos 1.0.0");
    (dir, registry, loader)
}

async fn chaos(
    loader: &Loader,
    method: Method,
    path: &str,
    body: &str,
) -> Result<(String, String), CallError> {
    let serving = loader.serving("acme", "chaos").await.expect("serving");
    let response = loader
        .call(&serving, &caller("acme"), request(method, path, body))
        .await?;
    Ok((
        serving.version.to_string(),
        String::from_utf8(response.body).expect("utf-8"),
    ))
}

#[tokio::test]
async fn a_failing_migration_leaves_the_tenant_on_the_old_version_with_its_data_untouched() {
    let (_dir, registry, loader) = setup().await;
    chaos(&loader, Method::Put, "/data/a", "hello")
        .await
        .expect("write");
    chaos(&loader, Method::Put, "/control/fail-migrate", "yes")
        .await
        .expect("arm the failure");

    let error = loader
        .promote("acme", "chaos", &version("2.0.0"), OPERATOR)
        .await
        .expect_err("migration fails");
    let DeployError::MigrationFailed { reason, .. } = &error else {
        panic!("unexpected: {error}")
    };
    assert_eq!(reason, "migration refused: control/fail-migrate is set");

    assert_eq!(
        registry.deployment("acme", "chaos").expect("deployment").active,
        Some(version("1.0.0"))
    );
    assert_eq!(
        chaos(&loader, Method::Get, "/data/a", "").await.expect("read"),
        ("1.0.0".into(), "hello".into())
    );
    assert_eq!(
        registry
            .kv_get("acme", "chaos", "control/migrated-from")
            .expect("kv"),
        None
    );
    let audit = registry
        .audit(&AuditQuery {
            action: Some("deployment.promote".into()),
            ..Default::default()
        })
        .expect("audit");
    let last = audit.last().expect("entry");
    assert_eq!(last.outcome, AuditOutcome::Failed);
    assert_eq!(last.detail.as_deref(), Some(error.to_string().as_str()));
}

#[tokio::test]
async fn a_migration_that_never_returns_is_stopped_at_the_deadline_and_changes_nothing() {
    let (_dir, registry, loader) = setup().await;
    chaos(&loader, Method::Put, "/data/a", "hello")
        .await
        .expect("write");
    // `loop` spins in wasm; `sleep` blocks in WASI: the deadline is wall-clock for both.
    for stuck in ["loop", "sleep"] {
        chaos(&loader, Method::Put, "/control/fail-migrate", stuck)
            .await
            .expect("arm the failure");
        let error = loader
            .promote("acme", "chaos", &version("2.0.0"), OPERATOR)
            .await
            .expect_err("the migration never returns");
        let DeployError::MigrationFailed { reason, .. } = &error else {
            panic!("unexpected: {error}")
        };
        assert_eq!(
            reason, "the module did not answer within its deadline of 200 ms",
            "{stuck}"
        );
        assert_eq!(
            registry.deployment("acme", "chaos").expect("deployment").active,
            Some(version("1.0.0"))
        );
        assert_eq!(
            chaos(&loader, Method::Get, "/data/a", "").await.expect("read"),
            ("1.0.0".into(), "hello".into())
        );
    }
    // The stuck promotions released the module's lock: the next one goes through.
    chaos(&loader, Method::Put, "/control/fail-migrate", "no")
        .await
        .expect("disarm");
    loader
        .promote("acme", "chaos", &version("2.0.0"), OPERATOR)
        .await
        .expect("the promotion after a timed-out one succeeds");
    assert_eq!(
        chaos(&loader, Method::Get, "/data/a", "").await.expect("read"),
        ("2.0.0".into(), "HELLO".into())
    );
}

#[tokio::test]
async fn promote_with_migration_then_rollback_restores_the_old_data() {
    let (_dir, registry, loader) = setup().await;
    chaos(&loader, Method::Put, "/data/a", "hello")
        .await
        .expect("write");

    let promoted = loader
        .promote("acme", "chaos", &version("2.0.0"), OPERATOR)
        .await
        .expect("promote");
    let snapshot = promoted
        .event
        .as_ref()
        .and_then(|event| event.snapshot)
        .expect("the migration changed data, so a snapshot is kept");
    assert_eq!(
        chaos(&loader, Method::Get, "/data/a", "").await.expect("read"),
        ("2.0.0".into(), "HELLO".into())
    );
    assert_eq!(
        registry
            .kv_get("acme", "chaos", "control/migrated-from")
            .expect("kv")
            .as_deref(),
        Some(&b"1.0.0"[..])
    );
    chaos(&loader, Method::Put, "/data/b", "written on 2.0.0")
        .await
        .expect("write after migrating");

    let rolled_back = loader
        .rollback("acme", "chaos", &RollbackTarget::Previous, OPERATOR)
        .await
        .expect("rollback");
    assert_eq!(
        rolled_back.restored_snapshot,
        Some(snapshot),
        "the rollback says it restored the data"
    );
    assert_eq!(
        chaos(&loader, Method::Get, "/data/a", "").await.expect("read"),
        ("1.0.0".into(), "hello".into())
    );
    let missing = chaos(&loader, Method::Get, "/data/b", "")
        .await
        .expect_err("discarded");
    assert!(
        matches!(&missing, CallError::Module(error) if error.code == ErrorCode::NotFound),
        "{missing}"
    );
    let audit = registry
        .audit(&AuditQuery {
            action: Some("deployment.rollback".into()),
            ..Default::default()
        })
        .expect("audit");
    let detail = audit
        .last()
        .and_then(|entry| entry.detail.clone())
        .expect("detail");
    assert!(detail.contains("writes made since were discarded"), "{detail}");
}
