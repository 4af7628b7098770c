//! Watching a promoted version: the policy that judges its health against the previous version's, and the watch's state (the loader runs it in `watching.rs`).
//!
//! After a promote from one version to another, the loader watches the new
//! version for the policy's window. The previous version's health over the
//! window before the promote is the baseline. Once the new version has served
//! `min_requests`, a breach is either
//!
//! - an error rate above `max(max_error_rate, error_rate_factor × baseline)`, or
//! - (when the baseline had `min_requests` too) a p99 latency above both
//!   `p99_factor ×` the baseline's and the baseline's plus `min_p99_increase_ms`.
//!
//! On a breach the loader rolls the tenant back to the previous version, as
//! the actor `system:watch` with the figures in the audit entry. If the
//! promote migrated the tenant's data, the rollback would restore the
//! snapshot and discard every write made since, so it is **held for a
//! person** instead: the watch ends `held`, the audit says why, and the
//! version keeps serving until someone rolls back (or not). A watch whose
//! route moves meanwhile (another promote, a rollback, a disable) ends
//! `superseded`. Watches live in memory: a restart ends them.

use std::time::{Duration, Instant};

use semver::Version;

use crate::health::HealthStats;

/// When a promoted version counts as failing.
#[derive(Debug, Clone, PartialEq)]
pub struct WatchPolicy {
    /// How long a promoted version is watched; zero watches nothing.
    pub window: Duration,
    /// Requests the new version must have served before it is judged.
    pub min_requests: u64,
    /// The error rate (0 to 1) always allowed.
    pub max_error_rate: f64,
    /// How many times the baseline's error rate is allowed.
    pub error_rate_factor: f64,
    /// How many times the baseline's p99 latency is allowed.
    pub p99_factor: f64,
    /// How much above the baseline's p99 latency is always allowed, in ms.
    pub min_p99_increase_ms: f64,
}

impl Default for WatchPolicy {
    fn default() -> Self {
        Self {
            window: Duration::ZERO,
            min_requests: 20,
            max_error_rate: 0.01,
            error_rate_factor: 2.0,
            p99_factor: 3.0,
            min_p99_increase_ms: 50.0,
        }
    }
}

impl WatchPolicy {
    /// Why `current` breaches the policy against `baseline`, if it does.
    pub fn breach(&self, current: &HealthStats, baseline: &HealthStats) -> Option<String> {
        if current.requests < self.min_requests {
            return None;
        }
        let allowed = self
            .max_error_rate
            .max(self.error_rate_factor * baseline.error_rate());
        if current.error_rate() > allowed {
            return Some(format!(
                "error rate {:.1}% over {} requests is above the allowed {:.1}% (the previous version had {:.1}% over {})",
                current.error_rate() * 100.0,
                current.requests,
                allowed * 100.0,
                baseline.error_rate() * 100.0,
                baseline.requests
            ));
        }
        if baseline.requests >= self.min_requests
            && let (Some(p99), Some(base)) = (current.p99_ms, baseline.p99_ms)
        {
            let allowed = (self.p99_factor * base).max(base + self.min_p99_increase_ms);
            if p99 > allowed {
                return Some(format!(
                    "p99 latency {p99:.1} ms over {} requests is above the allowed {allowed:.1} ms (the previous version's was {base:.1} ms)",
                    current.requests
                ));
            }
        }
        None
    }
}

/// Where a watch is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchState {
    /// Still within its window.
    Watching,
    /// The window passed without a breach.
    Passed,
    /// A breach rolled the tenant back to the previous version.
    RolledBack,
    /// A breach was found, but the promote had migrated the data: a person decides.
    Held,
    /// The route moved before the window ended.
    Superseded,
}

impl WatchState {
    /// The lower-case name, e.g. `rolled-back`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Watching => "watching",
            Self::Passed => "passed",
            Self::RolledBack => "rolled-back",
            Self::Held => "held",
            Self::Superseded => "superseded",
        }
    }
}

/// A watch of one promote, as last seen.
#[derive(Debug, Clone, PartialEq)]
pub struct Watch {
    /// The tenant.
    pub tenant: String,
    /// The module.
    pub module: String,
    /// The promoted version.
    pub version: Version,
    /// The version before it, the baseline and the rollback target.
    pub previous: Version,
    /// Whether the promote migrated the tenant's data.
    pub migrated: bool,
    /// When it started and ends (ms since the Unix epoch).
    pub started_at_ms: u64,
    /// See `started_at_ms`.
    pub ends_at_ms: u64,
    /// The previous version's health over the window before the promote.
    pub baseline: HealthStats,
    /// The promoted version's health since the promote.
    pub current: HealthStats,
    /// Where it is.
    pub state: WatchState,
    /// Why it ended as it did.
    pub verdict: Option<String>,
    pub(crate) started: Instant,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(requests: u64, errors: u64, p99_ms: Option<f64>) -> HealthStats {
        HealthStats {
            requests,
            errors,
            shed: 0,
            p50_ms: p99_ms,
            p99_ms,
        }
    }

    #[test]
    fn a_breach_needs_enough_requests_and_is_measured_against_the_baseline() {
        let policy = WatchPolicy::default();
        let healthy = stats(100, 0, Some(10.0));
        assert_eq!(
            policy.breach(&stats(19, 19, None), &healthy),
            None,
            "too few requests"
        );
        assert_eq!(
            policy.breach(&stats(20, 10, Some(10.0)), &healthy).as_deref(),
            Some(
                "error rate 50.0% over 20 requests is above the allowed 1.0% (the previous version had 0.0% over 100)"
            )
        );
        // A baseline at 5% allows 10%.
        let noisy = stats(100, 5, Some(10.0));
        assert_eq!(policy.breach(&stats(100, 9, Some(10.0)), &noisy), None);
        assert!(policy.breach(&stats(100, 11, Some(10.0)), &noisy).is_some());
        // Latency: 3x and at least +50 ms.
        assert_eq!(policy.breach(&stats(100, 0, Some(59.0)), &healthy), None);
        assert_eq!(
            policy.breach(&stats(100, 0, Some(61.0)), &healthy).as_deref(),
            Some(
                "p99 latency 61.0 ms over 100 requests is above the allowed 60.0 ms (the previous version's was 10.0 ms)"
            )
        );
        // No latency judgement without a baseline of enough requests.
        assert_eq!(
            policy.breach(&stats(100, 0, Some(5000.0)), &stats(3, 0, Some(1.0))),
            None
        );
    }
}
