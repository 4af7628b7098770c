//! The health of deployed versions: what the host sees of each (tenant, module, version)'s calls, in rolling windows.
//!
//! Every data-plane call is recorded by the loader with how it ended and how
//! long it took. A call counts as an error when the module answered a 5xx,
//! returned an error the host renders as 5xx, trapped, ran out of time,
//! memory, fuel or stack, answered invalidly, or could not be instantiated.
//! Calls refused before running (the tenant's `busy` limit) are counted as
//! shed, not as requests; a write refused by the tenant's data quota is the
//! tenant's data, not the version's fault, and is not an error.
//!
//! Counts are kept per [`BUCKET`] (10 s) for the last [`KEPT`] buckets (10
//! minutes), with latencies in a histogram of [`LATENCY_BOUNDS`] (√2 steps
//! from 0.1 ms), so a percentile is exact to within a factor of √2 and a
//! busy version costs a few KiB.
//!
//! Each (tenant, module, version) has its own [`VersionHealth`], and a
//! serving route holds its handle (taken once when the route is built), so
//! recording a call locks only that version's buckets: requests of other
//! versions and tenants never wait on one another here.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use semver::Version;

/// How long one bucket of counts covers.
pub const BUCKET: Duration = Duration::from_secs(10);
/// How many buckets are kept per version: 10 minutes.
pub const KEPT: usize = 60;
/// How many latency histogram buckets there are.
const LATENCY_BOUNDS: usize = 42;

/// How a call ended, for health.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallHealth {
    /// Answered without a host-visible failure.
    Ok,
    /// Failed in a way that counts against the version.
    Error,
    /// Refused before running (the tenant was at its call limit).
    Shed,
}

/// Counts over a span of time.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HealthStats {
    /// Calls that ran.
    pub requests: u64,
    /// Of those, errors.
    pub errors: u64,
    /// Calls refused before running.
    pub shed: u64,
    /// Median latency in milliseconds (the histogram bucket's upper bound).
    pub p50_ms: Option<f64>,
    /// 99th-percentile latency in milliseconds.
    pub p99_ms: Option<f64>,
}

impl HealthStats {
    /// Errors per request, 0 with no requests.
    pub fn error_rate(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.errors as f64 / self.requests as f64
        }
    }
}

#[derive(Debug, Clone)]
struct Bucket {
    index: u64,
    requests: u64,
    errors: u64,
    shed: u64,
    latencies: [u32; LATENCY_BOUNDS],
}

impl Bucket {
    fn new(index: u64) -> Self {
        Self {
            index,
            requests: 0,
            errors: 0,
            shed: 0,
            latencies: [0; LATENCY_BOUNDS],
        }
    }
}

/// The upper bound of latency bucket `slot`, in milliseconds: 0.1 ms × √2^slot.
fn bound_ms(slot: usize) -> f64 {
    0.1 * std::f64::consts::SQRT_2.powi(i32::try_from(slot).unwrap_or(i32::MAX))
}

fn slot_of(elapsed: Duration) -> usize {
    let ms = elapsed.as_secs_f64() * 1000.0;
    (0..LATENCY_BOUNDS)
        .find(|slot| ms <= bound_ms(*slot))
        .unwrap_or(LATENCY_BOUNDS - 1)
}

/// Which version's calls.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct VersionKey {
    tenant: String,
    module: String,
    version: Version,
}

/// One version's recent calls: what its serving routes record into.
#[derive(Debug, Default)]
pub struct VersionHealth {
    buckets: Mutex<VecDeque<Bucket>>,
}

impl VersionHealth {
    fn buckets(&self) -> std::sync::MutexGuard<'_, VecDeque<Bucket>> {
        self.buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Every version's recent calls.
#[derive(Debug)]
pub struct HealthBook {
    epoch: Instant,
    versions: Mutex<HashMap<VersionKey, Arc<VersionHealth>>>,
    /// The bucket at which versions without recent calls were last dropped.
    pruned_at: AtomicU64,
}

impl Default for HealthBook {
    fn default() -> Self {
        Self {
            epoch: Instant::now(),
            versions: Mutex::new(HashMap::new()),
            pruned_at: AtomicU64::new(0),
        }
    }
}

impl HealthBook {
    fn bucket_index(&self, at: Instant) -> u64 {
        let since = at.saturating_duration_since(self.epoch);
        since.as_secs() / BUCKET.as_secs()
    }

    /// The handle `tenant`'s `module`@`version` records into, made on first use.
    pub fn handle(&self, tenant: &str, module: &str, version: &Version) -> Arc<VersionHealth> {
        let key = VersionKey {
            tenant: tenant.to_owned(),
            module: module.to_owned(),
            version: version.clone(),
        };
        self.versions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(key)
            .or_default()
            .clone()
    }

    /// Records one call of `version`, ended at `at` after `elapsed`.
    #[cfg(test)]
    pub fn record(
        &self,
        tenant: &str,
        module: &str,
        version: &Version,
        outcome: CallHealth,
        elapsed: Duration,
        at: Instant,
    ) {
        let health = self.handle(tenant, module, version);
        self.record_into(&health, outcome, elapsed, at);
    }

    /// Records one call into `health` (a handle from [`Self::handle`]),
    /// ended at `at` after `elapsed`.
    pub fn record_into(&self, health: &VersionHealth, outcome: CallHealth, elapsed: Duration, at: Instant) {
        let index = self.bucket_index(at);
        if self.pruned_at.fetch_max(index, Ordering::Relaxed) < index {
            // Once per bucket: forget versions no route serves that had no
            // calls in the kept span (a served one keeps its handle).
            self.versions
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .retain(|_, kept| {
                    Arc::strong_count(kept) > 1
                        || kept
                            .buckets()
                            .back()
                            .is_some_and(|last| last.index + (KEPT as u64) > index)
                });
        }
        let mut buckets = health.buckets();
        if buckets.back().is_none_or(|last| last.index < index) {
            buckets.push_back(Bucket::new(index));
        }
        while buckets
            .front()
            .is_some_and(|first| first.index + (KEPT as u64) <= index)
        {
            buckets.pop_front();
        }
        let Some(bucket) = buckets.iter_mut().rev().find(|bucket| bucket.index <= index) else {
            return;
        };
        match outcome {
            CallHealth::Shed => bucket.shed += 1,
            CallHealth::Ok | CallHealth::Error => {
                bucket.requests += 1;
                if outcome == CallHealth::Error {
                    bucket.errors += 1;
                }
                bucket.latencies[slot_of(elapsed)] += 1;
            }
        }
    }

    /// `version`'s calls from `since` (to the bucket) until now.
    pub fn stats(&self, tenant: &str, module: &str, version: &Version, since: Instant) -> HealthStats {
        let from = self.bucket_index(since);
        let key = VersionKey {
            tenant: tenant.to_owned(),
            module: module.to_owned(),
            version: version.clone(),
        };
        let versions = self
            .versions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut stats = HealthStats::default();
        let mut latencies = [0u64; LATENCY_BOUNDS];
        let Some(health) = versions.get(&key).cloned() else {
            return stats;
        };
        drop(versions);
        for bucket in health.buckets().iter().filter(|bucket| bucket.index >= from) {
            stats.requests += bucket.requests;
            stats.errors += bucket.errors;
            stats.shed += bucket.shed;
            for (total, count) in latencies.iter_mut().zip(bucket.latencies) {
                *total += u64::from(count);
            }
        }
        stats.p50_ms = percentile(&latencies, 0.50);
        stats.p99_ms = percentile(&latencies, 0.99);
        stats
    }

    /// The versions of `tenant`'s `module` with calls since `since`, newest version last.
    pub fn versions(&self, tenant: &str, module: &str, since: Instant) -> Vec<Version> {
        let from = self.bucket_index(since);
        let versions = self
            .versions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut found: Vec<Version> = versions
            .iter()
            .filter(|(key, health)| {
                key.tenant == tenant
                    && key.module == module
                    && health.buckets().back().is_some_and(|last| last.index >= from)
            })
            .map(|(key, _)| key.version.clone())
            .collect();
        found.sort();
        found
    }
}

fn percentile(latencies: &[u64; LATENCY_BOUNDS], quantile: f64) -> Option<f64> {
    let total: u64 = latencies.iter().sum();
    if total == 0 {
        return None;
    }
    let wanted = ((total as f64) * quantile).ceil().max(1.0) as u64;
    let mut seen = 0;
    for (slot, count) in latencies.iter().enumerate() {
        seen += count;
        if seen >= wanted {
            return Some(bound_ms(slot));
        }
    }
    Some(bound_ms(LATENCY_BOUNDS - 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(text: &str) -> Version {
        text.parse().expect("version")
    }

    #[test]
    fn calls_are_counted_per_version_with_errors_shed_and_percentiles() {
        let book = HealthBook::default();
        let now = Instant::now();
        let v1 = version("1.0.0");
        for index in 0..100 {
            let (outcome, elapsed) = if index < 10 {
                (CallHealth::Error, Duration::from_millis(400))
            } else {
                (CallHealth::Ok, Duration::from_millis(2))
            };
            book.record("acme", "inventory", &v1, outcome, elapsed, now);
        }
        book.record("acme", "inventory", &v1, CallHealth::Shed, Duration::ZERO, now);
        book.record(
            "acme",
            "inventory",
            &version("1.1.0"),
            CallHealth::Ok,
            Duration::from_millis(1),
            now,
        );
        let stats = book.stats("acme", "inventory", &v1, now);
        assert_eq!((stats.requests, stats.errors, stats.shed), (100, 10, 1));
        assert!((stats.error_rate() - 0.1).abs() < f64::EPSILON);
        let p50 = stats.p50_ms.expect("p50");
        let p99 = stats.p99_ms.expect("p99");
        assert!((2.0..=2.0 * std::f64::consts::SQRT_2).contains(&p50), "{p50}");
        assert!((400.0..=400.0 * std::f64::consts::SQRT_2).contains(&p99), "{p99}");
        assert_eq!(
            book.stats("banban", "inventory", &v1, now),
            HealthStats::default()
        );
        assert_eq!(
            book.versions("acme", "inventory", now),
            vec![v1, version("1.1.0")]
        );
    }

    #[test]
    fn only_the_last_ten_minutes_are_kept() {
        let book = HealthBook::default();
        let v1 = version("1.0.0");
        let start = book.epoch;
        book.record("acme", "m", &v1, CallHealth::Error, Duration::ZERO, start);
        let later = start + BUCKET * (KEPT as u32);
        book.record("acme", "m", &v1, CallHealth::Ok, Duration::ZERO, later);
        let stats = book.stats("acme", "m", &v1, start);
        assert_eq!(
            (stats.requests, stats.errors),
            (1, 0),
            "the first bucket was dropped"
        );
        let buckets = book
            .versions
            .lock()
            .expect("lock")
            .values()
            .map(|health| health.buckets().len())
            .sum::<usize>();
        assert_eq!(buckets, 1);
        // A version with no calls for ten minutes is forgotten.
        book.record(
            "acme",
            "m",
            &version("2.0.0"),
            CallHealth::Ok,
            Duration::ZERO,
            later + BUCKET * (KEPT as u32),
        );
        assert_eq!(book.versions("acme", "m", start), vec![version("2.0.0")]);
    }

    #[test]
    fn a_handle_a_route_holds_survives_idle_pruning_and_records_what_stats_read() {
        let book = HealthBook::default();
        let v1 = version("1.0.0");
        let start = book.epoch;
        let held = book.handle("acme", "m", &v1);
        book.record_into(&held, CallHealth::Error, Duration::from_millis(3), start);
        // Ten idle minutes later another version's call prunes the book.
        let later = start + BUCKET * (2 * KEPT as u32);
        book.record(
            "acme",
            "m",
            &version("2.0.0"),
            CallHealth::Ok,
            Duration::ZERO,
            later,
        );
        book.record_into(&held, CallHealth::Ok, Duration::from_millis(3), later);
        let stats = book.stats("acme", "m", &v1, later);
        assert_eq!((stats.requests, stats.errors), (1, 0));
        assert!(
            Arc::ptr_eq(&held, &book.handle("acme", "m", &v1)),
            "the held handle stayed in the book"
        );
        // Another tenant's same version records apart.
        assert_eq!(book.stats("other", "m", &v1, start), HealthStats::default());
    }
}
