//! The size × colour stock grid of one style: how a fashion buyer reads a product's stock.
//!
//! Rows are sizes in the tenant's size order (`size_order` config; sizes it
//! does not list come after, alphabetically), columns are colours
//! alphabetically, each cell the units of the SKU with that size and colour
//! (summed over locations, or at one location). A combination with no SKU is
//! `null`, which is different from a SKU with 0 units.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::inventory::Product;

/// One cell of the grid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cell {
    /// The SKU with this size and colour.
    pub sku: String,
    /// Its units (available where the inventory knows, else on hand).
    pub units: i64,
}

/// One size's row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    /// The size.
    pub size: String,
    /// One cell per colour, in the order of [`Grid::colours`]; `None` where no SKU exists.
    pub cells: Vec<Option<Cell>>,
    /// The row's units.
    pub total: i64,
}

/// The grid of one style.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Grid {
    /// The style.
    pub style: String,
    /// The location the units are counted at, or `None` for all locations.
    pub location: Option<String>,
    /// The columns.
    pub colours: Vec<String>,
    /// The rows, in size order.
    pub rows: Vec<Row>,
    /// Units per colour, in the order of `colours`.
    pub colour_totals: Vec<i64>,
    /// All units.
    pub total: i64,
    /// SKUs of the style lacking a `size` or `colour` attribute.
    pub unplaced: Vec<String>,
}

/// Parses the `size_order` config: comma-separated sizes, blanks ignored.
pub fn parse_size_order(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|size| !size.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Sorts sizes: those in `order` first, in that order; the rest alphabetically.
pub fn sort_sizes(sizes: BTreeSet<String>, order: &[String]) -> Vec<String> {
    let mut sorted: Vec<String> = sizes.into_iter().collect();
    sorted.sort_by_key(|size| {
        (
            order
                .iter()
                .position(|known| known == size)
                .unwrap_or(order.len()),
            size.clone(),
        )
    });
    sorted
}

/// Builds the grid of `style` from its products, counting units at `location` or everywhere.
pub fn build(style: &str, products: &[Product], location: Option<&str>, size_order: &[String]) -> Grid {
    let mut cells: BTreeMap<(String, String), Cell> = BTreeMap::new();
    let mut unplaced = Vec::new();
    for product in products {
        let (Some(size), Some(colour)) = (product.attributes.get("size"), product.attributes.get("colour"))
        else {
            unplaced.push(product.sku.clone());
            continue;
        };
        let units: i64 = product
            .stock
            .iter()
            .filter(|row| location.is_none_or(|location| row.location == location))
            .map(|row| row.units())
            .sum();
        // Two SKUs sharing a size and colour are counted together under the first.
        cells
            .entry((size.clone(), colour.clone()))
            .or_insert(Cell {
                sku: product.sku.clone(),
                units: 0,
            })
            .units += units;
    }
    let sizes = sort_sizes(cells.keys().map(|(size, _)| size.clone()).collect(), size_order);
    let colours: Vec<String> = cells
        .keys()
        .map(|(_, colour)| colour.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let rows: Vec<Row> = sizes
        .iter()
        .map(|size| {
            let cells: Vec<Option<Cell>> = colours
                .iter()
                .map(|colour| cells.get(&(size.clone(), colour.clone())).cloned())
                .collect();
            let total = cells.iter().flatten().map(|cell| cell.units).sum();
            Row {
                size: size.clone(),
                cells,
                total,
            }
        })
        .collect();
    let colour_totals = (0..colours.len())
        .map(|column| {
            rows.iter()
                .filter_map(|row| row.cells[column].as_ref())
                .map(|cell| cell.units)
                .sum()
        })
        .collect();
    Grid {
        style: style.to_owned(),
        location: location.map(str::to_owned),
        total: rows.iter().map(|row| row.total).sum(),
        colours,
        rows,
        colour_totals,
        unplaced,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::StockRow;

    fn product(sku: &str, size: Option<&str>, colour: &str, stock: &[(&str, i64)]) -> Product {
        let mut attributes = BTreeMap::from([("colour".to_owned(), colour.to_owned())]);
        if let Some(size) = size {
            attributes.insert("size".to_owned(), size.to_owned());
        }
        Product {
            sku: sku.to_owned(),
            attributes,
            stock: stock
                .iter()
                .map(|(location, units)| StockRow {
                    location: (*location).to_owned(),
                    on_hand: *units,
                    available: Some(*units),
                })
                .collect(),
        }
    }

    #[test]
    fn sizes_follow_the_tenants_order_then_the_alphabet() {
        let order = parse_size_order("PP, P,M ,G,,GG");
        assert_eq!(order, ["PP", "P", "M", "G", "GG"]);
        let sizes = ["G", "XG", "PP", "M", "A"]
            .map(str::to_owned)
            .into_iter()
            .collect();
        assert_eq!(sort_sizes(sizes, &order), ["PP", "M", "G", "A", "XG"]);
    }

    #[test]
    fn the_grid_has_a_cell_per_size_and_colour() {
        let products = [
            product("TS-M-BLK", Some("M"), "black", &[("s1", 3), ("s2", 1)]),
            product("TS-P-BLK", Some("P"), "black", &[("s1", 2)]),
            product("TS-M-WHT", Some("M"), "white", &[("s2", 5)]),
            product("TS-X", None, "white", &[("s2", 9)]),
        ];
        let order = parse_size_order("P,M,G");
        let grid = build("TS", &products, None, &order);
        assert_eq!(grid.colours, ["black", "white"]);
        assert_eq!(
            grid.rows,
            [
                Row {
                    size: "P".into(),
                    cells: vec![
                        Some(Cell {
                            sku: "TS-P-BLK".into(),
                            units: 2
                        }),
                        None
                    ],
                    total: 2
                },
                Row {
                    size: "M".into(),
                    cells: vec![
                        Some(Cell {
                            sku: "TS-M-BLK".into(),
                            units: 4
                        }),
                        Some(Cell {
                            sku: "TS-M-WHT".into(),
                            units: 5
                        })
                    ],
                    total: 9
                },
            ]
        );
        assert_eq!(grid.colour_totals, [6, 5]);
        assert_eq!(grid.total, 11);
        assert_eq!(grid.unplaced, ["TS-X"]);

        let at_s2 = build("TS", &products, Some("s2"), &order);
        assert_eq!(at_s2.colour_totals, [1, 5]);
        assert_eq!(at_s2.location.as_deref(), Some("s2"));
    }
}
