//! The `kv` capability: the module's data in its (tenant, module) scope, as one transaction per call.
//!
//! Reads go to the store; writes are kept in the call's transaction (and
//! read back from it, so a call sees its own writes) and reach the store in
//! one atomic, durable [`KvStore::commit`] only when the call succeeds: a
//! call that traps, misses its deadline, hits a limit or answers with a
//! module error leaves no write behind. A call may buffer at most
//! [`MAX_CALL_WRITE_BYTES`].
//!
//! Every write is checked against the scope's [`KvQuota`] as it is made: the
//! call's projected usage (the scope's usage when the call first wrote, plus
//! what its pending writes change) may not grow past the quota, and the
//! guest gets `unavailable("quota exceeded: …")` at once, with nothing
//! buffered. The store checks again at commit, atomically, against the usage
//! of that moment: of two calls that each fit alone but not together, the
//! second to commit fails as a whole with [`CallError::QuotaExceeded`].
//!
//! [`CallError::QuotaExceeded`]: crate::CallError::QuotaExceeded

use std::collections::BTreeMap;
use std::sync::Arc;

use wasmtime::component::{HasData, Linker};

use crate::bindings::v1_0;
use crate::kv::{
    KvQuota, KvScope, KvStore, KvUsage, KvWrite, MAX_KEY_BYTES, MAX_LIST_PAGE, MAX_VALUE_BYTES,
    QUOTA_EXCEEDED_PREFIX, entry_size, validate_key,
};

/// The most bytes (keys plus values) one call's transaction may hold.
pub const MAX_CALL_WRITE_BYTES: usize = 64 * 1024 * 1024;

/// One call's kv: its scope, the store, and the writes not yet committed.
pub struct KvCtx {
    scope: KvScope,
    store: Arc<dyn KvStore>,
    quota: KvQuota,
    /// Key → new value (`None`: deleted), in key order.
    pending: BTreeMap<String, Option<Vec<u8>>>,
    pending_bytes: usize,
    /// The scope's usage as this call's pending writes would leave it; read
    /// from the store at the first write.
    projected: Option<KvUsage>,
}

/// Access to a call's [`KvCtx`].
pub trait KvView: Send {
    /// The call's kv context.
    fn kv(&mut self) -> &mut KvCtx;
}

/// Why a kv operation failed, in the guest's terms.
enum KvFailure {
    InvalidKey(String),
    ValueTooLarge,
    Unavailable(String),
    QuotaExceeded { after: KvUsage, quota: KvQuota },
}

impl KvCtx {
    /// A transaction over `scope` in `store`.
    pub(crate) fn new(scope: KvScope, store: Arc<dyn KvStore>, quota: KvQuota) -> Self {
        Self {
            scope,
            store,
            quota,
            pending: BTreeMap::new(),
            pending_bytes: 0,
            projected: None,
        }
    }

    /// Commits the call's writes, if it made any: applied at once, then
    /// awaited until durable (a group-commit flush; never a blocked worker).
    pub(crate) async fn commit(&mut self) -> anyhow::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let writes: Vec<KvWrite> = std::mem::take(&mut self.pending)
            .into_iter()
            .map(|(key, value)| match value {
                Some(value) => KvWrite::Set { key, value },
                None => KvWrite::Delete { key },
            })
            .collect();
        self.pending_bytes = 0;
        self.projected = None;
        self.store.commit(&self.scope, &writes, self.quota)?.await
    }

    fn unavailable(&self, error: anyhow::Error) -> KvFailure {
        tracing::error!(tenant = %self.scope.tenant, module = %self.scope.module, error = %format!("{error:#}"), "kv storage failed");
        KvFailure::Unavailable("the host's storage failed; try again".to_owned())
    }

    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvFailure> {
        validate_key(key).map_err(KvFailure::InvalidKey)?;
        if let Some(pending) = self.pending.get(key) {
            return Ok(pending.clone());
        }
        self.store
            .get(&self.scope, key)
            .map_err(|error| self.unavailable(error))
    }

    /// Buffers one write. `current` is the key's value as the call sees it
    /// now (its own pending write, else the stored value).
    fn write(
        &mut self,
        key: String,
        value: Option<Vec<u8>>,
        current: Option<&[u8]>,
    ) -> Result<(), KvFailure> {
        let added = key.len() + value.as_ref().map_or(0, Vec::len);
        let replaced = self
            .pending
            .get(&key)
            .map_or(0, |old| key.len() + old.as_ref().map_or(0, Vec::len));
        let total = self.pending_bytes - replaced + added;
        if total > MAX_CALL_WRITE_BYTES {
            return Err(KvFailure::Unavailable(format!(
                "this call's writes would exceed {} MiB; write less per request",
                MAX_CALL_WRITE_BYTES / (1024 * 1024)
            )));
        }
        let before = match self.projected {
            Some(usage) => usage,
            None => self
                .store
                .usage(&self.scope)
                .map_err(|error| self.unavailable(error))?,
        };
        let mut after = before;
        after.remove(current.map(|old| entry_size(&key, old)));
        after.add(value.as_deref().map(|new| entry_size(&key, new)));
        if self.quota.refuses(before, after) {
            return Err(KvFailure::QuotaExceeded {
                after,
                quota: self.quota,
            });
        }
        self.projected = Some(after);
        self.pending_bytes = total;
        self.pending.insert(key, value);
        Ok(())
    }

    fn set(&mut self, key: String, value: Vec<u8>) -> Result<(), KvFailure> {
        validate_key(&key).map_err(KvFailure::InvalidKey)?;
        if value.len() > MAX_VALUE_BYTES {
            return Err(KvFailure::ValueTooLarge);
        }
        let current = self.get(&key)?;
        self.write(key, Some(value), current.as_deref())
    }

    fn delete(&mut self, key: String) -> Result<bool, KvFailure> {
        let current = self.get(&key)?;
        let existed = current.is_some();
        self.write(key, None, current.as_deref())?;
        Ok(existed)
    }

    /// Up to `limit` keys (plus one, to tell whether there is a next page)
    /// merged from the store and the call's own writes.
    fn list(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<String>, Option<String>), KvFailure> {
        if prefix.len() > MAX_KEY_BYTES {
            return Err(KvFailure::InvalidKey(
                "the prefix is longer than a key may be".to_owned(),
            ));
        }
        let in_range = |key: &str| key.starts_with(prefix) && after.is_none_or(|after| key > after);
        let pending: Vec<(&String, bool)> = self
            .pending
            .iter()
            .filter(|(key, _)| in_range(key))
            .map(|(key, value)| (key, value.is_some()))
            .collect();
        let deleted = pending.iter().filter(|(_, present)| !present).count();
        let stored = self
            .store
            .list(&self.scope, prefix, after, limit + 1 + deleted)
            .map_err(|error| self.unavailable(error))?;
        let mut keys: Vec<String> = stored
            .into_iter()
            .filter(|key| !self.pending.contains_key(key))
            .chain(
                pending
                    .iter()
                    .filter(|(_, present)| *present)
                    .map(|(key, _)| (*key).clone()),
            )
            .collect();
        keys.sort_unstable();
        let next = if keys.len() > limit {
            keys.truncate(limit);
            keys.last().cloned()
        } else {
            None
        };
        Ok((keys, next))
    }
}

struct KvHost<'a>(&'a mut KvCtx);

struct HasKv;

impl HasData for HasKv {
    type Data<'a> = KvHost<'a>;
}

impl From<KvFailure> for v1_0::kv::KvError {
    fn from(failure: KvFailure) -> Self {
        match failure {
            KvFailure::InvalidKey(reason) => Self::InvalidKey(reason),
            KvFailure::ValueTooLarge => Self::ValueTooLarge(MAX_VALUE_BYTES as u32),
            KvFailure::Unavailable(reason) => Self::Unavailable(reason),
            KvFailure::QuotaExceeded { after, quota } => Self::Unavailable(format!(
                "{QUOTA_EXCEEDED_PREFIX}this write would leave the module's data at {} keys, {} bytes; its quota is {} keys, {} bytes; delete keys or store less",
                after.keys, after.bytes, quota.max_keys, quota.max_bytes
            )),
        }
    }
}

impl v1_0::kv::Host for KvHost<'_> {
    fn get(&mut self, key: String) -> Result<Option<Vec<u8>>, v1_0::kv::KvError> {
        Ok(self.0.get(&key)?)
    }

    fn set(&mut self, key: String, value: Vec<u8>) -> Result<(), v1_0::kv::KvError> {
        Ok(self.0.set(key, value)?)
    }

    fn delete(&mut self, key: String) -> Result<bool, v1_0::kv::KvError> {
        Ok(self.0.delete(key)?)
    }

    fn list(
        &mut self,
        prefix: String,
        after: Option<String>,
        limit: u32,
    ) -> Result<v1_0::kv::KeyPage, v1_0::kv::KvError> {
        let limit = match usize::try_from(limit) {
            Ok(0) | Err(_) => MAX_LIST_PAGE,
            Ok(limit) => limit.min(MAX_LIST_PAGE),
        };
        let (keys, next) = self.0.list(&prefix, after.as_deref(), limit)?;
        Ok(v1_0::kv::KeyPage { keys, next })
    }
}

/// Links `modhost:module/kv`.
pub fn add_to_linker<T: KvView + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    v1_0::kv::add_to_linker::<T, HasKv>(linker, |state| KvHost(state.kv()))
}
