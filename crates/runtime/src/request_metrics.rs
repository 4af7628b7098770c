//! Per-request metrics: outcome counts, a latency histogram and fuel used, per (tenant, module).
//!
//! The server exports these in Prometheus text format; the buckets are fixed
//! so the export is a plain copy of counters. Each (tenant, module) has one
//! [`SeriesCounters`] of atomics, found in an `ArcSwap`ped map without a lock
//! or an allocation (a new series copies the map once, under a writers'
//! mutex), so recording a call is a handful of relaxed atomic adds and never
//! waits for another call.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use std::time::Duration;

/// Upper bounds of the latency histogram, in seconds (the last bucket is +Inf).
pub const LATENCY_BUCKETS_SECONDS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// The outcome classes counted in their own atomic: `ok` and every
/// [`crate::CallError::class`]. Any other is counted under a mutex.
const OUTCOMES: [&str; 12] = [
    "ok",
    "module-error",
    "deadline",
    "memory-limit",
    "out-of-fuel",
    "stack-overflow",
    "trap",
    "invalid-response",
    "instantiation",
    "storage",
    "kv-quota",
    "busy",
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

/// The live counters of one (tenant, module): what [`RequestMetrics::series`] hands out.
#[derive(Debug, Default)]
pub struct SeriesCounters {
    outcomes: [AtomicU64; OUTCOMES.len()],
    other_outcomes: Mutex<BTreeMap<&'static str, u64>>,
    /// Each bucket's own count (not cumulative), +Inf last.
    buckets: [AtomicU64; LATENCY_BUCKETS_SECONDS.len() + 1],
    latency_sum_nanos: AtomicU64,
    fuel_used: AtomicU64,
}

impl SeriesCounters {
    /// Records one call.
    pub fn observe(&self, outcome: &'static str, latency: Duration, fuel_used: u64) {
        match OUTCOMES.iter().position(|known| *known == outcome) {
            Some(index) => {
                self.outcomes[index].fetch_add(1, Ordering::Relaxed);
            }
            None => {
                *self
                    .other_outcomes
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .entry(outcome)
                    .or_default() += 1;
            }
        }
        let seconds = latency.as_secs_f64();
        let bucket = LATENCY_BUCKETS_SECONDS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(LATENCY_BUCKETS_SECONDS.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        self.latency_sum_nanos.fetch_add(nanos, Ordering::Relaxed);
        // Saturating, as before: a CAS loop only when the sum is near the top.
        let _ = self
            .fuel_used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |total| {
                Some(total.saturating_add(fuel_used))
            });
    }

    /// A copy of the counters. The count is the histogram's total, so a
    /// scrape racing a call never shows a count that disagrees with +Inf.
    fn snapshot(&self) -> RequestSeries {
        let mut outcomes: BTreeMap<&'static str, u64> = OUTCOMES
            .iter()
            .zip(&self.outcomes)
            .map(|(name, count)| (*name, count.load(Ordering::Relaxed)))
            .filter(|(_, count)| *count > 0)
            .collect();
        for (name, count) in self
            .other_outcomes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
        {
            *outcomes.entry(name).or_default() += count;
        }
        let mut total = 0_u64;
        let latency_buckets = self
            .buckets
            .iter()
            .map(|bucket| {
                total = total.saturating_add(bucket.load(Ordering::Relaxed));
                total
            })
            .collect();
        #[allow(clippy::cast_precision_loss, reason = "a sum of latencies, shown in seconds")]
        let latency_sum_seconds = self.latency_sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        RequestSeries {
            outcomes,
            latency_buckets,
            latency_sum_seconds,
            count: total,
            fuel_used: self.fuel_used.load(Ordering::Relaxed),
        }
    }
}

/// Tenant → module → its counters.
type Series = BTreeMap<String, BTreeMap<String, Arc<SeriesCounters>>>;

/// Every (tenant, module)'s request metrics.
#[derive(Debug, Default)]
pub struct RequestMetrics {
    /// Read without a lock; replaced whole when a series is added.
    series: ArcSwap<Series>,
    /// Serialises adding series.
    writer: Mutex<()>,
}

impl RequestMetrics {
    /// The counters of (`tenant`, `module`), created on first use. Keep the
    /// handle to record many calls without looking it up again.
    pub fn series(&self, tenant: &str, module: &str) -> Arc<SeriesCounters> {
        if let Some(found) = self
            .series
            .load()
            .get(tenant)
            .and_then(|modules| modules.get(module))
        {
            return found.clone();
        }
        let _writer = self
            .writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut series = Series::clone(&self.series.load());
        let found = series
            .entry(tenant.to_owned())
            .or_default()
            .entry(module.to_owned())
            .or_default()
            .clone();
        self.series.store(Arc::new(series));
        found
    }

    /// Records one call.
    pub fn observe(
        &self,
        tenant: &str,
        module: &str,
        outcome: &'static str,
        latency: Duration,
        fuel_used: u64,
    ) {
        if let Some(found) = self
            .series
            .load()
            .get(tenant)
            .and_then(|modules| modules.get(module))
        {
            found.observe(outcome, latency, fuel_used);
            return;
        }
        self.series(tenant, module).observe(outcome, latency, fuel_used);
    }

    /// A copy of every series, sorted by (tenant, module).
    pub fn snapshot(&self) -> Vec<((String, String), RequestSeries)> {
        let series = self.series.load();
        series
            .iter()
            .flat_map(|(tenant, modules)| {
                modules
                    .iter()
                    .map(|(module, counters)| ((tenant.clone(), module.clone()), counters.snapshot()))
            })
            .collect()
    }

    /// A copy of `tenant`'s series only, sorted by module.
    pub fn snapshot_of(&self, tenant: &str) -> Vec<((String, String), RequestSeries)> {
        let series = self.series.load();
        series
            .get(tenant)
            .into_iter()
            .flat_map(|modules| {
                modules
                    .iter()
                    .map(|(module, counters)| ((tenant.to_owned(), module.clone()), counters.snapshot()))
            })
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

    #[test]
    fn eight_threads_of_ten_thousand_calls_are_counted_exactly() {
        let metrics = std::sync::Arc::new(RequestMetrics::default());
        let threads: Vec<_> = (0..8_u64)
            .map(|thread| {
                let metrics = metrics.clone();
                std::thread::spawn(move || {
                    let module = if thread % 2 == 0 { "even" } else { "odd" };
                    let counters = metrics.series("acme", "handle");
                    for call in 0..10_000_u64 {
                        let outcome = if call % 10 == 0 { "busy" } else { "ok" };
                        metrics.observe("acme", module, outcome, Duration::from_micros(200), 3);
                        counters.observe("unlisted", Duration::from_secs(6), 1);
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().expect("thread");
        }
        let snapshot = metrics.snapshot();
        let keys: Vec<_> = snapshot
            .iter()
            .map(|(key, _)| (key.0.as_str(), key.1.as_str()))
            .collect();
        assert_eq!(keys, [("acme", "even"), ("acme", "handle"), ("acme", "odd")]);
        for (_, series) in [&snapshot[0], &snapshot[2]] {
            assert_eq!(series.outcomes, BTreeMap::from([("busy", 4_000), ("ok", 36_000)]));
            assert_eq!((series.count, series.fuel_used), (40_000, 120_000));
            assert_eq!(
                series.latency_buckets[..2],
                [0, 40_000],
                "200 us is in the 250 us bucket"
            );
            assert_eq!(series.latency_buckets[14], 40_000);
            assert!((series.latency_sum_seconds - 8.0).abs() < 1e-9);
        }
        let handle = &snapshot[1].1;
        assert_eq!(handle.outcomes, BTreeMap::from([("unlisted", 80_000)]));
        assert_eq!((handle.count, handle.fuel_used), (80_000, 80_000));
        assert_eq!(
            (handle.latency_buckets[13], handle.latency_buckets[14]),
            (0, 80_000)
        );
    }
}
