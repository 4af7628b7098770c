//! The storage seam: the small transactional key-value contract every registry file writes through.
//!
//! A [`Store`] holds named keyspaces ([`Tree`]s) of ordered byte keys. The
//! domain files (tenants, tokens, deployments, configs, publish, audit, module
//! data) name their trees and keys and encode their records; they never name
//! the engine. Two engines implement it: [`MemoryStore`] (tests, embedding)
//! and [`DiskStore`], the durable on-disk engine behind [`crate::Registry::open`].
//!
//! The contract, checked against both engines by the conformance tests in
//! `store/conformance.rs`:
//!
//! - [`Store::apply`] applies a [`Batch`] of puts and deletes, across any
//!   trees, all or nothing; a batch may first require keys to be absent, and
//!   when one exists nothing is written and `apply` returns `false`;
//! - [`Store::scan`] yields a tree's entries with a prefix in ascending key order;
//! - [`Store::next_id`] is strictly increasing for the life of the data,
//!   across reopening (the audit log and snapshots are keyed by it);
//! - [`Store::flush`] returns once everything applied before it is durable.

mod disk;
mod memory;

#[cfg(test)]
mod conformance;

pub use self::disk::DiskStore;
pub use self::memory::MemoryStore;

/// A named keyspace of a store, e.g. `tenants`. Names are fixed by the code, never by users.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tree(&'static str);

impl Tree {
    /// The tree called `name`.
    pub const fn new(name: &'static str) -> Self {
        Self(name)
    }

    /// Its name.
    pub const fn name(self) -> &'static str {
        self.0
    }
}

/// Why the storage engine failed. The message names the failure and, where
/// one exists, what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StoreError(pub String);

/// A key and its value, as stored.
pub type Entry = (Vec<u8>, Vec<u8>);

/// The entries of a scan, ascending by key.
pub type Entries<'a> = Box<dyn Iterator<Item = Result<Entry, StoreError>> + 'a>;

/// One write of a [`Batch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    /// Store `value` under `key` in `tree`.
    Put {
        /// The tree.
        tree: Tree,
        /// The key.
        key: Vec<u8>,
        /// The value.
        value: Vec<u8>,
    },
    /// Remove `key` from `tree` (a no-op when absent).
    Delete {
        /// The tree.
        tree: Tree,
        /// The key.
        key: Vec<u8>,
    },
}

impl Write {
    /// The tree it writes to.
    pub fn tree(&self) -> Tree {
        match self {
            Self::Put { tree, .. } | Self::Delete { tree, .. } => *tree,
        }
    }
}

/// Writes applied together or not at all, in order, after checking that
/// every key named by [`Batch::require_absent`] is absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    writes: Vec<Write>,
    absent: Vec<(Tree, Vec<u8>)>,
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a put.
    pub fn put(&mut self, tree: Tree, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> &mut Self {
        self.writes.push(Write::Put {
            tree,
            key: key.into(),
            value: value.into(),
        });
        self
    }

    /// Adds a delete.
    pub fn delete(&mut self, tree: Tree, key: impl Into<Vec<u8>>) -> &mut Self {
        self.writes.push(Write::Delete {
            tree,
            key: key.into(),
        });
        self
    }

    /// Applies the batch only if `key` is absent from `tree` when it is applied.
    pub fn require_absent(&mut self, tree: Tree, key: impl Into<Vec<u8>>) -> &mut Self {
        self.absent.push((tree, key.into()));
        self
    }

    /// Adds every write of `other` (its conditions too).
    pub fn extend(&mut self, other: Batch) -> &mut Self {
        self.writes.extend(other.writes);
        self.absent.extend(other.absent);
        self
    }

    /// The writes, in order.
    pub fn writes(&self) -> &[Write] {
        &self.writes
    }

    /// The keys that must be absent.
    pub fn required_absent(&self) -> &[(Tree, Vec<u8>)] {
        &self.absent
    }

    /// Whether it writes nothing and checks nothing.
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty() && self.absent.is_empty()
    }

    /// Every tree it touches, each once, sorted.
    pub fn trees(&self) -> Vec<Tree> {
        let mut trees: Vec<Tree> = self
            .writes
            .iter()
            .map(Write::tree)
            .chain(self.absent.iter().map(|(tree, _)| *tree))
            .collect();
        trees.sort_unstable();
        trees.dedup();
        trees
    }
}

/// A transactional, ordered key-value store with named trees. See the module docs for the contract.
pub trait Store: Send + Sync + 'static {
    /// The value under `key` in `tree`.
    fn get(&self, tree: Tree, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;

    /// The entries of `tree` whose key starts with `prefix`, ascending,
    /// beginning at `start` (inclusive) when given, else at `prefix`.
    fn scan(&self, tree: Tree, prefix: &[u8], start: Option<&[u8]>) -> Result<Entries<'_>, StoreError>;

    /// Applies `batch` atomically: `Ok(false)`, writing nothing, when a key it
    /// requires absent exists. Not durable until [`Store::flush`].
    fn apply(&self, batch: &Batch) -> Result<bool, StoreError>;

    /// A fresh id, larger than every id this store handed out before (also before a reopen).
    fn next_id(&self) -> Result<u64, StoreError>;

    /// Makes everything applied so far durable.
    fn flush(&self) -> Result<(), StoreError>;

    /// Stores one value (not durable until flushed).
    fn put(&self, tree: Tree, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        let mut batch = Batch::new();
        batch.put(tree, key, value);
        self.apply(&batch).map(drop)
    }

    /// Removes one key (not durable until flushed).
    fn delete(&self, tree: Tree, key: &[u8]) -> Result<(), StoreError> {
        let mut batch = Batch::new();
        batch.delete(tree, key);
        self.apply(&batch).map(drop)
    }

    /// The entries of `tree` whose key starts with `prefix`, ascending.
    fn scan_prefix(&self, tree: Tree, prefix: &[u8]) -> Result<Entries<'_>, StoreError> {
        self.scan(tree, prefix, None)
    }

    /// Appends `value` to `tree` under a fresh id (big-endian, so entries sort
    /// in the order they were appended) and returns the id.
    fn append(&self, tree: Tree, value: &[u8]) -> Result<u64, StoreError> {
        let id = self.next_id()?;
        self.put(tree, &id.to_be_bytes(), value)?;
        Ok(id)
    }
}
