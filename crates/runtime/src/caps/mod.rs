//! The host capabilities, one module each, and the per-call state that composes them.
//!
//! Every capability follows one shape (that of `wasmtime-wasi-http`): a
//! per-call context holding only what that capability needs (`KvCtx`,
//! `LogCtx`, …, never the whole runtime), a view trait giving access to it
//! (`KvView`, …) and an `add_to_linker` that links the capability's WIT
//! interface for any store data implementing the view. [`CallState`] is the
//! store data of one call: it holds each context and implements each view.
//!
//! A capability outside this crate implements [`Capability`]: it links its
//! own WIT interface and hands every call a state of its own, reached through
//! [`CallState::extension`]. `tests/capability.rs` adds one that way.

pub(crate) mod config;
pub(crate) mod kv;
pub(crate) mod log;
pub(crate) mod metrics;
pub(crate) mod modules;
pub(crate) mod wasi;

use std::any::Any;
use std::sync::Arc;

use wasmtime::ResourceLimiter;
use wasmtime::component::Linker;

pub use self::config::{ConfigCtx, ConfigView};
pub use self::kv::{KvCtx, KvView};
pub use self::log::{LogCtx, LogView};
pub use self::metrics::{MetricsCtx, MetricsView};
pub use self::modules::{ModulesCtx, ModulesView};
pub use self::wasi::WasiPolicy;

/// Whom and what one call runs for: what a capability may scope its state by.
#[derive(Debug, Clone, Copy)]
pub struct CallInfo<'a> {
    /// The tenant, as established by the host.
    pub tenant: &'a str,
    /// The module serving the call.
    pub module: &'a str,
    /// Its version.
    pub version: &'a semver::Version,
    /// The request id.
    pub request_id: &'a str,
    /// How deep in `modules.call` this call is (0: from the host).
    pub depth: u32,
}

/// A host capability added from outside the sandbox crate: one WIT interface
/// and the state each call gets for it.
pub trait Capability: Send + Sync + 'static {
    /// Links the capability's WIT interface; its host functions reach their
    /// per-call state with [`CallState::extension`].
    fn add_to_linker(&self, linker: &mut Linker<CallState>) -> wasmtime::Result<()>;
    /// The state one call gets.
    fn call_state(&self, call: &CallInfo<'_>) -> Box<dyn Any + Send>;
}

/// Enforces a call's memory limit and remembers whether it was hit, so a
/// failed allocation can be reported as what it is rather than as a trap.
///
/// The limit covers every linear memory of the call's instance together (a
/// component may hold several core instances, each with memories): their
/// sizes are summed. A nested `modules.call` runs in a store of its own,
/// under the callee's own limit.
pub(crate) struct MemoryLimiter {
    pub(crate) limit_bytes: usize,
    pub(crate) used_bytes: usize,
    pub(crate) hit: bool,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let growth = desired.saturating_sub(current);
        let total = self.used_bytes.saturating_add(growth);
        if total > self.limit_bytes {
            self.hit = true;
            return Ok(false);
        }
        self.used_bytes = total;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

/// The store data of one call: each capability's context, nothing shared
/// with other calls but what those contexts point to.
pub struct CallState {
    pub(crate) wasi: wasi::WasiCtxs,
    pub(crate) limiter: MemoryLimiter,
    pub(crate) kv: KvCtx,
    pub(crate) config: ConfigCtx,
    pub(crate) log: LogCtx,
    pub(crate) metrics: MetricsCtx,
    pub(crate) modules: ModulesCtx,
    pub(crate) extensions: Vec<Box<dyn Any + Send>>,
}

impl CallState {
    /// The call's state of an added [`Capability`] whose state type is `S`.
    pub fn extension<S: Any>(&mut self) -> Option<&mut S> {
        self.extensions
            .iter_mut()
            .find_map(|state| state.downcast_mut::<S>())
    }
}

impl KvView for CallState {
    fn kv(&mut self) -> &mut KvCtx {
        &mut self.kv
    }
}

impl ConfigView for CallState {
    fn config(&mut self) -> &mut ConfigCtx {
        &mut self.config
    }
}

impl LogView for CallState {
    fn log(&mut self) -> &mut LogCtx {
        &mut self.log
    }
}

impl MetricsView for CallState {
    fn metrics(&mut self) -> &mut MetricsCtx {
        &mut self.metrics
    }
}

impl ModulesView for CallState {
    fn modules(&mut self) -> &mut ModulesCtx {
        &mut self.modules
    }
}

/// The linker every module version is linked against: the WASI policy, the
/// built-in capabilities, then the added ones.
pub(crate) fn linker(
    engine: &wasmtime::Engine,
    added: &[Arc<dyn Capability>],
) -> wasmtime::Result<Linker<CallState>> {
    let mut linker = Linker::new(engine);
    wasi::add_to_linker(&mut linker)?;
    kv::add_to_linker(&mut linker)?;
    config::add_to_linker(&mut linker)?;
    log::add_to_linker(&mut linker)?;
    metrics::add_to_linker(&mut linker)?;
    modules::add_to_linker(&mut linker)?;
    for capability in added {
        capability.add_to_linker(&mut linker)?;
    }
    Ok(linker)
}
