//! Helpers over the host's `metrics` capability: counters and gauges with tags.
//!
//! Names match `[a-z][a-z0-9_]*` (at most 64 bytes), at most 8 tags, each key
//! once; the keys `tenant`, `module`, `le`, `quantile` and `outcome` are the
//! host's own and are refused. A refused point is an `internal` error: it is a bug in the module, not in the request.

use crate::bindings::modhost::module::metrics as wit;
use crate::{Error, Result};

impl From<wit::MetricError> for Error {
    fn from(error: wit::MetricError) -> Self {
        let reason = match error {
            wit::MetricError::InvalidName(reason) | wit::MetricError::InvalidTags(reason) => reason,
            wit::MetricError::TooManySeries => {
                "the module already has the maximum number of series".to_owned()
            }
        };
        Error::internal(format!("metric refused: {reason}"))
    }
}

fn owned_tags(tags: &[(&str, &str)]) -> Vec<(String, String)> {
    tags.iter()
        .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
        .collect()
}

/// Adds `value` to counter `name`.
pub fn counter(name: &str, value: u64, tags: &[(&str, &str)]) -> Result<()> {
    Ok(wit::counter(name, value, &owned_tags(tags))?)
}

/// Sets gauge `name` to `value`.
pub fn gauge(name: &str, value: f64, tags: &[(&str, &str)]) -> Result<()> {
    Ok(wit::gauge(name, value, &owned_tags(tags))?)
}
