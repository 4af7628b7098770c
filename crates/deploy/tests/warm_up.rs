//! The warm-up on a real on-disk registry: every route loaded without a request, a route that cannot load reported as failed, the others served.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "test code: a failed expectation is a failed test"
)]

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use modhost_deploy::{Loader, RegistryKvStore, UnreadyState, WarmUp};
use modhost_runtime::{Runtime, RuntimeConfig};
use support::*;

fn runtime(registry: &modhost_registry::Registry) -> Runtime {
    Runtime::new(
        RuntimeConfig::default(),
        Arc::new(RegistryKvStore(registry.clone())),
    )
    .expect("runtime")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_warm_up_loads_every_route_and_reports_the_one_that_cannot_load() {
    let (_dir, registry) = registry();
    publish(&registry, &built("template@0.1.0"));
    publish(&registry, &variant("template@0.1.0", "0.2.0"));
    for tenant_id in ["acme", "globex", "initech"] {
        tenant(&registry, tenant_id);
    }
    {
        let loader = Loader::start(runtime(&registry), registry.clone()).expect("loader");
        for tenant_id in ["globex", "initech"] {
            loader
                .promote(tenant_id, "template", &version("0.1.0"), OPERATOR)
                .await
                .expect("promote");
        }
        // acme only ever ran 0.2.0: nothing to fall back to.
        loader
            .promote("acme", "template", &version("0.2.0"), OPERATOR)
            .await
            .expect("promote");
    }
    let broken = registry
        .version("template", &version("0.2.0"), None)
        .expect("record");
    std::fs::write(
        registry.blobs().location(&broken.sha256).expect("location"),
        b"bit rot",
    )
    .expect("corrupt");

    // A restart: nothing is loaded until the warm-up runs.
    let loader = Loader::start(runtime(&registry), registry.clone()).expect("loader");
    let warm_up = WarmUp::new();
    assert_eq!(loader.unready_routes(&warm_up).len(), 3);
    assert!(
        loader
            .unready_routes(&warm_up)
            .iter()
            .all(|route| route.state == UnreadyState::NotLoaded)
    );
    let task = loader.warm_up(&warm_up, 2);
    let deadline = Instant::now() + Duration::from_secs(120);
    while !warm_up.finished() {
        assert!(Instant::now() < deadline, "the warm-up never finished");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let unready = loader.unready_routes(&warm_up);
    assert_eq!(unready.len(), 1, "{unready:?}");
    assert_eq!(
        (
            unready[0].tenant.as_str(),
            unready[0].module.as_str(),
            unready[0].state
        ),
        ("acme", "template", UnreadyState::Failed)
    );
    let reason = unready[0].reason.clone().expect("the failure");
    assert!(reason.starts_with("template@0.2.0 cannot be loaded"), "{reason}");
    let serving: Vec<_> = loader
        .status()
        .into_iter()
        .map(|route| (route.tenant, route.serving))
        .collect();
    assert_eq!(
        serving,
        [
            ("acme".to_owned(), None),
            ("globex".to_owned(), Some(version("0.1.0"))),
            ("initech".to_owned(), Some(version("0.1.0"))),
        ]
    );
    // Fixed by a promote to a version that loads.
    loader
        .promote("acme", "template", &version("0.1.0"), OPERATOR)
        .await
        .expect("promote");
    assert_eq!(loader.unready_routes(&warm_up), []);
    task.abort();
}
