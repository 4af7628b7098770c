//! The `performance` module end to end on a real host: metric definitions, all-or-nothing ingest,
//! threshold alerts opening and resolving across ingests, reports, config and tenant isolation.
//!
//! Every point is placed relative to the current time (ten hours into the UTC day three days
//! ago), so the points are inside the default retention and the hand-computed report values do
//! not depend on when the test runs.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "test code: a failed expectation is a failed test"
)]

mod support;

use modhost_registry::TenantKind;
use serde_json::{Value, json};
use support::*;

const MODULE: &str = "performance";
const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;
const METRIC: &str = "checkout_latency_ms";

fn now_ms() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_millis(),
    )
    .expect("fits")
}

/// Ten hours into the UTC day three days ago: an hour start whose next hour is the same day.
fn base() -> i64 {
    let three_days_ago = now_ms() - 3 * DAY;
    three_days_ago - three_days_ago.rem_euclid(DAY) + 10 * HOUR
}

/// A host with `tenants`, each running performance 1.0.0.
async fn host_with(tenants: &[&str]) -> ModuleHost {
    let host = ModuleHost::start();
    host.publish("performance@1.0.0", None);
    for tenant in tenants {
        host.tenant(tenant, TenantKind::Standard);
        host.promote(tenant, MODULE, "1.0.0").await.unwrap();
    }
    host
}

/// Defines `checkout_latency_ms` with tags `store` and `channel` for `tenant`.
async fn define_latency(host: &ModuleHost, tenant: &str) {
    host.put(
        tenant,
        MODULE,
        &format!("/metrics/{METRIC}"),
        json!({"unit": "ms", "description": "checkout latency", "tags": ["store", "channel"]}),
    )
    .await
    .expect(201);
}

fn point(value: f64, at: i64, tags: Value) -> Value {
    json!({"metric": METRIC, "value": value, "at": at, "tags": tags})
}

/// Asserts `reply` is an error with `status`, `code` and exactly `message`.
#[track_caller]
fn assert_error(reply: &Reply, status: u16, code: &str, message: &str) {
    assert_eq!(reply.status, status, "unexpected reply: {}", reply.json);
    assert_eq!(reply.error(), (code, message));
}

#[tokio::test]
async fn metric_definitions_round_trip_and_bad_ones_are_refused() {
    let host = host_with(&["acme"]).await;
    let created = host
        .put(
            "acme",
            MODULE,
            "/metrics/checkout_latency_ms",
            json!({"unit": "ms", "description": "checkout latency", "tags": ["store", "channel"]}),
        )
        .await
        .expect(201);
    let latency = json!({
        "name": "checkout_latency_ms", "unit": "ms", "description": "checkout latency",
        "tags": ["store", "channel"]
    });
    assert_eq!(created, latency);
    let replaced = host
        .put(
            "acme",
            MODULE,
            "/metrics/checkout_latency_ms",
            json!({"unit": "ms", "description": "time from pay click to confirmation", "tags": ["store", "channel"]}),
        )
        .await
        .expect(200);
    let latency = json!({
        "name": "checkout_latency_ms", "unit": "ms", "description": "time from pay click to confirmation",
        "tags": ["store", "channel"]
    });
    assert_eq!(replaced, latency);
    assert_eq!(
        host.get("acme", MODULE, "/metrics/checkout_latency_ms")
            .await
            .expect(200),
        latency
    );
    let orders = host
        .put(
            "acme",
            MODULE,
            "/metrics/orders.per_min",
            json!({"unit": "1/min"}),
        )
        .await
        .expect(201);
    assert_eq!(
        orders,
        json!({"name": "orders.per_min", "unit": "1/min", "description": "", "tags": []})
    );

    let all = json!({"metrics": [latency, orders], "next": null});
    assert_eq!(host.get("acme", MODULE, "/metrics").await.expect(200), all);
    assert_eq!(
        host.get("acme", MODULE, "/metrics?limit=1").await.expect(200),
        json!({"metrics": [latency], "next": "checkout_latency_ms"})
    );
    assert_eq!(
        host.get("acme", MODULE, "/metrics?limit=1&after=checkout_latency_ms")
            .await
            .expect(200),
        json!({"metrics": [orders], "next": null})
    );

    // Refusals, each naming what was wrong.
    let name_rule = "use 1 to 64 characters of a-z, 0-9, `_` and `.`, starting with a letter";
    assert_error(
        &host.put("acme", MODULE, "/metrics/Latency", json!({})).await,
        400,
        "bad-request",
        &format!("invalid metric name `Latency`; {name_rule}"),
    );
    assert_error(
        &host.put("acme", MODULE, "/metrics/a%2Fb", json!({})).await,
        400,
        "bad-request",
        &format!("invalid metric name `a/b`; {name_rule}"),
    );
    assert_error(
        &host
            .put(
                "acme",
                MODULE,
                "/metrics/too_many_tags",
                json!({"tags": ["a", "b", "c", "d", "e", "f", "g", "h", "i"]}),
            )
            .await,
        422,
        "unprocessable",
        "metric `too_many_tags` declares 9 tags; the limit is 8",
    );
    assert_error(
        &host
            .put(
                "acme",
                MODULE,
                "/metrics/dup",
                json!({"tags": ["store", "store"]}),
            )
            .await,
        422,
        "unprocessable",
        "tag `store` is declared twice; list each tag once",
    );
    assert_error(
        &host
            .put("acme", MODULE, "/metrics/bad_tag", json!({"tags": ["Store"]}))
            .await,
        422,
        "unprocessable",
        &format!("invalid tag key `Store`; {name_rule}"),
    );
    assert_error(
        &host
            .put("acme", MODULE, "/metrics/typo", json!({"units": "ms"}))
            .await,
        400,
        "bad-request",
        "the request body is not valid JSON for this endpoint: unknown field `units`, expected one of \
         `unit`, `description`, `tags` at line 1 column 8",
    );
    assert_error(
        &host.get("acme", MODULE, "/metrics/cpu").await,
        404,
        "not-found",
        "no metric `cpu`; define it first with PUT /metrics/cpu",
    );
    assert_error(
        &host.get("acme", MODULE, "/metrics?limit=0").await,
        400,
        "bad-request",
        "query parameter `limit` has an invalid value `0`; use 1 to 500",
    );
    assert_error(
        &host.get("acme", MODULE, "/metrics?sort=name").await,
        400,
        "bad-request",
        "unknown query parameter `sort`; use `limit`, `after`",
    );
    assert_eq!(
        host.get("acme", MODULE, "/metrics").await.expect(200),
        all,
        "refused definitions stored nothing"
    );

    assert_eq!(
        host.delete("acme", MODULE, "/metrics/orders.per_min")
            .await
            .expect(200),
        json!({"name": "orders.per_min", "deleted_chunks": 0})
    );
    assert_error(
        &host.get("acme", MODULE, "/metrics/orders.per_min").await,
        404,
        "not-found",
        "no metric `orders.per_min`; define it first with PUT /metrics/orders.per_min",
    );
    assert_error(
        &host.delete("acme", MODULE, "/metrics/orders.per_min").await,
        404,
        "not-found",
        "no metric `orders.per_min`; define it first with PUT /metrics/orders.per_min",
    );
    assert_eq!(
        host.get("acme", MODULE, "/metrics").await.expect(200),
        json!({"metrics": [latency], "next": null})
    );
}

#[tokio::test]
async fn ingest_is_all_or_nothing_and_reports_aggregate_per_period_and_tag_set() {
    let host = host_with(&["acme"]).await;
    define_latency(&host, "acme").await;
    let t = base();
    let sp1_web = json!({"store": "sp-01", "channel": "web"});
    let sp1_app = json!({"store": "sp-01", "channel": "app"});
    let sp2_web = json!({"store": "sp-02", "channel": "web"});
    let stored = host
        .post(
            "acme",
            MODULE,
            "/points",
            json!({"points": [
                point(100.0, t, sp1_web.clone()),
                point(200.0, t + 60_000, sp1_web.clone()),
                point(300.0, t + 120_000, sp1_web.clone()),
                point(1000.0, t + 180_000, sp1_web.clone()),
                point(250.0, t + 10_000, sp2_web.clone()),
                point(50.0, t + 20_000, sp1_app.clone()),
                point(70.0, t + 30_000, sp1_app.clone()),
                point(400.0, t + HOUR + 5_000, sp1_web.clone()),
                // Declared tags may be omitted: this point has no `channel`.
                point(90.0, t + HOUR + 6_000, json!({"store": "sp-02"})),
            ]}),
        )
        .await
        .expect(200);
    assert_eq!(
        stored,
        json!({"stored": 9, "by_metric": {METRIC: 9}, "opened": [], "resolved": [], "pruned_chunks": 0})
    );

    // Hourly: sp-01/web in the first hour is 100, 200, 300, 1000: avg 400, nearest-rank p95 of 4
    // values is the 4th; sp-01/app is 50, 70: avg 60, p95 the 2nd.
    let hourly = json!({
        "metric": METRIC, "unit": "ms", "period": "hour", "from": t, "to": t + 2 * HOUR, "filter": {},
        "periods": [
            {"start": t, "end": t + HOUR, "series": [
                {"tags": {"channel": "app", "store": "sp-01"}, "count": 2, "avg": 60.0, "min": 50.0, "max": 70.0, "p95": 70.0},
                {"tags": {"channel": "web", "store": "sp-01"}, "count": 4, "avg": 400.0, "min": 100.0, "max": 1000.0, "p95": 1000.0},
                {"tags": {"channel": "web", "store": "sp-02"}, "count": 1, "avg": 250.0, "min": 250.0, "max": 250.0, "p95": 250.0},
            ]},
            {"start": t + HOUR, "end": t + 2 * HOUR, "series": [
                {"tags": {"channel": "web", "store": "sp-01"}, "count": 1, "avg": 400.0, "min": 400.0, "max": 400.0, "p95": 400.0},
                {"tags": {"store": "sp-02"}, "count": 1, "avg": 90.0, "min": 90.0, "max": 90.0, "p95": 90.0},
            ]},
        ]
    });
    let hourly_path = format!("/reports/{METRIC}?from={t}&to={}&period=hour", t + 2 * HOUR);
    assert_eq!(host.get("acme", MODULE, &hourly_path).await.expect(200), hourly);

    // Daily, filtered to the web channel: sp-01/web is 100, 200, 300, 1000, 400: avg 400, p95 of
    // 5 values is the 5th (rank ceil(4.75)).
    let day = t - 10 * HOUR;
    assert_eq!(
        host.get(
            "acme",
            MODULE,
            &format!(
                "/reports/{METRIC}?period=day&from={day}&to={}&tag.channel=web",
                day + DAY
            )
        )
        .await
        .expect(200),
        json!({
            "metric": METRIC, "unit": "ms", "period": "day", "from": day, "to": day + DAY,
            "filter": {"channel": "web"},
            "periods": [{"start": day, "end": day + DAY, "series": [
                {"tags": {"channel": "web", "store": "sp-01"}, "count": 5, "avg": 400.0, "min": 100.0, "max": 1000.0, "p95": 1000.0},
                {"tags": {"channel": "web", "store": "sp-02"}, "count": 1, "avg": 250.0, "min": 250.0, "max": 250.0, "p95": 250.0},
            ]}]
        })
    );
    // A range without points, and the default range (the last 24 hours, no points there).
    let empty = host
        .get(
            "acme",
            MODULE,
            &format!("/reports/{METRIC}?from={}&to={}", t + 2 * HOUR, t + 3 * HOUR),
        )
        .await
        .expect(200);
    assert_eq!(empty["periods"], json!([]));
    let default = host
        .get("acme", MODULE, &format!("/reports/{METRIC}"))
        .await
        .expect(200);
    let (from, to) = (default["from"].as_i64().unwrap(), default["to"].as_i64().unwrap());
    assert_eq!(
        (to - from, to % HOUR, default["period"].clone()),
        (24 * HOUR, 0, json!("hour"))
    );
    assert_eq!(default["periods"], json!([]));

    // Refused batches: each has a valid first point in a new hour, and stores nothing.
    let fresh = point(500.0, t + 2 * HOUR, sp1_web.clone());
    let refusals = [
        (
            json!({"points": [fresh.clone(), {"metric": "cpu", "value": 1}]}),
            "point 1: no metric `cpu`; define it first with PUT /metrics/cpu",
        ),
        (
            json!({"points": [fresh.clone(), point(1.0, t, json!({"region": "eu"}))]}),
            "point 1: metric `checkout_latency_ms` has no tag `region`; its tags are store, channel",
        ),
        (
            json!({"points": [fresh.clone(), {"metric": METRIC, "value": "fast"}]}),
            "point 1: `value` must be a finite number, got \"fast\"",
        ),
        (
            json!({"points": [fresh.clone(), point(1.0, t, json!({"store": "sp 01"}))]}),
            "point 1: tag `store` has an invalid value `sp 01`; use 1 to 64 characters of A-Z, a-z, 0-9, `.`, `_`, `:` and `-`",
        ),
        (
            json!({"points": [fresh.clone(), point(1.0, now_ms() + 2 * DAY, json!({}))]}),
            "",
        ),
        (
            json!({"points": []}),
            "the batch has no points; send at least one",
        ),
    ];
    for (batch, message) in refusals {
        let reply = host.post("acme", MODULE, "/points", batch).await;
        assert_eq!(reply.status, 422, "{}", reply.json);
        let (code, actual) = reply.error();
        assert_eq!(code, "unprocessable");
        if message.is_empty() {
            assert!(
                actual.ends_with("is more than a day in the future; `at` is unix time in milliseconds"),
                "{actual}"
            );
        } else {
            assert_eq!(actual, message);
        }
    }
    assert_error(
        &host.post("acme", MODULE, "/points", json!({"point": []})).await,
        400,
        "bad-request",
        "the request body is not valid JSON for this endpoint: unknown field `point`, expected `points` at line 1 column 8",
    );
    let three_hours = format!("/reports/{METRIC}?from={t}&to={}", t + 3 * HOUR);
    let mut expected = hourly.clone();
    expected["to"] = json!(t + 3 * HOUR);
    assert_eq!(
        host.get("acme", MODULE, &three_hours).await.expect(200),
        expected,
        "refused batches stored nothing"
    );

    // Bad reports.
    let bad_reports = [
        (format!("/reports/{METRIC}?period=week"), 400, "unknown period `week`; use `hour` or `day`".to_owned()),
        (
            format!("/reports/{METRIC}?from={t}&to={t}"),
            400,
            format!("`from` ({t}) must be before `to` ({t})"),
        ),
        (
            format!("/reports/{METRIC}?from=yesterday"),
            400,
            "query parameter `from` has an invalid value `yesterday`; use unix milliseconds".to_owned(),
        ),
        (
            format!("/reports/{METRIC}?from={t}&to={}", t + 745 * HOUR),
            400,
            "the range covers 745 hourly periods; a report covers at most 744; narrow the range or use period=day"
                .to_owned(),
        ),
        (
            format!("/reports/{METRIC}?tag.region=eu"),
            400,
            "metric `checkout_latency_ms` has no tag `region`; its tags are store, channel".to_owned(),
        ),
        (
            format!("/reports/{METRIC}?limit=5"),
            400,
            "unknown query parameter `limit`; use from, to, period and tag.<key>=<value>".to_owned(),
        ),
        (
            "/reports/cpu".to_owned(),
            404,
            "no metric `cpu`; define it first with PUT /metrics/cpu".to_owned(),
        ),
    ];
    for (path, status, message) in bad_reports {
        let reply = host.get("acme", MODULE, &path).await;
        let code = if status == 404 { "not-found" } else { "bad-request" };
        assert_error(&reply, status, code, &message);
    }

    // Deleting the metric deletes its two hourly chunks.
    assert_eq!(
        host.delete("acme", MODULE, &format!("/metrics/{METRIC}"))
            .await
            .expect(200),
        json!({"name": METRIC, "deleted_chunks": 2})
    );
    define_latency(&host, "acme").await;
    assert_eq!(
        host.get("acme", MODULE, &hourly_path).await.expect(200)["periods"],
        json!([]),
        "a redefined metric starts empty"
    );
}

#[tokio::test]
async fn alerts_open_on_a_breach_and_resolve_on_recovery_across_ingests() {
    let host = host_with(&["acme"]).await;
    define_latency(&host, "acme").await;
    let t = base();
    let sp1_web = json!({"store": "sp-01", "channel": "web"});

    let rule = json!({
        "id": "slow-sp01", "metric": METRIC, "tags": {"store": "sp-01"}, "condition": "above", "threshold": 800.0
    });
    assert_eq!(
        host.put(
            "acme",
            MODULE,
            "/rules/slow-sp01",
            json!({"metric": METRIC, "tags": {"store": "sp-01"}, "condition": "above", "threshold": 800})
        )
        .await
        .expect(201),
        rule
    );
    let too_fast =
        json!({"id": "too-fast", "metric": METRIC, "tags": {}, "condition": "below", "threshold": 5.0});
    assert_eq!(
        host.put(
            "acme",
            MODULE,
            "/rules/too-fast",
            json!({"metric": METRIC, "condition": "below", "threshold": 5})
        )
        .await
        .expect(201),
        too_fast
    );
    assert_eq!(
        host.get("acme", MODULE, "/rules/slow-sp01").await.expect(200),
        rule
    );
    assert_eq!(
        host.get("acme", MODULE, "/rules").await.expect(200),
        json!({"rules": [rule, too_fast], "next": null})
    );
    assert_eq!(
        host.get("acme", MODULE, &format!("/rules?metric={METRIC}&limit=1"))
            .await
            .expect(200),
        json!({"rules": [rule], "next": "slow-sp01"})
    );
    assert_eq!(
        host.get("acme", MODULE, &format!("/rules?metric={METRIC}&after=slow-sp01"))
            .await
            .expect(200),
        json!({"rules": [too_fast], "next": null})
    );

    // First ingest: sp-01/web breaches twice (one alert, last value updated); sp-02 is not
    // watched by the filter; 10 is not below 5.
    let first = host
        .post(
            "acme",
            MODULE,
            "/points",
            json!({"points": [
                point(950.0, t + 60_000, sp1_web.clone()),
                point(900.0, t, sp1_web.clone()),
                point(990.0, t, json!({"store": "sp-02", "channel": "web"})),
                point(10.0, t, json!({"store": "sp-02"})),
            ]}),
        )
        .await
        .expect(200);
    let mut alert1 = json!({
        "id": 1, "rule": "slow-sp01", "metric": METRIC, "tags": {"channel": "web", "store": "sp-01"},
        "state": "open", "condition": "above", "threshold": 800.0, "opened_at": t, "resolved_at": null,
        "trigger_value": 900.0, "last_value": 950.0, "resolution": null
    });
    assert_eq!(
        first,
        json!({"stored": 4, "by_metric": {METRIC: 4}, "opened": [alert1], "resolved": [], "pruned_chunks": 0})
    );
    assert_eq!(host.get("acme", MODULE, "/alerts/1").await.expect(200), alert1);
    assert_eq!(
        host.get("acme", MODULE, "/alerts?state=open").await.expect(200),
        json!({"alerts": [alert1], "next": null})
    );
    assert_eq!(
        host.get("acme", MODULE, "/alerts?state=resolved")
            .await
            .expect(200),
        json!({"alerts": [], "next": null})
    );

    // Second ingest: still breached (850), then recovered (700): the alert resolves.
    let second = host
        .post(
            "acme",
            MODULE,
            "/points",
            json!({"points": [
                point(700.0, t + 180_000, sp1_web.clone()),
                point(850.0, t + 120_000, sp1_web.clone()),
            ]}),
        )
        .await
        .expect(200);
    alert1["state"] = json!("resolved");
    alert1["resolved_at"] = json!(t + 180_000);
    alert1["last_value"] = json!(700.0);
    alert1["resolution"] = json!("recovered");
    assert_eq!(
        second,
        json!({"stored": 2, "by_metric": {METRIC: 2}, "opened": [], "resolved": [alert1], "pruned_chunks": 0})
    );
    assert_eq!(host.get("acme", MODULE, "/alerts/1").await.expect(200), alert1);
    assert_eq!(
        host.get("acme", MODULE, "/alerts?state=open").await.expect(200),
        json!({"alerts": [], "next": null})
    );

    // Third ingest: a new tag set of sp-01 breaches, and a too-fast checkout: two alerts.
    let third = host
        .post(
            "acme",
            MODULE,
            "/points",
            json!({"points": [
                point(1200.0, t + 240_000, json!({"store": "sp-01", "channel": "app"})),
                point(3.0, t + 240_000, json!({"store": "sp-02"})),
            ]}),
        )
        .await
        .expect(200);
    let alert2 = json!({
        "id": 2, "rule": "slow-sp01", "metric": METRIC, "tags": {"channel": "app", "store": "sp-01"},
        "state": "open", "condition": "above", "threshold": 800.0, "opened_at": t + 240_000, "resolved_at": null,
        "trigger_value": 1200.0, "last_value": 1200.0, "resolution": null
    });
    let alert3 = json!({
        "id": 3, "rule": "too-fast", "metric": METRIC, "tags": {"store": "sp-02"},
        "state": "open", "condition": "below", "threshold": 5.0, "opened_at": t + 240_000, "resolved_at": null,
        "trigger_value": 3.0, "last_value": 3.0, "resolution": null
    });
    assert_eq!(third["opened"], json!([alert2, alert3]));
    assert_eq!(third["resolved"], json!([]));

    // Listing is newest first and paged by id.
    assert_eq!(
        host.get("acme", MODULE, "/alerts").await.expect(200),
        json!({"alerts": [alert3, alert2, alert1], "next": null})
    );
    assert_eq!(
        host.get("acme", MODULE, "/alerts?limit=2").await.expect(200),
        json!({"alerts": [alert3, alert2], "next": 2})
    );
    assert_eq!(
        host.get("acme", MODULE, "/alerts?limit=2&after=2")
            .await
            .expect(200),
        json!({"alerts": [alert1], "next": null})
    );
    assert_eq!(
        host.get("acme", MODULE, "/alerts?state=open&limit=1")
            .await
            .expect(200),
        json!({"alerts": [alert3], "next": 3})
    );

    // Bad rules, each refused with what to do, storing nothing.
    let refused_rules = [
        (
            json!({"metric": METRIC, "condition": "sideways", "threshold": 1}),
            "unknown condition `sideways`; use `above` or `below`",
        ),
        (
            json!({"metric": METRIC, "condition": "above", "threshold": "high"}),
            "`threshold` must be a finite number, got \"high\"",
        ),
        (
            json!({"metric": "cpu", "condition": "above", "threshold": 1}),
            "no metric `cpu`; define it first with PUT /metrics/cpu",
        ),
        (
            json!({"metric": METRIC, "tags": {"region": "eu"}, "condition": "above", "threshold": 1}),
            "rule filter: metric `checkout_latency_ms` has no tag `region`; its tags are store, channel",
        ),
    ];
    for (body, message) in refused_rules {
        assert_error(
            &host.put("acme", MODULE, "/rules/bad", body).await,
            422,
            "unprocessable",
            message,
        );
    }
    assert_error(
        &host
            .put(
                "acme",
                MODULE,
                "/rules/a%20b",
                json!({"metric": METRIC, "condition": "above", "threshold": 1}),
            )
            .await,
        400,
        "bad-request",
        "invalid rule id `a b`; use 1 to 64 characters of A-Z, a-z, 0-9, `.`, `_` and `-`",
    );
    assert_error(
        &host.get("acme", MODULE, "/rules/bad").await,
        404,
        "not-found",
        "no rule `bad`",
    );
    assert_eq!(
        host.get("acme", MODULE, "/rules").await.expect(200),
        json!({"rules": [rule, too_fast], "next": null}),
        "refused rules stored nothing"
    );
    assert_error(
        &host.get("acme", MODULE, "/alerts/999").await,
        404,
        "not-found",
        "no alert `999`",
    );
    assert_error(
        &host.get("acme", MODULE, "/alerts/abc").await,
        400,
        "bad-request",
        "invalid alert id `abc`; alert ids are whole numbers from 1",
    );
    assert_error(
        &host.get("acme", MODULE, "/alerts?state=closed").await,
        400,
        "bad-request",
        "unknown alert state `closed`; use `open` or `resolved`",
    );

    // The metric cannot go, nor lose a tag a rule filters on, while rules watch it.
    assert_error(
        &host.delete("acme", MODULE, &format!("/metrics/{METRIC}")).await,
        409,
        "conflict",
        "metric `checkout_latency_ms` is watched by rule `slow-sp01`; delete its rules first (DELETE /rules/slow-sp01)",
    );
    assert_error(
        &host
            .put(
                "acme",
                MODULE,
                &format!("/metrics/{METRIC}"),
                json!({"unit": "ms", "tags": ["channel"]}),
            )
            .await,
        409,
        "conflict",
        "rule `slow-sp01` filters on tag `store`, which the new definition of `checkout_latency_ms` drops; \
         change or delete the rule first",
    );
    assert_eq!(
        host.get("acme", MODULE, &format!("/metrics/{METRIC}"))
            .await
            .expect(200)["tags"],
        json!(["store", "channel"])
    );

    // Re-pointing the rule to sp-02 resolves the alert of the sp-01 tag set it no longer watches.
    let before_change = now_ms();
    let moved = json!({
        "id": "slow-sp01", "metric": METRIC, "tags": {"store": "sp-02"}, "condition": "above", "threshold": 800.0
    });
    assert_eq!(
        host.put(
            "acme",
            MODULE,
            "/rules/slow-sp01",
            json!({"metric": METRIC, "tags": {"store": "sp-02"}, "condition": "above", "threshold": 800})
        )
        .await
        .expect(200),
        moved
    );
    let changed = host.get("acme", MODULE, "/alerts/2").await.expect(200);
    assert_eq!(
        (&changed["state"], &changed["resolution"], &changed["last_value"]),
        (&json!("resolved"), &json!("rule_changed"), &json!(1200.0))
    );
    assert!(changed["resolved_at"].as_i64().unwrap() >= before_change);

    // Deleting a rule resolves its open alerts.
    assert_eq!(
        host.delete("acme", MODULE, "/rules/too-fast").await.expect(200),
        json!({"id": "too-fast", "resolved_alerts": [3]})
    );
    assert_eq!(
        host.get("acme", MODULE, "/alerts/3").await.expect(200)["resolution"],
        json!("rule_deleted")
    );
    assert_error(
        &host.delete("acme", MODULE, "/rules/too-fast").await,
        404,
        "not-found",
        "no rule `too-fast`",
    );
    assert_eq!(
        host.delete("acme", MODULE, "/rules/slow-sp01").await.expect(200),
        json!({"id": "slow-sp01", "resolved_alerts": []})
    );
    assert_eq!(
        host.get("acme", MODULE, "/alerts?state=open").await.expect(200),
        json!({"alerts": [], "next": null})
    );
    assert_eq!(
        host.get("acme", MODULE, "/rules").await.expect(200),
        json!({"rules": [], "next": null})
    );
    assert_eq!(
        host.delete("acme", MODULE, &format!("/metrics/{METRIC}"))
            .await
            .expect(200),
        json!({"name": METRIC, "deleted_chunks": 1})
    );
}

#[tokio::test]
async fn config_bounds_batches_retention_and_reports() {
    let host = host_with(&["acme"]).await;
    define_latency(&host, "acme").await;
    let t = base();
    let web = json!({"channel": "web"});
    let batch = |count: usize, at: i64| json!({"points": (0..count).map(|index| point(index as f64, at, web.clone())).collect::<Vec<_>>()});

    host.set_config("acme", MODULE, json!({"max_points_per_batch": 2}))
        .await;
    assert_error(
        &host.post("acme", MODULE, "/points", batch(3, t)).await,
        422,
        "unprocessable",
        "the batch has 3 points; this tenant accepts at most 2 per batch (max_points_per_batch); split it",
    );
    assert_eq!(
        host.post("acme", MODULE, "/points", batch(2, t))
            .await
            .expect(200)["stored"],
        2
    );

    // Both points in one report read 2 points: over a limit of 1.
    let report = format!("/reports/{METRIC}?from={t}&to={}", t + HOUR);
    host.set_config("acme", MODULE, json!({"max_report_points": 1}))
        .await;
    assert_error(
        &host.get("acme", MODULE, &report).await,
        422,
        "unprocessable",
        "the range holds more than 1 points (max_report_points); narrow the range",
    );
    host.set_config("acme", MODULE, json!({"max_report_points": 2}))
        .await;
    assert_eq!(
        host.get("acme", MODULE, &report).await.expect(200)["periods"][0]["series"][0]["count"],
        2
    );

    // The points are three days old: a one-day retention refuses such points, hides the stored
    // ones from reports and prunes their chunk on the next ingest.
    host.set_config("acme", MODULE, json!({"retention_days": 1}))
        .await;
    let old = t + HOUR;
    assert_error(
        &host.post("acme", MODULE, "/points", batch(1, old)).await,
        422,
        "unprocessable",
        &format!(
            "point 0: `at` {old} is older than this tenant's retention (retention_days = 1); send points from \
             the retention window"
        ),
    );
    assert_eq!(
        host.get("acme", MODULE, &report).await.expect(200)["periods"],
        json!([])
    );
    let now = now_ms();
    assert_eq!(
        host.post(
            "acme",
            MODULE,
            "/points",
            json!({"points": [point(1.0, now, web.clone())]})
        )
        .await
        .expect(200),
        json!({"stored": 1, "by_metric": {METRIC: 1}, "opened": [], "resolved": [], "pruned_chunks": 1})
    );
    host.set_config("acme", MODULE, json!({"retention_days": 90}))
        .await;
    assert_eq!(
        host.get("acme", MODULE, &report).await.expect(200)["periods"],
        json!([]),
        "the pruned chunk is gone for good"
    );
    assert_eq!(
        host.delete("acme", MODULE, &format!("/metrics/{METRIC}"))
            .await
            .expect(200),
        json!({"name": METRIC, "deleted_chunks": 1})
    );
}

#[tokio::test]
async fn a_full_batch_rolls_into_further_chunks_and_reports_over_all_of_them() {
    let host = host_with(&["acme"]).await;
    define_latency(&host, "acme").await;
    let t = base();
    // The default max_points_per_batch: 1000 points, values 1..=1000, all in one hour.
    let points: Vec<Value> = (1..=1000)
        .map(|value| point(f64::from(value), t + i64::from(value), json!({"store": "sp-01"})))
        .collect();
    assert_eq!(
        host.post("acme", MODULE, "/points", json!({"points": points}))
            .await
            .expect(200)["stored"],
        1000
    );
    // One more point in the same hour: both chunks of 500 are full, so it starts a third.
    host.post(
        "acme",
        MODULE,
        "/points",
        json!({"points": [point(1001.0, t + 2000, json!({"store": "sp-02"}))]}),
    )
    .await
    .expect(200);
    // 1..=1000: avg 500.5; nearest-rank p95 is the 950th value.
    assert_eq!(
        host.get(
            "acme",
            MODULE,
            &format!("/reports/{METRIC}?from={t}&to={}&tag.store=sp-01", t + HOUR)
        )
        .await
        .expect(200)["periods"],
        json!([{"start": t, "end": t + HOUR, "series": [
            {"tags": {"store": "sp-01"}, "count": 1000, "avg": 500.5, "min": 1.0, "max": 1000.0, "p95": 950.0}
        ]}])
    );
    assert_eq!(
        host.delete("acme", MODULE, &format!("/metrics/{METRIC}"))
            .await
            .expect(200),
        json!({"name": METRIC, "deleted_chunks": 3})
    );
}

#[tokio::test]
async fn a_second_tenant_sees_none_of_the_first_tenants_data() {
    let host = host_with(&["acme", "globex"]).await;
    define_latency(&host, "acme").await;
    let t = base();
    host.put(
        "acme",
        MODULE,
        "/rules/slow",
        json!({"metric": METRIC, "condition": "above", "threshold": 800}),
    )
    .await
    .expect(201);
    let ingested = host
        .post(
            "acme",
            MODULE,
            "/points",
            json!({"points": [point(900.0, t, json!({"store": "sp-01"}))]}),
        )
        .await
        .expect(200);
    assert_eq!(ingested["opened"][0]["id"], 1);

    assert_eq!(
        host.get("globex", MODULE, "/metrics").await.expect(200),
        json!({"metrics": [], "next": null})
    );
    assert_error(
        &host.get("globex", MODULE, &format!("/metrics/{METRIC}")).await,
        404,
        "not-found",
        "no metric `checkout_latency_ms`; define it first with PUT /metrics/checkout_latency_ms",
    );
    assert_error(
        &host.get("globex", MODULE, &format!("/reports/{METRIC}")).await,
        404,
        "not-found",
        "no metric `checkout_latency_ms`; define it first with PUT /metrics/checkout_latency_ms",
    );
    assert_eq!(
        host.get("globex", MODULE, "/rules").await.expect(200),
        json!({"rules": [], "next": null})
    );
    assert_error(
        &host.get("globex", MODULE, "/rules/slow").await,
        404,
        "not-found",
        "no rule `slow`",
    );
    assert_eq!(
        host.get("globex", MODULE, "/alerts").await.expect(200),
        json!({"alerts": [], "next": null})
    );
    assert_error(
        &host.get("globex", MODULE, "/alerts/1").await,
        404,
        "not-found",
        "no alert `1`",
    );

    // The same names are free in globex and start empty.
    define_latency(&host, "globex").await;
    let report = format!("/reports/{METRIC}?from={t}&to={}", t + HOUR);
    assert_eq!(
        host.get("globex", MODULE, &report).await.expect(200)["periods"],
        json!([])
    );
    assert_eq!(
        host.get("acme", MODULE, &report).await.expect(200)["periods"][0]["series"][0]["count"],
        1
    );
}
