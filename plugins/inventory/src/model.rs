//! The inventory's records and the rules that check them: ids, products, locations, movement requests.
//!
//! Everything here is pure: handlers parse request bodies into these types,
//! call the `check_*` functions, and only then touch storage. Unit tests run on
//! the host.

use std::collections::BTreeMap;

use modhost_sdk::kv::check_key_part;
use modhost_sdk::{Error, Result};
use serde::{Deserialize, Serialize};

/// The most attributes a product may carry.
pub const MAX_ATTRIBUTES: usize = 16;
/// The longest name or attribute value, in characters.
pub const MAX_TEXT_CHARS: usize = 200;
/// The largest quantity one movement may move.
pub const MAX_QUANTITY: i64 = 1_000_000;

fn check_text(what: &str, text: &str) -> Result<()> {
    let length = text.chars().count();
    if text.trim().is_empty() || length > MAX_TEXT_CHARS {
        return Err(Error::unprocessable(format!(
            "{what} must have 1 to {MAX_TEXT_CHARS} characters, not {length}"
        )));
    }
    Ok(())
}

/// What a client sends to create or replace a product.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductInput {
    /// The product's name.
    pub name: String,
    /// Free attributes such as `size`, `colour`, `style`.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// The unit price in minor units (cents).
    pub price_cents: u64,
}

/// A product (one SKU).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Product {
    /// The stock-keeping unit, the product's id.
    pub sku: String,
    /// The product's name.
    pub name: String,
    /// Free attributes such as `size`, `colour`, `style`.
    pub attributes: BTreeMap<String, String>,
    /// The unit price in minor units (cents).
    pub price_cents: u64,
    /// When it was last written, unix milliseconds.
    pub updated_at: u64,
}

/// Checks a product body and makes the product `sku`.
pub fn check_product(sku: &str, input: ProductInput, now: u64) -> Result<Product> {
    check_key_part("sku", sku)?;
    check_text("a product name", &input.name)?;
    if input.attributes.len() > MAX_ATTRIBUTES {
        return Err(Error::unprocessable(format!(
            "a product has at most {MAX_ATTRIBUTES} attributes, not {}",
            input.attributes.len()
        )));
    }
    for (name, value) in &input.attributes {
        check_key_part("attribute name", name)?;
        check_text(&format!("attribute `{name}`"), value)?;
    }
    Ok(Product {
        sku: sku.to_owned(),
        name: input.name,
        attributes: input.attributes,
        price_cents: input.price_cents,
        updated_at: now,
    })
}

/// What a location is used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LocationKind {
    /// A shop that sells.
    #[default]
    Store,
    /// A warehouse or distribution centre.
    Warehouse,
}

/// What a client sends to create or replace a location.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocationInput {
    /// The location's name.
    pub name: String,
    /// Store (default) or warehouse.
    #[serde(default)]
    pub kind: LocationKind,
}

/// A place that holds stock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Location {
    /// The location's id.
    pub id: String,
    /// The location's name.
    pub name: String,
    /// Store or warehouse.
    pub kind: LocationKind,
}

/// Checks a location body and makes the location `id`.
pub fn check_location(id: &str, input: LocationInput) -> Result<Location> {
    check_key_part("location", id)?;
    check_text("a location name", &input.name)?;
    Ok(Location {
        id: id.to_owned(),
        name: input.name,
        kind: input.kind,
    })
}

/// The kinds of movement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MovementKind {
    /// Goods arrive at a location.
    Receive,
    /// Goods leave a location to a customer.
    Sell,
    /// Goods move from one location to another.
    Transfer,
    /// A correction (a count, damage, loss), with a reason.
    Adjust,
}

impl MovementKind {
    /// The name used in requests and filters.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Receive => "receive",
            Self::Sell => "sell",
            Self::Transfer => "transfer",
            Self::Adjust => "adjust",
        }
    }

    /// Parses a `kind` filter.
    pub fn parse(text: &str) -> Result<Self> {
        match text {
            "receive" => Ok(Self::Receive),
            "sell" => Ok(Self::Sell),
            "transfer" => Ok(Self::Transfer),
            "adjust" => Ok(Self::Adjust),
            other => Err(Error::bad_request(format!(
                "unknown movement kind `{other}`; use receive, sell, transfer or adjust"
            ))),
        }
    }
}

/// A movement as a client asks for it. Which fields are needed depends on `kind`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MovementInput {
    /// What happens.
    pub kind: MovementKind,
    /// The product.
    pub sku: String,
    /// The location, for receive, sell and adjust.
    pub location: Option<String>,
    /// The source, for transfer.
    pub from: Option<String>,
    /// The destination, for transfer.
    pub to: Option<String>,
    /// How many units, for receive, sell and transfer (positive).
    pub quantity: Option<i64>,
    /// The signed change, for adjust (not zero).
    pub delta: Option<i64>,
    /// Why; required for adjust.
    pub reason: Option<String>,
    /// The client's own reference (an order number, a delivery note).
    pub reference: Option<String>,
}

/// One change to one stock level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockChange {
    /// The location whose stock changes.
    pub location: String,
    /// The signed change of units on hand.
    pub on_hand: i64,
}

/// A checked movement: what it changes, before it is numbered and stored.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedMovement {
    /// The request it came from.
    pub input: MovementInput,
    /// The changes to apply, in order.
    pub changes: Vec<StockChange>,
}

/// A stored movement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Movement {
    /// Its number, increasing in the order movements were recorded.
    pub seq: u64,
    /// What happened.
    pub kind: MovementKind,
    /// The product.
    pub sku: String,
    /// The changes to stock levels.
    pub changes: Vec<StockChange>,
    /// Why, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The client's reference, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// When it was recorded, unix milliseconds.
    pub at: u64,
}

impl Movement {
    /// Whether it changed stock at `location`.
    pub fn touches(&self, location: &str) -> bool {
        self.changes.iter().any(|change| change.location == location)
    }
}

fn required<T: Copy>(value: Option<T>, field: &str, kind: MovementKind) -> Result<T> {
    value.ok_or_else(|| Error::bad_request(format!("a {} movement needs `{field}`", kind.as_str())))
}

fn forbidden<T>(value: &Option<T>, field: &str, kind: MovementKind) -> Result<()> {
    match value {
        Some(_) => Err(Error::bad_request(format!(
            "a {} movement does not take `{field}`",
            kind.as_str()
        ))),
        None => Ok(()),
    }
}

/// Checks a movement or reservation quantity: 1 to [`MAX_QUANTITY`].
pub fn check_quantity(quantity: i64) -> Result<i64> {
    if !(1..=MAX_QUANTITY).contains(&quantity) {
        return Err(Error::unprocessable(format!(
            "quantity must be between 1 and {MAX_QUANTITY}, not {quantity}"
        )));
    }
    Ok(quantity)
}

/// Checks a movement's shape (which fields, which values) and works out the
/// stock changes it asks for. Whether the stock allows it is decided later,
/// against the stored levels, by [`crate::stock::apply`].
pub fn plan_movement(input: MovementInput) -> Result<PlannedMovement> {
    let kind = input.kind;
    check_key_part("sku", &input.sku)?;
    if let Some(reason) = &input.reason {
        check_text("a reason", reason)?;
    }
    if let Some(reference) = &input.reference {
        check_text("a reference", reference)?;
    }
    let location = |input: &MovementInput| -> Result<String> {
        let location = input
            .location
            .clone()
            .ok_or_else(|| Error::bad_request(format!("a {} movement needs `location`", kind.as_str())))?;
        check_key_part("location", &location)?;
        forbidden(&input.from, "from", kind)?;
        forbidden(&input.to, "to", kind)?;
        Ok(location)
    };
    let changes = match kind {
        MovementKind::Receive | MovementKind::Sell => {
            let location = location(&input)?;
            forbidden(&input.delta, "delta", kind)?;
            let quantity = check_quantity(required(input.quantity, "quantity", kind)?)?;
            let sign = if kind == MovementKind::Receive { 1 } else { -1 };
            vec![StockChange {
                location,
                on_hand: sign * quantity,
            }]
        }
        MovementKind::Adjust => {
            let location = location(&input)?;
            forbidden(&input.quantity, "quantity", kind)?;
            let delta = required(input.delta, "delta", kind)?;
            if delta == 0 || delta.abs() > MAX_QUANTITY {
                return Err(Error::unprocessable(format!(
                    "delta must be between -{MAX_QUANTITY} and {MAX_QUANTITY} and not 0, not {delta}"
                )));
            }
            if input.reason.is_none() {
                return Err(Error::bad_request(
                    "an adjust movement needs a `reason` (e.g. \"stock count\" or \"damaged\")",
                ));
            }
            vec![StockChange {
                location,
                on_hand: delta,
            }]
        }
        MovementKind::Transfer => {
            forbidden(&input.location, "location", kind)?;
            forbidden(&input.delta, "delta", kind)?;
            let from = input
                .from
                .clone()
                .ok_or_else(|| Error::bad_request("a transfer movement needs `from`"))?;
            let to = input
                .to
                .clone()
                .ok_or_else(|| Error::bad_request("a transfer movement needs `to`"))?;
            check_key_part("location", &from)?;
            check_key_part("location", &to)?;
            if from == to {
                return Err(Error::unprocessable(format!(
                    "a transfer needs two different locations; both are `{from}`"
                )));
            }
            let quantity = check_quantity(required(input.quantity, "quantity", kind)?)?;
            vec![
                StockChange {
                    location: from,
                    on_hand: -quantity,
                },
                StockChange {
                    location: to,
                    on_hand: quantity,
                },
            ]
        }
    };
    Ok(PlannedMovement { input, changes })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn movement(json: serde_json::Value) -> Result<PlannedMovement> {
        plan_movement(serde_json::from_value(json).expect("a movement body"))
    }

    #[test]
    fn products_are_checked() {
        let input = |name: &str, attributes: &[(&str, &str)]| ProductInput {
            name: name.to_owned(),
            attributes: attributes
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            price_cents: 4990,
        };
        let product = check_product("TS-01-M", input("T-shirt", &[("size", "M")]), 7).expect("valid");
        assert_eq!(product.sku, "TS-01-M");
        assert_eq!(product.updated_at, 7);
        assert_eq!(
            check_product("TS-01-M", input(" ", &[]), 7),
            Err(Error::unprocessable(
                "a product name must have 1 to 200 characters, not 1"
            ))
        );
        assert_eq!(
            check_product("TS-01-M", input("T", &[("si ze", "M")]), 7),
            Err(Error::bad_request(
                "attribute name `si ze` is not valid; use 1 to 64 letters, digits, `.`, `_` or `-`"
            ))
        );
        let many: Vec<(String, String)> = (0..17).map(|i| (format!("a{i}"), "v".to_owned())).collect();
        let many: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            check_product("TS-01-M", input("T", &many), 7),
            Err(Error::unprocessable(
                "a product has at most 16 attributes, not 17"
            ))
        );
    }

    #[test]
    fn movements_turn_into_stock_changes() {
        let sell = movement(serde_json::json!({"kind": "sell", "sku": "A", "location": "s1", "quantity": 2}))
            .expect("valid");
        assert_eq!(
            sell.changes,
            [StockChange {
                location: "s1".into(),
                on_hand: -2
            }]
        );
        let transfer = movement(
            serde_json::json!({"kind": "transfer", "sku": "A", "from": "w", "to": "s1", "quantity": 3}),
        )
        .expect("valid");
        assert_eq!(
            transfer.changes,
            [
                StockChange {
                    location: "w".into(),
                    on_hand: -3
                },
                StockChange {
                    location: "s1".into(),
                    on_hand: 3
                }
            ]
        );
        let adjust = movement(serde_json::json!({"kind": "adjust", "sku": "A", "location": "s1", "delta": -1, "reason": "damaged"}))
            .expect("valid");
        assert_eq!(adjust.changes[0].on_hand, -1);
    }

    #[test]
    fn invalid_movements_say_what_is_wrong() {
        let cases = [
            (
                serde_json::json!({"kind": "sell", "sku": "A", "quantity": 1}),
                Error::bad_request("a sell movement needs `location`"),
            ),
            (
                serde_json::json!({"kind": "receive", "sku": "A", "location": "s1", "quantity": 0}),
                Error::unprocessable("quantity must be between 1 and 1000000, not 0"),
            ),
            (
                serde_json::json!({"kind": "receive", "sku": "A", "location": "s1"}),
                Error::bad_request("a receive movement needs `quantity`"),
            ),
            (
                serde_json::json!({"kind": "transfer", "sku": "A", "from": "s1", "to": "s1", "quantity": 1}),
                Error::unprocessable("a transfer needs two different locations; both are `s1`"),
            ),
            (
                serde_json::json!({"kind": "transfer", "sku": "A", "location": "s1", "quantity": 1}),
                Error::bad_request("a transfer movement does not take `location`"),
            ),
            (
                serde_json::json!({"kind": "adjust", "sku": "A", "location": "s1", "delta": 2}),
                Error::bad_request(
                    "an adjust movement needs a `reason` (e.g. \"stock count\" or \"damaged\")",
                ),
            ),
            (
                serde_json::json!({"kind": "adjust", "sku": "A", "location": "s1", "delta": 0, "reason": "x"}),
                Error::unprocessable("delta must be between -1000000 and 1000000 and not 0, not 0"),
            ),
            (
                serde_json::json!({"kind": "sell", "sku": "A", "location": "s1", "quantity": 1, "delta": 1}),
                Error::bad_request("a sell movement does not take `delta`"),
            ),
        ];
        for (body, expected) in cases {
            assert_eq!(movement(body.clone()), Err(expected), "{body}");
        }
    }

    #[test]
    fn movement_kinds_parse() {
        assert_eq!(MovementKind::parse("sell"), Ok(MovementKind::Sell));
        assert_eq!(
            MovementKind::parse("steal"),
            Err(Error::bad_request(
                "unknown movement kind `steal`; use receive, sell, transfer or adjust"
            ))
        );
    }
}
