//! Typed helpers over the host's `kv` capability: bytes, JSON values and paged key listing.
//!
//! The store is private to this module and the calling tenant; the host picks
//! the scope, so keys are plain names (`items/TS-01`), never paths to escape.
//! Errors convert to [`Error`]: an invalid key is a `bad-request` (keys are
//! usually built from request input), an oversized value `unprocessable`, a
//! storage failure `unavailable`, and a write refused because the module's
//! data for this tenant would grow past its quota (`[limits] kv_mb` and
//! `kv_keys`, capped by the operator) a `conflict` whose message begins
//! `storage quota exceeded:` ([`is_quota_exceeded`] tells). Deletes and
//! writes that shrink the data always pass, so a full store can be cleaned.
//! WIT 1.0 carries the refusal as `unavailable("quota exceeded: …")`; a
//! later WIT version may give it a case of its own.
//!
//! A call's writes are one transaction: the call reads its own writes, and
//! the host commits them together only if the call succeeds. A call that
//! answers with an [`Error`], traps (panics), hits its deadline or a limit,
//! or returns an invalid response keeps none of them.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::bindings::modhost::module::kv as wit;
use crate::{Error, Result};

/// The largest value the host stores, in bytes.
pub const MAX_VALUE_BYTES: usize = 1024 * 1024;
/// The longest key the host accepts, in bytes.
pub const MAX_KEY_BYTES: usize = 512;

/// The longest id [`check_key_part`] accepts, in bytes.
pub const MAX_KEY_PART_BYTES: usize = 64;

pub use wit::KeyPage;

/// How the host's `unavailable` reason begins when a write would pass the quota.
const HOST_QUOTA_PREFIX: &str = "quota exceeded: ";
/// How the SDK's error message begins for the same refusal.
const QUOTA_EXCEEDED: &str = "storage quota exceeded: ";

/// Whether `error` is a kv write refused because the module's data for this
/// tenant would grow past its quota.
pub fn is_quota_exceeded(error: &Error) -> bool {
    error.code() == crate::ErrorCode::Conflict && error.message().starts_with(QUOTA_EXCEEDED)
}

/// Whether `part` can safely become one part of a key built from input:
/// 1 to [`MAX_KEY_PART_BYTES`] of `A-Z a-z 0-9 . _ -`. No `/`, so an id taken
/// from a request can never forge the key structure (`products/<sku>`).
pub fn is_key_part(part: &str) -> bool {
    (1..=MAX_KEY_PART_BYTES).contains(&part.len())
        && part
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-'))
}

/// [`is_key_part`] as a `bad-request` naming `what` (e.g. `sku`) and the value.
pub fn check_key_part(what: &str, part: &str) -> Result<()> {
    if is_key_part(part) {
        return Ok(());
    }
    Err(Error::bad_request(format!(
        "{what} `{part}` is not valid; use 1 to {MAX_KEY_PART_BYTES} letters, digits, `.`, `_` or `-`"
    )))
}

impl From<wit::KvError> for Error {
    fn from(error: wit::KvError) -> Self {
        match error {
            wit::KvError::InvalidKey(reason) => Error::bad_request(format!("invalid storage key: {reason}")),
            wit::KvError::ValueTooLarge(limit) => Error::unprocessable(format!(
                "the value is larger than the storage limit of {limit} bytes"
            )),
            wit::KvError::Unavailable(reason) => match reason.strip_prefix(HOST_QUOTA_PREFIX) {
                Some(detail) => Error::conflict(format!("{QUOTA_EXCEEDED}{detail}")),
                None => Error::unavailable(format!("storage is unavailable: {reason}")),
            },
        }
    }
}

/// The bytes stored under `key`, if any.
pub fn get(key: &str) -> Result<Option<Vec<u8>>> {
    Ok(wit::get(key)?)
}

/// Stores `value` under `key`.
pub fn set(key: &str, value: &[u8]) -> Result<()> {
    Ok(wit::set(key, value)?)
}

/// Removes `key`; returns whether it existed.
pub fn delete(key: &str) -> Result<bool> {
    Ok(wit::delete(key)?)
}

/// The JSON value stored under `key`, if any. A stored value that does not
/// parse as `T` is an `internal` error naming the key.
pub fn get_json<T: DeserializeOwned>(key: &str) -> Result<Option<T>> {
    get(key)?
        .map(|bytes| {
            serde_json::from_slice(&bytes).map_err(|error| {
                Error::internal(format!(
                    "stored value `{key}` is not in the expected shape: {error}"
                ))
            })
        })
        .transpose()
}

/// Stores `value` as JSON under `key`.
pub fn set_json<T: Serialize + ?Sized>(key: &str, value: &T) -> Result<()> {
    let bytes = serde_json::to_vec(value)
        .map_err(|error| Error::internal(format!("could not serialise value `{key}`: {error}")))?;
    set(key, &bytes)
}

/// One page of keys starting with `prefix`, after `after`, at most `limit` (0 = the host's cap).
pub fn list(prefix: &str, after: Option<&str>, limit: u32) -> Result<KeyPage> {
    Ok(wit::list(prefix, after, limit)?)
}

/// Every key starting with `prefix`, following pages. Stops with an
/// `unprocessable` error past `max_keys` so a module cannot accidentally read
/// an unbounded scope into memory.
pub fn list_all(prefix: &str, max_keys: usize) -> Result<Vec<String>> {
    let mut keys = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = list(prefix, after.as_deref(), 0)?;
        keys.extend(page.keys);
        if keys.len() > max_keys {
            return Err(Error::unprocessable(format!(
                "more than {max_keys} keys start with `{prefix}`"
            )));
        }
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(keys),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_parts_cannot_contain_separators() {
        assert_eq!(check_key_part("sku", "TS-01.M_blue"), Ok(()));
        assert!(is_key_part(&"x".repeat(64)));
        for bad in ["", "a/b", "a b", "é", &"x".repeat(65)] {
            assert!(!is_key_part(bad), "{bad}");
            assert_eq!(
                check_key_part("sku", bad),
                Err(Error::bad_request(format!(
                    "sku `{bad}` is not valid; use 1 to 64 letters, digits, `.`, `_` or `-`"
                )))
            );
        }
        assert_eq!(
            check_key_part("location", "s/1"),
            Err(Error::bad_request(
                "location `s/1` is not valid; use 1 to 64 letters, digits, `.`, `_` or `-`"
            ))
        );
    }

    #[test]
    fn a_full_quota_is_a_conflict_and_other_storage_failures_stay_unavailable() {
        let full = Error::from(wit::KvError::Unavailable(
            "quota exceeded: this write would leave the module's data at 11 keys, 40 bytes; its quota is 10 keys, 1048576 bytes; delete keys or store less".to_owned(),
        ));
        assert_eq!(
            full,
            Error::conflict(
                "storage quota exceeded: this write would leave the module's data at 11 keys, 40 bytes; its quota is 10 keys, 1048576 bytes; delete keys or store less"
            )
        );
        assert!(is_quota_exceeded(&full));
        let failed = Error::from(wit::KvError::Unavailable(
            "the host's storage failed; try again".to_owned(),
        ));
        assert_eq!(
            failed,
            Error::unavailable("storage is unavailable: the host's storage failed; try again")
        );
        assert!(!is_quota_exceeded(&failed));
    }
}
