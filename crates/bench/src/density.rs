//! Loading: cold compile vs warm load from the compile cache; density: many resident versions.
//!
//! Density is measured twice, each time on a fresh registry, runtime and
//! loader: `plan.resident` custom module versions that share one
//! component's bytes (one compiled artefact, so what is measured is what
//! residency itself costs per version: routes, manifests, specs, the
//! pre-instance), and `plan.tenants` versions with distinct bytes (each one
//! a cranelift compile: the compile throughput, and the compiled code's own
//! weight). The RSS figures are steady-state: taken after every version is
//! ready, once the allocator has returned freed memory (glibc's
//! `malloc_trim(0)`; elsewhere nothing is trimmed and the figure includes
//! the compiler's leftovers) and RSS has stopped moving; the untrimmed figure
//! right after the loads is kept beside it. The distinct versions are then
//! measured once more on a new runtime and loader (`density.distinct_restart`):
//! all loaded from the compile cache, no compiler in the process.
//!
//! Each measurement then takes one more figure, `idle_*`: the same versions
//! once they have been idle for two sweeps of the runtime's idle-code
//! page-out (what `modhost serve` runs every minute), so their compiled code
//! is no longer resident; RSS settled again the same way.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use modhost_deploy::{Loader, RegistryKvStore};
use modhost_registry::{Publisher, Registry, TenantKind};
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

/// Both density runs: shared bytes at `plan.resident`, distinct bytes at `plan.tenants`.
pub async fn density(modules: &Modules, plan: Plan, results: &mut Results) -> anyhow::Result<()> {
    resident(modules, plan.resident, true, "density.shared", results).await?;
    resident(modules, plan.tenants, false, "density.distinct", results).await
}

/// How many custom modules each density tenant owns.
const MODULES_PER_TENANT: usize = 10;

/// `count` custom module versions, [`MODULES_PER_TENANT`] per tenant, active
/// in the registry before the loader starts, then each made ready through
/// [`Loader::serving`] (as the warm-up does after a restart).
async fn resident(
    modules: &Modules,
    count: usize,
    shared: bool,
    prefix: &str,
    results: &mut Results,
) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let registry = support::open_registry(&dir.path().join("registry"))?;
    let setup = Instant::now();
    let version = semver::Version::new(0, 1, 0);
    let ids: Vec<(String, String)> = (0..count)
        .map(|index| {
            let tenant = format!("dense-t{:05}", index / MODULES_PER_TENANT);
            (tenant, format!("dense-m{index:05}"))
        })
        .collect();
    for (index, (tenant, module)) in ids.iter().enumerate() {
        if index % MODULES_PER_TENANT == 0 {
            support::tenant(&registry, tenant, TenantKind::Custom)?;
        }
        let upload = if shared {
            shared_custom(modules, module)
        } else {
            modules.custom(module)
        };
        support::publish(&registry, &upload, &Publisher::Tenant(tenant.clone()))
            .with_context(|| format!("publish {module}"))?;
        registry
            .promote(tenant, module, &version, ACTOR)
            .with_context(|| format!("activate {module} for {tenant}"))?;
    }
    results.insert(format!("{prefix}.setup_s"), setup.elapsed().as_secs_f64());
    let cache = dir.path().join("compiled");
    measure(&registry, &cache, &ids, prefix, results).await?;
    if !shared {
        // The same versions after a restart: every one loaded from the compile
        // cache, no compiler in the process at all.
        measure(&registry, &cache, &ids, &format!("{prefix}_restart"), results).await?;
    }
    Ok(())
}

/// Makes every one of `ids` ready on a new runtime and loader and records
/// the time it took and the steady-state RSS it added, under `prefix`.
async fn measure(
    registry: &Registry,
    cache: &std::path::Path,
    ids: &[(String, String)],
    prefix: &str,
    results: &mut Results,
) -> anyhow::Result<()> {
    let config = RuntimeConfig {
        compile_cache_dir: Some(cache.to_path_buf()),
        ..RuntimeConfig::default()
    };
    let runtime = Runtime::new(config, Arc::new(RegistryKvStore(registry.clone())))?;
    let loader = Loader::start(runtime, registry.clone())?;
    let before = settled().await?;
    let started = Instant::now();
    for (tenant, module) in ids {
        let serving = loader
            .serving(tenant, module)
            .await
            .with_context(|| format!("load {module} for {tenant}"))?;
        anyhow::ensure!(
            serving.fallback_reason.is_none(),
            "{tenant}/{module} is not ready"
        );
    }
    let elapsed = started.elapsed();
    let untrimmed = support::rss_kib()?;
    let after = settled().await?;
    let stats = loader.runtime().cache_stats();
    #[allow(clippy::cast_precision_loss, reason = "counts and KiB")]
    {
        let versions = ids.len() as f64;
        let per_version = |after: u64, before: u64| after.saturating_sub(before) as f64 / versions;
        let mut put = |key: &str, value: f64| results.insert(format!("{prefix}.{key}"), value);
        put("versions", versions);
        put("ready_all_s", elapsed.as_secs_f64());
        put("ready_per_s", versions / elapsed.as_secs_f64().max(1e-9));
        put("compiled", stats.compiled as f64);
        put("cache_loads", stats.loaded as f64);
        put("shared", stats.shared as f64);
        put("rss_before_kib", before.rss as f64);
        put("rss_after_kib", after.rss as f64);
        put("kib_per_version", per_version(after.rss, before.rss));
        put("anon_kib_per_version", per_version(after.anon, before.anon));
        put("file_kib_per_version", per_version(after.file, before.file));
        put("untrimmed_kib_per_version", per_version(untrimmed, before.rss));
        put("trimmed", if trim_available() { 1.0 } else { 0.0 });
    }
    // Idle from here: the first sweep notes the self-tests' calls, the
    // second pages out what nothing called since.
    loader.runtime().page_out_idle_code();
    let paged = loader.runtime().page_out_idle_code();
    let idle = settled().await?;
    #[allow(clippy::cast_precision_loss, reason = "counts and KiB")]
    {
        let versions = ids.len() as f64;
        let per_version = |after: u64, before: u64| after.saturating_sub(before) as f64 / versions;
        let mut put = |key: &str, value: f64| results.insert(format!("{prefix}.{key}"), value);
        put("idle_paged_out_artefacts", paged.artefacts as f64);
        put("idle_paged_out_failed", paged.failed as f64);
        put("idle_kib_per_version", per_version(idle.rss, before.rss));
        put("idle_anon_kib_per_version", per_version(idle.anon, before.anon));
        put("idle_file_kib_per_version", per_version(idle.file, before.file));
    }
    drop(loader);
    Ok(())
}

/// A custom module `id` whose component is the template's own bytes: every
/// such version shares one sha256, so one compiled artefact.
fn shared_custom(modules: &Modules, id: &str) -> (String, Vec<u8>) {
    let text = modules
        .template_text
        .replacen("id = \"template\"", &format!("id = \"{id}\""), 1)
        .replacen("kind = \"standard\"", "kind = \"custom\"", 1)
        .replace("\"template.", &format!("\"{id}."));
    (text, modules.template_bytes.clone())
}

/// The process's memory, in KiB, from `/proc/self/status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Memory {
    rss: u64,
    anon: u64,
    file: u64,
}

impl Memory {
    fn read() -> anyhow::Result<Self> {
        let status =
            std::fs::read_to_string("/proc/self/status").context("could not read /proc/self/status")?;
        let field = |name: &str| -> anyhow::Result<u64> {
            let line = status
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .with_context(|| format!("no {name} in /proc/self/status"))?;
            line.trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .with_context(|| format!("unreadable {name}"))
        };
        Ok(Self {
            rss: field("VmRSS:")?,
            anon: field("RssAnon:")?,
            file: field("RssFile:")?,
        })
    }
}

/// RSS once it has stopped moving: trim, wait half a second, read, until two
/// readings differ by at most 0.5% (at most ten rounds).
async fn settled() -> anyhow::Result<Memory> {
    let mut last = Memory::read()?;
    for _ in 0..10 {
        trim();
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = Memory::read()?;
        let settled = now.rss.abs_diff(last.rss).saturating_mul(200) <= last.rss;
        last = now;
        if settled {
            break;
        }
    }
    Ok(last)
}

/// Whether [`trim`] returns freed heap memory to the system on this platform.
fn trim_available() -> bool {
    cfg!(all(target_os = "linux", target_env = "gnu"))
}

/// Returns the allocator's free memory to the system (glibc's `malloc_trim(0)`).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn trim() {
    unsafe extern "C" {
        fn malloc_trim(pad: usize) -> std::ffi::c_int;
    }
    // SAFETY: glibc's `malloc_trim` only releases free memory at the top of
    // the heaps and unused pages inside them; it touches no live allocation.
    unsafe {
        malloc_trim(0);
    }
}

/// Nothing to trim outside glibc: the figures then include freed memory the allocator keeps.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim() {}
