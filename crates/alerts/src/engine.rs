//! The evaluator: every interval it judges every rule on the signals and moves alerts through firing → acknowledged → resolved, escalating along each rule's channel chain.
//!
//! For each rule and subject in breach: no open alert → a new one fires and
//! the chain's first channel is told; an open, unacknowledged alert past
//! `escalate_after_secs` since it fired or last escalated → the next
//! channel is told. An open alert whose subject is no longer in breach (or
//! whose rule is gone) resolves, and every channel told about it is told so.
//! Each change is one registry batch with the deliveries it causes and its
//! audit entry, so a kill at any point leaves either the change and its
//! notifications or neither. A silenced (rule, subject) changes state as
//! usual, but makes no deliveries until the silence ends.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use modhost_deploy::Loader;
use modhost_registry::{
    Alert, AlertEvent, AlertRule, AlertState, AuditDraft, Delivery, DeliveryState, Registry, RegistryError,
    RuleKind, now_ms,
};

use crate::anomaly::{Band, Judgement};
use crate::signals::{Measure, Signals, Subject};

/// The actor of the evaluator's audit entries.
pub const ACTOR: &str = "system:alerts";

/// One anomaly rule's band for one subject, and its last judgement.
struct AnomalyState {
    band: Band,
    sampled_at: Instant,
    outside: Option<f64>,
}

/// An alert's dedup key: (rule scope, rule, subject).
type AlertKey = (Option<String>, String, String);

/// The evaluator's memory between ticks.
pub(crate) struct Engine {
    registry: Registry,
    signals: Signals,
    bands: HashMap<(Option<String>, String, Subject), AnomalyState>,
    /// When each open alert's subject was first seen out of breach.
    clear_since: HashMap<AlertKey, Instant>,
}

/// How long a subject must stay out of breach before its alert resolves: a
/// quarter of the rule's window (at least a second), so a value hovering at
/// the threshold does not fire and resolve over and over.
pub fn resolve_hold(rule: &AlertRule) -> Duration {
    Duration::from_millis(rule.window_secs.saturating_mul(250)).max(Duration::from_secs(1))
}

/// A subject as [`Alert::subject`] names it: `tenant/module`, or `tenant`
/// for a subject without a module.
fn subject_name(subject: &Subject) -> String {
    if subject.1.is_empty() {
        subject.0.clone()
    } else {
        format!("{}/{}", subject.0, subject.1)
    }
}

/// The rule's identity in the alert dedup key.
fn rule_identity(rule: &AlertRule) -> (Option<String>, String) {
    (rule.tenant.clone(), rule.name.clone())
}

fn describe(rule: &AlertRule, measure: &Measure) -> String {
    let window = rule.window_secs;
    match rule.kind {
        RuleKind::ErrorRate => format!(
            "error rate {:.1}% ≥ {}% over {window} s ({} requests)",
            measure.value, rule.threshold, measure.count
        ),
        RuleKind::P99Ms => format!(
            "p99 latency {:.1} ms ≥ {} ms over {window} s ({} requests)",
            measure.value, rule.threshold, measure.count
        ),
        RuleKind::QuotaUse => format!(
            "data at {:.1}% of its quota (threshold {}%)",
            measure.value, rule.threshold
        ),
        RuleKind::Fallbacks => "serving a fallback instead of its active version".to_owned(),
        RuleKind::OverdueMilestones => format!(
            "{} overdue milestones in its implementation project (threshold {})",
            measure.count, rule.threshold
        ),
        RuleKind::Anomaly => format!(
            "{} left its recent band: {:.1} standard deviations from its mean (threshold {})",
            rule.series.map_or("the series", |series| series.name()),
            measure.value,
            rule.threshold
        ),
        kind => format!(
            "{} {} in {window} s (threshold {})",
            measure.count,
            kind.name().replace('-', " "),
            rule.threshold
        ),
    }
}

impl Engine {
    pub(crate) fn start(loader: Loader) -> Result<Self, RegistryError> {
        Ok(Self {
            registry: loader.registry().clone(),
            signals: Signals::start(loader)?,
            bands: HashMap::new(),
            clear_since: HashMap::new(),
        })
    }

    /// One evaluation of every rule.
    pub(crate) fn tick(&mut self) -> Result<(), RegistryError> {
        self.signals.refresh()?;
        let mut open: BTreeMap<AlertKey, Alert> = self
            .registry
            .open_alerts()?
            .into_iter()
            .map(|alert| {
                (
                    (alert.rule_tenant.clone(), alert.rule.clone(), alert.subject()),
                    alert,
                )
            })
            .collect();
        let rules = self.registry.alert_rules(None)?;
        for rule in &rules {
            for (subject, measure) in self.breaches(rule)? {
                let (scope, name) = rule_identity(rule);
                let key = (scope, name, subject_name(&subject));
                self.clear_since.remove(&key);
                match open.remove(&key) {
                    None => self.fire(rule, &subject, &measure)?,
                    Some(alert) => self.escalate_if_due(rule, alert, &measure)?,
                }
            }
        }
        let now = Instant::now();
        for (key, alert) in open {
            let rule = rules
                .iter()
                .find(|rule| rule.tenant == key.0 && rule.name == key.1);
            let clear_since = *self.clear_since.entry(key.clone()).or_insert(now);
            if rule.is_none_or(|rule| now.duration_since(clear_since) >= resolve_hold(rule)) {
                self.clear_since.remove(&key);
                self.resolve(rule, alert)?;
            }
        }
        let live: std::collections::HashSet<_> = rules.iter().map(rule_identity).collect();
        self.bands
            .retain(|(scope, name, _), _| live.contains(&(scope.clone(), name.clone())));
        Ok(())
    }

    /// The subjects `rule` finds in breach now, with their measurements.
    fn breaches(&mut self, rule: &AlertRule) -> Result<Vec<(Subject, Measure)>, RegistryError> {
        let window = Duration::from_secs(rule.window_secs);
        let wanted = |tenant: &str, module: &str| {
            rule.tenant.as_deref().is_none_or(|scope| scope == tenant)
                && rule.module.as_deref().is_none_or(|only| only == module)
        };
        if rule.kind == RuleKind::Anomaly {
            return Ok(self.anomalies(rule, window, wanted));
        }
        let floor = if matches!(
            rule.kind,
            RuleKind::ErrorRate | RuleKind::P99Ms | RuleKind::QuotaUse
        ) {
            rule.threshold
        } else {
            rule.threshold.max(1.0)
        };
        let needs_requests = matches!(rule.kind, RuleKind::ErrorRate | RuleKind::P99Ms);
        Ok(self
            .signals
            .measure(rule.kind, window, wanted)?
            .into_iter()
            .filter(|(_, measure)| {
                measure.value >= floor && (!needs_requests || measure.count >= rule.min_count)
            })
            .collect())
    }

    /// Feeds each subject's series one sample per window and reports those outside their band.
    fn anomalies(
        &mut self,
        rule: &AlertRule,
        window: Duration,
        wanted: impl Fn(&str, &str) -> bool,
    ) -> Vec<(Subject, Measure)> {
        let now = Instant::now();
        let mut outside = Vec::new();
        for (subject, (rate, error_rate, p99)) in self.signals.series(window, wanted) {
            let value = match rule.series {
                Some(modhost_registry::AnomalySeries::ErrorRate) => error_rate,
                Some(modhost_registry::AnomalySeries::P99Ms) => p99,
                _ => rate,
            };
            let (scope, name) = rule_identity(rule);
            let state = self
                .bands
                .entry((scope, name, subject.clone()))
                .or_insert_with(|| AnomalyState {
                    band: Band::default(),
                    sampled_at: now.checked_sub(window).unwrap_or(now),
                    outside: None,
                });
            if now.duration_since(state.sampled_at) >= window {
                state.sampled_at = now;
                state.outside = match state.band.observe(value, rule.threshold, rule.min_count) {
                    Judgement::Outside { sigmas } => Some(sigmas),
                    Judgement::Normal { .. } | Judgement::Learning => None,
                };
            }
            if let Some(sigmas) = state.outside {
                outside.push((
                    subject,
                    Measure {
                        value: sigmas,
                        count: 1,
                    },
                ));
            }
        }
        outside
    }

    fn deliveries(
        &self,
        rule: &AlertRule,
        alert: &Alert,
        event: AlertEvent,
        channels: &[String],
    ) -> Result<Vec<Delivery>, RegistryError> {
        if self.registry.silenced_until(alert)?.is_some() {
            return Ok(Vec::new());
        }
        let now = now_ms();
        channels
            .iter()
            .map(|channel| {
                Ok(Delivery {
                    id: self.registry.next_alert_id()?,
                    idempotency_key: format!(
                        "alert-{}-{}-{}-{channel}",
                        alert.id,
                        event.name(),
                        alert.escalation
                    ),
                    channel_tenant: rule.tenant.clone(),
                    channel: channel.clone(),
                    event,
                    alert: Some(alert.clone()),
                    state: DeliveryState::Pending,
                    attempts: 0,
                    created_at_ms: now,
                    next_attempt_at_ms: now,
                    last_error: None,
                    finished_at_ms: None,
                })
            })
            .collect()
    }

    fn fire(&self, rule: &AlertRule, subject: &Subject, measure: &Measure) -> Result<(), RegistryError> {
        let now = now_ms();
        let mut alert = Alert {
            id: self.registry.next_alert_id()?,
            rule_tenant: rule.tenant.clone(),
            rule: rule.name.clone(),
            kind: rule.kind,
            tenant: Some(subject.0.clone()),
            module: (!subject.1.is_empty()).then(|| subject.1.clone()),
            state: AlertState::Firing,
            severity: rule.severity,
            value: measure.value,
            threshold: rule.threshold,
            summary: describe(rule, measure),
            escalation: 0,
            fired_at_ms: now,
            escalated_at_ms: now,
            acknowledged: None,
            resolved_at_ms: None,
            silenced_until_ms: None,
        };
        alert.silenced_until_ms = self.registry.silenced_until(&alert)?;
        let first: Vec<String> = rule.channels.iter().take(1).cloned().collect();
        alert.escalation = u32::try_from(first.len()).unwrap_or(0);
        let deliveries = self.deliveries(rule, &alert, AlertEvent::Firing, &first)?;
        tracing::warn!(alert = alert.id, rule = %rule.name, subject = %alert.subject(), summary = %alert.summary, "alert firing");
        let mut draft = AuditDraft::ok(
            ACTOR,
            "alert.fire",
            format!("alert {}: {} on {}", alert.id, rule.name, alert.subject()),
            alert.tenant.as_deref(),
        );
        draft.detail = Some(alert.summary.clone());
        self.registry.save_alert(&alert, &deliveries, Some(draft))
    }

    fn escalate_if_due(
        &self,
        rule: &AlertRule,
        mut alert: Alert,
        measure: &Measure,
    ) -> Result<(), RegistryError> {
        let now = now_ms();
        let due = alert.state == AlertState::Firing
            && rule.escalate_after_secs > 0
            && now.saturating_sub(alert.escalated_at_ms) >= rule.escalate_after_secs.saturating_mul(1000)
            && (alert.escalation as usize) < rule.channels.len();
        if !due {
            return Ok(());
        }
        let next = rule.channels[alert.escalation as usize].clone();
        alert.escalation += 1;
        alert.escalated_at_ms = now;
        alert.value = measure.value;
        alert.summary = describe(rule, measure);
        let deliveries = self.deliveries(rule, &alert, AlertEvent::Escalated, std::slice::from_ref(&next))?;
        tracing::warn!(alert = alert.id, rule = %rule.name, channel = %next, "alert escalated");
        let mut draft = AuditDraft::ok(
            ACTOR,
            "alert.escalate",
            format!("alert {}: {} on {}", alert.id, rule.name, alert.subject()),
            alert.tenant.as_deref(),
        );
        draft.detail = Some(format!("unacknowledged; told channel `{next}`"));
        self.registry.save_alert(&alert, &deliveries, Some(draft))
    }

    fn resolve(&self, rule: Option<&AlertRule>, mut alert: Alert) -> Result<(), RegistryError> {
        alert.state = AlertState::Resolved;
        alert.resolved_at_ms = Some(now_ms());
        let deliveries = match rule {
            Some(rule) => {
                let told: Vec<String> = rule
                    .channels
                    .iter()
                    .take(alert.escalation as usize)
                    .cloned()
                    .collect();
                self.deliveries(rule, &alert, AlertEvent::Resolved, &told)?
            }
            None => Vec::new(),
        };
        tracing::info!(alert = alert.id, rule = %alert.rule, subject = %alert.subject(), "alert resolved");
        let mut draft = AuditDraft::ok(
            ACTOR,
            "alert.resolve",
            format!("alert {}: {} on {}", alert.id, alert.rule, alert.subject()),
            alert.tenant.as_deref(),
        );
        draft.detail = Some(
            if rule.is_some() {
                "no longer in breach"
            } else {
                "its rule was deleted"
            }
            .to_owned(),
        );
        self.registry.save_alert(&alert, &deliveries, Some(draft))
    }
}
