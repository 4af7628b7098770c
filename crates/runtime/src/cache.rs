//! The compile cache: compiled components on disk, keyed by (component sha256, engine fingerprint).
//!
//! Compiling a component with cranelift takes milliseconds to seconds;
//! deserialising the compiled artifact takes microseconds. The cache keeps
//! `<dir>/<sha256>-<fingerprint>.cwasm`, where the fingerprint hashes
//! everything that makes compiled code incompatible (wasmtime version,
//! target, engine settings), so a restart or a second load deserialises
//! instead of compiling, and an upgraded host never loads stale code. A
//! missing, unreadable or incompatible artifact is simply compiled again.

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
        }
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
        if let Err(error) = store(&path, &compiled) {
            tracing::warn!(path = %path.display(), %error, "could not write the compile cache; continuing without it");
        }
        // SAFETY: `compiled` was produced just above by `precompile_component` on this engine.
        #[allow(unsafe_code)]
        let component = unsafe { Component::deserialize(engine, &compiled) };
        component
    }
}

/// Writes `bytes` to `path` atomically (temporary file, then rename).
fn store(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let temporary = path.with_extension(format!("{}.tmp", std::process::id()));
    std::fs::write(&temporary, bytes)?;
    std::fs::rename(&temporary, path)
}
