//! The [`Loader`]: the registry's deployments made ready and served, with lazy loading and fallback.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use modhost_manifest::Manifest;
use modhost_registry::{ModuleVersion, Registry, RegistryError, RegistryEvent, Tenant};
use modhost_runtime::{
    CallError, Caller, ModuleConfig, ModuleResolver, Request, ResolveFuture, Response, Runtime, module_config,
};
use semver::Version;

use crate::errors::ServeError;
use crate::health::{CallHealth, HealthBook, HealthStats};
use crate::resident_set::Residents;
use crate::smoke::module_error_reply;
use crate::table::{
    CanaryRoute, CanaryTable, LoadFailure, Route, RouteStatus, RoutingTable, Serving, TenantRoutes, Tenants,
};
use crate::watch::{Watch, WatchPolicy};

/// Serialises promote, rollback and disable of one (tenant, module), across the migration.
pub(crate) type MoveLock = Arc<tokio::sync::Mutex<()>>;

/// Serves the registry's deployments through the runtime. Cheap to clone.
#[derive(Clone)]
pub struct Loader {
    pub(crate) inner: Arc<LoaderInner>,
}

pub(crate) struct LoaderInner {
    pub(crate) runtime: Runtime,
    pub(crate) registry: Registry,
    pub(crate) table: RoutingTable,
    /// The versions kept in memory, and which passed their self-test.
    pub(crate) residents: Residents,
    move_locks: Mutex<HashMap<(String, String), MoveLock>>,
    swaps: AtomicU64,
    fallbacks: AtomicU64,
    /// Every version's recent calls.
    pub(crate) health: HealthBook,
    /// The canary of each (tenant, module) that has one.
    pub(crate) canaries: CanaryTable,
    /// The latest watch of each (tenant, module).
    pub(crate) watches: Mutex<HashMap<(String, String), Watch>>,
    watch_policy: Mutex<WatchPolicy>,
    /// Compiles (or compile-cache loads) running at once: half the cores,
    /// at least one, so however many loads are asked for (a hostile tenant's
    /// flood of smoke tests or promotes included) the data plane keeps the
    /// rest of the machine.
    pub(crate) compile_permits: tokio::sync::Semaphore,
}

/// How many compiles run at once: half the cores, at least one.
fn compile_permits() -> usize {
    std::thread::available_parallelism().map_or(1, |cores| (cores.get() / 2).max(1))
}

impl Loader {
    /// Builds the routing table from the registry (loading nothing yet),
    /// becomes the runtime's resolver for `modules.call`, and follows the
    /// registry's tenant and config changes in a background task. Call
    /// inside a tokio runtime.
    pub fn start(runtime: Runtime, registry: Registry) -> Result<Self, RegistryError> {
        let loader = Self {
            inner: Arc::new(LoaderInner {
                runtime,
                registry,
                table: RoutingTable::new(),
                residents: Residents::default(),
                move_locks: Mutex::new(HashMap::new()),
                swaps: AtomicU64::new(0),
                fallbacks: AtomicU64::new(0),
                health: HealthBook::default(),
                canaries: CanaryTable::default(),
                watches: Mutex::new(HashMap::new()),
                watch_policy: Mutex::new(WatchPolicy::default()),
                compile_permits: tokio::sync::Semaphore::new(compile_permits()),
            }),
        };
        let events = loader.inner.registry.subscribe();
        loader.reload_all()?;
        for canary in loader.inner.registry.canaries()? {
            let route = CanaryRoute {
                version: canary.version,
                percent: canary.percent,
                serving: tokio::sync::OnceCell::new(),
            };
            loader.set_canary_route(&canary.tenant, &canary.module, Some(Arc::new(route)));
        }
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
        self.inner.table.tenant(tenant)
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
        if let Some(serving) = route.serving.get() {
            return Ok(serving.clone());
        }
        let no_ready_version = |reason| ServeError::NoReadyVersion {
            tenant: tenant.to_owned(),
            module: module.to_owned(),
            reason,
        };
        let now = Instant::now();
        if let Some(failure) = route.failure().filter(|failure| now < failure.retry_at) {
            return Err(no_ready_version(failure.describe(now)));
        }
        let load = route
            .serving
            .get_or_try_init(|| self.load_route(&routes.tenant, module, &route.active));
        // An evicted version loads again within its calls' deadline (a warm
        // load from the compile cache); past it this request gives up (not
        // counted as a failed load: the next request tries again).
        let loaded = match route.evicted.as_ref().map(|evicted| evicted.timeout) {
            Some(timeout) => match tokio::time::timeout(timeout, load).await {
                Ok(loaded) => loaded,
                Err(_elapsed) => {
                    return Err(no_ready_version(format!(
                        "loading its evicted version again took longer than its {} ms deadline",
                        timeout.as_millis()
                    )));
                }
            },
            None => load.await,
        };
        match loaded {
            Ok(serving) => {
                route.set_failure(None);
                Ok(serving.clone())
            }
            Err(reason) => {
                let attempts = route.failure().map_or(0, |failure| failure.attempts) + 1;
                let failure = LoadFailure::after(reason, attempts, Instant::now());
                let described = failure.describe(Instant::now());
                route.set_failure(Some(failure));
                Err(no_ready_version(described))
            }
        }
    }

    /// Serves one request for `tenant`'s `module`, recording it in the version's health.
    pub async fn call(
        &self,
        serving: &Serving,
        caller: &Caller,
        request: Request,
    ) -> Result<Response, CallError> {
        let started = Instant::now();
        let result = self
            .inner
            .runtime
            .call(serving.ready.clone(), caller, serving.config.clone(), request)
            .await;
        let outcome = match &result {
            Ok(response) if response.status >= 500 => CallHealth::Error,
            Ok(_) | Err(CallError::QuotaExceeded(_)) => CallHealth::Ok,
            Err(CallError::Busy(_)) => CallHealth::Shed,
            Err(CallError::Module(error)) if module_error_reply(error).0 >= 500 => CallHealth::Error,
            Err(CallError::Module(_)) => CallHealth::Ok,
            Err(_) => CallHealth::Error,
        };
        self.inner
            .health
            .record_into(&serving.health, outcome, started.elapsed(), Instant::now());
        result
    }

    /// The health of every version of `tenant`'s `module` with calls in the last `span`, oldest version first.
    pub fn health(&self, tenant: &str, module: &str, span: Duration) -> Vec<(Version, HealthStats)> {
        let now = Instant::now();
        let since = now.checked_sub(span).unwrap_or(now);
        self.inner
            .health
            .versions(tenant, module, since)
            .into_iter()
            .map(|version| {
                let stats = self.inner.health.stats(tenant, module, &version, since);
                (version, stats)
            })
            .collect()
    }

    /// The policy promotes are watched under.
    pub fn watch_policy(&self) -> WatchPolicy {
        self.inner
            .watch_policy
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Sets the policy promotes are watched under (the default watches nothing).
    pub fn set_watch_policy(&self, policy: WatchPolicy) {
        *self
            .inner
            .watch_policy
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = policy;
    }

    pub(crate) fn canary_route(&self, tenant: &str, module: &str) -> Option<Arc<CanaryRoute>> {
        self.inner.canaries.get(tenant, module)
    }

    /// Routes `tenant`'s canary of `module`, or (with `None`) stops routing one.
    pub(crate) fn set_canary_route(&self, tenant: &str, module: &str, route: Option<Arc<CanaryRoute>>) {
        let serving = route.as_ref().and_then(|route| route.serving.get().cloned());
        self.inner.canaries.update(|canaries| {
            let modules = canaries.entry(tenant.to_owned()).or_default();
            match route {
                Some(route) => modules.insert(module.to_owned(), route),
                None => modules.remove(module),
            };
        });
        if let Some(serving) = serving {
            self.keep_resident(module, &serving.version, &serving.ready);
        }
    }

    /// Every route's state.
    pub fn status(&self) -> Vec<RouteStatus> {
        self.inner.table.status()
    }

    pub(crate) fn caller_for(tenant: &Tenant, purpose: &str) -> Caller {
        Caller {
            tenant_id: tenant.id.clone(),
            tenant_kind: tenant.kind,
            request_id: purpose.to_owned(),
            permissions: Vec::new(),
            grants: vec!["*".to_owned()],
            features: tenant.features.iter().cloned().collect(),
        }
    }

    /// The tenant's config for `module`, resolved against `manifest`'s schema.
    pub(crate) fn config_for(
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

    pub(crate) async fn serving_for(
        &self,
        tenant: &Tenant,
        record: &ModuleVersion,
    ) -> Result<Arc<Serving>, String> {
        let (ready, manifest) = self.ready_module(record).await?;
        let config = self.config_for(&tenant.id, &record.module, &manifest)?;
        Ok(Arc::new(Serving::new(
            &tenant.id,
            record.version.clone(),
            ready,
            manifest,
            config,
            &self.inner.health,
        )))
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

    pub(crate) fn move_lock(&self, tenant: &str, module: &str) -> MoveLock {
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

    /// Installs a ready route after a durable deployment change.
    pub(crate) fn install(&self, tenant: &Tenant, module: &str, route: Arc<Route>) {
        let serving = route.serving.get().cloned();
        self.inner.table.install(tenant, module, route);
        self.inner.swaps.fetch_add(1, Ordering::Relaxed);
        if let Some(serving) = serving {
            self.keep_resident(module, &serving.version, &serving.ready);
        }
    }

    /// Rebuilds every route from the registry.
    fn reload_all(&self) -> Result<(), RegistryError> {
        let registry = &self.inner.registry;
        let mut table = Tenants::new();
        for tenant in registry.tenants()? {
            table.insert(tenant.id.clone(), Arc::new(lazy_routes(registry, tenant)?));
        }
        self.inner.table.replace(table);
        Ok(())
    }

    /// Rebuilds one tenant's routes and canaries from the registry, to be
    /// loaded again on first use: after its records were replaced wholesale
    /// (a restore), nothing loaded before may keep serving.
    pub fn reload_tenant(&self, tenant_id: &str) -> Result<(), RegistryError> {
        let registry = &self.inner.registry;
        let routes = match registry.tenant(tenant_id) {
            Ok(tenant) => Some(lazy_routes(registry, tenant)?),
            Err(RegistryError::TenantNotFound(_)) => None,
            Err(error) => return Err(error),
        };
        self.inner.table.update_tenant(tenant_id, |_| routes);
        let canaries = registry.canaries()?;
        self.inner.canaries.update(|routed| {
            let modules = routed.entry(tenant_id.to_owned()).or_default();
            modules.clear();
            for canary in canaries.into_iter().filter(|canary| canary.tenant == tenant_id) {
                let route = CanaryRoute {
                    version: canary.version,
                    percent: canary.percent,
                    serving: tokio::sync::OnceCell::new(),
                };
                modules.insert(canary.module, Arc::new(route));
            }
        });
        Ok(())
    }

    /// Brings one tenant (and one of its modules) in line with the registry,
    /// keeping a ready version when only config or tenant details changed.
    pub(crate) fn refresh(&self, tenant_id: &str, module: &str) {
        let registry = &self.inner.registry;
        let tenant = match registry.tenant(tenant_id) {
            Ok(tenant) => Arc::new(tenant),
            Err(error) => {
                tracing::warn!(tenant = tenant_id, %error, "dropping the routes of a tenant the registry cannot return");
                self.inner.table.update_tenant(tenant_id, |_| None);
                return;
            }
        };
        let active = registry
            .deployment(tenant_id, module)
            .ok()
            .and_then(|deployment| deployment.active);
        let config = |manifest: &Manifest| self.config_for(tenant_id, module, manifest);
        self.inner.table.update_tenant(tenant_id, |routes| {
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
                        Some((route, serving))
                            if route.active == active && serving.fallback_reason.is_none() =>
                        {
                            match config(&serving.manifest) {
                                Ok(config) => Route::ready(Arc::new(Serving {
                                    config,
                                    ..Serving::clone(serving)
                                })),
                                Err(_) => Route::lazy(active),
                            }
                        }
                        _ if existing.as_ref().is_some_and(|route| {
                            route.active == active
                                && route.serving.get().is_none()
                                && route.failure().is_none()
                        }) =>
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

    /// Brings the tenant's record in line with the registry (its routes go
    /// when it no longer exists). The loader does this itself on every
    /// [`RegistryEvent::TenantChanged`]; a caller that just changed the
    /// tenant (a suspension, a deletion) calls it so the next request sees the
    /// change without waiting for the event.
    pub fn refresh_tenant(&self, tenant_id: &str) {
        match self.inner.registry.tenant(tenant_id) {
            Ok(tenant) => {
                let tenant = Arc::new(tenant);
                self.inner.table.update_tenant(tenant_id, |routes| {
                    let mut routes = routes.unwrap_or_else(|| TenantRoutes {
                        tenant: tenant.clone(),
                        modules: HashMap::new(),
                    });
                    routes.tenant = tenant;
                    Some(routes)
                });
            }
            Err(_) => self.inner.table.update_tenant(tenant_id, |_| None),
        }
    }
}

/// A tenant's routes as the registry has them, none loaded yet.
fn lazy_routes(registry: &Registry, tenant: Tenant) -> Result<TenantRoutes, RegistryError> {
    let mut modules = HashMap::new();
    for deployment in registry.deployments_of(&tenant.id)? {
        if let Some(active) = deployment.active {
            modules.insert(deployment.module, Route::lazy(active));
        }
    }
    Ok(TenantRoutes {
        tenant: Arc::new(tenant),
        modules,
    })
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
            // Deployments move only through the loader, which installs the
            // route itself after the durable write: one path changes a route.
            Ok(RegistryEvent::DeploymentChanged { .. } | RegistryEvent::VersionPublished { .. }) => {}
            Ok(RegistryEvent::ConfigChanged { tenant, module, .. }) => loader.refresh(&tenant, &module),
            Ok(RegistryEvent::TenantChanged { tenant }) => loader.refresh_tenant(&tenant),
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
