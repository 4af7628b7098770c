//! The append-only audit log: written with every change, queried by operators.
//!
//! Entries are keyed by a big-endian id from sled's id generator, so they sort
//! in the order they were written. A change and its audit entry are written in
//! one transaction: there is never a change without its record.

use sled::Transactional as _;
use sled::transaction::{
    ConflictableTransactionError, ConflictableTransactionResult, TransactionError, TransactionalTree,
};

use crate::kv::KvWrite;
use crate::model::{AuditEntry, AuditOutcome, AuditQuery, now_ms};
use crate::{Registry, RegistryError, decode, encode};

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

/// Appends `draft` to the audit tree inside a transaction.
pub(crate) fn append_in_transaction(
    audit: &TransactionalTree,
    draft: &AuditDraft,
) -> ConflictableTransactionResult<AuditEntry, serde_json::Error> {
    let id = audit.generate_id()?;
    let entry = draft.clone().into_entry(id);
    let encoded = serde_json::to_vec(&entry).map_err(ConflictableTransactionError::Abort)?;
    audit.insert(&id.to_be_bytes(), encoded)?;
    Ok(entry)
}

/// A failed registry transaction as a [`RegistryError`].
pub(crate) fn transaction_error(error: TransactionError<serde_json::Error>) -> RegistryError {
    match error {
        TransactionError::Abort(error) => RegistryError::from(error),
        TransactionError::Storage(error) => RegistryError::from(error),
    }
}

impl Registry {
    /// Appends an entry on its own (e.g. a denial the server saw), durably.
    pub fn record_audit(&self, draft: AuditDraft) -> Result<AuditEntry, RegistryError> {
        let id = self.inner.db.generate_id()?;
        let entry = draft.into_entry(id);
        self.inner.audit.insert(id.to_be_bytes(), encode(&entry)?)?;
        self.flush()?;
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
    /// transaction, then flushes.
    pub(crate) fn commit_with_audit(
        &self,
        tree: &sled::Tree,
        key: &[u8],
        value: &[u8],
        draft: AuditDraft,
    ) -> Result<AuditEntry, RegistryError> {
        self.commit_with_audit_and_data(tree, key, value, draft, &[])
    }

    /// Like [`Registry::commit_with_audit`], also applying `data` to the module
    /// data tree in the same transaction.
    pub(crate) fn commit_with_audit_and_data(
        &self,
        tree: &sled::Tree,
        key: &[u8],
        value: &[u8],
        draft: AuditDraft,
        data: &[KvWrite],
    ) -> Result<AuditEntry, RegistryError> {
        let entry = (tree, &self.inner.audit, &self.inner.kv)
            .transaction(|(tree, audit, kv)| {
                for write in data {
                    match write {
                        KvWrite::Remove(key) => {
                            kv.remove(key.as_slice())?;
                        }
                        KvWrite::Insert(key, value) => {
                            kv.insert(key.as_slice(), value.as_slice())?;
                        }
                    }
                }
                tree.insert(key, value)?;
                append_in_transaction(audit, &draft)
            })
            .map_err(transaction_error)?;
        self.flush()?;
        Ok(entry)
    }

    /// Entries matching `query`, oldest first.
    pub fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>, RegistryError> {
        let limit = query.limit.unwrap_or(MAX_QUERY_LIMIT).min(MAX_QUERY_LIMIT);
        let start = query.after.map_or(0, |after| after.saturating_add(1));
        let mut entries = Vec::new();
        for item in self.inner.audit.range(start.to_be_bytes()..) {
            let (_, bytes) = item?;
            let entry: AuditEntry = decode(&bytes)?;
            let wanted = query
                .tenant
                .as_ref()
                .is_none_or(|tenant| entry.tenant.as_ref() == Some(tenant))
                && query.actor.as_ref().is_none_or(|actor| &entry.actor == actor)
                && query
                    .action
                    .as_ref()
                    .is_none_or(|action| entry.action.starts_with(action.as_str()));
            if wanted {
                entries.push(entry);
                if entries.len() == limit {
                    break;
                }
            }
        }
        Ok(entries)
    }
}
