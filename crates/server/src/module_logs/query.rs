//! Reading a tenant's records newest first: filtered, at most a page, resumable from a cursor, never the whole folder in memory.

use std::io;
use std::path::Path;

use super::record::{Cursor, Entry, Filter};
use super::segments::{self, ReverseLines};

/// One page of records.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Page {
    /// Newest first.
    pub(crate) entries: Vec<Entry>,
    /// Where the next (older) page starts, when this one filled up.
    pub(crate) next: Option<Cursor>,
}

/// The newest `limit` records of the tenant folder `dir` that pass `filter`,
/// older than `before` when given. Reads segments backwards and stops at the
/// `limit`th match, or at a segment that ended before `filter.since_ms`.
pub(crate) fn query(dir: &Path, filter: &Filter, limit: usize, before: Option<Cursor>) -> io::Result<Page> {
    let mut page = Page::default();
    if limit == 0 {
        return Ok(page);
    }
    // The id of the next newer segment: its records all came after this one's.
    let mut newer: Option<u64> = None;
    for segment in segments::list(dir)?.into_iter().rev() {
        let end = match before {
            Some(cursor) if segment.id > cursor.segment => continue,
            Some(cursor) if segment.id == cursor.segment => cursor.offset,
            _ => u64::MAX,
        };
        if let (Some(since), Some(newer)) = (filter.since_ms, newer)
            && newer < since
        {
            break;
        }
        newer = Some(segment.id);
        let file = match std::fs::File::open(&segment.path) {
            Ok(file) => file,
            // Removed by retention since it was listed.
            Err(error) if error.kind() == io::ErrorKind::NotFound => continue,
            Err(error) => return Err(error),
        };
        let mut lines = ReverseLines::new(file, end)?;
        while let Some((start, line)) = lines.next_line()? {
            let Ok(entry) = serde_json::from_slice::<Entry>(&line) else {
                continue;
            };
            if !filter.matches(&entry) {
                continue;
            }
            page.entries.push(entry);
            if page.entries.len() == limit {
                page.next = Some(Cursor {
                    segment: segment.id,
                    offset: start,
                });
                return Ok(page);
            }
        }
    }
    Ok(page)
}
