//! The `analytics` module end to end in a real host: events, queries, dashboards, config and tenant isolation.
//!
//! Every expected number below was computed by hand from the events in
//! [`sales`]; see the comments beside each row.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "test code: a failed expectation is a failed test"
)]

mod support;

use modhost_registry::TenantKind;
use serde_json::{Value, json};
use support::*;

/// 2026-01-01T00:00:00Z.
const T0: i64 = 1_767_225_600_000;
const MINUTE: i64 = 60_000;
const HOUR: i64 = 3_600_000;
const DAY: i64 = 86_400_000;

/// A host with `tenants`, each running analytics 1.0.0 (the smoke tests pass on promotion).
async fn host_with(tenants: &[&str]) -> ModuleHost {
    let host = ModuleHost::start();
    host.publish("analytics@1.0.0", None);
    for tenant in tenants {
        host.tenant(tenant, TenantKind::Standard);
        host.promote(tenant, "analytics", "1.0.0")
            .await
            .unwrap_or_else(|error| panic!("promote for {tenant}: {error}"));
    }
    host
}

fn now_ms() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_millis(),
    )
    .expect("fits")
}

/// Seven sales and one visit on 2026-01-01/02:
///
/// | # | at            | store | channel | category | amount | items |
/// |---|---------------|-------|---------|----------|--------|-------|
/// | 1 | 00:01         | sp-01 | web     | shoes    | 100.5  | 2     |
/// | 2 | 00:02         | sp-02 | app     | shoes    | 20.25  | 1     |
/// | 3 | 01:00 +5 ms   | sp-01 | app     | bags     | 50     | 1     |
/// | 4 | 01:00 +10 ms  | sp-01 | store   |          | 999    | 9     |
/// | 5 | 01:00 +20 ms  |       | web     |          | 10     |       |
/// | 6 | day 2 +1 s    | sp-02 | web     |          | 30.5   | 3     |
/// | 7 | 02:00         | sp-02 | web     |          |        | 4     |
fn sales() -> Vec<Value> {
    vec![
        json!({"name": "sale", "at": T0 + MINUTE,
               "dimensions": {"store": "sp-01", "channel": "web", "category": "shoes"},
               "metrics": {"amount": 100.5, "items": 2}}),
        json!({"name": "sale", "at": T0 + 2 * MINUTE,
               "dimensions": {"store": "sp-02", "channel": "app", "category": "shoes"},
               "metrics": {"amount": 20.25, "items": 1}}),
        json!({"name": "sale", "at": T0 + HOUR + 5,
               "dimensions": {"store": "sp-01", "channel": "app", "category": "bags"},
               "metrics": {"amount": 50, "items": 1}}),
        json!({"name": "sale", "at": T0 + HOUR + 10,
               "dimensions": {"store": "sp-01", "channel": "store"},
               "metrics": {"amount": 999, "items": 9}}),
        json!({"name": "sale", "at": T0 + HOUR + 20,
               "dimensions": {"channel": "web"},
               "metrics": {"amount": 10}}),
        json!({"name": "sale", "at": T0 + DAY + 1000,
               "dimensions": {"store": "sp-02", "channel": "web"},
               "metrics": {"amount": 30.5, "items": 3}}),
        json!({"name": "sale", "at": T0 + 2 * HOUR,
               "dimensions": {"store": "sp-02", "channel": "web"},
               "metrics": {"items": 4}}),
        json!({"name": "visit", "at": T0 + 5, "dimensions": {"store": "sp-01"}}),
    ]
}

async fn record_sales(host: &ModuleHost, tenant: &str) {
    let reply = host
        .post(tenant, "analytics", "/events", json!({ "events": sales() }))
        .await;
    assert_eq!(reply.expect(201), json!({"stored": 8}));
}

/// The event as `GET /events` shows it.
fn listed(id: &str, event: &Value) -> Value {
    json!({
        "id": id,
        "name": event["name"],
        "at": event["at"],
        "dimensions": event.get("dimensions").cloned().unwrap_or_else(|| json!({})),
        "metrics": event.get("metrics").cloned().unwrap_or_else(|| json!({})),
    })
}

async fn error(reply: Reply, status: u16) -> String {
    assert_eq!(reply.status, status, "unexpected reply: {}", reply.json);
    reply.error().1.to_owned()
}

#[tokio::test]
async fn events_are_recorded_then_paged_by_hour_and_arrival_with_cursors() {
    let host = host_with(&["acme"]).await;
    record_sales(&host, "acme").await;
    let sales = sales();

    let first = host
        .get("acme", "analytics", "/events?name=sale&limit=3")
        .await
        .expect(200);
    assert_eq!(
        first,
        json!({
            "events": [
                listed("001767225600000-0000-0", &sales[0]),
                listed("001767225600000-0000-1", &sales[1]),
                listed("001767229200000-0000-0", &sales[2]),
            ],
            "next": "001767229200000-0000-0",
        })
    );
    let second = host
        .get(
            "acme",
            "analytics",
            "/events?name=sale&limit=3&after=001767229200000-0000-0",
        )
        .await
        .expect(200);
    assert_eq!(
        second,
        json!({
            "events": [
                listed("001767229200000-0000-1", &sales[3]),
                listed("001767229200000-0000-2", &sales[4]),
                listed("001767232800000-0000-0", &sales[6]),
            ],
            "next": "001767232800000-0000-0",
        }),
        "hour 02:00 comes before day 2, whatever the arrival order"
    );
    let last = host
        .get(
            "acme",
            "analytics",
            "/events?name=sale&limit=3&after=001767232800000-0000-0",
        )
        .await
        .expect(200);
    assert_eq!(
        last,
        json!({"events": [listed("001767312000000-0000-0", &sales[5])], "next": null})
    );

    let window = format!("/events?name=sale&from={}&to={}", T0 + HOUR + 5, T0 + HOUR + 20);
    assert_eq!(
        host.get("acme", "analytics", &window).await.expect(200),
        json!({
            "events": [
                listed("001767229200000-0000-0", &sales[2]),
                listed("001767229200000-0000-1", &sales[3]),
            ],
            "next": null,
        }),
        "`from` is inclusive, `to` exclusive"
    );
    assert_eq!(
        host.get("acme", "analytics", "/events?name=visit")
            .await
            .expect(200),
        json!({"events": [listed("001767225600000-0000-0", &sales[7])], "next": null}),
        "names are listed apart"
    );
    assert_eq!(
        host.get("acme", "analytics", "/events?name=refund")
            .await
            .expect(200),
        json!({"events": [], "next": null})
    );

    let before = now_ms();
    host.post(
        "acme",
        "analytics",
        "/events",
        json!({"events": [{"name": "ping"}]}),
    )
    .await
    .expect(201);
    let after = now_ms();
    let pinged = host
        .get("acme", "analytics", "/events?name=ping")
        .await
        .expect(200);
    let at = pinged["events"][0]["at"].as_i64().expect("at");
    assert!((before..=after).contains(&at), "`at` defaults to now: {at}");
    assert_eq!(pinged["events"][0]["dimensions"], json!({}));

    for (path, message) in [
        (
            "/events",
            "query parameter `name` is required: the event name to list, e.g. ?name=sale",
        ),
        (
            "/events?name=Sale",
            "query parameter `name` has an invalid event name `Sale`; use 1 to 64 of a-z, 0-9 and _, \
             starting with a letter",
        ),
        (
            "/events?name=sale&limit=0",
            "query parameter `limit` must be from 1 to 500, got 0",
        ),
        (
            "/events?name=sale&limit=501",
            "query parameter `limit` must be from 1 to 500, got 501",
        ),
        (
            "/events?name=sale&limit=ten",
            "query parameter `limit` has an invalid value `ten`",
        ),
        (
            "/events?name=sale&after=abc",
            "the cursor `abc` is invalid; pass the `next` of the previous page as `after`",
        ),
        (
            "/events?name=sale&from=9&to=9",
            "the range is empty: `from` 9 must be before `to` 9",
        ),
        (
            "/events?name=sale&from=-1",
            "query parameter `from` -1 is out of range; use unix milliseconds from 0 to 253402300799999",
        ),
    ] {
        let reply = host.get("acme", "analytics", path).await;
        assert_eq!(error(reply, 400).await, message, "{path}");
    }
}

#[tokio::test]
async fn a_filtered_grouped_daily_query_matches_the_rows_computed_by_hand() {
    let host = host_with(&["acme"]).await;
    record_sales(&host, "acme").await;

    let reply = host
        .post(
            "acme",
            "analytics",
            "/query",
            json!({
                "event": "sale",
                "from": T0,
                "to": T0 + 2 * DAY,
                "filters": [{"dimension": "channel", "op": "in", "values": ["web", "app"]}],
                "group_by": ["store"],
                "aggregates": [
                    {"fn": "sum", "metric": "amount"},
                    {"fn": "count"},
                    {"fn": "avg", "metric": "amount"},
                    {"fn": "max", "metric": "items"},
                ],
                "bucket": "day",
            }),
        )
        .await;
    assert_eq!(
        reply.expect(200),
        json!({
            "rows": [
                // #5 has no store: the null group sorts first.
                {"bucket": T0, "group": {"store": null},
                 "values": {"sum_amount": 10, "count": 1, "avg_amount": 10, "max_items": null}},
                // #1 + #3 (#4 is channel `store`, filtered out): 100.5 + 50 = 150.5, avg 75.25.
                {"bucket": T0, "group": {"store": "sp-01"},
                 "values": {"sum_amount": 150.5, "count": 2, "avg_amount": 75.25, "max_items": 2}},
                // #2 + #7 (#7 has no amount: counted, but skipped by sum and avg).
                {"bucket": T0, "group": {"store": "sp-02"},
                 "values": {"sum_amount": 20.25, "count": 2, "avg_amount": 20.25, "max_items": 4}},
                {"bucket": T0 + DAY, "group": {"store": "sp-02"},
                 "values": {"sum_amount": 30.5, "count": 1, "avg_amount": 30.5, "max_items": 3}},
            ],
            "scanned_events": 7,
        })
    );

    let hourly = host
        .post(
            "acme",
            "analytics",
            "/query",
            json!({
                "event": "sale",
                "from": T0,
                "to": T0 + 3 * HOUR,
                "filters": [{"dimension": "channel", "op": "ne", "value": "store"}],
                "aggregates": [{"fn": "count"}, {"fn": "sum", "metric": "items"}, {"fn": "min", "metric": "amount"}],
                "bucket": "hour",
            }),
        )
        .await;
    assert_eq!(
        hourly.expect(200),
        json!({
            "rows": [
                {"bucket": T0, "group": {}, "values": {"count": 2, "sum_items": 3, "min_amount": 20.25}},
                {"bucket": T0 + HOUR, "group": {}, "values": {"count": 2, "sum_items": 1, "min_amount": 10}},
                {"bucket": T0 + 2 * HOUR, "group": {}, "values": {"count": 1, "sum_items": 4, "min_amount": null}},
            ],
            "scanned_events": 6,
        }),
        "day 2 is outside the range and never read"
    );

    let edges = host
        .post(
            "acme",
            "analytics",
            "/query",
            json!({
                "event": "sale",
                "from": T0 + MINUTE,
                "to": T0 + HOUR + 20,
                "filters": [{"dimension": "channel", "op": "eq", "value": "web"}],
                "group_by": ["channel", "category"],
                "aggregates": [{"fn": "count"}, {"fn": "count", "metric": "items"}],
            }),
        )
        .await;
    assert_eq!(
        edges.expect(200),
        json!({
            "rows": [
                {"group": {"channel": "web", "category": "shoes"}, "values": {"count": 1, "count_items": 1}},
            ],
            "scanned_events": 5,
        }),
        "#1 at exactly `from` is in, #5 at exactly `to` is out"
    );

    let nothing = host
        .post(
            "acme",
            "analytics",
            "/query",
            json!({"event": "refund", "from": T0, "to": T0 + DAY, "aggregates": [{"fn": "count"}]}),
        )
        .await;
    assert_eq!(nothing.expect(200), json!({"rows": [], "scanned_events": 0}));
}

#[tokio::test]
async fn bad_queries_are_refused_with_what_to_do() {
    let host = host_with(&["acme"]).await;
    let query = |extra: Value| {
        let mut query = json!({"event": "sale", "from": T0, "to": T0 + DAY, "aggregates": [{"fn": "count"}]});
        query
            .as_object_mut()
            .expect("object")
            .extend(extra.as_object().expect("object").clone());
        query
    };
    let cases = [
        (
            query(json!({"aggregates": [{"fn": "median", "metric": "amount"}]})),
            400,
            "unknown aggregate function `median`; use count, sum, avg, min or max",
        ),
        (
            query(json!({"aggregates": [{"fn": "sum"}]})),
            400,
            "aggregate `sum` needs a `metric`, e.g. {\"fn\": \"sum\", \"metric\": \"amount\"}",
        ),
        (
            query(json!({"aggregates": []})),
            400,
            "the query has no aggregates; add one, e.g. {\"fn\": \"count\"}",
        ),
        (
            query(
                json!({"aggregates": [{"fn": "sum", "metric": "amount"}, {"fn": "sum", "metric": "amount"}]}),
            ),
            400,
            "aggregate `sum_amount` is requested twice",
        ),
        (
            query(json!({"from": T0 + DAY, "to": T0})),
            422,
            "the range is empty: `from` 1767312000000 must be before `to` 1767225600000",
        ),
        (
            query(json!({"to": T0 + 1001 * HOUR, "bucket": "hour"})),
            422,
            "`hour` buckets from 1767225600000 to 1770829200000 make 1001 buckets; at most 1000 are \
             allowed, so narrow the range or use a coarser bucket",
        ),
        (
            query(json!({"bucket": "week"})),
            400,
            "unknown bucket `week`; use none, hour or day",
        ),
        (
            query(json!({"filters": [{"dimension": "channel", "op": "like", "value": "w%"}]})),
            400,
            "unknown filter op `like` on dimension `channel`; use eq, ne or in",
        ),
        (
            query(json!({"filters": [{"dimension": "channel", "op": "in", "value": "web"}]})),
            400,
            "filter `in` on dimension `channel` takes `values`, not `value`",
        ),
        (
            query(json!({"group_by": ["store", "channel", "category", "region", "city"]})),
            422,
            "the query groups by 5 dimensions; at most 4 are allowed",
        ),
        (
            query(json!({"group_by": ["store/x"]})),
            422,
            "dimension name `store/x` is invalid; use 1 to 64 of a-z, 0-9 and _, starting with a letter",
        ),
        (
            json!({"event": "sale", "aggregates": [{"fn": "count"}]}),
            400,
            "the query needs `from` and `to`, in unix milliseconds",
        ),
        (
            query(json!({"limit": 10})),
            400,
            "the request body does not fit this endpoint: unknown field `limit`, expected one of `event`, \
             `from`, `to`, `filters`, `group_by`, `aggregates`, `bucket`",
        ),
        (
            query(json!({"from": "yesterday"})),
            400,
            "the request body does not fit this endpoint: invalid type: string \"yesterday\", expected i64",
        ),
    ];
    for (body, status, message) in cases {
        let reply = host.post("acme", "analytics", "/query", body.clone()).await;
        assert_eq!(error(reply, status).await, message, "{body}");
    }
}

#[tokio::test]
async fn an_invalid_batch_is_refused_whole_and_stores_nothing() {
    let host = host_with(&["acme"]).await;
    record_sales(&host, "acme").await;
    let stored_before = host
        .get("acme", "analytics", "/events?name=sale&limit=500")
        .await
        .expect(200);

    let good = json!({"name": "sale", "at": T0 + 30 * MINUTE, "dimensions": {"store": "sp-09"}, "metrics": {"amount": 1}});
    let cases = [
        (
            json!({"name": "sale", "at": T0, "dimensions": {"store": 7}}),
            "event 1: dimension `store` must be a string, got 7",
        ),
        (
            json!({"name": "sale", "at": T0, "metrics": {"amount": "12.50"}}),
            "event 1: metric `amount` must be a number, got \"12.50\"",
        ),
        (
            json!({"name": "Sale", "at": T0}),
            "event 1: the name `Sale` is invalid; use 1 to 64 of a-z, 0-9 and _, starting with a letter",
        ),
        (
            json!({"name": "sale", "at": -5}),
            "event 1: `at` -5 is out of range; use unix milliseconds from 0 to 253402300799999",
        ),
        (
            json!({"name": "sale", "at": T0, "dimensions": {"note": "x".repeat(129)}}),
            "event 1: dimension `note` is 129 characters long; at most 128 are allowed",
        ),
    ];
    for (bad, message) in cases {
        let reply = host
            .post(
                "acme",
                "analytics",
                "/events",
                json!({"events": [good.clone(), bad.clone()]}),
            )
            .await;
        assert_eq!(error(reply, 422).await, message, "{bad}");
    }
    let empty = host
        .post("acme", "analytics", "/events", json!({"events": []}))
        .await;
    assert_eq!(
        error(empty, 422).await,
        "the batch has no events; send 1 or more in `events`"
    );
    let not_a_batch = host
        .post("acme", "analytics", "/events", json!([good.clone()]))
        .await;
    assert_eq!(
        error(not_a_batch, 400).await,
        "the request body must be a JSON object, got an array"
    );
    let unknown_field = host
        .post(
            "acme",
            "analytics",
            "/events",
            json!({"events": [good.clone(), {"name": "sale", "tags": ["x"]}]}),
        )
        .await;
    assert_eq!(
        error(unknown_field, 400).await,
        "the request body does not fit this endpoint: unknown field `tags`, expected one of `name`, `at`, \
         `dimensions`, `metrics`"
    );

    assert_eq!(
        host.get("acme", "analytics", "/events?name=sale&limit=500")
            .await
            .expect(200),
        stored_before,
        "the valid event 0 of every refused batch was not stored either"
    );
    let count = host
        .post(
            "acme",
            "analytics",
            "/query",
            json!({"event": "sale", "from": T0, "to": T0 + HOUR,
                   "filters": [{"dimension": "store", "op": "eq", "value": "sp-09"}],
                   "aggregates": [{"fn": "count"}]}),
        )
        .await;
    assert_eq!(count.expect(200), json!({"rows": [], "scanned_events": 2}));
}

fn sales_dashboard(title: &str) -> Value {
    json!({
        "title": title,
        "queries": [
            {"name": "by store", "query": {
                "event": "sale",
                "from": T0,
                "to": T0 + 2 * DAY,
                "filters": [{"dimension": "channel", "op": "in", "values": ["web", "app"]}],
                "group_by": ["store"],
                "aggregates": [{"fn": "sum", "metric": "amount"}, {"fn": "count"}],
                "bucket": "day",
            }},
            {"name": "hourly", "query": {
                "event": "sale",
                "aggregates": [{"fn": "count"}],
                "bucket": "hour",
            }},
        ],
    })
}

#[tokio::test]
async fn dashboards_are_saved_listed_run_and_deleted() {
    let host = host_with(&["acme"]).await;
    record_sales(&host, "acme").await;

    let created = host
        .put("acme", "analytics", "/dashboards/sales", sales_dashboard("Sales"))
        .await;
    let mut expected = sales_dashboard("Sales");
    expected["id"] = json!("sales");
    assert_eq!(created.expect(201), expected);
    let replaced = host
        .put(
            "acme",
            "analytics",
            "/dashboards/sales",
            sales_dashboard("  Sales, daily  "),
        )
        .await;
    expected["title"] = json!("Sales, daily");
    assert_eq!(replaced.expect(200), expected, "replaced, title trimmed");
    assert_eq!(
        host.get("acme", "analytics", "/dashboards/sales")
            .await
            .expect(200),
        expected
    );
    host.put(
        "acme",
        "analytics",
        "/dashboards/ops",
        json!({"title": "Ops", "queries": [{"name": "visits", "query": {"event": "visit", "aggregates": [{"fn": "count"}]}}]}),
    )
    .await
    .expect(201);

    assert_eq!(
        host.get("acme", "analytics", "/dashboards?limit=1")
            .await
            .expect(200),
        json!({"dashboards": [{"id": "ops", "title": "Ops", "queries": ["visits"]}], "next": "ops"})
    );
    assert_eq!(
        host.get("acme", "analytics", "/dashboards?limit=1&after=ops")
            .await
            .expect(200),
        json!({
            "dashboards": [{"id": "sales", "title": "Sales, daily", "queries": ["by store", "hourly"]}],
            "next": null,
        })
    );

    let over_three_hours = host
        .post(
            "acme",
            "analytics",
            "/dashboards/sales/run",
            json!({"from": T0, "to": T0 + 3 * HOUR}),
        )
        .await;
    assert_eq!(
        over_three_hours.expect(200),
        json!({
            "id": "sales",
            "title": "Sales, daily",
            "results": [
                {"name": "by store", "from": T0, "to": T0 + 3 * HOUR, "scanned_events": 6, "rows": [
                    {"bucket": T0, "group": {"store": null}, "values": {"sum_amount": 10, "count": 1}},
                    {"bucket": T0, "group": {"store": "sp-01"}, "values": {"sum_amount": 150.5, "count": 2}},
                    {"bucket": T0, "group": {"store": "sp-02"}, "values": {"sum_amount": 20.25, "count": 2}},
                ]},
                {"name": "hourly", "from": T0, "to": T0 + 3 * HOUR, "scanned_events": 6, "rows": [
                    {"bucket": T0, "group": {}, "values": {"count": 2}},
                    {"bucket": T0 + HOUR, "group": {}, "values": {"count": 3}},
                    {"bucket": T0 + 2 * HOUR, "group": {}, "values": {"count": 1}},
                ]},
            ],
        }),
        "the run's range replaces every query's"
    );

    let before = now_ms();
    let saved_ranges = host
        .call(
            "acme",
            "analytics",
            modhost_runtime::Method::Post,
            "/dashboards/sales/run",
            None,
        )
        .await
        .expect(200);
    let after = now_ms();
    let by_store = &saved_ranges["results"][0];
    assert_eq!(
        (by_store["from"].as_i64(), by_store["to"].as_i64()),
        (Some(T0), Some(T0 + 2 * DAY))
    );
    assert_eq!(by_store["rows"].as_array().map(Vec::len), Some(4), "{by_store}");
    let hourly = &saved_ranges["results"][1];
    let to = hourly["to"].as_i64().expect("to");
    assert!((before + 1..=after + 1).contains(&to), "up to now: {to}");
    assert_eq!(hourly["from"].as_i64(), Some(to - 7 * DAY), "the default 7 days");
    assert_eq!(hourly["rows"], json!([]), "the sales are older than a week");

    assert_eq!(
        host.delete("acme", "analytics", "/dashboards/sales")
            .await
            .expect(204),
        Value::Null
    );
    let gone = host.get("acme", "analytics", "/dashboards/sales").await;
    assert_eq!(
        error(gone, 404).await,
        "no dashboard `sales`; create it with PUT /dashboards/sales"
    );
    let run_gone = host
        .post("acme", "analytics", "/dashboards/sales/run", json!({}))
        .await;
    assert_eq!(
        error(run_gone, 404).await,
        "no dashboard `sales`; create it with PUT /dashboards/sales"
    );
    let delete_gone = host.delete("acme", "analytics", "/dashboards/sales").await;
    assert_eq!(error(delete_gone, 404).await, "no dashboard `sales`");
    assert_eq!(
        host.get("acme", "analytics", "/dashboards").await.expect(200),
        json!({"dashboards": [{"id": "ops", "title": "Ops", "queries": ["visits"]}], "next": null})
    );
}

#[tokio::test]
async fn invalid_dashboards_are_refused_naming_the_query_and_nothing_is_saved() {
    let host = host_with(&["acme"]).await;
    let mut bad_query = sales_dashboard("Sales");
    bad_query["queries"][1]["query"]["aggregates"] = json!([{"fn": "avg"}]);
    let mut bad_range = sales_dashboard("Sales");
    bad_range["queries"][0]["query"]["to"] = json!(T0);
    let mut twice = sales_dashboard("Sales");
    twice["queries"][1]["name"] = json!("by store");
    let cases = [
        (
            "/dashboards/sales",
            bad_query,
            400,
            "query `hourly`: aggregate `avg` needs a `metric`, e.g. {\"fn\": \"avg\", \"metric\": \"amount\"}",
        ),
        (
            "/dashboards/sales",
            bad_range,
            422,
            "query `by store`: the range is empty: `from` 1767225600000 must be before `to` 1767225600000",
        ),
        (
            "/dashboards/sales",
            twice,
            422,
            "query `by store` appears twice; give every query its own name",
        ),
        (
            "/dashboards/sales",
            json!({"title": "", "queries": []}),
            422,
            "the title must be 1 to 128 characters, got 0",
        ),
        (
            "/dashboards/sales",
            json!({"title": "Sales", "queries": []}),
            422,
            "a dashboard holds 1 to 10 queries, got 0",
        ),
        (
            "/dashboards/a%20b",
            sales_dashboard("Sales"),
            400,
            "the dashboard id `a b` is invalid; use 1 to 64 of A-Z, a-z, 0-9, `.`, `_` and `-`",
        ),
        (
            "/dashboards/a%2Fb",
            sales_dashboard("Sales"),
            400,
            "the dashboard id `a/b` is invalid; use 1 to 64 of A-Z, a-z, 0-9, `.`, `_` and `-`",
        ),
    ];
    for (path, body, status, message) in cases {
        let reply = host.put("acme", "analytics", path, body).await;
        assert_eq!(error(reply, status).await, message, "{path}");
    }
    assert_eq!(
        host.get("acme", "analytics", "/dashboards").await.expect(200),
        json!({"dashboards": [], "next": null}),
        "nothing was saved"
    );

    let mut hourly_forever = sales_dashboard("Sales");
    hourly_forever["queries"][0]["query"]["bucket"] = json!("hour");
    hourly_forever["queries"][0]["query"]["to"] = json!(T0 + HOUR);
    host.put("acme", "analytics", "/dashboards/sales", hourly_forever)
        .await
        .expect(201);
    let too_long = host
        .post(
            "acme",
            "analytics",
            "/dashboards/sales/run",
            json!({"to": T0 + 60 * DAY}),
        )
        .await;
    assert_eq!(
        error(too_long, 422).await,
        "query `by store`: `hour` buckets from 1767225600000 to 1772409600000 make 1440 buckets; at most \
         1000 are allowed, so narrow the range or use a coarser bucket"
    );
}

#[tokio::test]
async fn config_bounds_batches_and_scans_and_sets_the_default_dashboard_range() {
    let host = host_with(&["acme"]).await;
    record_sales(&host, "acme").await;

    host.set_config("acme", "analytics", json!({"max_events_per_batch": 2}))
        .await;
    let three = json!({"events": [{"name": "tick", "at": T0}, {"name": "tick", "at": T0}, {"name": "tick", "at": T0}]});
    let refused = host.post("acme", "analytics", "/events", three).await;
    assert_eq!(
        error(refused, 422).await,
        "the batch has 3 events; this tenant accepts at most 2 per request (config max_events_per_batch)"
    );
    assert_eq!(
        host.get("acme", "analytics", "/events?name=tick")
            .await
            .expect(200),
        json!({"events": [], "next": null})
    );
    host.post(
        "acme",
        "analytics",
        "/events",
        json!({"events": [{"name": "tick", "at": T0}, {"name": "tick", "at": T0 + 1}]}),
    )
    .await
    .expect(201);

    host.set_config("acme", "analytics", json!({"max_query_events": 5}))
        .await;
    let all_days = json!({"event": "sale", "from": T0, "to": T0 + 2 * DAY, "aggregates": [{"fn": "count"}]});
    let too_many = host.post("acme", "analytics", "/query", all_days).await;
    assert_eq!(
        error(too_many, 422).await,
        "the query would scan more than 5 events of `sale`; narrow the range (`from`/`to`) or raise the \
         config max_query_events"
    );
    let first_hour = json!({"event": "sale", "from": T0, "to": T0 + HOUR, "aggregates": [{"fn": "count"}]});
    assert_eq!(
        host.post("acme", "analytics", "/query", first_hour)
            .await
            .expect(200),
        json!({"rows": [{"group": {}, "values": {"count": 2}}], "scanned_events": 2})
    );

    let now = now_ms();
    host.post(
        "acme",
        "analytics",
        "/events",
        json!({"events": [{"name": "order"}, {"name": "order", "at": now - 2 * DAY}]}),
    )
    .await
    .expect(201);
    host.put(
        "acme",
        "analytics",
        "/dashboards/recent",
        json!({"title": "Recent", "queries": [{"name": "orders", "query": {"event": "order", "aggregates": [{"fn": "count"}]}}]}),
    )
    .await
    .expect(201);
    let run = || async {
        host.post("acme", "analytics", "/dashboards/recent/run", json!({}))
            .await
            .expect(200)["results"][0]["rows"]
            .clone()
    };
    assert_eq!(
        run().await,
        json!([{"group": {}, "values": {"count": 2}}]),
        "7 days by default"
    );
    host.set_config("acme", "analytics", json!({"default_dashboard_days": 1}))
        .await;
    assert_eq!(
        run().await,
        json!([{"group": {}, "values": {"count": 1}}]),
        "only the last day"
    );
}

#[tokio::test]
async fn a_second_tenant_sees_none_of_the_first_tenants_data() {
    let host = host_with(&["acme", "globex"]).await;
    record_sales(&host, "acme").await;
    host.put("acme", "analytics", "/dashboards/sales", sales_dashboard("Sales"))
        .await
        .expect(201);

    assert_eq!(
        host.get("globex", "analytics", "/events?name=sale")
            .await
            .expect(200),
        json!({"events": [], "next": null})
    );
    let query = json!({"event": "sale", "from": T0, "to": T0 + 2 * DAY, "aggregates": [{"fn": "count"}]});
    assert_eq!(
        host.post("globex", "analytics", "/query", query.clone())
            .await
            .expect(200),
        json!({"rows": [], "scanned_events": 0})
    );
    assert_eq!(
        host.get("globex", "analytics", "/dashboards").await.expect(200),
        json!({"dashboards": [], "next": null})
    );
    let missing = host.get("globex", "analytics", "/dashboards/sales").await;
    assert_eq!(
        error(missing, 404).await,
        "no dashboard `sales`; create it with PUT /dashboards/sales"
    );
    assert_eq!(
        host.post("acme", "analytics", "/query", query).await.expect(200),
        json!({"rows": [{"group": {}, "values": {"count": 7}}], "scanned_events": 7}),
        "acme still has its own"
    );
}

#[tokio::test]
async fn large_hours_roll_into_chunks_and_page_across_them() {
    let host = host_with(&["acme"]).await;
    let padding = "x".repeat(100);
    for batch in 0..3 {
        let events: Vec<Value> = (0..400)
            .map(|index| {
                let number = batch * 400 + index;
                let dimensions: serde_json::Map<String, Value> = (0..8)
                    .map(|dimension| (format!("d{dimension}"), json!(padding)))
                    .collect();
                json!({"name": "bulk", "at": T0 + number, "dimensions": dimensions, "metrics": {"n": number}})
            })
            .collect();
        host.post("acme", "analytics", "/events", json!({ "events": events }))
            .await
            .expect(201);
    }

    let keys = host
        .registry
        .kv_list("acme", "analytics", "events/bulk/", None, 1000)
        .expect("keys");
    assert!(
        keys.len() >= 4,
        "1200 events of ~1 KB need several 256 KiB chunks: {keys:?}"
    );
    let mut stored = 0;
    for (number, key) in keys.iter().enumerate() {
        assert_eq!(key, &format!("events/bulk/001767225600000-{number:04}"));
        let bytes = host
            .registry
            .kv_get("acme", "analytics", key)
            .expect("kv")
            .expect("chunk");
        assert!(bytes.len() <= 256 * 1024, "{key} has {} bytes", bytes.len());
        stored += serde_json::from_slice::<Vec<Value>>(&bytes)
            .expect("chunk json")
            .len();
    }
    assert_eq!(stored, 1200);

    let mut seen = Vec::new();
    let mut path = "/events?name=bulk&limit=500".to_owned();
    let mut pages = Vec::new();
    loop {
        let page = host.get("acme", "analytics", &path).await.expect(200);
        let events = page["events"].as_array().expect("events");
        pages.push(events.len());
        seen.extend(
            events
                .iter()
                .map(|event| event["metrics"]["n"].as_i64().expect("n")),
        );
        match page["next"].as_str() {
            Some(next) => path = format!("/events?name=bulk&limit=500&after={next}"),
            None => break,
        }
    }
    assert_eq!(pages, vec![500, 500, 200]);
    assert_eq!(
        seen,
        (0..1200).collect::<Vec<i64>>(),
        "every event once, in recorded order"
    );

    let totals = json!({"event": "bulk", "from": T0, "to": T0 + HOUR,
                        "aggregates": [{"fn": "count"}, {"fn": "sum", "metric": "n"}, {"fn": "max", "metric": "n"}]});
    assert_eq!(
        host.post("acme", "analytics", "/query", totals.clone())
            .await
            .expect(200),
        // 0 + 1 + … + 1199 = 1199 × 1200 / 2.
        json!({"rows": [{"group": {}, "values": {"count": 1200, "sum_n": 719_400, "max_n": 1199}}], "scanned_events": 1200})
    );
    host.set_config("acme", "analytics", json!({"max_query_events": 1000}))
        .await;
    let refused = host.post("acme", "analytics", "/query", totals).await;
    assert_eq!(
        error(refused, 422).await,
        "the query would scan more than 1000 events of `bulk`; narrow the range (`from`/`to`) or raise the \
         config max_query_events"
    );
}

/// The examples of `plugins/analytics/README.md`, answer for answer.
#[tokio::test]
async fn the_readme_examples_answer_as_documented() {
    let host = host_with(&["acme"]).await;
    let stored = host
        .post(
            "acme",
            "analytics",
            "/events",
            json!({"events": [
                {"name": "sale", "at": 1_767_225_600_000_i64, "dimensions": {"store": "sp-01", "channel": "web"},
                 "metrics": {"amount": 129.9, "items": 2}},
                {"name": "sale", "at": 1_767_227_400_000_i64, "dimensions": {"store": "sp-01", "channel": "app"},
                 "metrics": {"amount": 59.9, "items": 1}},
                {"name": "sale", "at": 1_767_315_600_000_i64, "dimensions": {"store": "sp-02", "channel": "web"},
                 "metrics": {"amount": 20, "items": 1}},
            ]}),
        )
        .await;
    assert_eq!(stored.expect(201), json!({"stored": 3}));
    assert_eq!(
        host.get("acme", "analytics", "/events?name=sale&limit=2")
            .await
            .expect(200),
        json!({"events": [
            {"id": "001767225600000-0000-0", "name": "sale", "at": 1_767_225_600_000_i64,
             "dimensions": {"channel": "web", "store": "sp-01"}, "metrics": {"amount": 129.9, "items": 2}},
            {"id": "001767225600000-0000-1", "name": "sale", "at": 1_767_227_400_000_i64,
             "dimensions": {"channel": "app", "store": "sp-01"}, "metrics": {"amount": 59.9, "items": 1}},
        ], "next": "001767225600000-0000-1"})
    );
    assert_eq!(
        host.get(
            "acme",
            "analytics",
            "/events?name=sale&limit=2&after=001767225600000-0000-1"
        )
        .await
        .expect(200),
        json!({"events": [
            {"id": "001767315600000-0000-0", "name": "sale", "at": 1_767_315_600_000_i64,
             "dimensions": {"channel": "web", "store": "sp-02"}, "metrics": {"amount": 20, "items": 1}},
        ], "next": null})
    );
    let query = json!({
        "event": "sale", "from": 1_767_225_600_000_i64, "to": 1_767_398_400_000_i64,
        "filters": [{"dimension": "channel", "op": "in", "values": ["web", "app"]}],
        "group_by": ["store"],
        "aggregates": [{"fn": "sum", "metric": "amount"}, {"fn": "count"}, {"fn": "avg", "metric": "amount"}],
        "bucket": "day",
    });
    assert_eq!(
        host.post("acme", "analytics", "/query", query).await.expect(200),
        json!({"rows": [
            {"bucket": 1_767_225_600_000_i64, "group": {"store": "sp-01"},
             "values": {"avg_amount": 94.9, "count": 2, "sum_amount": 189.8}},
            {"bucket": 1_767_312_000_000_i64, "group": {"store": "sp-02"},
             "values": {"avg_amount": 20, "count": 1, "sum_amount": 20}},
        ], "scanned_events": 3})
    );
    let median = host
        .post(
            "acme",
            "analytics",
            "/query",
            json!({"event": "sale", "from": 0, "to": 1, "aggregates": [{"fn": "median", "metric": "amount"}]}),
        )
        .await;
    assert_eq!(
        median.error(),
        (
            "bad-request",
            "unknown aggregate function `median`; use count, sum, avg, min or max"
        )
    );

    let dashboard = json!({"title": "Sales", "queries": [
        {"name": "sales by store", "query": {"event": "sale", "group_by": ["store"],
            "aggregates": [{"fn": "sum", "metric": "amount"}, {"fn": "count"}]}},
        {"name": "daily web sales", "query": {"event": "sale",
            "filters": [{"dimension": "channel", "op": "eq", "value": "web"}],
            "aggregates": [{"fn": "sum", "metric": "items"}], "bucket": "day"}},
    ]});
    let mut saved = dashboard.clone();
    saved["id"] = json!("sales");
    assert_eq!(
        host.put("acme", "analytics", "/dashboards/sales", dashboard)
            .await
            .expect(201),
        saved
    );
    assert_eq!(
        host.get("acme", "analytics", "/dashboards").await.expect(200),
        json!({"dashboards": [{"id": "sales", "queries": ["sales by store", "daily web sales"], "title": "Sales"}],
               "next": null})
    );
    assert_eq!(
        host.get("acme", "analytics", "/dashboards/sales")
            .await
            .expect(200),
        saved
    );
    assert_eq!(
        host.post(
            "acme",
            "analytics",
            "/dashboards/sales/run",
            json!({"from": 1_767_225_600_000_i64, "to": 1_767_398_400_000_i64}),
        )
        .await
        .expect(200),
        json!({"id": "sales", "title": "Sales", "results": [
            {"name": "sales by store", "from": 1_767_225_600_000_i64, "to": 1_767_398_400_000_i64,
             "scanned_events": 3, "rows": [
                {"group": {"store": "sp-01"}, "values": {"count": 2, "sum_amount": 189.8}},
                {"group": {"store": "sp-02"}, "values": {"count": 1, "sum_amount": 20}},
            ]},
            {"name": "daily web sales", "from": 1_767_225_600_000_i64, "to": 1_767_398_400_000_i64,
             "scanned_events": 3, "rows": [
                {"bucket": 1_767_225_600_000_i64, "group": {}, "values": {"sum_items": 2}},
                {"bucket": 1_767_312_000_000_i64, "group": {}, "values": {"sum_items": 1}},
            ]},
        ]})
    );
    assert_eq!(
        host.delete("acme", "analytics", "/dashboards/sales").await.status,
        204
    );
    let bad_batch = host
        .post(
            "acme",
            "analytics",
            "/events",
            json!({"events": [{"name": "sale", "metrics": {"amount": "12"}}]}),
        )
        .await;
    assert_eq!(bad_batch.status, 422);
    assert_eq!(
        bad_batch.error(),
        (
            "unprocessable",
            "event 0: metric `amount` must be a number, got \"12\""
        )
    );
}
