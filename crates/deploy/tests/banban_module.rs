//! BanBan's custom module through the real loader and runtime: every endpoint, calling the
//! tenant's real inventory (1.0 and 1.1) through `modules.call`, with its errors and config.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "test code: a failed expectation is a failed test"
)]

mod support;

use modhost_registry::TenantKind;
use serde_json::{Value, json};
use support::*;

const TENANT: &str = "banban";

/// The banban tenant with `inventory_version` and its own module; stores `sp-01`, `rj-02`
/// and warehouse `cd`; style `TS` in sizes P, M, G and colours branco, preto (no G branco).
async fn banban_with(inventory_version: &str) -> ModuleHost {
    let host = ModuleHost::start();
    host.tenant(TENANT, TenantKind::Custom);
    host.publish("inventory@1.0.0", None);
    host.publish("inventory@1.1.0", None);
    host.publish("banban@1.0.0", Some(TENANT));
    host.promote(TENANT, "inventory", inventory_version)
        .await
        .expect("inventory");
    host.promote(TENANT, "banban", "1.0.0")
        .await
        .expect("banban passes its smoke tests against the inventory");
    for (id, kind) in [("sp-01", "store"), ("rj-02", "store"), ("cd", "warehouse")] {
        inventory(
            &host,
            "PUT",
            &format!("/locations/{id}"),
            json!({ "name": id, "kind": kind }),
        )
        .await;
    }
    for (size, colour) in [
        ("P", "preto"),
        ("M", "preto"),
        ("G", "preto"),
        ("P", "branco"),
        ("M", "branco"),
    ] {
        let sku = format!("TS-{size}-{}", &colour[..3].to_uppercase());
        inventory(
            &host,
            "PUT",
            &format!("/products/{sku}"),
            json!({ "name": "Camiseta", "price_cents": 7990, "attributes": { "style": "TS", "size": size, "colour": colour } }),
        )
        .await;
    }
    inventory(
        &host,
        "PUT",
        "/products/BAG-1",
        json!({ "name": "Bolsa", "price_cents": 19990, "attributes": { "style": "BAG" } }),
    )
    .await;
    host
}

/// Calls the tenant's inventory directly; the call must succeed.
async fn inventory(host: &ModuleHost, method: &str, path: &str, body: Value) -> Value {
    let reply = match method {
        "PUT" => host.put(TENANT, "inventory", path, body).await,
        "POST" => host.post(TENANT, "inventory", path, body).await,
        other => panic!("unexpected method {other}"),
    };
    assert!(
        reply.status < 300,
        "{method} {path}: {} {}",
        reply.status,
        reply.json
    );
    reply.json
}

async fn receive(host: &ModuleHost, sku: &str, location: &str, quantity: i64) {
    inventory(
        host,
        "POST",
        "/movements",
        json!({ "kind": "receive", "sku": sku, "location": location, "quantity": quantity }),
    )
    .await;
}

async fn sell(host: &ModuleHost, sku: &str, location: &str, quantity: i64) {
    inventory(
        host,
        "POST",
        "/movements",
        json!({ "kind": "sell", "sku": sku, "location": location, "quantity": quantity }),
    )
    .await;
}

async fn banban(host: &ModuleHost, path: &str) -> Reply {
    host.get(TENANT, "banban", path).await
}

/// The grid's rows as `(size, [units or None per colour], total)`.
fn rows(grid: &Value) -> Vec<(String, Vec<Option<i64>>, i64)> {
    grid["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|row| {
            (
                row["size"].as_str().expect("size").to_owned(),
                row["cells"]
                    .as_array()
                    .expect("cells")
                    .iter()
                    .map(|cell| cell["units"].as_i64())
                    .collect(),
                row["total"].as_i64().expect("total"),
            )
        })
        .collect()
}

fn row(size: &str, cells: &[Option<i64>], total: i64) -> (String, Vec<Option<i64>>, i64) {
    (size.to_owned(), cells.to_vec(), total)
}

#[tokio::test]
async fn the_grid_shows_a_styles_stock_by_size_and_colour() {
    let host = banban_with("1.1.0").await;
    receive(&host, "TS-P-PRE", "sp-01", 3).await;
    receive(&host, "TS-P-PRE", "rj-02", 1).await;
    receive(&host, "TS-M-PRE", "sp-01", 5).await;
    receive(&host, "TS-M-BRA", "cd", 12).await;

    let grid = banban(&host, "/grid/TS").await.expect(200);
    assert_eq!(grid["style"], "TS");
    assert_eq!(grid["colours"], json!(["branco", "preto"]));
    assert_eq!(
        rows(&grid),
        [
            row("P", &[Some(0), Some(4)], 4),
            row("M", &[Some(12), Some(5)], 17),
            row("G", &[None, Some(0)], 0),
        ]
    );
    assert_eq!(grid["rows"][0]["cells"][1]["sku"], "TS-P-PRE");
    assert_eq!(grid["colour_totals"], json!([12, 9]));
    assert_eq!(grid["total"], 21);
    assert_eq!(grid["unplaced"], json!([]));

    let at_store = banban(&host, "/grid/TS?location=sp-01").await.expect(200);
    assert_eq!(at_store["location"], "sp-01");
    assert_eq!(at_store["colour_totals"], json!([0, 8]));

    // Reserved units (inventory 1.1) are not available, so the grid leaves them out.
    inventory(
        &host,
        "POST",
        "/reservations",
        json!({ "sku": "TS-M-PRE", "location": "sp-01", "quantity": 2 }),
    )
    .await;
    let reserved = banban(&host, "/grid/TS?location=sp-01").await.expect(200);
    assert_eq!(rows(&reserved)[1], row("M", &[Some(0), Some(3)], 3));

    // The tenant's size order decides the rows' order.
    host.set_config(TENANT, "banban", json!({ "size_order": "G, M, P" }))
        .await;
    let reordered = banban(&host, "/grid/TS").await.expect(200);
    let sizes: Vec<&str> = reordered["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|row| row["size"].as_str().expect("size"))
        .collect();
    assert_eq!(sizes, ["G", "M", "P"]);

    let bag = banban(&host, "/grid/BAG").await.expect(200);
    assert_eq!(bag["unplaced"], json!(["BAG-1"]));
    assert_eq!(bag["rows"], json!([]));
}

#[tokio::test]
async fn grid_errors_name_what_is_wrong() {
    let host = banban_with("1.1.0").await;
    for (path, status, code, message) in [
        (
            "/grid/JK",
            404,
            "not-found",
            "no products of style `JK`; give products the attribute style = \"JK\" in the inventory",
        ),
        (
            "/grid/TS?location=bh-03",
            404,
            "not-found",
            "no location `bh-03` in the inventory",
        ),
        (
            "/grid/T%20S",
            400,
            "bad-request",
            "style `T S` is not valid; use 1 to 64 letters, digits, `.`, `_` or `-`",
        ),
        (
            "/grid/TS?store=sp-01",
            400,
            "bad-request",
            "unknown query parameter `store`; this endpoint takes location",
        ),
    ] {
        let reply = banban(&host, path).await;
        assert_eq!((reply.status, reply.error()), (status, (code, message)), "{path}");
    }
}

#[tokio::test]
async fn transfer_suggestions_even_out_store_stock() {
    let host = banban_with("1.1.0").await;
    receive(&host, "TS-M-PRE", "sp-01", 10).await;
    receive(&host, "TS-P-PRE", "sp-01", 3).await;
    receive(&host, "TS-P-PRE", "rj-02", 2).await;
    receive(&host, "TS-M-BRA", "cd", 40).await; // warehouse stock is not a store imbalance

    let suggestions = banban(&host, "/transfers/suggestions").await.expect(200);
    assert_eq!(suggestions["stores"], json!(["rj-02", "sp-01"]));
    assert_eq!(suggestions["min_units"], 2);
    assert_eq!(
        suggestions["suggestions"],
        json!([{ "sku": "TS-M-PRE", "from": "sp-01", "to": "rj-02", "quantity": 5, "from_units": 10, "to_units": 0 }])
    );

    let none_that_small = banban(&host, "/transfers/suggestions?min_units=6")
        .await
        .expect(200);
    assert_eq!(none_that_small["suggestions"], json!([]));
    host.set_config(TENANT, "banban", json!({ "min_transfer_units": 6 }))
        .await;
    let configured = banban(&host, "/transfers/suggestions").await.expect(200);
    assert_eq!(
        (configured["min_units"].clone(), configured["suggestions"].clone()),
        (json!(6), json!([]))
    );
    let other_style = banban(&host, "/transfers/suggestions?style=BAG&min_units=1")
        .await
        .expect(200);
    assert_eq!(other_style["suggestions"], json!([]));

    let bad = banban(&host, "/transfers/suggestions?min_units=0").await;
    assert_eq!(
        (bad.status, bad.error()),
        (
            400,
            (
                "bad-request",
                "`min_units` must be a whole number from 1 to 1000000, not `0`"
            )
        )
    );
}

#[tokio::test]
async fn sell_through_compares_sales_with_stock_on_hand() {
    let host = banban_with("1.1.0").await;
    receive(&host, "TS-P-PRE", "sp-01", 4).await;
    receive(&host, "TS-M-PRE", "rj-02", 2).await;
    sell(&host, "TS-P-PRE", "sp-01", 3).await;
    sell(&host, "TS-M-PRE", "rj-02", 1).await;
    sell(&host, "TS-M-PRE", "rj-02", 1).await;

    let report = banban(&host, "/reports/sell-through?style=TS").await.expect(200);
    assert_eq!(report["days"], 30);
    assert_eq!(report["style"], "TS");
    let lines: Vec<(String, i64, i64, Value)> = report["skus"]
        .as_array()
        .expect("skus")
        .iter()
        .map(|line| {
            (
                line["id"].as_str().expect("id").to_owned(),
                line["sold"].as_i64().expect("sold"),
                line["on_hand"].as_i64().expect("on_hand"),
                line["sell_through_pct"].clone(),
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            ("TS-M-PRE".to_owned(), 2, 0, json!(100.0)),
            ("TS-P-PRE".to_owned(), 3, 1, json!(75.0)),
            ("TS-G-PRE".to_owned(), 0, 0, Value::Null),
            ("TS-M-BRA".to_owned(), 0, 0, Value::Null),
            ("TS-P-BRA".to_owned(), 0, 0, Value::Null),
        ]
    );
    assert_eq!(
        report["styles"],
        json!([{ "id": "TS", "sold": 5, "on_hand": 1, "sell_through_pct": 83.3 }])
    );
    assert_eq!(report["total"]["sell_through_pct"], 83.3);

    for (path, message) in [
        (
            "/reports/sell-through?days=0",
            "`days` must be a whole number from 1 to 365, not `0`",
        ),
        (
            "/reports/sell-through?days=soon",
            "`days` must be a whole number from 1 to 365, not `soon`",
        ),
        (
            "/reports/sell-through?period=7",
            "unknown query parameter `period`; this endpoint takes days, style",
        ),
    ] {
        let reply = banban(&host, path).await;
        assert_eq!(
            (reply.status, reply.error()),
            (400, ("bad-request", message)),
            "{path}"
        );
    }
}

#[tokio::test]
async fn banban_reads_inventory_1_0_and_keeps_working_across_its_upgrade() {
    let host = banban_with("1.0.0").await;
    receive(&host, "TS-M-PRE", "sp-01", 6).await;
    let under_1_0 = banban(&host, "/grid/TS").await.expect(200);
    assert_eq!(rows(&under_1_0)[1], row("M", &[Some(0), Some(6)], 6));

    host.promote(TENANT, "inventory", "1.1.0").await.expect("upgrade");
    let under_1_1 = banban(&host, "/grid/TS").await.expect(200);
    assert_eq!(
        under_1_1, under_1_0,
        "the same stock, read through the migrated inventory"
    );
    let suggestions = banban(&host, "/transfers/suggestions").await.expect(200);
    assert_eq!(suggestions["suggestions"][0]["quantity"], 3);
}
