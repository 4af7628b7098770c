//! The `modules` capability: calls into the tenant's other modules, only those the manifest declares.
//!
//! The capability checks what the caller may do (declared dependency, depth)
//! and hands the call to a [`NestedCalls`], which the runtime implements: it
//! finds the callee the tenant runs, checks its version against the declared
//! requirement and runs it in a fresh sandbox of its own.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use wasmtime::component::{HasData, Linker};

use crate::bindings::v1_0;
use crate::kv::KvStore;
use crate::types::{Caller, ModuleError, Request, Response};

/// A call one module makes to another, as the runtime is asked to run it.
pub(crate) struct NestedCall {
    /// Whom the outer call runs for (the tenant carries over).
    pub(crate) caller: Caller,
    /// The callee.
    pub(crate) module: String,
    /// The version the caller declared it needs.
    pub(crate) requirement: semver::VersionReq,
    /// The callee's depth.
    pub(crate) depth: u32,
    /// Where the callee's data lives (a smoke test's scratch store carries over).
    pub(crate) store: Arc<dyn KvStore>,
}

/// Why a nested call did not produce a response.
pub(crate) enum NestedCallError {
    /// The callee answered with its own error.
    Module(ModuleError),
    /// The callee is not active, or not at a matching version.
    NotActive(String),
    /// The callee failed (trap, deadline, limit, invalid response).
    Failed(String),
}

/// What [`NestedCalls::call`] returns.
pub(crate) type NestedFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Response, NestedCallError>> + Send + 'a>>;

/// Runs nested calls; implemented by the runtime.
pub(crate) trait NestedCalls: Send + Sync {
    /// Runs `request` against `call.module` for `call.caller`'s tenant.
    fn call(&self, call: NestedCall, request: Request) -> NestedFuture<'_>;
}

/// One call's view of the other modules: what it may call and how deep it is.
pub struct ModulesCtx {
    caller: Caller,
    dependencies: Arc<BTreeMap<String, semver::VersionReq>>,
    depth: u32,
    max_depth: u32,
    store: Arc<dyn KvStore>,
    calls: Arc<dyn NestedCalls>,
}

/// Access to a call's [`ModulesCtx`].
pub trait ModulesView: Send {
    /// The call's modules context.
    fn modules(&mut self) -> &mut ModulesCtx;
}

impl ModulesCtx {
    /// Nested calls of one call at `depth`.
    pub(crate) fn new(
        caller: Caller,
        dependencies: Arc<BTreeMap<String, semver::VersionReq>>,
        depth: u32,
        max_depth: u32,
        store: Arc<dyn KvStore>,
        calls: Arc<dyn NestedCalls>,
    ) -> Self {
        Self {
            caller,
            dependencies,
            depth,
            max_depth,
            store,
            calls,
        }
    }
}

struct ModulesHost<'a>(&'a mut ModulesCtx);

struct HasModules;

impl HasData for HasModules {
    type Data<'a> = ModulesHost<'a>;
}

impl v1_0::modules::Host for ModulesHost<'_> {
    async fn call(
        &mut self,
        module: String,
        request: v1_0::types::Request,
    ) -> Result<v1_0::types::Response, v1_0::modules::CallError> {
        use v1_0::modules::CallError;
        let ctx = &self.0;
        let Some(requirement) = ctx.dependencies.get(&module).cloned() else {
            return Err(CallError::NotDeclared(module));
        };
        if ctx.depth + 1 > ctx.max_depth {
            return Err(CallError::DepthExceeded);
        }
        let call = NestedCall {
            caller: ctx.caller.clone(),
            module,
            requirement,
            depth: ctx.depth + 1,
            store: ctx.store.clone(),
        };
        let calls = ctx.calls.clone();
        match calls.call(call, request.into()).await {
            Ok(response) => Ok(response.into()),
            Err(NestedCallError::Module(error)) => Err(CallError::Module(error.into())),
            Err(NestedCallError::NotActive(reason)) => Err(CallError::NotActive(reason)),
            Err(NestedCallError::Failed(reason)) => Err(CallError::Failed(reason)),
        }
    }
}

/// Links `modhost:module/modules`.
pub fn add_to_linker<T: ModulesView + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    v1_0::modules::add_to_linker::<T, HasModules>(linker, |state| ModulesHost(state.modules()))
}
