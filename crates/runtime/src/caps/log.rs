//! The `log` capability: structured records, bounded per call, into the tenant's log buffer and `tracing`.

use std::sync::Arc;
use std::time::SystemTime;

use wasmtime::component::{HasData, Linker};

use super::CallInfo;
use crate::bindings::v1_0;
use crate::logs::{
    LogBuffer, LogLevel, LogRecord, MAX_FIELD_BYTES, MAX_FIELDS, MAX_MESSAGE_BYTES, MAX_RECORDS_PER_CALL,
    truncate,
};

/// One call's logging: where records go and whom they are stamped with.
pub struct LogCtx {
    sink: Arc<LogBuffer>,
    tenant: String,
    module: String,
    version: String,
    request_id: String,
    written: u32,
    dropped: u32,
}

/// Access to a call's [`LogCtx`].
pub trait LogView: Send {
    /// The call's logging context.
    fn log(&mut self) -> &mut LogCtx;
}

impl LogCtx {
    /// Logging for one call into `sink`.
    pub(crate) fn new(sink: Arc<LogBuffer>, call: &CallInfo<'_>) -> Self {
        Self {
            sink,
            tenant: call.tenant.to_owned(),
            module: call.module.to_owned(),
            version: call.version.to_string(),
            request_id: call.request_id.to_owned(),
            written: 0,
            dropped: 0,
        }
    }

    /// Keeps one record (capped), or counts it as dropped past the per-call limit.
    pub(crate) fn push(&mut self, level: LogLevel, message: String, fields: Vec<(String, String)>) {
        if self.written >= MAX_RECORDS_PER_CALL {
            self.dropped += 1;
            return;
        }
        self.written += 1;
        let fields = fields
            .into_iter()
            .take(MAX_FIELDS)
            .map(|(key, value)| (truncate(key, MAX_FIELD_BYTES), truncate(value, MAX_FIELD_BYTES)))
            .collect();
        self.sink.push(LogRecord {
            time: SystemTime::now(),
            tenant: self.tenant.clone(),
            module: self.module.clone(),
            version: self.version.clone(),
            request_id: self.request_id.clone(),
            level,
            message: truncate(message, MAX_MESSAGE_BYTES),
            fields,
        });
    }

    /// Writes one warning saying how many records were dropped, if any were.
    pub(crate) fn report_dropped(&mut self) {
        if self.dropped > 0 {
            let dropped = std::mem::take(&mut self.dropped);
            self.written = 0;
            self.push(
                LogLevel::Warn,
                format!("{dropped} log records dropped: more than {MAX_RECORDS_PER_CALL} in one call"),
                vec![],
            );
        }
    }
}

struct LogHost<'a>(&'a mut LogCtx);

struct HasLog;

impl HasData for HasLog {
    type Data<'a> = LogHost<'a>;
}

impl v1_0::log::Host for LogHost<'_> {
    fn log(&mut self, level: v1_0::log::Level, message: String, fields: Vec<(String, String)>) {
        let level = match level {
            v1_0::log::Level::Trace => LogLevel::Trace,
            v1_0::log::Level::Debug => LogLevel::Debug,
            v1_0::log::Level::Info => LogLevel::Info,
            v1_0::log::Level::Warn => LogLevel::Warn,
            v1_0::log::Level::Error => LogLevel::Error,
        };
        self.0.push(level, message, fields);
    }
}

/// Links `modhost:module/log`.
pub fn add_to_linker<T: LogView + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    v1_0::log::add_to_linker::<T, HasLog>(linker, |state| LogHost(state.log()))
}
