//! Stock levels: how this release stores them, how movements change them, and when they are low.
//!
//! This is the one place the two releases differ. Inventory 1.0.0 stored a
//! stock level as a bare JSON number of units on hand. Inventory 1.1.0 adds
//! reservations, so a level is an object `{"on_hand": n, "reserved": r}` and
//! what can be sold or moved is `available = on_hand - reserved`. 1.1.0's
//! `migrate` rewrites 1.0.0 levels with [`upgrade_stored_level`]; each release
//! reads only its own shape, so a level that was not migrated is reported, not
//! misread.

use std::collections::BTreeMap;

use modhost_sdk::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::StockChange;

/// Whether this build is the 1.1 line, with reservations and the object shape.
pub const RESERVATIONS: bool = cfg!(not(feature = "release-1-0"));

/// The stock of one product at one location.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Level {
    /// Units physically there.
    pub on_hand: i64,
    /// Units promised to reservations (always 0 in 1.0).
    pub reserved: i64,
}

impl Level {
    /// Units that can be sold or moved.
    pub fn available(&self) -> i64 {
        self.on_hand - self.reserved
    }
}

/// The stored JSON of a level in this release's shape.
pub fn encode_level(level: &Level) -> Value {
    if RESERVATIONS {
        serde_json::json!({ "on_hand": level.on_hand, "reserved": level.reserved })
    } else {
        serde_json::json!(level.on_hand)
    }
}

/// Reads a stored level written in this release's shape.
pub fn decode_level(key: &str, bytes: &[u8]) -> Result<Level> {
    let shape_error = |error: String| {
        Error::internal(format!(
            "stock level `{key}` is not in the shape inventory {} stores ({error}); \
             was the data migrated? promote this version again to run its migration",
            env!("CARGO_PKG_VERSION")
        ))
    };
    if RESERVATIONS {
        serde_json::from_slice(bytes).map_err(|error| shape_error(error.to_string()))
    } else {
        let on_hand: i64 = serde_json::from_slice(bytes).map_err(|error| shape_error(error.to_string()))?;
        Ok(Level { on_hand, reserved: 0 })
    }
}

/// The 1.1 shape of a stored level: `Ok(Some(..))` when `stored` is a 1.0
/// level (a bare number) to rewrite, `Ok(None)` when it already has the 1.1
/// shape, and an error for anything else.
pub fn upgrade_stored_level(key: &str, stored: &[u8]) -> core::result::Result<Option<Value>, String> {
    match serde_json::from_slice::<Value>(stored) {
        Ok(Value::Number(number)) => match number.as_i64() {
            Some(on_hand) => Ok(Some(serde_json::json!({ "on_hand": on_hand, "reserved": 0 }))),
            None => Err(format!(
                "stock level `{key}` is the number {number}, not a whole number of units"
            )),
        },
        Ok(value @ Value::Object(_)) if serde_json::from_value::<Level>(value.clone()).is_ok() => Ok(None),
        Ok(_) | Err(_) => Err(format!(
            "stock level `{key}` is neither a 1.0 level (a number) nor a 1.1 level (an object with on_hand and reserved)"
        )),
    }
}

/// Applies `changes` to `levels` (by location; a missing one starts at zero).
/// Refuses a change that takes more than is available, unless the tenant
/// allows negative stock. Nothing is applied when any change is refused.
pub fn apply(
    sku: &str,
    levels: &BTreeMap<String, Level>,
    changes: &[StockChange],
    allow_negative: bool,
) -> Result<BTreeMap<String, Level>> {
    let mut after = levels.clone();
    for change in changes {
        let level = after.entry(change.location.clone()).or_default();
        if change.on_hand < 0 && !allow_negative && level.available() + change.on_hand < 0 {
            return Err(Error::unprocessable(format!(
                "not enough stock of `{sku}` at `{}`: the movement takes {} but only {} {} available; \
                 stock cannot go negative unless the tenant's allow_negative_stock config is on",
                change.location,
                -change.on_hand,
                level.available(),
                if level.available() == 1 { "is" } else { "are" },
            )));
        }
        level.on_hand = level
            .on_hand
            .checked_add(change.on_hand)
            .ok_or_else(|| Error::unprocessable("the stock level would overflow"))?;
    }
    Ok(after)
}

/// Whether a level is low: available units at or below the tenant's threshold.
pub fn is_low(level: &Level, threshold: i64) -> bool {
    level.available() <= threshold
}

/// A stock level as the API shows it. `reserved` and `available` exist from 1.1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StockRow {
    /// The product.
    pub sku: String,
    /// The location.
    pub location: String,
    /// Units on hand.
    pub on_hand: i64,
    /// Units reserved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reserved: Option<i64>,
    /// Units available.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub available: Option<i64>,
    /// Whether the level is at or below the low-stock threshold.
    pub low_stock: bool,
}

impl StockRow {
    /// The row for `level` of `sku` at `location`.
    pub fn new(sku: &str, location: &str, level: &Level, threshold: i64) -> Self {
        Self {
            sku: sku.to_owned(),
            location: location.to_owned(),
            on_hand: level.on_hand,
            reserved: RESERVATIONS.then_some(level.reserved),
            available: RESERVATIONS.then_some(level.available()),
            low_stock: is_low(level, threshold),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn levels(entries: &[(&str, i64, i64)]) -> BTreeMap<String, Level> {
        entries
            .iter()
            .map(|(location, on_hand, reserved)| {
                (
                    (*location).to_owned(),
                    Level {
                        on_hand: *on_hand,
                        reserved: *reserved,
                    },
                )
            })
            .collect()
    }

    fn change(location: &str, on_hand: i64) -> StockChange {
        StockChange {
            location: location.to_owned(),
            on_hand,
        }
    }

    #[test]
    fn a_transfer_moves_units_between_locations() {
        let after = apply(
            "A",
            &levels(&[("w", 10, 0)]),
            &[change("w", -4), change("s1", 4)],
            false,
        )
        .expect("enough stock");
        assert_eq!(after, levels(&[("w", 6, 0), ("s1", 4, 0)]));
    }

    #[test]
    fn stock_cannot_go_negative_unless_allowed() {
        let before = levels(&[("s1", 3, 0)]);
        assert_eq!(
            apply("A", &before, &[change("s1", -5)], false),
            Err(Error::unprocessable(
                "not enough stock of `A` at `s1`: the movement takes 5 but only 3 are available; \
                 stock cannot go negative unless the tenant's allow_negative_stock config is on"
            ))
        );
        assert_eq!(
            apply("A", &before, &[change("s1", -5)], true),
            Ok(levels(&[("s1", -2, 0)]))
        );
    }

    #[test]
    fn reserved_units_are_not_available() {
        let before = levels(&[("s1", 3, 2)]);
        assert_eq!(
            apply("A", &before, &[change("s1", -2)], false),
            Err(Error::unprocessable(
                "not enough stock of `A` at `s1`: the movement takes 2 but only 1 is available; \
                 stock cannot go negative unless the tenant's allow_negative_stock config is on"
            ))
        );
        assert!(is_low(&before["s1"], 1));
        assert!(!is_low(&before["s1"], 0));
    }

    #[test]
    fn levels_round_trip_in_this_releases_shape() {
        let level = Level {
            on_hand: 7,
            reserved: if RESERVATIONS { 2 } else { 0 },
        };
        let bytes = encode_level(&level).to_string();
        assert_eq!(decode_level("stock/A/s1", bytes.as_bytes()), Ok(level));
        let other_shape = if RESERVATIONS {
            "7"
        } else {
            r#"{"on_hand":7,"reserved":0}"#
        };
        let error = decode_level("stock/A/s1", other_shape.as_bytes()).expect_err("the other shape");
        assert!(
            error
                .message()
                .starts_with("stock level `stock/A/s1` is not in the shape inventory"),
            "{error}"
        );
    }

    #[test]
    fn upgrading_a_level_is_idempotent() {
        assert_eq!(
            upgrade_stored_level("k", b"7"),
            Ok(Some(serde_json::json!({"on_hand": 7, "reserved": 0})))
        );
        assert_eq!(
            upgrade_stored_level("k", br#"{"on_hand":7,"reserved":0}"#),
            Ok(None)
        );
        assert_eq!(
            upgrade_stored_level("k", b"7.5"),
            Err("stock level `k` is the number 7.5, not a whole number of units".to_owned())
        );
        assert_eq!(
            upgrade_stored_level("k", b"\"x\""),
            Err("stock level `k` is neither a 1.0 level (a number) nor a 1.1 level (an object with on_hand and reserved)".to_owned())
        );
    }

    #[test]
    fn rows_show_reservations_from_1_1() {
        let row = StockRow::new(
            "A",
            "s1",
            &Level {
                on_hand: 5,
                reserved: 0,
            },
            5,
        );
        let json = serde_json::to_value(&row).expect("json");
        assert_eq!(json["low_stock"], true);
        assert_eq!(json.get("available").is_some(), RESERVATIONS);
    }
}
