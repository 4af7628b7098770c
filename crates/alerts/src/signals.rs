//! What rules are judged on: the host's measurements gathered into one value per (tenant, module) per rule.
//!
//! - error rate, p99 latency and request counts come from the loader's
//!   health book (10 s buckets, so a window is rounded up to whole buckets);
//! - traps, deadlines, limit hits and storage failures are differences of
//!   the runtime's cumulative per-(tenant, module) outcome counters, sampled
//!   at every evaluation (exact to one evaluation interval);
//! - failed promotes, automatic rollbacks and failed scheduled backups are
//!   read from the audit log as it grows (from the moment the host started);
//!   a backup failure's subject is the tenant alone (an empty module);
//! - quota use and fallbacks are what the routes and the data usage say now;
//! - overdue milestones are what the tenants' implementation projects say
//!   today (UTC); the subject is the tenant alone.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use modhost_deploy::Loader;
use modhost_registry::{
    AuditOutcome, AuditQuery, BACKUP_RUN_ACTION, Date, MAX_RULE_WINDOW_SECS, RegistryError, RuleKind,
};

/// A (tenant, module); the module is empty for what concerns the tenant
/// alone (a failed scheduled backup).
pub(crate) type Subject = (String, String);

/// Cumulative outcome counts (by class) of every subject, at one moment.
type Counters = BTreeMap<Subject, BTreeMap<&'static str, u64>>;

/// Outcome classes of the runtime's counters that each kind counts.
fn counted_classes(kind: RuleKind) -> &'static [&'static str] {
    match kind {
        RuleKind::Traps => &["trap"],
        RuleKind::Deadlines => &["deadline"],
        RuleKind::LimitHits => &[
            "busy",
            "memory-limit",
            "out-of-fuel",
            "stack-overflow",
            "kv-quota",
        ],
        RuleKind::StorageErrors => &["storage"],
        _ => &[],
    }
}

/// One subject's measurement for one rule.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Measure {
    /// The value compared with the threshold.
    pub value: f64,
    /// The evidence behind it (requests, events).
    pub count: u64,
}

/// Things that happened, from the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Happening {
    FailedPromote,
    AutomaticRollback,
    BackupFailed,
}

/// The measurements, kept between evaluations.
pub(crate) struct Signals {
    loader: Loader,
    /// Cumulative outcome counters per subject, oldest first, one per refresh.
    samples: VecDeque<(Instant, Counters)>,
    happenings: VecDeque<(Instant, Happening, Subject)>,
    audit_cursor: u64,
}

/// How long samples and happenings are kept: the longest window and a margin.
const KEPT: Duration = Duration::from_secs(MAX_RULE_WINDOW_SECS + 60);

impl Signals {
    /// Starts measuring now: only what happens from here on is counted.
    pub(crate) fn start(loader: Loader) -> Result<Self, RegistryError> {
        let audit_cursor = loader.registry().next_alert_id()?;
        let mut signals = Self {
            loader,
            samples: VecDeque::new(),
            happenings: VecDeque::new(),
            audit_cursor,
        };
        signals.samples.push_back((Instant::now(), BTreeMap::new()));
        Ok(signals)
    }

    /// Takes a sample of the counters and reads the audit log's new entries.
    pub(crate) fn refresh(&mut self) -> Result<(), RegistryError> {
        let now = Instant::now();
        let mut counters = Counters::new();
        for ((tenant, module), series) in self.loader.runtime().request_metrics().snapshot() {
            counters.insert((tenant, module), series.outcomes);
        }
        self.samples.push_back((now, counters));
        loop {
            let page = self.loader.registry().audit_page(&AuditQuery {
                after: Some(self.audit_cursor),
                ..AuditQuery::default()
            })?;
            for entry in &page.entries {
                self.audit_cursor = self.audit_cursor.max(entry.id);
                let happening = match (entry.action.as_str(), entry.outcome, entry.actor.as_str()) {
                    ("deployment.promote", AuditOutcome::Failed, _) => Happening::FailedPromote,
                    ("deployment.rollback", AuditOutcome::Ok, actor) if actor.starts_with("system:") => {
                        Happening::AutomaticRollback
                    }
                    (BACKUP_RUN_ACTION, AuditOutcome::Failed, _) => {
                        if let Some(tenant) = &entry.tenant {
                            self.happenings.push_back((
                                now,
                                Happening::BackupFailed,
                                (tenant.clone(), String::new()),
                            ));
                        }
                        continue;
                    }
                    _ => continue,
                };
                if let (Some(tenant), Some(module)) = (&entry.tenant, module_of(&entry.target)) {
                    self.happenings
                        .push_back((now, happening, (tenant.clone(), module)));
                }
            }
            match page.next_after {
                Some(next) => self.audit_cursor = self.audit_cursor.max(next),
                None => break,
            }
        }
        while self.samples.len() > 2
            && self
                .samples
                .get(1)
                .is_some_and(|(at, _)| now.duration_since(*at) > KEPT)
        {
            self.samples.pop_front();
        }
        while self
            .happenings
            .front()
            .is_some_and(|(at, _, _)| now.duration_since(*at) > KEPT)
        {
            self.happenings.pop_front();
        }
        Ok(())
    }

    /// Every subject's measurement of `kind` over `window`, for subjects
    /// `wanted` accepts. Subjects with nothing to report are left out.
    pub(crate) fn measure(
        &self,
        kind: RuleKind,
        window: Duration,
        wanted: impl Fn(&str, &str) -> bool,
    ) -> Result<BTreeMap<Subject, Measure>, RegistryError> {
        let mut measures = BTreeMap::new();
        match kind {
            RuleKind::ErrorRate | RuleKind::P99Ms | RuleKind::Anomaly => {
                for route in self.loader.status() {
                    if !wanted(&route.tenant, &route.module) {
                        continue;
                    }
                    let (requests, errors, p99) = self.health_totals(&route.tenant, &route.module, window);
                    if requests == 0 {
                        continue;
                    }
                    let value = match kind {
                        RuleKind::ErrorRate => errors as f64 * 100.0 / requests as f64,
                        RuleKind::P99Ms => p99,
                        _ => 0.0,
                    };
                    measures.insert(
                        (route.tenant, route.module),
                        Measure {
                            value,
                            count: requests,
                        },
                    );
                }
            }
            RuleKind::Traps | RuleKind::Deadlines | RuleKind::LimitHits | RuleKind::StorageErrors => {
                let classes = counted_classes(kind);
                let total = |counters: &BTreeMap<&'static str, u64>| -> u64 {
                    classes
                        .iter()
                        .map(|class| counters.get(class).copied().unwrap_or(0))
                        .sum()
                };
                let Some((now, latest)) = self.samples.back() else {
                    return Ok(measures);
                };
                let since = now.checked_sub(window);
                let baseline = self
                    .samples
                    .iter()
                    .rev()
                    .find(|(at, _)| since.is_some_and(|since| *at <= since))
                    .map(|(_, counters)| counters);
                for (subject, counters) in latest {
                    if !wanted(&subject.0, &subject.1) {
                        continue;
                    }
                    let before = baseline
                        .and_then(|baseline| baseline.get(subject))
                        .map_or(0, total);
                    let count = total(counters).saturating_sub(before);
                    if count > 0 {
                        measures.insert(
                            subject.clone(),
                            Measure {
                                value: count as f64,
                                count,
                            },
                        );
                    }
                }
            }
            RuleKind::FailedPromotes | RuleKind::AutomaticRollbacks | RuleKind::BackupFailures => {
                let wanted_happening = match kind {
                    RuleKind::FailedPromotes => Happening::FailedPromote,
                    RuleKind::AutomaticRollbacks => Happening::AutomaticRollback,
                    _ => Happening::BackupFailed,
                };
                let now = Instant::now();
                for (at, happening, subject) in &self.happenings {
                    if *happening == wanted_happening
                        && now.duration_since(*at) <= window
                        && wanted(&subject.0, &subject.1)
                    {
                        let measure = measures
                            .entry(subject.clone())
                            .or_insert(Measure { value: 0.0, count: 0 });
                        measure.count += 1;
                        measure.value += 1.0;
                    }
                }
            }
            RuleKind::QuotaUse => {
                let usages: BTreeMap<Subject, (u64, u64)> = self
                    .loader
                    .registry()
                    .kv_usages()?
                    .into_iter()
                    .map(|(tenant, module, usage)| ((tenant, module), (usage.keys, usage.bytes)))
                    .collect();
                for route in self.loader.status() {
                    let (Some(quota), true) = (route.kv_quota, wanted(&route.tenant, &route.module)) else {
                        continue;
                    };
                    let subject = (route.tenant, route.module);
                    let (keys, bytes) = usages.get(&subject).copied().unwrap_or((0, 0));
                    let share = |used: u64, max: u64| {
                        if max == 0 {
                            0.0
                        } else {
                            used as f64 * 100.0 / max as f64
                        }
                    };
                    let value = share(keys, quota.max_keys).max(share(bytes, quota.max_bytes));
                    measures.insert(subject, Measure { value, count: keys });
                }
            }
            RuleKind::OverdueMilestones => {
                let today = Date::today();
                for project in self.loader.registry().implementations()? {
                    let overdue = project.summary(today).overdue;
                    if overdue > 0 && wanted(&project.tenant, "") {
                        measures.insert(
                            (project.tenant, String::new()),
                            Measure {
                                value: overdue as f64,
                                count: overdue,
                            },
                        );
                    }
                }
            }
            RuleKind::Fallbacks => {
                for route in self.loader.status() {
                    let falling_back =
                        route.problem.is_some() && route.serving.as_ref() != Some(&route.active);
                    if falling_back && wanted(&route.tenant, &route.module) {
                        measures.insert((route.tenant, route.module), Measure { value: 1.0, count: 1 });
                    }
                }
            }
        }
        Ok(measures)
    }

    /// `(requests, errors, the highest p99 in ms)` of every version of a subject over `window`.
    fn health_totals(&self, tenant: &str, module: &str, window: Duration) -> (u64, u64, f64) {
        let (mut requests, mut errors, mut p99) = (0, 0, 0.0_f64);
        for (_, stats) in self.loader.health(tenant, module, window) {
            requests += stats.requests;
            errors += stats.errors;
            p99 = p99.max(stats.p99_ms.unwrap_or(0.0));
        }
        (requests, errors, p99)
    }

    /// `(requests per second, error rate in percent, p99 in ms)` of each subject over `window`.
    pub(crate) fn series(
        &self,
        window: Duration,
        wanted: impl Fn(&str, &str) -> bool,
    ) -> BTreeMap<Subject, (f64, f64, f64)> {
        let mut series = BTreeMap::new();
        for route in self.loader.status() {
            if !wanted(&route.tenant, &route.module) {
                continue;
            }
            let (requests, errors, p99) = self.health_totals(&route.tenant, &route.module, window);
            let rate = if requests == 0 {
                0.0
            } else {
                errors as f64 * 100.0 / requests as f64
            };
            series.insert(
                (route.tenant, route.module),
                (requests as f64 / window.as_secs_f64().max(1.0), rate, p99),
            );
        }
        series
    }
}

/// The module of an audit target `tenant/module` or `tenant/module@version`.
fn module_of(target: &str) -> Option<String> {
    let (_, rest) = target.split_once('/')?;
    let module = rest.split('@').next().unwrap_or(rest);
    (!module.is_empty()).then(|| module.to_owned())
}

#[cfg(test)]
mod tests {
    use super::module_of;

    #[test]
    fn audit_targets_name_their_module() {
        assert_eq!(module_of("acme/inventory@1.2.0"), Some("inventory".to_owned()));
        assert_eq!(module_of("acme/inventory"), Some("inventory".to_owned()));
        assert_eq!(module_of("acme"), None);
    }
}
