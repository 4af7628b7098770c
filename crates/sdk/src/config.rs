//! Typed helpers over the host's `config` capability: the tenant's validated settings.
//!
//! Fields are declared in `module.toml` under `[config.fields.*]`; the host
//! validates every value against that schema and fills in defaults, so a
//! declared field with a default always has a value of its declared type.

use crate::bindings::modhost::module::config as wit;

pub use wit::Value;

/// The raw value of field `key`.
pub fn get(key: &str) -> Option<Value> {
    wit::get(key)
}

/// Every field that has a value, sorted by key.
pub fn all() -> Vec<(String, Value)> {
    wit::all()
}

/// Field `key` as an integer, if it has an integer value.
pub fn int(key: &str) -> Option<i64> {
    match get(key)? {
        Value::Integer(value) => Some(value),
        _ => None,
    }
}

/// Field `key` as a float; integer values convert.
pub fn float(key: &str) -> Option<f64> {
    match get(key)? {
        Value::Float(value) => Some(value),
        Value::Integer(value) => Some(value as f64),
        _ => None,
    }
}

/// Field `key` as a boolean.
pub fn bool(key: &str) -> Option<bool> {
    match get(key)? {
        Value::Boolean(value) => Some(value),
        _ => None,
    }
}

/// Field `key` as text (string and enum fields).
pub fn text(key: &str) -> Option<String> {
    match get(key)? {
        Value::Text(value) => Some(value),
        _ => None,
    }
}
