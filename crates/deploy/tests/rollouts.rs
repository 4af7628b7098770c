//! The rollout driver resuming from what the registry recorded, on a real on-disk registry with the real `template` module: a tenant marked in flight is promoted at most once, whether the crash came before or after its promote.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "test code: a failed expectation is a failed test"
)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use modhost_deploy::{Loader, RegistryKvStore};
use modhost_registry::{NewRollout, Registry, Rollout, RolloutState};
use modhost_runtime::{Runtime, RuntimeConfig};
use support::*;

/// Runs the driver until rollout `id` is no longer running (at most 10 s).
async fn drive_until_finished(loader: &Loader, registry: &Registry, id: u64) -> Rollout {
    let driver = loader.drive_rollouts();
    for _ in 0..200 {
        let rollout = registry.rollout(id).expect("rollout");
        if rollout.state != RolloutState::Running {
            driver.abort();
            return rollout;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("rollout {id} did not finish");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_in_flight_is_promoted_once_whether_the_crash_came_before_or_after_its_promote() {
    let (_dir, registry) = registry();
    publish(&registry, &built("template@0.1.0"));
    publish(&registry, &variant("template@0.1.0", "0.1.1"));
    let runtime = Runtime::new(
        RuntimeConfig::default(),
        Arc::new(RegistryKvStore(registry.clone())),
    )
    .expect("runtime");
    let loader = Loader::start(runtime, registry.clone()).expect("loader");
    for id in ["a1", "a2", "b1"] {
        tenant(&registry, id);
        registry
            .set_ring(
                id,
                Some(if id.starts_with('a') { "alpha" } else { "beta" }),
                OPERATOR,
            )
            .expect("ring");
        loader
            .promote(id, "template", &version("0.1.0"), OPERATOR)
            .await
            .expect("0.1.0");
    }
    let target = version("0.1.1");
    let mut rollout = registry
        .create_rollout(
            NewRollout {
                module: "template".into(),
                version: target.clone(),
                rings: vec!["alpha".into(), "beta".into()],
                soak_ms: 0,
                watch_ms: Some(0),
            },
            OPERATOR,
        )
        .expect("rollout");
    // As a crash would leave it: a1 was marked in flight and promoted, but
    // not recorded as done.
    rollout.in_flight = Some("a1".into());
    registry.save_rollout(&rollout, None).expect("saved");
    loader
        .promote("a1", "template", &target, "system:rollout-before-the-crash")
        .await
        .expect("a1");

    let finished = drive_until_finished(&loader, &registry, rollout.id).await;
    assert_eq!(finished.state, RolloutState::Completed, "{finished:?}");
    let done: Vec<(&str, &str)> = finished
        .done
        .iter()
        .map(|done| (done.tenant.as_str(), done.outcome.as_str()))
        .collect();
    assert_eq!(done, [("a1", "promoted"), ("a2", "promoted"), ("b1", "promoted")]);
    for id in ["a1", "a2", "b1"] {
        let deployment = registry.deployment(id, "template").expect("deployment");
        assert_eq!(deployment.active, Some(target.clone()));
        let promotes = deployment
            .history
            .iter()
            .filter(|event| event.to.as_ref() == Some(&target))
            .count();
        assert_eq!(promotes, 1, "{id} was promoted once");
    }

    // And the other case: marked in flight, crashed before its promote.
    publish(&registry, &variant("template@0.1.0", "0.1.2"));
    let target = version("0.1.2");
    let mut rollout = registry
        .create_rollout(
            NewRollout {
                module: "template".into(),
                version: target.clone(),
                rings: vec!["alpha".into()],
                soak_ms: 0,
                watch_ms: Some(0),
            },
            OPERATOR,
        )
        .expect("rollout");
    rollout.in_flight = Some("a1".into());
    registry.save_rollout(&rollout, None).expect("saved");
    let finished = drive_until_finished(&loader, &registry, rollout.id).await;
    assert_eq!(finished.state, RolloutState::Completed, "{finished:?}");
    for id in ["a1", "a2"] {
        let deployment = registry.deployment(id, "template").expect("deployment");
        assert_eq!(deployment.active, Some(target.clone()));
        let promotes = deployment
            .history
            .iter()
            .filter(|event| event.to.as_ref() == Some(&target))
            .count();
        assert_eq!(promotes, 1, "{id} was promoted once");
    }
    assert_eq!(
        registry.deployment("b1", "template").expect("b1").active,
        Some(version("0.1.1")),
        "beta was not in this rollout"
    );
}
