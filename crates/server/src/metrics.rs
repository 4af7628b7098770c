//! `/metrics`: the host's and the modules' metrics, encoded by `prometheus-client` (OpenMetrics text).
//!
//! The numbers live in the runtime and the loader; a [`Collector`] reads a
//! snapshot of them on every scrape. Module-defined series keep their names,
//! `modhost_module_<name>{tenant,module,…tags}`: gauges as gauges, counters
//! as `unknown` so no `_total` is appended to a name the module chose.
//!
//! [`render_tenant`] is one tenant's view (`/v1/tenants/{tenant}/metrics`):
//! the same families, holding only the series labelled with that tenant,
//! taken from the runtime and the registry already filtered (no other
//! tenant's numbers are copied), and none of the host-wide figures.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use modhost_registry::DataUsage;
use modhost_runtime::LATENCY_BUCKETS_SECONDS;
use modhost_runtime::metrics::{ModuleSeriesSnapshot, SeriesValue};
use modhost_runtime::{CpuUsage, RequestSeries};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric as _};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use crate::app::App;

/// The content type of [`render`]'s text.
pub(crate) const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

type Labels = Vec<(String, String)>;

/// One scrape's numbers.
#[derive(Debug)]
struct Snapshot {
    requests: Vec<((String, String), RequestSeries)>,
    modules: Vec<ModuleSeriesSnapshot>,
    cpu: Vec<(String, CpuUsage)>,
    /// (tenant, module, usage) of every data scope with a usage record.
    kv: Vec<(String, String, DataUsage)>,
    /// The figures of the whole host (none in one tenant's view).
    host: Option<HostFigures>,
}

/// What no single tenant owns.
#[derive(Debug)]
struct HostFigures {
    totals: Vec<(&'static str, &'static str, u64)>,
    connections_open: u64,
    denials: [(&'static str, u64); 2],
    /// Open alerts by state, and notifications waiting in the outbox.
    alerting: [(&'static str, &'static str, u64); 3],
}

impl HostFigures {
    fn encode(&self, encoder: &mut DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let mut family = encoder.encode_descriptor(
            "modhost_denials",
            "Requests refused for want of a valid token (unauthenticated) or of access (forbidden).",
            None,
            MetricType::Counter,
        )?;
        for (reason, count) in &self.denials {
            let labels = vec![("reason".to_owned(), (*reason).to_owned())];
            ConstCounter::new(*count).encode(family.encode_family(&labels)?)?;
        }
        let open = ConstGauge::new(i64::try_from(self.connections_open).unwrap_or(i64::MAX));
        open.encode(encoder.encode_descriptor(
            "modhost_connections_open",
            "HTTP connections open now.",
            None,
            MetricType::Gauge,
        )?)?;
        for (name, help, value) in &self.alerting {
            let gauge = ConstGauge::new(i64::try_from(*value).unwrap_or(i64::MAX));
            gauge.encode(encoder.encode_descriptor(name, help, None, MetricType::Gauge)?)?;
        }
        for (name, help, value) in &self.totals {
            let counter = ConstCounter::new(*value);
            counter.encode(encoder.encode_descriptor(name, help, None, MetricType::Counter)?)?;
        }
        Ok(())
    }
}

/// Reads one figure of a data scope's usage.
type UsageField = fn(&DataUsage) -> u64;
/// Reads one figure of a tenant's CPU use, in seconds.
type CpuField = fn(&CpuUsage) -> f64;

fn tenant_module(tenant: &str, module: &str) -> Labels {
    vec![
        ("tenant".to_owned(), tenant.to_owned()),
        ("module".to_owned(), module.to_owned()),
    ]
}

impl Collector for Snapshot {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let mut family = encoder.encode_descriptor(
            "modhost_requests",
            "Module calls by outcome.",
            None,
            MetricType::Counter,
        )?;
        for ((tenant, module), series) in &self.requests {
            for (outcome, count) in &series.outcomes {
                let mut labels = tenant_module(tenant, module);
                labels.push(("outcome".to_owned(), (*outcome).to_owned()));
                ConstCounter::new(*count).encode(family.encode_family(&labels)?)?;
            }
        }
        let mut family = encoder.encode_descriptor(
            "modhost_request_duration_seconds",
            "Module call latency.",
            None,
            MetricType::Histogram,
        )?;
        for ((tenant, module), series) in &self.requests {
            // The runtime keeps cumulative counts; the encoder wants each bucket's own.
            let mut previous = 0;
            let buckets: Vec<(f64, u64)> = LATENCY_BUCKETS_SECONDS
                .iter()
                .copied()
                .chain([f64::MAX])
                .zip(&series.latency_buckets)
                .map(|(bound, cumulative)| {
                    let own = cumulative.saturating_sub(previous);
                    previous = *cumulative;
                    (bound, own)
                })
                .collect();
            family
                .encode_family(&tenant_module(tenant, module))?
                .encode_histogram::<Labels>(series.latency_sum_seconds, series.count, &buckets, None)?;
        }
        let mut family = encoder.encode_descriptor(
            "modhost_fuel_used",
            "Fuel consumed by module calls.",
            None,
            MetricType::Counter,
        )?;
        for ((tenant, module), series) in &self.requests {
            ConstCounter::new(series.fuel_used)
                .encode(family.encode_family(&tenant_module(tenant, module))?)?;
        }
        let cpu_counters: [(&str, &str, CpuField); 2] = [
            (
                "modhost_tenant_cpu_seconds",
                "Processor time used by a tenant's module calls.",
                |usage| usage.used.as_secs_f64(),
            ),
            (
                "modhost_tenant_cpu_throttled_seconds",
                "Time a tenant's module calls spent paused over the tenant's CPU budget.",
                |usage| usage.throttled.as_secs_f64(),
            ),
        ];
        for (name, help, value) in cpu_counters {
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
            for (tenant, usage) in &self.cpu {
                let labels = vec![("tenant".to_owned(), tenant.clone())];
                ConstCounter::new(value(usage)).encode(family.encode_family(&labels)?)?;
            }
        }
        let gauges: [(&str, &str, UsageField); 2] = [
            (
                "modhost_kv_keys",
                "Keys stored by a module for a tenant.",
                |usage| usage.keys,
            ),
            (
                "modhost_kv_bytes",
                "Bytes (keys plus values) stored by a module for a tenant.",
                |usage| usage.bytes,
            ),
        ];
        for (name, help, value) in gauges {
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
            for (tenant, module, usage) in &self.kv {
                family
                    .encode_family(&tenant_module(tenant, module))?
                    .encode_gauge(&i64::try_from(value(usage)).unwrap_or(i64::MAX))?;
            }
        }
        if let Some(host) = &self.host {
            host.encode(&mut encoder)?;
        }
        let mut families: BTreeMap<String, Vec<(Labels, &SeriesValue)>> = BTreeMap::new();
        for module_series in &self.modules {
            for (key, value) in &module_series.series {
                let mut labels = tenant_module(&module_series.tenant, &module_series.module);
                labels.extend(key.tags.iter().cloned());
                families
                    .entry(format!("modhost_module_{}", key.name))
                    .or_default()
                    .push((labels, value));
            }
        }
        for (name, series) in &families {
            let metric_type = match series.first() {
                Some((_, SeriesValue::Gauge(_))) => MetricType::Gauge,
                _ => MetricType::Unknown,
            };
            let mut family = encoder.encode_descriptor(name, "Defined by the module.", None, metric_type)?;
            for (labels, value) in series {
                let mut metric = family.encode_family(labels)?;
                match value {
                    SeriesValue::Counter(count) => {
                        metric.encode_gauge(&(i64::try_from(*count).unwrap_or(i64::MAX)))?
                    }
                    SeriesValue::Gauge(gauge) => metric.encode_gauge(gauge)?,
                }
            }
        }
        Ok(())
    }
}

/// The whole exposition.
pub(crate) fn render(app: &App) -> String {
    let runtime = app.runtime();
    let cache = runtime.cache_stats();
    let outbox = &app.alerting.stats;
    let open = app.registry.open_alerts().unwrap_or_else(|error| {
        tracing::error!(%error, "could not read the open alerts");
        Vec::new()
    });
    let in_state = |state| open.iter().filter(|alert| alert.state == state).count() as u64;
    let host = HostFigures {
        alerting: [
            (
                "modhost_alerts_firing",
                "Alerts firing now, not acknowledged.",
                in_state(modhost_registry::AlertState::Firing),
            ),
            (
                "modhost_alerts_acknowledged",
                "Alerts acknowledged and not yet resolved.",
                in_state(modhost_registry::AlertState::Acknowledged),
            ),
            (
                "modhost_notifications_pending",
                "Notifications waiting in the outbox.",
                outbox.pending.load(Ordering::Relaxed),
            ),
        ],
        totals: vec![
            (
                "modhost_swaps",
                "Routes switched to another version.",
                app.loader.swap_count(),
            ),
            (
                "modhost_fallbacks",
                "Routes serving an earlier version because the active one would not load.",
                app.loader.fallback_count(),
            ),
            ("modhost_compiled", "Components compiled.", cache.compiled),
            (
                "modhost_connections_accepted",
                "HTTP connections accepted.",
                app.edge.accepted(),
            ),
            (
                "modhost_denials_not_audited",
                "Refused requests left out of the audit because too many kinds of refusal were live.",
                app.denials.not_audited(),
            ),
            (
                "modhost_accept_errors",
                "Failed accepts (e.g. out of file descriptors), each followed by a short wait.",
                app.edge.accept_errors(),
            ),
            (
                "modhost_notifications_delivered",
                "Notifications a receiver accepted.",
                outbox.delivered.load(Ordering::Relaxed),
            ),
            (
                "modhost_notifications_retried",
                "Notification attempts that failed and were scheduled again.",
                outbox.retried.load(Ordering::Relaxed),
            ),
            (
                "modhost_notifications_failed",
                "Notifications given up on (audited as failed `alert.delivery`).",
                outbox.failed.load(Ordering::Relaxed),
            ),
            (
                "modhost_compile_cache_loads",
                "Components loaded from the compile cache.",
                cache.loaded,
            ),
            (
                "modhost_suspended_refusals",
                "Data-plane requests refused (423) because their tenant is suspended.",
                app.suspended_refusals.load(Ordering::Relaxed),
            ),
        ],
        connections_open: app.edge.open(),
        denials: app.denials.counts(),
    };
    let snapshot = Snapshot {
        requests: runtime.request_metrics().snapshot(),
        modules: runtime.module_metrics().snapshot(),
        cpu: runtime.cpu_usage(),
        kv: app.registry.kv_usages().unwrap_or_else(|error| {
            tracing::error!(%error, "could not read the data scopes' usage");
            Vec::new()
        }),
        host: Some(host),
    };
    let mut registry = Registry::default();
    registry.register_collector(Box::new(snapshot));
    registry.register_collector(Box::new(crate::backup_scheduler::metrics(&app.registry)));
    registry.register_collector(Box::new(app.module_logs.metrics()));
    encode(&registry)
}

/// One tenant's view: the series labelled with `tenant` only, nothing host-wide.
pub(crate) fn render_tenant(app: &App, tenant: &str) -> String {
    let runtime = app.runtime();
    let mut cpu = runtime.cpu_usage();
    cpu.retain(|(owner, _)| owner == tenant);
    let snapshot = Snapshot {
        requests: runtime.request_metrics().snapshot_of(tenant),
        modules: runtime.module_metrics().snapshot_of(tenant),
        cpu,
        kv: app.registry.kv_usages_of(tenant).unwrap_or_else(|error| {
            tracing::error!(tenant, %error, "could not read the tenant's data scopes' usage");
            Vec::new()
        }),
        host: None,
    };
    let mut registry = Registry::default();
    registry.register_collector(Box::new(snapshot));
    let backups = crate::backup_scheduler::metrics_of(&app.registry, tenant);
    registry.register_collector(Box::new(backups));
    encode(&registry)
}

fn encode(registry: &Registry) -> String {
    let mut text = String::new();
    if let Err(error) = prometheus_client::encoding::text::encode(&mut text, registry) {
        tracing::error!(%error, "could not encode the metrics");
    }
    text
}
