//! The `config` capability: the tenant's validated configuration of the module, read-only.

use std::sync::Arc;

use wasmtime::component::{HasData, Linker};

use crate::bindings::v1_0;
use crate::types::ModuleConfig;

/// One call's configuration: the tenant's values resolved against the module's schema.
pub struct ConfigCtx {
    values: Arc<ModuleConfig>,
}

/// Access to a call's [`ConfigCtx`].
pub trait ConfigView: Send {
    /// The call's config context.
    fn config(&mut self) -> &mut ConfigCtx;
}

impl ConfigCtx {
    /// Serves `values` to one call.
    pub(crate) fn new(values: Arc<ModuleConfig>) -> Self {
        Self { values }
    }
}

struct ConfigHost<'a>(&'a mut ConfigCtx);

struct HasConfig;

impl HasData for HasConfig {
    type Data<'a> = ConfigHost<'a>;
}

impl v1_0::config::Host for ConfigHost<'_> {
    fn get(&mut self, key: String) -> Option<v1_0::config::Value> {
        self.0
            .values
            .iter()
            .find(|(name, _)| *name == key)
            .map(|(_, value)| value.into())
    }

    fn all(&mut self) -> Vec<(String, v1_0::config::Value)> {
        self.0
            .values
            .iter()
            .map(|(name, value)| (name.clone(), value.into()))
            .collect()
    }
}

/// Links `modhost:module/config`.
pub fn add_to_linker<T: ConfigView + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    v1_0::config::add_to_linker::<T, HasConfig>(linker, |state| ConfigHost(state.config()))
}
