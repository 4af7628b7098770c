//! `modhost.toml`: the server's settings, with defaults for everything.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use modhost_runtime::TenantLimits;
use serde::Deserialize;

/// The server's settings. Every field is optional in the file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Where to listen.
    pub listen: SocketAddr,
    /// The data directory (registry, artifacts, compile cache).
    pub data_dir: PathBuf,
    /// The largest request body the data plane accepts, in bytes.
    pub max_request_body_bytes: usize,
    /// The largest component an upload may carry, in bytes.
    pub max_component_bytes: usize,
    /// The most memory any module call may use, in MiB.
    pub max_module_memory_mb: u64,
    /// The longest deadline any module call may have, in milliseconds.
    pub max_module_timeout_ms: u64,
    /// How long shutdown waits for in-flight requests, in milliseconds.
    pub shutdown_grace_ms: u64,
    /// How many module calls one tenant may run at once.
    pub max_concurrent_calls_per_tenant: u32,
    /// How many more calls of one tenant may wait for a slot; past that, `429`.
    pub max_queued_calls_per_tenant: u32,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from(".modhost"),
            max_request_body_bytes: 1024 * 1024,
            max_component_bytes: 16 * 1024 * 1024,
            max_module_memory_mb: 256,
            max_module_timeout_ms: 30_000,
            shutdown_grace_ms: 10_000,
            max_concurrent_calls_per_tenant: TenantLimits::default().max_concurrent_calls,
            max_queued_calls_per_tenant: TenantLimits::default().max_queued_calls,
        }
    }
}

impl ServerConfig {
    /// Reads `path`, or the defaults when `None`.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Self> {
        let Some(path) = path else {
            return Ok(Self::default());
        };
        let text = std::fs::read_to_string(path)
            .map_err(|error| anyhow::anyhow!("could not read {}: {error}", path.display()))?;
        toml::from_str(&text)
            .map_err(|error| anyhow::anyhow!("{} is not a valid modhost.toml: {error}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_settings_are_refused() {
        let error = toml::from_str::<ServerConfig>("listen = \"0.0.0.0:9000\"\nmax_body = 3\n")
            .expect_err("unknown key");
        assert!(error.to_string().contains("unknown field `max_body`"), "{error}");
        let config: ServerConfig = toml::from_str("listen = \"0.0.0.0:9000\"\n").expect("valid");
        assert_eq!(config.listen.port(), 9000);
        assert_eq!(config.max_component_bytes, 16 * 1024 * 1024);
    }
}
