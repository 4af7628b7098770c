//! Per-request metrics: outcome counts, a latency histogram and fuel used, per (tenant, module).
//!
//! The server exports these in Prometheus text format; the buckets are fixed
//! so the export is a plain copy of counters.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency histogram, in seconds (the last bucket is +Inf).
pub const LATENCY_BUCKETS_SECONDS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// The metrics of one (tenant, module).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestSeries {
    /// Calls by outcome class (`ok`, `module-error`, `deadline`, …).
    pub outcomes: BTreeMap<&'static str, u64>,
    /// Cumulative counts per bucket of [`LATENCY_BUCKETS_SECONDS`], plus +Inf last.
    pub latency_buckets: Vec<u64>,
    /// Sum of latencies, in seconds.
    pub latency_sum_seconds: f64,
    /// Number of calls observed.
    pub count: u64,
    /// Fuel consumed by all calls.
    pub fuel_used: u64,
}

/// Every (tenant, module)'s request metrics.
#[derive(Debug, Default)]
pub struct RequestMetrics {
    series: Mutex<BTreeMap<(String, String), RequestSeries>>,
}

impl RequestMetrics {
    /// Records one call.
    pub fn observe(
        &self,
        tenant: &str,
        module: &str,
        outcome: &'static str,
        latency: Duration,
        fuel_used: u64,
    ) {
        let mut series = self
            .series
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = series
            .entry((tenant.to_owned(), module.to_owned()))
            .or_insert_with(|| RequestSeries {
                latency_buckets: vec![0; LATENCY_BUCKETS_SECONDS.len() + 1],
                ..RequestSeries::default()
            });
        *entry.outcomes.entry(outcome).or_default() += 1;
        let seconds = latency.as_secs_f64();
        for (bucket, bound) in entry
            .latency_buckets
            .iter_mut()
            .zip(LATENCY_BUCKETS_SECONDS.iter().chain([&f64::INFINITY]))
        {
            if seconds <= *bound {
                *bucket += 1;
            }
        }
        entry.latency_sum_seconds += seconds;
        entry.count += 1;
        entry.fuel_used = entry.fuel_used.saturating_add(fuel_used);
    }

    /// A copy of every series, sorted by (tenant, module).
    pub fn snapshot(&self) -> Vec<((String, String), RequestSeries)> {
        let series = self
            .series
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        series
            .iter()
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect()
    }

    /// A copy of `tenant`'s series only, sorted by module.
    pub fn snapshot_of(&self, tenant: &str) -> Vec<((String, String), RequestSeries)> {
        let series = self
            .series
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        series
            .range((tenant.to_owned(), String::new())..)
            .take_while(|((owner, _), _)| owner == tenant)
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let metrics = RequestMetrics::default();
        metrics.observe("acme", "inventory", "ok", Duration::from_micros(300), 10);
        metrics.observe("acme", "inventory", "deadline", Duration::from_secs(10), 5);
        let snapshot = metrics.snapshot();
        let series = &snapshot[0].1;
        assert_eq!(series.outcomes, BTreeMap::from([("deadline", 1), ("ok", 1)]));
        assert_eq!(series.latency_buckets[..3], [0, 0, 1]);
        assert_eq!(series.latency_buckets[13], 1, "10 s is past the 5 s bucket");
        assert_eq!(series.latency_buckets[14], 2, "+Inf counts everything");
        assert_eq!((series.count, series.fuel_used), (2, 15));
    }

    #[test]
    fn a_tenants_snapshot_holds_only_its_series() {
        let metrics = RequestMetrics::default();
        for (tenant, module) in [
            ("acme", "b"),
            ("acme", "a"),
            ("ac", "a"),
            ("acmex", "a"),
            ("b", "a"),
        ] {
            metrics.observe(tenant, module, "ok", Duration::from_millis(1), 1);
        }
        let keys: Vec<_> = metrics
            .snapshot_of("acme")
            .into_iter()
            .map(|(key, _)| key)
            .collect();
        assert_eq!(
            keys,
            [
                ("acme".to_owned(), "a".to_owned()),
                ("acme".to_owned(), "b".to_owned())
            ]
        );
        assert!(metrics.snapshot_of("nobody").is_empty());
    }
}
