//! Queries: their JSON shape, validation, time ranges and buckets, and the aggregation of events into rows.
//!
//! Rows are keyed by (bucket start, group values) and come out sorted by
//! bucket ascending, then by the group values in `group_by` order, a missing
//! dimension (`null`) before any string and strings in byte order.

use std::collections::{BTreeMap, BTreeSet};

use modhost_sdk::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::model::{NAME_RULE, StoredEvent, check_time, is_valid_name, number, shown};

/// The most dimensions a query may group by.
pub const MAX_GROUP_BY: usize = 4;
/// The most filters in a query.
pub const MAX_FILTERS: usize = 16;
/// The most aggregates in a query.
pub const MAX_AGGREGATES: usize = 16;
/// The most values of one `in` filter.
pub const MAX_IN_VALUES: usize = 100;
/// The most time buckets a query's range may span.
pub const MAX_BUCKETS: i64 = 1000;
/// The most rows a query may produce.
pub const MAX_ROWS: usize = 10_000;
/// One day in milliseconds.
pub const DAY_MS: i64 = 86_400_000;

/// A query as sent (`POST /query`) or saved in a dashboard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuerySpec {
    /// The event name.
    pub event: String,
    /// The start of the range, unix ms, inclusive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<i64>,
    /// The end of the range, unix ms, exclusive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<i64>,
    /// Conditions on dimensions, all of which must hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<FilterSpec>,
    /// Dimensions to group by.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_by: Vec<String>,
    /// What to compute per row.
    #[serde(default)]
    pub aggregates: Vec<AggregateSpec>,
    /// `none` (the default), `hour` or `day`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
}

/// A filter as sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterSpec {
    /// The dimension tested.
    pub dimension: String,
    /// `eq`, `ne` or `in`.
    pub op: String,
    /// The value of `eq` and `ne`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// The values of `in`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<String>>,
}

/// An aggregate as sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AggregateSpec {
    /// `count`, `sum`, `avg`, `min` or `max`.
    #[serde(rename = "fn")]
    pub function: String,
    /// The metric; required except for `count`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
}

/// How events are cut in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    /// One bucket for the whole range; rows have no `bucket`.
    None,
    /// UTC hours.
    Hour,
    /// UTC days.
    Day,
}

impl Bucket {
    fn size_ms(self) -> Option<i64> {
        match self {
            Self::None => None,
            Self::Hour => Some(crate::store::HOUR_MS),
            Self::Day => Some(DAY_MS),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Hour => "hour",
            Self::Day => "day",
        }
    }

    /// The start of the bucket holding `at`; `None` without buckets.
    pub fn start(self, at: i64) -> Option<i64> {
        self.size_ms().map(|size| at - at.rem_euclid(size))
    }
}

/// A condition on one dimension.
#[derive(Debug, Clone, PartialEq)]
enum Filter {
    Eq(String, String),
    Ne(String, String),
    In(String, BTreeSet<String>),
}

impl Filter {
    fn matches(&self, event: &StoredEvent) -> bool {
        match self {
            Self::Eq(dimension, value) => event.dimensions.get(dimension) == Some(value),
            Self::Ne(dimension, value) => event.dimensions.get(dimension) != Some(value),
            Self::In(dimension, values) => event
                .dimensions
                .get(dimension)
                .is_some_and(|value| values.contains(value)),
        }
    }
}

/// An aggregate function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Function {
    Count,
    Sum,
    Avg,
    Min,
    Max,
}

#[derive(Debug, Clone, PartialEq)]
struct Aggregate {
    function: Function,
    metric: Option<String>,
    output: String,
}

/// A validated query, without its range.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// The event name.
    pub event: String,
    filters: Vec<Filter>,
    group_by: Vec<String>,
    aggregates: Vec<Aggregate>,
    /// The time buckets.
    pub bucket: Bucket,
}

/// A checked time range: `from <= at < to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    /// Inclusive start, unix ms.
    pub from: i64,
    /// Exclusive end, unix ms.
    pub to: i64,
}

/// Validates a query's shape; `from`/`to` are checked by [`Query::range`].
pub fn compile(spec: &QuerySpec) -> Result<Query> {
    if !is_valid_name(&spec.event) {
        return Err(Error::unprocessable(format!(
            "the event name `{}` is invalid; {NAME_RULE}",
            shown(&spec.event)
        )));
    }
    Ok(Query {
        event: spec.event.clone(),
        aggregates: compile_aggregates(&spec.aggregates)?,
        group_by: compile_group_by(&spec.group_by)?,
        filters: compile_filters(&spec.filters)?,
        bucket: match spec.bucket.as_deref() {
            None | Some("none") => Bucket::None,
            Some("hour") => Bucket::Hour,
            Some("day") => Bucket::Day,
            Some(other) => {
                return Err(Error::bad_request(format!(
                    "unknown bucket `{}`; use none, hour or day",
                    shown(other)
                )));
            }
        },
    })
}

fn check_name(kind: &str, name: &str) -> Result<()> {
    if is_valid_name(name) {
        Ok(())
    } else {
        Err(Error::unprocessable(format!(
            "{kind} name `{}` is invalid; {NAME_RULE}",
            shown(name)
        )))
    }
}

fn compile_aggregates(specs: &[AggregateSpec]) -> Result<Vec<Aggregate>> {
    if specs.is_empty() {
        return Err(Error::bad_request(
            "the query has no aggregates; add one, e.g. {\"fn\": \"count\"}",
        ));
    }
    if specs.len() > MAX_AGGREGATES {
        return Err(Error::unprocessable(format!(
            "the query has {} aggregates; at most {MAX_AGGREGATES} are allowed",
            specs.len()
        )));
    }
    let mut aggregates: Vec<Aggregate> = Vec::with_capacity(specs.len());
    for spec in specs {
        let function = match spec.function.as_str() {
            "count" => Function::Count,
            "sum" => Function::Sum,
            "avg" => Function::Avg,
            "min" => Function::Min,
            "max" => Function::Max,
            other => {
                return Err(Error::bad_request(format!(
                    "unknown aggregate function `{}`; use count, sum, avg, min or max",
                    shown(other)
                )));
            }
        };
        let output = match &spec.metric {
            Some(metric) => {
                check_name("metric", metric)?;
                format!("{}_{metric}", spec.function)
            }
            None if function == Function::Count => "count".to_owned(),
            None => {
                return Err(Error::bad_request(format!(
                    "aggregate `{0}` needs a `metric`, e.g. {{\"fn\": \"{0}\", \"metric\": \"amount\"}}",
                    spec.function
                )));
            }
        };
        if aggregates.iter().any(|aggregate| aggregate.output == output) {
            return Err(Error::bad_request(format!(
                "aggregate `{output}` is requested twice"
            )));
        }
        aggregates.push(Aggregate {
            function,
            metric: spec.metric.clone(),
            output,
        });
    }
    Ok(aggregates)
}

fn compile_group_by(dimensions: &[String]) -> Result<Vec<String>> {
    if dimensions.len() > MAX_GROUP_BY {
        return Err(Error::unprocessable(format!(
            "the query groups by {} dimensions; at most {MAX_GROUP_BY} are allowed",
            dimensions.len()
        )));
    }
    for (index, dimension) in dimensions.iter().enumerate() {
        check_name("dimension", dimension)?;
        if dimensions[..index].contains(dimension) {
            return Err(Error::bad_request(format!(
                "dimension `{dimension}` appears twice in group_by"
            )));
        }
    }
    Ok(dimensions.to_vec())
}

fn compile_filters(specs: &[FilterSpec]) -> Result<Vec<Filter>> {
    if specs.len() > MAX_FILTERS {
        return Err(Error::unprocessable(format!(
            "the query has {} filters; at most {MAX_FILTERS} are allowed",
            specs.len()
        )));
    }
    specs.iter().map(compile_filter).collect()
}

fn compile_filter(spec: &FilterSpec) -> Result<Filter> {
    check_name("dimension", &spec.dimension)?;
    let dimension = spec.dimension.clone();
    let op = spec.op.as_str();
    let problem = |text: &str| Error::bad_request(format!("filter `{op}` on dimension `{dimension}` {text}"));
    match (op, &spec.value, &spec.values) {
        ("eq" | "ne", _, Some(_)) => Err(problem("takes `value`, not `values`")),
        ("eq" | "ne", None, None) => Err(problem("needs a `value`")),
        ("eq", Some(value), None) => Ok(Filter::Eq(dimension.clone(), value.clone())),
        ("ne", Some(value), None) => Ok(Filter::Ne(dimension.clone(), value.clone())),
        ("in", Some(_), _) => Err(problem("takes `values`, not `value`")),
        ("in", None, None) => Err(problem("needs a non-empty `values` list")),
        ("in", None, Some(values)) if values.is_empty() => Err(problem("needs a non-empty `values` list")),
        ("in", None, Some(values)) if values.len() > MAX_IN_VALUES => Err(Error::unprocessable(format!(
            "filter `in` on dimension `{dimension}` has {} values; at most {MAX_IN_VALUES} are allowed",
            values.len()
        ))),
        ("in", None, Some(values)) => Ok(Filter::In(dimension.clone(), values.iter().cloned().collect())),
        (other, _, _) => Err(Error::bad_request(format!(
            "unknown filter op `{}` on dimension `{dimension}`; use eq, ne or in",
            shown(other)
        ))),
    }
}

/// The `from`/`to` of a query sent to `POST /query`, where both are required.
pub fn required_range(spec: &QuerySpec) -> Result<(i64, i64)> {
    match (spec.from, spec.to) {
        (Some(from), Some(to)) => Ok((from, to)),
        _ => Err(Error::bad_request(
            "the query needs `from` and `to`, in unix milliseconds",
        )),
    }
}

impl Query {
    /// Checks a range for this query: within time, not empty, not too many buckets.
    pub fn range(&self, from: i64, to: i64) -> Result<TimeRange> {
        check_time("from", from).map_err(Error::unprocessable)?;
        check_time("to", to).map_err(Error::unprocessable)?;
        if from >= to {
            return Err(Error::unprocessable(format!(
                "the range is empty: `from` {from} must be before `to` {to}"
            )));
        }
        if let (Some(size), Some(first), Some(last)) = (
            self.bucket.size_ms(),
            self.bucket.start(from),
            self.bucket.start(to - 1),
        ) {
            let count = (last - first) / size + 1;
            if count > MAX_BUCKETS {
                return Err(Error::unprocessable(format!(
                    "`{}` buckets from {from} to {to} make {count} buckets; at most {MAX_BUCKETS} are \
                     allowed, so narrow the range or use a coarser bucket",
                    self.bucket.name()
                )));
            }
        }
        Ok(TimeRange { from, to })
    }

    fn matches(&self, event: &StoredEvent) -> bool {
        self.filters.iter().all(|filter| filter.matches(event))
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Accumulator {
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
}

impl Accumulator {
    fn add(&mut self, value: f64) {
        if self.count == 0 {
            self.min = value;
            self.max = value;
        } else {
            self.min = self.min.min(value);
            self.max = self.max.max(value);
        }
        self.count += 1;
        self.sum += value;
    }

    fn value(&self, function: Function) -> Value {
        if function == Function::Count {
            return Value::from(self.count);
        }
        if self.count == 0 {
            return Value::Null;
        }
        number(match function {
            Function::Count | Function::Sum => self.sum,
            Function::Avg => self.sum / self.count as f64,
            Function::Min => self.min,
            Function::Max => self.max,
        })
    }
}

type RowKey = (Option<i64>, Vec<Option<String>>);

/// Accumulates events (already inside the range) into rows.
#[derive(Debug)]
pub struct Aggregation<'query> {
    query: &'query Query,
    row_limit: usize,
    rows: BTreeMap<RowKey, Vec<Accumulator>>,
}

impl<'query> Aggregation<'query> {
    /// An empty aggregation for `query`, refusing past [`MAX_ROWS`] rows.
    pub fn new(query: &'query Query) -> Self {
        Self::with_row_limit(query, MAX_ROWS)
    }

    /// An empty aggregation refusing past `row_limit` rows.
    pub fn with_row_limit(query: &'query Query, row_limit: usize) -> Self {
        Self {
            query,
            row_limit,
            rows: BTreeMap::new(),
        }
    }

    /// Counts `event` in its row if it passes the filters.
    pub fn add(&mut self, event: &StoredEvent) -> Result<()> {
        if !self.query.matches(event) {
            return Ok(());
        }
        let group = self
            .query
            .group_by
            .iter()
            .map(|dimension| event.dimensions.get(dimension).cloned())
            .collect();
        let key = (self.query.bucket.start(event.at), group);
        let row_count = self.rows.len();
        let accumulators = match self.rows.entry(key) {
            std::collections::btree_map::Entry::Occupied(entry) => entry.into_mut(),
            std::collections::btree_map::Entry::Vacant(entry) => {
                if row_count >= self.row_limit {
                    return Err(Error::unprocessable(format!(
                        "the query makes more than {} rows; add filters, group by fewer dimensions \
                         or use a coarser bucket",
                        self.row_limit
                    )));
                }
                entry.insert(vec![Accumulator::default(); self.query.aggregates.len()])
            }
        };
        for (accumulator, aggregate) in accumulators.iter_mut().zip(&self.query.aggregates) {
            match &aggregate.metric {
                None => accumulator.count += 1,
                Some(metric) => {
                    if let Some(value) = event.metrics.get(metric) {
                        accumulator.add(*value);
                    }
                }
            }
        }
        Ok(())
    }

    /// The rows, sorted: `{"bucket"?, "group", "values"}`.
    pub fn into_rows(self) -> Vec<Value> {
        let query = self.query;
        self.rows
            .into_iter()
            .map(|((bucket, group), accumulators)| {
                let mut row = Map::new();
                if let Some(bucket) = bucket {
                    row.insert("bucket".into(), Value::from(bucket));
                }
                let group: Map<String, Value> = query
                    .group_by
                    .iter()
                    .cloned()
                    .zip(
                        group
                            .into_iter()
                            .map(|value| value.map_or(Value::Null, Value::String)),
                    )
                    .collect();
                row.insert("group".into(), Value::Object(group));
                let values: Map<String, Value> = query
                    .aggregates
                    .iter()
                    .zip(&accumulators)
                    .map(|(aggregate, accumulator)| {
                        (aggregate.output.clone(), accumulator.value(aggregate.function))
                    })
                    .collect();
                row.insert("values".into(), Value::Object(values));
                Value::Object(row)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const T0: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

    fn spec(value: Value) -> QuerySpec {
        serde_json::from_value(value).expect("a query")
    }

    fn compiled(value: Value) -> Query {
        compile(&spec(value)).expect("valid")
    }

    fn refused(value: Value) -> Error {
        compile(&spec(value)).expect_err("refused")
    }

    fn event(at: i64, dimensions: &[(&str, &str)], metrics: &[(&str, f64)]) -> StoredEvent {
        StoredEvent {
            at,
            dimensions: dimensions
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
                .collect(),
            metrics: metrics
                .iter()
                .map(|(name, value)| ((*name).to_owned(), *value))
                .collect(),
        }
    }

    fn rows(query: &Query, events: &[StoredEvent]) -> Vec<Value> {
        let mut aggregation = Aggregation::new(query);
        for event in events {
            aggregation.add(event).expect("added");
        }
        aggregation.into_rows()
    }

    #[test]
    fn bad_shapes_are_refused_with_what_to_do() {
        let count = json!([{"fn": "count"}]);
        let cases = [
            (
                json!({"event": "Sale", "aggregates": count}),
                Error::unprocessable(
                    "the event name `Sale` is invalid; use 1 to 64 of a-z, 0-9 and _, starting with a letter",
                ),
            ),
            (
                json!({"event": "sale"}),
                Error::bad_request("the query has no aggregates; add one, e.g. {\"fn\": \"count\"}"),
            ),
            (
                json!({"event": "sale", "aggregates": [{"fn": "median", "metric": "amount"}]}),
                Error::bad_request("unknown aggregate function `median`; use count, sum, avg, min or max"),
            ),
            (
                json!({"event": "sale", "aggregates": [{"fn": "sum"}]}),
                Error::bad_request(
                    "aggregate `sum` needs a `metric`, e.g. {\"fn\": \"sum\", \"metric\": \"amount\"}",
                ),
            ),
            (
                json!({"event": "sale", "aggregates": [{"fn": "avg", "metric": "Amount"}]}),
                Error::unprocessable(
                    "metric name `Amount` is invalid; use 1 to 64 of a-z, 0-9 and _, starting with a letter",
                ),
            ),
            (
                json!({"event": "sale", "aggregates": [{"fn": "count"}, {"fn": "count"}]}),
                Error::bad_request("aggregate `count` is requested twice"),
            ),
            (
                json!({"event": "sale", "aggregates": vec![json!({"fn": "count"}); 17]}),
                Error::unprocessable("the query has 17 aggregates; at most 16 are allowed"),
            ),
            (
                json!({"event": "sale", "aggregates": count, "group_by": ["a", "b", "c", "d", "e"]}),
                Error::unprocessable("the query groups by 5 dimensions; at most 4 are allowed"),
            ),
            (
                json!({"event": "sale", "aggregates": count, "group_by": ["store", "store"]}),
                Error::bad_request("dimension `store` appears twice in group_by"),
            ),
            (
                json!({"event": "sale", "aggregates": count, "group_by": ["a/b"]}),
                Error::unprocessable(
                    "dimension name `a/b` is invalid; use 1 to 64 of a-z, 0-9 and _, starting with a letter",
                ),
            ),
            (
                json!({"event": "sale", "aggregates": count,
                       "filters": [{"dimension": "channel", "op": "gt", "value": "web"}]}),
                Error::bad_request("unknown filter op `gt` on dimension `channel`; use eq, ne or in"),
            ),
            (
                json!({"event": "sale", "aggregates": count, "filters": [{"dimension": "channel", "op": "eq"}]}),
                Error::bad_request("filter `eq` on dimension `channel` needs a `value`"),
            ),
            (
                json!({"event": "sale", "aggregates": count,
                       "filters": [{"dimension": "channel", "op": "ne", "values": ["web"]}]}),
                Error::bad_request("filter `ne` on dimension `channel` takes `value`, not `values`"),
            ),
            (
                json!({"event": "sale", "aggregates": count,
                       "filters": [{"dimension": "channel", "op": "in", "values": []}]}),
                Error::bad_request("filter `in` on dimension `channel` needs a non-empty `values` list"),
            ),
            (
                json!({"event": "sale", "aggregates": count,
                       "filters": [{"dimension": "channel", "op": "in", "value": "web"}]}),
                Error::bad_request("filter `in` on dimension `channel` takes `values`, not `value`"),
            ),
            (
                json!({"event": "sale", "aggregates": count,
                       "filters": [{"dimension": "channel", "op": "in", "values": vec!["x"; 101]}]}),
                Error::unprocessable(
                    "filter `in` on dimension `channel` has 101 values; at most 100 are allowed",
                ),
            ),
            (
                json!({"event": "sale", "aggregates": count,
                       "filters": vec![json!({"dimension": "a", "op": "eq", "value": "x"}); 17]}),
                Error::unprocessable("the query has 17 filters; at most 16 are allowed"),
            ),
            (
                json!({"event": "sale", "aggregates": count, "bucket": "week"}),
                Error::bad_request("unknown bucket `week`; use none, hour or day"),
            ),
        ];
        for (query, expected) in cases {
            assert_eq!(refused(query.clone()), expected, "{query}");
        }
    }

    #[test]
    fn ranges_must_be_ordered_and_hold_few_enough_buckets() {
        let hourly = compiled(json!({"event": "sale", "aggregates": [{"fn": "count"}], "bucket": "hour"}));
        assert_eq!(hourly.range(T0, T0 + 1), Ok(TimeRange { from: T0, to: T0 + 1 }));
        assert_eq!(
            hourly.range(T0, T0),
            Err(Error::unprocessable(format!(
                "the range is empty: `from` {T0} must be before `to` {T0}"
            )))
        );
        assert_eq!(
            hourly.range(-1, T0),
            Err(Error::unprocessable(
                "`from` -1 is out of range; use unix milliseconds from 0 to 253402300799999"
            ))
        );
        let thousand_hours = T0 + 1000 * 3_600_000;
        assert!(hourly.range(T0, thousand_hours).is_ok());
        assert_eq!(
            hourly.range(T0, thousand_hours + 1),
            Err(Error::unprocessable(format!(
                "`hour` buckets from {T0} to {} make 1001 buckets; at most 1000 are allowed, so narrow \
                 the range or use a coarser bucket",
                thousand_hours + 1
            )))
        );
        let daily = compiled(json!({"event": "sale", "aggregates": [{"fn": "count"}], "bucket": "day"}));
        assert!(daily.range(T0, thousand_hours + 1).is_ok());
        assert_eq!(
            required_range(&spec(json!({"event": "sale", "from": 1}))),
            Err(Error::bad_request(
                "the query needs `from` and `to`, in unix milliseconds"
            ))
        );
    }

    #[test]
    fn groups_buckets_and_aggregates_by_hand() {
        let query = compiled(json!({
            "event": "sale",
            "filters": [{"dimension": "channel", "op": "in", "values": ["web", "app"]}],
            "group_by": ["store"],
            "aggregates": [
                {"fn": "sum", "metric": "amount"}, {"fn": "count"}, {"fn": "avg", "metric": "amount"},
                {"fn": "min", "metric": "amount"}, {"fn": "max", "metric": "items"},
                {"fn": "count", "metric": "items"}
            ],
            "bucket": "day"
        }));
        let day2 = T0 + DAY_MS;
        let events = [
            event(
                T0 + 10,
                &[("store", "b"), ("channel", "web")],
                &[("amount", 10.5), ("items", 1.0)],
            ),
            event(T0 + 20, &[("store", "a"), ("channel", "app")], &[("amount", 4.0)]),
            event(
                T0 + 30,
                &[("store", "b"), ("channel", "app")],
                &[("amount", 2.0), ("items", 3.0)],
            ),
            event(
                T0 + 40,
                &[("store", "b"), ("channel", "store")],
                &[("amount", 1000.0)],
            ),
            event(T0 + 50, &[("channel", "web")], &[("items", 2.0)]),
            event(
                day2 + 5,
                &[("store", "a"), ("channel", "web")],
                &[("amount", 1.25)],
            ),
        ];
        assert_eq!(
            rows(&query, &events),
            vec![
                json!({"bucket": T0, "group": {"store": null}, "values": {
                    "sum_amount": null, "count": 1, "avg_amount": null, "min_amount": null,
                    "max_items": 2, "count_items": 1}}),
                json!({"bucket": T0, "group": {"store": "a"}, "values": {
                    "sum_amount": 4, "count": 1, "avg_amount": 4, "min_amount": 4,
                    "max_items": null, "count_items": 0}}),
                json!({"bucket": T0, "group": {"store": "b"}, "values": {
                    "sum_amount": 12.5, "count": 2, "avg_amount": 6.25, "min_amount": 2,
                    "max_items": 3, "count_items": 2}}),
                json!({"bucket": day2, "group": {"store": "a"}, "values": {
                    "sum_amount": 1.25, "count": 1, "avg_amount": 1.25, "min_amount": 1.25,
                    "max_items": null, "count_items": 0}}),
            ]
        );
    }

    #[test]
    fn filters_treat_a_missing_dimension_as_unequal() {
        let with = |filter: Value| {
            compiled(json!({"event": "e", "filters": [filter], "aggregates": [{"fn": "count"}]}))
        };
        let events = [
            event(1, &[("channel", "web")], &[]),
            event(2, &[("channel", "app")], &[]),
            event(3, &[], &[]),
        ];
        let count = |query: Query| rows(&query, &events)[0]["values"]["count"].clone();
        assert_eq!(
            count(with(json!({"dimension": "channel", "op": "eq", "value": "web"}))),
            json!(1)
        );
        assert_eq!(
            count(with(json!({"dimension": "channel", "op": "ne", "value": "web"}))),
            json!(2)
        );
        assert_eq!(
            count(with(
                json!({"dimension": "channel", "op": "in", "values": ["app", "x"]})
            )),
            json!(1)
        );
        let all = compiled(json!({"event": "e", "aggregates": [{"fn": "count"}]}));
        assert_eq!(
            rows(&all, &events),
            vec![json!({"group": {}, "values": {"count": 3}})]
        );
        assert_eq!(rows(&all, &[]), Vec::<Value>::new(), "no events, no rows");
    }

    #[test]
    fn rows_are_bounded() {
        let query = compiled(json!({"event": "e", "group_by": ["store"], "aggregates": [{"fn": "count"}]}));
        let mut aggregation = Aggregation::with_row_limit(&query, 2);
        aggregation.add(&event(1, &[("store", "a")], &[])).expect("row 1");
        aggregation.add(&event(1, &[("store", "b")], &[])).expect("row 2");
        aggregation
            .add(&event(1, &[("store", "a")], &[]))
            .expect("an existing row");
        assert_eq!(
            aggregation.add(&event(1, &[("store", "c")], &[])),
            Err(Error::unprocessable(
                "the query makes more than 2 rows; add filters, group by fewer dimensions or use a coarser bucket"
            ))
        );
    }

    #[test]
    fn saved_specs_round_trip_without_empty_fields() {
        let original = json!({"event": "sale", "aggregates": [{"fn": "count"}]});
        assert_eq!(
            serde_json::to_value(spec(original.clone())).expect("json"),
            original
        );
    }
}
