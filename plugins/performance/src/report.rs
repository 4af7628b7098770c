//! Reports: the query of `GET /reports/{metric}` and the per-period, per-tag-set statistics.
//!
//! A report covers the half-open range `[from, to)` cut into UTC-aligned
//! periods (`hour` or `day`). For each period and each tag set that has points
//! in it, it gives `count`, `avg` (the arithmetic mean), `min`, `max` and `p95`
//! by the nearest-rank definition: with the `n` values sorted ascending, the
//! value at 1-based rank `ceil(0.95 × n)` (so one value gives itself, four
//! values give the largest, twenty give the 19th). Periods without points are
//! left out. Parsing and aggregation are pure; the caller reads the chunks.

use std::collections::BTreeMap;

use modhost_sdk::{Error, Result};
use serde::Serialize;

use crate::keys::HOUR_MS;
use crate::model::{DAY_MS, MetricDef, StoredPoint, Tags, is_tag_value, series_key};

/// The most hourly periods one report may span (31 days).
pub const MAX_HOUR_PERIODS: i64 = 744;
/// The most daily periods one report may span.
pub const MAX_DAY_PERIODS: i64 = 400;
/// The most rows (period × tag set) one report may have; keeps the answer well under 4 MiB.
pub const MAX_REPORT_ROWS: usize = 5000;
/// The most chunks one report may read.
pub const MAX_REPORT_CHUNKS: usize = 2000;
/// The largest `to` accepted (the 13-digit timestamps of the key layout).
pub const MAX_TIMESTAMP: i64 = 9_999_999_999_999;

/// The length of a report period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    /// One UTC hour.
    Hour,
    /// One UTC day.
    Day,
}

impl Period {
    /// The period's length in milliseconds.
    pub fn millis(self) -> i64 {
        match self {
            Period::Hour => HOUR_MS,
            Period::Day => DAY_MS,
        }
    }

    /// How many periods a report spans when `from` is not given.
    fn default_count(self) -> i64 {
        match self {
            Period::Hour => 24,
            Period::Day => 30,
        }
    }

    /// The most periods a report may span.
    fn max_count(self) -> i64 {
        match self {
            Period::Hour => MAX_HOUR_PERIODS,
            Period::Day => MAX_DAY_PERIODS,
        }
    }

    /// The start of the period containing `at`.
    pub fn start_of(self, at: i64) -> i64 {
        at - at.rem_euclid(self.millis())
    }
}

/// A parsed report request.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportQuery {
    /// The first millisecond covered.
    pub from: i64,
    /// The first millisecond not covered.
    pub to: i64,
    /// The period length.
    pub period: Period,
    /// Tags a point must carry to count (`tag.<key>=<value>` parameters).
    pub filter: Tags,
}

const KNOWN_PARAMETERS: &str = "use from, to, period and tag.<key>=<value>";

fn parse_millis(name: &str, value: &str) -> Result<i64> {
    value
        .parse::<i64>()
        .ok()
        .filter(|millis| (0..=MAX_TIMESTAMP).contains(millis))
        .ok_or_else(|| {
            Error::bad_request(format!(
                "query parameter `{name}` has an invalid value `{value}`; use unix milliseconds"
            ))
        })
}

/// Parses the query of a report on `metric` at time `now` (unix ms).
///
/// Defaults: `period=hour`; `to` is the end of the current period; `from` is
/// 24 hourly or 30 daily periods before `to`.
pub fn parse_report_query(pairs: &[(String, String)], metric: &MetricDef, now: i64) -> Result<ReportQuery> {
    let mut seen: Vec<&str> = Vec::new();
    let (mut from, mut to, mut period) = (None, None, Period::Hour);
    let mut filter = Tags::new();
    for (name, value) in pairs {
        if seen.contains(&name.as_str()) {
            return Err(Error::bad_request(format!(
                "query parameter `{name}` is given more than once"
            )));
        }
        seen.push(name);
        match name.as_str() {
            "from" => from = Some(parse_millis(name, value)?),
            "to" => to = Some(parse_millis(name, value)?),
            "period" => {
                period = match value.as_str() {
                    "hour" => Period::Hour,
                    "day" => Period::Day,
                    other => {
                        return Err(Error::bad_request(format!(
                            "unknown period `{other}`; use `hour` or `day`"
                        )));
                    }
                }
            }
            _ => {
                let Some(key) = name.strip_prefix("tag.") else {
                    return Err(Error::bad_request(format!(
                        "unknown query parameter `{name}`; {KNOWN_PARAMETERS}"
                    )));
                };
                if !metric.declares(key) {
                    return Err(Error::bad_request(metric.undeclared_tag(key)));
                }
                if !is_tag_value(value) {
                    return Err(Error::bad_request(format!(
                        "query parameter `{name}` has an invalid value `{value}`; use 1 to 64 characters \
                         of A-Z, a-z, 0-9, `.`, `_`, `:` and `-`"
                    )));
                }
                filter.insert(key.to_owned(), value.clone());
            }
        }
    }
    let to = to.unwrap_or_else(|| period.start_of(now) + period.millis());
    let from = from.unwrap_or_else(|| (to - period.default_count() * period.millis()).max(0));
    if from >= to {
        return Err(Error::bad_request(format!(
            "`from` ({from}) must be before `to` ({to})"
        )));
    }
    let periods = period.start_of(to - 1) / period.millis() - period.start_of(from) / period.millis() + 1;
    if periods > period.max_count() {
        let hint = match period {
            Period::Hour => "; narrow the range or use period=day",
            Period::Day => "; narrow the range",
        };
        return Err(Error::bad_request(format!(
            "the range covers {periods} {} periods; a report covers at most {}{hint}",
            match period {
                Period::Hour => "hourly",
                Period::Day => "daily",
            },
            period.max_count()
        )));
    }
    Ok(ReportQuery {
        from,
        to,
        period,
        filter,
    })
}

/// The statistics of one tag set in one period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeriesStats {
    /// The tag set.
    pub tags: Tags,
    /// How many points.
    pub count: u64,
    /// Their arithmetic mean.
    pub avg: f64,
    /// The smallest value.
    pub min: f64,
    /// The largest value.
    pub max: f64,
    /// The nearest-rank 95th percentile.
    pub p95: f64,
}

/// One period of a report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PeriodReport {
    /// The period's first millisecond.
    pub start: i64,
    /// The first millisecond after it.
    pub end: i64,
    /// One entry per tag set with points in the period, ordered by the tag set's `key=value,…` encoding.
    pub series: Vec<SeriesStats>,
}

/// The nearest-rank percentile `percent` of `sorted` (ascending, non-empty): the value at rank
/// `ceil(percent / 100 × n)`.
pub fn nearest_rank(sorted: &[f64], percent: usize) -> f64 {
    let rank = (percent * sorted.len()).div_ceil(100).max(1);
    sorted[rank.min(sorted.len()) - 1]
}

/// The statistics of `values` (non-empty) for the tag set `tags`.
pub fn summarize(tags: Tags, mut values: Vec<f64>) -> SeriesStats {
    values.sort_by(f64::total_cmp);
    let count = values.len();
    let sum: f64 = values.iter().sum();
    SeriesStats {
        tags,
        count: count as u64,
        avg: sum / count as f64,
        min: values[0],
        max: values[count - 1],
        p95: nearest_rank(&values, 95),
    }
}

/// Collects the points of a report, period by period and tag set by tag set.
#[derive(Debug)]
pub struct Aggregator {
    from: i64,
    to: i64,
    period: Period,
    filter: Tags,
    max_rows: usize,
    cells: BTreeMap<(i64, String), (Tags, Vec<f64>)>,
}

impl Aggregator {
    /// An aggregator for `query`, ignoring points before `cutoff` (the retention), with at most
    /// `max_rows` rows.
    pub fn new(query: &ReportQuery, cutoff: i64, max_rows: usize) -> Self {
        Self {
            from: query.from.max(cutoff),
            to: query.to,
            period: query.period,
            filter: query.filter.clone(),
            max_rows,
            cells: BTreeMap::new(),
        }
    }

    /// The first millisecond a point may have to count.
    pub fn effective_from(&self) -> i64 {
        self.from
    }

    /// Adds `point` if it is in range and carries the filter's tags.
    pub fn add(&mut self, point: &StoredPoint) -> Result<()> {
        if point.at < self.from || point.at >= self.to {
            return Ok(());
        }
        if !self
            .filter
            .iter()
            .all(|(key, value)| point.tags.get(key) == Some(value))
        {
            return Ok(());
        }
        let cell = (self.period.start_of(point.at), series_key(&point.tags));
        if let Some((_, values)) = self.cells.get_mut(&cell) {
            values.push(point.value);
            return Ok(());
        }
        if self.cells.len() >= self.max_rows {
            return Err(Error::unprocessable(format!(
                "the report would have more than {} rows (periods × tag sets); narrow the range, use \
                 period=day or filter with tag.<key>=<value>",
                self.max_rows
            )));
        }
        self.cells.insert(cell, (point.tags.clone(), vec![point.value]));
        Ok(())
    }

    /// The report's periods, oldest first.
    pub fn finish(self) -> Vec<PeriodReport> {
        let millis = self.period.millis();
        let mut periods: Vec<PeriodReport> = Vec::new();
        for ((start, _), (tags, values)) in self.cells {
            let stats = summarize(tags, values);
            match periods.last_mut() {
                Some(last) if last.start == start => last.series.push(stats),
                _ => periods.push(PeriodReport {
                    start,
                    end: start + millis,
                    series: vec![stats],
                }),
            }
        }
        periods
    }
}

/// Refuses a report once it has read more than `max_points` points.
pub fn check_points_read(read: usize, max_points: usize) -> Result<()> {
    if read > max_points {
        return Err(Error::unprocessable(format!(
            "the range holds more than {max_points} points (max_report_points); narrow the range"
        )));
    }
    Ok(())
}

/// Refuses a report that would read more than [`MAX_REPORT_CHUNKS`] chunks.
pub fn check_chunks(chunks: usize) -> Result<()> {
    if chunks > MAX_REPORT_CHUNKS {
        return Err(Error::unprocessable(format!(
            "the range holds more than {MAX_REPORT_CHUNKS} chunks of points; narrow the range"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

    fn metric() -> MetricDef {
        MetricDef {
            name: "checkout_latency_ms".to_owned(),
            unit: "ms".to_owned(),
            description: String::new(),
            tags: vec!["store".to_owned(), "channel".to_owned()],
        }
    }

    fn pairs(query: &str) -> Vec<(String, String)> {
        query
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                (key.to_owned(), value.to_owned())
            })
            .collect()
    }

    fn parse(query: &str) -> Result<ReportQuery> {
        parse_report_query(&pairs(query), &metric(), T0 + 90 * 60_000)
    }

    fn tags(pairs: &[(&str, &str)]) -> Tags {
        pairs
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_cover_the_periods_ending_with_the_current_one() {
        assert_eq!(
            parse(""),
            Ok(ReportQuery {
                from: T0 + 2 * HOUR_MS - 24 * HOUR_MS,
                to: T0 + 2 * HOUR_MS,
                period: Period::Hour,
                filter: Tags::new(),
            })
        );
        assert_eq!(
            parse("period=day"),
            Ok(ReportQuery {
                from: T0 + DAY_MS - 30 * DAY_MS,
                to: T0 + DAY_MS,
                period: Period::Day,
                filter: Tags::new(),
            })
        );
        assert_eq!(
            parse(&format!("from={T0}&to={}&tag.store=sp-01", T0 + 5)),
            Ok(ReportQuery {
                from: T0,
                to: T0 + 5,
                period: Period::Hour,
                filter: tags(&[("store", "sp-01")]),
            })
        );
    }

    #[test]
    fn bad_queries_are_refused_with_what_to_do() {
        let refused = |query: &str| parse(query).expect_err("refused").message().to_owned();
        assert_eq!(
            refused("period=week"),
            "unknown period `week`; use `hour` or `day`"
        );
        assert_eq!(
            refused("from=yesterday"),
            "query parameter `from` has an invalid value `yesterday`; use unix milliseconds"
        );
        assert_eq!(
            refused("to=-5"),
            "query parameter `to` has an invalid value `-5`; use unix milliseconds"
        );
        assert_eq!(
            refused(&format!("from={T0}&to={T0}")),
            format!("`from` ({T0}) must be before `to` ({T0})")
        );
        assert_eq!(
            refused(&format!("from={T0}&to={}", T0 + 745 * HOUR_MS)),
            "the range covers 745 hourly periods; a report covers at most 744; narrow the range or use period=day"
        );
        assert!(parse(&format!("from={T0}&to={}", T0 + 744 * HOUR_MS)).is_ok());
        assert_eq!(
            refused(&format!("period=day&from={T0}&to={}", T0 + 401 * DAY_MS)),
            "the range covers 401 daily periods; a report covers at most 400; narrow the range"
        );
        assert_eq!(
            refused("tag.region=eu"),
            "metric `checkout_latency_ms` has no tag `region`; its tags are store, channel"
        );
        assert_eq!(
            refused("tag.store=a,b"),
            "query parameter `tag.store` has an invalid value `a,b`; use 1 to 64 characters of A-Z, a-z, 0-9, `.`, `_`, `:` and `-`"
        );
        assert_eq!(
            refused("limit=5"),
            "unknown query parameter `limit`; use from, to, period and tag.<key>=<value>"
        );
        assert_eq!(
            refused("period=day&period=hour"),
            "query parameter `period` is given more than once"
        );
    }

    #[test]
    fn p95_is_nearest_rank() {
        assert_eq!(nearest_rank(&[7.0], 95), 7.0);
        assert_eq!(nearest_rank(&[1.0, 2.0, 3.0, 4.0], 95), 4.0);
        let twenty: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(nearest_rank(&twenty, 95), 19.0);
        let hundred: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(nearest_rank(&hundred, 95), 95.0);
        assert_eq!(nearest_rank(&hundred[..21], 95), 20.0);
    }

    #[test]
    fn points_are_grouped_by_period_and_tag_set() {
        let query = ReportQuery {
            from: T0,
            to: T0 + 2 * HOUR_MS,
            period: Period::Hour,
            filter: tags(&[("channel", "web")]),
        };
        let mut aggregator = Aggregator::new(&query, 0, 10);
        let web1 = tags(&[("channel", "web"), ("store", "sp-01")]);
        let web2 = tags(&[("channel", "web"), ("store", "sp-02")]);
        let points = [
            (T0 - 1, 5.0, web1.clone()), // before the range
            (T0, 100.0, web1.clone()),
            (T0 + 10, 300.0, web1.clone()),
            (T0 + 20, 200.0, web2.clone()),
            (T0 + 30, 999.0, tags(&[("channel", "app")])), // filtered out
            (T0 + HOUR_MS, 50.0, web1.clone()),
            (T0 + 2 * HOUR_MS, 5.0, web1.clone()), // at `to`: excluded
        ];
        for (at, value, tags) in points {
            aggregator.add(&StoredPoint { at, value, tags }).expect("added");
        }
        let stats = |tags: &Tags, count, avg, min, max, p95| SeriesStats {
            tags: tags.clone(),
            count,
            avg,
            min,
            max,
            p95,
        };
        assert_eq!(
            aggregator.finish(),
            vec![
                PeriodReport {
                    start: T0,
                    end: T0 + HOUR_MS,
                    series: vec![
                        stats(&web1, 2, 200.0, 100.0, 300.0, 300.0),
                        stats(&web2, 1, 200.0, 200.0, 200.0, 200.0),
                    ],
                },
                PeriodReport {
                    start: T0 + HOUR_MS,
                    end: T0 + 2 * HOUR_MS,
                    series: vec![stats(&web1, 1, 50.0, 50.0, 50.0, 50.0)],
                },
            ]
        );
    }

    #[test]
    fn retention_and_bounds_apply() {
        let query = ReportQuery {
            from: T0,
            to: T0 + DAY_MS,
            period: Period::Day,
            filter: Tags::new(),
        };
        let mut aggregator = Aggregator::new(&query, T0 + 100, 1);
        assert_eq!(aggregator.effective_from(), T0 + 100);
        let point = |at, store: &str| StoredPoint {
            at,
            value: 1.0,
            tags: tags(&[("store", store)]),
        };
        aggregator
            .add(&point(T0 + 50, "a"))
            .expect("ignored: before the retention");
        aggregator.add(&point(T0 + 150, "a")).expect("added");
        assert_eq!(
            aggregator.add(&point(T0 + 160, "b")),
            Err(Error::unprocessable(
                "the report would have more than 1 rows (periods × tag sets); narrow the range, use period=day or filter with tag.<key>=<value>"
            ))
        );
        assert_eq!(aggregator.finish()[0].series[0].count, 1);
        assert_eq!(check_points_read(10, 10), Ok(()));
        assert_eq!(
            check_points_read(11, 10),
            Err(Error::unprocessable(
                "the range holds more than 10 points (max_report_points); narrow the range"
            ))
        );
        assert_eq!(check_chunks(2000), Ok(()));
        assert!(check_chunks(2001).is_err());
    }
}
