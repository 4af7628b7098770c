//! BanBan's own module: a fashion retailer's stock views built on the standard inventory module.
//!
//! BanBan is a custom tenant: this module is owned by it and runs only for it.
//! It keeps no data of its own; everything comes from the tenant's inventory
//! (`inventory = "^1"` in `[dependencies]`) through the host's `modules.call`,
//! which the host allows only for declared dependencies and answers from the
//! same tenant's active inventory version:
//!
//! - `GET /grid/{style}`: the size × colour stock grid of a style ([`grid`]);
//! - `GET /transfers/suggestions`: which store should send which units to
//!   which other store to even out stock ([`transfers`]);
//! - `GET /reports/sell-through`: the share of units sold over the last days,
//!   per SKU and per style ([`sell_through`]).
//!
//! It works with inventory 1.0 and 1.1: under 1.1 it counts *available*
//! units (reserved ones are promised to orders), under 1.0 units on hand.
//!
//! The logic is in plain functions unit tested on the host; the handlers only
//! read the query, call [`inventory`] and shape the answer.

pub mod grid;
pub mod inventory;
pub mod sell_through;
pub mod transfers;

use std::collections::BTreeMap;

use modhost_sdk::kv::check_key_part;
use modhost_sdk::{Error, Module, Request, Response, Result, Router, config};

/// The module; see the crate docs.
pub struct Banban;

impl Module for Banban {
    fn router() -> Router {
        Router::new()
            .get("/grid/{style}", style_grid)
            .get("/transfers/suggestions", transfer_suggestions)
            .get("/reports/sell-through", sell_through_report)
    }
}

modhost_sdk::export_module!(Banban);

const DEFAULT_SIZE_ORDER: &str = "PP,P,M,G,GG";
const DEFAULT_MIN_TRANSFER_UNITS: i64 = 2;
const DEFAULT_SELL_THROUGH_DAYS: i64 = 30;
/// The longest report period, in days.
pub const MAX_DAYS: i64 = 365;
const DAY_MS: u64 = 24 * 60 * 60 * 1000;

/// The query's parameters by name, refusing any not in `allowed`.
pub fn query_params(request: &Request, allowed: &[&str]) -> Result<BTreeMap<String, String>> {
    let mut params = BTreeMap::new();
    for (name, value) in request.query_pairs()? {
        if !allowed.contains(&name.as_str()) {
            return Err(Error::bad_request(format!(
                "unknown query parameter `{name}`; this endpoint takes {}",
                allowed.join(", ")
            )));
        }
        params.insert(name, value);
    }
    Ok(params)
}

/// The checked `style` query parameter, if any.
fn style_filter(params: &BTreeMap<String, String>) -> Result<Option<&str>> {
    let style = params.get("style").map(String::as_str);
    if let Some(style) = style {
        check_key_part("style", style)?;
    }
    Ok(style)
}

/// A whole number from the query within `range`, or `default`.
pub fn bounded_number(
    params: &BTreeMap<String, String>,
    name: &str,
    default: i64,
    range: std::ops::RangeInclusive<i64>,
) -> Result<i64> {
    let Some(text) = params.get(name) else {
        return Ok(default);
    };
    match text.parse::<i64>() {
        Ok(number) if range.contains(&number) => Ok(number),
        _ => Err(Error::bad_request(format!(
            "`{name}` must be a whole number from {} to {}, not `{text}`",
            range.start(),
            range.end()
        ))),
    }
}

fn style_grid(request: &Request) -> Result<Response> {
    let style = request.param("style")?;
    check_key_part("style", style)?;
    let params = query_params(request, &["location"])?;
    let location = params.get("location").map(String::as_str);
    if let Some(location) = location {
        check_key_part("location", location)?;
        if !inventory::locations()?.iter().any(|known| known.id == location) {
            return Err(Error::not_found(format!(
                "no location `{location}` in the inventory"
            )));
        }
    }
    let products = inventory::products(Some(style))?;
    if products.is_empty() {
        return Err(Error::not_found(format!(
            "no products of style `{style}`; give products the attribute style = \"{style}\" in the inventory"
        )));
    }
    let size_order =
        grid::parse_size_order(&config::text("size_order").unwrap_or_else(|| DEFAULT_SIZE_ORDER.to_owned()));
    Response::ok(&grid::build(style, &products, location, &size_order))
}

fn transfer_suggestions(request: &Request) -> Result<Response> {
    let params = query_params(request, &["style", "min_units"])?;
    let style = style_filter(&params)?;
    let configured = config::int("min_transfer_units").unwrap_or(DEFAULT_MIN_TRANSFER_UNITS);
    let min_units = bounded_number(&params, "min_units", configured, 1..=1_000_000)?;
    let stores: Vec<String> = inventory::locations()?
        .into_iter()
        .filter(|location| location.kind == "store")
        .map(|location| location.id)
        .collect();
    let mut suggestions = Vec::new();
    for product in inventory::products(style)? {
        let mut units: BTreeMap<String, i64> = stores.iter().map(|store| (store.clone(), 0)).collect();
        for row in &product.stock {
            if let Some(store_units) = units.get_mut(&row.location) {
                *store_units += row.units();
            }
        }
        suggestions.extend(transfers::suggest(&product.sku, &units, min_units));
    }
    Response::ok(&serde_json::json!({
        "stores": stores,
        "min_units": min_units,
        "suggestions": suggestions,
    }))
}

fn sell_through_report(request: &Request) -> Result<Response> {
    let params = query_params(request, &["days", "style"])?;
    let style = style_filter(&params)?;
    let configured = config::int("sell_through_days").unwrap_or(DEFAULT_SELL_THROUGH_DAYS);
    let days = bounded_number(&params, "days", configured, 1..=MAX_DAYS)?;
    let from = modhost_sdk::clock::now_ms().saturating_sub(u64::try_from(days).unwrap_or(0) * DAY_MS);
    let products = inventory::products(style)?;
    let sales = inventory::sales_since(from)?;
    let report = sell_through::build(&products, &sales);
    Response::ok(&serde_json::json!({
        "days": days,
        "from": from,
        "style": style,
        "skus": report.skus,
        "styles": report.styles,
        "total": report.total,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_valid() {
        assert_eq!(Banban::self_test(), Ok(()));
    }

    #[test]
    fn query_numbers_are_bounded() {
        let params: BTreeMap<String, String> = [("days".to_owned(), "400".to_owned())].into();
        assert_eq!(
            bounded_number(&params, "days", 30, 1..=365),
            Err(Error::bad_request(
                "`days` must be a whole number from 1 to 365, not `400`"
            ))
        );
        assert_eq!(bounded_number(&params, "min_units", 2, 1..=9), Ok(2));
        assert_eq!(
            check_key_part("style", "T S"),
            Err(Error::bad_request(
                "style `T S` is not valid; use 1 to 64 letters, digits, `.`, `_` or `-`"
            ))
        );
    }
}
