//! `modhost.toml`: the server's settings, with defaults for everything.

use std::collections::BTreeMap;
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
    /// About how much of the database is kept in memory, in MiB.
    pub store_cache_mb: u64,
    /// Where stored tenant backups go: `<backup_dir>/<tenant>/<ms>.mhbk`
    /// (default `<data_dir>/backups`).
    pub backup_dir: Option<PathBuf>,
    /// The largest backup file a restore or verify upload may be, in bytes.
    pub max_backup_upload_bytes: u64,
    /// How long a backup upload may take to arrive, in seconds.
    pub backup_upload_timeout_secs: u64,
    /// The largest request body the data plane accepts, in bytes.
    pub max_request_body_bytes: usize,
    /// The largest component an upload may carry, in bytes.
    pub max_component_bytes: usize,
    /// The most memory any module call may use, in MiB.
    pub max_module_memory_mb: u64,
    /// The longest deadline any module call may have, in milliseconds.
    pub max_module_timeout_ms: u64,
    /// The most data (keys plus values) one tenant's data of one module may hold, in MiB.
    pub max_module_kv_mb: u64,
    /// The most keys one tenant's data of one module may hold.
    pub max_module_kv_keys: u64,
    /// How long shutdown waits for in-flight requests, in milliseconds.
    pub shutdown_grace_ms: u64,
    /// The most connections held open at once; past it new ones wait in the
    /// listen backlog until one closes.
    pub max_connections: u32,
    /// How long a client may take to send a request's line and headers, in
    /// milliseconds; also how long a kept-alive connection may sit idle.
    pub header_read_timeout_ms: u64,
    /// How many module uploads the server reads at once; one publisher (a
    /// tenant, or the operators) gets at most half of them. Past it, `429`.
    pub max_concurrent_uploads: u32,
    /// How many smoke tests and promote dry runs on demand run at once; one
    /// tenant gets at most half of them. Past it, `429`.
    pub max_concurrent_checks: u32,
    /// The most module versions kept ready in memory; past it the least
    /// recently used idle one is evicted and loads again (warm, from the
    /// compile cache) on its next request.
    pub max_resident_versions: usize,
    /// How long a request body may pause between two chunks, in
    /// milliseconds; past it the request is answered `408` and the
    /// connection closed.
    pub body_idle_timeout_ms: u64,
    /// How long reading a whole request body may take, in milliseconds
    /// (`408` past it).
    pub body_read_timeout_ms: u64,
    /// The most bytes a request line and its headers may take together
    /// (at least 8192).
    pub max_header_bytes: usize,
    /// The most headers one request may carry.
    pub max_headers: usize,
    /// The most audit entries kept; older ones are deleted every 10 minutes.
    pub audit_max_entries: u64,
    /// The oldest audit entries kept, in days.
    pub audit_max_age_days: u64,
    /// The most bytes of module log records kept per tenant (at least 65536);
    /// past it the tenant's oldest records are deleted.
    pub module_logs_max_bytes_per_tenant: u64,
    /// The oldest module log records kept, in days (1 to 3650).
    pub module_logs_max_age_days: u64,
    /// How long a promoted version is watched against the previous one, in
    /// seconds (`0`: promotes are not watched); a breach rolls it back.
    pub watch_window_secs: u64,
    /// Requests a watched version must serve before it is judged.
    pub watch_min_requests: u64,
    /// The error rate always allowed a watched version, in percent.
    pub watch_max_error_percent: f64,
    /// How many times the previous version's error rate is allowed.
    pub watch_error_rate_factor: f64,
    /// How many times the previous version's p99 latency is allowed (and at
    /// least 50 ms more).
    pub watch_p99_factor: f64,
    /// How many module calls one tenant may run at once.
    pub max_concurrent_calls_per_tenant: u32,
    /// How many more calls of one tenant may wait for a slot; past that, `429`.
    pub max_queued_calls_per_tenant: u32,
    /// The share of the host's processor time (all cores, in percent, 1 to
    /// 100) one tenant's calls may use together; past it they are paused.
    pub max_cpu_percent_per_tenant: u32,
    /// Per-tenant overrides of the three limits above, by tenant id
    /// (`[tenant_limits.acme]`).
    pub tenant_limits: BTreeMap<String, TenantLimitOverrides>,
    /// `[alerts]`: rule evaluation, allowed notification targets, delivery retries, SMTP.
    pub alerts: modhost_alerts::AlertsConfig,
    /// `[tracing]`: OpenTelemetry trace export (off unless an endpoint is set).
    pub tracing: TracingConfig,
}

/// `[tracing]`: where `modhost serve` exports its spans over OTLP/HTTP
/// (protobuf). Nothing is exported, and no exporter is built, unless
/// `otlp_endpoint` or the `OTEL_EXPORTER_OTLP_ENDPOINT` environment variable
/// is set.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TracingConfig {
    /// The collector's base URL, e.g. `http://127.0.0.1:4318`; spans go to
    /// `<otlp_endpoint>/v1/traces`. Overrides `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub otlp_endpoint: Option<String>,
    /// The `service.name` the spans are exported under.
    pub service_name: String,
    /// The share of new traces (0 to 1) that are recorded; a request with a
    /// `traceparent` follows its caller's sampling decision instead.
    pub sample_ratio: f64,
}

impl Default for TracingConfig {
    fn default() -> Self {
        Self {
            otlp_endpoint: None,
            service_name: "modhost".to_owned(),
            sample_ratio: 1.0,
        }
    }
}

impl TracingConfig {
    /// Where spans go: `otlp_endpoint`, else `env_endpoint` (the value of
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`), as the full `…/v1/traces` URL; `None`:
    /// export is off.
    pub fn traces_url(&self, env_endpoint: Option<&str>) -> Result<Option<String>, String> {
        let (base, source) = match (&self.otlp_endpoint, env_endpoint.map(str::trim)) {
            (Some(endpoint), _) => (endpoint.trim(), "`tracing.otlp_endpoint`"),
            (None, Some(endpoint)) if !endpoint.is_empty() => (endpoint, "OTEL_EXPORTER_OTLP_ENDPOINT"),
            (None, _) => return Ok(None),
        };
        let valid = ["http://", "https://"]
            .iter()
            .any(|scheme| base.strip_prefix(scheme).is_some_and(|rest| !rest.is_empty()))
            && !base.contains(char::is_whitespace);
        if !valid {
            return Err(format!(
                "{source} is {base:?}; give the collector's base URL, like http://127.0.0.1:4318"
            ));
        }
        Ok(Some(format!("{}/v1/traces", base.trim_end_matches('/'))))
    }

    fn check(&self) -> Result<(), String> {
        if self.otlp_endpoint.is_some() {
            self.traces_url(None)?;
        }
        if self.service_name.trim().is_empty() {
            return Err("`tracing.service_name` is empty; name the service, like \"modhost\"".to_owned());
        }
        if !(0.0..=1.0).contains(&self.sample_ratio) {
            return Err(format!(
                "`tracing.sample_ratio` is {}; it must be between 0 and 1",
                self.sample_ratio
            ));
        }
        Ok(())
    }
}

/// `[tenant_limits.<tenant>]`: one tenant's own call limits; an absent field
/// keeps the operator's default.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TenantLimitOverrides {
    /// Calls the tenant may run at once.
    pub max_concurrent_calls: Option<u32>,
    /// Calls of the tenant that may wait for a slot.
    pub max_queued_calls: Option<u32>,
    /// The tenant's share of the host's processor time, in percent.
    pub max_cpu_percent: Option<u32>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from(".modhost"),
            store_cache_mb: 1024,
            backup_dir: None,
            max_backup_upload_bytes: 8 * 1024 * 1024 * 1024,
            backup_upload_timeout_secs: 3_600,
            max_request_body_bytes: 1024 * 1024,
            max_component_bytes: 16 * 1024 * 1024,
            max_module_memory_mb: 256,
            max_module_timeout_ms: 30_000,
            max_module_kv_mb: 1024,
            max_module_kv_keys: 1_000_000,
            shutdown_grace_ms: 10_000,
            max_connections: 4096,
            header_read_timeout_ms: 10_000,
            max_concurrent_uploads: 4,
            max_concurrent_checks: 4,
            max_resident_versions: modhost_deploy::DEFAULT_MAX_RESIDENT_VERSIONS,
            body_idle_timeout_ms: 10_000,
            body_read_timeout_ms: 60_000,
            max_header_bytes: 64 * 1024,
            max_headers: 100,
            watch_window_secs: 300,
            watch_min_requests: 20,
            watch_max_error_percent: 1.0,
            watch_error_rate_factor: 2.0,
            watch_p99_factor: 3.0,
            audit_max_entries: 1_000_000,
            audit_max_age_days: 365,
            module_logs_max_bytes_per_tenant: 64 * 1024 * 1024,
            module_logs_max_age_days: 7,
            max_concurrent_calls_per_tenant: TenantLimits::default().max_concurrent_calls,
            max_queued_calls_per_tenant: TenantLimits::default().max_queued_calls,
            max_cpu_percent_per_tenant: TenantLimits::default().max_cpu_percent,
            tenant_limits: BTreeMap::new(),
            alerts: modhost_alerts::AlertsConfig::default(),
            tracing: TracingConfig::default(),
        }
    }
}

impl ServerConfig {
    /// Where stored tenant backups go.
    pub fn backup_dir(&self) -> PathBuf {
        self.backup_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("backups"))
    }

    /// The policy promotes are watched under.
    pub fn watch_policy(&self) -> modhost_deploy::WatchPolicy {
        modhost_deploy::WatchPolicy {
            window: std::time::Duration::from_secs(self.watch_window_secs),
            min_requests: self.watch_min_requests,
            max_error_rate: self.watch_max_error_percent / 100.0,
            error_rate_factor: self.watch_error_rate_factor,
            p99_factor: self.watch_p99_factor,
            ..modhost_deploy::WatchPolicy::default()
        }
    }

    /// Reads `path`, or the defaults when `None`.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Self> {
        let Some(path) = path else {
            return Ok(Self::default());
        };
        let text = std::fs::read_to_string(path)
            .map_err(|error| anyhow::anyhow!("could not read {}: {error}", path.display()))?;
        let config: Self = toml::from_str(&text)
            .map_err(|error| anyhow::anyhow!("{} is not a valid modhost.toml: {error}", path.display()))?;
        config
            .check()
            .map_err(|error| anyhow::anyhow!("{} is not a valid modhost.toml: {error}", path.display()))?;
        Ok(config)
    }

    /// The call limits every tenant without an override runs under.
    pub fn default_tenant_limits(&self) -> TenantLimits {
        TenantLimits {
            max_concurrent_calls: self.max_concurrent_calls_per_tenant,
            max_queued_calls: self.max_queued_calls_per_tenant,
            max_cpu_percent: self.max_cpu_percent_per_tenant,
        }
    }

    /// `tenant`'s limits: its overrides over the defaults.
    pub fn limits_of(&self, overrides: &TenantLimitOverrides) -> TenantLimits {
        let defaults = self.default_tenant_limits();
        TenantLimits {
            max_concurrent_calls: overrides
                .max_concurrent_calls
                .unwrap_or(defaults.max_concurrent_calls),
            max_queued_calls: overrides.max_queued_calls.unwrap_or(defaults.max_queued_calls),
            max_cpu_percent: overrides.max_cpu_percent.unwrap_or(defaults.max_cpu_percent),
        }
    }

    /// Refuses values that parse but make no sense.
    fn check(&self) -> Result<(), String> {
        if self.max_connections == 0 {
            return Err("`max_connections` is 0; the server could not accept anyone".to_owned());
        }
        if self.header_read_timeout_ms == 0 {
            return Err(
                "`header_read_timeout_ms` is 0; give clients at least 1 ms to send headers".to_owned(),
            );
        }
        if !(0.0..=100.0).contains(&self.watch_max_error_percent) {
            return Err(format!(
                "`watch_max_error_percent` is {}; it must be between 0 and 100",
                self.watch_max_error_percent
            ));
        }
        if !(self.watch_error_rate_factor >= 1.0 && self.watch_p99_factor >= 1.0) {
            return Err(
                "`watch_error_rate_factor` and `watch_p99_factor` must be at least 1 (the previous version's own figures)"
                    .to_owned(),
            );
        }
        if self.max_concurrent_uploads == 0 {
            return Err("`max_concurrent_uploads` is 0; nobody could publish a module".to_owned());
        }
        if self.max_concurrent_checks == 0 {
            return Err("`max_concurrent_checks` is 0; no smoke test or dry run could run".to_owned());
        }
        if self.max_resident_versions == 0 {
            return Err("`max_resident_versions` is 0; no module version could serve".to_owned());
        }
        if self.body_idle_timeout_ms == 0 || self.body_read_timeout_ms == 0 {
            return Err("`body_idle_timeout_ms` and `body_read_timeout_ms` must be at least 1 ms".to_owned());
        }
        if self.store_cache_mb < 8 {
            return Err(format!(
                "`store_cache_mb` is {}; it must be at least 8",
                self.store_cache_mb
            ));
        }
        if self.backup_upload_timeout_secs == 0 {
            return Err("`backup_upload_timeout_secs` is 0; no backup could be uploaded".to_owned());
        }
        if self.max_header_bytes < 8192 {
            return Err(format!(
                "`max_header_bytes` is {}; it must be at least 8192",
                self.max_header_bytes
            ));
        }
        self.alerts.check()?;
        self.tracing.check()?;
        if self.module_logs_max_bytes_per_tenant < 64 * 1024 {
            return Err(format!(
                "`module_logs_max_bytes_per_tenant` is {}; it must be at least 65536",
                self.module_logs_max_bytes_per_tenant
            ));
        }
        if !(1..=3650).contains(&self.module_logs_max_age_days) {
            return Err(format!(
                "`module_logs_max_age_days` is {}; it must be between 1 and 3650",
                self.module_logs_max_age_days
            ));
        }
        if self.max_headers == 0 {
            return Err("`max_headers` is 0; a request needs at least a `host` header".to_owned());
        }
        let percents = std::iter::once((
            "max_cpu_percent_per_tenant".to_owned(),
            self.max_cpu_percent_per_tenant,
        ))
        .chain(self.tenant_limits.iter().filter_map(|(tenant, overrides)| {
            overrides
                .max_cpu_percent
                .map(|percent| (format!("tenant_limits.{tenant}.max_cpu_percent"), percent))
        }));
        for (field, percent) in percents {
            if !(1..=100).contains(&percent) {
                return Err(format!("`{field}` is {percent}; it must be between 1 and 100"));
            }
        }
        let calls = std::iter::once((
            "max_concurrent_calls_per_tenant".to_owned(),
            Some(self.max_concurrent_calls_per_tenant),
        ))
        .chain(self.tenant_limits.iter().map(|(tenant, overrides)| {
            (
                format!("tenant_limits.{tenant}.max_concurrent_calls"),
                overrides.max_concurrent_calls,
            )
        }));
        for (field, calls) in calls {
            if calls == Some(0) {
                return Err(format!(
                    "`{field}` is 0; a tenant needs at least one call at a time"
                ));
            }
        }
        Ok(())
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

    fn load_text(text: &str) -> anyhow::Result<ServerConfig> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("modhost.toml");
        std::fs::write(&path, text)?;
        ServerConfig::load(Some(&path))
    }

    #[test]
    fn a_tenant_override_replaces_only_the_limits_it_names() {
        let config =
            load_text("max_cpu_percent_per_tenant = 40\n[tenant_limits.acme]\nmax_concurrent_calls = 2\n")
                .expect("valid");
        let acme = config.limits_of(&config.tenant_limits["acme"]);
        assert_eq!(
            acme,
            TenantLimits {
                max_concurrent_calls: 2,
                max_queued_calls: 64,
                max_cpu_percent: 40,
            }
        );
        assert_eq!(config.default_tenant_limits().max_concurrent_calls, 8);
    }

    #[test]
    fn limits_that_make_no_sense_are_refused_with_the_field_named() {
        let error = load_text("max_cpu_percent_per_tenant = 0\n").expect_err("0%");
        assert!(
            format!("{error:#}").ends_with("`max_cpu_percent_per_tenant` is 0; it must be between 1 and 100"),
            "{error:#}"
        );
        let error = load_text("[tenant_limits.acme]\nmax_cpu_percent = 101\n").expect_err("101%");
        assert!(
            format!("{error:#}")
                .ends_with("`tenant_limits.acme.max_cpu_percent` is 101; it must be between 1 and 100"),
            "{error:#}"
        );
        let error = load_text("[tenant_limits.acme]\nmax_concurrent_calls = 0\n").expect_err("0 calls");
        assert!(
            format!("{error:#}").ends_with(
                "`tenant_limits.acme.max_concurrent_calls` is 0; a tenant needs at least one call at a time"
            ),
            "{error:#}"
        );
        for (text, message) in [
            (
                "max_connections = 0\n",
                "`max_connections` is 0; the server could not accept anyone",
            ),
            (
                "max_concurrent_uploads = 0\n",
                "`max_concurrent_uploads` is 0; nobody could publish a module",
            ),
            (
                "max_concurrent_checks = 0\n",
                "`max_concurrent_checks` is 0; no smoke test or dry run could run",
            ),
            (
                "header_read_timeout_ms = 0\n",
                "`header_read_timeout_ms` is 0; give clients at least 1 ms to send headers",
            ),
            (
                "body_idle_timeout_ms = 0\n",
                "`body_idle_timeout_ms` and `body_read_timeout_ms` must be at least 1 ms",
            ),
            (
                "max_header_bytes = 100\n",
                "`max_header_bytes` is 100; it must be at least 8192",
            ),
            (
                "max_headers = 0\n",
                "`max_headers` is 0; a request needs at least a `host` header",
            ),
            (
                "module_logs_max_bytes_per_tenant = 1000\n",
                "`module_logs_max_bytes_per_tenant` is 1000; it must be at least 65536",
            ),
            (
                "[tracing]\notlp_endpoint = \"127.0.0.1:4318\"\n",
                "`tracing.otlp_endpoint` is \"127.0.0.1:4318\"; give the collector's base URL, like http://127.0.0.1:4318",
            ),
            (
                "[tracing]\nsample_ratio = 1.5\n",
                "`tracing.sample_ratio` is 1.5; it must be between 0 and 1",
            ),
            (
                "module_logs_max_age_days = 0\n",
                "`module_logs_max_age_days` is 0; it must be between 1 and 3650",
            ),
        ] {
            let error = load_text(text).expect_err(text);
            assert!(format!("{error:#}").ends_with(message), "{error:#}");
        }
        let error = load_text("[tenant_limits.acme]\nmax_calls = 3\n").expect_err("unknown");
        assert!(
            format!("{error:#}").contains("unknown field `max_calls`"),
            "{error:#}"
        );
    }

    #[test]
    fn trace_export_is_off_unless_an_endpoint_is_set_and_the_file_wins_over_the_environment() {
        let config = load_text("").expect("valid");
        assert_eq!(config.tracing.traces_url(None), Ok(None));
        assert_eq!(config.tracing.traces_url(Some(" ")), Ok(None));
        assert_eq!(
            config.tracing.traces_url(Some("http://collector:4318/")),
            Ok(Some("http://collector:4318/v1/traces".to_owned()))
        );
        assert!(config.tracing.traces_url(Some("collector")).is_err());
        let config =
            load_text("[tracing]\notlp_endpoint = \"https://otel.example\"\nservice_name = \"edge\"\n")
                .expect("valid");
        assert_eq!(
            config.tracing.traces_url(Some("http://collector:4318")),
            Ok(Some("https://otel.example/v1/traces".to_owned()))
        );
        assert_eq!(config.tracing.service_name, "edge");
        assert!((config.tracing.sample_ratio - 1.0).abs() < f64::EPSILON);
    }
}
