//! The routing table: tenant → module → route, an immutable snapshot swapped whole, read without a lock.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use modhost_manifest::Manifest;
use modhost_registry::Tenant;
use modhost_runtime::kv::KvQuota;
use modhost_runtime::{ModuleConfig, ReadyModule};
use semver::Version;
use tokio::sync::OnceCell;

use crate::health::{HealthBook, VersionHealth};

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
    /// `module@version`: the `x-modhost-version` header of every answer.
    pub version_label: Arc<str>,
    /// The manifest's endpoint permissions, sorted, each once: what a
    /// caller's grants are matched against to tell the module which it holds.
    pub endpoint_permissions: Arc<[String]>,
    /// The version's health for this tenant, recorded into after each call.
    pub(crate) health: Arc<VersionHealth>,
}

impl Serving {
    /// `tenant`'s route to `version` of the manifest's module, with what
    /// every request would otherwise rebuild computed once here.
    pub(crate) fn new(
        tenant: &str,
        version: Version,
        ready: Arc<ReadyModule>,
        manifest: Arc<Manifest>,
        config: Arc<ModuleConfig>,
        health: &HealthBook,
    ) -> Self {
        let module = manifest.module.id.as_str();
        let mut permissions: Vec<String> = manifest
            .endpoints
            .iter()
            .map(|endpoint| endpoint.permission.clone())
            .collect();
        permissions.sort_unstable();
        permissions.dedup();
        Self {
            version_label: format!("{module}@{version}").into(),
            endpoint_permissions: permissions.into(),
            health: health.handle(tenant, module, &version),
            version,
            ready,
            manifest,
            config,
            fallback_reason: None,
        }
    }
}

/// The first wait after a failed load; each further failure doubles it.
pub(crate) const FIRST_RETRY_DELAY: Duration = Duration::from_secs(1);
/// The longest wait between two load attempts.
pub(crate) const MAX_RETRY_DELAY: Duration = Duration::from_secs(60);

/// Why a route could not be loaded, and when it may be tried again.
#[derive(Debug, Clone)]
pub(crate) struct LoadFailure {
    pub(crate) reason: String,
    pub(crate) attempts: u32,
    pub(crate) retry_at: Instant,
}

impl LoadFailure {
    /// The failure after `attempts` failed loads in a row, the last at `now`.
    pub(crate) fn after(reason: String, attempts: u32, now: Instant) -> Self {
        let doublings = attempts.saturating_sub(1).min(16);
        let delay = FIRST_RETRY_DELAY
            .saturating_mul(1 << doublings)
            .min(MAX_RETRY_DELAY);
        Self {
            reason,
            attempts,
            retry_at: now + delay,
        }
    }

    /// What an operator or caller is told.
    pub(crate) fn describe(&self, now: Instant) -> String {
        let wait = self.retry_at.saturating_duration_since(now);
        format!(
            "{} (failed {} time{}; next attempt in {} s)",
            self.reason,
            self.attempts,
            if self.attempts == 1 { "" } else { "s" },
            wait.as_secs_f64().ceil()
        )
    }
}

/// What a route served before its version was evicted (see `resident.rs`).
#[derive(Debug, Clone)]
pub(crate) struct Evicted {
    pub(crate) version: Version,
    pub(crate) kv_quota: KvQuota,
    pub(crate) fallback_reason: Option<String>,
    /// Its calls' deadline: how long a request waits for it to load again.
    pub(crate) timeout: Duration,
}

/// One tenant's route to one module.
///
/// A route loads on first use and keeps what loaded. A load that fails is
/// not kept: the route remembers the failure and refuses at once (no
/// compile, no registry read) until its retry time, then tries again, with
/// the wait doubling from [`FIRST_RETRY_DELAY`] to [`MAX_RETRY_DELAY`].
/// A route whose version was evicted to keep the resident versions under
/// their cap is replaced by an unloaded one that remembers what it served:
/// it still counts as serving, and loads again on its next request.
#[derive(Debug)]
pub struct Route {
    /// The active version in the registry.
    pub active: Version,
    pub(crate) serving: OnceCell<Arc<Serving>>,
    pub(crate) failure: Mutex<Option<LoadFailure>>,
    pub(crate) evicted: Option<Evicted>,
}

impl Route {
    pub(crate) fn lazy(active: Version) -> Arc<Self> {
        Arc::new(Self {
            active,
            serving: OnceCell::new(),
            failure: Mutex::new(None),
            evicted: None,
        })
    }

    pub(crate) fn ready(serving: Arc<Serving>) -> Arc<Self> {
        Arc::new(Self {
            active: serving.version.clone(),
            serving: OnceCell::new_with(Some(serving)),
            failure: Mutex::new(None),
            evicted: None,
        })
    }

    /// The route after `serving`'s version was evicted: loads again on first use.
    fn evicted(active: Version, serving: &Serving) -> Arc<Self> {
        Arc::new(Self {
            active,
            serving: OnceCell::new(),
            failure: Mutex::new(None),
            evicted: Some(Evicted {
                version: serving.version.clone(),
                kv_quota: serving.ready.spec().kv_quota,
                fallback_reason: serving.fallback_reason.clone(),
                timeout: serving.ready.spec().timeout,
            }),
        })
    }

    /// The last load failure, if the route has not loaded since.
    pub(crate) fn failure(&self) -> Option<LoadFailure> {
        self.failure
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Records a failed load (or, with `None`, a successful one).
    pub(crate) fn set_failure(&self, failure: Option<LoadFailure>) {
        *self
            .failure
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = failure;
    }
}

/// A canary as the loader routes it (see `canary.rs`): the candidate, its
/// share in percent, and its ready version (loaded on first use after a restart).
#[derive(Debug)]
pub(crate) struct CanaryRoute {
    pub(crate) version: Version,
    pub(crate) percent: u8,
    pub(crate) serving: OnceCell<Arc<Serving>>,
}

/// Tenant → module → canary route.
type CanaryRoutes = HashMap<String, HashMap<String, Arc<CanaryRoute>>>;

/// The canaries being routed: changed under a lock (a canary starts, ends
/// or is evicted), read on every request without one and without allocating.
#[derive(Debug, Default)]
pub(crate) struct CanaryTable {
    changing: Mutex<()>,
    routes: ArcSwap<CanaryRoutes>,
}

impl CanaryTable {
    /// `tenant`'s canary of `module`, if one is routed.
    pub(crate) fn get(&self, tenant: &str, module: &str) -> Option<Arc<CanaryRoute>> {
        self.routes.load().get(tenant)?.get(module).cloned()
    }

    /// Applies `change` to a copy of the routes and publishes it; changes
    /// are made one at a time.
    pub(crate) fn update<R>(&self, change: impl FnOnce(&mut CanaryRoutes) -> R) -> R {
        let _changing = self.changing.lock().unwrap_or_else(PoisonError::into_inner);
        let mut routes = CanaryRoutes::clone(&self.routes.load());
        let result = change(&mut routes);
        routes.retain(|_, modules| !modules.is_empty());
        self.routes.store(Arc::new(routes));
        result
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
    /// The data quota of the serving version: `None` until first use.
    pub kv_quota: Option<KvQuota>,
    /// Whether what serves is in memory now: `false` until first use, and
    /// after its version was evicted (it loads again on the next request).
    pub resident: bool,
}

/// Tenant id → its routes.
pub(crate) type Tenants = HashMap<String, Arc<TenantRoutes>>;

/// The table: readers load a snapshot without locking; writers build a new
/// one under a mutex and swap it in.
pub(crate) struct RoutingTable {
    current: ArcSwap<Tenants>,
    writer: Mutex<()>,
}

impl RoutingTable {
    /// An empty table.
    pub(crate) fn new() -> Self {
        Self {
            current: ArcSwap::from_pointee(Tenants::new()),
            writer: Mutex::new(()),
        }
    }

    /// The tenant and its routes, if it exists.
    pub(crate) fn tenant(&self, tenant: &str) -> Option<Arc<TenantRoutes>> {
        self.current.load().get(tenant).cloned()
    }

    /// Replaces the whole table.
    pub(crate) fn replace(&self, tenants: Tenants) {
        let _writer = self
            .writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.current.store(Arc::new(tenants));
    }

    /// Swaps in a table where `change` decided the tenant's routes (`None` removes the tenant).
    pub(crate) fn update_tenant(
        &self,
        tenant: &str,
        change: impl FnOnce(Option<TenantRoutes>) -> Option<TenantRoutes>,
    ) {
        let _writer = self
            .writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut table = Tenants::clone(&self.current.load());
        let current = table.get(tenant).map(|routes| TenantRoutes::clone(routes));
        match change(current) {
            Some(routes) => table.insert(tenant.to_owned(), Arc::new(routes)),
            None => table.remove(tenant),
        };
        self.current.store(Arc::new(table));
    }

    /// Replaces one route of `tenant` (adding the tenant if needed).
    pub(crate) fn install(&self, tenant: &Tenant, module: &str, route: Arc<Route>) {
        self.update_tenant(&tenant.id, |routes| {
            let mut routes = routes.unwrap_or_else(|| TenantRoutes {
                tenant: Arc::new(tenant.clone()),
                modules: HashMap::new(),
            });
            routes.modules.insert(module.to_owned(), route);
            Some(routes)
        });
    }

    /// Replaces every route serving one of `evicted` with an evicted route
    /// (one swap); returns how many were replaced.
    pub(crate) fn evict(&self, evicted: &[Arc<ReadyModule>]) -> usize {
        let serves_evicted = |route: &Route| {
            route
                .serving
                .get()
                .is_some_and(|serving| evicted.iter().any(|ready| Arc::ptr_eq(&serving.ready, ready)))
        };
        let _writer = self
            .writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let current = self.current.load_full();
        let mut table: Option<Tenants> = None;
        let mut replaced = 0;
        for (tenant, routes) in current.iter() {
            if !routes.modules.values().any(|route| serves_evicted(route)) {
                continue;
            }
            let mut routes = TenantRoutes::clone(routes);
            for route in routes.modules.values_mut() {
                if let Some(serving) = route.serving.get().filter(|_| serves_evicted(route)) {
                    *route = Route::evicted(route.active.clone(), serving);
                    replaced += 1;
                }
            }
            table
                .get_or_insert_with(|| Tenants::clone(&current))
                .insert(tenant.clone(), Arc::new(routes));
        }
        if let Some(table) = table {
            self.current.store(Arc::new(table));
        }
        replaced
    }

    /// Every route's state, sorted by tenant and module.
    pub(crate) fn status(&self) -> Vec<RouteStatus> {
        let table = self.current.load();
        let now = Instant::now();
        let mut status = Vec::new();
        for (tenant, routes) in table.iter() {
            for (module, route) in &routes.modules {
                let (serving, problem, kv_quota) = match (route.serving.get(), &route.evicted) {
                    (Some(serving), _) => (
                        Some(serving.version.clone()),
                        serving.fallback_reason.clone(),
                        Some(serving.ready.spec().kv_quota),
                    ),
                    (None, evicted) => match (route.failure(), evicted) {
                        (Some(failure), _) => (None, Some(failure.describe(now)), None),
                        (None, Some(evicted)) => (
                            Some(evicted.version.clone()),
                            evicted.fallback_reason.clone(),
                            Some(evicted.kv_quota),
                        ),
                        (None, None) => (None, None, None),
                    },
                };
                status.push(RouteStatus {
                    tenant: tenant.clone(),
                    module: module.clone(),
                    active: route.active.clone(),
                    resident: route.serving.get().is_some(),
                    serving,
                    problem,
                    kv_quota,
                });
            }
        }
        status.sort_by(|a, b| (&a.tenant, &a.module).cmp(&(&b.tenant, &b.module)));
        status
    }
}
