//! The loader end to end on a real on-disk registry and real components: hot swap, fallback, compile cache reuse.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "test code: a failed expectation is a failed test"
)]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use modhost_deploy::{Loader, RegistryKvStore};
use modhost_registry::RollbackTarget;
use modhost_runtime::{Method, Runtime, RuntimeConfig};
use support::*;

fn runtime(registry: &modhost_registry::Registry, cache: Option<std::path::PathBuf>) -> Runtime {
    let config = RuntimeConfig {
        compile_cache_dir: cache,
        ..RuntimeConfig::default()
    };
    Runtime::new(config, Arc::new(RegistryKvStore(registry.clone()))).expect("runtime")
}

/// acme runs template 0.1.0; 0.2.0 (distinct bytes) is published too.
fn two_versions() -> (tempfile::TempDir, modhost_registry::Registry) {
    let (dir, registry) = registry();
    tenant(&registry, "acme");
    publish(&registry, &built("template@0.1.0"));
    publish(&registry, &variant("template@0.1.0", "0.2.0"));
    (dir, registry)
}

async fn hello(loader: &Loader) -> Result<u16, String> {
    let serving = loader
        .serving("acme", "template")
        .await
        .map_err(|error| error.to_string())?;
    let response = loader
        .call(&serving, &caller("acme"), request(Method::Get, "/hello/swap", ""))
        .await
        .map_err(|error| error.to_string())?;
    Ok(response.status)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_swap_during_a_stream_of_calls_fails_none_of_them() {
    let (_dir, registry) = two_versions();
    let loader = Loader::start(runtime(&registry, None), registry.clone()).expect("loader");
    loader
        .promote("acme", "template", &version("0.1.0"), OPERATOR)
        .await
        .expect("promote 0.1.0");
    // Make both versions ready first so the flips measure swapping, not compiling.
    loader
        .promote("acme", "template", &version("0.2.0"), OPERATOR)
        .await
        .expect("promote 0.2.0");

    let done = Arc::new(AtomicBool::new(false));
    let succeeded = Arc::new(AtomicU64::new(0));
    let mut callers = Vec::new();
    for _ in 0..4 {
        let (loader, done, succeeded) = (loader.clone(), done.clone(), succeeded.clone());
        callers.push(tokio::spawn(async move {
            let mut failures = Vec::new();
            while !done.load(Ordering::Relaxed) {
                match hello(&loader).await {
                    Ok(200) => {
                        succeeded.fetch_add(1, Ordering::Relaxed);
                    }
                    other => failures.push(format!("{other:?}")),
                }
            }
            failures
        }));
    }
    let swaps_before = loader.swap_count();
    for _ in 0..20 {
        loader
            .rollback("acme", "template", &RollbackTarget::Previous, OPERATOR)
            .await
            .expect("rollback");
        loader
            .promote("acme", "template", &version("0.2.0"), OPERATOR)
            .await
            .expect("promote");
    }
    done.store(true, Ordering::Relaxed);
    let mut failures = Vec::new();
    for caller in callers {
        failures.extend(caller.await.expect("caller task"));
    }
    assert_eq!(failures, Vec::<String>::new(), "no call failed because of a swap");
    assert!(
        succeeded.load(Ordering::Relaxed) > 0,
        "calls ran during the swaps"
    );
    assert_eq!(loader.swap_count() - swaps_before, 40);
    assert_eq!(
        loader.serving("acme", "template").await.expect("serving").version,
        version("0.2.0")
    );
    let history = registry
        .deployment("acme", "template")
        .expect("deployment")
        .history;
    assert_eq!(
        history.len(),
        42,
        "every acknowledged flip is in the durable history"
    );
}

#[tokio::test]
async fn a_corrupted_active_blob_falls_back_to_the_previous_version() {
    let (dir, registry) = two_versions();
    {
        let loader = Loader::start(runtime(&registry, None), registry.clone()).expect("loader");
        loader
            .promote("acme", "template", &version("0.1.0"), OPERATOR)
            .await
            .expect("promote");
        loader
            .promote("acme", "template", &version("0.2.0"), OPERATOR)
            .await
            .expect("promote");
    }
    let active = registry
        .version("template", &version("0.2.0"), None)
        .expect("record");
    std::fs::write(
        registry.blobs().location(&active.sha256).expect("location"),
        b"bit rot",
    )
    .expect("corrupt");

    // A restart: nothing is loaded yet, so the first request loads the (corrupt) active version.
    let loader = Loader::start(runtime(&registry, None), registry.clone()).expect("loader");
    assert_eq!(hello(&loader).await, Ok(200), "requests keep being served");
    let serving = loader.serving("acme", "template").await.expect("serving");
    assert_eq!(serving.version, version("0.1.0"));
    let reason = serving.fallback_reason.clone().expect("a fallback is reported");
    assert!(
        reason.starts_with("template@0.2.0 cannot be loaded (the stored component"),
        "{reason}"
    );
    assert!(reason.ends_with("serving 0.1.0 instead"), "{reason}");
    assert_eq!(loader.fallback_count(), 1);
    let status = loader.status();
    assert_eq!(status.len(), 1);
    assert_eq!(
        (status[0].active.clone(), status[0].serving.clone()),
        (version("0.2.0"), Some(version("0.1.0")))
    );
    drop(dir);
}

#[tokio::test]
async fn a_route_that_fails_to_load_refuses_cheaply_then_retries_and_recovers() {
    let (dir, registry) = two_versions();
    {
        let loader = Loader::start(runtime(&registry, None), registry.clone()).expect("loader");
        loader
            .promote("acme", "template", &version("0.1.0"), OPERATOR)
            .await
            .expect("promote");
    }
    let active = registry
        .version("template", &version("0.1.0"), None)
        .expect("record");
    let blob = registry.blobs().location(&active.sha256).expect("location");
    let good_bytes = std::fs::read(&blob).expect("the blob");
    std::fs::write(&blob, b"bit rot").expect("corrupt");

    // A restart: the only version cannot load and there is nothing to fall back to.
    let loader = Loader::start(runtime(&registry, None), registry.clone()).expect("loader");
    let first = loader
        .serving("acme", "template")
        .await
        .expect_err("nothing loads");
    let first = first.to_string();
    assert!(
        first.starts_with(
            "no version of `template` is ready for tenant `acme`: template@0.1.0 cannot be loaded"
        ),
        "{first}"
    );
    assert!(first.ends_with("(failed 1 time; next attempt in 1 s)"), "{first}");
    // Within the wait a request is refused from the remembered failure: the
    // blob is repaired, but no load is attempted until the retry time.
    std::fs::write(&blob, &good_bytes).expect("repair");
    let second = loader
        .serving("acme", "template")
        .await
        .expect_err("still waiting");
    assert!(
        second.to_string().contains("(failed 1 time; next attempt in"),
        "{second}"
    );
    let status = loader.status();
    assert_eq!(status.len(), 1);
    assert_eq!(status[0].serving, None);
    let problem = status[0].problem.clone().expect("the failure is in status");
    assert!(
        problem.starts_with("template@0.1.0 cannot be loaded"),
        "{problem}"
    );
    // After the wait the route loads again, and the failure is gone from status.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(hello(&loader).await, Ok(200));
    let status = loader.status();
    assert_eq!(
        (status[0].serving.clone(), status[0].problem.clone()),
        (Some(version("0.1.0")), None)
    );
    drop(dir);
}

#[tokio::test]
async fn a_restart_reuses_compiled_code() {
    let (dir, registry) = two_versions();
    let cache = dir.path().join("compiled");
    {
        let runtime = runtime(&registry, Some(cache.clone()));
        let loader = Loader::start(runtime.clone(), registry.clone()).expect("loader");
        loader
            .promote("acme", "template", &version("0.1.0"), OPERATOR)
            .await
            .expect("promote");
        assert_eq!(hello(&loader).await, Ok(200));
        let stats = runtime.cache_stats();
        assert_eq!(
            (stats.compiled, stats.loaded),
            (1, 0),
            "the first run compiles once"
        );
    }
    let runtime = runtime(&registry, Some(cache));
    let loader = Loader::start(runtime.clone(), registry.clone()).expect("loader");
    assert_eq!(hello(&loader).await, Ok(200));
    let stats = runtime.cache_stats();
    assert_eq!(
        (stats.compiled, stats.loaded),
        (0, 1),
        "after a restart nothing is recompiled"
    );
}

#[tokio::test]
async fn config_changes_reach_the_running_route_without_recompiling() {
    let (_dir, registry) = two_versions();
    let runtime = runtime(&registry, None);
    let loader = Loader::start(runtime.clone(), registry.clone()).expect("loader");
    loader
        .promote("acme", "template", &version("0.1.0"), OPERATOR)
        .await
        .expect("promote");
    let greeting = serde_json::json!({"greeting": "olá"})
        .as_object()
        .cloned()
        .expect("object");
    registry
        .set_config("acme", "template", greeting, OPERATOR)
        .expect("config");
    let mut message = String::new();
    for _ in 0..100 {
        let serving = loader.serving("acme", "template").await.expect("serving");
        let response = loader
            .call(&serving, &caller("acme"), request(Method::Get, "/hello/ana", ""))
            .await
            .expect("call");
        let body: serde_json::Value = serde_json::from_slice(&response.body).expect("json");
        message = body["message"].as_str().expect("message").to_owned();
        if message == "olá, ana" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(
        message, "olá, ana",
        "the registry's config change reached the route"
    );
    assert_eq!(runtime.cache_stats().compiled, 1);
    let unknown = loader
        .serving("ghost", "template")
        .await
        .expect_err("unknown tenant");
    assert_eq!(unknown.to_string(), "tenant `ghost` does not exist");
    let disabled = loader
        .serving("acme", "inventory")
        .await
        .expect_err("not enabled");
    assert_eq!(
        disabled.to_string(),
        "module `inventory` is not enabled for tenant `acme`"
    );
}
