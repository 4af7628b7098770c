//! The routing table and deployment orchestration: registry deployments made ready, served, swapped.
//!
//! The [`Loader`] connects the registry (what each tenant should run) to the
//! runtime (running it). Its routing table maps tenant → module → route and
//! is an immutable snapshot behind an [`ArcSwap`]: the request path reads it
//! without a lock, and a change builds a new table and swaps it in, so
//! in-flight requests finish on the version they started with and new ones
//! get the new one.
//!
//! - **Lazy and warm.** A route's version is compiled (or loaded from the
//!   compile cache) and self-tested on first use, then kept; versions are
//!   shared by every tenant that runs them.
//! - **Prepare, then swap.** `promote` and `rollback` make the target ready
//!   first; only then does the registry move the pointer (durably) and the
//!   table switch. A version that cannot be made ready is never promoted.
//! - **Migrations with a safety net.** Promoting snapshots the tenant's data,
//!   runs the new version's `migrate(from)` and records the snapshot if the
//!   data changed; a failed migration restores the data and changes nothing.
//!   The registry restores the snapshot when rolling back across it.
//! - **Fallback.** If the active version cannot be loaded (corrupt blob,
//!   compile failure), the route serves the newest earlier version from the
//!   tenant's history that loads, reports it (log, counter, [`Loader::status`]),
//!   and never crashes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use modhost_manifest::Manifest;
use modhost_registry::{
    DeploymentChange, ModuleVersion, Registry, RegistryError, RegistryEvent, RollbackTarget, Tenant,
};
use semver::Version;
use tokio::sync::OnceCell;

use crate::kv::{KvScope, KvStore};
use crate::{
    CallError, Caller, ModuleConfig, ModuleResolver, ModuleSpec, ReadyModule, Request, ResolveFuture,
    Response, Runtime, TenantKind, module_config,
};

/// The version a route actually serves, with the manifest and config that go with it.
#[derive(Debug, Clone)]
pub struct Serving {
    /// The version serving requests (the active one, or a fallback).
    pub version: Version,
    /// Its ready module.
    pub ready: Arc<ReadyModule>,
    /// Its manifest (endpoints and permissions).
    pub manifest: Arc<Manifest>,
    /// The tenant's config resolved against its schema.
    pub config: Arc<ModuleConfig>,
    /// Why this is not the active version, when it is a fallback.
    pub fallback_reason: Option<String>,
}

/// One tenant's route to one module.
#[derive(Debug)]
pub struct Route {
    /// The active version in the registry.
    pub active: Version,
    serving: OnceCell<Result<Arc<Serving>, String>>,
}

impl Route {
    fn lazy(active: Version) -> Arc<Self> {
        Arc::new(Self {
            active,
            serving: OnceCell::new(),
        })
    }

    fn ready(serving: Arc<Serving>) -> Arc<Self> {
        Arc::new(Self {
            active: serving.version.clone(),
            serving: OnceCell::new_with(Some(Ok(serving))),
        })
    }
}

/// A tenant and its routes.
#[derive(Debug, Clone)]
pub struct TenantRoutes {
    /// The tenant as the registry knows it.
    pub tenant: Arc<Tenant>,
    /// Module id → route.
    pub modules: HashMap<String, Arc<Route>>,
}

type RoutingTable = HashMap<String, Arc<TenantRoutes>>;

/// Serialises promote, rollback and disable of one (tenant, module), across the migration.
type MoveLock = Arc<tokio::sync::Mutex<()>>;

/// Why a request could not be routed to a module.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServeError {
    /// No such tenant.
    #[error("tenant `{0}` does not exist")]
    UnknownTenant(String),
    /// The module is not enabled for the tenant (or does not exist).
    #[error("module `{module}` is not enabled for tenant `{tenant}`")]
    NotEnabled {
        /// The tenant.
        tenant: String,
        /// The module.
        module: String,
    },
    /// No version of the module could be made ready.
    #[error("no version of `{module}` is ready for tenant `{tenant}`: {reason}")]
    NoReadyVersion {
        /// The tenant.
        tenant: String,
        /// The module.
        module: String,
        /// What went wrong loading it.
        reason: String,
    },
}

/// Why a promote, rollback or disable did not happen. Nothing changed.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// The registry refused (unknown version, dependencies, config, ...).
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The target version could not be made ready (compile, link or self-test).
    #[error("{module}@{version} could not be made ready: {reason}")]
    NotReady {
        /// The module.
        module: String,
        /// The version.
        version: Version,
        /// What failed.
        reason: String,
    },
    /// One of the target version's smoke tests (`[[tests]]`) failed; nothing changed.
    #[error("{module}@{version} failed its smoke tests, so it was not promoted: {reason}")]
    SmokeTestFailed {
        /// The module.
        module: String,
        /// The version.
        version: Version,
        /// Which test failed, and how.
        reason: String,
    },
    /// The target version's `migrate` failed; the data was restored.
    #[error("{module}@{version} failed to migrate the tenant's data, which was left untouched: {reason}")]
    MigrationFailed {
        /// The module.
        module: String,
        /// The version.
        version: Version,
        /// The module's message or the failure.
        reason: String,
    },
}

/// The state of one route, for operators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteStatus {
    /// The tenant.
    pub tenant: String,
    /// The module.
    pub module: String,
    /// The active version.
    pub active: Version,
    /// What is serving: `None` until first use.
    pub serving: Option<Version>,
    /// Why it serves a fallback, or why nothing can serve.
    pub problem: Option<String>,
}

/// The module data store backed by the registry's sled database.
#[derive(Debug, Clone)]
pub struct RegistryKvStore(pub Registry);

impl KvStore for RegistryKvStore {
    fn get(&self, scope: &KvScope, key: &str) -> anyhow::Result<Option<Vec<u8>>> {
        Ok(self.0.kv_get(&scope.tenant, &scope.module, key)?)
    }

    fn set(&self, scope: &KvScope, key: &str, value: &[u8]) -> anyhow::Result<()> {
        Ok(self.0.kv_set(&scope.tenant, &scope.module, key, value)?)
    }

    fn delete(&self, scope: &KvScope, key: &str) -> anyhow::Result<bool> {
        Ok(self.0.kv_delete(&scope.tenant, &scope.module, key)?)
    }

    fn list(
        &self,
        scope: &KvScope,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> anyhow::Result<Vec<String>> {
        Ok(self
            .0
            .kv_list(&scope.tenant, &scope.module, prefix, after, limit)?)
    }

    fn commit(&self) -> anyhow::Result<()> {
        Ok(self.0.kv_commit()?)
    }
}

/// Serves the registry's deployments through the runtime. Cheap to clone.
#[derive(Clone)]
pub struct Loader {
    inner: Arc<LoaderInner>,
}

struct LoaderInner {
    runtime: Runtime,
    registry: Registry,
    table: ArcSwap<RoutingTable>,
    table_writer: Mutex<()>,
    ready: Mutex<HashMap<(String, Version), Arc<ReadyModule>>>,
    move_locks: Mutex<HashMap<(String, String), MoveLock>>,
    swaps: AtomicU64,
    fallbacks: AtomicU64,
}

fn wit_kind(tenant: &Tenant) -> TenantKind {
    match tenant.kind {
        modhost_registry::TenantKind::Standard => TenantKind::Standard,
        modhost_registry::TenantKind::Custom => TenantKind::Custom,
    }
}

impl Loader {
    /// Builds the routing table from the registry (loading nothing yet),
    /// becomes the runtime's resolver for `modules.call`, and follows registry
    /// changes in a background task. Call inside a tokio runtime.
    pub fn start(runtime: Runtime, registry: Registry) -> Result<Self, RegistryError> {
        let loader = Self {
            inner: Arc::new(LoaderInner {
                runtime,
                registry,
                table: ArcSwap::from_pointee(RoutingTable::new()),
                table_writer: Mutex::new(()),
                ready: Mutex::new(HashMap::new()),
                move_locks: Mutex::new(HashMap::new()),
                swaps: AtomicU64::new(0),
                fallbacks: AtomicU64::new(0),
            }),
        };
        let events = loader.inner.registry.subscribe();
        loader.reload_all()?;
        loader
            .inner
            .runtime
            .set_resolver(Arc::new(LoaderResolver(Arc::downgrade(&loader.inner))));
        let follower = Arc::downgrade(&loader.inner);
        tokio::spawn(follow_registry(follower, events));
        Ok(loader)
    }

    /// The runtime.
    pub fn runtime(&self) -> &Runtime {
        &self.inner.runtime
    }

    /// The registry.
    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// How many times a route was switched to another version.
    pub fn swap_count(&self) -> u64 {
        self.inner.swaps.load(Ordering::Relaxed)
    }

    /// How many times a route fell back to an earlier version.
    pub fn fallback_count(&self) -> u64 {
        self.inner.fallbacks.load(Ordering::Relaxed)
    }

    /// The tenant and its routes, if it exists.
    pub fn tenant(&self, tenant: &str) -> Option<Arc<TenantRoutes>> {
        self.inner.table.load().get(tenant).cloned()
    }

    /// What serves `module` for `tenant`, loading it on first use.
    pub async fn serving(&self, tenant: &str, module: &str) -> Result<Arc<Serving>, ServeError> {
        let routes = self
            .tenant(tenant)
            .ok_or_else(|| ServeError::UnknownTenant(tenant.to_owned()))?;
        let route = routes
            .modules
            .get(module)
            .cloned()
            .ok_or_else(|| ServeError::NotEnabled {
                tenant: tenant.to_owned(),
                module: module.to_owned(),
            })?;
        let serving = route
            .serving
            .get_or_init(|| self.load_route(&routes.tenant, module, &route.active))
            .await;
        serving.clone().map_err(|reason| ServeError::NoReadyVersion {
            tenant: tenant.to_owned(),
            module: module.to_owned(),
            reason,
        })
    }

    /// Serves one request for `tenant`'s `module`.
    pub async fn call(
        &self,
        serving: &Serving,
        caller: &Caller,
        request: Request,
    ) -> Result<Response, CallError> {
        self.inner
            .runtime
            .call(serving.ready.clone(), caller, serving.config.clone(), request)
            .await
    }

    /// Every route's state.
    pub fn status(&self) -> Vec<RouteStatus> {
        let table = self.inner.table.load();
        let mut status = Vec::new();
        for (tenant, routes) in table.iter() {
            for (module, route) in &routes.modules {
                let (serving, problem) = match route.serving.get() {
                    None => (None, None),
                    Some(Ok(serving)) => (Some(serving.version.clone()), serving.fallback_reason.clone()),
                    Some(Err(reason)) => (None, Some(reason.clone())),
                };
                status.push(RouteStatus {
                    tenant: tenant.clone(),
                    module: module.clone(),
                    active: route.active.clone(),
                    serving,
                    problem,
                });
            }
        }
        status.sort_by(|a, b| (&a.tenant, &a.module).cmp(&(&b.tenant, &b.module)));
        status
    }

    fn caller_for(tenant: &Tenant, purpose: &str) -> Caller {
        Caller {
            tenant_id: tenant.id.clone(),
            tenant_kind: wit_kind(tenant),
            request_id: purpose.to_owned(),
            permissions: Vec::new(),
            features: tenant.features.iter().cloned().collect(),
        }
    }

    /// The ready module of a version: compiled (or loaded from the compile
    /// cache) off the async threads and self-tested, once per version.
    async fn ready_module(
        &self,
        record: &ModuleVersion,
    ) -> Result<(Arc<ReadyModule>, Arc<Manifest>), String> {
        let manifest = Arc::new(record.manifest().map_err(|error| error.to_string())?);
        let key = (record.module.clone(), record.version.clone());
        if let Some(ready) = self
            .inner
            .ready
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&key)
        {
            return Ok((ready.clone(), manifest));
        }
        let bytes = self
            .inner
            .registry
            .component(record)
            .map_err(|error| error.to_string())?;
        let spec = ModuleSpec::from_manifest(&manifest);
        let runtime = self.inner.runtime.clone();
        let prepared = tokio::task::spawn_blocking(move || runtime.prepare(spec, &bytes))
            .await
            .map_err(|error| format!("the compile task failed: {error}"))?
            .map_err(|error| error.to_string())?;
        let ready = Arc::new(prepared);
        let defaults = manifest
            .config
            .validate(&Default::default())
            .map(|resolved| module_config(&resolved));
        let defaults = Arc::new(defaults.unwrap_or_default());
        self.inner
            .runtime
            .self_test(ready.clone(), defaults)
            .await
            .map_err(|message| format!("its self-test failed: {message}"))?;
        self.inner
            .ready
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(key, ready.clone());
        Ok((ready, manifest))
    }

    /// The tenant's config for `module`, resolved against `manifest`'s schema.
    fn config_for(
        &self,
        tenant: &str,
        module: &str,
        manifest: &Manifest,
    ) -> Result<Arc<ModuleConfig>, String> {
        let values = self
            .inner
            .registry
            .config(tenant, module)
            .map_err(|error| error.to_string())?
            .current_values();
        let resolved = manifest.config.validate(&values).map_err(|problems| {
            let listed: Vec<String> = problems.iter().map(ToString::to_string).collect();
            format!("the tenant's config does not fit: {}", listed.join("; "))
        })?;
        Ok(Arc::new(module_config(&resolved)))
    }

    async fn serving_for(&self, tenant: &Tenant, record: &ModuleVersion) -> Result<Arc<Serving>, String> {
        let (ready, manifest) = self.ready_module(record).await?;
        let config = self.config_for(&tenant.id, &record.module, &manifest)?;
        Ok(Arc::new(Serving {
            version: record.version.clone(),
            ready,
            manifest,
            config,
            fallback_reason: None,
        }))
    }

    /// Loads the active version, or falls back to the newest earlier one that loads.
    async fn load_route(
        &self,
        tenant: &Tenant,
        module: &str,
        active: &Version,
    ) -> Result<Arc<Serving>, String> {
        let registry = &self.inner.registry;
        let failure = match registry.version(module, active, Some(&tenant.id)) {
            Ok(record) => match self.serving_for(tenant, &record).await {
                Ok(serving) => return Ok(serving),
                Err(reason) => reason,
            },
            Err(error) => error.to_string(),
        };
        tracing::error!(tenant = %tenant.id, module, version = %active, reason = %failure, "the active version cannot be loaded");
        let history = registry
            .deployment(&tenant.id, module)
            .map_err(|error| error.to_string())?
            .history;
        let mut tried = vec![active.clone()];
        for earlier in history.iter().rev().filter_map(|event| event.from.clone()) {
            if tried.contains(&earlier) {
                continue;
            }
            tried.push(earlier.clone());
            let Ok(record) = registry.version(module, &earlier, Some(&tenant.id)) else {
                continue;
            };
            if let Ok(serving) = self.serving_for(tenant, &record).await {
                let reason =
                    format!("{module}@{active} cannot be loaded ({failure}); serving {earlier} instead");
                tracing::warn!(tenant = %tenant.id, module, active = %active, serving = %earlier, "falling back to an earlier version");
                self.inner.fallbacks.fetch_add(1, Ordering::Relaxed);
                let serving = Serving {
                    fallback_reason: Some(reason),
                    ..Arc::unwrap_or_clone(serving)
                };
                return Ok(Arc::new(serving));
            }
        }
        Err(format!(
            "{module}@{active} cannot be loaded ({failure}) and no earlier version of it loads"
        ))
    }

    fn move_lock(&self, tenant: &str, module: &str) -> MoveLock {
        let mut locks = self
            .inner
            .move_locks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        locks
            .entry((tenant.to_owned(), module.to_owned()))
            .or_default()
            .clone()
    }

    /// Promotes `version` for the tenant: make it ready, migrate the data
    /// (with a snapshot), move the registry's pointer, swap the route.
    pub async fn promote(
        &self,
        tenant_id: &str,
        module: &str,
        version: &Version,
        actor: &str,
    ) -> Result<DeploymentChange, DeployError> {
        let lock = self.move_lock(tenant_id, module);
        let _guard = lock.lock().await;
        let registry = &self.inner.registry;
        let from = registry.check_promote(tenant_id, module, version)?;
        let tenant = registry.tenant(tenant_id)?;
        if from.as_ref() == Some(version) {
            return Ok(registry.promote(tenant_id, module, version, actor)?);
        }
        let record = registry.version(module, version, Some(tenant_id))?;
        let not_ready = |reason: String| DeployError::NotReady {
            module: module.to_owned(),
            version: version.clone(),
            reason,
        };
        let serving = self.serving_for(&tenant, &record).await.map_err(not_ready)?;
        if let Err(reason) = self
            .inner
            .runtime
            .smoke_test(
                serving.ready.clone(),
                &Self::caller_for(&tenant, &format!("smoke-test-{module}@{version}")),
                serving.config.clone(),
                &serving.manifest.tests,
            )
            .await
        {
            let error = DeployError::SmokeTestFailed {
                module: module.to_owned(),
                version: version.clone(),
                reason,
            };
            self.record_failed_promote(actor, tenant_id, module, version, &error)?;
            return Err(error);
        }

        let snapshot = registry.kv_snapshot(tenant_id, module)?;
        let caller = Self::caller_for(&tenant, &format!("migrate-{module}@{version}"));
        let from_text = from.as_ref().map(ToString::to_string);
        let migrated = self
            .inner
            .runtime
            .migrate(
                serving.ready.clone(),
                &caller,
                serving.config.clone(),
                from_text.as_deref(),
            )
            .await;
        if let Err(reason) = migrated {
            registry.kv_restore_snapshot(tenant_id, module, snapshot)?;
            registry.kv_drop_snapshot(snapshot)?;
            let error = DeployError::MigrationFailed {
                module: module.to_owned(),
                version: version.clone(),
                reason,
            };
            self.record_failed_promote(actor, tenant_id, module, version, &error)?;
            return Err(error);
        }
        let data_changed = !registry.kv_matches_snapshot(tenant_id, module, snapshot)?;
        if !data_changed {
            registry.kv_drop_snapshot(snapshot)?;
        }
        match registry.promote_migrated(
            tenant_id,
            module,
            version,
            actor,
            data_changed.then_some(snapshot),
        ) {
            Ok(change) => {
                self.install(&tenant, module, Route::ready(serving));
                Ok(change)
            }
            Err(error) => {
                if data_changed {
                    registry.kv_restore_snapshot(tenant_id, module, snapshot)?;
                    registry.kv_drop_snapshot(snapshot)?;
                }
                Err(error.into())
            }
        }
    }

    /// Audits a promote that was refused after the registry's checks passed.
    fn record_failed_promote(
        &self,
        actor: &str,
        tenant_id: &str,
        module: &str,
        version: &Version,
        error: &DeployError,
    ) -> Result<(), RegistryError> {
        let mut draft = modhost_registry::AuditDraft::ok(
            actor,
            "deployment.promote",
            format!("{tenant_id}/{module}@{version}"),
            Some(tenant_id),
        );
        draft.outcome = modhost_registry::AuditOutcome::Failed;
        draft.detail = Some(error.to_string());
        self.inner.registry.record_audit(draft)?;
        Ok(())
    }

    /// Rolls the tenant's `module` back: make the target ready, then let the
    /// registry move the pointer (restoring pre-migration data if it crosses a
    /// migration), then swap the route.
    pub async fn rollback(
        &self,
        tenant_id: &str,
        module: &str,
        to: &RollbackTarget,
        actor: &str,
    ) -> Result<DeploymentChange, DeployError> {
        let lock = self.move_lock(tenant_id, module);
        let _guard = lock.lock().await;
        let registry = &self.inner.registry;
        let tenant = registry.tenant(tenant_id)?;
        let deployment = registry.deployment(tenant_id, module)?;
        let destination = match to {
            RollbackTarget::Previous => deployment.previous().cloned(),
            RollbackTarget::To(version) => Some(version.clone()),
        };
        let prepared = match &destination {
            Some(version) => match registry.version(module, version, Some(tenant_id)) {
                Ok(record) => Some(self.serving_for(&tenant, &record).await.map_err(|reason| {
                    DeployError::NotReady {
                        module: module.to_owned(),
                        version: version.clone(),
                        reason,
                    }
                })?),
                Err(_) => None,
            },
            None => None,
        };
        let change = registry.rollback(tenant_id, module, to, actor)?;
        match (change.to.as_ref(), prepared) {
            (Some(to), Some(serving)) if serving.version == *to && change.event.is_some() => {
                self.install(&tenant, module, Route::ready(serving));
            }
            _ => self.refresh(tenant_id, module),
        }
        Ok(change)
    }

    /// Turns `module` off for the tenant.
    pub async fn disable(
        &self,
        tenant_id: &str,
        module: &str,
        actor: &str,
    ) -> Result<DeploymentChange, DeployError> {
        let lock = self.move_lock(tenant_id, module);
        let _guard = lock.lock().await;
        let change = self.inner.registry.disable(tenant_id, module, actor)?;
        self.refresh(tenant_id, module);
        Ok(change)
    }

    /// Replaces one route in a new table and swaps it in.
    fn install(&self, tenant: &Tenant, module: &str, route: Arc<Route>) {
        self.update_tenant(&tenant.id, |routes| {
            let mut routes = routes.unwrap_or_else(|| TenantRoutes {
                tenant: Arc::new(tenant.clone()),
                modules: HashMap::new(),
            });
            routes.modules.insert(module.to_owned(), route);
            Some(routes)
        });
        self.inner.swaps.fetch_add(1, Ordering::Relaxed);
    }

    fn update_tenant(&self, tenant: &str, change: impl FnOnce(Option<TenantRoutes>) -> Option<TenantRoutes>) {
        let _writer = self
            .inner
            .table_writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut table = RoutingTable::clone(&self.inner.table.load());
        let current = table.get(tenant).map(|routes| TenantRoutes::clone(routes));
        match change(current) {
            Some(routes) => table.insert(tenant.to_owned(), Arc::new(routes)),
            None => table.remove(tenant),
        };
        self.inner.table.store(Arc::new(table));
    }

    /// Rebuilds every route from the registry.
    fn reload_all(&self) -> Result<(), RegistryError> {
        let registry = &self.inner.registry;
        let mut table = RoutingTable::new();
        for tenant in registry.tenants()? {
            let mut modules = HashMap::new();
            for deployment in registry.deployments_of(&tenant.id)? {
                if let Some(active) = deployment.active {
                    modules.insert(deployment.module, Route::lazy(active));
                }
            }
            table.insert(
                tenant.id.clone(),
                Arc::new(TenantRoutes {
                    tenant: Arc::new(tenant),
                    modules,
                }),
            );
        }
        let _writer = self
            .inner
            .table_writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.inner.table.store(Arc::new(table));
        Ok(())
    }

    /// Brings one tenant (and one of its modules) in line with the registry,
    /// keeping a ready version when only config or tenant details changed.
    fn refresh(&self, tenant_id: &str, module: &str) {
        let registry = &self.inner.registry;
        let tenant = match registry.tenant(tenant_id) {
            Ok(tenant) => Arc::new(tenant),
            Err(error) => {
                tracing::warn!(tenant = tenant_id, %error, "dropping the routes of a tenant the registry cannot return");
                self.update_tenant(tenant_id, |_| None);
                return;
            }
        };
        let active = registry
            .deployment(tenant_id, module)
            .ok()
            .and_then(|deployment| deployment.active);
        let config = |manifest: &Manifest| self.config_for(tenant_id, module, manifest);
        self.update_tenant(tenant_id, |routes| {
            let mut routes = routes.unwrap_or_else(|| TenantRoutes {
                tenant: tenant.clone(),
                modules: HashMap::new(),
            });
            routes.tenant = tenant.clone();
            let existing = routes.modules.get(module).cloned();
            match active {
                None => {
                    routes.modules.remove(module);
                }
                Some(active) => {
                    let route = match existing
                        .as_ref()
                        .and_then(|route| route.serving.get().map(|s| (route, s)))
                    {
                        Some((route, Ok(serving)))
                            if route.active == active && serving.fallback_reason.is_none() =>
                        {
                            match config(&serving.manifest) {
                                Ok(config) => Route::ready(Arc::new(Serving {
                                    version: serving.version.clone(),
                                    ready: serving.ready.clone(),
                                    manifest: serving.manifest.clone(),
                                    config,
                                    fallback_reason: None,
                                })),
                                Err(_) => Route::lazy(active),
                            }
                        }
                        _ if existing
                            .as_ref()
                            .is_some_and(|route| route.active == active && route.serving.get().is_none()) =>
                        {
                            existing.clone().unwrap_or_else(|| Route::lazy(active.clone()))
                        }
                        _ => Route::lazy(active),
                    };
                    routes.modules.insert(module.to_owned(), route);
                }
            }
            Some(routes)
        });
    }

    fn refresh_tenant(&self, tenant_id: &str) {
        match self.inner.registry.tenant(tenant_id) {
            Ok(tenant) => {
                let tenant = Arc::new(tenant);
                self.update_tenant(tenant_id, |routes| {
                    let mut routes = routes.unwrap_or_else(|| TenantRoutes {
                        tenant: tenant.clone(),
                        modules: HashMap::new(),
                    });
                    routes.tenant = tenant;
                    Some(routes)
                });
            }
            Err(_) => self.update_tenant(tenant_id, |_| None),
        }
    }
}

/// Applies registry changes to the table until the registry or the loader goes away.
async fn follow_registry(
    loader: std::sync::Weak<LoaderInner>,
    mut events: tokio::sync::broadcast::Receiver<RegistryEvent>,
) {
    loop {
        let event = events.recv().await;
        let Some(inner) = loader.upgrade() else { return };
        let loader = Loader { inner };
        match event {
            Ok(
                RegistryEvent::DeploymentChanged { tenant, module, .. }
                | RegistryEvent::ConfigChanged { tenant, module, .. },
            ) => {
                loader.refresh(&tenant, &module);
            }
            Ok(RegistryEvent::TenantChanged { tenant }) => loader.refresh_tenant(&tenant),
            Ok(RegistryEvent::VersionPublished { .. }) => {}
            Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "the loader missed registry events; reloading every route");
                if let Err(error) = loader.reload_all() {
                    tracing::error!(%error, "could not reload the routing table");
                }
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// Resolves `modules.call` through the routing table.
struct LoaderResolver(std::sync::Weak<LoaderInner>);

impl ModuleResolver for LoaderResolver {
    fn resolve<'a>(&'a self, tenant: &'a str, module: &'a str) -> ResolveFuture<'a> {
        Box::pin(async move {
            let loader = Loader {
                inner: self.0.upgrade()?,
            };
            let serving = loader.serving(tenant, module).await.ok()?;
            Some((serving.ready.clone(), serving.config.clone()))
        })
    }
}
