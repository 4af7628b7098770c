//! The analytics module: record business events, aggregate them, and keep dashboards of saved queries.
//!
//! A retail tenant records events such as `sale` with string *dimensions*
//! (`store`, `channel`, `category`) and numeric *metrics* (`amount`, `items`),
//! then asks questions about them:
//!
//! - `POST /events` records a batch, all or nothing; `GET /events` pages
//!   through the raw events of one name ([`store`] has the kv layout: hour
//!   chunks, so a time range reads few keys);
//! - `POST /query` filters, groups, buckets (hour/day) and aggregates
//!   (count/sum/avg/min/max) the events of one name in a time range
//!   ([`query`]);
//! - `PUT/GET/DELETE /dashboards/{id}` keep named sets of queries, checked on
//!   save; `POST /dashboards/{id}/run` runs them over one range ([`dashboard`]).
//!
//! Every request runs in a fresh instance, so all state is in kv and every
//! read is bounded: batch size and scanned events by the tenant's config,
//! pages, buckets, rows and chunks read by constants. Validation of events
//! lives in [`model`]. The logic is in plain functions unit tested on the
//! host; the handlers below only move data between request, kv and response.
//!
//! Status codes: a body that is not the expected JSON shape, an unknown
//! function, op or bucket, or a missing required field is `400`; a well-formed
//! request breaking a rule (an invalid name, an empty range, a limit) is `422`;
//! problems in `GET` query parameters are `400`; an unknown dashboard is `404`.

pub mod dashboard;
pub mod model;
pub mod query;
pub mod store;

use modhost_sdk::{Error, Module, Request, Response, Result, Router, config, kv, log};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::dashboard::{Dashboard, DashboardInput, RunRange};
use crate::model::{END_OF_TIME_MS, EventBatch, NAME_RULE, check_time, is_valid_name, shown};
use crate::query::{Aggregation, Query, QuerySpec, TimeRange};
use crate::store::Position;

/// The module; see the crate docs.
pub struct Analytics;

impl Module for Analytics {
    fn router() -> Router {
        Router::new()
            .post("/events", post_events)
            .get("/events", get_events)
            .post("/query", post_query)
            .get("/dashboards", list_dashboards)
            .get("/dashboards/{id}", get_dashboard)
            .put("/dashboards/{id}", put_dashboard)
            .delete("/dashboards/{id}", delete_dashboard)
            .post("/dashboards/{id}/run", run_dashboard)
    }
}

modhost_sdk::export_module!(Analytics);

const DEFAULT_MAX_EVENTS_PER_BATCH: i64 = 1000;
const DEFAULT_MAX_QUERY_EVENTS: i64 = 100_000;
const DEFAULT_DASHBOARD_DAYS: i64 = 7;
/// The page size of `GET /events` when `limit` is absent.
pub const DEFAULT_EVENTS_PAGE: usize = 50;
/// The largest page of `GET /events`.
pub const MAX_EVENTS_PAGE: usize = 500;
/// The page size of `GET /dashboards` when `limit` is absent.
pub const DEFAULT_DASHBOARDS_PAGE: usize = 50;
/// The largest page of `GET /dashboards`.
pub const MAX_DASHBOARDS_PAGE: usize = 100;
/// The largest response body the host passes on.
pub const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

/// A positive config int (the schema guarantees `min = 1`), or `default` outside a host.
fn config_int(key: &str, default: i64) -> i64 {
    config::int(key).unwrap_or(default).max(1)
}

fn now_ms() -> i64 {
    i64::try_from(modhost_sdk::clock::now_ms()).unwrap_or(i64::MAX)
}

/// A JSON response, refused with `422` when it would exceed what the host passes on.
fn respond<T: Serialize + ?Sized>(status: u16, value: &T) -> Result<Response> {
    let body = serde_json::to_vec(value)
        .map_err(|error| Error::internal(format!("could not serialise the response: {error}")))?;
    check_response_size(body.len())?;
    Ok(Response::new(status)
        .with_header("content-type", "application/json")
        .with_body(body))
}

/// Refuses an answer of `bytes` that the host would not pass on.
pub fn check_response_size(bytes: usize) -> Result<()> {
    if bytes > MAX_RESPONSE_BYTES {
        return Err(Error::unprocessable(format!(
            "the answer would be {bytes} bytes, more than the {MAX_RESPONSE_BYTES} a response may hold; \
             narrow the range, add filters or group by fewer dimensions"
        )));
    }
    Ok(())
}

/// A request body that must be a JSON object, as `T`: says plainly when it is another JSON value.
pub fn parse_object<T: DeserializeOwned>(body: Value) -> Result<T> {
    let kind = match &body {
        Value::Object(_) => {
            return serde_json::from_value(body).map_err(|error| {
                Error::bad_request(format!("the request body does not fit this endpoint: {error}"))
            });
        }
        Value::Array(_) => "an array",
        Value::String(_) => "a string",
        Value::Number(_) => "a number",
        Value::Bool(_) => "a boolean",
        Value::Null => "null",
    };
    Err(Error::bad_request(format!(
        "the request body must be a JSON object, got {kind}"
    )))
}

fn body<T: DeserializeOwned>(request: &Request) -> Result<T> {
    parse_object(request.json()?)
}

/// A page size from query parameter `limit`: `default` when absent, else 1 to `max`.
pub fn page_limit(limit: Option<i64>, default: usize, max: usize) -> Result<usize> {
    match limit {
        None => Ok(default),
        Some(limit) => usize::try_from(limit)
            .ok()
            .filter(|limit| (1..=max).contains(limit))
            .ok_or_else(|| {
                Error::bad_request(format!(
                    "query parameter `limit` must be from 1 to {max}, got {limit}"
                ))
            }),
    }
}

/// The `from`/`to` of `GET /events`: the whole of time by default, else checked like a query's.
pub fn listing_range(from: Option<i64>, to: Option<i64>) -> Result<(i64, i64)> {
    for (name, value) in [("from", from), ("to", to)] {
        if let Some(value) = value {
            check_time(name, value)
                .map_err(|problem| Error::bad_request(format!("query parameter {problem}")))?;
        }
    }
    let (from, to) = (from.unwrap_or(0), to.unwrap_or(END_OF_TIME_MS));
    if from >= to {
        return Err(Error::bad_request(format!(
            "the range is empty: `from` {from} must be before `to` {to}"
        )));
    }
    Ok((from, to))
}

/// The event name of `GET /events?name=`.
pub fn listing_name(name: Option<String>) -> Result<String> {
    let name = name.ok_or_else(|| {
        Error::bad_request("query parameter `name` is required: the event name to list, e.g. ?name=sale")
    })?;
    if !is_valid_name(&name) {
        return Err(Error::bad_request(format!(
            "query parameter `name` has an invalid event name `{}`; {NAME_RULE}",
            shown(&name)
        )));
    }
    Ok(name)
}

/// Runs `query` over `range`, scanning at most `budget` events: the rows and how many events were read.
fn execute(query: &Query, range: TimeRange, budget: u64) -> Result<(Vec<Value>, u64)> {
    let mut aggregation = Aggregation::new(query);
    let scanned = store::scan(&query.event, range.from, range.to, budget, |event| {
        aggregation.add(event)
    })?;
    Ok((aggregation.into_rows(), scanned))
}

fn max_query_events() -> u64 {
    config_int("max_query_events", DEFAULT_MAX_QUERY_EVENTS).unsigned_abs()
}

fn post_events(request: &Request) -> Result<Response> {
    let batch: EventBatch = body(request)?;
    let max_batch = config_int("max_events_per_batch", DEFAULT_MAX_EVENTS_PER_BATCH);
    let events = model::validate_batch(batch, usize::try_from(max_batch).unwrap_or(usize::MAX), now_ms())?;
    let stored = store::append(events)?;
    log::log(
        log::Level::Info,
        "events stored",
        &[("count", &stored.to_string())],
    );
    respond(201, &json!({ "stored": stored }))
}

fn get_events(request: &Request) -> Result<Response> {
    let name = listing_name(request.query("name"))?;
    let (from, to) = listing_range(request.query_as("from")?, request.query_as("to")?)?;
    let limit = page_limit(request.query_as("limit")?, DEFAULT_EVENTS_PAGE, MAX_EVENTS_PAGE)?;
    let cursor = request
        .query("after")
        .map(|after| Position::parse(&after))
        .transpose()?;
    let page = store::list_page(&name, from, to, cursor, limit)?;
    let events: Vec<Value> = page
        .events
        .iter()
        .map(|(position, event)| event.to_json(&position.id(), &name))
        .collect();
    respond(
        200,
        &json!({ "events": events, "next": page.next.map(Position::id) }),
    )
}

fn post_query(request: &Request) -> Result<Response> {
    let spec: QuerySpec = body(request)?;
    let query = query::compile(&spec)?;
    let (from, to) = query::required_range(&spec)?;
    let range = query.range(from, to)?;
    let (rows, scanned) = execute(&query, range, max_query_events())?;
    respond(200, &json!({ "rows": rows, "scanned_events": scanned }))
}

fn dashboard_id(request: &Request) -> Result<&str> {
    let id = request.param("id")?;
    dashboard::check_id(id)?;
    Ok(id)
}

fn load_dashboard(id: &str) -> Result<Dashboard> {
    kv::get_json(&dashboard::key(id))?.ok_or_else(|| {
        Error::not_found(format!(
            "no dashboard `{id}`; create it with PUT /dashboards/{id}"
        ))
    })
}

fn list_dashboards(request: &Request) -> Result<Response> {
    let limit = page_limit(
        request.query_as("limit")?,
        DEFAULT_DASHBOARDS_PAGE,
        MAX_DASHBOARDS_PAGE,
    )?;
    let after = request.query("after");
    if let Some(after) = &after {
        dashboard::check_id(after)?;
    }
    let after_key = after.as_deref().map(dashboard::key);
    let page = kv::list(
        dashboard::PREFIX,
        after_key.as_deref(),
        u32::try_from(limit + 1).unwrap_or(0),
    )?;
    let mut dashboards = Vec::new();
    for key in page.keys.iter().take(limit) {
        if let Some(dashboard) = kv::get_json::<Dashboard>(key)? {
            let names: Vec<&str> = dashboard
                .queries
                .iter()
                .map(|named| named.name.as_str())
                .collect();
            dashboards.push(json!({ "id": dashboard.id, "title": dashboard.title, "queries": names }));
        }
    }
    let next = (page.keys.len() > limit)
        .then(|| page.keys.get(limit - 1))
        .flatten()
        .and_then(|key| key.strip_prefix(dashboard::PREFIX));
    respond(200, &json!({ "dashboards": dashboards, "next": next }))
}

fn get_dashboard(request: &Request) -> Result<Response> {
    respond(200, &load_dashboard(dashboard_id(request)?)?)
}

fn put_dashboard(request: &Request) -> Result<Response> {
    let id = dashboard_id(request)?;
    let input: DashboardInput = body(request)?;
    let dashboard = dashboard::validate(id, input)?;
    let key = dashboard::key(id);
    let existed = kv::get(&key)?.is_some();
    kv::set_json(&key, &dashboard)?;
    log::log(log::Level::Info, "dashboard saved", &[("id", id)]);
    respond(if existed { 200 } else { 201 }, &dashboard)
}

fn delete_dashboard(request: &Request) -> Result<Response> {
    let id = dashboard_id(request)?;
    if !kv::delete(&dashboard::key(id))? {
        return Err(Error::not_found(format!("no dashboard `{id}`")));
    }
    log::log(log::Level::Info, "dashboard deleted", &[("id", id)]);
    Ok(Response::no_content())
}

fn run_dashboard(request: &Request) -> Result<Response> {
    let dashboard = load_dashboard(dashboard_id(request)?)?;
    let run: RunRange = if request.body().is_empty() {
        RunRange::default()
    } else {
        body(request)?
    };
    let now = now_ms();
    let days = config_int("default_dashboard_days", DEFAULT_DASHBOARD_DAYS);
    let budget = max_query_events();
    let mut results = Vec::with_capacity(dashboard.queries.len());
    for named in &dashboard.queries {
        let (from, to) = dashboard::run_range(&named.query, &run, now, days);
        let (rows, scanned) = query::compile(&named.query)
            .and_then(|query| {
                let range = query.range(from, to)?;
                execute(&query, range, budget)
            })
            .map_err(|error| dashboard::in_query(&named.name, error))?;
        results.push(json!({
            "name": named.name,
            "from": from,
            "to": to,
            "rows": rows,
            "scanned_events": scanned,
        }));
    }
    respond(
        200,
        &json!({ "id": dashboard.id, "title": dashboard.title, "results": results }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_valid() {
        assert_eq!(Analytics::self_test(), Ok(()));
    }

    #[test]
    fn page_limits_default_and_are_bounded() {
        assert_eq!(page_limit(None, 50, 500), Ok(50));
        assert_eq!(page_limit(Some(500), 50, 500), Ok(500));
        for bad in [0, -1, 501] {
            assert_eq!(
                page_limit(Some(bad), 50, 500),
                Err(Error::bad_request(format!(
                    "query parameter `limit` must be from 1 to 500, got {bad}"
                )))
            );
        }
    }

    #[test]
    fn listings_need_a_valid_name_and_range() {
        assert_eq!(listing_name(Some("sale".into())), Ok("sale".into()));
        assert_eq!(
            listing_name(None),
            Err(Error::bad_request(
                "query parameter `name` is required: the event name to list, e.g. ?name=sale"
            ))
        );
        assert_eq!(
            listing_name(Some("a/b".into())),
            Err(Error::bad_request(
                "query parameter `name` has an invalid event name `a/b`; use 1 to 64 of a-z, 0-9 and _, \
                 starting with a letter"
            ))
        );
        assert_eq!(listing_range(None, None), Ok((0, END_OF_TIME_MS)));
        assert_eq!(listing_range(Some(5), Some(9)), Ok((5, 9)));
        assert_eq!(
            listing_range(Some(9), Some(5)),
            Err(Error::bad_request(
                "the range is empty: `from` 9 must be before `to` 5"
            ))
        );
        assert_eq!(
            listing_range(Some(-1), None),
            Err(Error::bad_request(
                "query parameter `from` -1 is out of range; use unix milliseconds from 0 to 253402300799999"
            ))
        );
    }

    #[test]
    fn bodies_must_be_objects_of_the_endpoint() {
        let parsed: Result<RunRange> = parse_object(json!({"from": 1}));
        assert_eq!(
            parsed,
            Ok(RunRange {
                from: Some(1),
                to: None
            })
        );
        assert_eq!(
            parse_object::<RunRange>(json!([{"from": 1}])),
            Err(Error::bad_request(
                "the request body must be a JSON object, got an array"
            ))
        );
        assert_eq!(
            parse_object::<RunRange>(json!({"from": 1, "until": 2})),
            Err(Error::bad_request(
                "the request body does not fit this endpoint: unknown field `until`, expected `from` or `to`"
            ))
        );
        assert_eq!(
            parse_object::<RunRange>(json!({"from": "yesterday"})),
            Err(Error::bad_request(
                "the request body does not fit this endpoint: invalid type: string \"yesterday\", expected i64"
            ))
        );
    }

    #[test]
    fn oversized_answers_are_refused() {
        assert_eq!(check_response_size(MAX_RESPONSE_BYTES), Ok(()));
        assert_eq!(
            check_response_size(MAX_RESPONSE_BYTES + 1),
            Err(Error::unprocessable(
                "the answer would be 4194305 bytes, more than the 4194304 a response may hold; narrow the \
                 range, add filters or group by fewer dimensions"
            ))
        );
    }
}
