//! In-process calls: a fresh `Store` + instantiate + one call per request, on memory and on-disk kv.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use modhost_deploy::{Loader, RegistryKvStore};
use modhost_registry::{Publisher, TenantKind};
use modhost_runtime::kv::MemoryKvStore;
use modhost_runtime::{Method, ModuleSpec, Runtime, RuntimeConfig};

use crate::support::{self, ACTOR, Modules, caller, request};
use crate::{Plan, Results};

/// Runs both in-process series.
pub async fn run(modules: &Modules, plan: Plan, results: &mut Results) -> anyhow::Result<()> {
    memory_kv(modules, plan, results).await?;
    registry_kv(modules, plan, results).await
}

/// `GET /hello/bench` (reads and writes the visit counter) with `MemoryKvStore`.
async fn memory_kv(modules: &Modules, plan: Plan, results: &mut Results) -> anyhow::Result<()> {
    let runtime = Runtime::new(RuntimeConfig::default(), Arc::new(MemoryKvStore::new()))?;
    let manifest = modhost_manifest::parse(&modules.template_text)
        .map_err(|error| anyhow::anyhow!("template manifest: {error:?}"))?;
    let ready = Arc::new(runtime.prepare(ModuleSpec::from_manifest(&manifest), &modules.template_bytes)?);
    let config = Arc::new(Vec::new());
    let caller = caller("acme");
    let mut samples = Vec::with_capacity(plan.calls);
    for index in 0..plan.calls + plan.calls / 10 {
        let started = Instant::now();
        let response = runtime
            .call(
                ready.clone(),
                &caller,
                config.clone(),
                request(Method::Get, "/hello/bench", ""),
            )
            .await?;
        let elapsed = started.elapsed();
        anyhow::ensure!(
            response.status == 200,
            "GET /hello/bench answered {}",
            response.status
        );
        // The first tenth warms caches and is not recorded.
        if index >= plan.calls / 10 {
            samples.push(elapsed);
        }
    }
    support::percentiles_us(results, "in_process.trivial", &mut samples);
    Ok(())
}

/// `GET /notes/bench` (one kv read) through the loader with the on-disk `RegistryKvStore`.
async fn registry_kv(modules: &Modules, plan: Plan, results: &mut Results) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let registry = support::open_registry(&dir.path().join("registry"))?;
    support::tenant(&registry, "acme", TenantKind::Standard)?;
    support::publish(
        &registry,
        &(modules.template_text.clone(), modules.template_bytes.clone()),
        &Publisher::Operator { owner: None },
    )?;
    let runtime = Runtime::new(
        RuntimeConfig::default(),
        Arc::new(RegistryKvStore(registry.clone())),
    )?;
    let loader = Loader::start(runtime, registry)?;
    loader
        .promote("acme", "template", &semver::Version::new(0, 1, 0), ACTOR)
        .await
        .context("promote template 0.1.0")?;
    let serving = loader.serving("acme", "template").await?;
    let caller = caller("acme");
    let put = loader
        .call(
            &serving,
            &caller,
            request(Method::Put, "/notes/bench", r#"{"text": "a note to read back"}"#),
        )
        .await?;
    anyhow::ensure!(put.status < 300, "PUT /notes/bench answered {}", put.status);
    let mut samples: Vec<Duration> = Vec::with_capacity(plan.calls);
    for index in 0..plan.calls + plan.calls / 10 {
        let started = Instant::now();
        let response = loader
            .call(&serving, &caller, request(Method::Get, "/notes/bench", ""))
            .await?;
        let elapsed = started.elapsed();
        anyhow::ensure!(
            response.status == 200,
            "GET /notes/bench answered {}",
            response.status
        );
        if index >= plan.calls / 10 {
            samples.push(elapsed);
        }
    }
    support::percentiles_us(results, "in_process.registry_read", &mut samples);
    Ok(())
}
