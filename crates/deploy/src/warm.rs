//! Warming routes up: every active route loaded in the background at start (and any left unloaded later), and which routes are not ready.
//!
//! [`Loader::warm_up`] starts a task that loads every route of the routing
//! table that has not been tried yet through the ordinary load path
//! ([`Loader::serving`]: compile cache, self-test, fallback, failure
//! bookkeeping), at most `concurrency` at a time (compiling is CPU-heavy).
//! After its first pass it keeps looking every [`WARM_EVERY`] for routes
//! left unloaded by later changes (a config change that did not fit, a
//! restored tenant, a resumed one, a reload after missed registry events),
//! so readiness does not wait for a first request. A route whose load
//! failed is not retried here: the data plane retries it on its backoff,
//! and a promote or rollback replaces it. Suspended tenants are skipped
//! (they serve nothing).
//!
//! The same task pages idle compiled code out: every
//! [`modhost_runtime::IDLE_CODE_SWEEP_EVERY`] it runs the runtime's sweep
//! ([`modhost_runtime::Runtime::page_out_idle_code`]), off the async workers,
//! so a version no request used for a minute or two holds no code pages.
//!
//! [`Loader::unready_routes`] reads the in-memory table only: a route is
//! ready when it serves its active version or has fallen back to an earlier
//! one. A route whose version was evicted (`resident.rs`) still serves: the
//! warm-up leaves it alone, and its next request loads it again.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use semver::Version;
use tokio::task::{JoinHandle, JoinSet};

use crate::loader::Loader;
use crate::table::RouteStatus;

/// How often the warm-up looks again for routes nobody has loaded yet, after its first pass.
pub const WARM_EVERY: Duration = Duration::from_secs(1);

/// The warm-up's progress, shared by its task and readers. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct WarmUp {
    inner: Arc<WarmUpState>,
}

#[derive(Debug, Default)]
struct WarmUpState {
    /// Whether the first pass over every route has ended.
    finished: AtomicBool,
    /// The (tenant, module) routes the warm-up is loading now.
    loading: Mutex<HashSet<(String, String)>>,
}

impl WarmUp {
    /// A warm-up that has not run yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the first pass over every route at start has ended.
    pub fn finished(&self) -> bool {
        self.inner.finished.load(Ordering::Acquire)
    }

    /// Whether the warm-up is loading `tenant`'s `module` now.
    pub fn is_loading(&self, tenant: &str, module: &str) -> bool {
        self.loading().contains(&(tenant.to_owned(), module.to_owned()))
    }

    fn loading(&self) -> std::sync::MutexGuard<'_, HashSet<(String, String)>> {
        self.inner.loading.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Why a route is not ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnreadyState {
    /// The warm-up is loading it now.
    Loading,
    /// Its last load failed and nothing earlier could be served.
    Failed,
    /// Nothing has tried to load it yet.
    NotLoaded,
}

impl UnreadyState {
    /// The state's name: `loading`, `failed` or `not-loaded`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Loading => "loading",
            Self::Failed => "failed",
            Self::NotLoaded => "not-loaded",
        }
    }
}

/// A route that is not ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadyRoute {
    /// The tenant.
    pub tenant: String,
    /// The module.
    pub module: String,
    /// The active version.
    pub active: Version,
    /// Why it is not ready.
    pub state: UnreadyState,
    /// The load failure, for [`UnreadyState::Failed`].
    pub reason: Option<String>,
}

/// Whether the route `status` describes is ready, and if not why: ready
/// when something serves (the active version or a fallback).
fn unready(status: RouteStatus, loading: bool) -> Option<UnreadyRoute> {
    if status.serving.is_some() {
        return None;
    }
    let (state, reason) = match status.problem {
        Some(problem) => (UnreadyState::Failed, Some(problem)),
        None if loading => (UnreadyState::Loading, None),
        None => (UnreadyState::NotLoaded, None),
    };
    Some(UnreadyRoute {
        tenant: status.tenant,
        module: status.module,
        active: status.active,
        state,
        reason,
    })
}

impl Loader {
    /// Every route of a tenant that is not suspended which is not ready, by
    /// tenant and module, from the in-memory table (no storage read).
    pub fn unready_routes(&self, warm_up: &WarmUp) -> Vec<UnreadyRoute> {
        let loading = warm_up.loading().clone();
        self.status()
            .into_iter()
            .filter(|status| !self.suspended(&status.tenant))
            .filter_map(|status| {
                let key = (status.tenant.clone(), status.module.clone());
                unready(status, loading.contains(&key))
            })
            .collect()
    }

    /// Starts the warm-up task: a first pass loads every route nobody has
    /// tried yet, at most `concurrency` at a time, then marks `warm_up`
    /// finished; after that it looks again every [`WARM_EVERY`]. It ends
    /// when the loader is dropped, or when the returned handle is aborted.
    /// Call inside a tokio runtime; it never delays the caller.
    pub fn warm_up(&self, warm_up: &WarmUp, concurrency: usize) -> JoinHandle<()> {
        let loader = Arc::downgrade(&self.inner);
        let warm_up = warm_up.clone();
        let concurrency = concurrency.max(1);
        tokio::spawn(async move {
            let mut first = true;
            let mut swept_at = std::time::Instant::now();
            loop {
                let Some(inner) = loader.upgrade() else { return };
                let current = Loader { inner };
                let (loaded, failed) = current.warm_pass(&warm_up, concurrency).await;
                if swept_at.elapsed() >= modhost_runtime::IDLE_CODE_SWEEP_EVERY {
                    swept_at = std::time::Instant::now();
                    let runtime = current.runtime().clone();
                    match tokio::task::spawn_blocking(move || runtime.page_out_idle_code()).await {
                        Ok(paged) if paged.artefacts + paged.failed > 0 => {
                            tracing::info!(
                                artefacts = paged.artefacts,
                                bytes = paged.bytes,
                                failed = paged.failed,
                                "paged out idle compiled code"
                            );
                        }
                        Ok(_) => {}
                        Err(error) => tracing::warn!(%error, "the idle-code sweep did not finish"),
                    }
                }
                // Not kept while waiting: the task must not keep a dropped loader alive.
                drop(current);
                if first {
                    first = false;
                    warm_up.inner.finished.store(true, Ordering::Release);
                    tracing::info!(loaded, failed, "the warm-up loaded the active routes");
                } else if loaded + failed > 0 {
                    tracing::info!(loaded, failed, "the warm-up loaded routes left unloaded");
                }
                tokio::time::sleep(WARM_EVERY).await;
            }
        })
    }

    /// Whether `tenant` is suspended (its routes serve nothing).
    fn suspended(&self, tenant: &str) -> bool {
        self.tenant(tenant)
            .is_some_and(|routes| routes.tenant.suspended.is_some())
    }

    /// Loads every route nobody has tried yet; (loaded, failed).
    async fn warm_pass(&self, warm_up: &WarmUp, concurrency: usize) -> (u64, u64) {
        let pending: Vec<(String, String)> = self
            .status()
            .into_iter()
            .filter(|status| status.serving.is_none() && status.problem.is_none())
            .filter(|status| !self.suspended(&status.tenant))
            .map(|status| (status.tenant, status.module))
            .collect();
        let (mut loaded, mut failed) = (0, 0);
        let mut count = |outcome: Result<bool, tokio::task::JoinError>| match outcome {
            Ok(true) => loaded += 1,
            Ok(false) => failed += 1,
            Err(error) => tracing::error!(%error, "a warm-up load task failed"),
        };
        let mut running = JoinSet::new();
        for (tenant, module) in pending {
            while running.len() >= concurrency {
                if let Some(outcome) = running.join_next().await {
                    count(outcome);
                }
            }
            warm_up.loading().insert((tenant.clone(), module.clone()));
            let (loader, warm_up) = (self.clone(), warm_up.clone());
            running.spawn(async move {
                let outcome = loader.serving(&tenant, &module).await;
                if let Err(error) = &outcome {
                    tracing::warn!(%tenant, %module, %error, "the warm-up could not load a route");
                }
                warm_up.loading().remove(&(tenant, module));
                outcome.is_ok()
            });
        }
        while let Some(outcome) = running.join_next().await {
            count(outcome);
        }
        (loaded, failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(serving: Option<&str>, problem: Option<&str>) -> RouteStatus {
        RouteStatus {
            tenant: "acme".to_owned(),
            module: "inventory".to_owned(),
            active: Version::new(1, 1, 0),
            serving: serving.map(|version| version.parse().expect("version")),
            problem: problem.map(str::to_owned),
            kv_quota: None,
            resident: serving.is_some(),
        }
    }

    #[test]
    fn a_route_serving_its_active_version_or_a_fallback_is_ready() {
        assert_eq!(unready(status(Some("1.1.0"), None), false), None);
        assert_eq!(unready(status(Some("1.0.0"), Some("falling back")), false), None);
    }

    #[test]
    fn a_route_serving_nothing_is_failed_loading_or_not_loaded() {
        let failed = unready(status(None, Some("cannot be loaded")), true).expect("unready");
        assert_eq!(
            (failed.state, failed.reason.as_deref()),
            (UnreadyState::Failed, Some("cannot be loaded"))
        );
        let loading = unready(status(None, None), true).expect("unready");
        assert_eq!((loading.state, loading.reason), (UnreadyState::Loading, None));
        let idle = unready(status(None, None), false).expect("unready");
        assert_eq!(idle.state, UnreadyState::NotLoaded);
        assert_eq!(idle.state.name(), "not-loaded");
        assert_eq!(
            (idle.tenant.as_str(), idle.module.as_str(), idle.active),
            ("acme", "inventory", Version::new(1, 1, 0))
        );
    }

    #[test]
    fn a_new_warm_up_is_not_finished_and_loads_nothing() {
        let warm_up = WarmUp::new();
        assert!(!warm_up.finished());
        assert!(!warm_up.is_loading("acme", "inventory"));
        warm_up
            .loading()
            .insert(("acme".to_owned(), "inventory".to_owned()));
        assert!(warm_up.clone().is_loading("acme", "inventory"));
    }
}
