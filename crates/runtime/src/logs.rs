//! Module log records: forwarded to `tracing` and kept in a bounded per-tenant buffer, or handed to a sink.
//!
//! Operators and tenant admins read a tenant's recent records through the
//! server; the buffer keeps the newest [`LogBuffer::PER_TENANT`] records per
//! tenant so a chatty module cannot grow the host's memory. An embedder that
//! keeps records itself (the server's durable log store) installs a
//! [`LogSink`] with [`LogBuffer::set_sink`]; records then go to the sink only.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;

/// The severity of a record, mirroring the WIT `log.level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// Very detailed.
    Trace,
    /// Debugging detail.
    Debug,
    /// Normal operation.
    Info,
    /// Something unexpected but handled.
    Warn,
    /// A failure.
    Error,
}

impl LogLevel {
    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Trace => "trace",
            Self::Debug => "debug",
            Self::Info => "info",
            Self::Warn => "warn",
            Self::Error => "error",
        }
    }
}

/// One record written by a module (or captured from its stdout/stderr).
#[derive(Debug, Clone, PartialEq)]
pub struct LogRecord {
    /// When the host received it.
    pub time: SystemTime,
    /// The tenant the call ran for.
    pub tenant: String,
    /// The module that wrote it.
    pub module: String,
    /// The module's version.
    pub version: String,
    /// The request it belongs to.
    pub request_id: String,
    /// Severity.
    pub level: LogLevel,
    /// The message, truncated to [`MAX_MESSAGE_BYTES`].
    pub message: String,
    /// Extra fields, at most [`MAX_FIELDS`].
    pub fields: Vec<(String, String)>,
}

/// The longest message kept, in bytes.
pub const MAX_MESSAGE_BYTES: usize = 4096;
/// The most fields kept per record.
pub const MAX_FIELDS: usize = 16;
/// The longest field key or value kept, in bytes.
pub const MAX_FIELD_BYTES: usize = 256;
/// The most records one call may write; later ones are dropped and counted.
pub const MAX_RECORDS_PER_CALL: u32 = 100;

/// Cuts `text` to at most `max` bytes on a character boundary, marking the cut.
pub fn truncate(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max.saturating_sub(3);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push_str("...");
    }
    text
}

/// Where records go when the embedder keeps them itself.
///
/// [`LogSink::append`] is called on the guest's call path, inside a host
/// function: it must never block (hand the record on, or drop and count it).
pub trait LogSink: Send + Sync + 'static {
    /// Takes one record.
    fn append(&self, record: LogRecord);
}

/// The per-tenant buffers of recent records.
#[derive(Default)]
pub struct LogBuffer {
    tenants: Mutex<HashMap<String, VecDeque<LogRecord>>>,
    sink: OnceLock<Arc<dyn LogSink>>,
}

impl std::fmt::Debug for LogBuffer {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("LogBuffer")
            .field("sink", &self.sink.get().is_some())
            .finish_non_exhaustive()
    }
}

impl LogBuffer {
    /// How many records are kept per tenant.
    pub const PER_TENANT: usize = 1000;

    /// An empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sends every record from now on to `sink` instead of the buffer.
    /// Only the first sink installed is kept; `false` if one was already.
    pub fn set_sink(&self, sink: Arc<dyn LogSink>) -> bool {
        self.sink.set(sink).is_ok()
    }

    /// Emits `record` to `tracing` and keeps it in its tenant's buffer (or
    /// hands it to the sink, when one is installed).
    pub fn push(&self, record: LogRecord) {
        emit_tracing(&record);
        if let Some(sink) = self.sink.get() {
            sink.append(record);
            return;
        }
        let mut tenants = self
            .tenants
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let buffer = tenants.entry(record.tenant.clone()).or_default();
        if buffer.len() == Self::PER_TENANT {
            buffer.pop_front();
        }
        buffer.push_back(record);
    }

    /// The newest `limit` records of `tenant`, oldest first (none once a sink is installed).
    pub fn recent(&self, tenant: &str, limit: usize) -> Vec<LogRecord> {
        let tenants = self
            .tenants
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        tenants
            .get(tenant)
            .map(|buffer| {
                buffer
                    .iter()
                    .skip(buffer.len().saturating_sub(limit))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// A guest's message as one host log line: newlines and other control
/// characters escaped (`\n`, `\u{1b}`), so a module cannot forge host log
/// lines or send terminal escapes to whoever reads them.
fn one_line(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    for character in message.chars() {
        if character.is_control() {
            out.extend(character.escape_debug());
        } else {
            out.push(character);
        }
    }
    out
}

fn emit_tracing(record: &LogRecord) {
    macro_rules! emit {
        ($level:expr) => {
            tracing::event!(
                target: "modhost::module",
                $level,
                tenant = %record.tenant,
                module = %record.module,
                version = %record.version,
                request_id = %record.request_id,
                fields = ?record.fields,
                "{}",
                one_line(&record.message)
            )
        };
    }
    match record.level {
        LogLevel::Trace => emit!(tracing::Level::TRACE),
        LogLevel::Debug => emit!(tracing::Level::DEBUG),
        LogLevel::Info => emit!(tracing::Level::INFO),
        LogLevel::Warn => emit!(tracing::Level::WARN),
        LogLevel::Error => emit!(tracing::Level::ERROR),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_guest_message_is_one_host_log_line() {
        assert_eq!(
            one_line("stock low\nERROR forged host line\r\u{1b}[2J\tend"),
            "stock low\\nERROR forged host line\\r\\u{1b}[2J\\tend"
        );
        assert_eq!(one_line("ação ok"), "ação ok", "printable text is untouched");
    }

    fn record(tenant: &str, message: &str) -> LogRecord {
        LogRecord {
            time: SystemTime::now(),
            tenant: tenant.into(),
            module: "m".into(),
            version: "1.0.0".into(),
            request_id: "r".into(),
            level: LogLevel::Info,
            message: message.into(),
            fields: vec![],
        }
    }

    #[test]
    fn buffer_is_bounded_per_tenant() {
        let buffer = LogBuffer::new();
        for index in 0..LogBuffer::PER_TENANT + 5 {
            buffer.push(record("acme", &index.to_string()));
        }
        buffer.push(record("banban", "mine"));
        let recent = buffer.recent("acme", usize::MAX);
        assert_eq!(recent.len(), LogBuffer::PER_TENANT);
        assert_eq!(recent[0].message, "5");
        assert_eq!(
            buffer
                .recent("acme", 2)
                .iter()
                .map(|r| r.message.as_str())
                .collect::<Vec<_>>(),
            ["1003", "1004"]
        );
        assert_eq!(buffer.recent("banban", 10).len(), 1);
        assert!(buffer.recent("nobody", 10).is_empty());
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        assert_eq!(truncate("short".into(), 10), "short");
        assert_eq!(truncate("ããããã".into(), 8), "ãã...");
    }
}
