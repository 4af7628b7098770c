//! A tenant's segment files on disk (`<root>/<tenant>/<id>.jsonl`): naming, listing, reading backwards, retention.
//!
//! A segment's id is the time (ms since the Unix epoch) it was created, made
//! unique and increasing per tenant; records are appended to the newest one
//! only, so ids order segments from the oldest to the newest. Retention
//! deletes whole segments, the oldest first, and never the open one.

use std::fs::File;
use std::io::{self, Read as _, Seek as _, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// The file name's extension.
const EXTENSION: &str = "jsonl";
/// How much of a segment is read at a time when reading backwards.
const CHUNK_BYTES: usize = 64 * 1024;
/// A line longer than this is not a record the writer wrote: it is skipped.
pub(crate) const MAX_LINE_BYTES: usize = 1024 * 1024;

/// One segment file as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Segment {
    pub(crate) id: u64,
    pub(crate) path: PathBuf,
    pub(crate) len: u64,
    /// When it was last written.
    pub(crate) modified: SystemTime,
}

/// The path of segment `id` in `dir`.
pub(crate) fn path_of(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:020}.{EXTENSION}"))
}

/// The segments in `dir`, oldest first; none when `dir` does not exist.
/// Files that are not segments are left alone.
pub(crate) fn list(dir: &Path) -> io::Result<Vec<Segment>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(error),
    };
    let mut segments = Vec::new();
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let Some(id) = name
            .to_str()
            .and_then(|name| name.strip_suffix(&format!(".{EXTENSION}")))
            .filter(|stem| !stem.is_empty() && stem.bytes().all(|byte| byte.is_ascii_digit()))
            .and_then(|stem| stem.parse::<u64>().ok())
        else {
            continue;
        };
        let metadata = match entry.metadata() {
            Ok(metadata) => metadata,
            // Deleted by retention while listing.
            Err(error) if error.kind() == io::ErrorKind::NotFound => continue,
            Err(error) => return Err(error),
        };
        if !metadata.is_file() {
            continue;
        }
        segments.push(Segment {
            id,
            path: entry.path(),
            len: metadata.len(),
            modified: metadata.modified().unwrap_or(SystemTime::UNIX_EPOCH),
        });
    }
    segments.sort_by_key(|segment| segment.id);
    Ok(segments)
}

/// Deletes whole segments of `dir`, the oldest first, until they hold at most
/// `max_bytes`, and every segment last written before `now - max_age`; never
/// segment `open`. Returns the bytes the remaining segments hold.
pub(crate) fn enforce(
    dir: &Path,
    max_bytes: u64,
    max_age: Duration,
    now: SystemTime,
    open: Option<u64>,
) -> io::Result<u64> {
    let segments = list(dir)?;
    let mut total: u64 = segments.iter().map(|segment| segment.len).sum();
    let oldest_kept = now.checked_sub(max_age).unwrap_or(SystemTime::UNIX_EPOCH);
    for segment in &segments {
        if Some(segment.id) == open {
            continue;
        }
        if total <= max_bytes && segment.modified >= oldest_kept {
            continue;
        }
        match std::fs::remove_file(&segment.path) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => return Err(error),
        }
        total = total.saturating_sub(segment.len);
    }
    Ok(total)
}

/// The complete lines of a file before a byte offset, read from the last to
/// the first, each with the offset it starts at; a line not ended by `\n`
/// (the writer's buffer flushed part-way) is left out.
pub(crate) struct ReverseLines {
    file: File,
    /// Bytes of the file before `pos` are not read yet; `buffer` holds `pos..`.
    pos: u64,
    buffer: Vec<u8>,
    /// Whether the end of `buffer` is known to be the end of a line.
    aligned: bool,
    /// Skipping a line longer than [`MAX_LINE_BYTES`] until its start.
    skipping: bool,
}

impl ReverseLines {
    /// The lines of `file` before byte `end` (at most its length).
    pub(crate) fn new(file: File, end: u64) -> io::Result<Self> {
        let len = file.metadata()?.len();
        Ok(Self {
            file,
            pos: end.min(len),
            buffer: Vec::new(),
            aligned: false,
            skipping: false,
        })
    }

    /// Reads the chunk before `pos` in front of `buffer`; `false` at the start of the file.
    fn read_more(&mut self) -> io::Result<bool> {
        if self.pos == 0 {
            return Ok(false);
        }
        let size = usize::try_from(self.pos).unwrap_or(usize::MAX).min(CHUNK_BYTES);
        self.pos -= size as u64;
        self.file.seek(SeekFrom::Start(self.pos))?;
        let mut chunk = vec![0; size];
        self.file.read_exact(&mut chunk)?;
        chunk.extend_from_slice(&self.buffer);
        self.buffer = chunk;
        Ok(true)
    }

    /// The previous line and its start offset, or `None` at the start of the file.
    pub(crate) fn next_line(&mut self) -> io::Result<Option<(u64, Vec<u8>)>> {
        loop {
            if !self.aligned {
                // Drop what follows the last newline: a line still being written.
                if let Some(end) = self.buffer.iter().rposition(|byte| *byte == b'\n') {
                    self.buffer.truncate(end + 1);
                    self.aligned = true;
                } else {
                    self.buffer.clear();
                    if !self.read_more()? {
                        return Ok(None);
                    }
                }
                continue;
            }
            let Some(body_end) = self.buffer.len().checked_sub(1) else {
                if !self.read_more()? {
                    return Ok(None);
                }
                continue;
            };
            let start = self.buffer[..body_end]
                .iter()
                .rposition(|byte| *byte == b'\n')
                .map(|newline| newline + 1);
            match start {
                Some(start) => {
                    let line = self.buffer[start..body_end].to_vec();
                    self.buffer.truncate(start);
                    if std::mem::take(&mut self.skipping) {
                        continue;
                    }
                    return Ok(Some((self.pos + start as u64, line)));
                }
                None if self.pos == 0 => {
                    let line = self.buffer[..body_end].to_vec();
                    self.buffer.clear();
                    if std::mem::take(&mut self.skipping) {
                        return Ok(None);
                    }
                    return Ok(Some((0, line)));
                }
                None => {
                    if self.buffer.len() > MAX_LINE_BYTES {
                        // Keep only the line's final newline while looking for its start.
                        self.skipping = true;
                        self.buffer.drain(..body_end);
                    }
                    self.read_more()?;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_of(bytes: &[u8], end: u64) -> Vec<(u64, String)> {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("s");
        std::fs::write(&path, bytes).expect("write");
        let mut lines = ReverseLines::new(File::open(&path).expect("open"), end).expect("reader");
        let mut out = Vec::new();
        while let Some((start, line)) = lines.next_line().expect("read") {
            out.push((start, String::from_utf8(line).expect("text")));
        }
        out
    }

    #[test]
    fn lines_come_newest_first_with_their_offsets_and_a_partial_last_line_is_left_out() {
        let text = b"one\ntwo\nthree\npart";
        assert_eq!(
            lines_of(text, u64::MAX),
            [
                (8, "three".to_owned()),
                (4, "two".to_owned()),
                (0, "one".to_owned())
            ]
        );
        assert_eq!(lines_of(text, 8), [(4, "two".to_owned()), (0, "one".to_owned())]);
        assert_eq!(lines_of(text, 0), []);
        assert_eq!(lines_of(b"", 10), []);
        assert_eq!(lines_of(b"no newline", 10), []);
    }

    #[test]
    fn long_lines_across_chunks_are_whole_and_oversized_ones_are_skipped() {
        let long = "x".repeat(CHUNK_BYTES * 3 + 17);
        let huge = "y".repeat(MAX_LINE_BYTES + CHUNK_BYTES);
        let text = format!("a\n{long}\n{huge}\nb\n");
        let lines = lines_of(text.as_bytes(), u64::MAX);
        let kept: Vec<usize> = lines.iter().map(|(_, line)| line.len()).collect();
        assert_eq!(kept, [1, long.len(), 1], "the oversized line is skipped");
        assert_eq!(lines[1].0, 2);
        let text = format!("{huge}\nb\n");
        assert_eq!(
            lines_of(text.as_bytes(), u64::MAX),
            [(huge.len() as u64 + 1, "b".to_owned())]
        );
    }

    #[test]
    fn retention_deletes_whole_oldest_segments_by_size_and_by_age_never_the_open_one() {
        let dir = tempfile::tempdir().expect("temp dir");
        for id in 1..=5_u64 {
            std::fs::write(path_of(dir.path(), id), vec![b'\n'; 100]).expect("write");
        }
        std::fs::write(dir.path().join("notes.txt"), "not a segment").expect("write");
        let now = SystemTime::now();
        let long = Duration::from_secs(86_400);
        assert_eq!(
            enforce(dir.path(), 500, long, now, Some(5)).expect("enforce"),
            500
        );
        assert_eq!(
            enforce(dir.path(), 250, long, now, Some(5)).expect("enforce"),
            200
        );
        let ids: Vec<u64> = list(dir.path()).expect("list").iter().map(|s| s.id).collect();
        assert_eq!(ids, [4, 5], "the oldest three went, whole");
        assert_eq!(enforce(dir.path(), 10, long, now, Some(5)).expect("enforce"), 100);
        assert_eq!(list(dir.path()).expect("list").len(), 1, "the open segment stays");
        std::fs::write(path_of(dir.path(), 6), b"x\n").expect("write");
        let later = now + Duration::from_secs(3600);
        let total = enforce(dir.path(), u64::MAX, Duration::from_secs(60), later, Some(6)).expect("enforce");
        assert_eq!(total, 2);
        let ids: Vec<u64> = list(dir.path()).expect("list").iter().map(|s| s.id).collect();
        assert_eq!(ids, [6], "older than the age limit, and not open");
        assert!(dir.path().join("notes.txt").exists());
        assert_eq!(list(&dir.path().join("absent")).expect("list"), []);
    }
}
