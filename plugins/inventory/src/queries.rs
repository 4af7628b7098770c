//! Query-string parsing for the list endpoints: paging, product filters and movement filters.
//!
//! Every list endpoint refuses a query parameter it does not know, so a typo
//! (`?kindd=sell`) is a 400 naming it instead of a silently unfiltered answer.

use std::collections::BTreeMap;

use modhost_sdk::kv::check_key_part;
use modhost_sdk::{Error, Result};

use crate::model::{Movement, MovementKind, Product};

/// The page size when `limit` is absent (capped by the tenant's `max_page_size`).
pub const DEFAULT_LIMIT: usize = 50;
/// The longest `after` cursor accepted, in bytes.
const MAX_CURSOR_BYTES: usize = 200;

fn unknown(name: &str, allowed: &[&str]) -> Error {
    Error::bad_request(format!(
        "unknown query parameter `{name}`; this endpoint takes {}",
        allowed.join(", ")
    ))
}

fn parse_limit(value: &str, max: usize) -> Result<usize> {
    match value.parse::<usize>() {
        Ok(limit) if (1..=max).contains(&limit) => Ok(limit),
        _ => Err(Error::bad_request(format!(
            "limit must be a whole number from 1 to {max}, not `{value}`"
        ))),
    }
}

fn parse_number<T: std::str::FromStr>(name: &str, value: &str) -> Result<T> {
    value.parse().map_err(|_| {
        Error::bad_request(format!(
            "query parameter `{name}` must be a whole number, not `{value}`"
        ))
    })
}

/// `after` and `limit`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paging {
    /// Continue after this cursor (the previous page's `next`).
    pub after: Option<String>,
    /// At most this many items.
    pub limit: usize,
}

impl Paging {
    /// Reads `after` and `limit`; refuses any other parameter not in `also_allowed`.
    pub fn from_query(pairs: &[(String, String)], also_allowed: &[&str], max: usize) -> Result<Self> {
        let mut paging = Self {
            after: None,
            limit: DEFAULT_LIMIT.min(max),
        };
        for (name, value) in pairs {
            match name.as_str() {
                "after" if value.len() <= MAX_CURSOR_BYTES && !value.is_empty() => {
                    paging.after = Some(value.clone());
                }
                "after" => {
                    return Err(Error::bad_request(format!(
                        "`after` must be a cursor from a previous page (1 to {MAX_CURSOR_BYTES} bytes)"
                    )));
                }
                "limit" => paging.limit = parse_limit(value, max)?,
                other if also_allowed.contains(&other) => {}
                other => {
                    let mut allowed = vec!["after", "limit"];
                    allowed.extend_from_slice(also_allowed);
                    return Err(unknown(other, &allowed));
                }
            }
        }
        Ok(paging)
    }
}

/// `GET /products` filters: `attr.<name>=<value>` (all must match) and `include=stock`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductFilter {
    /// Paging by SKU.
    pub paging: Paging,
    /// Attributes that must be equal.
    pub attributes: BTreeMap<String, String>,
    /// Whether to add each product's stock levels.
    pub include_stock: bool,
}

impl ProductFilter {
    /// Reads the filter from the query.
    pub fn from_query(pairs: &[(String, String)], max: usize) -> Result<Self> {
        let (attribute_pairs, rest): (Vec<_>, Vec<_>) = pairs
            .iter()
            .cloned()
            .partition(|(name, _)| name.starts_with("attr."));
        let paging = Paging::from_query(&rest, &["include", "attr.<name>"], max)?;
        let mut attributes = BTreeMap::new();
        for (name, value) in attribute_pairs {
            let attribute = &name["attr.".len()..];
            check_key_part("attribute name", attribute)?;
            attributes.insert(attribute.to_owned(), value);
        }
        let mut include_stock = false;
        for (name, value) in &rest {
            if name == "include" {
                if value != "stock" {
                    return Err(Error::bad_request(format!(
                        "include can only be `stock`, not `{value}`"
                    )));
                }
                include_stock = true;
            }
        }
        Ok(Self {
            paging,
            attributes,
            include_stock,
        })
    }

    /// Whether `product` has every requested attribute value.
    pub fn matches(&self, product: &Product) -> bool {
        self.attributes
            .iter()
            .all(|(name, value)| product.attributes.get(name) == Some(value))
    }
}

/// `GET /movements` filters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MovementFilter {
    /// Only this product's movements.
    pub sku: Option<String>,
    /// Only this kind.
    pub kind: Option<MovementKind>,
    /// Only movements that changed stock here.
    pub location: Option<String>,
    /// Only movements at or after this time (unix ms).
    pub from: Option<u64>,
    /// Only movements before this time (unix ms).
    pub to: Option<u64>,
    /// Continue after this movement number.
    pub after: Option<u64>,
    /// At most this many.
    pub limit: usize,
}

impl MovementFilter {
    /// Reads the filter from the query.
    pub fn from_query(pairs: &[(String, String)], max: usize) -> Result<Self> {
        const ALLOWED: [&str; 7] = ["sku", "kind", "location", "from", "to", "after", "limit"];
        let mut filter = Self {
            limit: DEFAULT_LIMIT.min(max),
            ..Self::default()
        };
        for (name, value) in pairs {
            match name.as_str() {
                "sku" => {
                    check_key_part("sku", value)?;
                    filter.sku = Some(value.clone());
                }
                "location" => {
                    check_key_part("location", value)?;
                    filter.location = Some(value.clone());
                }
                "kind" => filter.kind = Some(MovementKind::parse(value)?),
                "from" => filter.from = Some(parse_number(name, value)?),
                "to" => filter.to = Some(parse_number(name, value)?),
                "after" => filter.after = Some(parse_number(name, value)?),
                "limit" => filter.limit = parse_limit(value, max)?,
                other => return Err(unknown(other, &ALLOWED)),
            }
        }
        if let (Some(from), Some(to)) = (filter.from, filter.to)
            && from >= to
        {
            return Err(Error::bad_request(format!(
                "`from` ({from}) must be before `to` ({to})"
            )));
        }
        Ok(filter)
    }

    /// Whether `movement` passes the filter (the SKU is chosen by the index scanned).
    pub fn matches(&self, movement: &Movement) -> bool {
        self.sku.as_ref().is_none_or(|sku| *sku == movement.sku)
            && self.kind.is_none_or(|kind| kind == movement.kind)
            && self
                .location
                .as_ref()
                .is_none_or(|location| movement.touches(location))
            && self.from.is_none_or(|from| movement.at >= from)
            && self.to.is_none_or(|to| movement.at < to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::StockChange;

    fn pairs(query: &[(&str, &str)]) -> Vec<(String, String)> {
        query
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect()
    }

    #[test]
    fn paging_defaults_and_bounds() {
        assert_eq!(
            Paging::from_query(&[], &[], 200),
            Ok(Paging {
                after: None,
                limit: 50
            })
        );
        assert_eq!(Paging::from_query(&[], &[], 10).map(|p| p.limit), Ok(10));
        assert_eq!(
            Paging::from_query(&pairs(&[("limit", "0")]), &[], 200),
            Err(Error::bad_request(
                "limit must be a whole number from 1 to 200, not `0`"
            ))
        );
        assert_eq!(
            Paging::from_query(&pairs(&[("limt", "5")]), &[], 200),
            Err(Error::bad_request(
                "unknown query parameter `limt`; this endpoint takes after, limit"
            ))
        );
    }

    #[test]
    fn product_filters_read_attributes() {
        let filter = ProductFilter::from_query(
            &pairs(&[("attr.style", "TS"), ("include", "stock"), ("limit", "5")]),
            200,
        )
        .expect("valid");
        assert!(filter.include_stock);
        assert_eq!(filter.paging.limit, 5);
        let product = |style: &str| Product {
            sku: "A".into(),
            name: "A".into(),
            attributes: [("style".to_owned(), style.to_owned())].into(),
            price_cents: 1,
            updated_at: 0,
        };
        assert!(filter.matches(&product("TS")));
        assert!(!filter.matches(&product("JK")));
        assert_eq!(
            ProductFilter::from_query(&pairs(&[("include", "prices")]), 200),
            Err(Error::bad_request("include can only be `stock`, not `prices`"))
        );
        assert_eq!(
            ProductFilter::from_query(&pairs(&[("colour", "red")]), 200),
            Err(Error::bad_request(
                "unknown query parameter `colour`; this endpoint takes after, limit, include, attr.<name>"
            ))
        );
    }

    #[test]
    fn movement_filters() {
        let filter = MovementFilter::from_query(
            &pairs(&[
                ("kind", "sell"),
                ("location", "s1"),
                ("from", "100"),
                ("to", "200"),
            ]),
            200,
        )
        .expect("valid");
        let movement = |at: u64, location: &str| Movement {
            seq: 1,
            kind: MovementKind::Sell,
            sku: "A".into(),
            changes: vec![StockChange {
                location: location.into(),
                on_hand: -1,
            }],
            reason: None,
            reference: None,
            at,
        };
        assert!(filter.matches(&movement(100, "s1")));
        assert!(!filter.matches(&movement(200, "s1")));
        assert!(!filter.matches(&movement(150, "s2")));
        assert_eq!(
            MovementFilter::from_query(&pairs(&[("from", "5"), ("to", "5")]), 200),
            Err(Error::bad_request("`from` (5) must be before `to` (5)"))
        );
        assert_eq!(
            MovementFilter::from_query(&pairs(&[("after", "x")]), 200),
            Err(Error::bad_request(
                "query parameter `after` must be a whole number, not `x`"
            ))
        );
    }
}
