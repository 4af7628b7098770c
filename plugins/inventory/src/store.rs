//! Where the inventory keeps its data in the tenant's kv store: the key layout and typed reads and writes.
//!
//! ```text
//! products/<sku>                      Product (JSON)
//! locations/<id>                      Location (JSON)
//! stock/<sku>/<location>              a stock level; its shape is release-specific, see crate::stock
//! location-stock/<location>/<sku>     empty marker: lists the SKUs stocked at a location
//! movements/<seq, 12 digits>          Movement (JSON)
//! sku-movements/<sku>/<seq>           empty marker: one product's movements, in order
//! reservations/<id>                   Reservation (JSON, 1.1 and later)
//! meta/next-seq                       the next movement / reservation number
//! ```
//!
//! Ids are checked by `modhost_sdk::kv::check_key_part` before they reach a key, so a key's
//! parts never contain `/`. Sequence numbers are zero-padded so key order is
//! numeric order.

use std::collections::BTreeMap;

use modhost_sdk::{Error, Result, kv};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::model::{Location, Movement, Product};
use crate::stock::{Level, decode_level, encode_level};

/// The most keys one request scans while filtering (products, movements).
pub const MAX_SCAN: usize = 5000;

/// `products/<sku>`.
pub fn product_key(sku: &str) -> String {
    format!("products/{sku}")
}

/// `locations/<id>`.
pub fn location_key(id: &str) -> String {
    format!("locations/{id}")
}

/// `stock/<sku>/<location>`.
pub fn stock_key(sku: &str, location: &str) -> String {
    format!("stock/{sku}/{location}")
}

/// `location-stock/<location>/<sku>`.
pub fn location_index_key(location: &str, sku: &str) -> String {
    format!("location-stock/{location}/{sku}")
}

/// `movements/<seq>`.
pub fn movement_key(seq: u64) -> String {
    format!("movements/{seq:012}")
}

/// `sku-movements/<sku>/<seq>`.
pub fn sku_movement_key(sku: &str, seq: u64) -> String {
    format!("sku-movements/{sku}/{seq:012}")
}

/// The number at the end of a movement key.
pub fn seq_of(key: &str) -> Result<u64> {
    key.rsplit('/')
        .next()
        .and_then(|digits| digits.parse().ok())
        .ok_or_else(|| Error::internal(format!("stored key `{key}` does not end with a sequence number")))
}

/// The record under `key`, or a 404 with `missing`.
pub fn require<T: DeserializeOwned>(key: &str, missing: impl FnOnce() -> String) -> Result<T> {
    kv::get_json(key)?.ok_or_else(|| Error::not_found(missing()))
}

/// The product `sku`, or a 404 saying how to create it.
pub fn product(sku: &str) -> Result<Product> {
    require(&product_key(sku), || {
        format!("no product `{sku}`; create it with PUT /products/{sku}")
    })
}

/// The location `id`, or a 404 saying how to create it.
pub fn location(id: &str) -> Result<Location> {
    require(&location_key(id), || {
        format!("no location `{id}`; create it with PUT /locations/{id}")
    })
}

/// The stock level of `sku` at `location` (zero when none is stored).
pub fn level(sku: &str, location: &str) -> Result<Level> {
    let key = stock_key(sku, location);
    match kv::get(&key)? {
        Some(bytes) => decode_level(&key, &bytes),
        None => Ok(Level::default()),
    }
}

/// Stores a stock level and its location index marker (rewriting an existing
/// marker costs no more than reading it first would).
pub fn set_level(sku: &str, location: &str, level: &Level) -> Result<()> {
    kv::set(&location_index_key(location, sku), b"")?;
    kv::set_json(&stock_key(sku, location), &encode_level(level))
}

/// Every stock level of `sku`, by location.
pub fn levels_of(sku: &str) -> Result<BTreeMap<String, Level>> {
    let prefix = stock_key(sku, "");
    let mut levels = BTreeMap::new();
    for key in kv::list_all(&prefix, MAX_SCAN)? {
        let Some(bytes) = kv::get(&key)? else { continue };
        let location = key[prefix.len()..].to_owned();
        levels.insert(location, decode_level(&key, &bytes)?);
    }
    Ok(levels)
}

/// Takes the next sequence number.
pub fn next_seq() -> Result<u64> {
    let seq = kv::get_json::<u64>("meta/next-seq")?.unwrap_or(1);
    kv::set_json("meta/next-seq", &(seq + 1))?;
    Ok(seq)
}

/// Stores a movement and indexes it under its product.
pub fn save_movement(movement: &Movement) -> Result<()> {
    kv::set_json(&movement_key(movement.seq), movement)?;
    kv::set(&sku_movement_key(&movement.sku, movement.seq), b"")
}

/// One page of keys under `prefix` strictly after `prefix + after`.
pub fn page(prefix: &str, after: Option<&str>, limit: usize) -> Result<kv::KeyPage> {
    let after = after.map(|after| format!("{prefix}{after}"));
    let limit = u32::try_from(limit.min(1000)).unwrap_or(1000);
    kv::list(prefix, after.as_deref(), limit)
}

/// `sku-movements/<sku>/`.
pub fn sku_movements_prefix(sku: &str) -> String {
    format!("sku-movements/{sku}/")
}

/// Walks the keys under `prefix` in order, strictly after `prefix + after`,
/// keeping what `visit` returns for each, until `limit` items are kept or
/// [`MAX_SCAN`] keys were visited. Returns the items and, when more keys
/// follow, the cursor to continue from (the last visited key without
/// `prefix`). A page may hold fewer than `limit` items and still have a
/// cursor: the scan stopped at its bound.
pub fn scan<T>(
    prefix: &str,
    after: Option<&str>,
    limit: usize,
    mut visit: impl FnMut(&str) -> Result<Option<T>>,
) -> Result<(Vec<T>, Option<String>)> {
    let mut items = Vec::new();
    let mut after = after.map(str::to_owned);
    let mut scanned = 0;
    loop {
        let page = page(prefix, after.as_deref(), 1000)?;
        for key in &page.keys {
            scanned += 1;
            if let Some(item) = visit(key)? {
                items.push(item);
            }
            if items.len() >= limit || scanned >= MAX_SCAN {
                let cursor = key[prefix.len()..].to_owned();
                let more = !self::page(prefix, Some(&cursor), 1)?.keys.is_empty();
                return Ok((items, more.then_some(cursor)));
            }
        }
        match page.next {
            Some(next) => after = Some(next[prefix.len()..].to_owned()),
            None => return Ok((items, None)),
        }
    }
}

/// Writes `value` as JSON under `key`.
pub fn put<T: Serialize>(key: &str, value: &T) -> Result<()> {
    kv::set_json(key, value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_order_numerically_and_round_trip() {
        assert_eq!(movement_key(42), "movements/000000000042");
        assert!(movement_key(9) < movement_key(10));
        assert_eq!(seq_of(&sku_movement_key("A", 42)), Ok(42));
        assert_eq!(stock_key("A", ""), "stock/A/");
        assert_eq!(
            seq_of("movements/x"),
            Err(Error::internal(
                "stored key `movements/x` does not end with a sequence number"
            ))
        );
    }
}
