//! `/metrics`: the host's and the modules' metrics in Prometheus text format.

use std::fmt::Write as _;

use modhost_runtime::LATENCY_BUCKETS_SECONDS;
use modhost_runtime::metrics::SeriesValue;

use crate::App;

/// Escapes a label value.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The whole exposition.
pub(crate) fn render(app: &App) -> String {
    let mut out = String::new();
    let runtime = app.runtime();
    let requests = runtime.request_metrics().snapshot();
    let _ = writeln!(
        out,
        "# HELP modhost_requests_total Module calls by outcome.\n# TYPE modhost_requests_total counter"
    );
    for ((tenant, module), series) in &requests {
        for (outcome, count) in &series.outcomes {
            let _ = writeln!(
                out,
                "modhost_requests_total{{tenant=\"{}\",module=\"{}\",outcome=\"{outcome}\"}} {count}",
                label(tenant),
                label(module)
            );
        }
    }
    let _ = writeln!(
        out,
        "# HELP modhost_request_duration_seconds Module call latency.\n# TYPE modhost_request_duration_seconds histogram"
    );
    for ((tenant, module), series) in &requests {
        let labels = format!("tenant=\"{}\",module=\"{}\"", label(tenant), label(module));
        for (bound, count) in LATENCY_BUCKETS_SECONDS
            .iter()
            .map(ToString::to_string)
            .chain(["+Inf".to_owned()])
            .zip(&series.latency_buckets)
        {
            let _ = writeln!(
                out,
                "modhost_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {count}"
            );
        }
        let _ = writeln!(
            out,
            "modhost_request_duration_seconds_sum{{{labels}}} {}",
            series.latency_sum_seconds
        );
        let _ = writeln!(
            out,
            "modhost_request_duration_seconds_count{{{labels}}} {}",
            series.count
        );
    }
    let _ = writeln!(
        out,
        "# HELP modhost_fuel_used_total Fuel consumed by module calls.\n# TYPE modhost_fuel_used_total counter"
    );
    for ((tenant, module), series) in &requests {
        let _ = writeln!(
            out,
            "modhost_fuel_used_total{{tenant=\"{}\",module=\"{}\"}} {}",
            label(tenant),
            label(module),
            series.fuel_used
        );
    }
    let cache = runtime.cache_stats();
    for (name, help, value) in [
        (
            "modhost_swaps_total",
            "Routes switched to another version.",
            app.loader.swap_count(),
        ),
        (
            "modhost_fallbacks_total",
            "Routes serving an earlier version because the active one would not load.",
            app.loader.fallback_count(),
        ),
        ("modhost_compiled_total", "Components compiled.", cache.compiled),
        (
            "modhost_compile_cache_loads_total",
            "Components loaded from the compile cache.",
            cache.loaded,
        ),
    ] {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}");
    }
    for module_series in runtime.module_metrics().snapshot() {
        for (key, value) in &module_series.series {
            let mut labels = format!(
                "tenant=\"{}\",module=\"{}\"",
                label(&module_series.tenant),
                label(&module_series.module)
            );
            for (tag, tag_value) in &key.tags {
                let _ = write!(labels, ",{tag}=\"{}\"", label(tag_value));
            }
            let value = match value {
                SeriesValue::Counter(count) => count.to_string(),
                SeriesValue::Gauge(gauge) => gauge.to_string(),
            };
            let _ = writeln!(out, "modhost_module_{}{{{labels}}} {value}", key.name);
        }
    }
    out
}
