//! [`DiskStore`]: the store contract on sled, the registry's durable engine; sled's errors become [`StoreError`]s here.
//!
//! Each [`Tree`] is a sled tree of the same name, opened on first use. A
//! [`Batch`] is one sled transaction over every tree it touches, so it is
//! applied all or nothing; ids come from sled's id generator, which stays
//! monotonic across restarts. This is the only file that names sled.

use std::collections::HashMap;
use std::path::Path;
use std::sync::RwLock;

use sled::Transactional as _;
use sled::transaction::{ConflictableTransactionError, TransactionError};

use super::{Batch, Entries, Store, StoreError, Tree, Write};

/// A [`Store`] in one sled database directory.
#[derive(Debug)]
pub struct DiskStore {
    db: sled::Db,
    trees: RwLock<HashMap<Tree, sled::Tree>>,
}

fn engine_error(error: sled::Error) -> StoreError {
    StoreError(format!(
        "the registry's database failed: {error}; check the data directory's disk and permissions"
    ))
}

impl DiskStore {
    /// Opens (creating) the database in the directory `path`, with the engine's default cache.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_with_cache(path, None)
    }

    /// Opens (creating) the database in `path`, keeping at most about
    /// `cache_bytes` of it in memory (the engine's default, 1 GiB, when `None`).
    pub fn open_with_cache(path: &Path, cache_bytes: Option<u64>) -> Result<Self, StoreError> {
        let mut config = sled::Config::new().path(path);
        if let Some(cache_bytes) = cache_bytes {
            config = config.cache_capacity(cache_bytes);
        }
        let db = config.open().map_err(|error| {
            StoreError(format!(
                "could not open the database in {}: {error}; check that no other modhost uses it and that it is writable",
                path.display()
            ))
        })?;
        Ok(Self {
            db,
            trees: RwLock::new(HashMap::new()),
        })
    }

    fn tree(&self, tree: Tree) -> Result<sled::Tree, StoreError> {
        if let Some(open) = self
            .trees
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&tree)
        {
            return Ok(open.clone());
        }
        let open = self.db.open_tree(tree.name()).map_err(engine_error)?;
        self.trees
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(tree, open.clone());
        Ok(open)
    }
}

/// Why a transaction stopped early: a required-absent key was present.
struct Taken;

impl Store for DiskStore {
    fn get(&self, tree: Tree, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .tree(tree)?
            .get(key)
            .map_err(engine_error)?
            .map(|value| value.to_vec()))
    }

    fn scan(&self, tree: Tree, prefix: &[u8], start: Option<&[u8]>) -> Result<Entries<'_>, StoreError> {
        let start = start.filter(|start| *start >= prefix).unwrap_or(prefix).to_vec();
        let prefix = prefix.to_vec();
        let entries = self
            .tree(tree)?
            .range(start..)
            .take_while(move |item| match item {
                Ok((key, _)) => key.starts_with(&prefix),
                Err(_) => true,
            })
            .map(|item| {
                item.map(|(key, value)| (key.to_vec(), value.to_vec()))
                    .map_err(engine_error)
            });
        Ok(Box::new(entries))
    }

    fn apply(&self, batch: &Batch) -> Result<bool, StoreError> {
        if batch.is_empty() {
            return Ok(true);
        }
        let names = batch.trees();
        let trees = names
            .iter()
            .map(|name| self.tree(*name))
            .collect::<Result<Vec<_>, _>>()?;
        let index = |tree: Tree| names.binary_search(&tree).unwrap_or_default();
        let result = trees.as_slice().transaction(|views| {
            for (tree, key) in batch.required_absent() {
                if views[index(*tree)].get(key.as_slice())?.is_some() {
                    return Err(ConflictableTransactionError::Abort(Taken));
                }
            }
            for write in batch.writes() {
                match write {
                    Write::Put { tree, key, value } => {
                        views[index(*tree)].insert(key.as_slice(), value.as_slice())?;
                    }
                    Write::Delete { tree, key } => {
                        views[index(*tree)].remove(key.as_slice())?;
                    }
                }
            }
            Ok(())
        });
        match result {
            Ok(()) => Ok(true),
            Err(TransactionError::Abort(Taken)) => Ok(false),
            Err(TransactionError::Storage(error)) => Err(engine_error(error)),
        }
    }

    fn next_id(&self) -> Result<u64, StoreError> {
        self.db.generate_id().map_err(engine_error)
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.db.flush().map(drop).map_err(engine_error)
    }
}
