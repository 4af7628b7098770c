//! The commands, one module per group; each prints its result and returns a `CliError` on failure.

pub mod alert;
pub mod backup;
pub mod backup_schedule;
pub mod call;
pub mod config;
pub mod debug;
pub mod deploy;
pub mod dev;
pub mod develop;
pub mod gc;
pub mod logs;
pub mod metrics;
pub mod module;
pub mod observe;
pub mod rollout;
pub mod serve;
pub mod telemetry;
pub mod tenant;
pub mod token;

use serde::Serialize;
use serde_json::Value;

use crate::client::Client;
use crate::output;

/// What every client command needs: the server connection and the output mode.
pub struct Context {
    /// The HTTP client.
    pub client: Client,
    /// Whether to print the server's JSON instead of text for people.
    pub json: bool,
}

impl Context {
    /// Prints the API response `value` (`modhost-api`) as JSON with `--json`,
    /// else what `human` makes of it.
    pub fn show<T: Serialize>(&self, value: &T, human: impl FnOnce(&T) -> String) {
        if self.json {
            output::print_json(&serde_json::to_value(value).unwrap_or(Value::Null));
        } else {
            output::print(&human(value));
        }
    }
}
