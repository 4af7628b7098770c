//! The append-only audit log: written with every change, queried by operators.
//!
//! Entries are keyed by a big-endian id from the store's id generator, so they
//! sort in the order they were written. A change and its audit entry are
//! written in one batch: there is never a change without its record.

use crate::error::RegistryError;
use crate::model::{AuditEntry, AuditOutcome, AuditPage, AuditQuery, now_ms};
use crate::records::{decode, encode};
use crate::registry::Registry;
use crate::store::{Batch, Tree};

/// The audit log, keyed by entry id.
pub(crate) const AUDIT: Tree = Tree::new("audit");

/// An audit record before it gets its id and time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditDraft {
    /// Who.
    pub actor: String,
    /// What, e.g. `tenant.create`.
    pub action: String,
    /// On what.
    pub target: String,
    /// The tenant concerned.
    pub tenant: Option<String>,
    /// How it ended.
    pub outcome: AuditOutcome,
    /// Why, for refusals.
    pub detail: Option<String>,
}

impl AuditDraft {
    /// A successful action.
    pub fn ok(actor: &str, action: &str, target: impl Into<String>, tenant: Option<&str>) -> Self {
        Self {
            actor: actor.to_owned(),
            action: action.to_owned(),
            target: target.into(),
            tenant: tenant.map(str::to_owned),
            outcome: AuditOutcome::Ok,
            detail: None,
        }
    }

    pub(crate) fn into_entry(self, id: u64) -> AuditEntry {
        AuditEntry {
            id,
            at_ms: now_ms(),
            actor: self.actor,
            action: self.action,
            target: self.target,
            tenant: self.tenant,
            outcome: self.outcome,
            detail: self.detail,
        }
    }
}

const MAX_QUERY_LIMIT: usize = 1000;
/// The most audit records one query looks at.
pub(crate) const MAX_QUERY_SCAN: usize = 50_000;

impl Registry {
    /// Appends an entry on its own (e.g. a denial the server saw), durably.
    pub fn record_audit(&self, draft: AuditDraft) -> Result<AuditEntry, RegistryError> {
        let entry = self.record_audit_lazily(draft)?;
        self.flush()?;
        Ok(entry)
    }

    /// Appends an entry without flushing: it becomes durable with the next
    /// flush (any change, or the store's own periodic flush). For refused
    /// requests, which must not cost an fsync each.
    pub fn record_audit_lazily(&self, draft: AuditDraft) -> Result<AuditEntry, RegistryError> {
        let id = self.inner.store.next_id()?;
        let entry = draft.into_entry(id);
        self.inner.store.put(AUDIT, &id.to_be_bytes(), &encode(&entry)?)?;
        Ok(entry)
    }

    /// Records a refused operation, without letting an audit failure hide the refusal.
    pub(crate) fn audit_refusal(&self, mut draft: AuditDraft, error: &RegistryError) {
        draft.outcome = AuditOutcome::Failed;
        draft.detail = Some(error.to_string());
        if let Err(audit_error) = self.record_audit(draft) {
            tracing::error!(error = %audit_error, "could not record a refused operation in the audit log");
        }
    }

    /// Writes `value` under `key` in `tree` and the audit entry in one
    /// batch, then flushes.
    pub(crate) fn commit_with_audit(
        &self,
        tree: Tree,
        key: &[u8],
        value: &[u8],
        draft: AuditDraft,
    ) -> Result<AuditEntry, RegistryError> {
        let mut batch = Batch::new();
        batch.put(tree, key, value);
        self.commit_audited(batch, draft)?.ok_or_else(|| {
            RegistryError::Storage("an unconditional write was refused by the store".to_owned())
        })
    }

    /// Applies `batch` together with the audit entry for `draft`, then
    /// flushes; `None` (nothing written) when a key the batch requires
    /// absent exists.
    pub(crate) fn commit_audited(
        &self,
        mut batch: Batch,
        draft: AuditDraft,
    ) -> Result<Option<AuditEntry>, RegistryError> {
        let id = self.inner.store.next_id()?;
        let entry = draft.into_entry(id);
        batch.put(AUDIT, id.to_be_bytes(), encode(&entry)?);
        if !self.inner.store.apply(&batch)? {
            return Ok(None);
        }
        self.flush()?;
        Ok(Some(entry))
    }

    /// Deletes the oldest entries until at most `max_entries` remain and none
    /// is older than `max_age` (entries are in time order, so only a prefix
    /// goes); returns how many were deleted. Deletes go in batches of 1,000
    /// with one flush at the end.
    pub fn prune_audit(&self, max_entries: u64, max_age: std::time::Duration) -> Result<u64, RegistryError> {
        let mut total: u64 = 0;
        for item in self.inner.store.scan_prefix(AUDIT, &[])? {
            item?;
            total += 1;
        }
        let excess = total.saturating_sub(max_entries);
        let cutoff_ms = now_ms().saturating_sub(u64::try_from(max_age.as_millis()).unwrap_or(u64::MAX));
        let mut deleted: u64 = 0;
        let mut batch = Batch::new();
        for item in self.inner.store.scan_prefix(AUDIT, &[])? {
            let (key, bytes) = item?;
            if deleted >= excess {
                let entry: AuditEntry = decode(&bytes)?;
                if entry.at_ms >= cutoff_ms {
                    break;
                }
            }
            batch.delete(AUDIT, key);
            deleted += 1;
            if deleted.is_multiple_of(1000) {
                self.inner.store.apply(&std::mem::take(&mut batch))?;
            }
        }
        if !batch.is_empty() {
            self.inner.store.apply(&batch)?;
        }
        if deleted > 0 {
            self.flush()?;
            tracing::info!(deleted, kept = total - deleted, "pruned the audit log");
        }
        Ok(deleted)
    }

    /// Entries matching `query`, oldest first (one page; see [`Registry::audit_page`]).
    pub fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>, RegistryError> {
        Ok(self.audit_page(query)?.entries)
    }

    /// One page of entries matching `query`, oldest first: at most its
    /// `limit` (default and cap 1,000), from at most 50,000 records looked
    /// at (`MAX_QUERY_SCAN`), so a query with a rare filter over a long log
    /// costs a bounded time; `next_after` says where to go on.
    pub fn audit_page(&self, query: &AuditQuery) -> Result<AuditPage, RegistryError> {
        let limit = query.limit.unwrap_or(MAX_QUERY_LIMIT).clamp(1, MAX_QUERY_LIMIT);
        let start = query.after.map_or(0, |after| after.saturating_add(1));
        let mut page = AuditPage::default();
        for (scanned, item) in self
            .inner
            .store
            .scan(AUDIT, &[], Some(&start.to_be_bytes()))?
            .enumerate()
        {
            let (_, bytes) = item?;
            let entry: AuditEntry = decode(&bytes)?;
            let id = entry.id;
            let wanted = query
                .tenant
                .as_ref()
                .is_none_or(|tenant| entry.tenant.as_ref() == Some(tenant))
                && query.actor.as_ref().is_none_or(|actor| &entry.actor == actor)
                && query
                    .action
                    .as_ref()
                    .is_none_or(|action| entry.action.starts_with(action.as_str()))
                && query.since_ms.is_none_or(|since| entry.at_ms >= since)
                && query.until_ms.is_none_or(|until| entry.at_ms <= until);
            if wanted {
                page.entries.push(entry);
            }
            if page.entries.len() == limit || scanned + 1 == MAX_QUERY_SCAN {
                page.next_after = Some(id);
                break;
            }
        }
        Ok(page)
    }
}
