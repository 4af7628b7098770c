//! The HTTP handlers: each moves data between the request, kv and the response.
//!
//! Decisions live in the pure modules ([`crate::model`], [`crate::alerts`],
//! [`crate::ingest`], [`crate::report`], [`crate::paging`]); every handler
//! reads and validates everything it needs before its first write.

use std::collections::BTreeMap;

use modhost_sdk::{Error, Request, Response, Result, kv, log};
use serde_json::json;

use crate::alerts::{Alert, AlertState, IdSequence, Resolution, evaluate_series};
use crate::keys::{self, MAX_ALERT_ID};
use crate::model::{
    Batch, BatchLimits, MetricInput, RuleInput, StoredPoint, check_batch_size, check_metric_name,
    check_rule_id, is_name, no_metric, validate_batch,
};
use crate::paging::parse_list_query;
use crate::report::{Aggregator, MAX_REPORT_ROWS, check_chunks, check_points_read, parse_report_query};
use crate::{ingest, now_ms, settings, store};

/// `PUT /metrics/{name}`: creates (201) or replaces (200) a definition.
pub fn put_metric(request: &Request) -> Result<Response> {
    let name = request.param("name")?;
    check_metric_name(name)?;
    let definition = request.json::<MetricInput>()?.into_def(name)?;
    let existing = store::metric(name)?;
    if existing.is_some() {
        for rule in store::rules_of(name)? {
            if let Some(dropped) = rule.tags.keys().find(|key| !definition.declares(key)) {
                return Err(Error::conflict(format!(
                    "rule `{}` filters on tag `{dropped}`, which the new definition of `{name}` drops; \
                     change or delete the rule first",
                    rule.id
                )));
            }
        }
    }
    store::put(&keys::metric(name), &definition)?;
    match existing {
        Some(_) => Response::ok(&definition),
        None => Response::created(&definition),
    }
}

/// `GET /metrics?limit=&after=`: definitions in name order.
pub fn list_metrics(request: &Request) -> Result<Response> {
    let query = parse_list_query(&request.query_pairs()?, &[])?;
    if let Some(after) = &query.after {
        check_metric_name(after)?;
    }
    let (names, next) = store::page_of_names(
        keys::METRICS_PREFIX,
        query.after.as_deref(),
        page_limit(query.limit),
    )?;
    let metrics: Vec<crate::model::MetricDef> =
        store::values_of(names.iter().map(|name| keys::metric(name)))?;
    Response::ok(&json!({ "metrics": metrics, "next": next }))
}

/// `GET /metrics/{name}`.
pub fn get_metric(request: &Request) -> Result<Response> {
    let name = request.param("name")?;
    check_metric_name(name)?;
    let definition = store::metric(name)?.ok_or_else(|| Error::not_found(no_metric(name)))?;
    Response::ok(&definition)
}

/// `DELETE /metrics/{name}`: refused while rules watch it; deletes its points with it.
pub fn delete_metric(request: &Request) -> Result<Response> {
    let name = request.param("name")?;
    check_metric_name(name)?;
    if store::metric(name)?.is_none() {
        return Err(Error::not_found(no_metric(name)));
    }
    if let Some(rule) = store::rule_ids_of(name, 1)?.first() {
        return Err(Error::conflict(format!(
            "metric `{name}` is watched by rule `{rule}`; delete its rules first (DELETE /rules/{rule})"
        )));
    }
    let deleted_chunks = store::delete_chunks(name)?;
    kv::delete(&keys::metric(name))?;
    log::log(
        log::Level::Info,
        "metric deleted",
        &[("metric", name), ("chunks", &deleted_chunks.to_string())],
    );
    Response::ok(&json!({ "name": name, "deleted_chunks": deleted_chunks }))
}

/// `POST /points`: validates the whole batch, stores it, evaluates the rules it touches.
pub fn post_points(request: &Request) -> Result<Response> {
    let batch: Batch = request.json()?;
    let limits = BatchLimits {
        max_points: settings::max_points_per_batch(),
        retention_days: settings::retention_days(),
        now: now_ms(),
    };
    check_batch_size(batch.points.len(), limits.max_points)?;
    let names: Vec<String> = batch
        .points
        .iter()
        .map(|point| point.metric.clone())
        .filter(|name| is_name(name))
        .collect();
    let metrics = store::metrics(names.iter().map(String::as_str))?;
    let points = validate_batch(batch.points, &metrics, &limits)?;

    // Reads: the chunks to append to, the rules, the open alerts.
    let mut chunk_writes = Vec::new();
    let mut by_metric: BTreeMap<String, usize> = BTreeMap::new();
    for ((metric, hour), group) in ingest::group_by_chunk(&points) {
        *by_metric.entry(metric.clone()).or_default() += group.len();
        chunk_writes.extend(store::plan_append(&metric, hour, group)?);
    }
    let mut rules = BTreeMap::new();
    for metric in metrics.keys() {
        rules.insert(metric.clone(), store::rules_of(metric)?);
    }
    let mut ids = IdSequence {
        last: kv::get_json(keys::ALERT_SEQ_KEY)?.unwrap_or(0),
    };
    let first_id = ids.last;
    let mut changed: BTreeMap<u64, Alert> = BTreeMap::new();
    let (mut opened, mut resolved) = (Vec::new(), Vec::new());
    let mut open_index: Vec<(String, Option<u64>)> = Vec::new();
    for series in ingest::group_by_series(&points, &rules) {
        let open = match store::open_alert_id(&series.rule.id, &series.series)? {
            Some(id) => store::alert(id)?,
            None => None,
        };
        let open_before = open.as_ref().map(|alert| alert.id);
        let outcome = evaluate_series(series.rule, &series.tags, &series.points, open, &mut ids)?;
        if outcome.open_after != open_before {
            open_index.push((keys::open(&series.rule.id, &series.series), outcome.open_after));
        }
        opened.extend(outcome.opened);
        resolved.extend(outcome.resolved);
        changed.extend(outcome.changed.into_iter().map(|alert| (alert.id, alert)));
    }

    // Writes.
    for (key, chunk) in &chunk_writes {
        store::put(key, chunk)?;
    }
    for alert in changed.values() {
        store::put(&keys::alert(alert.id), alert)?;
    }
    for (key, open) in &open_index {
        match open {
            Some(id) => store::put(key, id)?,
            None => {
                kv::delete(key)?;
            }
        }
    }
    if ids.last != first_id {
        store::put(keys::ALERT_SEQ_KEY, &ids.last)?;
    }
    let cutoff = limits.cutoff();
    let mut pruned_chunks = 0;
    for metric in metrics.keys() {
        pruned_chunks += store::prune_expired(metric, cutoff)?;
    }
    log::log(
        log::Level::Info,
        "points stored",
        &[
            ("points", &points.len().to_string()),
            ("alerts_opened", &opened.len().to_string()),
        ],
    );
    opened.sort_unstable();
    resolved.sort_unstable();
    let pick = |ids: &[u64]| ids.iter().filter_map(|id| changed.get(id)).collect::<Vec<_>>();
    Response::ok(&json!({
        "stored": points.len(),
        "by_metric": by_metric,
        "opened": pick(&opened),
        "resolved": pick(&resolved),
        "pruned_chunks": pruned_chunks,
    }))
}

/// `PUT /rules/{id}`: creates (201) or replaces (200) a rule.
pub fn put_rule(request: &Request) -> Result<Response> {
    let id = request.param("id")?;
    check_rule_id(id)?;
    let input: RuleInput = request.json()?;
    let metric = match input.metric_name() {
        Ok(name) => store::metric(name)?,
        Err(_) => None,
    };
    let rule = input.into_rule(id, metric.as_ref())?;
    let existing = store::rule(id)?;
    let moves = existing.as_ref().is_none_or(|old| old.metric != rule.metric);
    if moves && store::rule_ids_of(&rule.metric, 0)?.len() >= store::MAX_RULES_PER_METRIC {
        return Err(Error::unprocessable(format!(
            "metric `{}` already has {} rules; delete one first",
            rule.metric,
            store::MAX_RULES_PER_METRIC
        )));
    }
    let mut stale = Vec::new();
    if existing
        .as_ref()
        .is_some_and(|old| old.metric != rule.metric || old.tags != rule.tags)
    {
        stale = store::open_alerts_of(id)?
            .into_iter()
            .filter(|alert| !rule.matches(&alert.metric, &alert.tags))
            .collect();
    }
    store::put(&keys::rule(id), &rule)?;
    if let Some(old) = &existing
        && old.metric != rule.metric
    {
        kv::delete(&keys::rule_index(&old.metric, id))?;
    }
    store::put(&keys::rule_index(&rule.metric, id), &json!(null))?;
    close_alerts(stale, Resolution::RuleChanged)?;
    match existing {
        Some(_) => Response::ok(&rule),
        None => Response::created(&rule),
    }
}

/// Resolves `alerts` now for `resolution` and removes them from the open index; their ids.
fn close_alerts(alerts: Vec<Alert>, resolution: Resolution) -> Result<Vec<u64>> {
    let now = now_ms();
    let mut ids = Vec::new();
    for mut alert in alerts {
        alert.resolve(now, resolution);
        store::put(&keys::alert(alert.id), &alert)?;
        kv::delete(&keys::open(&alert.rule, &crate::model::series_key(&alert.tags)))?;
        ids.push(alert.id);
    }
    Ok(ids)
}

/// `GET /rules?metric=&limit=&after=`: rules in id order, optionally of one metric.
pub fn list_rules(request: &Request) -> Result<Response> {
    let query = parse_list_query(&request.query_pairs()?, &["metric"])?;
    if let Some(after) = &query.after {
        check_rule_id(after)?;
    }
    let limit = page_limit(query.limit);
    let (ids, next) = match query.filters.get("metric") {
        Some(metric) => {
            check_metric_name(metric)?;
            store::page_of_names(&keys::rule_index_prefix(metric), query.after.as_deref(), limit)?
        }
        None => store::page_of_names(keys::RULES_PREFIX, query.after.as_deref(), limit)?,
    };
    let rules: Vec<crate::model::Rule> = store::values_of(ids.iter().map(|id| keys::rule(id)))?;
    Response::ok(&json!({ "rules": rules, "next": next }))
}

/// `GET /rules/{id}`.
pub fn get_rule(request: &Request) -> Result<Response> {
    let id = request.param("id")?;
    check_rule_id(id)?;
    let rule = store::rule(id)?.ok_or_else(|| Error::not_found(format!("no rule `{id}`")))?;
    Response::ok(&rule)
}

/// `DELETE /rules/{id}`: resolves its open alerts (`rule_deleted`) and removes it.
pub fn delete_rule(request: &Request) -> Result<Response> {
    let id = request.param("id")?;
    check_rule_id(id)?;
    let rule = store::rule(id)?.ok_or_else(|| Error::not_found(format!("no rule `{id}`")))?;
    let open = store::open_alerts_of(id)?;
    let resolved_alerts = close_alerts(open, Resolution::RuleDeleted)?;
    kv::delete(&keys::rule_index(&rule.metric, id))?;
    kv::delete(&keys::rule(id))?;
    Response::ok(&json!({ "id": id, "resolved_alerts": resolved_alerts }))
}

/// `GET /alerts?state=&limit=&after=`: newest first.
pub fn list_alerts(request: &Request) -> Result<Response> {
    let query = parse_list_query(&request.query_pairs()?, &["state"])?;
    let state = match query.filters.get("state").map(String::as_str) {
        None => None,
        Some("open") => Some(AlertState::Open),
        Some("resolved") => Some(AlertState::Resolved),
        Some(other) => {
            return Err(Error::bad_request(format!(
                "unknown alert state `{other}`; use `open` or `resolved`"
            )));
        }
    };
    let after = match &query.after {
        None => None,
        Some(after) => Some(parse_alert_id(after).ok_or_else(|| {
            Error::bad_request(format!(
                "query parameter `after` has an invalid value `{after}`; use an alert id"
            ))
        })?),
    };
    let (alerts, next) = store::alerts_page(state, after, query.limit)?;
    Response::ok(&json!({ "alerts": alerts, "next": next }))
}

/// `GET /alerts/{id}`.
pub fn get_alert(request: &Request) -> Result<Response> {
    let id = request.param("id")?;
    let number = parse_alert_id(id).ok_or_else(|| {
        Error::bad_request(format!(
            "invalid alert id `{id}`; alert ids are whole numbers from 1"
        ))
    })?;
    let alert = store::alert(number)?.ok_or_else(|| Error::not_found(format!("no alert `{id}`")))?;
    Response::ok(&alert)
}

/// `GET /reports/{metric}?from=&to=&period=&tag.<key>=`.
pub fn get_report(request: &Request) -> Result<Response> {
    let name = request.param("metric")?;
    check_metric_name(name)?;
    let metric = store::metric(name)?.ok_or_else(|| Error::not_found(no_metric(name)))?;
    let now = now_ms();
    let query = parse_report_query(&request.query_pairs()?, &metric, now)?;
    let cutoff = now.saturating_sub(settings::retention_days().saturating_mul(crate::model::DAY_MS));
    let max_points = settings::max_report_points();
    let mut aggregator = Aggregator::new(&query, cutoff, MAX_REPORT_ROWS);
    if aggregator.effective_from() < query.to {
        let chunk_keys = store::chunk_keys_in(name, aggregator.effective_from(), query.to, check_chunks)?;
        let mut read = 0;
        for key in chunk_keys {
            let chunk: Vec<StoredPoint> = kv::get_json(&key)?.unwrap_or_default();
            read += chunk.len();
            check_points_read(read, max_points)?;
            for point in &chunk {
                aggregator.add(point)?;
            }
        }
    }
    Response::ok(&json!({
        "metric": name,
        "unit": metric.unit,
        "period": query.period,
        "from": query.from,
        "to": query.to,
        "filter": query.filter,
        "periods": aggregator.finish(),
    }))
}

/// An alert id from text: a whole number in 1..=[`MAX_ALERT_ID`].
fn parse_alert_id(text: &str) -> Option<u64> {
    text.parse::<u64>()
        .ok()
        .filter(|id| (1..=MAX_ALERT_ID).contains(id))
}

fn page_limit(limit: usize) -> u32 {
    u32::try_from(limit).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alert_ids_are_positive_ten_digit_numbers() {
        assert_eq!(parse_alert_id("42"), Some(42));
        assert_eq!(parse_alert_id("0"), None);
        assert_eq!(parse_alert_id("abc"), None);
        assert_eq!(parse_alert_id("-1"), None);
        assert_eq!(parse_alert_id("10000000000"), None);
    }
}
