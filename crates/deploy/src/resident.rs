//! Resident versions: the ready versions kept in memory, at most a cap, the least recently used idle one evicted past it.
//!
//! Every version the loader makes ready (for a route, a canary, a promote's
//! candidate, smoke tests on demand) is entered here under its (module,
//! version). Past [`Loader::max_resident_versions`] the least recently used
//! version with no call in flight is evicted: dropped from this set and
//! from every route and canary serving it, each of which becomes
//! *evicted* — it still says what it serves, and the next request that
//! needs it loads it again through the ordinary load path (a warm load from
//! the compile cache; the self-test is not run again: it passed once for
//! that version), waiting for the load under its normal deadline. A version
//! with a call in flight is never chosen; if every resident version is
//! busy, the set stays over the cap until a later load finds an idle one.
//! Calls hold their version (`Arc`), so even a version evicted between a
//! request's routing and its call finishes that call.
//!
//! The compiled code itself is shared by every version of the same bytes
//! (the runtime keeps one pre-instance per component SHA-256, held weakly),
//! so evicting a version frees its compiled code only when it was the last
//! resident version of those bytes.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use modhost_manifest::Manifest;
use modhost_registry::ModuleVersion;
use modhost_runtime::{ModuleSpec, ReadyModule, module_config};
use semver::Version;
use tokio::sync::OnceCell;
use tracing::Instrument as _;

use crate::loader::Loader;
use crate::resident_set::VersionKey;
use crate::table::CanaryRoute;

impl Loader {
    /// The most ready versions kept in memory (default [`crate::DEFAULT_MAX_RESIDENT_VERSIONS`]).
    pub fn max_resident_versions(&self) -> usize {
        self.inner.residents.cap.load(Ordering::Relaxed)
    }

    /// Sets the most ready versions kept in memory (at least 1); the next
    /// load evicts down to it.
    pub fn set_max_resident_versions(&self, cap: usize) {
        self.inner.residents.cap.store(cap.max(1), Ordering::Relaxed);
    }

    /// How many versions are resident now.
    pub fn resident_versions(&self) -> usize {
        self.inner.residents.lock().len()
    }

    /// How many versions were evicted since start.
    pub fn eviction_count(&self) -> u64 {
        self.inner.residents.evictions.load(Ordering::Relaxed)
    }

    /// Whether `module@version` is resident now.
    pub fn is_resident(&self, module: &str, version: &Version) -> bool {
        self.inner
            .residents
            .lock()
            .contains_key(&(module.to_owned(), version.clone()))
    }

    /// The ready module of a version: the resident one, or made ready — on
    /// the compiled code of a resident version with the same bytes (the
    /// component is not even read), else compiled or loaded from the
    /// compile cache off the async threads — self-tested once per version,
    /// and entered as resident (evicting past the cap).
    pub(crate) async fn ready_module(
        &self,
        record: &ModuleVersion,
    ) -> Result<(Arc<ReadyModule>, Arc<Manifest>), String> {
        let manifest = Arc::new(record.manifest().map_err(|error| error.to_string())?);
        let key = (record.module.clone(), record.version.clone());
        if let Some(ready) = self.inner.residents.get(&key) {
            return Ok((ready, manifest));
        }
        let spec = ModuleSpec::from_manifest(&manifest);
        let runtime = self.inner.runtime.clone();
        let prepared = match runtime.prepare_shared(spec.clone(), &record.sha256) {
            Some(prepared) => prepared,
            None => {
                // Waits its turn: compiles are CPU-bound and bounded. Many
                // loads of the same bytes queue here, and all but the first
                // find its artefact made when they get through.
                let _permit = self
                    .inner
                    .compile_permits
                    .acquire()
                    .await
                    .map_err(|_| "the loader is shutting down".to_owned())?;
                if let Some(ready) = self.inner.residents.get(&key) {
                    return Ok((ready, manifest));
                }
                if let Some(prepared) = runtime.prepare_shared(spec.clone(), &record.sha256) {
                    return self.finish_ready(record, key, Arc::new(prepared), manifest).await;
                }
                let bytes = self
                    .inner
                    .registry
                    .component(record)
                    .map_err(|error| error.to_string())?;
                tokio::task::spawn_blocking(move || runtime.prepare(spec, &bytes))
                    .instrument(tracing::debug_span!("module.compile"))
                    .await
                    .map_err(|error| format!("the compile task failed: {error}"))?
                    .map_err(|error| error.to_string())?
            }
        };
        self.finish_ready(record, key, Arc::new(prepared), manifest).await
    }

    /// Self-tests `ready` once per version and enters it as resident.
    async fn finish_ready(
        &self,
        record: &ModuleVersion,
        key: VersionKey,
        ready: Arc<ReadyModule>,
        manifest: Arc<Manifest>,
    ) -> Result<(Arc<ReadyModule>, Arc<Manifest>), String> {
        if !self.inner.residents.tested(&key) {
            let defaults = manifest
                .config
                .validate(&Default::default())
                .map(|resolved| module_config(&resolved));
            let defaults = Arc::new(defaults.unwrap_or_default());
            self.inner
                .runtime
                .self_test(ready.clone(), defaults)
                .instrument(tracing::debug_span!(
                    "module.self_test",
                    modhost.module = %record.module,
                    modhost.version = %record.version,
                ))
                .await
                .map_err(|message| format!("its self-test failed: {message}"))?;
            self.inner.residents.mark_tested(key.clone());
        }
        Ok((self.admit_resident(key, ready), manifest))
    }

    /// Enters `ready` as resident and drops the versions evicted for it from
    /// every route and canary; returns the module now resident for `key`.
    pub(crate) fn admit_resident(&self, key: VersionKey, ready: Arc<ReadyModule>) -> Arc<ReadyModule> {
        let (kept, evicted) = self.inner.residents.admit(key, ready);
        if !evicted.is_empty() {
            self.inner.table.evict(&evicted);
            self.evict_canaries(&evicted);
        }
        kept
    }

    /// Keeps `ready` (serving `module@version` in a route being installed)
    /// resident, if an eviction took it after it was made ready.
    pub(crate) fn keep_resident(&self, module: &str, version: &Version, ready: &Arc<ReadyModule>) {
        let key = (module.to_owned(), version.clone());
        if !self.inner.residents.holds(&key, ready) {
            self.admit_resident(key, ready.clone());
        }
    }
}

impl Loader {
    /// Empties every canary route serving one of `evicted`: it loads again on its next request.
    fn evict_canaries(&self, evicted: &[Arc<ReadyModule>]) {
        self.inner.canaries.update(|canaries| {
            for route in canaries.values_mut().flat_map(HashMap::values_mut) {
                let serves_evicted = route
                    .serving
                    .get()
                    .is_some_and(|serving| evicted.iter().any(|ready| Arc::ptr_eq(&serving.ready, ready)));
                if serves_evicted {
                    *route = Arc::new(CanaryRoute {
                        version: route.version.clone(),
                        percent: route.percent,
                        serving: OnceCell::new(),
                    });
                }
            }
        });
    }
}
