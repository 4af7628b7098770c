//! The sell-through report: of the units a SKU had over a period, the share that sold.
//!
//! `sell-through % = sold / (sold + on hand now) × 100`, rounded to one
//! decimal, where `sold` sums the period's `sell` movements and `on hand` is
//! the SKU's units across all locations now. A SKU with neither sales nor
//! stock has no sell-through (`null`). Styles aggregate their SKUs the same way.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::inventory::{Movement, Product};

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Line {
    /// The SKU, or the style for a style line.
    pub id: String,
    /// Units sold in the period.
    pub sold: i64,
    /// Units on hand now.
    pub on_hand: i64,
    /// The sell-through percentage, `None` when nothing was sold or held.
    pub sell_through_pct: Option<f64>,
}

impl Line {
    fn new(id: &str, sold: i64, on_hand: i64) -> Self {
        Self {
            id: id.to_owned(),
            sold,
            on_hand,
            sell_through_pct: sell_through_pct(sold, on_hand),
        }
    }
}

/// The report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Per SKU, highest sell-through first (ties and `null`s by id).
    pub skus: Vec<Line>,
    /// Per style, the same order.
    pub styles: Vec<Line>,
    /// Everything together.
    pub total: Line,
}

/// `sold / (sold + on_hand)` as a percentage with one decimal.
pub fn sell_through_pct(sold: i64, on_hand: i64) -> Option<f64> {
    let base = sold + on_hand.max(0);
    if base <= 0 {
        return None;
    }
    #[allow(clippy::cast_precision_loss, reason = "unit counts are far below 2^52")]
    let pct = sold as f64 * 100.0 / base as f64;
    Some((pct * 10.0).round() / 10.0)
}

fn ordered(mut lines: Vec<Line>) -> Vec<Line> {
    lines.sort_by(|a, b| {
        let key = |line: &Line| line.sell_through_pct.unwrap_or(-1.0);
        key(b).total_cmp(&key(a)).then_with(|| a.id.cmp(&b.id))
    });
    lines
}

/// Builds the report from the products in scope and the period's sales.
/// Sales of SKUs outside `products` are ignored (another style's, or deleted ones).
pub fn build(products: &[Product], sales: &[Movement]) -> Report {
    let mut sold: BTreeMap<&str, i64> = BTreeMap::new();
    for sale in sales {
        let units: i64 = sale.changes.iter().map(|change| -change.on_hand).sum();
        *sold.entry(sale.sku.as_str()).or_default() += units;
    }
    let mut skus = Vec::new();
    let mut styles: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
    for product in products {
        let sold = sold.get(product.sku.as_str()).copied().unwrap_or(0);
        let on_hand: i64 = product.stock.iter().map(|row| row.on_hand).sum();
        skus.push(Line::new(&product.sku, sold, on_hand));
        let style = product
            .attributes
            .get("style")
            .map_or("(no style)", String::as_str);
        let entry = styles.entry(style).or_default();
        entry.0 += sold;
        entry.1 += on_hand;
    }
    let total = Line::new(
        "total",
        skus.iter().map(|line| line.sold).sum(),
        skus.iter().map(|line| line.on_hand).sum(),
    );
    Report {
        skus: ordered(skus),
        styles: ordered(
            styles
                .into_iter()
                .map(|(style, (sold, on_hand))| Line::new(style, sold, on_hand))
                .collect(),
        ),
        total,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{Change, StockRow};

    #[test]
    fn percentages_are_rounded_and_undefined_without_units() {
        assert_eq!(sell_through_pct(1, 2), Some(33.3));
        assert_eq!(sell_through_pct(2, 1), Some(66.7));
        assert_eq!(sell_through_pct(5, 0), Some(100.0));
        assert_eq!(sell_through_pct(0, 0), None);
        assert_eq!(sell_through_pct(3, -2), Some(100.0));
    }

    #[test]
    fn sales_are_summed_per_sku_and_style() {
        let product = |sku: &str, style: &str, on_hand: i64| Product {
            sku: sku.to_owned(),
            attributes: [("style".to_owned(), style.to_owned())].into(),
            stock: vec![StockRow {
                location: "s1".into(),
                on_hand,
                available: None,
            }],
        };
        let sale = |sku: &str, units: i64| Movement {
            sku: sku.to_owned(),
            changes: vec![Change {
                location: "s1".into(),
                on_hand: -units,
            }],
        };
        let report = build(
            &[
                product("A", "TS", 2),
                product("B", "TS", 0),
                product("C", "JK", 0),
            ],
            &[sale("A", 1), sale("B", 3), sale("A", 1), sale("Z", 9)],
        );
        assert_eq!(
            report.skus,
            [Line::new("B", 3, 0), Line::new("A", 2, 2), Line::new("C", 0, 0)]
        );
        assert_eq!(report.skus[1].sell_through_pct, Some(50.0));
        assert_eq!(report.skus[2].sell_through_pct, None);
        assert_eq!(report.styles, [Line::new("TS", 5, 2), Line::new("JK", 0, 0)]);
        assert_eq!(report.total, Line::new("total", 5, 2));
    }
}
