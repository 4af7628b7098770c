//! Resident versions: identical bytes share one compiled artefact; past `max_resident_versions` the least recently used idle version is evicted and loads again on its next call; a version with a call in flight is never evicted.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "test code: a failed expectation is a failed test"
)]

mod support;

use std::sync::Arc;

use modhost_deploy::{Loader, RegistryKvStore};
use modhost_registry::Registry;
use modhost_runtime::{Method, Runtime, RuntimeConfig};
use support::*;

fn runtime(registry: &Registry, cache: &std::path::Path) -> Runtime {
    let config = RuntimeConfig {
        compile_cache_dir: Some(cache.to_path_buf()),
        ..RuntimeConfig::default()
    };
    Runtime::new(config, Arc::new(RegistryKvStore(registry.clone()))).expect("runtime")
}

/// The template republished as `version` with the very same component bytes.
fn same_bytes(version: &str) -> (String, Vec<u8>) {
    let (text, bytes) = built("template@0.1.0");
    let text = text.replacen("version = \"0.1.0\"", &format!("version = \"{version}\""), 1);
    (text, bytes)
}

/// Tenant `tenant`, running template `version`, active in the registry.
fn activate(registry: &Registry, tenant_id: &str, version_text: &str) {
    tenant(registry, tenant_id);
    registry
        .promote(tenant_id, "template", &version(version_text), OPERATOR)
        .expect("activate");
}

/// `GET /hello/{tenant}` through the loader: the status and the body.
async fn hello(loader: &Loader, tenant: &str) -> (u16, String) {
    let serving = loader.serving(tenant, "template").await.expect("serving");
    let response = loader
        .call(
            &serving,
            &caller(tenant),
            request(Method::Get, &format!("/hello/{tenant}"), ""),
        )
        .await
        .expect("call");
    (
        response.status,
        String::from_utf8_lossy(&response.body).into_owned(),
    )
}

fn route(loader: &Loader, tenant: &str) -> modhost_deploy::RouteStatus {
    loader
        .status()
        .into_iter()
        .find(|status| status.tenant == tenant)
        .expect("a route")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_with_identical_bytes_share_one_compiled_artefact() {
    let (dir, registry) = registry();
    publish(&registry, &built("template@0.1.0"));
    publish(&registry, &same_bytes("0.2.0"));
    activate(&registry, "acme", "0.1.0");
    activate(&registry, "globex", "0.2.0");
    let loader = Loader::start(runtime(&registry, &dir.path().join("compiled")), registry).expect("loader");
    let first = loader.serving("acme", "template").await.expect("0.1.0");
    let second = loader.serving("globex", "template").await.expect("0.2.0");
    assert_eq!(
        (first.version.to_string(), second.version.to_string()),
        ("0.1.0".to_owned(), "0.2.0".to_owned())
    );
    assert!(first.ready.shares_compiled_code(&second.ready));
    assert_eq!(first.ready.sha256(), second.ready.sha256());
    let stats = loader.runtime().cache_stats();
    assert_eq!(
        (stats.compiled, stats.loaded, stats.shared),
        (1, 0, 1),
        "one compile, the second version reused it"
    );
    assert_eq!(loader.runtime().compiled_in_memory(), 1);
    assert_eq!(loader.resident_versions(), 2);
    assert_eq!(hello(&loader, "acme").await.0, 200);
    assert_eq!(hello(&loader, "globex").await.0, 200);
}

/// Three tenants running three versions with distinct bytes, at most two resident.
async fn three_routes(dir: &tempfile::TempDir, registry: &Registry) -> Loader {
    publish(registry, &built("template@0.1.0"));
    publish(registry, &variant("template@0.1.0", "0.2.0"));
    publish(registry, &variant("template@0.1.0", "0.3.0"));
    activate(registry, "a", "0.1.0");
    activate(registry, "b", "0.2.0");
    activate(registry, "c", "0.3.0");
    let loader =
        Loader::start(runtime(registry, &dir.path().join("compiled")), registry.clone()).expect("loader");
    loader.set_max_resident_versions(2);
    assert_eq!(loader.max_resident_versions(), 2);
    loader
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_cap_the_least_recently_used_version_is_evicted_and_served_again() {
    let (dir, registry) = registry();
    let loader = three_routes(&dir, &registry).await;
    let (v1, v2, v3) = (version("0.1.0"), version("0.2.0"), version("0.3.0"));
    assert_eq!(hello(&loader, "a").await.0, 200);
    assert_eq!(hello(&loader, "b").await.0, 200);
    // `a` used again: `b` is now the least recently used.
    let (status, first_body) = hello(&loader, "a").await;
    assert_eq!(status, 200);
    assert_eq!(loader.eviction_count(), 0);
    assert_eq!(hello(&loader, "c").await.0, 200);

    assert_eq!(loader.eviction_count(), 1);
    assert_eq!(loader.resident_versions(), 2);
    assert!(loader.is_resident("template", &v1) && loader.is_resident("template", &v3));
    assert!(!loader.is_resident("template", &v2));
    // The evicted route still says what it serves, and is not resident.
    let evicted = route(&loader, "b");
    assert_eq!(evicted.serving, Some(v2.clone()));
    assert!(!evicted.resident && evicted.problem.is_none() && evicted.kv_quota.is_some());
    assert!(route(&loader, "a").resident && route(&loader, "c").resident);
    assert!(loader.unready_routes(&modhost_deploy::WarmUp::new()).is_empty());

    // Its next call loads it again (warm, from the compile cache) and is served correctly.
    let (status, body) = hello(&loader, "b").await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("\"visits\":2"),
        "b's data survived the eviction: {body}"
    );
    let stats = loader.runtime().cache_stats();
    assert_eq!(
        (stats.compiled, stats.loaded),
        (3, 1),
        "a warm load, not a compile"
    );
    assert!(route(&loader, "b").resident);
    // `a` (used before `c`) made room for it.
    assert!(!loader.is_resident("template", &v1) && !route(&loader, "a").resident);
    assert_eq!(loader.eviction_count(), 2);
    assert!(first_body.contains("\"visits\":2"), "{first_body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_with_a_call_in_flight_is_never_evicted() {
    let (dir, registry) = registry();
    let loader = three_routes(&dir, &registry).await;
    let (v1, v2, v3) = (version("0.1.0"), version("0.2.0"), version("0.3.0"));
    let a = loader.serving("a", "template").await.expect("a");
    assert_eq!(hello(&loader, "b").await.0, 200);
    // `a` is the least recently used, but a call is running on it.
    let in_flight = a.ready.enter();
    assert_eq!(a.ready.in_flight(), 1);
    assert_eq!(hello(&loader, "c").await.0, 200);
    assert!(loader.is_resident("template", &v1), "the busy version stayed");
    assert!(!loader.is_resident("template", &v2), "the idle one went instead");
    assert!(loader.is_resident("template", &v3));
    // The call in flight finishes on its version.
    let response = loader
        .call(&a, &caller("a"), request(Method::Get, "/hello/a", ""))
        .await
        .expect("call");
    assert_eq!(response.status, 200);
    drop(in_flight);
    assert_eq!(a.ready.in_flight(), 0);

    // Every version busy: the cap is exceeded rather than a busy version dropped.
    let c = loader.serving("c", "template").await.expect("c");
    let (busy_a, busy_c) = (a.ready.enter(), c.ready.enter());
    assert_eq!(hello(&loader, "b").await.0, 200);
    assert_eq!(loader.resident_versions(), 3);
    assert!(loader.is_resident("template", &v1) && loader.is_resident("template", &v3));
    drop((busy_a, busy_c));
}
