//! BanBan's client for the standard inventory module, over the host's `modules.call`.
//!
//! Only what BanBan reads is modelled, and only fields every inventory 1.x
//! answers with are required: `available` exists from inventory 1.1, so a
//! stock row falls back to `on_hand` under 1.0. Lists are paged until the
//! inventory says there is no more, within a bound so a huge catalogue is a
//! clear error rather than a timeout.

use std::collections::BTreeMap;

use modhost_sdk::{Error, Result, modules};
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// The most pages of any list BanBan reads in one request.
pub const MAX_PAGES: usize = 25;
/// The page size BanBan asks for.
const PAGE: usize = 200;

/// A product with its stock, from `GET /products?include=stock`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Product {
    /// The SKU.
    pub sku: String,
    /// Its attributes (`style`, `size`, `colour`).
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// Its stock per location.
    #[serde(default)]
    pub stock: Vec<StockRow>,
}

/// One stock level.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct StockRow {
    /// The location.
    pub location: String,
    /// Units on hand.
    pub on_hand: i64,
    /// Units available to sell (inventory 1.1 and later).
    #[serde(default)]
    pub available: Option<i64>,
}

impl StockRow {
    /// Units that can be sold or moved: `available`, or `on_hand` under inventory 1.0.
    pub fn units(&self) -> i64 {
        self.available.unwrap_or(self.on_hand)
    }
}

/// A location.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Location {
    /// Its id.
    pub id: String,
    /// `store` or `warehouse`.
    pub kind: String,
}

/// A movement, from `GET /movements`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Movement {
    /// The SKU.
    pub sku: String,
    /// The stock changes (a sale has one, negative).
    pub changes: Vec<Change>,
}

/// One stock change of a movement.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Change {
    /// The location.
    pub location: String,
    /// The signed change.
    pub on_hand: i64,
}

#[derive(Deserialize)]
struct ProductPage {
    products: Vec<Product>,
    next: Option<String>,
}

#[derive(Deserialize)]
struct MovementPage {
    movements: Vec<Movement>,
    next: Option<u64>,
}

#[derive(Deserialize)]
struct Locations {
    locations: Vec<Location>,
}

fn get<T: DeserializeOwned>(path: &str) -> Result<T> {
    modules::get_json("inventory", path)
}

/// Every item of a paged inventory list: `path` (with its query) is asked
/// again with `&after=<next>` until `next` is `null`, at most [`MAX_PAGES`] times.
fn all_pages<P: DeserializeOwned, T>(
    path: &str,
    what: &str,
    split: impl Fn(P) -> (Vec<T>, Option<String>),
) -> Result<Vec<T>> {
    let mut items = Vec::new();
    let mut after = String::new();
    for _ in 0..MAX_PAGES {
        let (page, next) = split(get(&format!("{path}&limit={PAGE}{after}"))?);
        items.extend(page);
        match next {
            Some(next) => after = format!("&after={next}"),
            None => return Ok(items),
        }
    }
    Err(Error::unprocessable(format!(
        "more than {} {what} to read in one request; narrow the request (e.g. by style)",
        MAX_PAGES * PAGE
    )))
}

/// Every product (of `style`, when given) with its stock.
pub fn products(style: Option<&str>) -> Result<Vec<Product>> {
    let filter = style
        .map(|style| format!("&attr.style={style}"))
        .unwrap_or_default();
    all_pages(
        &format!("/products?include=stock{filter}"),
        "products",
        |page: ProductPage| (page.products, page.next),
    )
}

/// Every location.
pub fn locations() -> Result<Vec<Location>> {
    Ok(get::<Locations>("/locations")?.locations)
}

/// Every sale recorded at or after `from` (unix ms).
pub fn sales_since(from: u64) -> Result<Vec<Movement>> {
    all_pages(
        &format!("/movements?kind=sell&from={from}"),
        "sales",
        |page: MovementPage| (page.movements, page.next.map(|next| next.to_string())),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_from_inventory_1_0_count_units_on_hand() {
        let row_1_0: StockRow =
            serde_json::from_str(r#"{"location":"s1","on_hand":4,"low_stock":true}"#).expect("a 1.0 row");
        assert_eq!(row_1_0.units(), 4);
        let row_1_1: StockRow = serde_json::from_str(
            r#"{"location":"s1","on_hand":4,"reserved":1,"available":3,"low_stock":true}"#,
        )
        .expect("a 1.1 row");
        assert_eq!(row_1_1.units(), 3);
    }
}
