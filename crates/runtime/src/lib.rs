//! The sandbox: runs modhost modules as WebAssembly components, one fresh, limited instance per call.
//!
//! This crate owns everything wasmtime: one shared [`wasmtime::Engine`], the
//! linker with the host capabilities of the `modhost:module` world plus a
//! restricted WASI p2, and the per-call sandbox. It knows nothing of the
//! registry, deployments or HTTP: it is handed component bytes and a
//! [`KvStore`], and answers calls with the host's own version-neutral types
//! ([`Request`], [`Response`], [`CallError`]).
//!
//! # Life of a module version
//!
//! 1. [`Runtime::prepare`] compiles a component's bytes (or loads them from
//!    the compile cache) and links it once, producing a [`ReadyModule`] that
//!    holds the pre-instance for the WIT version the component exports. This
//!    is the slow part and runs off the request path.
//! 2. [`Runtime::self_test`] runs the module's `self-test` export on a
//!    throwaway store before the version is put into service.
//! 3. [`Runtime::call`] serves one request: a fresh `Store` whose data is the
//!    call's [`CallState`] (tenant, config, limits, one kv transaction), a
//!    fresh instance, one call to the `handler` export. Nothing survives the
//!    call but the writes it committed.
//!
//! # Capabilities
//!
//! One module each under `caps/` (`kv`, `config`, `log`, `metrics`,
//! `modules`, `wasi`): a per-call context, a view trait and an
//! `add_to_linker`, in the shape of `wasmtime-wasi-http`. A capability from
//! outside the crate implements [`Capability`] and is passed to
//! [`Runtime::with_capabilities`].
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
//! - A call's kv writes reach the store in one commit, and only if it succeeds.
//! - Generated bindings never leave this crate.

mod admission;
mod bindings;
mod cache;
pub mod caps;
mod cpu;
mod engine;
mod error;
pub mod kv;
mod lifecycle;
pub mod logs;
pub mod metrics;
mod ready;
mod request_metrics;
mod runtime;
mod types;

pub use crate::admission::TenantLimits;
pub use crate::bindings::{HOST_WIT_VERSIONS, WIT_PACKAGE};
pub use crate::cache::{CacheStats, CompileCache, StaleArtifact, StaleReason};
pub use crate::caps::{CallInfo, CallState, Capability};
pub use crate::cpu::CpuUsage;
pub use crate::engine::{PoolingLimits, RuntimeConfig};
pub use crate::error::{CallError, PrepareError};
pub use crate::kv::KvStore;
pub use crate::lifecycle::SELF_TEST_TENANT;
pub use crate::ready::{CodePageOut, InFlight, ModuleSpec, ReadyModule};
pub use crate::request_metrics::{LATENCY_BUCKETS_SECONDS, RequestMetrics, RequestSeries, SeriesCounters};
pub use crate::runtime::{ModuleResolver, ResolveFuture, Runtime};
pub use crate::types::{
    Caller, ConfigValue, ErrorCode, MAX_GUEST_MESSAGE_BYTES, Method, ModuleConfig, ModuleError, Request,
    Response, TenantContext, TenantKind, error_code_name, module_config, response_limits,
};

/// How often an embedder should call [`Runtime::page_out_idle_code`]: code
/// no call used for one to two of these leaves memory.
pub const IDLE_CODE_SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(60);
