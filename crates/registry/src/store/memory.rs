//! [`MemoryStore`]: the store contract in memory, for tests and embedding; nothing survives a drop.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::Mutex;

use super::{Batch, Entries, Store, StoreError, Tree, Write};

/// A [`Store`] in memory. Batches are atomic (one lock); `flush` does nothing.
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    trees: HashMap<Tree, BTreeMap<Vec<u8>, Vec<u8>>>,
    last_id: u64,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Store for MemoryStore {
    fn get(&self, tree: Tree, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .state()
            .trees
            .get(&tree)
            .and_then(|entries| entries.get(key).cloned()))
    }

    fn scan(&self, tree: Tree, prefix: &[u8], start: Option<&[u8]>) -> Result<Entries<'_>, StoreError> {
        let start = start.filter(|start| *start >= prefix).unwrap_or(prefix).to_vec();
        let entries: Vec<_> = self
            .state()
            .trees
            .get(&tree)
            .map(|entries| {
                entries
                    .range::<Vec<u8>, _>((Bound::Included(start), Bound::Unbounded))
                    .take_while(|(key, _)| key.starts_with(prefix))
                    .map(|(key, value)| Ok((key.clone(), value.clone())))
                    .collect()
            })
            .unwrap_or_default();
        Ok(Box::new(entries.into_iter()))
    }

    fn apply(&self, batch: &Batch) -> Result<bool, StoreError> {
        let mut state = self.state();
        let taken = batch.required_absent().iter().any(|(tree, key)| {
            state
                .trees
                .get(tree)
                .is_some_and(|entries| entries.contains_key(key))
        });
        if taken {
            return Ok(false);
        }
        for write in batch.writes() {
            match write {
                Write::Put { tree, key, value } => {
                    state
                        .trees
                        .entry(*tree)
                        .or_default()
                        .insert(key.clone(), value.clone());
                }
                Write::Delete { tree, key } => {
                    if let Some(entries) = state.trees.get_mut(tree) {
                        entries.remove(key);
                    }
                }
            }
        }
        Ok(true)
    }

    fn next_id(&self) -> Result<u64, StoreError> {
        let mut state = self.state();
        state.last_id += 1;
        Ok(state.last_id)
    }

    fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }
}
