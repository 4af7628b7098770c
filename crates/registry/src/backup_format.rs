//! The tenant backup file: a zstd-compressed tar stream of checksummed members, written and read with bounded memory.
//!
//! A backup file (`.mhbk`) is one zstd frame (with its content checksum)
//! holding a tar stream of members, in this order:
//!
//! - `backup.json` — the [`BackupHeader`]: format version, the host version
//!   that wrote it, the tenant, the creation time;
//! - `entries/000001`, `entries/000002`, … — the tenant's stored records and
//!   module data as framed entries (tree, key relative to the tenant, value),
//!   each chunk at most [`CHUNK_BYTES`], so neither side ever holds more than
//!   one chunk;
//! - `blobs/<sha256>` — the components of the custom module versions the
//!   tenant owns;
//! - `standard.json` — the standard module versions the tenant runs, by
//!   reference (module, version, sha256), never by copy;
//! - `MANIFEST.json`, last — every member before it with its size and
//!   SHA-256, and counts.
//!
//! Reading verifies every member's size and SHA-256 against the manifest, the
//! manifest's list against the members actually present, and (through zstd)
//! the whole stream's checksum: a truncated, bit-flipped or reordered file is
//! refused with a [`BackupError`] before anything is changed.

use std::io::{Read, Write};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The backup format this build writes, and the newest it reads.
pub const BACKUP_FORMAT: u32 = 1;

/// The file extension of a backup.
pub const BACKUP_EXTENSION: &str = "mhbk";

/// The most entry bytes one `entries/` member holds.
pub(crate) const CHUNK_BYTES: usize = 4 << 20;

/// The largest member a reader accepts in memory (an entries chunk or a
/// component); larger members are refused as damaged.
const MAX_MEMBER_BYTES: u64 = 256 << 20;

const HEADER_MEMBER: &str = "backup.json";
const MANIFEST_MEMBER: &str = "MANIFEST.json";
pub(crate) const STANDARD_MEMBER: &str = "standard.json";
const ENTRIES_PREFIX: &str = "entries/";
const BLOBS_PREFIX: &str = "blobs/";

/// The first bytes of every zstd frame.
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// zstd level: fast, and most of the size is module data that was written compact anyway.
const ZSTD_LEVEL: i32 = 3;

/// Why a backup cannot be written, read or restored. Nothing was changed when one is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackupError {
    /// The input is not a modhost tenant backup at all.
    #[error("the file is not a modhost tenant backup ({0}); nothing was changed")]
    NotABackup(String),
    /// The file was cut short.
    #[error(
        "the backup ends before its manifest: the file is truncated or was not completely written; nothing was changed"
    )]
    Truncated,
    /// A member or the stream does not match what was written.
    #[error("the backup is damaged: {0}; nothing was changed")]
    Damaged(String),
    /// A newer modhost wrote it.
    #[error(
        "the backup has format {found}; this modhost reads up to format {supported}: restore it with a newer modhost; nothing was changed"
    )]
    NewerFormat {
        /// The file's format.
        found: u32,
        /// The newest this build reads.
        supported: u32,
    },
    /// Standard module versions the tenant runs are not published on this host.
    #[error(
        "this host lacks standard module versions the backup's tenant runs: {}; publish them here first; nothing was changed",
        .0.join(", ")
    )]
    MissingVersions(Vec<String>),
    /// The restore would overwrite something that is not the backup's.
    #[error("{0}; nothing was changed")]
    Conflict(String),
    /// Reading the source or writing the destination failed.
    #[error("{0}")]
    Io(String),
}

fn io_error(context: &str) -> impl Fn(std::io::Error) -> BackupError + '_ {
    move |error| BackupError::Io(format!("{context}: {error}"))
}

/// The first member: what the file is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupHeader {
    /// The backup format.
    pub format: u32,
    /// The modhost version that wrote it.
    pub host_version: String,
    /// The tenant backed up.
    pub tenant: String,
    /// When the copy's point in time was taken (ms since the epoch).
    pub created_at_ms: u64,
}

/// One member as the manifest lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupMember {
    /// Its path in the archive.
    pub name: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// Its SHA-256, lower-case hex.
    pub sha256: String,
}

/// How much of each kind a backup holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupCounts {
    /// Stored records (tenant, deployments, configs, canary, ring, alert rules, module versions).
    pub records: u64,
    /// Module data entries.
    pub kv_entries: u64,
    /// Migration snapshot entries.
    pub snapshot_entries: u64,
    /// Custom module versions with their components.
    pub module_versions: u64,
    /// Bytes of keys and values of module data.
    pub kv_bytes: u64,
}

/// The last member: everything before it, checksummed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupManifest {
    /// The header, repeated.
    pub header: BackupHeader,
    /// Every member before the manifest, in order.
    pub members: Vec<BackupMember>,
    /// Counts.
    pub counts: BackupCounts,
}

/// A standard module version the tenant runs, by reference.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct StandardRef {
    /// The module.
    pub module: String,
    /// The version.
    pub version: String,
    /// Its component's SHA-256.
    pub sha256: String,
    /// Whether the tenant cannot serve without it (it is active or a canary);
    /// otherwise it is only a rollback target in the history.
    pub required: bool,
}

/// One stored entry: its tree's name, its key relative to the tenant, its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BackupEntry {
    pub(crate) tree: String,
    pub(crate) key: Vec<u8>,
    pub(crate) value: Vec<u8>,
}

/// Writes a backup stream: members are appended as they come, entries are
/// buffered one chunk at a time.
pub(crate) struct BackupWriter<W: Write> {
    archive: tar::Builder<zstd::Encoder<'static, W>>,
    header: BackupHeader,
    members: Vec<BackupMember>,
    chunk: Vec<u8>,
    chunks: u32,
    pub(crate) counts: BackupCounts,
}

impl<W: Write> BackupWriter<W> {
    /// Starts the stream with its header.
    pub(crate) fn new(out: W, header: BackupHeader) -> Result<Self, BackupError> {
        let mut encoder =
            zstd::Encoder::new(out, ZSTD_LEVEL).map_err(io_error("could not start compressing"))?;
        encoder
            .include_checksum(true)
            .map_err(io_error("could not start compressing"))?;
        let mut writer = Self {
            archive: tar::Builder::new(encoder),
            header,
            members: Vec::new(),
            chunk: Vec::new(),
            chunks: 0,
            counts: BackupCounts::default(),
        };
        let header = json_bytes(&writer.header)?;
        writer.member(HEADER_MEMBER, &header)?;
        Ok(writer)
    }

    /// Appends one member.
    pub(crate) fn member(&mut self, name: &str, bytes: &[u8]) -> Result<(), BackupError> {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(self.header.created_at_ms / 1000);
        header.set_entry_type(tar::EntryType::Regular);
        self.archive
            .append_data(&mut header, name, bytes)
            .map_err(io_error("could not write the backup"))?;
        self.members.push(BackupMember {
            name: name.to_owned(),
            bytes: bytes.len() as u64,
            sha256: hex::encode(Sha256::digest(bytes)),
        });
        Ok(())
    }

    /// Adds one entry to the current chunk, writing the chunk when full.
    pub(crate) fn entry(&mut self, tree: &str, key: &[u8], value: &[u8]) -> Result<(), BackupError> {
        frame(&mut self.chunk, tree.as_bytes());
        frame(&mut self.chunk, key);
        frame(&mut self.chunk, value);
        if self.chunk.len() >= CHUNK_BYTES {
            self.flush_chunk()?;
        }
        Ok(())
    }

    fn flush_chunk(&mut self) -> Result<(), BackupError> {
        if self.chunk.is_empty() {
            return Ok(());
        }
        self.chunks += 1;
        let chunk = std::mem::take(&mut self.chunk);
        self.member(&format!("{ENTRIES_PREFIX}{:06}", self.chunks), &chunk)
    }

    /// Appends a component under its digest.
    pub(crate) fn blob(&mut self, sha256: &str, bytes: &[u8]) -> Result<(), BackupError> {
        self.flush_chunk()?;
        self.member(&format!("{BLOBS_PREFIX}{sha256}"), bytes)
    }

    /// Writes the last chunk and the manifest, and ends the stream; returns the destination.
    pub(crate) fn finish(mut self) -> Result<(W, BackupManifest), BackupError> {
        self.flush_chunk()?;
        let manifest = BackupManifest {
            header: self.header.clone(),
            members: std::mem::take(&mut self.members),
            counts: self.counts,
        };
        let bytes = json_bytes(&manifest)?;
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(self.header.created_at_ms / 1000);
        self.archive
            .append_data(&mut header, MANIFEST_MEMBER, bytes.as_slice())
            .map_err(io_error("could not write the backup"))?;
        let encoder = self
            .archive
            .into_inner()
            .map_err(io_error("could not finish the backup"))?;
        let out = encoder
            .finish()
            .map_err(io_error("could not finish the backup"))?;
        Ok((out, manifest))
    }
}

fn json_bytes(value: &impl Serialize) -> Result<Vec<u8>, BackupError> {
    serde_json::to_vec_pretty(value)
        .map_err(|error| BackupError::Io(format!("could not encode the backup: {error}")))
}

fn frame(out: &mut Vec<u8>, bytes: &[u8]) {
    let length = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&length.to_be_bytes());
    out.extend_from_slice(bytes);
}

/// The entries of one `entries/` chunk.
pub(crate) fn parse_entries(chunk: &[u8]) -> Result<Vec<BackupEntry>, BackupError> {
    let mut entries = Vec::new();
    let mut rest = chunk;
    while !rest.is_empty() {
        let (tree, after) = unframe(rest)?;
        let (key, after) = unframe(after)?;
        let (value, after) = unframe(after)?;
        rest = after;
        entries.push(BackupEntry {
            tree: String::from_utf8(tree.to_vec())
                .map_err(|_| BackupError::Damaged("an entry names a tree that is not text".into()))?,
            key: key.to_vec(),
            value: value.to_vec(),
        });
    }
    Ok(entries)
}

fn unframe(bytes: &[u8]) -> Result<(&[u8], &[u8]), BackupError> {
    let broken = || BackupError::Damaged("an entries chunk is cut inside an entry".into());
    let length: [u8; 4] = bytes
        .get(..4)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(broken)?;
    let length = u32::from_be_bytes(length) as usize;
    let body = bytes.get(4..4 + length).ok_or_else(broken)?;
    Ok((body, &bytes[4 + length..]))
}

/// One member handed to a [`read_backup`] visitor, already checked against the manifest's order.
pub(crate) enum Member<'a> {
    /// A chunk of entries.
    Entries(Vec<BackupEntry>),
    /// A component.
    Blob {
        /// Its digest (checked).
        sha256: &'a str,
        /// Its bytes.
        bytes: Vec<u8>,
    },
    /// The standard version references.
    Standard(Vec<StandardRef>),
}

/// Reads and verifies a whole backup, handing each member to `visit` as it
/// streams past (only one member is held at a time). Returns the manifest
/// once every member matched it. `visit` may stop the read with an error.
pub(crate) fn read_backup(
    input: impl Read,
    mut visit: impl FnMut(&BackupHeader, Member<'_>) -> Result<(), BackupError>,
) -> Result<BackupManifest, BackupError> {
    let mut input = input;
    let mut magic = [0u8; 4];
    input
        .read_exact(&mut magic)
        .map_err(|_| BackupError::NotABackup("it is shorter than a header".into()))?;
    if magic != ZSTD_MAGIC {
        return Err(BackupError::NotABackup("it is not zstd-compressed".into()));
    }
    let input = std::io::Cursor::new(magic).chain(input);
    let decoder = zstd::Decoder::new(input).map_err(|error| BackupError::NotABackup(error.to_string()))?;
    let mut archive = tar::Archive::new(decoder);
    let entries = archive.entries().map_err(stream_error)?;
    let mut header: Option<BackupHeader> = None;
    let mut seen: Vec<BackupMember> = Vec::new();
    let mut manifest: Option<BackupManifest> = None;
    for entry in entries {
        let mut entry = entry.map_err(|error| first_error(&header, error))?;
        let name = entry.path().map_err(stream_error)?.to_string_lossy().into_owned();
        if manifest.is_some() {
            return Err(BackupError::Damaged(format!(
                "member `{name}` follows the manifest"
            )));
        }
        let size = entry.header().size().map_err(stream_error)?;
        if size > MAX_MEMBER_BYTES {
            return Err(BackupError::Damaged(format!(
                "member `{name}` claims {size} bytes"
            )));
        }
        let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        entry
            .read_to_end(&mut bytes)
            .map_err(|error| first_error(&header, error))?;
        if name == MANIFEST_MEMBER {
            let listed: BackupManifest = serde_json::from_slice(&bytes)
                .map_err(|error| BackupError::Damaged(format!("the manifest is unreadable: {error}")))?;
            check_manifest(header.as_ref(), &listed, &seen)?;
            manifest = Some(listed);
            continue;
        }
        seen.push(BackupMember {
            name: name.clone(),
            bytes: bytes.len() as u64,
            sha256: hex::encode(Sha256::digest(&bytes)),
        });
        let Some(current) = &header else {
            if name != HEADER_MEMBER {
                return Err(BackupError::NotABackup(format!(
                    "it starts with `{name}`, not `{HEADER_MEMBER}`"
                )));
            }
            let read: BackupHeader = serde_json::from_slice(&bytes)
                .map_err(|error| BackupError::NotABackup(format!("its header is unreadable: {error}")))?;
            if read.format > BACKUP_FORMAT {
                return Err(BackupError::NewerFormat {
                    found: read.format,
                    supported: BACKUP_FORMAT,
                });
            }
            header = Some(read);
            continue;
        };
        let member =
            if name.starts_with(ENTRIES_PREFIX) {
                Member::Entries(parse_entries(&bytes)?)
            } else if let Some(sha256) = name.strip_prefix(BLOBS_PREFIX) {
                if hex::encode(Sha256::digest(&bytes)) != sha256 {
                    return Err(BackupError::Damaged(format!(
                        "component `{sha256}` does not hash to its name"
                    )));
                }
                Member::Blob { sha256, bytes }
            } else if name == STANDARD_MEMBER {
                Member::Standard(serde_json::from_slice(&bytes).map_err(|error| {
                    BackupError::Damaged(format!("{STANDARD_MEMBER} is unreadable: {error}"))
                })?)
            } else {
                return Err(BackupError::Damaged(format!("unknown member `{name}`")));
            };
        visit(current, member)?;
    }
    let manifest = manifest.ok_or(if header.is_some() {
        BackupError::Truncated
    } else {
        BackupError::NotABackup("it is empty".into())
    })?;
    // The tar end stops the archive early: read the stream to its end so
    // zstd checks the whole frame's checksum (and nothing trails it).
    let mut rest = archive.into_inner();
    std::io::copy(&mut rest, &mut std::io::sink())
        .map_err(|error| first_error(&Some(manifest.header.clone()), error))?;
    Ok(manifest)
}

/// The manifest must list exactly the members read, in order, with their sizes and digests.
fn check_manifest(
    header: Option<&BackupHeader>,
    manifest: &BackupManifest,
    seen: &[BackupMember],
) -> Result<(), BackupError> {
    if header != Some(&manifest.header) {
        return Err(BackupError::Damaged(
            "the manifest's header differs from the file's".into(),
        ));
    }
    for (index, listed) in manifest.members.iter().enumerate() {
        match seen.get(index) {
            Some(read) if read == listed => {}
            Some(read) if read.name == listed.name => {
                return Err(BackupError::Damaged(format!(
                    "member `{}` has SHA-256 {} ({} bytes) but the manifest says {} ({} bytes)",
                    read.name, read.sha256, read.bytes, listed.sha256, listed.bytes
                )));
            }
            _ => {
                return Err(BackupError::Damaged(format!(
                    "member `{}` listed in the manifest is missing",
                    listed.name
                )));
            }
        }
    }
    if seen.len() > manifest.members.len() {
        return Err(BackupError::Damaged(format!(
            "member `{}` is not in the manifest",
            seen[manifest.members.len()].name
        )));
    }
    Ok(())
}

fn stream_error(error: std::io::Error) -> BackupError {
    BackupError::Damaged(error.to_string())
}

/// An error while reading (after the zstd magic matched): a stream cut short
/// means truncation; any other error before the header "not a backup",
/// after it damage.
fn first_error(header: &Option<BackupHeader>, error: std::io::Error) -> BackupError {
    if error.kind() == std::io::ErrorKind::UnexpectedEof {
        return BackupError::Truncated;
    }
    if header.is_none() {
        return BackupError::NotABackup(error.to_string());
    }
    BackupError::Damaged(error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let header = BackupHeader {
            format: BACKUP_FORMAT,
            host_version: "test".into(),
            tenant: "acme".into(),
            created_at_ms: 1_000,
        };
        let mut writer = BackupWriter::new(Vec::new(), header).unwrap();
        for index in 0..2_000u32 {
            writer
                .entry(
                    "kv",
                    format!("inventory\0sku-{index}").as_bytes(),
                    &index.to_be_bytes().repeat(300),
                )
                .unwrap();
        }
        writer
            .blob(&hex::encode(Sha256::digest(b"component")), b"component")
            .unwrap();
        writer.member(STANDARD_MEMBER, b"[]").unwrap();
        writer.finish().unwrap().0
    }

    fn read(bytes: &[u8]) -> Result<(usize, usize), BackupError> {
        let (mut entries, mut blobs) = (0, 0);
        read_backup(bytes, |_, member| {
            match member {
                Member::Entries(chunk) => entries += chunk.len(),
                Member::Blob { .. } => blobs += 1,
                Member::Standard(_) => {}
            }
            Ok(())
        })?;
        Ok((entries, blobs))
    }

    #[test]
    fn a_written_backup_reads_back_in_chunks_with_every_entry() {
        let bytes = sample();
        assert_eq!(read(&bytes).unwrap(), (2_000, 1));
    }

    #[test]
    fn every_truncation_is_refused() {
        let bytes = sample();
        for cut in (0..bytes.len()).step_by(97) {
            let error = read(&bytes[..cut]).unwrap_err();
            assert!(
                matches!(
                    error,
                    BackupError::Truncated | BackupError::NotABackup(_) | BackupError::Damaged(_)
                ),
                "cut at {cut}: {error}"
            );
        }
    }

    #[test]
    fn every_flipped_bit_is_refused_or_changes_nothing() {
        let bytes = sample();
        let original = zstd::decode_all(bytes.as_slice()).unwrap();
        let mut refused = 0;
        for position in (0..bytes.len()).step_by(61) {
            let mut damaged = bytes.clone();
            damaged[position] ^= 0x10;
            if read(&damaged).is_err() {
                refused += 1;
            } else {
                // A few bits of a zstd frame are padding: flipping one leaves
                // the content, which zstd's checksum covers, as it was.
                let content = zstd::decode_all(damaged.as_slice()).unwrap();
                assert!(
                    content == original,
                    "a flip at byte {position} changed the content unnoticed"
                );
            }
        }
        assert!(
            refused * 10 >= bytes.len() / 61 * 9,
            "only {refused} flips were refused"
        );
    }

    #[test]
    fn a_newer_format_is_refused_by_name() {
        let header = BackupHeader {
            format: BACKUP_FORMAT + 1,
            host_version: "future".into(),
            tenant: "acme".into(),
            created_at_ms: 1,
        };
        let bytes = BackupWriter::new(Vec::new(), header).unwrap().finish().unwrap().0;
        assert_eq!(
            read(&bytes).unwrap_err(),
            BackupError::NewerFormat {
                found: BACKUP_FORMAT + 1,
                supported: BACKUP_FORMAT
            }
        );
    }

    #[test]
    fn something_else_is_not_a_backup() {
        assert!(matches!(
            read(b"hello world").unwrap_err(),
            BackupError::NotABackup(_)
        ));
        assert!(matches!(read(b"").unwrap_err(), BackupError::NotABackup(_)));
    }
}
