//! A module version made ready: its spec (limits capped by the operator) and the pre-instance for its WIT version.
//!
//! The pre-instance (compiled component plus the linker's work) belongs to
//! the component's bytes, not to the version: every version whose
//! component has the same SHA-256 shares one, through the runtime's
//! [`CompiledSet`] of weak references, so a thousand versions of the same
//! bytes cost one compiled artefact, and the artefact goes when the last
//! version using it does. Each ready version also counts its calls in flight
//! and stamps when it was last used, so an embedder keeping a bounded number
//! resident evicts the least recently used one that is idle.
//!
//! Compiled code is mapped from the compile cache's file, so an artefact no
//! call used between two sweeps of [`CompiledSet::page_out_idle`] (the
//! embedder runs one every minute or so) gives its code pages back to the
//! kernel (`madvise(MADV_PAGEOUT)`): an idle version then costs its small
//! records and anonymous memory, not its code. Its next call reads the pages
//! back from the page cache or the file; nothing else changes.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use crate::bindings::VersionedPre;

/// What the runtime needs to know about a module version, taken from its manifest.
#[derive(Debug, Clone)]
pub struct ModuleSpec {
    /// The module id.
    pub id: String,
    /// The version.
    pub version: semver::Version,
    /// The linear memory limit the manifest asks for.
    pub memory_bytes: u64,
    /// The deadline the manifest asks for.
    pub timeout: Duration,
    /// The fuel budget per call, if the manifest sets one.
    pub fuel: Option<u64>,
    /// How much one tenant's data of this module may hold.
    pub kv_quota: crate::kv::KvQuota,
    /// Modules it may call, with the version requirement.
    pub dependencies: BTreeMap<String, semver::VersionReq>,
    /// Its endpoints: what a nested `modules.call` may reach, and with which permission.
    pub endpoints: Vec<modhost_manifest::Endpoint>,
}

impl ModuleSpec {
    /// The endpoint serving `method` on `path` (any query ignored), if there is one.
    pub fn find_endpoint(
        &self,
        method: modhost_manifest::Method,
        path: &str,
    ) -> Option<&modhost_manifest::Endpoint> {
        let path = path.split_once('?').map_or(path, |(path, _query)| path);
        self.endpoints
            .iter()
            .filter(|endpoint| endpoint.method == method)
            .find(|endpoint| endpoint.path.matches(path).is_some())
    }

    /// The runtime's view of a validated manifest.
    pub fn from_manifest(manifest: &modhost_manifest::Manifest) -> Self {
        Self {
            id: manifest.module.id.as_str().to_owned(),
            version: manifest.module.version.clone(),
            memory_bytes: manifest.limits.memory_bytes(),
            timeout: manifest.limits.timeout(),
            fuel: manifest.limits.fuel,
            kv_quota: crate::kv::KvQuota {
                max_keys: manifest.limits.kv_keys,
                max_bytes: manifest.limits.kv_bytes(),
            },
            dependencies: manifest
                .dependencies
                .iter()
                .map(|(id, requirement)| (id.as_str().to_owned(), requirement.clone()))
                .collect(),
            endpoints: manifest.endpoints.clone(),
        }
    }
}

/// A compiled and linked module version, ready to be instantiated per call.
///
/// It holds the pre-instance for the WIT version the component was built
/// against, chosen once by [`crate::Runtime::prepare`].
pub struct ReadyModule {
    pub(crate) spec: ModuleSpec,
    pub(crate) sha256: String,
    pub(crate) pre: Arc<Compiled>,
    in_flight: AtomicUsize,
    last_used: AtomicU64,
}

/// The logical clock of [`ReadyModule::last_used`]: one tick per use, process-wide.
static USE_CLOCK: AtomicU64 = AtomicU64::new(1);

/// A call in flight on a [`ReadyModule`]; ends when dropped.
#[derive(Debug)]
pub struct InFlight<'a>(&'a ReadyModule);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

impl ReadyModule {
    pub(crate) fn new(spec: ModuleSpec, sha256: String, pre: Arc<Compiled>) -> Self {
        Self {
            spec,
            sha256,
            pre,
            in_flight: AtomicUsize::new(0),
            last_used: AtomicU64::new(USE_CLOCK.fetch_add(1, Ordering::Relaxed)),
        }
    }

    /// Marks a call in flight (until the guard is dropped) and the version as just used.
    pub fn enter(&self) -> InFlight<'_> {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.touch();
        InFlight(self)
    }

    /// Marks the version as just used.
    pub fn touch(&self) {
        self.last_used
            .store(USE_CLOCK.fetch_add(1, Ordering::Relaxed), Ordering::Relaxed);
    }

    /// Calls running on it now.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    /// When it was last used, on a process-wide logical clock (larger is more recent).
    pub fn last_used(&self) -> u64 {
        self.last_used.load(Ordering::Relaxed)
    }

    /// Whether it runs the very same compiled artefact as `other` (same component bytes).
    pub fn shares_compiled_code(&self, other: &ReadyModule) -> bool {
        Arc::ptr_eq(&self.pre, &other.pre)
    }

    /// The module's spec, with limits capped by the operator's maxima.
    pub fn spec(&self) -> &ModuleSpec {
        &self.spec
    }

    /// The SHA-256 of the component it was prepared from.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// The `modhost:module` WIT version the component exports (`1.0.0`, …).
    pub fn wit_version(&self) -> semver::Version {
        self.pre.pre.wit_version()
    }
}

impl std::fmt::Debug for ReadyModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadyModule")
            .field("spec", &self.spec)
            .field("wit_version", &self.wit_version())
            .finish_non_exhaustive()
    }
}

/// One compiled artefact: the pre-instance every ready version of the same
/// component bytes shares, and what paging its idle code out needs.
pub(crate) struct Compiled {
    /// The bindings and pre-instance.
    pub(crate) pre: VersionedPre,
    /// Whether an instance was started on it since the last sweep. Set only
    /// when clear, so a busy artefact's calls only read it (no cache line
    /// written back and forth between cores on every call).
    used: AtomicBool,
    /// Whether its code was paged out with no call since.
    paged_out: AtomicBool,
}

impl Compiled {
    pub(crate) fn new(pre: VersionedPre) -> Self {
        Self {
            pre,
            used: AtomicBool::new(false),
            paged_out: AtomicBool::new(false),
        }
    }

    /// Notes an instance started on it.
    pub(crate) fn note_call(&self) {
        if !self.used.load(Ordering::Relaxed) {
            self.used.store(true, Ordering::Relaxed);
        }
    }
}

/// What one [`CompiledSet::page_out_idle`] sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CodePageOut {
    /// Artefacts whose code was paged out by this sweep.
    pub artefacts: usize,
    /// The bytes of code they map.
    pub bytes: usize,
    /// Artefacts whose code the kernel refused to page out (logged).
    pub failed: usize,
}

/// Gives the pages of `range` (a compiled image: read-only or executable,
/// mapped from a file) back to the kernel. Only whole pages inside it.
fn page_out(range: std::ops::Range<*const u8>) -> std::io::Result<usize> {
    let page = rustix::param::page_size();
    let start = (range.start as usize).next_multiple_of(page);
    let end = (range.end as usize) / page * page;
    if end <= start {
        return Ok(0);
    }
    let length = end - start;
    #[allow(unsafe_code)]
    // SAFETY: `[start, end)` lies inside the image of a compiled component
    // kept alive by the caller's `Arc<Compiled>`. `MADV_PAGEOUT` never
    // changes what a mapping reads: clean file-backed pages are read back
    // from the file on their next access, anonymous ones are swapped or kept.
    unsafe {
        rustix::mm::madvise(
            start as *mut std::ffi::c_void,
            length,
            rustix::mm::Advice::LinuxPageOut,
        )?;
    }
    Ok(length)
}

/// The pre-instances alive, by component SHA-256: weak, so an artefact lives
/// exactly as long as some ready version uses it.
#[derive(Default)]
pub(crate) struct CompiledSet {
    live: Mutex<HashMap<String, Weak<Compiled>>>,
    /// Past this many entries, dead ones are swept before the next insert.
    sweep_at: AtomicUsize,
    /// How many prepares reused a live artefact.
    reused: AtomicU64,
}

impl CompiledSet {
    /// The live pre-instance of the component whose SHA-256 is `sha256`, counted as a reuse.
    pub(crate) fn get(&self, sha256: &str) -> Option<Arc<Compiled>> {
        let found = self
            .live
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(sha256)
            .and_then(Weak::upgrade);
        if found.is_some() {
            self.reused.fetch_add(1, Ordering::Relaxed);
        }
        found
    }

    /// Keeps `pre` as `sha256`'s artefact, or returns the one a concurrent prepare kept first.
    pub(crate) fn insert(&self, sha256: &str, pre: VersionedPre) -> Arc<Compiled> {
        let mut live = self.live.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(existing) = live.get(sha256).and_then(Weak::upgrade) {
            return existing;
        }
        if live.len() >= self.sweep_at.load(Ordering::Relaxed) {
            live.retain(|_, pre| pre.strong_count() > 0);
            self.sweep_at
                .store(live.len().saturating_mul(2).max(64), Ordering::Relaxed);
        }
        let pre = Arc::new(Compiled::new(pre));
        live.insert(sha256.to_owned(), Arc::downgrade(&pre));
        pre
    }

    /// Pages out the code of every artefact no instance was started on since
    /// the previous sweep (and not already paged out since its last call).
    pub(crate) fn page_out_idle(&self) -> CodePageOut {
        let live: Vec<(String, Arc<Compiled>)> = self
            .live
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter_map(|(sha256, pre)| Some((sha256.clone(), pre.upgrade()?)))
            .collect();
        let mut report = CodePageOut::default();
        for (sha256, compiled) in live {
            if compiled.used.swap(false, Ordering::Relaxed) {
                compiled.paged_out.store(false, Ordering::Relaxed);
                continue;
            }
            if compiled.paged_out.swap(true, Ordering::Relaxed) {
                continue;
            }
            match page_out(compiled.pre.component().image_range()) {
                Ok(bytes) => {
                    report.artefacts += 1;
                    report.bytes += bytes;
                }
                Err(error) => {
                    report.failed += 1;
                    tracing::warn!(%sha256, %error, "could not page out an idle component's code");
                }
            }
        }
        report
    }

    /// How many prepares reused a live artefact instead of loading or compiling one.
    pub(crate) fn reused(&self) -> u64 {
        self.reused.load(Ordering::Relaxed)
    }

    /// How many distinct artefacts are alive now.
    pub(crate) fn alive(&self) -> usize {
        self.live
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .filter(|pre| pre.strong_count() > 0)
            .count()
    }
}
