//! The per-call host state and the host side of every capability in the world.
//!
//! One [`HostState`] lives in each call's fresh `Store`: it knows the tenant and
//! module the call runs for, so every capability is scoped by construction.
//! The guest names keys, fields and metrics; it never names a tenant.

use std::time::SystemTime;

use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, Result as WasmtimeResult};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::bindings::{config, kv, log, metrics, modules, types};
use crate::kv::{MAX_LIST_PAGE, MAX_VALUE_BYTES, validate_key};
use crate::logs::{
    LogLevel, LogRecord, MAX_FIELD_BYTES, MAX_FIELDS, MAX_MESSAGE_BYTES, MAX_RECORDS_PER_CALL, truncate,
};
use crate::metrics::MetricRefusal;
use crate::{CallError, CallTarget, Runtime};

/// The most bytes of stdout and of stderr kept per call; writing more traps the call.
pub(crate) const MAX_CAPTURED_OUTPUT_BYTES: usize = 64 * 1024;

/// Enforces a call's memory limit and remembers whether it was hit, so a
/// failed allocation can be reported as what it is rather than as a trap.
pub(crate) struct MemoryLimiter {
    pub(crate) limit_bytes: usize,
    pub(crate) hit: bool,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> WasmtimeResult<bool> {
        if desired > self.limit_bytes {
            self.hit = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> WasmtimeResult<bool> {
        Ok(desired <= 100_000)
    }
}

/// Everything a call's store holds.
pub(crate) struct HostState {
    pub(crate) wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) limiter: MemoryLimiter,
    pub(crate) stdout: MemoryOutputPipe,
    pub(crate) stderr: MemoryOutputPipe,
    pub(crate) runtime: Runtime,
    pub(crate) target: CallTarget,
    pub(crate) records_written: u32,
    /// Whether the call wrote to kv and needs a commit before it answers.
    pub(crate) kv_dirty: bool,
    pub(crate) records_dropped: u32,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl HostState {
    pub(crate) fn push_log(&mut self, level: LogLevel, message: String, fields: Vec<(String, String)>) {
        if self.records_written >= MAX_RECORDS_PER_CALL {
            self.records_dropped += 1;
            return;
        }
        self.records_written += 1;
        let fields = fields
            .into_iter()
            .take(MAX_FIELDS)
            .map(|(key, value)| (truncate(key, MAX_FIELD_BYTES), truncate(value, MAX_FIELD_BYTES)))
            .collect();
        self.runtime.logs().push(LogRecord {
            time: SystemTime::now(),
            tenant: self.target.caller.tenant_id.clone(),
            module: self.target.module.spec().id.clone(),
            version: self.target.module.spec().version.to_string(),
            request_id: self.target.caller.request_id.clone(),
            level,
            message: truncate(message, MAX_MESSAGE_BYTES),
            fields,
        });
    }

    /// Turns captured stdout/stderr into log records (stdout at info, stderr at warn).
    pub(crate) fn flush_captured_output(&mut self) {
        for (pipe, level) in [
            (self.stdout.clone(), LogLevel::Info),
            (self.stderr.clone(), LogLevel::Warn),
        ] {
            let contents = pipe.contents();
            for line in String::from_utf8_lossy(&contents)
                .lines()
                .filter(|line| !line.trim().is_empty())
            {
                self.push_log(
                    level,
                    line.to_owned(),
                    vec![("stream".into(), stream_name(level).into())],
                );
            }
        }
        if self.records_dropped > 0 {
            let dropped = std::mem::take(&mut self.records_dropped);
            self.records_written = 0;
            self.push_log(
                LogLevel::Warn,
                format!("{dropped} log records dropped: more than {MAX_RECORDS_PER_CALL} in one call"),
                vec![],
            );
        }
    }

    fn kv_unavailable(&self, error: anyhow::Error) -> kv::KvError {
        tracing::error!(tenant = %self.target.scope.tenant, module = %self.target.scope.module, error = %format!("{error:#}"), "kv storage failed");
        kv::KvError::Unavailable("the host's storage failed; try again".to_owned())
    }
}

fn stream_name(level: LogLevel) -> &'static str {
    if level == LogLevel::Info {
        "stdout"
    } else {
        "stderr"
    }
}

impl types::Host for HostState {}

impl kv::Host for HostState {
    fn get(&mut self, key: String) -> Result<Option<Vec<u8>>, kv::KvError> {
        validate_key(&key).map_err(kv::KvError::InvalidKey)?;
        let store = self.target.kv.clone();
        store
            .get(&self.target.scope, &key)
            .map_err(|error| self.kv_unavailable(error))
    }

    fn set(&mut self, key: String, value: Vec<u8>) -> Result<(), kv::KvError> {
        validate_key(&key).map_err(kv::KvError::InvalidKey)?;
        if value.len() > MAX_VALUE_BYTES {
            return Err(kv::KvError::ValueTooLarge(MAX_VALUE_BYTES as u32));
        }
        self.kv_dirty = true;
        let store = self.target.kv.clone();
        store
            .set(&self.target.scope, &key, &value)
            .map_err(|error| self.kv_unavailable(error))
    }

    fn delete(&mut self, key: String) -> Result<bool, kv::KvError> {
        validate_key(&key).map_err(kv::KvError::InvalidKey)?;
        self.kv_dirty = true;
        let store = self.target.kv.clone();
        store
            .delete(&self.target.scope, &key)
            .map_err(|error| self.kv_unavailable(error))
    }

    fn list(
        &mut self,
        prefix: String,
        after: Option<String>,
        limit: u32,
    ) -> Result<kv::KeyPage, kv::KvError> {
        if prefix.len() > crate::kv::MAX_KEY_BYTES {
            return Err(kv::KvError::InvalidKey(
                "the prefix is longer than a key may be".to_owned(),
            ));
        }
        let limit = match usize::try_from(limit) {
            Ok(0) | Err(_) => MAX_LIST_PAGE,
            Ok(limit) => limit.min(MAX_LIST_PAGE),
        };
        let store = self.target.kv.clone();
        let mut keys = store
            .list(&self.target.scope, &prefix, after.as_deref(), limit + 1)
            .map_err(|error| self.kv_unavailable(error))?;
        let next = if keys.len() > limit {
            keys.truncate(limit);
            keys.last().cloned()
        } else {
            None
        };
        Ok(kv::KeyPage { keys, next })
    }
}

impl config::Host for HostState {
    fn get(&mut self, key: String) -> Option<config::Value> {
        self.target
            .config
            .iter()
            .find(|(name, _)| *name == key)
            .map(|(_, value)| value.clone())
    }

    fn all(&mut self) -> Vec<(String, config::Value)> {
        self.target.config.as_ref().clone()
    }
}

impl log::Host for HostState {
    fn log(&mut self, level: log::Level, message: String, fields: Vec<(String, String)>) {
        let level = match level {
            log::Level::Trace => LogLevel::Trace,
            log::Level::Debug => LogLevel::Debug,
            log::Level::Info => LogLevel::Info,
            log::Level::Warn => LogLevel::Warn,
            log::Level::Error => LogLevel::Error,
        };
        self.push_log(level, message, fields);
    }
}

fn metric_error(refusal: MetricRefusal) -> metrics::MetricError {
    match refusal {
        MetricRefusal::InvalidName(reason) => metrics::MetricError::InvalidName(reason),
        MetricRefusal::InvalidTags(reason) => metrics::MetricError::InvalidTags(reason),
        MetricRefusal::KindMismatch(name) => metrics::MetricError::InvalidName(format!(
            "metric `{name}` is already recorded with the other kind (counter vs gauge)"
        )),
        MetricRefusal::TooManySeries => metrics::MetricError::TooManySeries,
    }
}

impl metrics::Host for HostState {
    fn counter(
        &mut self,
        name: String,
        value: u64,
        tags: Vec<(String, String)>,
    ) -> Result<(), metrics::MetricError> {
        self.runtime
            .module_metrics()
            .counter(
                &self.target.scope.tenant,
                &self.target.scope.module,
                &name,
                value,
                tags,
            )
            .map_err(metric_error)
    }

    fn gauge(
        &mut self,
        name: String,
        value: f64,
        tags: Vec<(String, String)>,
    ) -> Result<(), metrics::MetricError> {
        self.runtime
            .module_metrics()
            .gauge(
                &self.target.scope.tenant,
                &self.target.scope.module,
                &name,
                value,
                tags,
            )
            .map_err(metric_error)
    }
}

impl modules::Host for HostState {
    async fn call(
        &mut self,
        module: String,
        request: types::Request,
    ) -> Result<types::Response, modules::CallError> {
        let Some(requirement) = self.target.module.spec().dependencies.get(&module) else {
            return Err(modules::CallError::NotDeclared(module));
        };
        if self.target.depth + 1 > self.runtime.config().max_call_depth {
            return Err(modules::CallError::DepthExceeded);
        }
        let tenant = &self.target.caller.tenant_id;
        let Some((callee, config)) = self.runtime.resolve(tenant, &module).await else {
            return Err(modules::CallError::NotActive(format!(
                "module `{module}` is not active for tenant `{tenant}`"
            )));
        };
        if !requirement.matches(&callee.spec().version) {
            return Err(modules::CallError::NotActive(format!(
                "module `{module}` is active at {} for tenant `{tenant}`, which does not match the declared `{requirement}`",
                callee.spec().version
            )));
        }
        let runtime = self.runtime.clone();
        let target = CallTarget::new(
            callee,
            &self.target.caller,
            config,
            self.target.depth + 1,
            self.target.kv.clone(),
        );
        let outcome = Box::pin(runtime.call_target(target, request)).await;
        outcome.map_err(|error| match error {
            CallError::Module(error) => modules::CallError::Module(error),
            other => modules::CallError::Failed(format!("module `{module}` failed: {other}")),
        })
    }
}
