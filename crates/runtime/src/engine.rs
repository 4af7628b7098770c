//! The engine: the operator's settings, one wasmtime engine with its pooling allocator, and the epoch ticker.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context as _;
use wasmtime::Engine;

use crate::admission::TenantLimits;

/// The operator's limits and the engine's settings.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// The most linear memory any call may use, whatever its manifest asks.
    pub max_memory_bytes: u64,
    /// The longest deadline any call may have, whatever its manifest asks.
    pub max_timeout: Duration,
    /// The most one tenant's data of one module may hold, whatever its manifest asks.
    pub max_kv_quota: crate::kv::KvQuota,
    /// The wasm stack limit of every call.
    pub max_wasm_stack_bytes: usize,
    /// How often the epoch advances: the granularity of deadlines, and the
    /// longest running wasm holds an executor thread before it yields.
    pub epoch_tick: Duration,
    /// Whether compiled code meters fuel (needed for manifests' `limits.fuel`).
    pub fuel_metering: bool,
    /// How deep `modules.call` may nest.
    pub max_call_depth: u32,
    /// Where compiled components are kept across restarts; `None` compiles in memory only.
    pub compile_cache_dir: Option<PathBuf>,
    /// Bounds of the pooling instance allocator; `None` allocates on demand.
    pub pooling: Option<PoolingLimits>,
    /// How many calls each tenant may run and queue at once, unless the
    /// tenant has limits of its own ([`crate::Runtime::set_tenant_limits`]).
    pub tenant_limits: TenantLimits,
}

/// Totals of the pooling allocator: how many instances, memories and tables
/// may exist at once across all calls. A call that would exceed them fails
/// with [`CallError::Instantiation`] instead of exhausting the host.
#[derive(Debug, Clone, Copy)]
pub struct PoolingLimits {
    /// Component instances alive at once (roughly: concurrent calls).
    pub component_instances: u32,
    /// Core instances alive at once.
    pub core_instances: u32,
    /// Linear memories alive at once.
    pub memories: u32,
    /// Tables alive at once.
    pub tables: u32,
}

impl Default for PoolingLimits {
    fn default() -> Self {
        Self {
            component_instances: 256,
            core_instances: 2048,
            memories: 512,
            tables: 2048,
        }
    }
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            max_memory_bytes: 256 * 1024 * 1024,
            max_timeout: Duration::from_secs(30),
            max_kv_quota: crate::kv::KvQuota {
                max_keys: 1_000_000,
                max_bytes: 1024 * 1024 * 1024,
            },
            max_wasm_stack_bytes: 512 * 1024,
            epoch_tick: Duration::from_millis(1),
            fuel_metering: true,
            max_call_depth: 4,
            compile_cache_dir: None,
            pooling: Some(PoolingLimits::default()),
            tenant_limits: TenantLimits::default(),
        }
    }
}

/// How much of each pooled memory and table slot stays resident (zeroed in
/// place) between instances. Modules are linked with a 64 KiB shadow stack
/// placed first in linear memory (`plugins/.cargo/config.toml`), so a small
/// call's stack, static data and first heap pages all lie in the first
/// 128 KiB: measured, the template's calls then take no page fault at all
/// (BENCHMARKS.md). A whole MiB kept resident measured slower: zeroing it
/// costs more than the faults it saves.
const KEEP_RESIDENT_BYTES: usize = 128 * 1024;

/// The wasmtime engine for `config`: component model, epoch interruption,
/// optional fuel, the stack limit and the pooling allocator's bounds.
pub(crate) fn engine(config: &RuntimeConfig) -> anyhow::Result<Engine> {
    let mut engine_config = wasmtime::Config::new();
    engine_config
        .wasm_component_model(true)
        .epoch_interruption(true)
        .consume_fuel(config.fuel_metering)
        .max_wasm_stack(config.max_wasm_stack_bytes);
    if let Some(limits) = config.pooling {
        let mut pooling = wasmtime::PoolingAllocationConfig::default();
        pooling
            .total_component_instances(limits.component_instances)
            .total_core_instances(limits.core_instances)
            .total_memories(limits.memories)
            .total_tables(limits.tables)
            .max_memories_per_component(8)
            .max_tables_per_component(16)
            .max_core_instances_per_component(32)
            .max_memory_size(usize::try_from(config.max_memory_bytes).unwrap_or(usize::MAX))
            // A slot's first pages are zeroed in place when it is reused instead
            // of being given back to the kernel and faulted in again: measured,
            // page faults and the TLB shootdowns of `madvise` were the largest
            // kernel cost of a fresh instance (see BENCHMARKS.md). Still zeroed:
            // nothing of one call is visible to the next.
            .linear_memory_keep_resident(KEEP_RESIDENT_BYTES)
            .table_keep_resident(KEEP_RESIDENT_BYTES);
        engine_config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pooling));
    }
    Engine::new(&engine_config)
        .map_err(anyhow::Error::from)
        .context("could not create the wasmtime engine")
}

/// Advances the engine's epoch on a background thread until dropped.
pub(crate) struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    pub(crate) fn start(engine: Engine, tick: Duration) -> anyhow::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let stop_flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("modhost-epoch".into())
            .spawn(move || {
                while !stop_flag.load(Ordering::Relaxed) {
                    std::thread::sleep(tick);
                    engine.increment_epoch();
                }
            })
            .context("could not start the epoch ticker thread")?;
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
