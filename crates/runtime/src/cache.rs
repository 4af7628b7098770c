//! The compile cache: compiled components on disk, keyed by (component sha256, engine fingerprint).
//!
//! Compiling a component with cranelift takes milliseconds to seconds;
//! deserialising the compiled artifact takes microseconds. The cache keeps
//! `<dir>/<sha256>-<fingerprint>.cwasm`, where the fingerprint hashes
//! everything that makes compiled code incompatible (wasmtime version,
//! target, engine settings), so a restart or a second load deserialises
//! instead of compiling, and an upgraded host never loads stale code. A
//! missing, unreadable or incompatible artifact is simply compiled again.
//! [`CompileCache::collect_stale`] removes the artifacts of other engines and
//! of components the embedder no longer keeps (it says which are live: the
//! runtime knows nothing about what is published).

use std::collections::BTreeSet;
use std::hash::{Hash as _, Hasher as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use wasmtime::Engine;
use wasmtime::component::Component;

/// How often the cache compiled and how often it loaded compiled code.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Components compiled with cranelift.
    pub compiled: u64,
    /// Components deserialised from the cache.
    pub loaded: u64,
    /// Prepares that reused a compiled component already in memory (same
    /// SHA-256), neither compiling nor loading.
    pub shared: u64,
}

/// Why a compiled artifact is no longer needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StaleReason {
    /// Compiled by an engine with another fingerprint (an older wasmtime or other settings).
    OtherEngine,
    /// Its component is not among the live ones.
    Unused,
}

impl StaleReason {
    /// The reason's name as it travels (`other-engine`, `unused`).
    pub fn name(self) -> &'static str {
        match self {
            Self::OtherEngine => "other-engine",
            Self::Unused => "unused",
        }
    }
}

/// A compiled artifact [`CompileCache::collect_stale`] found stale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaleArtifact {
    /// Its file name, `<sha256>-<fingerprint>.cwasm`.
    pub file: String,
    /// Its size.
    pub bytes: u64,
    /// Why it is stale.
    pub reason: StaleReason,
}

/// Compiled components, on disk when a directory is configured.
#[derive(Debug)]
pub struct CompileCache {
    dir: Option<PathBuf>,
    fingerprint: String,
    compiled: AtomicU64,
    loaded: AtomicU64,
}

fn engine_fingerprint(engine: &Engine) -> String {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}

impl CompileCache {
    /// A cache in `dir` (created if missing), or memory-only compilation when `None`.
    pub fn new(engine: &Engine, dir: Option<PathBuf>) -> anyhow::Result<Self> {
        if let Some(dir) = &dir {
            std::fs::create_dir_all(dir).map_err(|error| {
                anyhow::anyhow!("could not create the compile cache {}: {error}", dir.display())
            })?;
        }
        Ok(Self {
            dir,
            fingerprint: engine_fingerprint(engine),
            compiled: AtomicU64::new(0),
            loaded: AtomicU64::new(0),
        })
    }

    /// Counts so far.
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            compiled: self.compiled.load(Ordering::Relaxed),
            loaded: self.loaded.load(Ordering::Relaxed),
            shared: 0,
        }
    }

    /// The fingerprint of the engine's compiled code: the suffix of its artifacts' names.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Lists the artifacts compiled by another engine or for a component
    /// whose sha256 is not in `live`, by file name, and removes them unless
    /// `dry_run`. Files that are not artifacts (a compile's temporary file)
    /// are left alone. A memory-only cache has nothing to list.
    pub fn collect_stale(
        &self,
        live: &BTreeSet<String>,
        dry_run: bool,
    ) -> anyhow::Result<Vec<StaleArtifact>> {
        let Some(dir) = &self.dir else {
            return Ok(Vec::new());
        };
        let listing = |error: std::io::Error| {
            anyhow::anyhow!("could not list the compile cache {}: {error}", dir.display())
        };
        let mut stale = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(listing)? {
            let entry = entry.map_err(listing)?;
            let file = entry.file_name().to_string_lossy().into_owned();
            let Some((sha256, fingerprint)) =
                file.strip_suffix(".cwasm").and_then(|stem| stem.split_once('-'))
            else {
                continue;
            };
            let reason = if fingerprint != self.fingerprint {
                StaleReason::OtherEngine
            } else if !live.contains(sha256) {
                StaleReason::Unused
            } else {
                continue;
            };
            let bytes = entry.metadata().map_err(listing)?.len();
            if !dry_run {
                match std::fs::remove_file(entry.path()) {
                    Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                        anyhow::bail!(
                            "could not remove {} from the compile cache: {error}",
                            entry.path().display()
                        );
                    }
                    _ => {}
                }
            }
            stale.push(StaleArtifact { file, bytes, reason });
        }
        stale.sort_by(|a, b| a.file.cmp(&b.file));
        if !dry_run && !stale.is_empty() {
            tracing::info!(removed = stale.len(), "removed stale compiled components");
        }
        Ok(stale)
    }

    fn artifact_path(&self, dir: &Path, sha256: &str) -> PathBuf {
        dir.join(format!("{sha256}-{}.cwasm", self.fingerprint))
    }

    /// The compiled form of `bytes` (whose SHA-256 is `sha256`), from the cache when possible.
    pub fn load_or_compile(
        &self,
        engine: &Engine,
        sha256: &str,
        bytes: &[u8],
    ) -> wasmtime::Result<Component> {
        let Some(dir) = &self.dir else {
            self.compiled.fetch_add(1, Ordering::Relaxed);
            return Component::new(engine, bytes);
        };
        let path = self.artifact_path(dir, sha256);
        if path.exists() {
            // SAFETY: the file was written by `store` below from
            // `Engine::precompile_component` output of an engine with this
            // fingerprint, into the host's own data directory; wasmtime also
            // checks the artifact's compatibility header and refuses others.
            #[allow(unsafe_code)]
            let loaded = unsafe { Component::deserialize_file(engine, &path) };
            match loaded {
                Ok(component) => {
                    self.loaded.fetch_add(1, Ordering::Relaxed);
                    return Ok(component);
                }
                Err(error) => {
                    tracing::warn!(path = %path.display(), error = %error, "discarding an unusable compiled artifact");
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        let compiled = engine.precompile_component(bytes)?;
        self.compiled.fetch_add(1, Ordering::Relaxed);
        match store(&path, &compiled) {
            Ok(()) => {
                drop(compiled);
                // Mapped from the file just written, like a warm load: the
                // code is file-backed (clean pages the kernel can share and
                // reclaim) rather than a private copy on the heap.
                // SAFETY: as above; the file holds `precompile_component`
                // output of this engine, written atomically just now.
                #[allow(unsafe_code)]
                let mapped = unsafe { Component::deserialize_file(engine, &path) };
                mapped
            }
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "could not write the compile cache; continuing without it");
                // SAFETY: `compiled` was produced just above by `precompile_component` on this engine.
                #[allow(unsafe_code)]
                let component = unsafe { Component::deserialize(engine, &compiled) };
                component
            }
        }
    }
}

/// Writes `bytes` to `path` atomically (temporary file, synced, then
/// rename): a crash never leaves a torn artefact under the final name (it
/// is loaded as trusted code), and the pages are clean, so the kernel can
/// drop them when the code is paged out while idle.
fn store(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let temporary = path.with_extension(format!("{}.tmp", std::process::id()));
    let mut file = std::fs::File::create(&temporary)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&temporary, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_artifacts_are_other_engines_and_unused_components_only() {
        let dir = tempfile::tempdir().expect("temp dir");
        let engine = Engine::default();
        let cache = CompileCache::new(&engine, Some(dir.path().to_path_buf())).expect("cache");
        let fingerprint = cache.fingerprint().to_owned();
        let (live, dead) = ("a".repeat(64), "b".repeat(64));
        let files = [
            format!("{live}-{fingerprint}.cwasm"),
            format!("{dead}-{fingerprint}.cwasm"),
            format!("{live}-0123456789abcdef.cwasm"),
            format!("{dead}-{fingerprint}.77.tmp"),
        ];
        for file in &files {
            std::fs::write(dir.path().join(file), b"compiled").expect("write");
        }
        let live: BTreeSet<String> = [live].into();
        // Sorted by file name: `aaa…` (another engine's) before `bbb…`.
        let expected = vec![
            StaleArtifact {
                file: files[2].clone(),
                bytes: 8,
                reason: StaleReason::OtherEngine,
            },
            StaleArtifact {
                file: files[1].clone(),
                bytes: 8,
                reason: StaleReason::Unused,
            },
        ];
        assert_eq!(cache.collect_stale(&live, true).expect("dry run"), expected);
        assert!(files.iter().all(|file| dir.path().join(file).exists()));
        assert_eq!(cache.collect_stale(&live, false).expect("run"), expected);
        assert!(!dir.path().join(&files[1]).exists() && !dir.path().join(&files[2]).exists());
        assert!(dir.path().join(&files[0]).exists() && dir.path().join(&files[3]).exists());
        assert!(cache.collect_stale(&live, false).expect("again").is_empty());
        let memory_only = CompileCache::new(&engine, None).expect("cache");
        assert!(
            memory_only
                .collect_stale(&live, false)
                .expect("nothing")
                .is_empty()
        );
    }
}
