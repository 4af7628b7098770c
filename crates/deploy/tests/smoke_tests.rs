//! The deploy pipeline's smoke tests (`[[tests]]`) on the real on-disk store and the real template: a
//! failing test refuses the promotion and changes nothing; passing tests never touch tenant data.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "test code: a failed expectation is a failed test"
)]

mod support;

use modhost_deploy::DeployError;
use modhost_registry::{AuditOutcome, AuditQuery, TenantKind};
use support::*;

/// template 0.2.0 whose first smoke test expects a greeting the module never gives.
fn with_a_failing_smoke_test() -> (String, Vec<u8>) {
    let (text, bytes) = variant("template@0.1.0", "0.2.0");
    let broken = text.replacen(
        r#"json = { message = "hello, world" }"#,
        r#"json = { message = "hola, world" }"#,
        1,
    );
    assert_ne!(
        broken, text,
        "the template's smoke test changed; update this test"
    );
    (broken, bytes)
}

#[tokio::test]
async fn a_failing_smoke_test_refuses_the_promotion_and_changes_nothing() {
    let host = ModuleHost::start();
    host.tenant("acme", TenantKind::Standard);
    host.publish("template@0.1.0", None);
    publish(&host.registry, &with_a_failing_smoke_test());
    host.promote("acme", "template", "0.1.0")
        .await
        .expect("0.1.0 passes");
    host.get("acme", "template", "/hello/ana").await.expect(200);

    let error = host
        .promote("acme", "template", "0.2.0")
        .await
        .expect_err("0.2.0 fails its smoke test");
    assert!(matches!(error, DeployError::SmokeTestFailed { .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        "template@0.2.0 failed its smoke tests, so it was not promoted: smoke test `greets` failed: \
         the response JSON differs at `$.message`: expected \"hola, world\", found a string"
    );

    let deployment = host.registry.deployment("acme", "template").expect("deployment");
    assert_eq!(deployment.active, Some(version("0.1.0")));
    let serving = host.loader.serving("acme", "template").await.expect("serving");
    assert_eq!(serving.version, version("0.1.0"));
    let visits = host.get("acme", "template", "/hello/ana").await.expect(200);
    assert_eq!(visits["visits"], 2, "the tenant's data is intact");

    let audit = host
        .registry
        .audit(&AuditQuery {
            action: Some("deployment.promote".to_owned()),
            ..AuditQuery::default()
        })
        .expect("audit");
    let failed = audit
        .iter()
        .find(|entry| entry.outcome == AuditOutcome::Failed)
        .expect("the refused promotion is audited");
    assert_eq!(failed.detail.as_deref(), Some(error.to_string().as_str()));
}

#[tokio::test]
async fn smoke_tests_run_on_a_scratch_store_and_never_touch_the_tenants_data() {
    let host = ModuleHost::start();
    host.tenant("acme", TenantKind::Standard);
    host.publish("template@0.1.0", None);
    publish(&host.registry, &variant("template@0.1.0", "0.2.0"));
    host.promote("acme", "template", "0.1.0").await.expect("0.1.0");
    // The smoke test greets `world`, which counts a visit in the store it runs against.
    host.promote("acme", "template", "0.2.0").await.expect("0.2.0");
    let reply = host.get("acme", "template", "/hello/world").await.expect(200);
    assert_eq!(
        reply["visits"], 1,
        "no smoke-test visit reached the tenant's data"
    );
    assert_eq!(
        host.registry
            .kv_list("acme", "template", "", None, 100)
            .expect("list"),
        ["visits/world"],
        "only the real visit is stored"
    );
}
