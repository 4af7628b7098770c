//! Saved dashboards: ids, validation on save, and the time range each saved query runs over.

use modhost_sdk::{Error, Result};
use serde::{Deserialize, Serialize};

use crate::model::{check_time, shown};
use crate::query::{self, DAY_MS, QuerySpec};

/// The longest title, in characters.
pub const MAX_TITLE_CHARS: usize = 128;
/// The most queries on one dashboard.
pub const MAX_QUERIES: usize = 10;
/// The longest query name, in characters.
pub const MAX_QUERY_NAME_CHARS: usize = 64;

/// Checks a dashboard id: `[A-Za-z0-9._-]{1,64}`.
pub fn check_id(id: &str) -> Result<()> {
    if modhost_sdk::kv::is_key_part(id) {
        Ok(())
    } else {
        Err(Error::bad_request(format!(
            "the dashboard id `{}` is invalid; use 1 to 64 of A-Z, a-z, 0-9, `.`, `_` and `-`",
            shown(id)
        )))
    }
}

/// The prefix of every dashboard key.
pub const PREFIX: &str = "dashboards/";

/// The kv key of dashboard `id` (checked).
pub fn key(id: &str) -> String {
    format!("{PREFIX}{id}")
}

/// The body of `PUT /dashboards/{id}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DashboardInput {
    /// The title.
    pub title: String,
    /// The queries, in display order.
    pub queries: Vec<NamedQuery>,
}

/// A query on a dashboard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedQuery {
    /// Unique on its dashboard.
    pub name: String,
    /// The query; `from`/`to` optional.
    pub query: QuerySpec,
}

/// A stored dashboard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dashboard {
    /// Its id.
    pub id: String,
    /// Its title, trimmed.
    pub title: String,
    /// Its queries.
    pub queries: Vec<NamedQuery>,
}

/// `error` about the query named `name`.
pub fn in_query(name: &str, error: Error) -> Error {
    Error::new(error.code(), format!("query `{name}`: {}", error.message()))
}

/// Validates a dashboard to save under `id` (checked); every query is checked, errors name it.
pub fn validate(id: &str, input: DashboardInput) -> Result<Dashboard> {
    let title = input.title.trim().to_owned();
    let title_length = title.chars().count();
    if !(1..=MAX_TITLE_CHARS).contains(&title_length) {
        return Err(Error::unprocessable(format!(
            "the title must be 1 to {MAX_TITLE_CHARS} characters, got {title_length}"
        )));
    }
    if !(1..=MAX_QUERIES).contains(&input.queries.len()) {
        return Err(Error::unprocessable(format!(
            "a dashboard holds 1 to {MAX_QUERIES} queries, got {}",
            input.queries.len()
        )));
    }
    for (index, named) in input.queries.iter().enumerate() {
        let length = named.name.chars().count();
        if !(1..=MAX_QUERY_NAME_CHARS).contains(&length) || named.name.chars().any(char::is_control) {
            return Err(Error::unprocessable(format!(
                "query name `{}` must be 1 to {MAX_QUERY_NAME_CHARS} characters without control characters",
                shown(&named.name)
            )));
        }
        if input.queries[..index]
            .iter()
            .any(|earlier| earlier.name == named.name)
        {
            return Err(Error::unprocessable(format!(
                "query `{}` appears twice; give every query its own name",
                named.name
            )));
        }
        check_saved_query(&named.query).map_err(|error| in_query(&named.name, error))?;
    }
    Ok(Dashboard {
        id: id.to_owned(),
        title,
        queries: input.queries,
    })
}

fn check_saved_query(spec: &QuerySpec) -> Result<()> {
    let query = query::compile(spec)?;
    match (spec.from, spec.to) {
        (Some(from), Some(to)) => query.range(from, to).map(|_| ()),
        (Some(from), None) => check_time("from", from).map_err(Error::unprocessable),
        (None, Some(to)) => check_time("to", to).map_err(Error::unprocessable),
        (None, None) => Ok(()),
    }
}

/// The optional body of `POST /dashboards/{id}/run`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunRange {
    /// Replaces every query's `from`.
    #[serde(default)]
    pub from: Option<i64>,
    /// Replaces every query's `to`.
    #[serde(default)]
    pub to: Option<i64>,
}

/// The `(from, to)` a saved query runs over: each bound from the run body, else
/// the saved query, else `to` = just after `now_ms` and `from` = `default_days` before `to`.
pub fn run_range(saved: &QuerySpec, run: &RunRange, now_ms: i64, default_days: i64) -> (i64, i64) {
    let to = run.to.or(saved.to).unwrap_or(now_ms.saturating_add(1));
    let from = run
        .from
        .or(saved.from)
        .unwrap_or_else(|| to.saturating_sub(default_days.saturating_mul(DAY_MS)));
    (from, to)
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn input(value: Value) -> DashboardInput {
        serde_json::from_value(value).expect("an input")
    }

    fn count_query(extra: Value) -> Value {
        let mut query = json!({"event": "sale", "aggregates": [{"fn": "count"}]});
        if let (Some(query), Some(extra)) = (query.as_object_mut(), extra.as_object()) {
            query.extend(extra.clone());
        }
        query
    }

    #[test]
    fn ids_are_checked() {
        assert_eq!(check_id("sales-2026_q1.v2"), Ok(()));
        for bad in ["", "a/b", "a b", "ação", &"x".repeat(65)] {
            assert_eq!(
                check_id(bad),
                Err(Error::bad_request(format!(
                    "the dashboard id `{}` is invalid; use 1 to 64 of A-Z, a-z, 0-9, `.`, `_` and `-`",
                    shown(bad)
                ))),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_valid_dashboard_is_kept_with_a_trimmed_title() {
        let dashboard = validate(
            "main",
            input(
                json!({"title": "  Sales  ", "queries": [{"name": "all", "query": count_query(json!({}))}]}),
            ),
        )
        .expect("valid");
        assert_eq!(dashboard.title, "Sales");
        assert_eq!(dashboard.id, "main");
        assert_eq!(dashboard.queries.len(), 1);
    }

    #[test]
    fn every_problem_is_named() {
        let named = |name: &str, query: Value| json!({"name": name, "query": query});
        let cases = [
            (
                json!({"title": " ", "queries": [named("a", count_query(json!({})))]}),
                Error::unprocessable("the title must be 1 to 128 characters, got 0"),
            ),
            (
                json!({"title": "t", "queries": []}),
                Error::unprocessable("a dashboard holds 1 to 10 queries, got 0"),
            ),
            (
                json!({"title": "t", "queries": [named("", count_query(json!({})))]}),
                Error::unprocessable("query name `` must be 1 to 64 characters without control characters"),
            ),
            (
                json!({"title": "t", "queries": [named("a", count_query(json!({}))), named("a", count_query(json!({})))]}),
                Error::unprocessable("query `a` appears twice; give every query its own name"),
            ),
            (
                json!({"title": "t", "queries": [named("by store", json!({"event": "sale", "aggregates": [{"fn": "p99"}]}))]}),
                Error::bad_request(
                    "query `by store`: unknown aggregate function `p99`; use count, sum, avg, min or max",
                ),
            ),
            (
                json!({"title": "t", "queries": [named("q", count_query(json!({"from": 5, "to": 5})))]}),
                Error::unprocessable("query `q`: the range is empty: `from` 5 must be before `to` 5"),
            ),
            (
                json!({"title": "t", "queries": [named("q", count_query(json!({"to": -5})))]}),
                Error::unprocessable(
                    "query `q`: `to` -5 is out of range; use unix milliseconds from 0 to 253402300799999",
                ),
            ),
        ];
        for (body, expected) in cases {
            assert_eq!(validate("d", input(body.clone())), Err(expected), "{body}");
        }
    }

    #[test]
    fn run_ranges_prefer_the_run_then_the_saved_query_then_the_default() {
        let saved = |value: Value| -> QuerySpec { serde_json::from_value(count_query(value)).expect("spec") };
        let run = |from, to| RunRange { from, to };
        let now = 100 * DAY_MS;
        assert_eq!(
            run_range(&saved(json!({})), &run(None, None), now, 7),
            (now + 1 - 7 * DAY_MS, now + 1)
        );
        assert_eq!(
            run_range(&saved(json!({"from": 5, "to": 9})), &run(None, None), now, 7),
            (5, 9)
        );
        assert_eq!(
            run_range(
                &saved(json!({"from": 5, "to": 9})),
                &run(Some(1), Some(2)),
                now,
                7
            ),
            (1, 2)
        );
        assert_eq!(
            run_range(&saved(json!({"from": 5})), &run(None, Some(DAY_MS * 3)), now, 1),
            (5, DAY_MS * 3)
        );
        assert_eq!(
            run_range(&saved(json!({})), &run(None, Some(DAY_MS * 3)), now, 1),
            (DAY_MS * 2, DAY_MS * 3)
        );
    }
}
