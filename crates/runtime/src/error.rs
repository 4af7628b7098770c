//! Why a module version could not be made ready, and why a call did not produce a response.

use std::time::Duration;

use crate::types::ModuleError;

/// Why a module version could not be made ready.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    /// The bytes are not a valid component for this engine.
    #[error("the component does not compile: {0}")]
    Compile(String),
    /// The component imports something the host does not provide, or does not
    /// export the world's interfaces at a version the host implements.
    #[error("the component does not fit the host: {0}")]
    Link(String),
}

/// Why a call did not produce a response.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CallError {
    /// The module answered with an error of its own.
    #[error("{}: {}", .0.code.name(), .0.message)]
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
    /// The call's writes fit when it made them, but another call of the
    /// tenant committed first and together they would pass the module's data
    /// quota; the writes and the response were discarded.
    #[error("{0}; delete data or store less, then retry")]
    QuotaExceeded(String),
    /// The tenant already runs and queues as many calls as it may; nothing ran.
    #[error("{0}")]
    Busy(String),
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
            Self::QuotaExceeded(_) => "kv-quota",
            Self::Busy(_) => "busy",
        }
    }
}
