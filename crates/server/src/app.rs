//! [`App`]: the state every request shares, and opening it from a data directory.

use std::path::Path;
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
    /// The module uploads being read.
    pub(crate) uploads: crate::work_slots::WorkSlots,
    /// Smoke tests and promote dry runs on demand, per tenant.
    pub(crate) checks: crate::work_slots::WorkSlots,
    /// Alert settings and the notification outbox's counters.
    pub(crate) alerting: modhost_alerts::Alerting,
    /// Backups, restores and backup verifications running now (each reads or
    /// writes a whole tenant): at most [`crate::backup_files::MAX_RUNNING`].
    pub(crate) backup_work: tokio::sync::Semaphore,
    /// Data-plane requests refused because their tenant is suspended, for `/metrics`.
    pub(crate) suspended_refusals: AtomicU64,
    /// Module log records on disk: retention, queries, live streams.
    pub(crate) module_logs: crate::module_logs::ModuleLogs,
    /// The start-up warm-up of every route (`serve` starts it), for `/readyz`.
    pub(crate) warm_up: modhost_deploy::WarmUp,
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
    make_private(&config.data_dir)?;
    let registry = Registry::open(
        config.data_dir.join("registry"),
        RegistryConfig {
            max_component_bytes: config.max_component_bytes,
            store_cache_bytes: Some(config.store_cache_mb.saturating_mul(1024 * 1024)),
        },
    )?;
    ensure_operator_token(&registry, &config.data_dir)?;
    crate::backup_files::discard_incoming(&config.backup_dir());
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
    let module_logs = crate::module_logs::ModuleLogs::open(
        config.data_dir.join("logs"),
        crate::module_logs::Limits::new(
            config.module_logs_max_bytes_per_tenant,
            Duration::from_secs(config.module_logs_max_age_days.saturating_mul(86_400)),
        ),
    )?;
    runtime.logs().set_sink(module_logs.sink());
    for (tenant, overrides) in &config.tenant_limits {
        runtime.set_tenant_limits(tenant, Some(config.limits_of(overrides)))?;
    }
    let loader = Loader::start(runtime, registry.clone())?;
    loader.set_watch_policy(config.watch_policy());
    loader.set_max_resident_versions(config.max_resident_versions);
    let alerting = modhost_alerts::Alerting::new(&registry, config.alerts.clone())?;
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let uploads = crate::work_slots::WorkSlots::new(
        crate::work_slots::UPLOADS,
        usize::try_from(config.max_concurrent_uploads).unwrap_or(usize::MAX),
    );
    let checks = crate::work_slots::WorkSlots::new(
        crate::work_slots::CHECKS,
        usize::try_from(config.max_concurrent_checks).unwrap_or(usize::MAX),
    );
    Ok(App {
        registry,
        loader,
        config,
        openapi,
        denials: crate::denials::Denials::default(),
        edge: std::sync::Arc::default(),
        uploads,
        checks,
        alerting,
        backup_work: tokio::sync::Semaphore::new(crate::backup_files::MAX_RUNNING),
        suspended_refusals: AtomicU64::new(0),
        module_logs,
        warm_up: modhost_deploy::WarmUp::new(),
        request_ids: AtomicU64::new(0),
        request_id_prefix: format!("{:x}", started.as_secs()),
    })
}

/// Keeps the data directory (tenants' data, configs, the audit log) to the
/// server's user: everything this process creates from now on is `0700`
/// (directories) or `0600` (files) — the process's umask becomes `077`, as
/// the server owns the process — and what already exists under `data_dir`
/// is set so too.
fn make_private(data_dir: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("could not create the data directory {}", data_dir.display()))?;
        let mut pending = vec![data_dir.to_path_buf()];
        while let Some(path) = pending.pop() {
            let metadata = std::fs::symlink_metadata(&path)
                .with_context(|| format!("could not read {}", path.display()))?;
            if metadata.file_type().is_symlink() {
                continue;
            }
            let mode = if metadata.is_dir() { 0o700 } else { 0o600 };
            if metadata.permissions().mode() & 0o777 != mode {
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
                    .with_context(|| format!("could not make {} private", path.display()))?;
            }
            if metadata.is_dir() {
                for entry in
                    std::fs::read_dir(&path).with_context(|| format!("could not list {}", path.display()))?
                {
                    pending.push(entry?.path());
                }
            }
        }
    }
    #[cfg(not(unix))]
    let _ = data_dir;
    Ok(())
}

/// Where the first operator token is written when the server creates it.
pub(crate) const OPERATOR_TOKEN_FILE: &str = "operator-token";

/// Writes `secret` to a new file at `path` readable by the server's user only.
fn write_secret(path: &Path, secret: &str) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("could not create {}; move the old one away", path.display()))?;
    std::io::Write::write_all(&mut file, format!("{secret}\n").as_bytes())
        .with_context(|| format!("could not write {}", path.display()))?;
    file.sync_all()
        .with_context(|| format!("could not write {}", path.display()))?;
    Ok(())
}

/// Takes `MODHOST_ADMIN_TOKEN`, or creates the first operator token and
/// writes it to `<data_dir>/operator-token` (`0600`), printing where.
fn ensure_operator_token(registry: &Registry, data_dir: &Path) -> anyhow::Result<()> {
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
    let path = data_dir.join(OPERATOR_TOKEN_FILE);
    write_secret(&path, &secret)?;
    println!(
        "the first operator token is in {} (readable by this user only); keep it safe and delete the file",
        path.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_operator_token_goes_to_a_private_file_that_is_never_overwritten() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join(OPERATOR_TOKEN_FILE);
        write_secret(&path, "mh_first").expect("written");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "mh_first\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).expect("metadata").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let error = write_secret(&path, "mh_second").expect_err("exists");
        assert!(
            format!("{error:#}").contains("move the old one away"),
            "{error:#}"
        );
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "mh_first\n");
    }
}
