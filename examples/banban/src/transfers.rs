//! Transfer suggestions: move units of a SKU from stores that hold more than their share to stores that hold less.
//!
//! For each SKU, the stores' units (available units; warehouses are not
//! counted) are compared with the store average. A store above the rounded-up
//! average can give its surplus; a store below the rounded-down average needs
//! the difference. Surpluses are matched to needs greedily, biggest first
//! (ties by store id), and a suggestion is kept only when it moves at least
//! the tenant's `min_transfer_units`. Following every suggestion never leaves
//! a giving store below the average, so suggestions never oscillate.

use std::collections::BTreeMap;

use serde::Serialize;

/// A suggested transfer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Suggestion {
    /// The SKU.
    pub sku: String,
    /// The store giving units.
    pub from: String,
    /// The store receiving them.
    pub to: String,
    /// How many units.
    pub quantity: i64,
    /// `from`'s units before the transfer.
    pub from_units: i64,
    /// `to`'s units before the transfer.
    pub to_units: i64,
}

/// The suggestions for one SKU, given its units per store (every store, 0 included).
pub fn suggest(sku: &str, units_by_store: &BTreeMap<String, i64>, min_units: i64) -> Vec<Suggestion> {
    let stores = i64::try_from(units_by_store.len()).unwrap_or(i64::MAX);
    if stores < 2 {
        return Vec::new();
    }
    let total: i64 = units_by_store.values().map(|units| (*units).max(0)).sum();
    let (floor, ceiling) = (total / stores, (total + stores - 1) / stores);
    let mut givers: Vec<(String, i64)> = Vec::new();
    let mut takers: Vec<(String, i64)> = Vec::new();
    for (store, units) in units_by_store {
        if *units > ceiling {
            givers.push((store.clone(), units - ceiling));
        } else if *units < floor {
            takers.push((store.clone(), floor - units));
        }
    }
    let biggest_first = |a: &(String, i64), b: &(String, i64)| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0));
    givers.sort_by(biggest_first);
    takers.sort_by(biggest_first);
    let mut suggestions = Vec::new();
    let (mut giver, mut taker) = (0, 0);
    while giver < givers.len() && taker < takers.len() {
        let quantity = givers[giver].1.min(takers[taker].1);
        if quantity >= min_units {
            suggestions.push(Suggestion {
                sku: sku.to_owned(),
                from: givers[giver].0.clone(),
                to: takers[taker].0.clone(),
                quantity,
                from_units: units_by_store[&givers[giver].0],
                to_units: units_by_store[&takers[taker].0],
            });
        }
        givers[giver].1 -= quantity;
        takers[taker].1 -= quantity;
        if givers[giver].1 == 0 {
            giver += 1;
        }
        if takers[taker].1 == 0 {
            taker += 1;
        }
    }
    suggestions
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stores(units: &[(&str, i64)]) -> BTreeMap<String, i64> {
        units
            .iter()
            .map(|(store, units)| ((*store).to_owned(), *units))
            .collect()
    }

    #[test]
    fn surplus_goes_to_the_stores_that_need_it_most() {
        let suggestions = suggest("A", &stores(&[("s1", 12), ("s2", 0), ("s3", 3)]), 2);
        assert_eq!(
            suggestions,
            [
                Suggestion {
                    sku: "A".into(),
                    from: "s1".into(),
                    to: "s2".into(),
                    quantity: 5,
                    from_units: 12,
                    to_units: 0
                },
                Suggestion {
                    sku: "A".into(),
                    from: "s1".into(),
                    to: "s3".into(),
                    quantity: 2,
                    from_units: 12,
                    to_units: 3
                },
            ]
        );
    }

    #[test]
    fn small_or_no_imbalances_suggest_nothing() {
        assert_eq!(suggest("A", &stores(&[("s1", 5), ("s2", 4)]), 1), []);
        assert_eq!(suggest("A", &stores(&[("s1", 6), ("s2", 3)]), 2), []);
        assert_eq!(suggest("A", &stores(&[("s1", 9)]), 1), []);
        assert_eq!(
            suggest("A", &stores(&[("s1", 6), ("s2", 3)]), 1)
                .iter()
                .map(|s| s.quantity)
                .collect::<Vec<_>>(),
            [1]
        );
    }
}
