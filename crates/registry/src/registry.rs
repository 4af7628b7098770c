//! [`Registry`]: the handle every operation hangs off — its store, module data, artifacts, locks and change events.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::blobs::BlobStore;
use crate::error::RegistryError;
use crate::group_commit::{FlushStats, GroupCommit};
use crate::module_data::StoreModuleData;
use crate::records::{Record, decode};
use crate::store::{DiskStore, MemoryStore, Store, Tree};

/// The version of the on-disk layout this code writes.
pub const SCHEMA_VERSION: u64 = 1;

/// Registry-wide settings, e.g. the schema version.
const META: Tree = Tree::new("meta");

/// Settings of a registry.
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    /// The largest component accepted, in bytes.
    pub max_component_bytes: usize,
    /// About how much of the database the on-disk store keeps in memory
    /// (`None`: the engine's default, 1 GiB).
    pub store_cache_bytes: Option<u64>,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        Self {
            max_component_bytes: 16 * 1024 * 1024,
            store_cache_bytes: None,
        }
    }
}

/// A change the runtime (or anyone subscribed) may need to act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryEvent {
    /// A tenant was created or changed.
    TenantChanged {
        /// The tenant.
        tenant: String,
    },
    /// A module version was published.
    VersionPublished {
        /// The module.
        module: String,
        /// The version.
        version: semver::Version,
    },
    /// A tenant's active version of a module moved.
    DeploymentChanged {
        /// The tenant.
        tenant: String,
        /// The module.
        module: String,
        /// The new active version (`None`: disabled).
        active: Option<semver::Version>,
    },
    /// A tenant's config of a module changed.
    ConfigChanged {
        /// The tenant.
        tenant: String,
        /// The module.
        module: String,
        /// The new config version.
        version: u64,
    },
}

/// The registry over one store and one artifact directory. Cheap to clone.
#[derive(Clone)]
pub struct Registry {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) data_dir: PathBuf,
    pub(crate) config: RegistryConfig,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) data: StoreModuleData,
    /// The flusher every change waits on (shared with `data`).
    pub(crate) commits: Arc<GroupCommit>,
    pub(crate) blobs: BlobStore,
    tenant_locks: Mutex<HashMap<String, Arc<Mutex<()>>>>,
    events: tokio::sync::broadcast::Sender<RegistryEvent>,
    /// Live tokens recently authenticated (`token_cache.rs`).
    pub(crate) tokens: crate::token_cache::TokenCache,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("data_dir", &self.inner.data_dir)
            .finish_non_exhaustive()
    }
}

impl Registry {
    /// Opens (creating) the registry in `data_dir`: the database in `db/`, artifacts in `blobs/`.
    pub fn open(data_dir: impl AsRef<Path>, config: RegistryConfig) -> Result<Self, RegistryError> {
        let data_dir = data_dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&data_dir).map_err(|error| {
            RegistryError::Storage(format!(
                "could not create the data directory {}: {error}; check its permissions",
                data_dir.display()
            ))
        })?;
        let store = DiskStore::open_with_cache(&data_dir.join("db"), config.store_cache_bytes)?;
        Self::with_store(Arc::new(store), data_dir, config)
    }

    /// A registry over `store`, keeping artifacts under `data_dir/blobs`.
    pub fn with_store(
        store: Arc<dyn Store>,
        data_dir: impl AsRef<Path>,
        config: RegistryConfig,
    ) -> Result<Self, RegistryError> {
        let data_dir = data_dir.as_ref().to_path_buf();
        let commits = Arc::new(GroupCommit::start(store.clone())?);
        check_schema(store.as_ref(), &commits, &data_dir)?;
        // No backup runs before the registry is open: what a capture holds was left by a crash.
        crate::capture::discard(store.as_ref(), None)?;
        let blobs = BlobStore::open(data_dir.join("blobs"))?;
        let (events, _) = tokio::sync::broadcast::channel(1024);
        Ok(Self {
            inner: Arc::new(Inner {
                data: StoreModuleData::new(store.clone(), commits.clone()),
                commits,
                store,
                blobs,
                data_dir,
                config,
                tenant_locks: Mutex::new(HashMap::new()),
                events,
                tokens: crate::token_cache::TokenCache::default(),
            }),
        })
    }

    /// A registry whose records live in memory ([`MemoryStore`]); artifacts
    /// still go to `data_dir/blobs`. Everything else is lost when it is dropped.
    pub fn in_memory(data_dir: impl AsRef<Path>, config: RegistryConfig) -> Result<Self, RegistryError> {
        Self::with_store(Arc::new(MemoryStore::new()), data_dir, config)
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.inner.data_dir
    }

    /// The settings.
    pub fn config_settings(&self) -> &RegistryConfig {
        &self.inner.config
    }

    /// A stream of changes. Lagging receivers miss events (and are told so by
    /// tokio's `RecvError::Lagged`); they should then reload what they watch.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<RegistryEvent> {
        self.inner.events.subscribe()
    }

    pub(crate) fn notify(&self, event: RegistryEvent) {
        let _ = self.inner.events.send(event);
    }

    /// Makes everything applied so far durable; every mutation calls it
    /// before returning. It waits for the group-commit flusher (one flush
    /// shared by every writer waiting at once), blocking the calling thread.
    pub(crate) fn flush(&self) -> Result<(), RegistryError> {
        self.inner.commits.flush()
    }

    /// How many flushes the registry ran and how many writes they made
    /// durable (every acknowledged change is one ticket), since it opened.
    pub fn flush_stats(&self) -> FlushStats {
        self.inner.commits.stats()
    }

    /// The lock that serialises changes to one tenant's deployments and configs.
    pub(crate) fn tenant_lock(&self, tenant: &str) -> Arc<Mutex<()>> {
        let mut locks = self
            .inner
            .tenant_locks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        locks.entry(tenant.to_owned()).or_default().clone()
    }

    /// The record under `key` in `tree`, if any.
    pub(crate) fn record<R: Record>(&self, tree: Tree, key: &[u8]) -> Result<Option<R>, RegistryError> {
        self.inner
            .store
            .get(tree, key)?
            .map(|bytes| decode(&bytes))
            .transpose()
    }

    /// Every record of `tree` whose key starts with `prefix`, by key.
    pub(crate) fn records<R: Record>(&self, tree: Tree, prefix: &[u8]) -> Result<Vec<R>, RegistryError> {
        self.inner
            .store
            .scan_prefix(tree, prefix)?
            .map(|entry| decode(&entry?.1))
            .collect()
    }
}

/// Records the schema version in a new store; refuses one written by a newer modhost.
fn check_schema(store: &dyn Store, commits: &GroupCommit, data_dir: &Path) -> Result<(), RegistryError> {
    match store.get(META, b"schema_version")? {
        None => {
            store.put(META, b"schema_version", &SCHEMA_VERSION.to_be_bytes())?;
            commits.flush()?;
        }
        Some(stored) => {
            let stored = <[u8; 8]>::try_from(stored.as_slice())
                .map(u64::from_be_bytes)
                .map_err(|_| {
                    RegistryError::Storage(
                        "the stored schema version is unreadable; restore the data directory from a backup"
                            .to_owned(),
                    )
                })?;
            if stored > SCHEMA_VERSION {
                return Err(RegistryError::Storage(format!(
                    "{} was written by a newer modhost (schema {stored}, this one knows {SCHEMA_VERSION}); upgrade modhost",
                    data_dir.display()
                )));
            }
        }
    }
    Ok(())
}

/// `a\0b`: the key of a (tenant, module) or (module, version) pair. Ids are
/// kebab-case, so they never contain NUL.
pub(crate) fn pair_key(first: &str, second: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(first.len() + second.len() + 1);
    key.extend_from_slice(first.as_bytes());
    key.push(0);
    key.extend_from_slice(second.as_bytes());
    key
}
