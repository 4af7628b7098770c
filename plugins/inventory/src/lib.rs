//! The inventory module: products, locations, stock levels, movements and (from 1.1) reservations.
//!
//! A standard modhost module every retail tenant can enable:
//!
//! - **products** (`PUT /products/{sku}`): a SKU with a name, free attributes
//!   (`size`, `colour`, `style`, ...) and a price in cents;
//! - **locations** (`PUT /locations/{id}`): stores and warehouses;
//! - **movements** (`POST /movements`): `receive`, `sell`, `transfer` between
//!   locations and `adjust` (with a reason), checked so stock never goes
//!   negative unless the tenant's `allow_negative_stock` config is on; every
//!   movement is numbered and kept, and `GET /movements` pages through them;
//! - **queries**: stock of a SKU across locations, stock at a location, and
//!   everything at or below the tenant's `low_stock_threshold`;
//! - **reservations** (1.1.0 and later): units promised to an order, which are
//!   no longer available to sell until released or fulfilled.
//!
//! # Two releases from one source
//!
//! This crate is built twice: as `inventory` 1.1.0 (this package) and, with the
//! `release-1-0` feature, as `inventory` 1.0.0 (`plugins/inventory-1.0`, which
//! compiles this same source). 1.0.0 stores a stock level as a number; 1.1.0
//! stores `{"on_hand", "reserved"}` and its `migrate` hook rewrites 1.0 data, so
//! a tenant can be upgraded and rolled back on real data. See [`stock`] and
//! [`migrate`].
//!
//! The decisions live in plain functions ([`model`], [`stock`], [`migrate`],
//! [`queries`]) unit tested on the host; the handlers here only move data
//! between requests, [`store`] and responses.

pub mod migrate;
pub mod model;
pub mod queries;
pub mod reservations;
pub mod stock;
pub mod store;

use std::collections::BTreeMap;

use modhost_sdk::clock::now_ms;
use modhost_sdk::kv::check_key_part;
use modhost_sdk::{Error, Module, Request, Response, Result, Router, config, kv, log};

use crate::model::{LocationInput, Movement, MovementInput, ProductInput};
use crate::queries::{MovementFilter, Paging, ProductFilter};
use crate::stock::{Level, RESERVATIONS, StockRow};

/// The module; see the crate docs.
pub struct Inventory;

impl Module for Inventory {
    fn router() -> Router {
        let router = Router::new()
            .get("/products", list_products)
            .get("/products/{sku}", get_product)
            .put("/products/{sku}", put_product)
            .get("/locations", list_locations)
            .put("/locations/{id}", put_location)
            .get("/locations/{id}/stock", location_stock)
            .get("/stock/{sku}", sku_stock)
            .get("/low-stock", low_stock)
            .post("/movements", post_movement)
            .get("/movements", list_movements);
        if RESERVATIONS {
            reservations::routes(router)
        } else {
            router
        }
    }

    fn migrate(from_version: Option<&str>) -> core::result::Result<(), String> {
        migrate::run(from_version)
    }
}

modhost_sdk::export_module!(Inventory);

/// The tenant's low-stock threshold (default 5).
pub fn threshold() -> i64 {
    config::int("low_stock_threshold").unwrap_or(5)
}

fn allow_negative() -> bool {
    config::bool("allow_negative_stock").unwrap_or(false)
}

fn max_page_size() -> usize {
    usize::try_from(config::int("max_page_size").unwrap_or(200)).unwrap_or(200)
}

fn put_product(request: &Request) -> Result<Response> {
    let sku = request.param("sku")?;
    let input: ProductInput = request.json()?;
    let product = model::check_product(sku, input, now_ms())?;
    create_or_replace(&store::product_key(sku), &product)
}

/// Stores `value` under `key`: 201 when it is new, 200 when it replaced one.
fn create_or_replace<T: serde::Serialize>(key: &str, value: &T) -> Result<Response> {
    let existed = kv::get(key)?.is_some();
    store::put(key, value)?;
    if existed {
        Response::ok(value)
    } else {
        Response::created(value)
    }
}

fn get_product(request: &Request) -> Result<Response> {
    let sku = request.param("sku")?;
    check_key_part("sku", sku)?;
    Response::ok(&store::product(sku)?)
}

fn list_products(request: &Request) -> Result<Response> {
    let filter = ProductFilter::from_query(&request.query_pairs()?, max_page_size())?;
    let threshold = threshold();
    let (products, next) = store::scan(
        "products/",
        filter.paging.after.as_deref(),
        filter.paging.limit,
        |key| {
            let Some(product) = kv::get_json::<model::Product>(key)? else {
                return Ok(None);
            };
            if !filter.matches(&product) {
                return Ok(None);
            }
            let mut value = serde_json::to_value(&product)
                .map_err(|error| Error::internal(format!("could not serialise a product: {error}")))?;
            if filter.include_stock {
                value["stock"] = stock_rows_json(&product.sku, &store::levels_of(&product.sku)?, threshold)?;
            }
            Ok(Some(value))
        },
    )?;
    Response::ok(&serde_json::json!({ "products": products, "next": next }))
}

fn stock_rows_json(sku: &str, levels: &BTreeMap<String, Level>, threshold: i64) -> Result<serde_json::Value> {
    let rows: Vec<StockRow> = levels
        .iter()
        .map(|(location, level)| StockRow::new(sku, location, level, threshold))
        .collect();
    serde_json::to_value(rows).map_err(|error| Error::internal(format!("could not serialise stock: {error}")))
}

fn put_location(request: &Request) -> Result<Response> {
    let id = request.param("id")?;
    let location = model::check_location(id, request.json::<LocationInput>()?)?;
    create_or_replace(&store::location_key(id), &location)
}

fn list_locations(_request: &Request) -> Result<Response> {
    let mut locations = Vec::new();
    for key in kv::list_all("locations/", 1000)? {
        if let Some(location) = kv::get_json::<model::Location>(&key)? {
            locations.push(location);
        }
    }
    Response::ok(&serde_json::json!({ "locations": locations }))
}

fn sku_stock(request: &Request) -> Result<Response> {
    let sku = request.param("sku")?;
    check_key_part("sku", sku)?;
    store::product(sku)?;
    let threshold = threshold();
    let levels = store::levels_of(sku)?;
    let mut body = serde_json::json!({
        "sku": sku,
        "locations": stock_rows_json(sku, &levels, threshold)?,
        "total_on_hand": levels.values().map(|level| level.on_hand).sum::<i64>(),
        "low_stock_threshold": threshold,
    });
    if RESERVATIONS {
        body["total_reserved"] = levels.values().map(|level| level.reserved).sum::<i64>().into();
        body["total_available"] = levels.values().map(Level::available).sum::<i64>().into();
    }
    Response::ok(&body)
}

fn location_stock(request: &Request) -> Result<Response> {
    let id = request.param("id")?;
    check_key_part("location", id)?;
    store::location(id)?;
    let paging = Paging::from_query(&request.query_pairs()?, &[], max_page_size())?;
    let threshold = threshold();
    let prefix = store::location_index_key(id, "");
    let page = store::page(&prefix, paging.after.as_deref(), paging.limit)?;
    let mut items = Vec::new();
    for key in &page.keys {
        let sku = &key[prefix.len()..];
        items.push(StockRow::new(sku, id, &store::level(sku, id)?, threshold));
    }
    let next = page.next.map(|key| key[prefix.len()..].to_owned());
    Response::ok(&serde_json::json!({
        "location": id,
        "items": items,
        "next": next,
        "low_stock_threshold": threshold,
    }))
}

fn low_stock(request: &Request) -> Result<Response> {
    let paging = Paging::from_query(&request.query_pairs()?, &[], max_page_size())?;
    let threshold = threshold();
    let (items, next) = store::scan("stock/", paging.after.as_deref(), paging.limit, |key| {
        let (sku, location) = key["stock/".len()..]
            .split_once('/')
            .ok_or_else(|| Error::internal(format!("stored key `{key}` is not a stock key")))?;
        let Some(bytes) = kv::get(key)? else {
            return Ok(None);
        };
        let level = stock::decode_level(key, &bytes)?;
        Ok(stock::is_low(&level, threshold).then(|| StockRow::new(sku, location, &level, threshold)))
    })?;
    Response::ok(&serde_json::json!({ "items": items, "next": next, "low_stock_threshold": threshold }))
}

/// Checks a movement against the stored products, locations and levels,
/// records it and returns it with the levels it left.
pub fn record_movement(
    input: MovementInput,
    reservation: Option<&reservations::Reservation>,
) -> Result<(Movement, Vec<StockRow>)> {
    let planned = model::plan_movement(input)?;
    let sku = planned.input.sku.clone();
    store::product(&sku)?;
    let mut levels = BTreeMap::new();
    for change in &planned.changes {
        store::location(&change.location)?;
        levels.insert(change.location.clone(), store::level(&sku, &change.location)?);
    }
    if let Some(reservation) = reservation
        && let Some(level) = levels.get_mut(&reservation.location)
    {
        level.reserved -= reservation.quantity;
    }
    let after = stock::apply(&sku, &levels, &planned.changes, allow_negative())?;
    let movement = Movement {
        seq: store::next_seq()?,
        kind: planned.input.kind,
        sku: sku.clone(),
        changes: planned.changes,
        reason: planned.input.reason,
        reference: planned.input.reference,
        at: now_ms(),
    };
    let threshold = threshold();
    let mut rows = Vec::new();
    for (location, level) in &after {
        store::set_level(&sku, location, level)?;
        rows.push(StockRow::new(&sku, location, level, threshold));
    }
    store::save_movement(&movement)?;
    log::log(
        log::Level::Info,
        "movement recorded",
        &[("kind", movement.kind.as_str()), ("sku", &movement.sku)],
    );
    Ok((movement, rows))
}

fn post_movement(request: &Request) -> Result<Response> {
    let (movement, stock) = record_movement(request.json()?, None)?;
    Response::created(&serde_json::json!({ "movement": movement, "stock": stock }))
}

fn list_movements(request: &Request) -> Result<Response> {
    let filter = MovementFilter::from_query(&request.query_pairs()?, max_page_size())?;
    let prefix = match &filter.sku {
        Some(sku) => store::sku_movements_prefix(sku),
        None => "movements/".to_owned(),
    };
    let after = filter.after.map(|seq| format!("{seq:012}"));
    let (movements, next) = store::scan(&prefix, after.as_deref(), filter.limit, |key| {
        let movement = kv::get_json::<Movement>(&store::movement_key(store::seq_of(key)?))?;
        Ok(movement.filter(|movement| filter.matches(movement)))
    })?;
    let next = next.map(|cursor| store::seq_of(&cursor)).transpose()?;
    Response::ok(&serde_json::json!({ "movements": movements, "next": next }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_valid() {
        assert_eq!(Inventory::self_test(), Ok(()));
    }
}
