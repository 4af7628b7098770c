//! The key-value capability's storage contract: scopes, key rules, one call's writes as one commit, an in-memory store.
//!
//! A [`KvScope`] is chosen by the host from the call's tenant and module; a
//! guest only ever supplies a key inside it. [`validate_key`] enforces the
//! rules documented in the WIT `kv` interface before any store sees a key, so
//! every [`KvStore`] implementation can treat keys as opaque, bounded UTF-8.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

/// The longest key, in bytes.
pub const MAX_KEY_BYTES: usize = 512;
/// The largest value, in bytes.
pub const MAX_VALUE_BYTES: usize = 1024 * 1024;
/// The most keys one `list` call returns.
pub const MAX_LIST_PAGE: usize = 1000;

/// The (tenant, module) pair whose data a call may touch.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KvScope {
    /// The tenant id, from the host's routing, never from the guest.
    pub tenant: String,
    /// The module id.
    pub module: String,
}

/// One write of a call's transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KvWrite {
    /// Store `value` under `key`.
    Set {
        /// The key.
        key: String,
        /// The value.
        value: Vec<u8>,
    },
    /// Remove `key`.
    Delete {
        /// The key.
        key: String,
    },
}

/// What a scope holds: keys, and bytes of every key plus its value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KvUsage {
    /// Stored keys.
    pub keys: u64,
    /// Bytes of keys plus values.
    pub bytes: u64,
}

impl KvUsage {
    /// Counts an entry of `size` bytes in (`None`: no entry).
    pub fn add(&mut self, size: Option<u64>) {
        if let Some(size) = size {
            self.keys += 1;
            self.bytes += size;
        }
    }

    /// Counts an entry of `size` bytes out (`None`: no entry).
    pub fn remove(&mut self, size: Option<u64>) {
        if let Some(size) = size {
            self.keys = self.keys.saturating_sub(1);
            self.bytes = self.bytes.saturating_sub(size);
        }
    }
}

/// What one entry counts against a quota: its key's bytes plus its value's.
pub fn entry_size(key: &str, value: &[u8]) -> u64 {
    u64::try_from(key.len().saturating_add(value.len())).unwrap_or(u64::MAX)
}

/// The most a scope may hold: the module's `[limits]` ask, capped by the operator.
/// Writes that grow a scope past it are refused; deletes and shrinking
/// writes always pass, so a scope over a lowered quota can be cleaned up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KvQuota {
    /// The most keys.
    pub max_keys: u64,
    /// The most bytes of keys plus values.
    pub max_bytes: u64,
}

impl KvQuota {
    /// No quota.
    pub const UNLIMITED: Self = Self {
        max_keys: u64::MAX,
        max_bytes: u64::MAX,
    };

    /// Whether going from `before` to `after` breaks the quota.
    pub fn refuses(&self, before: KvUsage, after: KvUsage) -> bool {
        (after.keys > self.max_keys && after.keys > before.keys)
            || (after.bytes > self.max_bytes && after.bytes > before.bytes)
    }
}

/// How a refused write's `unavailable` message begins, so guests (the SDK)
/// can tell a full quota from a storage failure until the WIT has a case of
/// its own for it.
pub const QUOTA_EXCEEDED_PREFIX: &str = "quota exceeded: ";

/// A commit refused because it would grow the scope past its quota; nothing
/// was written. Returned (inside `anyhow`) by [`KvStore::commit`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the module's data would hold {} keys, {} bytes; its quota is {} keys, {} bytes", after.keys, after.bytes, quota.max_keys, quota.max_bytes)]
pub struct KvQuotaExceeded {
    /// What the scope would have held.
    pub after: KvUsage,
    /// The quota.
    pub quota: KvQuota,
}

/// The durability of one [`KvStore::commit`]: resolves once the committed
/// writes would survive a crash, or with the error that kept them from it.
/// The runtime awaits it before the call's outcome is final.
pub type KvDurability = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send + 'static>>;

/// A [`KvDurability`] with nothing left to wait for (a store whose writes are
/// durable, or gone, as soon as they are applied).
pub fn durable_now() -> KvDurability {
    Box::pin(std::future::ready(Ok(())))
}

/// Where kv data lives. Implementations receive only validated keys and values
/// within the limits above. A call's writes are buffered by the sandbox and
/// reach the store in one [`KvStore::commit`] when the call succeeds.
pub trait KvStore: Send + Sync + 'static {
    /// The value under `key`.
    fn get(&self, scope: &KvScope, key: &str) -> anyhow::Result<Option<Vec<u8>>>;
    /// Up to `limit` keys starting with `prefix`, strictly after `after`, ascending.
    fn list(
        &self,
        scope: &KvScope,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> anyhow::Result<Vec<String>>;
    /// Applies one call's writes to `scope`, in order, atomically (all or
    /// none), and returns their [`KvDurability`]: the writes are acknowledged
    /// only once it resolves `Ok` (they would then survive a crash). It must
    /// not block on durability itself: it runs on an async executor's
    /// worker. When the writes would grow the scope past `quota` nothing is
    /// written and the error is a [`KvQuotaExceeded`]; the check and the
    /// write are one step, so calls committing at once cannot pass it together.
    fn commit(&self, scope: &KvScope, writes: &[KvWrite], quota: KvQuota) -> anyhow::Result<KvDurability>;
    /// What `scope` holds now.
    fn usage(&self, scope: &KvScope) -> anyhow::Result<KvUsage>;
}

/// Why a key was refused, in words for the guest.
pub fn validate_key(key: &str) -> Result<(), String> {
    if key.is_empty() {
        return Err("the key is empty".to_owned());
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(format!(
            "the key is {} bytes long; the limit is {MAX_KEY_BYTES}",
            key.len()
        ));
    }
    if let Some(position) = key.chars().position(char::is_control) {
        return Err(format!("the key has a control character at position {position}"));
    }
    Ok(())
}

/// A [`KvStore`] in memory, for embedding the runtime without persistence and
/// for tests of the runtime alone. Data is lost when it is dropped.
#[derive(Debug, Default)]
pub struct MemoryKvStore {
    scopes: Mutex<BTreeMap<KvScope, BTreeMap<String, Vec<u8>>>>,
}

impl MemoryKvStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn with_scope<R>(&self, scope: &KvScope, f: impl FnOnce(&mut BTreeMap<String, Vec<u8>>) -> R) -> R {
        let mut scopes = self
            .scopes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(scopes.entry(scope.clone()).or_default())
    }
}

impl MemoryKvStore {
    /// Stores `value` under `key` at once (setting up a test's data).
    pub fn set(&self, scope: &KvScope, key: &str, value: &[u8]) -> anyhow::Result<()> {
        self.with_scope(scope, |entries| entries.insert(key.to_owned(), value.to_vec()));
        Ok(())
    }

    /// Removes `key` at once; whether it existed.
    pub fn delete(&self, scope: &KvScope, key: &str) -> anyhow::Result<bool> {
        Ok(self.with_scope(scope, |entries| entries.remove(key).is_some()))
    }
}

impl KvStore for MemoryKvStore {
    fn get(&self, scope: &KvScope, key: &str) -> anyhow::Result<Option<Vec<u8>>> {
        Ok(self.with_scope(scope, |entries| entries.get(key).cloned()))
    }

    fn commit(&self, scope: &KvScope, writes: &[KvWrite], quota: KvQuota) -> anyhow::Result<KvDurability> {
        self.with_scope(scope, |entries| {
            let before = usage_of(entries);
            let mut updated = entries.clone();
            for write in writes {
                match write {
                    KvWrite::Set { key, value } => {
                        updated.insert(key.clone(), value.clone());
                    }
                    KvWrite::Delete { key } => {
                        updated.remove(key);
                    }
                }
            }
            let after = usage_of(&updated);
            if quota.refuses(before, after) {
                return Err(KvQuotaExceeded { after, quota }.into());
            }
            *entries = updated;
            Ok(durable_now())
        })
    }

    fn usage(&self, scope: &KvScope) -> anyhow::Result<KvUsage> {
        Ok(self.with_scope(scope, |entries| usage_of(entries)))
    }

    fn list(
        &self,
        scope: &KvScope,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> anyhow::Result<Vec<String>> {
        Ok(self.with_scope(scope, |entries| {
            entries
                .range::<str, _>((after_bound(prefix, after), std::ops::Bound::Unbounded))
                .map(|(key, _)| key)
                .take_while(|key| key.starts_with(prefix))
                .take(limit)
                .cloned()
                .collect()
        }))
    }
}

fn usage_of(entries: &BTreeMap<String, Vec<u8>>) -> KvUsage {
    let mut usage = KvUsage::default();
    for (key, value) in entries {
        usage.add(Some(entry_size(key, value)));
    }
    usage
}

/// The lower bound of a listing: after `after` when it sorts at or past the prefix, else the prefix.
pub fn after_bound<'a>(prefix: &'a str, after: Option<&'a str>) -> std::ops::Bound<&'a str> {
    match after {
        Some(after) if after >= prefix => std::ops::Bound::Excluded(after),
        _ => std::ops::Bound::Included(prefix),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_checked() {
        assert_eq!(validate_key(""), Err("the key is empty".to_owned()));
        assert_eq!(
            validate_key("a\0b"),
            Err("the key has a control character at position 1".to_owned())
        );
        assert_eq!(
            validate_key(&"k".repeat(513)),
            Err("the key is 513 bytes long; the limit is 512".to_owned())
        );
        assert_eq!(
            validate_key("../other-tenant/x"),
            Ok(()),
            "keys are opaque names, not paths"
        );
    }

    #[test]
    fn scopes_are_separate_and_listing_pages() {
        let store = MemoryKvStore::new();
        let acme = KvScope {
            tenant: "acme".into(),
            module: "inventory".into(),
        };
        let banban = KvScope {
            tenant: "banban".into(),
            module: "inventory".into(),
        };
        for key in ["items/a", "items/b", "items/c", "other"] {
            store.set(&acme, key, b"1").expect("set");
        }
        assert_eq!(store.get(&banban, "items/a").expect("get"), None);
        assert_eq!(
            store.list(&acme, "items/", None, 2).expect("list"),
            ["items/a", "items/b"]
        );
        assert_eq!(
            store.list(&acme, "items/", Some("items/b"), 10).expect("list"),
            ["items/c"]
        );
        assert_eq!(store.list(&acme, "items/", Some("a"), 10).expect("list").len(), 3);
        assert!(store.delete(&acme, "other").expect("delete"));
        assert!(!store.delete(&acme, "other").expect("delete"));
    }
}
