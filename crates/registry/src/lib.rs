//! The ModuleRegistry: the system's memory of modules, tenants, deployments, configs and who changed what.
//!
//! Everything lives in one data directory: a sled database (trees `tenants`,
//! `modules`, `deployments`, `configs`, `audit`, `kv`, `kv_snapshots`, `meta`) and the
//! content-addressed artifact store under `blobs/`. The registry validates
//! before it stores, never keeps anything invalid, and flushes every change to
//! disk before acknowledging it.
//!
//! # Operations
//!
//! - tenants: [`Registry::create_tenant`], [`Registry::update_tenant`],
//!   [`Registry::tenant`], [`Registry::tenants`];
//! - module versions: [`Registry::publish`] (every upload check, reported
//!   together), [`Registry::versions`], [`Registry::version`], [`Registry::component`];
//! - deployments: [`Registry::promote`], [`Registry::rollback`],
//!   [`Registry::disable`], [`Registry::deployment`], [`Registry::deployments_of`];
//! - config: [`Registry::config`], [`Registry::set_config`],
//!   [`Registry::rollback_config`];
//! - audit: [`Registry::audit`], [`Registry::record_audit`];
//! - module data: [`Registry::kv_get`] and friends, with scope snapshots for
//!   migrations ([`Registry::kv_snapshot`], [`Registry::kv_restore_snapshot`]);
//! - changes: [`Registry::subscribe`] tells the runtime what moved.
//!
//! # Invariants
//!
//! - **Knows nothing about wasmtime.** Components are inspected with
//!   `wasmparser` for their outer type only; nothing is compiled or run here.
//! - **Nothing invalid is stored, nothing partial is left.** An upload is
//!   stored only when every check passed; a deployment or config change is
//!   one sled transaction together with its audit record.
//! - **Acknowledged means durable.** Every successful mutation returns only
//!   after `flush`.
//! - **One tenant's changes are serialised; tenants don't block each other.**
//!   Deployment and config changes take a per-tenant lock.
//! - **A custom module is visible only to its owner.** To other tenants it
//!   does not exist (the same error as an unknown module).

mod audit;
pub use crate::audit::AuditDraft;
pub mod blobs;
pub mod component;
mod configs;
mod deployments;
mod error;
mod kv;
mod model;
mod publish;
mod tenants;
mod tokens;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use crate::blobs::{BlobError, BlobStore};
pub use crate::deployments::{DeploymentChange, RollbackTarget};
pub use crate::error::{DeploymentProblem, RegistryError, UploadProblem};
pub use crate::model::{
    AuditEntry, AuditOutcome, AuditQuery, ConfigHistory, ConfigVersion, Deployment, DeploymentAction,
    DeploymentEvent, ModuleVersion, NewTenant, Organisation, Tenant, TenantKind, TenantUpdate,
};
pub use crate::publish::{PublishOutcome, Publisher, Upload};
pub use crate::tokens::{NewToken, Role, TOKEN_PREFIX, Token};

/// The version of the on-disk layout this code writes.
pub const SCHEMA_VERSION: u64 = 1;

/// Settings of a registry.
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    /// The largest component accepted, in bytes.
    pub max_component_bytes: usize,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        Self {
            max_component_bytes: 16 * 1024 * 1024,
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

/// The registry over one data directory. Cheap to clone.
#[derive(Clone)]
pub struct Registry {
    inner: Arc<Inner>,
}

struct Inner {
    data_dir: PathBuf,
    config: RegistryConfig,
    db: sled::Db,
    tenants: sled::Tree,
    modules: sled::Tree,
    deployments: sled::Tree,
    configs: sled::Tree,
    audit: sled::Tree,
    kv: sled::Tree,
    kv_snapshots: sled::Tree,
    tokens: sled::Tree,
    blobs: BlobStore,
    tenant_locks: Mutex<HashMap<String, Arc<Mutex<()>>>>,
    events: tokio::sync::broadcast::Sender<RegistryEvent>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("data_dir", &self.inner.data_dir)
            .finish_non_exhaustive()
    }
}

impl Registry {
    /// Opens (creating) the registry in `data_dir`.
    pub fn open(data_dir: impl AsRef<Path>, config: RegistryConfig) -> Result<Self, RegistryError> {
        let data_dir = data_dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&data_dir).map_err(|error| {
            RegistryError::Storage(format!(
                "could not create the data directory {}: {error}",
                data_dir.display()
            ))
        })?;
        let db = sled::open(data_dir.join("db")).map_err(|error| {
            RegistryError::Storage(format!(
                "could not open the database in {}: {error}",
                data_dir.display()
            ))
        })?;
        let meta = db.open_tree("meta")?;
        match meta.get("schema_version")? {
            None => {
                meta.insert("schema_version", &SCHEMA_VERSION.to_be_bytes())?;
                db.flush()?;
            }
            Some(stored) => {
                let stored = <[u8; 8]>::try_from(stored.as_ref())
                    .map(u64::from_be_bytes)
                    .map_err(|_| {
                        RegistryError::Storage("the stored schema version is unreadable".to_owned())
                    })?;
                if stored > SCHEMA_VERSION {
                    return Err(RegistryError::Storage(format!(
                        "{} was written by a newer modhost (schema {stored}, this one knows {SCHEMA_VERSION}); upgrade modhost",
                        data_dir.display()
                    )));
                }
            }
        }
        let blobs = BlobStore::open(data_dir.join("blobs"))?;
        let (events, _) = tokio::sync::broadcast::channel(1024);
        Ok(Self {
            inner: Arc::new(Inner {
                tenants: db.open_tree("tenants")?,
                modules: db.open_tree("modules")?,
                deployments: db.open_tree("deployments")?,
                configs: db.open_tree("configs")?,
                audit: db.open_tree("audit")?,
                kv: db.open_tree("kv")?,
                kv_snapshots: db.open_tree("kv_snapshots")?,
                tokens: db.open_tree("tokens")?,
                db,
                blobs,
                data_dir,
                config,
                tenant_locks: Mutex::new(HashMap::new()),
                events,
            }),
        })
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

    fn notify(&self, event: RegistryEvent) {
        let _ = self.inner.events.send(event);
    }

    /// Writes everything to disk; every mutation calls it before returning.
    fn flush(&self) -> Result<(), RegistryError> {
        self.inner.db.flush()?;
        Ok(())
    }

    /// The lock that serialises changes to one tenant's deployments and configs.
    fn tenant_lock(&self, tenant: &str) -> Arc<Mutex<()>> {
        let mut locks = self
            .inner
            .tenant_locks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        locks.entry(tenant.to_owned()).or_default().clone()
    }
}

/// `a\0b`: the key of a (tenant, module) or (module, version) pair. Ids are
/// kebab-case, so they never contain NUL.
fn pair_key(first: &str, second: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(first.len() + second.len() + 1);
    key.extend_from_slice(first.as_bytes());
    key.push(0);
    key.extend_from_slice(second.as_bytes());
    key
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, RegistryError> {
    Ok(serde_json::to_vec(value)?)
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, RegistryError> {
    Ok(serde_json::from_slice(bytes)?)
}

fn get_record<T: DeserializeOwned>(tree: &sled::Tree, key: &[u8]) -> Result<Option<T>, RegistryError> {
    tree.get(key)?.map(|bytes| decode(&bytes)).transpose()
}
