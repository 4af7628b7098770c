//! The inventory module (1.0.0 and 1.1.0) through the real loader and runtime on the real on-disk store:
//! every endpoint, its errors, the tenant's config, and the 1.0 → 1.1 migration with rollback.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "test code: a failed expectation is a failed test"
)]

mod support;

use modhost_deploy::DeployError;
use modhost_registry::{RollbackTarget, TenantKind};
use serde_json::{Value, json};
use support::*;

const INVENTORY: &str = "inventory";

/// acme runs inventory `version`, with a store `sp-01` and a warehouse `wh`.
async fn host_with(version: &str) -> ModuleHost {
    let host = ModuleHost::start();
    host.tenant("acme", TenantKind::Standard);
    host.publish("inventory@1.0.0", None);
    host.publish("inventory@1.1.0", None);
    host.promote("acme", INVENTORY, version)
        .await
        .unwrap_or_else(|error| panic!("promote {version}: {error}"));
    for (id, name, kind) in [("sp-01", "São Paulo", "store"), ("wh", "Warehouse", "warehouse")] {
        host.put(
            "acme",
            INVENTORY,
            &format!("/locations/{id}"),
            json!({ "name": name, "kind": kind }),
        )
        .await
        .expect(201);
    }
    host
}

async fn product(host: &ModuleHost, sku: &str, size: &str, colour: &str) {
    host.put(
        "acme",
        INVENTORY,
        &format!("/products/{sku}"),
        json!({ "name": "Basic tee", "price_cents": 4990, "attributes": { "style": "TS", "size": size, "colour": colour } }),
    )
    .await
    .expect(201);
}

async fn movement(host: &ModuleHost, body: Value) -> Reply {
    host.post("acme", INVENTORY, "/movements", body).await
}

async fn stock(host: &ModuleHost, sku: &str) -> Value {
    host.get("acme", INVENTORY, &format!("/stock/{sku}"))
        .await
        .expect(200)
}

/// `(location, on_hand)` of every row of a `/stock/{sku}` answer.
fn on_hand(stock: &Value) -> Vec<(String, i64)> {
    stock["locations"]
        .as_array()
        .expect("locations")
        .iter()
        .map(|row| {
            (
                row["location"].as_str().expect("location").to_owned(),
                row["on_hand"].as_i64().expect("on_hand"),
            )
        })
        .collect()
}

fn pairs(expected: &[(&str, i64)]) -> Vec<(String, i64)> {
    expected
        .iter()
        .map(|(location, units)| ((*location).to_owned(), *units))
        .collect()
}

#[tokio::test]
async fn products_and_locations_are_created_replaced_listed_and_checked() {
    let host = host_with("1.1.0").await;
    let locations = host.get("acme", INVENTORY, "/locations").await.expect(200);
    assert_eq!(
        locations,
        json!({ "locations": [
            { "id": "sp-01", "name": "São Paulo", "kind": "store" },
            { "id": "wh", "name": "Warehouse", "kind": "warehouse" },
        ]})
    );
    let renamed = host
        .put(
            "acme",
            INVENTORY,
            "/locations/sp-01",
            json!({ "name": "São Paulo Centro" }),
        )
        .await
        .expect(200);
    assert_eq!(renamed["name"], "São Paulo Centro");

    product(&host, "TS-M-BLK", "M", "black").await;
    let replaced = host
        .put(
            "acme",
            INVENTORY,
            "/products/TS-M-BLK",
            json!({ "name": "Basic tee v2", "price_cents": 5990, "attributes": { "style": "TS", "size": "M", "colour": "black" } }),
        )
        .await
        .expect(200);
    assert_eq!(replaced["price_cents"], 5990);
    let read = host
        .get("acme", INVENTORY, "/products/TS-M-BLK")
        .await
        .expect(200);
    assert_eq!(read["name"], "Basic tee v2");
    assert_eq!(
        read["attributes"],
        json!({ "style": "TS", "size": "M", "colour": "black" })
    );

    // Refusals, each leaving the product as it was.
    let empty_name = host
        .put(
            "acme",
            INVENTORY,
            "/products/TS-M-BLK",
            json!({ "name": "", "price_cents": 1 }),
        )
        .await;
    assert_eq!(empty_name.status, 422);
    assert_eq!(
        empty_name.error(),
        (
            "unprocessable",
            "a product name must have 1 to 200 characters, not 0"
        )
    );
    let unknown_field = host
        .put(
            "acme",
            INVENTORY,
            "/products/TS-M-BLK",
            json!({ "name": "x", "price_cents": 1, "colour": "red" }),
        )
        .await;
    assert_eq!(unknown_field.status, 400);
    assert!(
        unknown_field
            .error()
            .1
            .starts_with("the request body is not valid JSON for this endpoint: unknown field `colour`"),
        "{:?}",
        unknown_field.error()
    );
    let bad_sku = host
        .put(
            "acme",
            INVENTORY,
            "/products/TS%20M",
            json!({ "name": "x", "price_cents": 1 }),
        )
        .await;
    assert_eq!(
        (bad_sku.status, bad_sku.error()),
        (
            400,
            (
                "bad-request",
                "sku `TS M` is not valid; use 1 to 64 letters, digits, `.`, `_` or `-`"
            )
        )
    );
    let again = host
        .get("acme", INVENTORY, "/products/TS-M-BLK")
        .await
        .expect(200);
    assert_eq!(again, read, "refused writes changed nothing");

    let missing = host.get("acme", INVENTORY, "/products/NOPE").await;
    assert_eq!(
        (missing.status, missing.error()),
        (
            404,
            (
                "not-found",
                "no product `NOPE`; create it with PUT /products/NOPE"
            )
        )
    );
    let bad_location = host
        .put(
            "acme",
            INVENTORY,
            "/locations/wh",
            json!({ "name": "W", "kind": "shop" }),
        )
        .await;
    assert_eq!(bad_location.status, 400);
    assert_eq!(
        host.get("acme", INVENTORY, "/locations").await.expect(200)["locations"][1]["kind"],
        "warehouse"
    );
}

#[tokio::test]
async fn movements_change_stock_and_refuse_what_would_make_it_negative() {
    let host = host_with("1.1.0").await;
    product(&host, "TS-M-BLK", "M", "black").await;

    let received = movement(&host, json!({ "kind": "receive", "sku": "TS-M-BLK", "location": "wh", "quantity": 10, "reference": "PO-7" }))
        .await
        .expect(201);
    assert_eq!(received["movement"]["seq"], 1);
    assert_eq!(received["movement"]["reference"], "PO-7");
    assert_eq!(
        received["stock"],
        json!([{ "sku": "TS-M-BLK", "location": "wh", "on_hand": 10, "reserved": 0, "available": 10, "low_stock": false }])
    );
    let transferred = movement(
        &host,
        json!({ "kind": "transfer", "sku": "TS-M-BLK", "from": "wh", "to": "sp-01", "quantity": 4 }),
    )
    .await
    .expect(201);
    assert_eq!(
        transferred["movement"]["changes"],
        json!([{ "location": "wh", "on_hand": -4 }, { "location": "sp-01", "on_hand": 4 }])
    );
    movement(
        &host,
        json!({ "kind": "sell", "sku": "TS-M-BLK", "location": "sp-01", "quantity": 3 }),
    )
    .await
    .expect(201);
    movement(
        &host,
        json!({ "kind": "adjust", "sku": "TS-M-BLK", "location": "sp-01", "delta": -1, "reason": "damaged" }),
    )
    .await
    .expect(201);
    let after = stock(&host, "TS-M-BLK").await;
    assert_eq!(on_hand(&after), pairs(&[("sp-01", 0), ("wh", 6)]));
    assert_eq!(after["total_on_hand"], 6);
    assert_eq!(after["total_available"], 6);
    assert_eq!(after["low_stock_threshold"], 5);
    assert_eq!(after["locations"][0]["low_stock"], true);

    // Every refusal, and that none of them moved stock or took a movement number.
    let refusals = [
        (
            json!({ "kind": "sell", "sku": "TS-M-BLK", "location": "sp-01", "quantity": 1 }),
            422,
            "unprocessable",
            "not enough stock of `TS-M-BLK` at `sp-01`: the movement takes 1 but only 0 are available; \
             stock cannot go negative unless the tenant's allow_negative_stock config is on",
        ),
        (
            json!({ "kind": "transfer", "sku": "TS-M-BLK", "from": "wh", "to": "sp-01", "quantity": 7 }),
            422,
            "unprocessable",
            "not enough stock of `TS-M-BLK` at `wh`: the movement takes 7 but only 6 are available; \
             stock cannot go negative unless the tenant's allow_negative_stock config is on",
        ),
        (
            json!({ "kind": "receive", "sku": "NOPE", "location": "wh", "quantity": 1 }),
            404,
            "not-found",
            "no product `NOPE`; create it with PUT /products/NOPE",
        ),
        (
            json!({ "kind": "receive", "sku": "TS-M-BLK", "location": "rj-02", "quantity": 1 }),
            404,
            "not-found",
            "no location `rj-02`; create it with PUT /locations/rj-02",
        ),
        (
            json!({ "kind": "receive", "sku": "TS-M-BLK", "location": "wh", "quantity": -3 }),
            422,
            "unprocessable",
            "quantity must be between 1 and 1000000, not -3",
        ),
        (
            json!({ "kind": "transfer", "sku": "TS-M-BLK", "from": "wh", "to": "wh", "quantity": 1 }),
            422,
            "unprocessable",
            "a transfer needs two different locations; both are `wh`",
        ),
        (
            json!({ "kind": "adjust", "sku": "TS-M-BLK", "location": "wh", "delta": 2 }),
            400,
            "bad-request",
            "an adjust movement needs a `reason` (e.g. \"stock count\" or \"damaged\")",
        ),
        (
            json!({ "kind": "sell", "sku": "TS-M-BLK", "quantity": 1 }),
            400,
            "bad-request",
            "a sell movement needs `location`",
        ),
    ];
    for (body, status, code, message) in refusals {
        let reply = movement(&host, body.clone()).await;
        assert_eq!((reply.status, reply.error()), (status, (code, message)), "{body}");
    }
    let unknown_kind = movement(
        &host,
        json!({ "kind": "steal", "sku": "TS-M-BLK", "location": "wh", "quantity": 1 }),
    )
    .await;
    assert_eq!(unknown_kind.status, 400);
    assert!(
        unknown_kind.error().1.contains("unknown variant `steal`"),
        "{:?}",
        unknown_kind.error()
    );
    assert_eq!(
        stock(&host, "TS-M-BLK").await,
        after,
        "refused movements changed nothing"
    );
    let history = host.get("acme", INVENTORY, "/movements").await.expect(200);
    assert_eq!(history["movements"].as_array().map(Vec::len), Some(4));

    // The tenant's config allows negative stock: the same sale now goes through.
    host.set_config("acme", INVENTORY, json!({ "allow_negative_stock": true }))
        .await;
    let oversold = movement(
        &host,
        json!({ "kind": "sell", "sku": "TS-M-BLK", "location": "sp-01", "quantity": 2 }),
    )
    .await
    .expect(201);
    assert_eq!(oversold["stock"][0]["on_hand"], -2);
}

#[tokio::test]
async fn stock_is_queried_by_sku_by_location_and_by_threshold() {
    let host = host_with("1.1.0").await;
    for (sku, size, colour) in [
        ("TS-M-BLK", "M", "black"),
        ("TS-L-BLK", "L", "black"),
        ("TS-M-WHT", "M", "white"),
    ] {
        product(&host, sku, size, colour).await;
    }
    for (sku, location, quantity) in [
        ("TS-M-BLK", "sp-01", 2),
        ("TS-L-BLK", "sp-01", 9),
        ("TS-M-WHT", "wh", 30),
    ] {
        movement(
            &host,
            json!({ "kind": "receive", "sku": sku, "location": location, "quantity": quantity }),
        )
        .await
        .expect(201);
    }

    let at_store = host
        .get("acme", INVENTORY, "/locations/sp-01/stock")
        .await
        .expect(200);
    assert_eq!(
        at_store["items"],
        json!([
            { "sku": "TS-L-BLK", "location": "sp-01", "on_hand": 9, "reserved": 0, "available": 9, "low_stock": false },
            { "sku": "TS-M-BLK", "location": "sp-01", "on_hand": 2, "reserved": 0, "available": 2, "low_stock": true },
        ])
    );
    let first = host
        .get("acme", INVENTORY, "/locations/sp-01/stock?limit=1")
        .await
        .expect(200);
    assert_eq!(first["items"][0]["sku"], "TS-L-BLK");
    assert_eq!(first["next"], "TS-L-BLK");
    let second = host
        .get("acme", INVENTORY, "/locations/sp-01/stock?limit=1&after=TS-L-BLK")
        .await
        .expect(200);
    assert_eq!(second["items"][0]["sku"], "TS-M-BLK");
    assert_eq!(second["next"], Value::Null);
    let unknown = host.get("acme", INVENTORY, "/locations/rj-02/stock").await;
    assert_eq!(
        (unknown.status, unknown.error()),
        (
            404,
            (
                "not-found",
                "no location `rj-02`; create it with PUT /locations/rj-02"
            )
        )
    );

    let low = host.get("acme", INVENTORY, "/low-stock").await.expect(200);
    assert_eq!(low["low_stock_threshold"], 5);
    let low_skus: Vec<&str> = low["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|row| row["sku"].as_str().expect("sku"))
        .collect();
    assert_eq!(low_skus, ["TS-M-BLK"]);
    host.set_config("acme", INVENTORY, json!({ "low_stock_threshold": 10 }))
        .await;
    let low = host.get("acme", INVENTORY, "/low-stock").await.expect(200);
    let low_skus: Vec<&str> = low["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|row| row["sku"].as_str().expect("sku"))
        .collect();
    assert_eq!(low_skus, ["TS-L-BLK", "TS-M-BLK"]);

    let blacks = host
        .get("acme", INVENTORY, "/products?attr.colour=black&include=stock")
        .await
        .expect(200);
    let skus: Vec<&str> = blacks["products"]
        .as_array()
        .expect("products")
        .iter()
        .map(|product| product["sku"].as_str().expect("sku"))
        .collect();
    assert_eq!(skus, ["TS-L-BLK", "TS-M-BLK"]);
    assert_eq!(blacks["products"][0]["stock"][0]["on_hand"], 9);
    let paged = host.get("acme", INVENTORY, "/products?limit=2").await.expect(200);
    assert_eq!(paged["next"], "TS-M-BLK");
    let rest = host
        .get("acme", INVENTORY, "/products?limit=2&after=TS-M-BLK")
        .await
        .expect(200);
    assert_eq!(rest["products"][0]["sku"], "TS-M-WHT");
    assert_eq!(rest["next"], Value::Null);

    for (path, message) in [
        (
            "/products?colour=black",
            "unknown query parameter `colour`; this endpoint takes after, limit, include, attr.<name>",
        ),
        (
            "/products?limit=0",
            "limit must be a whole number from 1 to 200, not `0`",
        ),
        (
            "/products?include=prices",
            "include can only be `stock`, not `prices`",
        ),
        (
            "/low-stock?limit=5000",
            "limit must be a whole number from 1 to 200, not `5000`",
        ),
    ] {
        let reply = host.get("acme", INVENTORY, path).await;
        assert_eq!(
            (reply.status, reply.error()),
            (400, ("bad-request", message)),
            "{path}"
        );
    }
    let unknown_sku = host.get("acme", INVENTORY, "/stock/NOPE").await;
    assert_eq!(
        (unknown_sku.status, unknown_sku.error()),
        (
            404,
            (
                "not-found",
                "no product `NOPE`; create it with PUT /products/NOPE"
            )
        )
    );
}

#[tokio::test]
async fn movement_history_is_filtered_and_paged() {
    let host = host_with("1.1.0").await;
    product(&host, "A", "M", "black").await;
    product(&host, "B", "L", "black").await;
    for body in [
        json!({ "kind": "receive", "sku": "A", "location": "wh", "quantity": 10 }),
        json!({ "kind": "receive", "sku": "B", "location": "wh", "quantity": 10 }),
        json!({ "kind": "transfer", "sku": "A", "from": "wh", "to": "sp-01", "quantity": 5 }),
        json!({ "kind": "sell", "sku": "A", "location": "sp-01", "quantity": 1 }),
        json!({ "kind": "sell", "sku": "B", "location": "wh", "quantity": 2 }),
    ] {
        movement(&host, body).await.expect(201);
    }
    let seqs = |reply: &Value| -> Vec<u64> {
        reply["movements"]
            .as_array()
            .expect("movements")
            .iter()
            .map(|movement| movement["seq"].as_u64().expect("seq"))
            .collect()
    };
    let all = host.get("acme", INVENTORY, "/movements").await.expect(200);
    assert_eq!(seqs(&all), [1, 2, 3, 4, 5]);
    assert_eq!(all["next"], Value::Null);
    let of_a = host.get("acme", INVENTORY, "/movements?sku=A").await.expect(200);
    assert_eq!(seqs(&of_a), [1, 3, 4]);
    let sells = host
        .get("acme", INVENTORY, "/movements?kind=sell")
        .await
        .expect(200);
    assert_eq!(seqs(&sells), [4, 5]);
    let at_store = host
        .get("acme", INVENTORY, "/movements?location=sp-01")
        .await
        .expect(200);
    assert_eq!(seqs(&at_store), [3, 4]);
    for (query, page, next) in [
        ("limit=2", vec![1, 2], json!(2)),
        ("limit=2&after=2", vec![3, 4], json!(4)),
        ("limit=2&after=4", vec![5], Value::Null),
    ] {
        let reply = host
            .get("acme", INVENTORY, &format!("/movements?{query}"))
            .await
            .expect(200);
        assert_eq!((seqs(&reply), reply["next"].clone()), (page, next), "{query}");
    }
    let recorded_at = all["movements"][0]["at"].as_u64().expect("at");
    let none_before = host
        .get("acme", INVENTORY, &format!("/movements?to={recorded_at}"))
        .await
        .expect(200);
    assert_eq!(seqs(&none_before), Vec::<u64>::new());

    for (path, message) in [
        (
            "/movements?kind=steal",
            "unknown movement kind `steal`; use receive, sell, transfer or adjust",
        ),
        (
            "/movements?page=2",
            "unknown query parameter `page`; this endpoint takes sku, kind, location, from, to, after, limit",
        ),
        ("/movements?from=10&to=5", "`from` (10) must be before `to` (5)"),
        (
            "/movements?after=x",
            "query parameter `after` must be a whole number, not `x`",
        ),
    ] {
        let reply = host.get("acme", INVENTORY, path).await;
        assert_eq!(
            (reply.status, reply.error()),
            (400, ("bad-request", message)),
            "{path}"
        );
    }
}

#[tokio::test]
async fn reservations_hold_units_until_released_or_fulfilled() {
    let host = host_with("1.1.0").await;
    product(&host, "A", "M", "black").await;
    movement(
        &host,
        json!({ "kind": "receive", "sku": "A", "location": "sp-01", "quantity": 6 }),
    )
    .await
    .expect(201);

    let held = host
        .post(
            "acme",
            INVENTORY,
            "/reservations",
            json!({ "sku": "A", "location": "sp-01", "quantity": 4, "reference": "order-1" }),
        )
        .await
        .expect(201);
    let id = held["reservation"]["id"].as_str().expect("id").to_owned();
    assert_eq!(held["stock"]["available"], 2);
    let too_many = host
        .post(
            "acme",
            INVENTORY,
            "/reservations",
            json!({ "sku": "A", "location": "sp-01", "quantity": 3 }),
        )
        .await;
    assert_eq!(
        (too_many.status, too_many.error()),
        (
            422,
            (
                "unprocessable",
                "cannot reserve 3 of `A` at `sp-01`: only 2 available"
            )
        )
    );
    let sale = movement(
        &host,
        json!({ "kind": "sell", "sku": "A", "location": "sp-01", "quantity": 3 }),
    )
    .await;
    assert_eq!(
        sale.error(),
        (
            "unprocessable",
            "not enough stock of `A` at `sp-01`: the movement takes 3 but only 2 are available; \
             stock cannot go negative unless the tenant's allow_negative_stock config is on"
        )
    );
    let listed = host.get("acme", INVENTORY, "/reservations").await.expect(200);
    assert_eq!(listed["reservations"].as_array().map(Vec::len), Some(1));
    let read = host
        .get("acme", INVENTORY, &format!("/reservations/{id}"))
        .await
        .expect(200);
    assert_eq!(read["reference"], "order-1");

    let fulfilled = host
        .post(
            "acme",
            INVENTORY,
            &format!("/reservations/{id}/fulfil"),
            json!({}),
        )
        .await
        .expect(201);
    assert_eq!(fulfilled["movement"]["kind"], "sell");
    assert_eq!(fulfilled["movement"]["reference"], format!("reservation {id}"));
    assert_eq!(
        fulfilled["stock"],
        json!([{ "sku": "A", "location": "sp-01", "on_hand": 2, "reserved": 0, "available": 2, "low_stock": true }])
    );
    let gone = host.get("acme", INVENTORY, &format!("/reservations/{id}")).await;
    assert_eq!(
        (gone.status, gone.error()),
        (404, ("not-found", format!("no reservation `{id}`").as_str()))
    );

    let second = host
        .post(
            "acme",
            INVENTORY,
            "/reservations",
            json!({ "sku": "A", "location": "sp-01", "quantity": 1 }),
        )
        .await
        .expect(201);
    let second_id = second["reservation"]["id"].as_str().expect("id").to_owned();
    let released = host
        .delete("acme", INVENTORY, &format!("/reservations/{second_id}"))
        .await
        .expect(200);
    assert_eq!(released["stock"]["available"], 2);
    assert_eq!(stock(&host, "A").await["total_reserved"], 0);
    let unknown_product = host
        .post(
            "acme",
            INVENTORY,
            "/reservations",
            json!({ "sku": "NOPE", "location": "sp-01", "quantity": 1 }),
        )
        .await;
    assert_eq!(unknown_product.status, 404);
}

#[tokio::test]
async fn upgrading_1_0_to_1_1_migrates_the_data_and_a_rollback_restores_it() {
    let host = host_with("1.0.0").await;
    product(&host, "A", "M", "black").await;
    movement(
        &host,
        json!({ "kind": "receive", "sku": "A", "location": "wh", "quantity": 8 }),
    )
    .await
    .expect(201);
    movement(
        &host,
        json!({ "kind": "transfer", "sku": "A", "from": "wh", "to": "sp-01", "quantity": 3 }),
    )
    .await
    .expect(201);
    let in_1_0 = stock(&host, "A").await;
    assert_eq!(on_hand(&in_1_0), pairs(&[("sp-01", 3), ("wh", 5)]));
    assert_eq!(in_1_0.get("total_available"), None, "1.0 knows no reservations");
    let raw = |host: &ModuleHost| {
        let bytes = host
            .registry
            .kv_get("acme", INVENTORY, "stock/A/wh")
            .expect("kv")
            .expect("a stored level");
        serde_json::from_slice::<Value>(&bytes).expect("json")
    };
    assert_eq!(raw(&host), json!(5), "1.0 stores a bare number");
    let reservations_in_1_0 = host
        .post(
            "acme",
            INVENTORY,
            "/reservations",
            json!({ "sku": "A", "location": "wh", "quantity": 1 }),
        )
        .await;
    assert_eq!(reservations_in_1_0.status, 404, "no reservations route in 1.0");

    let upgrade = host.promote("acme", INVENTORY, "1.1.0").await.expect("upgrade");
    assert_eq!(upgrade.from, Some(version("1.0.0")));
    assert_eq!(
        raw(&host),
        json!({ "on_hand": 5, "reserved": 0 }),
        "1.1 migrated the level"
    );
    let in_1_1 = stock(&host, "A").await;
    assert_eq!(on_hand(&in_1_1), pairs(&[("sp-01", 3), ("wh", 5)]));
    assert_eq!(in_1_1["total_available"], 8);
    let history = host.get("acme", INVENTORY, "/movements?sku=A").await.expect(200);
    assert_eq!(
        history["movements"].as_array().map(Vec::len),
        Some(2),
        "1.0's history reads in 1.1"
    );
    host.post(
        "acme",
        INVENTORY,
        "/reservations",
        json!({ "sku": "A", "location": "wh", "quantity": 2 }),
    )
    .await
    .expect(201);
    movement(
        &host,
        json!({ "kind": "sell", "sku": "A", "location": "sp-01", "quantity": 1 }),
    )
    .await
    .expect(201);

    let rollback = host
        .loader
        .rollback("acme", INVENTORY, &RollbackTarget::Previous, OPERATOR)
        .await
        .expect("rollback");
    assert_eq!(rollback.to, Some(version("1.0.0")));
    assert!(
        rollback.restored_snapshot.is_some(),
        "the pre-migration data came back"
    );
    assert_eq!(raw(&host), json!(5));
    let back_in_1_0 = stock(&host, "A").await;
    assert_eq!(
        back_in_1_0, in_1_0,
        "1.0 reads its own data again; 1.1's writes were discarded"
    );

    // Upgrading again migrates again.
    host.promote("acme", INVENTORY, "1.1.0")
        .await
        .expect("upgrade again");
    assert_eq!(stock(&host, "A").await["total_available"], 8);
}

#[tokio::test]
async fn promoting_1_0_over_1_1_data_is_refused_and_leaves_everything_as_it_was() {
    let host = host_with("1.1.0").await;
    product(&host, "A", "M", "black").await;
    movement(
        &host,
        json!({ "kind": "receive", "sku": "A", "location": "wh", "quantity": 4 }),
    )
    .await
    .expect(201);
    let before = stock(&host, "A").await;
    let error = host
        .promote("acme", INVENTORY, "1.0.0")
        .await
        .expect_err("1.0 cannot read 1.1 data");
    assert!(matches!(error, DeployError::MigrationFailed { .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        "inventory@1.0.0 failed to migrate the tenant's data, which was left untouched: \
         inventory 1.0.0 cannot read data written by inventory 1.1.0; \
         roll back to the earlier version instead of promoting an older one"
    );
    let serving = host.loader.serving("acme", INVENTORY).await.expect("serving");
    assert_eq!(serving.version, version("1.1.0"));
    assert_eq!(stock(&host, "A").await, before);
}

#[tokio::test]
async fn tenants_never_see_each_others_inventory() {
    let host = host_with("1.1.0").await;
    product(&host, "A", "M", "black").await;
    host.tenant("globex", TenantKind::Standard);
    host.promote("globex", INVENTORY, "1.1.0").await.expect("globex");
    let theirs = host.get("globex", INVENTORY, "/products").await.expect(200);
    assert_eq!(theirs, json!({ "products": [], "next": null }));
    assert_eq!(host.get("globex", INVENTORY, "/products/A").await.status, 404);
}
