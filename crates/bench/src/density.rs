//! Loading: cold compile vs warm load from the compile cache; density: many resident versions.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use modhost_deploy::{Loader, RegistryKvStore};
use modhost_registry::{Publisher, TenantKind};
use modhost_runtime::{ModuleSpec, Runtime, RuntimeConfig};

use crate::support::{self, ACTOR, Modules};
use crate::{Plan, Results};

/// Compiles the template into an empty compile cache, then loads it warm from a new runtime.
pub fn compile_cache(modules: &Modules, results: &mut Results) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let manifest = modhost_manifest::parse(&modules.template_text)
        .map_err(|error| anyhow::anyhow!("template manifest: {error:?}"))?;
    let spec = ModuleSpec::from_manifest(&manifest);
    let runtime = |dir: &std::path::Path| {
        let config = RuntimeConfig {
            compile_cache_dir: Some(dir.to_path_buf()),
            ..RuntimeConfig::default()
        };
        Runtime::new(config, Arc::new(modhost_runtime::kv::MemoryKvStore::new()))
    };
    let cold_runtime = runtime(dir.path())?;
    let started = Instant::now();
    cold_runtime.prepare(spec.clone(), &modules.template_bytes)?;
    let cold = started.elapsed();
    anyhow::ensure!(
        cold_runtime.cache_stats().compiled == 1,
        "the cold prepare did not compile"
    );
    // Best of five warm loads, each from a new runtime (an empty in-memory state).
    let mut warm = std::time::Duration::MAX;
    for _ in 0..5 {
        let warm_runtime = runtime(dir.path())?;
        let started = Instant::now();
        warm_runtime.prepare(spec.clone(), &modules.template_bytes)?;
        warm = warm.min(started.elapsed());
        let stats = warm_runtime.cache_stats();
        anyhow::ensure!(
            stats.loaded == 1 && stats.compiled == 0,
            "the warm prepare did not load from the cache"
        );
    }
    results.insert("load.cold_compile_ms".into(), cold.as_secs_f64() * 1e3);
    results.insert("load.warm_cache_ms".into(), warm.as_secs_f64() * 1e3);
    results.insert(
        "load.ratio".into(),
        cold.as_secs_f64() / warm.as_secs_f64().max(1e-9),
    );
    Ok(())
}

/// `plan.tenants` custom tenants, each owning a custom module with distinct bytes, all made ready.
pub async fn density(modules: &Modules, plan: Plan, results: &mut Results) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let registry = support::open_registry(&dir.path().join("registry"))?;
    let setup = Instant::now();
    let ids: Vec<(String, String)> = (0..plan.tenants)
        .map(|index| (format!("dense-t{index:05}"), format!("dense-m{index:05}")))
        .collect();
    for (tenant, module) in &ids {
        support::tenant(&registry, tenant, TenantKind::Custom)?;
        support::publish(
            &registry,
            &modules.custom(module),
            &Publisher::Tenant(tenant.clone()),
        )
        .with_context(|| format!("publish {module}"))?;
    }
    results.insert("density.setup_s".into(), setup.elapsed().as_secs_f64());
    let config = RuntimeConfig {
        compile_cache_dir: Some(dir.path().join("compiled")),
        ..RuntimeConfig::default()
    };
    let runtime = Runtime::new(config, Arc::new(RegistryKvStore(registry.clone())))?;
    let loader = Loader::start(runtime, registry)?;
    let before = support::rss_kib()?;
    let started = Instant::now();
    let version = semver::Version::new(0, 1, 0);
    for (tenant, module) in &ids {
        loader
            .promote(tenant, module, &version, ACTOR)
            .await
            .with_context(|| format!("promote {module} for {tenant}"))?;
    }
    let elapsed = started.elapsed();
    let after = support::rss_kib()?;
    for (tenant, module) in &ids {
        let serving = loader.serving(tenant, module).await?;
        anyhow::ensure!(
            serving.fallback_reason.is_none(),
            "{tenant}/{module} is not ready"
        );
    }
    #[allow(clippy::cast_precision_loss, reason = "counts and KiB")]
    {
        let count = plan.tenants as f64;
        results.insert("density.versions".into(), count);
        results.insert("density.ready_all_s".into(), elapsed.as_secs_f64());
        results.insert(
            "density.ready_each_ms".into(),
            elapsed.as_secs_f64() * 1e3 / count,
        );
        results.insert("density.rss_before_kib".into(), before as f64);
        results.insert("density.rss_after_kib".into(), after as f64);
        results.insert(
            "density.kib_per_version".into(),
            after.saturating_sub(before) as f64 / count,
        );
        results.insert(
            "density.compiled".into(),
            loader.runtime().cache_stats().compiled as f64,
        );
    }
    Ok(())
}
