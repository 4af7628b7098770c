//! Alerts and the threshold evaluation that opens and resolves them on ingest.
//!
//! A rule keeps one state per tag set of the points it matches (a *series*):
//! either an alert is open for it or none is. Evaluating a series walks its
//! new points in time order: a breaching point with no open alert opens one; a
//! non-breaching point with an open alert resolves it; anything else only
//! updates the open alert's `last_value`. Evaluation is pure: the caller loads
//! the open alert, hands out ids and stores the outcome.

use modhost_sdk::{Error, Result};
use serde::{Deserialize, Serialize};

use crate::keys::MAX_ALERT_ID;
use crate::model::{Condition, Rule, Tags};

/// Whether an alert is still firing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    /// The rule is breached for the alert's tag set.
    Open,
    /// It no longer is, or the rule changed or went away.
    Resolved,
}

/// Why an alert was resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// A point no longer breached the rule.
    Recovered,
    /// The rule was replaced and no longer watches the alert's tag set.
    RuleChanged,
    /// The rule was deleted.
    RuleDeleted,
}

/// An alert, as stored and answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// The alert's id (1, 2, …, in the order they opened).
    pub id: u64,
    /// The rule that opened it.
    pub rule: String,
    /// The metric the rule watches.
    pub metric: String,
    /// The tag set of the points it is about.
    pub tags: Tags,
    /// Open or resolved.
    pub state: AlertState,
    /// The rule's condition when the alert opened.
    pub condition: Condition,
    /// The rule's threshold when the alert opened.
    pub threshold: f64,
    /// The `at` of the point that opened it.
    pub opened_at: i64,
    /// The `at` of the point that resolved it, or when the rule changed; `null` while open.
    pub resolved_at: Option<i64>,
    /// The value that opened it.
    pub trigger_value: f64,
    /// The latest value evaluated for it (the recovering value once resolved by a point).
    pub last_value: f64,
    /// Why it was resolved; `null` while open.
    pub resolution: Option<Resolution>,
}

impl Alert {
    /// Resolves the alert at `at` for `resolution`.
    pub fn resolve(&mut self, at: i64, resolution: Resolution) {
        self.state = AlertState::Resolved;
        self.resolved_at = Some(at);
        self.resolution = Some(resolution);
    }
}

/// What evaluating one series changed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SeriesOutcome {
    /// Every alert created or modified, in its final state, once each.
    pub changed: Vec<Alert>,
    /// Ids of alerts this evaluation opened.
    pub opened: Vec<u64>,
    /// Ids of alerts this evaluation resolved.
    pub resolved: Vec<u64>,
    /// The id of the alert open for the series afterwards, if any.
    pub open_after: Option<u64>,
}

/// Hands out alert ids: `last` is the last id handed out so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdSequence {
    /// The last id handed out.
    pub last: u64,
}

impl IdSequence {
    /// The next id, or an error once the ids are exhausted.
    pub fn next_id(&mut self) -> Result<u64> {
        if self.last >= MAX_ALERT_ID {
            return Err(Error::internal("alert ids are exhausted"));
        }
        self.last += 1;
        Ok(self.last)
    }
}

/// Evaluates `rule` for the series with `tags` over `points` (`(at, value)`, in time order),
/// starting from the series' open alert, if any.
pub fn evaluate_series(
    rule: &Rule,
    tags: &Tags,
    points: &[(i64, f64)],
    open: Option<Alert>,
    ids: &mut IdSequence,
) -> Result<SeriesOutcome> {
    let mut outcome = SeriesOutcome::default();
    // Index into `outcome.changed` of the currently open alert, if any.
    let mut current: Option<usize> = None;
    if let Some(alert) = open {
        outcome.changed.push(alert);
        current = Some(0);
    }
    let mut touched = false;
    for &(at, value) in points {
        let breached = rule.condition.breached(value, rule.threshold);
        match (current, breached) {
            (Some(index), true) => {
                outcome.changed[index].last_value = value;
                touched = true;
            }
            (Some(index), false) => {
                let alert = &mut outcome.changed[index];
                alert.last_value = value;
                alert.resolve(at, Resolution::Recovered);
                outcome.resolved.push(alert.id);
                current = None;
                touched = true;
            }
            (None, true) => {
                let id = ids.next_id()?;
                outcome.changed.push(Alert {
                    id,
                    rule: rule.id.clone(),
                    metric: rule.metric.clone(),
                    tags: tags.clone(),
                    state: AlertState::Open,
                    condition: rule.condition,
                    threshold: rule.threshold,
                    opened_at: at,
                    resolved_at: None,
                    trigger_value: value,
                    last_value: value,
                    resolution: None,
                });
                outcome.opened.push(id);
                current = Some(outcome.changed.len() - 1);
            }
            (None, false) => {}
        }
    }
    outcome.open_after = current.map(|index| outcome.changed[index].id);
    if !touched && outcome.opened.is_empty() {
        // Nothing happened to the alert that was open before: nothing to write.
        outcome.changed.clear();
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule() -> Rule {
        Rule {
            id: "slow".to_owned(),
            metric: "checkout_latency_ms".to_owned(),
            tags: Tags::new(),
            condition: Condition::Above,
            threshold: 800.0,
        }
    }

    fn tags() -> Tags {
        Tags::from([("store".to_owned(), "sp-01".to_owned())])
    }

    fn opened(id: u64, at: i64, value: f64) -> Alert {
        Alert {
            id,
            rule: "slow".to_owned(),
            metric: "checkout_latency_ms".to_owned(),
            tags: tags(),
            state: AlertState::Open,
            condition: Condition::Above,
            threshold: 800.0,
            opened_at: at,
            resolved_at: None,
            trigger_value: value,
            last_value: value,
            resolution: None,
        }
    }

    #[test]
    fn a_breach_opens_an_alert_and_later_breaches_update_it() {
        let mut ids = IdSequence { last: 4 };
        let outcome = evaluate_series(
            &rule(),
            &tags(),
            &[(1, 100.0), (2, 900.0), (3, 950.0)],
            None,
            &mut ids,
        )
        .expect("evaluated");
        let mut alert = opened(5, 2, 900.0);
        alert.last_value = 950.0;
        assert_eq!(
            outcome,
            SeriesOutcome {
                changed: vec![alert],
                opened: vec![5],
                resolved: vec![],
                open_after: Some(5),
            }
        );
        assert_eq!(ids.last, 5);
    }

    #[test]
    fn a_healthy_point_resolves_the_open_alert() {
        let mut ids = IdSequence { last: 5 };
        let outcome = evaluate_series(
            &rule(),
            &tags(),
            &[(10, 700.0)],
            Some(opened(5, 2, 900.0)),
            &mut ids,
        )
        .expect("evaluated");
        let mut alert = opened(5, 2, 900.0);
        alert.last_value = 700.0;
        alert.resolve(10, Resolution::Recovered);
        assert_eq!(
            outcome,
            SeriesOutcome {
                changed: vec![alert],
                opened: vec![],
                resolved: vec![5],
                open_after: None,
            }
        );
        assert_eq!(ids.last, 5, "no id used");
    }

    #[test]
    fn one_batch_can_open_resolve_and_reopen() {
        let mut ids = IdSequence { last: 0 };
        let outcome = evaluate_series(
            &rule(),
            &tags(),
            &[(1, 900.0), (2, 100.0), (3, 1000.0)],
            None,
            &mut ids,
        )
        .expect("evaluated");
        assert_eq!(outcome.opened, [1, 2]);
        assert_eq!(outcome.resolved, [1]);
        assert_eq!(outcome.open_after, Some(2));
        assert_eq!(outcome.changed.len(), 2);
        assert_eq!(outcome.changed[0].state, AlertState::Resolved);
        assert_eq!(outcome.changed[0].resolved_at, Some(2));
        assert_eq!(outcome.changed[1], opened(2, 3, 1000.0));
    }

    #[test]
    fn healthy_points_without_an_alert_change_nothing() {
        let mut ids = IdSequence { last: 0 };
        let outcome =
            evaluate_series(&rule(), &tags(), &[(1, 100.0), (2, 800.0)], None, &mut ids).expect("evaluated");
        assert_eq!(outcome, SeriesOutcome::default());
    }

    #[test]
    fn ids_run_out_cleanly() {
        let mut ids = IdSequence { last: MAX_ALERT_ID };
        assert_eq!(
            evaluate_series(&rule(), &tags(), &[(1, 900.0)], None, &mut ids),
            Err(Error::internal("alert ids are exhausted"))
        );
    }

    #[test]
    fn alerts_serialise_with_the_documented_fields() {
        let mut alert = opened(3, 2, 900.5);
        alert.resolve(9, Resolution::RuleDeleted);
        assert_eq!(
            serde_json::to_value(&alert).expect("json"),
            serde_json::json!({
                "id": 3, "rule": "slow", "metric": "checkout_latency_ms", "tags": {"store": "sp-01"},
                "state": "resolved", "condition": "above", "threshold": 800.0, "opened_at": 2,
                "resolved_at": 9, "trigger_value": 900.5, "last_value": 900.5, "resolution": "rule_deleted"
            })
        );
    }
}
