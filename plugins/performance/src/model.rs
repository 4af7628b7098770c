//! The module's data types and the validation that turns request input into them.
//!
//! Everything here is pure: names, tag sets, metric definitions, threshold
//! rules and ingested points are checked against the rules documented in the
//! README, and each refusal names the offending value and says what to do.

use std::collections::{BTreeMap, BTreeSet};

use modhost_sdk::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A tag set: tag key to tag value, sorted by key.
pub type Tags = BTreeMap<String, String>;

/// The most tag keys a metric may declare.
pub const MAX_TAG_KEYS: usize = 8;
/// The longest name (metric name or tag key), in bytes.
pub const MAX_NAME_BYTES: usize = 64;
/// The longest tag value, in bytes.
pub const MAX_TAG_VALUE_BYTES: usize = 64;
/// The longest encoded tag set (`store=sp-01,channel=web`), in bytes; keeps kv keys short.
pub const MAX_SERIES_BYTES: usize = 256;
/// The longest unit, in characters.
pub const MAX_UNIT_CHARS: usize = 32;
/// The longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 1024;
/// How far in the future a point may be, in milliseconds (one day).
pub const MAX_FUTURE_MS: i64 = 24 * 3_600_000;
/// One day in milliseconds.
pub const DAY_MS: i64 = 24 * 3_600_000;

const NAME_RULE: &str = "use 1 to 64 characters of a-z, 0-9, `_` and `.`, starting with a letter";
const TAG_VALUE_RULE: &str = "use 1 to 64 characters of A-Z, a-z, 0-9, `.`, `_`, `:` and `-`";
const RULE_ID_RULE: &str = "use 1 to 64 characters of A-Z, a-z, 0-9, `.`, `_` and `-`";

/// Whether `text` is a metric name or tag key: `[a-z][a-z0-9_.]{0,63}`.
pub fn is_name(text: &str) -> bool {
    let mut bytes = text.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z'))
        && text.len() <= MAX_NAME_BYTES
        && bytes.all(|byte| matches!(byte, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.'))
}

/// Whether `text` is a tag value: `[A-Za-z0-9._:-]{1,64}`.
pub fn is_tag_value(text: &str) -> bool {
    (1..=MAX_TAG_VALUE_BYTES).contains(&text.len())
        && text
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b':' | b'-'))
}

/// Whether `text` is a rule id: `[A-Za-z0-9._-]{1,64}`.
pub fn is_rule_id(text: &str) -> bool {
    modhost_sdk::kv::is_key_part(text)
}

/// Checks a metric name taken from the path or a query (`bad-request` when invalid).
pub fn check_metric_name(name: &str) -> Result<()> {
    if is_name(name) {
        Ok(())
    } else {
        Err(Error::bad_request(format!(
            "invalid metric name `{name}`; {NAME_RULE}"
        )))
    }
}

/// Checks a rule id taken from the path (`bad-request` when invalid).
pub fn check_rule_id(id: &str) -> Result<()> {
    if is_rule_id(id) {
        Ok(())
    } else {
        Err(Error::bad_request(format!(
            "invalid rule id `{id}`; {RULE_ID_RULE}"
        )))
    }
}

/// The message for a metric that is not defined.
pub fn no_metric(name: &str) -> String {
    format!("no metric `{name}`; define it first with PUT /metrics/{name}")
}

/// A metric definition, as stored under `metrics/<name>` and answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricDef {
    /// The metric's name.
    pub name: String,
    /// The unit its values are in, e.g. `ms`; may be empty.
    pub unit: String,
    /// What it measures; may be empty.
    pub description: String,
    /// The tag keys its points may carry, in the declared order.
    pub tags: Vec<String>,
}

impl MetricDef {
    /// Whether the metric declares tag key `key`.
    pub fn declares(&self, key: &str) -> bool {
        self.tags.iter().any(|tag| tag == key)
    }

    /// The refusal for a tag key the metric does not declare.
    pub fn undeclared_tag(&self, key: &str) -> String {
        let declared = if self.tags.is_empty() {
            "it declares no tags".to_owned()
        } else {
            format!("its tags are {}", self.tags.join(", "))
        };
        format!("metric `{}` has no tag `{key}`; {declared}", self.name)
    }
}

/// The body of `PUT /metrics/{name}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricInput {
    /// The unit; default empty.
    #[serde(default)]
    pub unit: String,
    /// The description; default empty.
    #[serde(default)]
    pub description: String,
    /// The tag keys; default none.
    #[serde(default)]
    pub tags: Vec<String>,
}

impl MetricInput {
    /// Validates the input into the definition of metric `name` (already checked).
    pub fn into_def(self, name: &str) -> Result<MetricDef> {
        if self.unit.chars().count() > MAX_UNIT_CHARS || self.unit.chars().any(char::is_control) {
            return Err(Error::unprocessable(format!(
                "the unit `{}` is invalid; use at most {MAX_UNIT_CHARS} characters without control characters",
                self.unit
            )));
        }
        let description_chars = self.description.chars().count();
        if description_chars > MAX_DESCRIPTION_CHARS {
            return Err(Error::unprocessable(format!(
                "the description has {description_chars} characters; the limit is {MAX_DESCRIPTION_CHARS}"
            )));
        }
        if self.tags.len() > MAX_TAG_KEYS {
            return Err(Error::unprocessable(format!(
                "metric `{name}` declares {} tags; the limit is {MAX_TAG_KEYS}",
                self.tags.len()
            )));
        }
        let mut seen = BTreeSet::new();
        for tag in &self.tags {
            if !is_name(tag) {
                return Err(Error::unprocessable(format!(
                    "invalid tag key `{tag}`; {NAME_RULE}"
                )));
            }
            if !seen.insert(tag.as_str()) {
                return Err(Error::unprocessable(format!(
                    "tag `{tag}` is declared twice; list each tag once"
                )));
            }
        }
        Ok(MetricDef {
            name: name.to_owned(),
            unit: self.unit,
            description: self.description,
            tags: self.tags,
        })
    }
}

/// Encodes a tag set as `key=value,key=value` (keys sorted): the series id used in keys and reports.
pub fn series_key(tags: &Tags) -> String {
    tags.iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Checks a tag set against `metric`: declared keys, valid values, a short enough encoding.
/// `context` prefixes messages (e.g. `point 3: `).
pub fn check_tags(tags: &Tags, metric: &MetricDef, context: &str) -> Result<()> {
    for (key, value) in tags {
        if !metric.declares(key) {
            return Err(Error::unprocessable(format!(
                "{context}{}",
                metric.undeclared_tag(key)
            )));
        }
        if !is_tag_value(value) {
            return Err(Error::unprocessable(format!(
                "{context}tag `{key}` has an invalid value `{value}`; {TAG_VALUE_RULE}"
            )));
        }
    }
    let encoded = series_key(tags).len();
    if encoded > MAX_SERIES_BYTES {
        return Err(Error::unprocessable(format!(
            "{context}the tag set is {encoded} bytes when encoded as key=value pairs; the limit is \
             {MAX_SERIES_BYTES}; use shorter tag values"
        )));
    }
    Ok(())
}

/// When a threshold rule is breached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Condition {
    /// The value is strictly greater than the threshold.
    Above,
    /// The value is strictly less than the threshold.
    Below,
}

impl Condition {
    /// Whether `value` breaches `threshold` under this condition.
    pub fn breached(self, value: f64, threshold: f64) -> bool {
        match self {
            Condition::Above => value > threshold,
            Condition::Below => value < threshold,
        }
    }
}

/// A threshold rule, as stored under `rules/<id>` and answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    /// The rule's id.
    pub id: String,
    /// The metric it watches.
    pub metric: String,
    /// The tags a point must carry (a subset filter); empty matches every point.
    pub tags: Tags,
    /// When it is breached.
    pub condition: Condition,
    /// The threshold the value is compared with.
    pub threshold: f64,
}

impl Rule {
    /// Whether a point with `metric` and `tags` is watched by this rule.
    pub fn matches(&self, metric: &str, tags: &Tags) -> bool {
        self.metric == metric && self.tags.iter().all(|(key, value)| tags.get(key) == Some(value))
    }
}

/// The body of `PUT /rules/{id}`; loosely typed so errors can name the field.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleInput {
    /// The metric to watch.
    pub metric: String,
    /// The tag filter; default none.
    #[serde(default)]
    pub tags: Tags,
    /// `above` or `below`.
    pub condition: String,
    /// A finite number.
    pub threshold: Value,
}

impl RuleInput {
    /// The metric name, checked as a body field (`unprocessable` when invalid).
    pub fn metric_name(&self) -> Result<&str> {
        if is_name(&self.metric) {
            Ok(&self.metric)
        } else {
            Err(Error::unprocessable(format!(
                "invalid metric name `{}`; {NAME_RULE}",
                self.metric
            )))
        }
    }

    /// Validates the input into rule `id` (already checked) watching `metric`
    /// (`None` when the named metric is not defined).
    pub fn into_rule(self, id: &str, metric: Option<&MetricDef>) -> Result<Rule> {
        let condition = match self.condition.as_str() {
            "above" => Condition::Above,
            "below" => Condition::Below,
            other => {
                return Err(Error::unprocessable(format!(
                    "unknown condition `{other}`; use `above` or `below`"
                )));
            }
        };
        let threshold = finite_number(&self.threshold).ok_or_else(|| {
            Error::unprocessable(format!(
                "`threshold` must be a finite number, got {}",
                self.threshold
            ))
        })?;
        let metric_name = self.metric_name()?.to_owned();
        let metric = metric.ok_or_else(|| Error::unprocessable(no_metric(&metric_name)))?;
        check_tags(&self.tags, metric, "rule filter: ")?;
        Ok(Rule {
            id: id.to_owned(),
            metric: metric_name,
            tags: self.tags,
            condition,
            threshold,
        })
    }
}

/// `value` as a finite `f64`, if it is a JSON number.
fn finite_number(value: &Value) -> Option<f64> {
    value.as_f64().filter(|number| number.is_finite())
}

/// One point of `POST /points`; loosely typed so errors can name the point and field.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PointInput {
    /// The metric's name.
    pub metric: String,
    /// The value, a finite number.
    pub value: Value,
    /// The tags; default none. Declared tags may be omitted.
    #[serde(default)]
    pub tags: BTreeMap<String, Value>,
    /// Unix time in milliseconds; default now.
    #[serde(default)]
    pub at: Option<Value>,
}

/// The body of `POST /points`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Batch {
    /// The points, all stored or none.
    pub points: Vec<PointInput>,
}

/// A validated point.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// The metric's name.
    pub metric: String,
    /// The point's tags.
    pub tags: Tags,
    /// Unix time in milliseconds.
    pub at: i64,
    /// The value.
    pub value: f64,
}

/// A point as kept inside a chunk (the metric is in the chunk's key).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredPoint {
    /// Unix time in milliseconds.
    pub at: i64,
    /// The value.
    pub value: f64,
    /// The point's tags.
    pub tags: Tags,
}

/// What limits a batch: the tenant's config and the clock.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchLimits {
    /// The most points in one batch (`max_points_per_batch`).
    pub max_points: usize,
    /// How many days points are kept (`retention_days`).
    pub retention_days: i64,
    /// The current time, unix ms.
    pub now: i64,
}

impl BatchLimits {
    /// The oldest `at` still kept: `now` minus the retention.
    pub fn cutoff(&self) -> i64 {
        self.now
            .saturating_sub(self.retention_days.saturating_mul(DAY_MS))
    }
}

/// Checks a batch's size before anything else is looked at.
pub fn check_batch_size(count: usize, max_points: usize) -> Result<()> {
    if count == 0 {
        return Err(Error::unprocessable("the batch has no points; send at least one"));
    }
    if count > max_points {
        return Err(Error::unprocessable(format!(
            "the batch has {count} points; this tenant accepts at most {max_points} per batch \
             (max_points_per_batch); split it"
        )));
    }
    Ok(())
}

/// Validates every point of a batch against the metric definitions found
/// (`metrics`: name to definition, for the names that exist) and `limits`.
/// Returns the points in input order, or the first problem, naming the point by index.
pub fn validate_batch(
    points: Vec<PointInput>,
    metrics: &BTreeMap<String, MetricDef>,
    limits: &BatchLimits,
) -> Result<Vec<Point>> {
    check_batch_size(points.len(), limits.max_points)?;
    points
        .into_iter()
        .enumerate()
        .map(|(index, input)| validate_point(index, input, metrics, limits))
        .collect()
}

fn validate_point(
    index: usize,
    input: PointInput,
    metrics: &BTreeMap<String, MetricDef>,
    limits: &BatchLimits,
) -> Result<Point> {
    let context = format!("point {index}: ");
    let refuse = |message: String| Error::unprocessable(format!("{context}{message}"));
    if !is_name(&input.metric) {
        return Err(refuse(format!(
            "invalid metric name `{}`; {NAME_RULE}",
            input.metric
        )));
    }
    let metric = metrics
        .get(&input.metric)
        .ok_or_else(|| refuse(no_metric(&input.metric)))?;
    let value = finite_number(&input.value)
        .ok_or_else(|| refuse(format!("`value` must be a finite number, got {}", input.value)))?;
    let at = match &input.at {
        None | Some(Value::Null) => limits.now,
        Some(at) => at.as_i64().ok_or_else(|| {
            refuse(format!(
                "`at` must be a whole number of unix milliseconds, got {at}"
            ))
        })?,
    };
    if at < limits.cutoff() {
        return Err(refuse(format!(
            "`at` {at} is older than this tenant's retention (retention_days = {}); \
             send points from the retention window",
            limits.retention_days
        )));
    }
    if at > limits.now.saturating_add(MAX_FUTURE_MS) {
        return Err(refuse(format!(
            "`at` {at} is more than a day in the future; `at` is unix time in milliseconds"
        )));
    }
    let mut tags = Tags::new();
    for (key, value) in input.tags {
        let Value::String(value) = value else {
            return Err(refuse(format!("tag `{key}` must be a string, got {value}")));
        };
        tags.insert(key, value);
    }
    check_tags(&tags, metric, &context)?;
    Ok(Point {
        metric: input.metric,
        tags,
        at,
        value,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn latency() -> MetricDef {
        MetricDef {
            name: "checkout_latency_ms".to_owned(),
            unit: "ms".to_owned(),
            description: String::new(),
            tags: vec!["store".to_owned(), "channel".to_owned()],
        }
    }

    fn tags(pairs: &[(&str, &str)]) -> Tags {
        pairs
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect()
    }

    fn point(value: Value) -> PointInput {
        serde_json::from_value(value).expect("point shape")
    }

    const NOW: i64 = 1_767_225_600_000;

    fn limits() -> BatchLimits {
        BatchLimits {
            max_points: 3,
            retention_days: 2,
            now: NOW,
        }
    }

    fn metrics() -> BTreeMap<String, MetricDef> {
        BTreeMap::from([(latency().name.clone(), latency())])
    }

    #[test]
    fn names_tag_values_and_rule_ids_follow_their_rules() {
        assert!(is_name("checkout_latency_ms"));
        assert!(is_name("a"));
        assert!(is_name("http.requests_2"));
        assert!(is_name(&"a".repeat(64)));
        assert!(!is_name(&"a".repeat(65)));
        assert!(!is_name(""));
        assert!(!is_name("1abc"));
        assert!(!is_name("Abc"));
        assert!(!is_name("a/b"));
        assert!(!is_name("a-b"));
        assert!(is_tag_value("sp-01"));
        assert!(is_tag_value("eu:West_1.a"));
        assert!(!is_tag_value(""));
        assert!(!is_tag_value("a,b"));
        assert!(!is_tag_value("a=b"));
        assert!(!is_tag_value("a/b"));
        assert!(!is_tag_value("são"));
        assert!(!is_tag_value(&"x".repeat(65)));
        assert!(is_rule_id("High-latency.sp_01"));
        assert!(!is_rule_id("a/b"));
        assert!(!is_rule_id(""));
        assert_eq!(
            check_metric_name("Cpu"),
            Err(Error::bad_request(
                "invalid metric name `Cpu`; use 1 to 64 characters of a-z, 0-9, `_` and `.`, starting with a letter"
            ))
        );
        assert_eq!(
            check_rule_id("a b"),
            Err(Error::bad_request(
                "invalid rule id `a b`; use 1 to 64 characters of A-Z, a-z, 0-9, `.`, `_` and `-`"
            ))
        );
    }

    #[test]
    fn metric_definitions_are_validated() {
        let input = |value: Value| -> MetricInput { serde_json::from_value(value).expect("shape") };
        assert_eq!(
            input(json!({"unit": "ms", "tags": ["store", "channel"]})).into_def("checkout_latency_ms"),
            Ok(latency())
        );
        assert_eq!(
            input(json!({})).into_def("m"),
            Ok(MetricDef {
                name: "m".to_owned(),
                unit: String::new(),
                description: String::new(),
                tags: vec![]
            })
        );
        assert_eq!(
            input(json!({"tags": ["a", "b", "c", "d", "e", "f", "g", "h", "i"]})).into_def("m"),
            Err(Error::unprocessable("metric `m` declares 9 tags; the limit is 8"))
        );
        assert_eq!(
            input(json!({"tags": ["Store"]})).into_def("m"),
            Err(Error::unprocessable(
                "invalid tag key `Store`; use 1 to 64 characters of a-z, 0-9, `_` and `.`, starting with a letter"
            ))
        );
        assert_eq!(
            input(json!({"tags": ["store", "store"]})).into_def("m"),
            Err(Error::unprocessable(
                "tag `store` is declared twice; list each tag once"
            ))
        );
        assert_eq!(
            input(json!({"unit": "x".repeat(33)})).into_def("m"),
            Err(Error::unprocessable(format!(
                "the unit `{}` is invalid; use at most 32 characters without control characters",
                "x".repeat(33)
            )))
        );
        assert_eq!(
            input(json!({"description": "d".repeat(1025)})).into_def("m"),
            Err(Error::unprocessable(
                "the description has 1025 characters; the limit is 1024"
            ))
        );
    }

    #[test]
    fn series_keys_are_canonical_and_bounded() {
        assert_eq!(
            series_key(&tags(&[("store", "sp-01"), ("channel", "web")])),
            "channel=web,store=sp-01"
        );
        assert_eq!(series_key(&Tags::new()), "");
        let metric = latency();
        assert_eq!(check_tags(&tags(&[("store", "sp-01")]), &metric, ""), Ok(()));
        assert_eq!(
            check_tags(&tags(&[("region", "eu")]), &metric, "point 1: "),
            Err(Error::unprocessable(
                "point 1: metric `checkout_latency_ms` has no tag `region`; its tags are store, channel"
            ))
        );
        let long = MetricDef {
            tags: (0..8).map(|index| format!("tag{index}")).collect(),
            ..latency()
        };
        let value = "v".repeat(64);
        let all: Tags = long.tags.iter().map(|key| (key.clone(), value.clone())).collect();
        assert_eq!(
            check_tags(&all, &long, ""),
            Err(Error::unprocessable(
                "the tag set is 559 bytes when encoded as key=value pairs; the limit is 256; use shorter tag values"
            ))
        );
    }

    #[test]
    fn rules_are_validated_against_their_metric() {
        let input = |value: Value| -> RuleInput { serde_json::from_value(value).expect("shape") };
        let metric = latency();
        assert_eq!(
            input(json!({"metric": "checkout_latency_ms", "tags": {"store": "sp-01"}, "condition": "above", "threshold": 800}))
                .into_rule("slow", Some(&metric)),
            Ok(Rule {
                id: "slow".to_owned(),
                metric: "checkout_latency_ms".to_owned(),
                tags: tags(&[("store", "sp-01")]),
                condition: Condition::Above,
                threshold: 800.0,
            })
        );
        assert_eq!(
            input(json!({"metric": "checkout_latency_ms", "condition": "over", "threshold": 1}))
                .into_rule("r", Some(&metric)),
            Err(Error::unprocessable(
                "unknown condition `over`; use `above` or `below`"
            ))
        );
        assert_eq!(
            input(json!({"metric": "checkout_latency_ms", "condition": "below", "threshold": "high"}))
                .into_rule("r", Some(&metric)),
            Err(Error::unprocessable(
                "`threshold` must be a finite number, got \"high\""
            ))
        );
        assert_eq!(
            input(json!({"metric": "cpu", "condition": "below", "threshold": 1})).into_rule("r", None),
            Err(Error::unprocessable(
                "no metric `cpu`; define it first with PUT /metrics/cpu"
            ))
        );
        assert_eq!(
            input(json!({"metric": "checkout_latency_ms", "tags": {"region": "eu"}, "condition": "below", "threshold": 1}))
                .into_rule("r", Some(&metric)),
            Err(Error::unprocessable(
                "rule filter: metric `checkout_latency_ms` has no tag `region`; its tags are store, channel"
            ))
        );
    }

    #[test]
    fn conditions_are_strict_and_rules_match_by_subset() {
        assert!(Condition::Above.breached(801.0, 800.0));
        assert!(!Condition::Above.breached(800.0, 800.0));
        assert!(Condition::Below.breached(0.5, 1.0));
        assert!(!Condition::Below.breached(1.0, 1.0));
        let rule = Rule {
            id: "r".to_owned(),
            metric: "m".to_owned(),
            tags: tags(&[("store", "sp-01")]),
            condition: Condition::Above,
            threshold: 1.0,
        };
        assert!(rule.matches("m", &tags(&[("store", "sp-01"), ("channel", "web")])));
        assert!(!rule.matches("m", &tags(&[("channel", "web")])));
        assert!(!rule.matches("m", &tags(&[("store", "sp-02")])));
        assert!(!rule.matches("other", &tags(&[("store", "sp-01")])));
    }

    #[test]
    fn a_valid_batch_keeps_order_and_defaults_at_to_now() {
        let batch = vec![
            point(
                json!({"metric": "checkout_latency_ms", "value": 412.5, "tags": {"store": "sp-01", "channel": "web"}, "at": NOW - 1000}),
            ),
            point(json!({"metric": "checkout_latency_ms", "value": 3})),
        ];
        assert_eq!(
            validate_batch(batch, &metrics(), &limits()),
            Ok(vec![
                Point {
                    metric: "checkout_latency_ms".to_owned(),
                    tags: tags(&[("store", "sp-01"), ("channel", "web")]),
                    at: NOW - 1000,
                    value: 412.5,
                },
                Point {
                    metric: "checkout_latency_ms".to_owned(),
                    tags: Tags::new(),
                    at: NOW,
                    value: 3.0,
                },
            ])
        );
    }

    #[test]
    fn every_bad_point_is_refused_with_its_index() {
        let refused = |value: Value| {
            let ok = point(json!({"metric": "checkout_latency_ms", "value": 1}));
            validate_batch(vec![ok, point(value)], &metrics(), &limits())
                .expect_err("refused")
                .message()
                .to_owned()
        };
        assert_eq!(
            refused(json!({"metric": "cpu", "value": 1})),
            "point 1: no metric `cpu`; define it first with PUT /metrics/cpu"
        );
        assert_eq!(
            refused(json!({"metric": "CPU", "value": 1})),
            "point 1: invalid metric name `CPU`; use 1 to 64 characters of a-z, 0-9, `_` and `.`, starting with a letter"
        );
        assert_eq!(
            refused(json!({"metric": "checkout_latency_ms", "value": "fast"})),
            "point 1: `value` must be a finite number, got \"fast\""
        );
        assert_eq!(
            refused(json!({"metric": "checkout_latency_ms", "value": null})),
            "point 1: `value` must be a finite number, got null"
        );
        assert_eq!(
            refused(json!({"metric": "checkout_latency_ms", "value": 1, "at": 1.5})),
            "point 1: `at` must be a whole number of unix milliseconds, got 1.5"
        );
        assert_eq!(
            refused(json!({"metric": "checkout_latency_ms", "value": 1, "at": NOW - 2 * DAY_MS - 1})),
            format!(
                "point 1: `at` {} is older than this tenant's retention (retention_days = 2); send points from the retention window",
                NOW - 2 * DAY_MS - 1
            )
        );
        assert_eq!(
            refused(json!({"metric": "checkout_latency_ms", "value": 1, "at": NOW + DAY_MS + 1})),
            format!(
                "point 1: `at` {} is more than a day in the future; `at` is unix time in milliseconds",
                NOW + DAY_MS + 1
            )
        );
        assert_eq!(
            refused(json!({"metric": "checkout_latency_ms", "value": 1, "tags": {"region": "eu"}})),
            "point 1: metric `checkout_latency_ms` has no tag `region`; its tags are store, channel"
        );
        assert_eq!(
            refused(json!({"metric": "checkout_latency_ms", "value": 1, "tags": {"store": 1}})),
            "point 1: tag `store` must be a string, got 1"
        );
        assert_eq!(
            refused(json!({"metric": "checkout_latency_ms", "value": 1, "tags": {"store": "sp 01"}})),
            "point 1: tag `store` has an invalid value `sp 01`; use 1 to 64 characters of A-Z, a-z, 0-9, `.`, `_`, `:` and `-`"
        );
    }

    #[test]
    fn batch_size_is_bounded() {
        assert_eq!(
            validate_batch(vec![], &metrics(), &limits()),
            Err(Error::unprocessable("the batch has no points; send at least one"))
        );
        let four = (0..4)
            .map(|_| point(json!({"metric": "checkout_latency_ms", "value": 1})))
            .collect();
        assert_eq!(
            validate_batch(four, &metrics(), &limits()),
            Err(Error::unprocessable(
                "the batch has 4 points; this tenant accepts at most 3 per batch (max_points_per_batch); split it"
            ))
        );
    }
}
