//! How a validated batch is split up: into chunk appends and into series to evaluate.
//!
//! Points go to chunks by (metric, hour). For alerting, every (rule, tag set)
//! pair a batch touches becomes one series whose points are evaluated in time
//! order (points with the same `at` keep their order in the batch).

use std::collections::BTreeMap;

use crate::keys::hour_start;
use crate::model::{Point, Rule, StoredPoint, Tags, series_key};

/// The points of one (rule, tag set) pair, in time order.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesPoints<'a> {
    /// The rule.
    pub rule: &'a Rule,
    /// The tag set, encoded as in [`series_key`].
    pub series: String,
    /// The tag set.
    pub tags: Tags,
    /// `(at, value)` in time order.
    pub points: Vec<(i64, f64)>,
}

/// The points of a batch by (metric, hour start), in batch order.
pub fn group_by_chunk(points: &[Point]) -> BTreeMap<(String, i64), Vec<StoredPoint>> {
    let mut groups: BTreeMap<(String, i64), Vec<StoredPoint>> = BTreeMap::new();
    for point in points {
        groups
            .entry((point.metric.clone(), hour_start(point.at)))
            .or_default()
            .push(StoredPoint {
                at: point.at,
                value: point.value,
                tags: point.tags.clone(),
            });
    }
    groups
}

/// The series a batch touches: for each point, each rule of its metric that matches it.
/// Ordered by rule id, then encoded tag set.
pub fn group_by_series<'a>(
    points: &[Point],
    rules: &'a BTreeMap<String, Vec<Rule>>,
) -> Vec<SeriesPoints<'a>> {
    let mut ordered: Vec<&Point> = points.iter().collect();
    ordered.sort_by_key(|point| point.at);
    let mut series: BTreeMap<(&'a str, String), SeriesPoints<'a>> = BTreeMap::new();
    for point in ordered {
        for rule in rules.get(&point.metric).into_iter().flatten() {
            if !rule.matches(&point.metric, &point.tags) {
                continue;
            }
            let key = series_key(&point.tags);
            series
                .entry((rule.id.as_str(), key.clone()))
                .or_insert_with(|| SeriesPoints {
                    rule,
                    series: key,
                    tags: point.tags.clone(),
                    points: Vec::new(),
                })
                .points
                .push((point.at, point.value));
        }
    }
    series.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::HOUR_MS;
    use crate::model::Condition;

    const T0: i64 = 1_767_225_600_000;

    fn tags(pairs: &[(&str, &str)]) -> Tags {
        pairs
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect()
    }

    fn point(metric: &str, at: i64, value: f64, tags: Tags) -> Point {
        Point {
            metric: metric.to_owned(),
            tags,
            at,
            value,
        }
    }

    fn rule(id: &str, metric: &str, filter: Tags) -> Rule {
        Rule {
            id: id.to_owned(),
            metric: metric.to_owned(),
            tags: filter,
            condition: Condition::Above,
            threshold: 1.0,
        }
    }

    #[test]
    fn chunks_group_by_metric_and_hour() {
        let web = tags(&[("channel", "web")]);
        let points = [
            point("lat", T0 + 5, 1.0, web.clone()),
            point("lat", T0 + HOUR_MS, 2.0, web.clone()),
            point("lat", T0, 3.0, Tags::new()),
            point("cpu", T0, 4.0, Tags::new()),
        ];
        let groups = group_by_chunk(&points);
        assert_eq!(
            groups.keys().cloned().collect::<Vec<_>>(),
            [
                ("cpu".to_owned(), T0),
                ("lat".to_owned(), T0),
                ("lat".to_owned(), T0 + HOUR_MS)
            ]
        );
        assert_eq!(
            groups[&("lat".to_owned(), T0)],
            [
                StoredPoint {
                    at: T0 + 5,
                    value: 1.0,
                    tags: web
                },
                StoredPoint {
                    at: T0,
                    value: 3.0,
                    tags: Tags::new()
                },
            ]
        );
    }

    #[test]
    fn series_are_per_rule_and_tag_set_in_time_order() {
        let sp1 = tags(&[("store", "sp-01")]);
        let sp2 = tags(&[("store", "sp-02")]);
        let rules = BTreeMap::from([(
            "lat".to_owned(),
            vec![rule("all", "lat", Tags::new()), rule("sp1", "lat", sp1.clone())],
        )]);
        let points = [
            point("lat", T0 + 20, 1.0, sp1.clone()),
            point("lat", T0 + 10, 2.0, sp2.clone()),
            point("lat", T0, 3.0, sp1.clone()),
            point("cpu", T0, 4.0, sp1.clone()),
        ];
        let series = group_by_series(&points, &rules);
        type Summary<'a> = (&'a str, &'a str, Vec<(i64, f64)>);
        let summary: Vec<Summary<'_>> = series
            .iter()
            .map(|entry| {
                (
                    entry.rule.id.as_str(),
                    entry.series.as_str(),
                    entry.points.clone(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("all", "store=sp-01", vec![(T0, 3.0), (T0 + 20, 1.0)]),
                ("all", "store=sp-02", vec![(T0 + 10, 2.0)]),
                ("sp1", "store=sp-01", vec![(T0, 3.0), (T0 + 20, 1.0)]),
            ]
        );
        assert_eq!(series[1].tags, sp2);
    }
}
