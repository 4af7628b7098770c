//! The ModuleLoader: runs modhost modules as sandboxed WebAssembly components.
//!
//! This crate owns everything wasmtime: one shared [`wasmtime::Engine`], the
//! [`wasmtime::component::Linker`] with the host capabilities of the
//! `modhost:module@1.0.0` world (kv, config, log, metrics, modules) plus a
//! restricted WASI p2, and the per-call sandbox.
//!
//! # Life of a module version
//!
//! 1. [`Runtime::prepare`] compiles a component's bytes and links it against
//!    the host once, producing a [`ReadyModule`] (an `InstancePre`). This is
//!    the slow part and runs off the request path.
//! 2. [`Runtime::self_test`] runs the module's `self-test` export in a
//!    throwaway scope before the version is put into service.
//! 3. [`Runtime::call`] serves one request: a fresh `Store` with the call's
//!    tenant, config and limits, a fresh instance from the `InstancePre`, one
//!    call to the `handler` export. Nothing survives the call but what the
//!    module wrote through its capabilities.
//!
//! # Sandbox
//!
//! Every call runs under a deadline (epoch interruption, ticked by a
//! background thread), a memory limit, a wasm stack limit and, when the
//! engine meters fuel, a fuel budget. The guest's WASI has no filesystem
//! preopens, no environment, no arguments and no network; stdout and stderr
//! are captured (bounded) into the module's log. Every failure becomes a typed
//! [`CallError`] for that one call; the host and other calls are unaffected.
//!
//! # Invariants
//!
//! - The tenant of a call comes from the [`Caller`] the host builds, never from
//!   guest input: kv scopes, config and nested calls are all keyed by it.
//! - A guest can only reach modules declared in its manifest's dependencies.

pub mod bindings;
mod cache;
mod host;
pub mod kv;
pub mod loader;
pub mod logs;
pub mod metrics;
mod request_metrics;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context as _;
use sha2::{Digest as _, Sha256};
use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime::{Engine, Store, Trap};
use wasmtime_wasi::WasiCtx;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;

use crate::bindings::{ModulePre, config, types};
use crate::cache::CompileCache;
use crate::host::{HostState, MAX_CAPTURED_OUTPUT_BYTES, MemoryLimiter};
use crate::kv::{KvScope, KvStore, MemoryKvStore};
use crate::logs::LogBuffer;
use crate::metrics::ModuleMetrics;

pub use crate::cache::CacheStats;
pub use crate::request_metrics::{LATENCY_BUCKETS_SECONDS, RequestMetrics, RequestSeries};

pub use crate::bindings::types::{ErrorCode, Method, ModuleError, Request, Response, TenantKind};

/// A tenant's resolved configuration for one module, sorted by field name.
pub type ModuleConfig = Vec<(String, config::Value)>;

/// Converts a tenant's validated config into what the `config` capability serves.
pub fn module_config(resolved: &modhost_manifest::ResolvedConfig) -> ModuleConfig {
    use modhost_manifest::ConfigValue;
    resolved
        .iter()
        .map(|(name, value)| {
            let value = match value {
                ConfigValue::Text(text) => config::Value::Text(text.clone()),
                ConfigValue::Integer(integer) => config::Value::Integer(*integer),
                ConfigValue::Float(float) => config::Value::Float(*float),
                ConfigValue::Boolean(boolean) => config::Value::Boolean(*boolean),
            };
            (name.clone(), value)
        })
        .collect()
}

/// The operator's limits and the engine's settings.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// The most linear memory any call may use, whatever its manifest asks.
    pub max_memory_bytes: u64,
    /// The longest deadline any call may have, whatever its manifest asks.
    pub max_timeout: Duration,
    /// The wasm stack limit of every call.
    pub max_wasm_stack_bytes: usize,
    /// How often the epoch advances; the granularity of deadlines.
    pub epoch_tick: Duration,
    /// Whether compiled code meters fuel (needed for manifests' `limits.fuel`).
    pub fuel_metering: bool,
    /// How deep `modules.call` may nest.
    pub max_call_depth: u32,
    /// Where compiled components are kept across restarts; `None` compiles in memory only.
    pub compile_cache_dir: Option<PathBuf>,
    /// Bounds of the pooling instance allocator; `None` allocates on demand.
    pub pooling: Option<PoolingLimits>,
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
            max_wasm_stack_bytes: 512 * 1024,
            epoch_tick: Duration::from_millis(1),
            fuel_metering: true,
            max_call_depth: 4,
            compile_cache_dir: None,
            pooling: Some(PoolingLimits::default()),
        }
    }
}

/// What the runtime needs to know about a module version, taken from its manifest.
#[derive(Debug, Clone)]
pub struct ModuleSpec {
    /// The module id.
    pub id: String,
    /// The version.
    pub version: semver::Version,
    /// The linear memory limit the manifest asks for.
    pub memory_bytes: u64,
    /// The deadline the manifest asks for.
    pub timeout: Duration,
    /// The fuel budget per call, if the manifest sets one.
    pub fuel: Option<u64>,
    /// Modules it may call, with the version requirement.
    pub dependencies: BTreeMap<String, semver::VersionReq>,
}

impl ModuleSpec {
    /// The runtime's view of a validated manifest.
    pub fn from_manifest(manifest: &modhost_manifest::Manifest) -> Self {
        Self {
            id: manifest.module.id.as_str().to_owned(),
            version: manifest.module.version.clone(),
            memory_bytes: manifest.limits.memory_bytes(),
            timeout: manifest.limits.timeout(),
            fuel: manifest.limits.fuel,
            dependencies: manifest
                .dependencies
                .iter()
                .map(|(id, requirement)| (id.as_str().to_owned(), requirement.clone()))
                .collect(),
        }
    }
}

/// Finds what a tenant runs: the active ready version of a module and the
/// tenant's config for it. Used for `modules.call`.
pub trait ModuleResolver: Send + Sync + 'static {
    /// The ready version of `module` active for `tenant`, with its config
    /// (loading it if needed).
    fn resolve<'a>(&'a self, tenant: &'a str, module: &'a str) -> ResolveFuture<'a>;
}

/// What [`ModuleResolver::resolve`] returns.
pub type ResolveFuture<'a> = std::pin::Pin<
    Box<dyn std::future::Future<Output = Option<(Arc<ReadyModule>, Arc<ModuleConfig>)>> + Send + 'a>,
>;

/// A compiled and linked module version, ready to be instantiated per call.
pub struct ReadyModule {
    spec: ModuleSpec,
    sha256: String,
    pre: ModulePre<HostState>,
}

impl ReadyModule {
    /// The module's spec, with limits capped by the operator's maxima.
    pub fn spec(&self) -> &ModuleSpec {
        &self.spec
    }

    /// The SHA-256 of the component it was prepared from.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }
}

impl std::fmt::Debug for ReadyModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadyModule")
            .field("spec", &self.spec)
            .finish_non_exhaustive()
    }
}

/// Who a call is for, as established by the host.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The tenant id.
    pub tenant_id: String,
    /// The tenant's kind.
    pub tenant_kind: TenantKind,
    /// A unique id for the request.
    pub request_id: String,
    /// Permissions granted to the caller.
    pub permissions: Vec<String>,
    /// The tenant's enabled features.
    pub features: Vec<String>,
}

/// Everything one call runs with: the module, whom it runs for, and where its
/// data lives. Built by the runtime, never from guest input.
pub(crate) struct CallTarget {
    pub(crate) module: Arc<ReadyModule>,
    pub(crate) caller: Caller,
    pub(crate) config: Arc<ModuleConfig>,
    pub(crate) scope: KvScope,
    pub(crate) kv: Arc<dyn KvStore>,
    pub(crate) depth: u32,
}

impl CallTarget {
    pub(crate) fn new(
        module: Arc<ReadyModule>,
        caller: &Caller,
        config: Arc<ModuleConfig>,
        depth: u32,
        kv: Arc<dyn KvStore>,
    ) -> Self {
        let scope = KvScope {
            tenant: caller.tenant_id.clone(),
            module: module.spec().id.clone(),
        };
        Self {
            module,
            caller: caller.clone(),
            config,
            scope,
            kv,
            depth,
        }
    }

    fn tenant_context(&self) -> types::TenantContext {
        types::TenantContext {
            tenant_id: self.caller.tenant_id.clone(),
            tenant_kind: self.caller.tenant_kind,
            module_id: self.module.spec().id.clone(),
            module_version: self.module.spec().version.to_string(),
            request_id: self.caller.request_id.clone(),
            permissions: self.caller.permissions.clone(),
            features: self.caller.features.clone(),
        }
    }
}

/// Why a module version could not be made ready.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    /// The bytes are not a valid component for this engine.
    #[error("the component does not compile: {0}")]
    Compile(String),
    /// The component imports something the host does not provide, or does not
    /// export the world's interfaces.
    #[error("the component does not fit the host: {0}")]
    Link(String),
}

/// Why a call did not produce a response.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CallError {
    /// The module answered with an error of its own.
    #[error("{}: {}", error_code_name(.0.code), .0.message)]
    Module(ModuleError),
    /// The deadline passed before the module answered.
    #[error("the module did not answer within its deadline of {} ms", .0.as_millis())]
    DeadlineExceeded(Duration),
    /// The module tried to grow its memory past its limit.
    #[error("the module exceeded its memory limit of {} MiB", .0 / (1024 * 1024))]
    MemoryLimit(u64),
    /// The module used up its fuel.
    #[error("the module used up its fuel budget of {0}")]
    OutOfFuel(u64),
    /// The module's wasm stack overflowed.
    #[error("the module overflowed its stack")]
    StackOverflow,
    /// The module trapped (a Rust panic ends this way); details are in its log.
    #[error("the module trapped: {0}; its log has details")]
    Trapped(String),
    /// The module's response breaks the host's limits.
    #[error("the module returned an invalid response: {0}")]
    InvalidResponse(String),
    /// The module could not be instantiated.
    #[error("the module could not be instantiated: {0}")]
    Instantiation(String),
    /// The module's data writes could not be made durable; the response was discarded.
    #[error("the module's data could not be saved: {0}")]
    Storage(String),
}

impl CallError {
    /// A short class name for metrics and logs.
    pub fn class(&self) -> &'static str {
        match self {
            Self::Module(_) => "module-error",
            Self::DeadlineExceeded(_) => "deadline",
            Self::MemoryLimit(_) => "memory-limit",
            Self::OutOfFuel(_) => "out-of-fuel",
            Self::StackOverflow => "stack-overflow",
            Self::Trapped(_) => "trap",
            Self::InvalidResponse(_) => "invalid-response",
            Self::Instantiation(_) => "instantiation",
            Self::Storage(_) => "storage",
        }
    }
}

/// The HTTP status the data plane answers a module error code with.
pub fn error_code_status(code: ErrorCode) -> u16 {
    match code {
        ErrorCode::BadRequest => 400,
        ErrorCode::Forbidden => 403,
        ErrorCode::NotFound => 404,
        ErrorCode::Conflict => 409,
        ErrorCode::Unprocessable => 422,
        ErrorCode::Unavailable => 503,
        ErrorCode::Internal => 500,
    }
}

/// The status and JSON body (`{"error": {"code", "message"}}`) the data
/// plane answers a module's own error with.
pub fn module_error_reply(error: &ModuleError) -> (u16, serde_json::Value) {
    let body = serde_json::json!({
        "error": { "code": error_code_name(error.code), "message": error.message }
    });
    (error_code_status(error.code), body)
}

/// The request a smoke test sends.
fn smoke_request(request: &modhost_manifest::SmokeRequest) -> Request {
    use modhost_manifest::Method as ManifestMethod;
    let method = match request.method {
        ManifestMethod::Get => Method::Get,
        ManifestMethod::Head => Method::Head,
        ManifestMethod::Post => Method::Post,
        ManifestMethod::Put => Method::Put,
        ManifestMethod::Patch => Method::Patch,
        ManifestMethod::Delete => Method::Delete,
        ManifestMethod::Options => Method::Options,
    };
    let (path, query) = request.path.split_once('?').unwrap_or((&request.path, ""));
    let mut headers: Vec<(String, String)> = request
        .headers
        .iter()
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    if matches!(request.body, Some(modhost_manifest::SmokeBody::Json(_)))
        && !request.headers.contains_key("content-type")
    {
        headers.push(("content-type".to_owned(), "application/json".to_owned()));
    }
    Request {
        method,
        path: path.to_owned(),
        query: query.to_owned(),
        headers,
        body: request
            .body
            .as_ref()
            .map(modhost_manifest::SmokeBody::to_bytes)
            .unwrap_or_default(),
    }
}

/// The wire name of a module error code.
pub fn error_code_name(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::BadRequest => "bad-request",
        ErrorCode::Forbidden => "forbidden",
        ErrorCode::NotFound => "not-found",
        ErrorCode::Conflict => "conflict",
        ErrorCode::Unprocessable => "unprocessable",
        ErrorCode::Unavailable => "unavailable",
        ErrorCode::Internal => "internal",
    }
}

/// Response limits from `wit/v1.0.0/types.wit`.
pub mod response_limits {
    /// The largest response body, in bytes.
    pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
    /// The most headers.
    pub const MAX_HEADERS: usize = 64;
    /// The longest header (name plus value), in bytes.
    pub const MAX_HEADER_BYTES: usize = 8 * 1024;
}

fn check_response(response: &Response) -> Result<(), String> {
    use response_limits::*;
    if !(100..=599).contains(&response.status) {
        return Err(format!("status {} is outside 100..=599", response.status));
    }
    if response.body.len() > MAX_BODY_BYTES {
        return Err(format!(
            "the body is {} bytes; the limit is {MAX_BODY_BYTES}",
            response.body.len()
        ));
    }
    if response.headers.len() > MAX_HEADERS {
        return Err(format!(
            "{} headers; the limit is {MAX_HEADERS}",
            response.headers.len()
        ));
    }
    if let Some((name, _)) = response
        .headers
        .iter()
        .find(|(name, value)| name.len() + value.len() > MAX_HEADER_BYTES)
    {
        return Err(format!("header `{name}` is longer than {MAX_HEADER_BYTES} bytes"));
    }
    Ok(())
}

/// Advances the engine's epoch on a background thread until dropped.
struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    fn start(engine: Engine, tick: Duration) -> anyhow::Result<Self> {
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

struct RuntimeInner {
    engine: Engine,
    cache: CompileCache,
    requests: RequestMetrics,
    linker: Linker<HostState>,
    config: RuntimeConfig,
    kv: Arc<dyn KvStore>,
    logs: LogBuffer,
    module_metrics: ModuleMetrics,
    resolver: RwLock<Option<Arc<dyn ModuleResolver>>>,
    _ticker: EpochTicker,
}

/// The module runtime. Cheap to clone; clones share the engine and state.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<RuntimeInner>,
}

impl Runtime {
    /// A runtime whose modules keep their kv data in `kv`.
    pub fn new(config: RuntimeConfig, kv: Arc<dyn KvStore>) -> anyhow::Result<Self> {
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
                .max_memory_size(usize::try_from(config.max_memory_bytes).unwrap_or(usize::MAX));
            engine_config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pooling));
        }
        let engine = with_context(
            Engine::new(&engine_config),
            "could not create the wasmtime engine",
        )?;
        let mut linker = Linker::new(&engine);
        with_context(
            wasmtime_wasi::p2::add_to_linker_async(&mut linker),
            "could not link WASI",
        )?;
        with_context(
            bindings::Module::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |state| state),
            "could not link the modhost capabilities",
        )?;
        let ticker = EpochTicker::start(engine.clone(), config.epoch_tick)?;
        let cache = CompileCache::new(&engine, config.compile_cache_dir.clone())?;
        Ok(Self {
            inner: Arc::new(RuntimeInner {
                engine,
                cache,
                requests: RequestMetrics::default(),
                linker,
                config,
                kv,
                logs: LogBuffer::new(),
                module_metrics: ModuleMetrics::new(),
                resolver: RwLock::new(None),
                _ticker: ticker,
            }),
        })
    }

    /// The engine, e.g. to precompile components.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// The operator's settings.
    pub fn config(&self) -> &RuntimeConfig {
        &self.inner.config
    }

    /// Recent module log records.
    pub fn logs(&self) -> &LogBuffer {
        &self.inner.logs
    }

    /// Module-defined metrics.
    pub fn module_metrics(&self) -> &ModuleMetrics {
        &self.inner.module_metrics
    }

    /// Per-request outcomes, latencies and fuel.
    pub fn request_metrics(&self) -> &RequestMetrics {
        &self.inner.requests
    }

    /// How many components were compiled and how many loaded from the compile cache.
    pub fn cache_stats(&self) -> CacheStats {
        self.inner.cache.stats()
    }

    /// Sets what `modules.call` uses to find a tenant's active modules.
    pub fn set_resolver(&self, resolver: Arc<dyn ModuleResolver>) {
        *self
            .inner
            .resolver
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(resolver);
    }

    async fn resolve(&self, tenant: &str, module: &str) -> Option<(Arc<ReadyModule>, Arc<ModuleConfig>)> {
        let resolver = self
            .inner
            .resolver
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        resolver?.resolve(tenant, module).await
    }

    /// Compiles and links a component. Slow (milliseconds to seconds): call it
    /// off the request path, e.g. in `spawn_blocking`.
    pub fn prepare(&self, mut spec: ModuleSpec, component_bytes: &[u8]) -> Result<ReadyModule, PrepareError> {
        let config = &self.inner.config;
        spec.memory_bytes = spec.memory_bytes.min(config.max_memory_bytes);
        spec.timeout = spec.timeout.min(config.max_timeout);
        let sha256 = hex::encode(Sha256::digest(component_bytes));
        let component = self
            .inner
            .cache
            .load_or_compile(&self.inner.engine, &sha256, component_bytes)
            .map_err(|error| PrepareError::Compile(format!("{error:#}")))?;
        let instance_pre = self
            .inner
            .linker
            .instantiate_pre(&component)
            .map_err(|error| PrepareError::Link(format!("{error:#}")))?;
        let pre = ModulePre::new(instance_pre).map_err(|error| PrepareError::Link(format!("{error:#}")))?;
        tracing::debug!(module = %spec.id, version = %spec.version, "module version prepared");
        Ok(ReadyModule { spec, sha256, pre })
    }

    fn new_store(&self, target: CallTarget) -> anyhow::Result<Store<HostState>> {
        let stdout = MemoryOutputPipe::new(MAX_CAPTURED_OUTPUT_BYTES);
        let stderr = MemoryOutputPipe::new(MAX_CAPTURED_OUTPUT_BYTES);
        let wasi = WasiCtx::builder()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        let spec = target.module.spec();
        let limit_bytes = usize::try_from(spec.memory_bytes).unwrap_or(usize::MAX);
        let ticks = spec
            .timeout
            .as_nanos()
            .div_ceil(self.inner.config.epoch_tick.as_nanos().max(1));
        let fuel = spec.fuel;
        let state = HostState {
            wasi,
            table: ResourceTable::new(),
            limiter: MemoryLimiter {
                limit_bytes,
                hit: false,
            },
            stdout,
            stderr,
            runtime: self.clone(),
            target,
            records_written: 0,
            records_dropped: 0,
            kv_dirty: false,
        };
        let mut store = Store::new(&self.inner.engine, state);
        store.limiter(|state| &mut state.limiter);
        store.set_epoch_deadline(u64::try_from(ticks).unwrap_or(u64::MAX).saturating_add(1));
        store.epoch_deadline_trap();
        if self.inner.config.fuel_metering {
            store.set_fuel(fuel.unwrap_or(u64::MAX))?;
        }
        Ok(store)
    }

    /// Instantiates `target.module` in a fresh store and runs `hook` on it;
    /// captured output goes to the log and failures are classified.
    async fn run_in_fresh_instance<R>(
        &self,
        target: CallTarget,
        hook: impl AsyncFnOnce(&bindings::Module, &mut Store<HostState>) -> wasmtime::Result<R>,
    ) -> (Result<R, CallError>, u64) {
        let module = target.module.clone();
        let mut store = match self.new_store(target) {
            Ok(store) => store,
            Err(error) => return (Err(CallError::Instantiation(format!("{error:#}"))), 0),
        };
        let outcome = async {
            let instance = module.pre.instantiate_async(&mut store).await?;
            hook(&instance, &mut store).await
        }
        .await;
        store.data_mut().flush_captured_output();
        let mut outcome = outcome.map_err(|error| classify_failure(&store, module.spec(), error));
        if outcome.is_ok()
            && store.data().kv_dirty
            && let Err(error) = store.data().target.kv.commit()
        {
            outcome = Err(CallError::Storage(format!("{error:#}")));
        }
        let fuel_used = if self.inner.config.fuel_metering {
            module
                .spec()
                .fuel
                .unwrap_or(u64::MAX)
                .saturating_sub(store.get_fuel().unwrap_or(0))
        } else {
            0
        };
        (outcome, fuel_used)
    }

    /// Serves one request with a fresh instance of `module`.
    pub async fn call(
        &self,
        module: Arc<ReadyModule>,
        caller: &Caller,
        config: Arc<ModuleConfig>,
        request: Request,
    ) -> Result<Response, CallError> {
        let target = CallTarget::new(module, caller, config, 0, self.inner.kv.clone());
        self.call_target(target, request).await
    }

    async fn call_target(&self, target: CallTarget, request: Request) -> Result<Response, CallError> {
        let (tenant, module) = (target.caller.tenant_id.clone(), target.module.spec().id.clone());
        let started = std::time::Instant::now();
        let (outcome, fuel_used) = self.handle(target, request).await;
        let class = outcome.as_ref().map_or_else(CallError::class, |_| "ok");
        self.inner
            .requests
            .observe(&tenant, &module, class, started.elapsed(), fuel_used);
        outcome
    }

    /// Runs the `handle` export in a fresh instance and checks the response
    /// against the host's limits; returns the outcome and the fuel used.
    async fn handle(&self, target: CallTarget, request: Request) -> (Result<Response, CallError>, u64) {
        let context = target.tenant_context();
        let (outcome, fuel_used) = self
            .run_in_fresh_instance(target, async |instance, store| {
                instance
                    .modhost_module_handler()
                    .call_handle(store, &context, &request)
                    .await
            })
            .await;
        let outcome = match outcome {
            Ok(Ok(response)) => check_response(&response)
                .map(|()| response)
                .map_err(CallError::InvalidResponse),
            Ok(Err(error)) => Err(CallError::Module(error)),
            Err(error) => Err(error),
        };
        (outcome, fuel_used)
    }

    /// Runs a manifest's smoke tests (`[[tests]]`), in order, as `caller` with
    /// `config`, against an empty scratch store that is thrown away afterwards:
    /// the tenant's data is never read or written. Calls the module makes to
    /// its dependencies reach the tenant's active versions with the same
    /// scratch store. Returns how many passed, or why the first failing one failed.
    /// The tests' own calls are not counted in the request metrics (the nested
    /// calls they make to dependencies are, as the dependencies' requests).
    pub async fn smoke_test(
        &self,
        module: Arc<ReadyModule>,
        caller: &Caller,
        config: Arc<ModuleConfig>,
        tests: &[modhost_manifest::SmokeTest],
    ) -> Result<usize, String> {
        let scratch: Arc<dyn KvStore> = Arc::new(MemoryKvStore::new());
        for test in tests {
            let target = CallTarget::new(module.clone(), caller, config.clone(), 0, scratch.clone());
            let (outcome, _) = self.handle(target, smoke_request(&test.request)).await;
            let (status, body) = match outcome {
                Ok(response) => (response.status, response.body),
                Err(CallError::Module(error)) => {
                    let (status, body) = module_error_reply(&error);
                    (status, body.to_string().into_bytes())
                }
                Err(failure) => return Err(format!("smoke test `{}` failed: {failure}", test.name)),
            };
            test.expect
                .check(status, &body)
                .map_err(|reason| format!("smoke test `{}` failed: {reason}", test.name))?;
        }
        Ok(tests.len())
    }

    /// Runs the module's `migrate` export on the caller's real data. Returns
    /// the module's refusal, or a description of how the call failed.
    pub async fn migrate(
        &self,
        module: Arc<ReadyModule>,
        caller: &Caller,
        config: Arc<ModuleConfig>,
        from_version: Option<&str>,
    ) -> Result<(), String> {
        let target = CallTarget::new(module, caller, config, 0, self.inner.kv.clone());
        let outcome = self
            .run_in_fresh_instance(target, async |instance, store| {
                instance
                    .modhost_module_lifecycle()
                    .call_migrate(store, from_version)
                    .await
            })
            .await;
        match outcome.0 {
            Ok(Ok(())) => Ok(()),
            Ok(Err(message)) => Err(message),
            Err(error) => Err(error.to_string()),
        }
    }

    /// Runs the module's `self-test` export with `config` (normally the schema's
    /// defaults) and an empty kv store that is thrown away afterwards.
    pub async fn self_test(&self, module: Arc<ReadyModule>, config: Arc<ModuleConfig>) -> Result<(), String> {
        let caller = Caller {
            tenant_id: "modhost-self-test".into(),
            tenant_kind: TenantKind::Standard,
            request_id: "self-test".into(),
            permissions: vec![],
            features: vec![],
        };
        let target = CallTarget::new(module, &caller, config, 0, Arc::new(MemoryKvStore::new()));
        let outcome = self
            .run_in_fresh_instance(target, async |instance, store| {
                instance.modhost_module_lifecycle().call_self_test(store).await
            })
            .await
            .0;
        match outcome {
            Ok(Ok(())) => Ok(()),
            Ok(Err(message)) => Err(message),
            Err(error) => Err(error.to_string()),
        }
    }
}

/// Converts wasmtime's own error into `anyhow` with a description of what failed.
fn with_context<T>(result: wasmtime::Result<T>, what: &'static str) -> anyhow::Result<T> {
    result.map_err(anyhow::Error::from).context(what)
}

fn classify_failure(store: &Store<HostState>, spec: &ModuleSpec, error: wasmtime::Error) -> CallError {
    if store.data().limiter.hit {
        return CallError::MemoryLimit(spec.memory_bytes);
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => CallError::DeadlineExceeded(spec.timeout),
        Some(Trap::OutOfFuel) => CallError::OutOfFuel(spec.fuel.unwrap_or(u64::MAX)),
        Some(Trap::StackOverflow) => CallError::StackOverflow,
        Some(trap) => CallError::Trapped(trap.to_string()),
        None => CallError::Trapped(format!("{error:#}")),
    }
}
