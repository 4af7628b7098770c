//! Helpers over the host's `log` capability: leveled, structured log records.
//!
//! Records reach the host's logs tagged with tenant, module and version, and
//! the tenant's log buffer that `modhost logs <tenant>` shows. Never log
//! secrets or whole payloads: tenants' operators can read these.

use crate::bindings::modhost::module::log as wit;

pub use wit::Level;

/// Records `message` at `level` with `(key, value)` fields.
pub fn log(level: Level, message: &str, fields: &[(&str, &str)]) {
    let fields: Vec<(String, String)> = fields
        .iter()
        .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
        .collect();
    wit::log(level, message, &fields);
}

/// Records `message` at `debug`.
pub fn debug(message: &str) {
    log(Level::Debug, message, &[]);
}

/// Records `message` at `info`.
pub fn info(message: &str) {
    log(Level::Info, message, &[]);
}

/// Records `message` at `warn`.
pub fn warn(message: &str) {
    log(Level::Warn, message, &[]);
}

/// Records `message` at `error`.
pub fn error(message: &str) {
    log(Level::Error, message, &[]);
}
