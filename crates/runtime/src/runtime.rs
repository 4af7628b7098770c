//! The [`Runtime`]: prepares module versions and runs each call in a fresh, limited instance.

use std::sync::{Arc, RwLock, Weak};
use std::time::Instant;

use modhost_manifest::permission_granted;
use sha2::{Digest as _, Sha256};
use tracing::Instrument as _;
use wasmtime::component::Linker;
use wasmtime::{Engine, Store, Trap, UpdateDeadline};

use crate::admission::{self, Admission, TenantLimits};
use crate::bindings::VersionedPre;
use crate::cache::{CacheStats, CompileCache};
use crate::caps::modules::{NestedCall, NestedCallError, NestedCalls, NestedFuture};
use crate::caps::{
    self, CallInfo, CallState, Capability, ConfigCtx, KvCtx, LogCtx, MemoryLimiter, MetricsCtx, ModulesCtx,
    WasiPolicy,
};
use crate::cpu::{CpuMeter, CpuUsage};
use crate::engine::{EpochTicker, RuntimeConfig};
use crate::error::{CallError, PrepareError};
use crate::kv::{KvQuota, KvQuotaExceeded, KvScope, KvStore};
use crate::logs::{LogBuffer, truncate};
use crate::metrics::ModuleMetrics;
use crate::ready::{CodePageOut, CompiledSet, ModuleSpec, ReadyModule};
use crate::request_metrics::RequestMetrics;
use crate::types::{
    Caller, ErrorCode, ModuleConfig, ModuleError, Request, Response, TenantContext, check_response,
};

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

/// Everything one call runs with: the module, whom it runs for, and where its
/// data lives. Built by the runtime, never from guest input.
pub(crate) struct CallTarget {
    pub(crate) module: Arc<ReadyModule>,
    pub(crate) caller: Caller,
    pub(crate) config: Arc<ModuleConfig>,
    pub(crate) store: Arc<dyn KvStore>,
    pub(crate) depth: u32,
    /// When the call must have answered: set once, so time queued for
    /// admission and time running share one wall-clock deadline.
    pub(crate) deadline: Instant,
}

impl CallTarget {
    fn tenant_context(&self) -> TenantContext {
        TenantContext {
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

pub(crate) struct RuntimeInner {
    engine: Engine,
    cache: CompileCache,
    /// The pre-instances alive, shared by every version of the same bytes.
    compiled: CompiledSet,
    requests: RequestMetrics,
    linker: Linker<CallState>,
    config: RuntimeConfig,
    kv: Arc<dyn KvStore>,
    logs: Arc<LogBuffer>,
    module_metrics: Arc<ModuleMetrics>,
    added: Vec<Arc<dyn Capability>>,
    resolver: RwLock<Option<Arc<dyn ModuleResolver>>>,
    admission: Admission,
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
        Self::with_capabilities(config, kv, Vec::new())
    }

    /// A runtime that also offers `added` capabilities to every module.
    pub fn with_capabilities(
        config: RuntimeConfig,
        kv: Arc<dyn KvStore>,
        added: Vec<Arc<dyn Capability>>,
    ) -> anyhow::Result<Self> {
        if let Some(pool) = config.pooling {
            admission::check_reserve(
                config.tenant_limits,
                config.max_call_depth,
                pool.component_instances,
            )?;
        }
        let admission = Admission::new(config.tenant_limits);
        let engine = crate::engine::engine(&config)?;
        let linker = caps::linker(&engine, &added)
            .map_err(anyhow::Error::from)
            .map_err(|error| error.context("could not link the host capabilities"))?;
        let ticker = EpochTicker::start(engine.clone(), config.epoch_tick)?;
        let cache = CompileCache::new(&engine, config.compile_cache_dir.clone())?;
        Ok(Self {
            inner: Arc::new(RuntimeInner {
                engine,
                cache,
                compiled: CompiledSet::default(),
                requests: RequestMetrics::default(),
                linker,
                config,
                kv,
                logs: Arc::new(LogBuffer::new()),
                module_metrics: Arc::new(ModuleMetrics::new()),
                added,
                resolver: RwLock::new(None),
                admission,
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

    /// Pages out the code of every component no call instantiated since the
    /// previous sweep (run one every [`crate::IDLE_CODE_SWEEP_EVERY`]).
    pub fn page_out_idle_code(&self) -> CodePageOut {
        self.inner.compiled.page_out_idle()
    }

    /// How many components were compiled and how many loaded from the compile cache.
    pub fn cache_stats(&self) -> CacheStats {
        CacheStats {
            shared: self.inner.compiled.reused(),
            ..self.inner.cache.stats()
        }
    }

    /// How many distinct compiled components are in memory now (shared by same-bytes versions).
    pub fn compiled_in_memory(&self) -> usize {
        self.inner.compiled.alive()
    }

    /// The compile cache (for garbage collection: [`CompileCache::collect_stale`]).
    pub fn compile_cache(&self) -> &CompileCache {
        &self.inner.cache
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

    /// Compiles and links a component, choosing the bindings of the WIT version it exports;
    /// slow, so call it off the request path (`spawn_blocking`). A component whose SHA-256
    /// is in memory shares that compiled code and pre-instance (nothing compiled or linked).
    pub fn prepare(&self, spec: ModuleSpec, component_bytes: &[u8]) -> Result<ReadyModule, PrepareError> {
        let sha256 = hex::encode(Sha256::digest(component_bytes));
        if let Some(ready) = self.prepare_shared(spec.clone(), &sha256) {
            return Ok(ready);
        }
        let spec = self.capped(spec);
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
        let pre = VersionedPre::new(instance_pre).map_err(PrepareError::Link)?;
        tracing::debug!(module = %spec.id, version = %spec.version, wit = %pre.wit_version(), "module version prepared");
        let pre = self.inner.compiled.insert(&sha256, pre);
        Ok(ReadyModule::new(spec, sha256, pre))
    }

    /// Prepares `spec` on the compiled component of SHA-256 `sha256` if one
    /// is in memory (another ready version of the same bytes), without
    /// needing the bytes; `None` when none is.
    pub fn prepare_shared(&self, spec: ModuleSpec, sha256: &str) -> Option<ReadyModule> {
        let pre = self.inner.compiled.get(sha256)?;
        Some(ReadyModule::new(self.capped(spec), sha256.to_owned(), pre))
    }

    /// `spec` with its limits capped by the operator's maxima.
    fn capped(&self, mut spec: ModuleSpec) -> ModuleSpec {
        let config = &self.inner.config;
        spec.memory_bytes = spec.memory_bytes.min(config.max_memory_bytes);
        spec.timeout = spec.timeout.min(config.max_timeout);
        spec.kv_quota = KvQuota {
            max_keys: spec.kv_quota.max_keys.min(config.max_kv_quota.max_keys),
            max_bytes: spec.kv_quota.max_bytes.min(config.max_kv_quota.max_bytes),
        };
        spec
    }

    /// The default kv store (the tenants' real data).
    pub(crate) fn data_store(&self) -> Arc<dyn KvStore> {
        self.inner.kv.clone()
    }

    fn call_state(&self, target: &CallTarget) -> CallState {
        let spec = target.module.spec();
        let call = CallInfo {
            tenant: &target.caller.tenant_id,
            module: &spec.id,
            version: &spec.version,
            request_id: &target.caller.request_id,
            depth: target.depth,
        };
        let scope = KvScope {
            tenant: target.caller.tenant_id.clone(),
            module: spec.id.clone(),
        };
        let nested: Arc<dyn NestedCalls> = Arc::new(RuntimeCalls(Arc::downgrade(&self.inner)));
        CallState {
            wasi: WasiPolicy.call_state(),
            limiter: MemoryLimiter {
                used_bytes: 0,
                limit_bytes: usize::try_from(spec.memory_bytes).unwrap_or(usize::MAX),
                hit: false,
            },
            kv: KvCtx::new(scope, target.store.clone(), spec.kv_quota),
            config: ConfigCtx::new(target.config.clone()),
            log: LogCtx::new(self.inner.logs.clone(), &call),
            metrics: MetricsCtx::new(self.inner.module_metrics.clone(), &call),
            modules: ModulesCtx::new(
                target.caller.clone(),
                Arc::new(spec.dependencies.clone()),
                target.depth,
                self.inner.config.max_call_depth,
                target.store.clone(),
                nested,
            ),
            extensions: self
                .inner
                .added
                .iter()
                .map(|capability| capability.call_state(&call))
                .collect(),
        }
    }

    /// A fresh store for one call. Running wasm yields to the async executor
    /// at every epoch tick, so a CPU-bound guest never holds a worker thread
    /// for more than one tick; it sleeps instead while its tenant is over its
    /// CPU budget, and traps once the call's deadline has passed.
    fn new_store(&self, target: &CallTarget, deadline: Instant) -> anyhow::Result<Store<CallState>> {
        let spec = target.module.spec();
        let mut store = Store::new(&self.inner.engine, self.call_state(target));
        store.limiter(|state| &mut state.limiter);
        store.set_epoch_deadline(1);
        let mut meter = CpuMeter::new(
            self.inner.admission.cpu(&target.caller.tenant_id),
            deadline,
            self.inner.config.epoch_tick,
        );
        store.epoch_deadline_callback(move |_| match meter.on_tick() {
            UpdateDeadline::Interrupt => Err(Trap::Interrupt.into()),
            update => Ok(update),
        });
        if self.inner.config.fuel_metering {
            store.set_fuel(spec.fuel.unwrap_or(u64::MAX))?;
        }
        Ok(store)
    }

    /// Runs `hook` on a fresh store for `target`; captured output goes to the
    /// log, failures are classified, and the call's kv writes are committed
    /// only when `succeeded` says the outcome is a success. The deadline is wall-clock for the whole call: running wasm traps at
    /// the first epoch tick past it, and time blocked in WASI (a sleep, a
    /// poll) or in a host call (a nested `modules.call`) is cut off by a
    /// timer; either way the call's writes are discarded.
    pub(crate) async fn run_in_fresh_instance<R>(
        &self,
        target: &CallTarget,
        hook: impl AsyncFnOnce(&VersionedPre, &mut Store<CallState>) -> wasmtime::Result<R>,
        succeeded: impl FnOnce(&R) -> bool,
    ) -> (Result<R, CallError>, u64) {
        let module = &target.module;
        let timeout = module.spec().timeout;
        let deadline = target.deadline;
        let mut store = match self.new_store(target, deadline) {
            Ok(store) => store,
            Err(error) => return (Err(CallError::Instantiation(format!("{error:#}"))), 0),
        };
        module.pre.note_call();
        let timed = tokio::time::timeout_at(deadline.into(), hook(&module.pre.pre, &mut store)).await;
        caps::wasi::drain_captured_output(store.data_mut());
        let mut outcome = match timed {
            Ok(outcome) => outcome.map_err(|error| classify_failure(&store, module.spec(), error)),
            Err(_elapsed) => Err(CallError::DeadlineExceeded(timeout)),
        };
        if let Ok(value) = &outcome
            && succeeded(value)
            && let Err(error) = store.data_mut().kv.commit().await
        {
            outcome = Err(match error.downcast_ref::<KvQuotaExceeded>() {
                Some(exceeded) => CallError::QuotaExceeded(exceeded.to_string()),
                None => CallError::Storage(format!("{error:#}")),
            });
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
        // In flight from here, admission wait included: eviction passes it over.
        let held = module.clone();
        let _in_flight = held.enter();
        let started = Instant::now();
        let deadline = started + module.spec().timeout;
        let _admitted = match self.inner.admission.admit(&caller.tenant_id, deadline).await {
            Ok(admitted) => admitted,
            Err(refusal) => {
                let id = &module.spec().id;
                self.inner
                    .requests
                    .observe(&caller.tenant_id, id, refusal.class(), started.elapsed(), 0);
                return Err(refusal);
            }
        };
        let target = CallTarget {
            module,
            caller: caller.clone(),
            config,
            store: self.inner.kv.clone(),
            depth: 0,
            deadline,
        };
        self.call_target(target, request).await
    }

    /// Gives `tenant` its own call limits, or (with `None`) the operator's
    /// defaults again (calls running or queued finish under the old ones).
    /// Refused, changing nothing, when the tenant could then hold more than
    /// half the instance pool.
    pub fn set_tenant_limits(&self, tenant: &str, limits: Option<TenantLimits>) -> anyhow::Result<()> {
        if let (Some(limits), Some(pool)) = (limits, self.inner.config.pooling) {
            admission::check_reserve(limits, self.inner.config.max_call_depth, pool.component_instances)
                .map_err(|error| error.context(format!("tenant `{tenant}`'s limits were not changed")))?;
        }
        self.inner.admission.set_override(tenant, limits);
        Ok(())
    }

    /// The call limits `tenant` runs under.
    pub fn tenant_limits(&self, tenant: &str) -> TenantLimits {
        self.inner.admission.limits(tenant)
    }

    /// Each tenant's processor time used, and paused over its CPU budget, since start.
    pub fn cpu_usage(&self) -> Vec<(String, CpuUsage)> {
        self.inner.admission.cpu_usage()
    }

    async fn call_target(&self, target: CallTarget, request: Request) -> Result<Response, CallError> {
        let started = Instant::now();
        let spec = target.module.spec();
        // One span per guest call (a debug span: free unless a layer, like
        // the binary's OpenTelemetry export, wants it); never the payload.
        let span = tracing::debug_span!(
            "guest.call",
            modhost.tenant = %target.caller.tenant_id,
            modhost.module = %spec.id,
            modhost.version = %spec.version,
            modhost.depth = target.depth,
            modhost.outcome = tracing::field::Empty,
        );
        let (outcome, fuel_used) = self.handle(&target, request).instrument(span.clone()).await;
        let class = outcome.as_ref().map_or_else(CallError::class, |_| "ok");
        span.record("modhost.outcome", class);
        self.inner.requests.observe(
            &target.caller.tenant_id,
            &target.module.spec().id,
            class,
            started.elapsed(),
            fuel_used,
        );
        outcome
    }

    /// Runs the `handle` export in a fresh instance and checks the response
    /// against the host's limits; returns the outcome and the fuel used.
    pub(crate) async fn handle(
        &self,
        target: &CallTarget,
        request: Request,
    ) -> (Result<Response, CallError>, u64) {
        let context = target.tenant_context();
        let (outcome, fuel_used) = self
            .run_in_fresh_instance(
                target,
                async |pre, store| pre.handle(store, &context, &request).await,
                |answer| {
                    answer
                        .as_ref()
                        .is_ok_and(|response| check_response(response).is_ok())
                },
            )
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
}

/// Nested `modules.call`s, run by the runtime that made the calling store.
struct RuntimeCalls(Weak<RuntimeInner>);

impl NestedCalls for RuntimeCalls {
    fn call(&self, call: NestedCall, request: Request) -> NestedFuture<'_> {
        // A child of the calling guest's span, so the nested call shares its trace.
        let span = tracing::debug_span!(
            "modules.call",
            modhost.tenant = %call.caller.tenant_id,
            modhost.module = %call.module,
            modhost.outcome = tracing::field::Empty,
        );
        let recorded = span.clone();
        Box::pin(
            async move {
                let outcome = self.nested(call, request).await;
                recorded.record("modhost.outcome", if outcome.is_ok() { "ok" } else { "error" });
                outcome
            }
            .instrument(span),
        )
    }
}

impl RuntimeCalls {
    /// Resolves the callee and runs the call (see [`NestedCalls::call`]).
    async fn nested(&self, call: NestedCall, request: Request) -> Result<Response, NestedCallError> {
        {
            let Some(inner) = self.0.upgrade() else {
                return Err(NestedCallError::Failed("the host is shutting down".to_owned()));
            };
            let runtime = Runtime { inner };
            let tenant = &call.caller.tenant_id;
            let module = &call.module;
            let Some((callee, config)) = runtime.resolve(tenant, module).await else {
                return Err(NestedCallError::NotActive(format!(
                    "module `{module}` is not active for tenant `{tenant}`"
                )));
            };
            if !call.requirement.matches(&callee.spec().version) {
                return Err(NestedCallError::NotActive(format!(
                    "module `{module}` is active at {} for tenant `{tenant}`, which does not match the declared `{}`",
                    callee.spec().version,
                    call.requirement
                )));
            }
            let caller = nested_caller(&call.caller, callee.spec(), &request)?;
            let deadline = Instant::now() + callee.spec().timeout;
            let target = CallTarget {
                module: callee,
                caller,
                config,
                store: call.store.clone(),
                depth: call.depth,
                deadline,
            };
            let held = target.module.clone();
            let _in_flight = held.enter();
            let outcome = Box::pin(runtime.call_target(target, request)).await;
            outcome.map_err(|error| match error {
                CallError::Module(error) => NestedCallError::Module(error),
                other => NestedCallError::Failed(format!("module `{module}` failed: {other}")),
            })
        }
    }
}

/// The caller a nested call runs for: the outer caller, if the callee has an
/// endpoint for the request and the outer caller's grants cover its
/// permission (a module reaches nothing its caller could not call directly),
/// told the callee's own permissions it holds.
fn nested_caller(outer: &Caller, callee: &ModuleSpec, request: &Request) -> Result<Caller, NestedCallError> {
    let module = &callee.id;
    let method = request.method.name().to_ascii_uppercase();
    let path = truncate(request.path.clone(), 256);
    let Some(endpoint) = callee.find_endpoint(request.method, &request.path) else {
        return Err(NestedCallError::Module(ModuleError {
            code: ErrorCode::NotFound,
            message: format!("module `{module}` has no endpoint {method} {path}"),
        }));
    };
    if !permission_granted(&outer.grants, &endpoint.permission) {
        return Err(NestedCallError::Module(ModuleError {
            code: ErrorCode::Forbidden,
            message: format!(
                "the caller lacks the permission `{}` that `{module}` requires for {method} {path}",
                endpoint.permission
            ),
        }));
    }
    let mut permissions: Vec<String> = callee
        .endpoints
        .iter()
        .map(|endpoint| endpoint.permission.clone())
        .filter(|permission| permission_granted(&outer.grants, permission))
        .collect();
    permissions.sort();
    permissions.dedup();
    Ok(Caller {
        permissions,
        ..outer.clone()
    })
}

fn classify_failure(store: &Store<CallState>, spec: &ModuleSpec, error: wasmtime::Error) -> CallError {
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
