//! Events: the naming rules, validation of incoming batches, and the shape events are stored in.

use std::collections::BTreeMap;

use modhost_sdk::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The longest event, dimension or metric name, in bytes.
pub const MAX_NAME_BYTES: usize = 64;
/// The most dimensions one event may carry.
pub const MAX_DIMENSIONS_PER_EVENT: usize = 16;
/// The most metrics one event may carry.
pub const MAX_METRICS_PER_EVENT: usize = 16;
/// The longest dimension value, in characters.
pub const MAX_DIMENSION_VALUE_CHARS: usize = 128;
/// The end of time for this module (exclusive): 10000-01-01T00:00:00Z in unix milliseconds.
pub const END_OF_TIME_MS: i64 = 253_402_300_800_000;
/// What the naming rule says, for error messages.
pub const NAME_RULE: &str = "use 1 to 64 of a-z, 0-9 and _, starting with a letter";

/// Whether `name` follows the rule for event, dimension and metric names: `[a-z][a-z0-9_]{0,63}`.
pub fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= MAX_NAME_BYTES
        && chars.next().is_some_and(|first| first.is_ascii_lowercase())
        && chars.all(|rest| rest.is_ascii_lowercase() || rest.is_ascii_digit() || rest == '_')
}

/// `text` for an error message: at most 64 characters, longer ones cut with `…`.
pub fn shown(text: &str) -> String {
    const SHOWN_CHARS: usize = 64;
    if text.chars().count() <= SHOWN_CHARS {
        text.to_owned()
    } else {
        let mut cut: String = text.chars().take(SHOWN_CHARS).collect();
        cut.push('…');
        cut
    }
}

/// A number as JSON: integral values without a fraction (`2`, not `2.0`).
pub fn number(value: f64) -> Value {
    const EXACT_INTEGER_LIMIT: f64 = 9_007_199_254_740_992.0;
    if value.fract() == 0.0 && value.abs() < EXACT_INTEGER_LIMIT {
        Value::from(value as i64)
    } else {
        Value::from(value)
    }
}

/// The body of `POST /events`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventBatch {
    /// The events to record, all or none.
    pub events: Vec<EventInput>,
}

/// One event as sent, before validation.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventInput {
    /// The event name, e.g. `sale`.
    pub name: String,
    /// When it happened, unix milliseconds; the time of the request when absent.
    #[serde(default)]
    pub at: Option<i64>,
    /// Dimension name → string value.
    #[serde(default)]
    pub dimensions: BTreeMap<String, Value>,
    /// Metric name → number.
    #[serde(default)]
    pub metrics: BTreeMap<String, Value>,
}

/// An event as stored inside a chunk (its name is part of the chunk's key).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredEvent {
    /// When it happened, unix milliseconds.
    pub at: i64,
    /// Dimension name → value.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub dimensions: BTreeMap<String, String>,
    /// Metric name → value.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metrics: BTreeMap<String, f64>,
}

impl StoredEvent {
    /// The event as the API shows it, with its `id` and `name`.
    pub fn to_json(&self, id: &str, name: &str) -> Value {
        let metrics: serde_json::Map<String, Value> = self
            .metrics
            .iter()
            .map(|(metric, value)| (metric.clone(), number(*value)))
            .collect();
        serde_json::json!({
            "id": id,
            "name": name,
            "at": self.at,
            "dimensions": self.dimensions,
            "metrics": metrics,
        })
    }
}

/// A validated event, ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// The event name.
    pub name: String,
    /// What is stored.
    pub event: StoredEvent,
}

/// Validates a whole batch; the first problem found is the error, naming the event's index.
///
/// `now_ms` is the time given to events without `at`.
pub fn validate_batch(batch: EventBatch, max_events: usize, now_ms: i64) -> Result<Vec<NewEvent>> {
    let count = batch.events.len();
    if count == 0 {
        return Err(Error::unprocessable(
            "the batch has no events; send 1 or more in `events`",
        ));
    }
    if count > max_events {
        return Err(Error::unprocessable(format!(
            "the batch has {count} events; this tenant accepts at most {max_events} per request \
             (config max_events_per_batch)"
        )));
    }
    batch
        .events
        .into_iter()
        .enumerate()
        .map(|(index, input)| {
            validate_event(input, now_ms)
                .map_err(|problem| Error::unprocessable(format!("event {index}: {problem}")))
        })
        .collect()
}

/// Validates one event; the error is the problem, without the event's index.
fn validate_event(input: EventInput, now_ms: i64) -> Result<NewEvent, String> {
    if !is_valid_name(&input.name) {
        return Err(format!(
            "the name `{}` is invalid; {NAME_RULE}",
            shown(&input.name)
        ));
    }
    let at = input.at.unwrap_or(now_ms);
    check_time("at", at)?;
    if input.dimensions.len() > MAX_DIMENSIONS_PER_EVENT {
        return Err(format!(
            "{} dimensions; at most {MAX_DIMENSIONS_PER_EVENT} are allowed",
            input.dimensions.len()
        ));
    }
    if input.metrics.len() > MAX_METRICS_PER_EVENT {
        return Err(format!(
            "{} metrics; at most {MAX_METRICS_PER_EVENT} are allowed",
            input.metrics.len()
        ));
    }
    let mut dimensions = BTreeMap::new();
    for (name, value) in input.dimensions {
        if !is_valid_name(&name) {
            return Err(format!(
                "dimension name `{}` is invalid; {NAME_RULE}",
                shown(&name)
            ));
        }
        let Value::String(text) = value else {
            return Err(format!(
                "dimension `{name}` must be a string, got {}",
                shown(&value.to_string())
            ));
        };
        let length = text.chars().count();
        if length > MAX_DIMENSION_VALUE_CHARS {
            return Err(format!(
                "dimension `{name}` is {length} characters long; at most {MAX_DIMENSION_VALUE_CHARS} are allowed"
            ));
        }
        dimensions.insert(name, text);
    }
    let mut metrics = BTreeMap::new();
    for (name, value) in input.metrics {
        if !is_valid_name(&name) {
            return Err(format!("metric name `{}` is invalid; {NAME_RULE}", shown(&name)));
        }
        let number = value.as_f64().ok_or_else(|| {
            format!(
                "metric `{name}` must be a number, got {}",
                shown(&value.to_string())
            )
        })?;
        if !number.is_finite() {
            return Err(format!("metric `{name}` must be a finite number"));
        }
        metrics.insert(name, number);
    }
    Ok(NewEvent {
        name: input.name,
        event: StoredEvent {
            at,
            dimensions,
            metrics,
        },
    })
}

/// Checks that `value` (the field `field`) is a time this module can store.
pub fn check_time(field: &str, value: i64) -> Result<(), String> {
    if (0..END_OF_TIME_MS).contains(&value) {
        Ok(())
    } else {
        Err(format!(
            "`{field}` {value} is out of range; use unix milliseconds from 0 to {}",
            END_OF_TIME_MS - 1
        ))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn batch(events: Value) -> EventBatch {
        serde_json::from_value(json!({ "events": events })).expect("a batch")
    }

    fn refused(events: Value) -> String {
        validate_batch(batch(events), 1000, 5)
            .expect_err("refused")
            .message()
            .to_owned()
    }

    #[test]
    fn names_follow_the_rule() {
        for good in ["sale", "a", "page_view2", &"x".repeat(64)] {
            assert!(is_valid_name(good), "{good}");
        }
        for bad in ["", "Sale", "2fast", "_x", "a-b", "a/b", "ação", &"x".repeat(65)] {
            assert!(!is_valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn numbers_drop_an_integral_fraction() {
        assert_eq!(number(2.0), json!(2));
        assert_eq!(number(-3.0), json!(-3));
        assert_eq!(number(129.9), json!(129.9));
        assert_eq!(number(1e300), json!(1e300));
    }

    #[test]
    fn long_values_are_cut_in_messages() {
        assert_eq!(shown("short"), "short");
        assert_eq!(shown(&"é".repeat(70)), format!("{}…", "é".repeat(64)));
    }

    #[test]
    fn a_valid_batch_is_stored_with_defaults() {
        let events = validate_batch(
            batch(json!([
                {"name": "sale", "at": 10, "dimensions": {"store": "sp-01"}, "metrics": {"amount": 12.5, "items": 2}},
                {"name": "visit"}
            ])),
            2,
            99,
        )
        .expect("valid");
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].name, "sale");
        assert_eq!(events[0].event.at, 10);
        assert_eq!(events[0].event.dimensions["store"], "sp-01");
        assert_eq!(events[0].event.metrics["items"], 2.0);
        assert_eq!(
            events[1],
            NewEvent {
                name: "visit".into(),
                event: StoredEvent {
                    at: 99,
                    dimensions: BTreeMap::new(),
                    metrics: BTreeMap::new(),
                },
            }
        );
        assert_eq!(
            serde_json::to_value(&events[1].event).expect("json"),
            json!({"at": 99}),
            "empty maps are not stored"
        );
    }

    #[test]
    fn the_batch_size_is_bounded() {
        assert_eq!(
            validate_batch(batch(json!([])), 10, 0),
            Err(Error::unprocessable(
                "the batch has no events; send 1 or more in `events`"
            ))
        );
        assert_eq!(
            validate_batch(batch(json!([{"name": "a"}, {"name": "b"}])), 1, 0),
            Err(Error::unprocessable(
                "the batch has 2 events; this tenant accepts at most 1 per request (config max_events_per_batch)"
            ))
        );
    }

    #[test]
    fn every_bad_event_is_named_with_its_index() {
        assert_eq!(
            refused(json!([{"name": "ok"}, {"name": "Bad"}])),
            "event 1: the name `Bad` is invalid; use 1 to 64 of a-z, 0-9 and _, starting with a letter"
        );
        assert_eq!(
            refused(json!([{"name": "a", "at": -1}])),
            "event 0: `at` -1 is out of range; use unix milliseconds from 0 to 253402300799999"
        );
        assert_eq!(
            refused(json!([{"name": "a", "dimensions": {"Store": "x"}}])),
            "event 0: dimension name `Store` is invalid; use 1 to 64 of a-z, 0-9 and _, starting with a letter"
        );
        assert_eq!(
            refused(json!([{"name": "a", "dimensions": {"store": 12}}])),
            "event 0: dimension `store` must be a string, got 12"
        );
        assert_eq!(
            refused(json!([{"name": "a", "dimensions": {"store": "x".repeat(129)}}])),
            "event 0: dimension `store` is 129 characters long; at most 128 are allowed"
        );
        assert_eq!(
            refused(json!([{"name": "a", "metrics": {"amount": "12"}}])),
            "event 0: metric `amount` must be a number, got \"12\""
        );
        assert_eq!(
            refused(json!([{"name": "a", "metrics": {"a-b": 1}}])),
            "event 0: metric name `a-b` is invalid; use 1 to 64 of a-z, 0-9 and _, starting with a letter"
        );
        let many: serde_json::Map<String, Value> =
            (0..17).map(|index| (format!("d{index}"), json!("x"))).collect();
        assert_eq!(
            refused(json!([{"name": "a", "dimensions": many.clone()}])),
            "event 0: 17 dimensions; at most 16 are allowed"
        );
        let many_metrics: serde_json::Map<String, Value> =
            (0..17).map(|index| (format!("m{index}"), json!(1))).collect();
        assert_eq!(
            refused(json!([{"name": "a", "metrics": many_metrics}])),
            "event 0: 17 metrics; at most 16 are allowed"
        );
    }

    #[test]
    fn events_are_shown_with_id_and_name() {
        let event = StoredEvent {
            at: 7,
            dimensions: BTreeMap::from([("store".to_owned(), "sp-01".to_owned())]),
            metrics: BTreeMap::from([("amount".to_owned(), 1.5), ("items".to_owned(), 2.0)]),
        };
        assert_eq!(
            event.to_json("000000000000000-0000-0", "sale"),
            json!({
                "id": "000000000000000-0000-0",
                "name": "sale",
                "at": 7,
                "dimensions": {"store": "sp-01"},
                "metrics": {"amount": 1.5, "items": 2},
            })
        );
    }
}
