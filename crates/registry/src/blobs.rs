//! The artifact store: component bytes, content-addressed by SHA-256, verified on every read.
//!
//! A blob lives at `blobs/sha256/<first two hex>/<all 64 hex>`. Paths are built
//! only from a SHA-256 this code computed or checked to be 64 lower-case hex
//! characters, never from a tenant-supplied string. Writes go to a temporary
//! file in the same folder, are fsynced, then renamed into place (and the
//! folder fsynced), so a crash leaves either no blob or a whole one.
//!
//! Garbage collection ([`BlobStore::remove_unused`]) only removes blobs older
//! than a grace period, and storing bytes that are already there refreshes
//! the blob's modification time, so a blob about to be referenced again is
//! young. Removal first moves the blob aside (`.<hex>.gc`) and looks at its
//! time again: a blob stored again meanwhile is put back.

use std::fs::{self, File};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

/// Why a blob could not be stored or read.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// The name is not a SHA-256 in lower-case hex.
    #[error("`{0}` is not a sha256 in lower-case hex")]
    InvalidDigest(String),
    /// No blob has this digest.
    #[error("no component with sha256 {0} is stored")]
    Missing(String),
    /// The stored bytes no longer hash to their name.
    #[error(
        "the stored component {expected} is corrupted (its bytes hash to {actual}); republish it or restore it from a backup"
    )]
    Corrupted {
        /// The digest it is stored under.
        expected: String,
        /// What its bytes hash to now.
        actual: String,
    },
    /// The file system failed. The message leaves the host path out (it
    /// reaches API callers); the path is logged where the failure happened.
    #[error("the artifact store failed: {source}; the server log names the file")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The failure.
        source: std::io::Error,
    },
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> BlobError + '_ {
    move |source| {
        tracing::error!(path = %path.display(), %source, "the artifact store failed");
        BlobError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// The lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn check_digest(digest: &str) -> Result<(), BlobError> {
    let valid = digest.len() == 64
        && digest
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if valid {
        Ok(())
    } else {
        Err(BlobError::InvalidDigest(digest.to_owned()))
    }
}

/// The content-addressed store under one folder.
#[derive(Debug, Clone)]
pub struct BlobStore {
    root: PathBuf,
}

impl BlobStore {
    /// Opens (creating) the store at `root`.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, BlobError> {
        let root = root.into().join("sha256");
        fs::create_dir_all(&root).map_err(io_error(&root))?;
        Ok(Self { root })
    }

    fn path_of(&self, digest: &str) -> Result<PathBuf, BlobError> {
        check_digest(digest)?;
        Ok(self.root.join(&digest[..2]).join(digest))
    }

    /// Stores `bytes` and returns their digest; storing the same bytes again is a no-op.
    pub fn put(&self, bytes: &[u8]) -> Result<String, BlobError> {
        let digest = sha256_hex(bytes);
        let path = self.path_of(&digest)?;
        if path.exists() && self.get(&digest).is_ok() && touch(&path) {
            return Ok(digest);
        }
        let folder = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| self.root.clone());
        fs::create_dir_all(&folder).map_err(io_error(&folder))?;
        let temporary = folder.join(format!(".{digest}.{}.tmp", std::process::id()));
        let mut file = File::create(&temporary).map_err(io_error(&temporary))?;
        file.write_all(bytes).map_err(io_error(&temporary))?;
        file.sync_all().map_err(io_error(&temporary))?;
        drop(file);
        fs::rename(&temporary, &path).map_err(io_error(&path))?;
        File::open(&folder)
            .and_then(|dir| dir.sync_all())
            .map_err(io_error(&folder))?;
        Ok(digest)
    }

    /// The bytes stored under `digest`, after checking they still hash to it.
    pub fn get(&self, digest: &str) -> Result<Vec<u8>, BlobError> {
        let path = self.path_of(digest)?;
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Err(BlobError::Missing(digest.to_owned()));
            }
            Err(error) => return Err(io_error(&path)(error)),
        };
        let actual = sha256_hex(&bytes);
        if actual != digest {
            tracing::error!(expected = %digest, %actual, "stored component is corrupted");
            return Err(BlobError::Corrupted {
                expected: digest.to_owned(),
                actual,
            });
        }
        Ok(bytes)
    }

    /// Where the blob for `digest` lives (for operators and tests).
    pub fn location(&self, digest: &str) -> Result<PathBuf, BlobError> {
        self.path_of(digest)
    }

    /// Every file of the store: whole blobs, and the temporary (`.tmp`) and
    /// set-aside (`.gc`) files a crash may leave. Other files are not listed.
    pub fn files(&self) -> Result<Vec<BlobFile>, BlobError> {
        let mut files = Vec::new();
        for folder in fs::read_dir(&self.root).map_err(io_error(&self.root))? {
            let folder = folder.map_err(io_error(&self.root))?.path();
            if !folder.is_dir() {
                continue;
            }
            for entry in fs::read_dir(&folder).map_err(io_error(&folder))? {
                let entry = entry.map_err(io_error(&folder))?;
                let name = entry.file_name().to_string_lossy().into_owned();
                let leftover = name.starts_with('.') && (name.ends_with(".tmp") || name.ends_with(".gc"));
                if !leftover && check_digest(&name).is_err() {
                    continue;
                }
                let metadata = entry.metadata().map_err(io_error(&entry.path()))?;
                let start = usize::from(leftover);
                files.push(BlobFile {
                    digest: name
                        .get(start..start + 64)
                        .filter(|hex| check_digest(hex).is_ok())
                        .map(str::to_owned),
                    name,
                    bytes: metadata.len(),
                    modified: metadata.modified().map_err(io_error(&entry.path()))?,
                });
            }
        }
        files.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(files)
    }

    /// Removes the blob `digest` unless it was stored (again) within `grace`:
    /// `true` when it went. The caller has checked that no record names it.
    pub fn remove_unused(&self, digest: &str, grace: Duration) -> Result<bool, BlobError> {
        let path = self.path_of(digest)?;
        let aside = path.with_file_name(format!(".{digest}.gc"));
        match fs::rename(&path, &aside) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(error) => return Err(io_error(&path)(error)),
        }
        let modified = fs::metadata(&aside)
            .and_then(|metadata| metadata.modified())
            .map_err(io_error(&aside))?;
        if is_young(modified, grace) {
            fs::rename(&aside, &path).map_err(io_error(&path))?;
            return Ok(false);
        }
        fs::remove_file(&aside).map_err(io_error(&aside))?;
        Ok(true)
    }

    /// Deals with a leftover file [`BlobStore::files`] listed: a set-aside
    /// blob that is still `wanted` goes back in place, anything else is removed.
    pub fn settle_leftover(&self, file: &BlobFile, wanted: bool) -> Result<(), BlobError> {
        let Some(digest) = file.digest.as_deref().filter(|_| file.name.starts_with('.')) else {
            return Err(BlobError::InvalidDigest(file.name.clone()));
        };
        let path = self.path_of(digest)?;
        let leftover = path.with_file_name(&file.name);
        if wanted && file.name.ends_with(".gc") && !path.exists() {
            return fs::rename(&leftover, &path).map_err(io_error(&path));
        }
        match fs::remove_file(&leftover) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(io_error(&leftover)(error)),
            _ => Ok(()),
        }
    }
}

/// One file of the artifact store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobFile {
    /// The file name: a digest, or `.<digest>….tmp` / `.<digest>.gc` for leftovers.
    pub name: String,
    /// The digest it holds (or held), when the name carries one.
    pub digest: Option<String>,
    /// Its size.
    pub bytes: u64,
    /// When it was last written (or stored again).
    pub modified: SystemTime,
}

impl BlobFile {
    /// Whether it is a whole blob rather than a leftover of a crash.
    pub fn is_blob(&self) -> bool {
        !self.name.starts_with('.')
    }
}

/// Whether something last modified at `modified` is within `grace` of now
/// (a zero grace makes nothing young).
pub fn is_young(modified: SystemTime, grace: Duration) -> bool {
    !grace.is_zero()
        && SystemTime::now()
            .duration_since(modified)
            .map_or(true, |age| age < grace)
}

/// Marks the blob at `path` as stored now; `false` when it is no longer
/// there afterwards (garbage collection moved it aside), so it must be written.
fn touch(path: &Path) -> bool {
    let touched = File::options()
        .write(true)
        .open(path)
        .and_then(|file| file.set_modified(SystemTime::now()));
    if let Err(error) = touched {
        tracing::warn!(path = %path.display(), %error, "could not refresh a blob's time; writing it again");
        return false;
    }
    path.exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_is_content_addressed_and_idempotent() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = BlobStore::open(dir.path()).expect("open");
        let digest = store.put(b"component").expect("put");
        assert_eq!(digest, sha256_hex(b"component"));
        assert_eq!(store.put(b"component").expect("again"), digest);
        assert_eq!(store.get(&digest).expect("get"), b"component");
        let location = store.location(&digest).expect("location");
        assert!(location.ends_with(format!("sha256/{}/{digest}", &digest[..2])));
        let leftovers: Vec<_> = fs::read_dir(location.parent().expect("folder"))
            .expect("list")
            .map(|entry| entry.expect("entry").file_name())
            .collect();
        assert_eq!(leftovers.len(), 1, "no temporary files are left: {leftovers:?}");
    }

    #[test]
    fn corruption_and_bad_names_are_detected() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = BlobStore::open(dir.path()).expect("open");
        let digest = store.put(b"component").expect("put");
        fs::write(store.location(&digest).expect("location"), b"tampered").expect("tamper");
        let error = store.get(&digest).expect_err("corrupted");
        assert!(
            matches!(&error, BlobError::Corrupted { expected, actual } if *expected == digest && *actual == sha256_hex(b"tampered"))
        );
        assert!(
            error
                .to_string()
                .starts_with(&format!("the stored component {digest} is corrupted"))
        );
        assert!(matches!(
            store.get("../../etc/passwd"),
            Err(BlobError::InvalidDigest(_))
        ));
        assert!(matches!(
            store.get(&"A".repeat(64)),
            Err(BlobError::InvalidDigest(_))
        ));
        assert!(matches!(store.get(&"0".repeat(64)), Err(BlobError::Missing(_))));
        assert_eq!(store.put(b"component").expect("repair by re-put"), digest);
        assert_eq!(store.get(&digest).expect("repaired"), b"component");
    }
}
