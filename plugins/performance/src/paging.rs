//! The query of list endpoints: `limit`, `after` and a few endpoint-specific filters.
//!
//! Every list is paged with a cursor: an answer carries `next`, the value to
//! pass as `after` for the following page, or `null` on the last one.

use std::collections::BTreeMap;

use modhost_sdk::{Error, Result};

/// The page size when `limit` is not given.
pub const DEFAULT_PAGE: usize = 50;
/// The largest `limit`.
pub const MAX_PAGE: usize = 500;

/// A parsed list query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    /// How many entries to answer at most.
    pub limit: usize,
    /// The cursor: answer entries after this one.
    pub after: Option<String>,
    /// The endpoint-specific parameters given, by name.
    pub filters: BTreeMap<String, String>,
}

/// Parses `pairs` as a list query accepting `limit`, `after` and the names in `filters`.
pub fn parse_list_query(pairs: &[(String, String)], filters: &[&str]) -> Result<ListQuery> {
    let mut query = ListQuery {
        limit: DEFAULT_PAGE,
        after: None,
        filters: BTreeMap::new(),
    };
    let mut seen: Vec<&str> = Vec::new();
    for (name, value) in pairs {
        if seen.contains(&name.as_str()) {
            return Err(Error::bad_request(format!(
                "query parameter `{name}` is given more than once"
            )));
        }
        seen.push(name);
        match name.as_str() {
            "limit" => {
                query.limit = value
                    .parse::<usize>()
                    .ok()
                    .filter(|limit| (1..=MAX_PAGE).contains(limit))
                    .ok_or_else(|| {
                        Error::bad_request(format!(
                            "query parameter `limit` has an invalid value `{value}`; use 1 to {MAX_PAGE}"
                        ))
                    })?;
            }
            "after" => query.after = Some(value.clone()),
            other if filters.contains(&other) => {
                query.filters.insert(other.to_owned(), value.clone());
            }
            other => {
                let known: Vec<String> = ["limit", "after"]
                    .iter()
                    .chain(filters)
                    .map(|name| format!("`{name}`"))
                    .collect();
                return Err(Error::bad_request(format!(
                    "unknown query parameter `{other}`; use {}",
                    known.join(", ")
                )));
            }
        }
    }
    Ok(query)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_and_values() {
        assert_eq!(
            parse_list_query(&[], &[]),
            Ok(ListQuery {
                limit: 50,
                after: None,
                filters: BTreeMap::new()
            })
        );
        assert_eq!(
            parse_list_query(
                &pairs(&[("limit", "2"), ("after", "b"), ("state", "open")]),
                &["state"]
            ),
            Ok(ListQuery {
                limit: 2,
                after: Some("b".to_owned()),
                filters: BTreeMap::from([("state".to_owned(), "open".to_owned())])
            })
        );
    }

    #[test]
    fn bad_parameters_are_named() {
        let refused = |list: &[(&str, &str)]| {
            parse_list_query(&pairs(list), &["state"])
                .expect_err("refused")
                .message()
                .to_owned()
        };
        assert_eq!(
            refused(&[("limit", "0")]),
            "query parameter `limit` has an invalid value `0`; use 1 to 500"
        );
        assert_eq!(
            refused(&[("limit", "501")]),
            "query parameter `limit` has an invalid value `501`; use 1 to 500"
        );
        assert_eq!(
            refused(&[("sort", "x")]),
            "unknown query parameter `sort`; use `limit`, `after`, `state`"
        );
        assert_eq!(
            refused(&[("after", "a"), ("after", "b")]),
            "query parameter `after` is given more than once"
        );
    }
}
