//! [`App`]: the state every request shares, and opening it from a data directory.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use bytes::Bytes;
use modhost_deploy::{Loader, RegistryKvStore};
use modhost_registry::{Registry, RegistryConfig};
use modhost_runtime::kv::KvQuota;
use modhost_runtime::{Runtime, RuntimeConfig};

use crate::config::ServerConfig;

/// The shared state of every request.
pub(crate) struct App {
    pub(crate) registry: Registry,
    pub(crate) loader: Loader,
    pub(crate) config: ServerConfig,
    /// The OpenAPI document, as served at `/v1/openapi.json`.
    pub(crate) openapi: Bytes,
    /// Refused requests: counts, and which kinds were audited lately.
    pub(crate) denials: crate::denials::Denials,
    /// Open connections and failed accepts, for `/metrics`.
    pub(crate) edge: std::sync::Arc<crate::edge::EdgeStats>,
    request_ids: AtomicU64,
    request_id_prefix: String,
}

impl App {
    pub(crate) fn next_request_id(&self) -> String {
        format!(
            "{}-{:x}",
            self.request_id_prefix,
            self.request_ids.fetch_add(1, Ordering::Relaxed)
        )
    }

    pub(crate) fn runtime(&self) -> &Runtime {
        self.loader.runtime()
    }
}

/// Opens the data directory and starts everything behind the HTTP layer.
pub(crate) fn open(config: ServerConfig, openapi: Bytes) -> anyhow::Result<App> {
    let registry = Registry::open(
        config.data_dir.join("registry"),
        RegistryConfig {
            max_component_bytes: config.max_component_bytes,
        },
    )?;
    ensure_operator_token(&registry)?;
    let runtime_config = RuntimeConfig {
        max_memory_bytes: config.max_module_memory_mb * 1024 * 1024,
        max_timeout: Duration::from_millis(config.max_module_timeout_ms),
        max_kv_quota: KvQuota {
            max_keys: config.max_module_kv_keys,
            max_bytes: config.max_module_kv_mb.saturating_mul(1024 * 1024),
        },
        compile_cache_dir: Some(config.data_dir.join("compiled")),
        tenant_limits: config.default_tenant_limits(),
        ..RuntimeConfig::default()
    };
    let runtime = Runtime::new(
        runtime_config,
        std::sync::Arc::new(RegistryKvStore(registry.clone())),
    )?;
    for (tenant, overrides) in &config.tenant_limits {
        runtime.set_tenant_limits(tenant, Some(config.limits_of(overrides)))?;
    }
    let loader = Loader::start(runtime, registry.clone())?;
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Ok(App {
        registry,
        loader,
        config,
        openapi,
        denials: crate::denials::Denials::default(),
        edge: std::sync::Arc::default(),
        request_ids: AtomicU64::new(0),
        request_id_prefix: format!("{:x}", started.as_secs()),
    })
}

/// Takes `MODHOST_ADMIN_TOKEN`, or creates the first operator token and prints it once.
fn ensure_operator_token(registry: &Registry) -> anyhow::Result<()> {
    if let Ok(secret) = std::env::var("MODHOST_ADMIN_TOKEN") {
        registry
            .ensure_operator_secret(&secret, "system")
            .context("MODHOST_ADMIN_TOKEN was refused")?;
        return Ok(());
    }
    if registry.has_operator_token()? {
        return Ok(());
    }
    let (_, secret) = registry.create_token(
        modhost_registry::NewToken {
            name: "first operator".into(),
            role: modhost_registry::Role::Operator,
            tenant: None,
            permissions: None,
        },
        "system",
    )?;
    println!("operator token (shown once, keep it safe): {secret}");
    Ok(())
}
