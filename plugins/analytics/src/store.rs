//! The kv layout of events: hour chunks, their keys, appending to them and reading them back in order.
//!
//! Events named `<name>` that happened in the hour starting at `<hour>` (unix
//! ms, zero-padded to 15 digits) live in chunks `events/<name>/<hour>-<n>`
//! (`n` zero-padded to 4 digits, from `0000`), each a JSON array of
//! [`StoredEvent`]s in the order they were recorded. New events are appended to
//! the hour's last chunk until its JSON would pass [`MAX_CHUNK_BYTES`]; then
//! the next chunk starts. Keys sort by name, hour, then chunk, so a time range
//! is one `kv::list` from the first hour's key, stopping past the last hour.
//!
//! An event's id is its position, `<hour>-<n>-<index in the chunk>`: chunks
//! only grow at the end, so positions never change and serve as cursors.

use std::collections::BTreeMap;

use modhost_sdk::{Error, Result, kv};

use crate::model::{END_OF_TIME_MS, NewEvent, StoredEvent};

/// One hour in milliseconds.
pub const HOUR_MS: i64 = 3_600_000;
/// A chunk's JSON grows to at most this many bytes (the kv value limit is 1 MiB).
pub const MAX_CHUNK_BYTES: usize = 256 * 1024;
/// Chunks per (event name, hour): numbers `0000` to `9999`.
pub const MAX_CHUNKS_PER_HOUR: u32 = 10_000;
/// The most distinct (event name, hour) pairs one batch may write to.
pub const MAX_HOURS_PER_BATCH: usize = 100;
/// The most chunks one page of `GET /events` reads.
pub const MAX_CHUNKS_PER_PAGE: usize = 32;

/// The start of the hour holding `at`.
pub fn hour_start(at: i64) -> i64 {
    at - at.rem_euclid(HOUR_MS)
}

/// The prefix of every chunk of event `name`.
pub fn events_prefix(name: &str) -> String {
    format!("events/{name}/")
}

/// The prefix of every chunk of event `name` in the hour starting at `hour`.
pub fn hour_prefix(name: &str, hour: i64) -> String {
    format!("events/{name}/{hour:015}-")
}

/// A chunk: which hour, which number in the hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ChunkId {
    /// The hour's start, unix ms.
    pub hour: i64,
    /// The chunk's number within the hour.
    pub number: u32,
}

impl ChunkId {
    /// The kv key of this chunk of event `name`.
    pub fn key(self, name: &str) -> String {
        format!("events/{name}/{:015}-{:04}", self.hour, self.number)
    }

    /// The chunk a key of event `name` names, if it is one.
    pub fn parse_key(name: &str, key: &str) -> Option<Self> {
        let (hour, number) = key.strip_prefix(&events_prefix(name))?.split_once('-')?;
        Self::parse_parts(hour, number)
    }

    fn parse_parts(hour: &str, number: &str) -> Option<Self> {
        let digits = |text: &str, length: usize| {
            text.len() == length && text.bytes().all(|byte| byte.is_ascii_digit())
        };
        if !digits(hour, 15) || !digits(number, 4) {
            return None;
        }
        let hour: i64 = hour.parse().ok()?;
        (hour_start(hour) == hour && hour < END_OF_TIME_MS).then_some(())?;
        Some(Self {
            hour,
            number: number.parse().ok()?,
        })
    }
}

/// Where an event is stored; its id and a paging cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// The chunk.
    pub chunk: ChunkId,
    /// The index in the chunk's array.
    pub index: usize,
}

impl Position {
    /// The id: `<hour>-<n>-<index>`.
    pub fn id(self) -> String {
        format!("{:015}-{:04}-{}", self.chunk.hour, self.chunk.number, self.index)
    }

    /// Parses an id, or says it is not one.
    pub fn parse(id: &str) -> Result<Self> {
        let invalid = || {
            Error::bad_request(format!(
                "the cursor `{}` is invalid; pass the `next` of the previous page as `after`",
                crate::model::shown(id)
            ))
        };
        let mut parts = id.split('-');
        let (Some(hour), Some(number), Some(index), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid());
        };
        let chunk = ChunkId::parse_parts(hour, number).ok_or_else(invalid)?;
        if index.is_empty() || index.len() > 9 || !index.bytes().all(|byte| byte.is_ascii_digit()) {
            return Err(invalid());
        }
        let index = index.parse().map_err(|_| invalid())?;
        Ok(Self { chunk, index })
    }
}

/// The `after` key from which a listing of event `name` reaches the hour holding `from` first.
pub fn scan_start_after(name: &str, from: i64) -> String {
    format!("events/{name}/{:015}", hour_start(from))
}

/// The last chunk of an hour as read from kv.
#[derive(Debug, Clone, PartialEq)]
pub struct LastChunk {
    /// Its number.
    pub number: u32,
    /// Its events.
    pub events: Vec<StoredEvent>,
    /// The length of its JSON, in bytes.
    pub bytes: usize,
}

/// Which chunks to write, with their full contents, to append `new` after `last`.
///
/// Fills `last` up to `max_bytes` of JSON, then starts new chunks. Refuses to
/// go past chunk number [`MAX_CHUNKS_PER_HOUR`] - 1.
pub fn plan_append(
    name: &str,
    hour: i64,
    last: Option<LastChunk>,
    new: Vec<StoredEvent>,
    max_bytes: usize,
) -> Result<Vec<(ChunkId, Vec<StoredEvent>)>> {
    let (mut number, mut events, mut bytes) = match last {
        Some(last) => (last.number, last.events, last.bytes),
        None => (0, Vec::new(), 2),
    };
    let mut writes = Vec::new();
    for event in new {
        let size = encoded_len(&event)?;
        if !events.is_empty() && bytes + 1 + size > max_bytes {
            writes.push((ChunkId { hour, number }, std::mem::take(&mut events)));
            number += 1;
            if number >= MAX_CHUNKS_PER_HOUR {
                return Err(hour_full(name, hour));
            }
            bytes = 2;
        }
        bytes += size + usize::from(!events.is_empty());
        events.push(event);
    }
    writes.push((ChunkId { hour, number }, events));
    Ok(writes)
}

fn encoded_len(event: &StoredEvent) -> Result<usize> {
    serde_json::to_vec(event)
        .map(|bytes| bytes.len())
        .map_err(|error| Error::internal(format!("could not serialise an event: {error}")))
}

/// Groups validated events by (name, hour), keeping their order; refuses a batch touching too many.
pub fn group_by_hour(events: Vec<NewEvent>) -> Result<BTreeMap<(String, i64), Vec<StoredEvent>>> {
    let mut groups: BTreeMap<(String, i64), Vec<StoredEvent>> = BTreeMap::new();
    for new in events {
        groups
            .entry((new.name, hour_start(new.event.at)))
            .or_default()
            .push(new.event);
    }
    if groups.len() > MAX_HOURS_PER_BATCH {
        return Err(Error::unprocessable(format!(
            "the batch spans {} (event name, hour) pairs; at most {MAX_HOURS_PER_BATCH} per request, \
             so split it by time",
            groups.len()
        )));
    }
    Ok(groups)
}

/// Appends validated events to their chunks; returns how many were stored.
///
/// Every group's chunk numbers are checked before anything is written, so a
/// refused batch stores nothing.
pub fn append(events: Vec<NewEvent>) -> Result<usize> {
    let count = events.len();
    let groups = group_by_hour(events)?;
    let mut lasts = Vec::with_capacity(groups.len());
    for ((name, hour), events) in &groups {
        let last = last_chunk_number(name, *hour)?;
        // Even if the last chunk were full, these events need at most this many more.
        let most_needed = plan_append(name, *hour, None, events.clone(), MAX_CHUNK_BYTES)?.len();
        let first_new = last.map_or(0, |number| number + 1);
        if u64::from(first_new) + most_needed as u64 > u64::from(MAX_CHUNKS_PER_HOUR) {
            return Err(hour_full(name, *hour));
        }
        lasts.push(last);
    }
    for (((name, hour), events), last) in groups.into_iter().zip(lasts) {
        let last = match last {
            Some(number) => {
                let chunk = ChunkId { hour, number };
                let bytes = kv::get(&chunk.key(&name))?.unwrap_or_default();
                let events: Vec<StoredEvent> = serde_json::from_slice(&bytes).map_err(|error| {
                    Error::internal(format!(
                        "stored chunk `{}` is unreadable: {error}",
                        chunk.key(&name)
                    ))
                })?;
                Some(LastChunk {
                    number,
                    events,
                    bytes: bytes.len(),
                })
            }
            None => None,
        };
        for (chunk, events) in plan_append(&name, hour, last, events, MAX_CHUNK_BYTES)? {
            kv::set_json(&chunk.key(&name), &events)?;
        }
    }
    Ok(count)
}

/// The error for an hour of event `name` that has no chunk number left.
fn hour_full(name: &str, hour: i64) -> Error {
    Error::unprocessable(format!(
        "the hour starting at {hour} already holds as many `{name}` events as it can \
         ({MAX_CHUNKS_PER_HOUR} chunks); record them under another name"
    ))
}

/// The number of the last chunk of (`name`, `hour`), if there is one.
fn last_chunk_number(name: &str, hour: i64) -> Result<Option<u32>> {
    let prefix = hour_prefix(name, hour);
    let mut after: Option<String> = None;
    let mut last = None;
    loop {
        let page = kv::list(&prefix, after.as_deref(), 0)?;
        if let Some(key) = page.keys.last() {
            let chunk = ChunkId::parse_key(name, key)
                .ok_or_else(|| Error::internal(format!("stored key `{key}` is not an event chunk")))?;
            last = Some(chunk.number);
        }
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(last),
        }
    }
}

/// Reads every event of `name` with `from <= at < to`, chunk by chunk in key
/// order, handing each to `visit`; returns how many events the chunks held.
///
/// Counts every event of every chunk read (the first and last hour may hold
/// events outside the range) and stops with an `unprocessable` error as soon
/// as that passes `budget`.
pub fn scan(
    name: &str,
    from: i64,
    to: i64,
    budget: u64,
    mut visit: impl FnMut(&StoredEvent) -> Result<()>,
) -> Result<u64> {
    let prefix = events_prefix(name);
    let last_hour = hour_start(to - 1);
    let mut after = scan_start_after(name, from);
    let mut scanned: u64 = 0;
    loop {
        let page = kv::list(&prefix, Some(&after), 0)?;
        for key in &page.keys {
            let Some(chunk) = ChunkId::parse_key(name, key) else {
                continue;
            };
            if chunk.hour > last_hour {
                return Ok(scanned);
            }
            let events: Vec<StoredEvent> = kv::get_json(key)?.unwrap_or_default();
            scanned += events.len() as u64;
            if scanned > budget {
                return Err(Error::unprocessable(format!(
                    "the query would scan more than {budget} events of `{name}`; narrow the range \
                     (`from`/`to`) or raise the config max_query_events"
                )));
            }
            for event in events.iter().filter(|event| (from..to).contains(&event.at)) {
                visit(event)?;
            }
        }
        match page.next {
            Some(next) => after = next,
            None => return Ok(scanned),
        }
    }
}

/// One page of raw events with their positions, and the cursor of the next page.
#[derive(Debug, Clone, PartialEq)]
pub struct EventPage {
    /// The events, in key order.
    pub events: Vec<(Position, StoredEvent)>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<Position>,
}

/// Collects one page of raw events, chunk by chunk.
#[derive(Debug)]
pub struct PageCollector {
    from: i64,
    to: i64,
    limit: usize,
    found: Vec<(Position, StoredEvent)>,
    examined: Option<Position>,
}

impl PageCollector {
    /// A page of at most `limit` events with `from <= at < to`.
    pub fn new(from: i64, to: i64, limit: usize) -> Self {
        Self {
            from,
            to,
            limit,
            found: Vec::new(),
            examined: None,
        }
    }

    /// Takes the events of `chunk` after index `skip_through`; returns whether the page is full.
    pub fn offer(&mut self, chunk: ChunkId, events: Vec<StoredEvent>, skip_through: Option<usize>) -> bool {
        let first = skip_through.map_or(0, |index| index + 1);
        for (index, event) in events.into_iter().enumerate().skip(first) {
            let position = Position { chunk, index };
            self.examined = Some(position);
            if (self.from..self.to).contains(&event.at) {
                self.found.push((position, event));
                if self.found.len() > self.limit {
                    return true;
                }
            }
        }
        false
    }

    /// The page. `exhausted` says no chunk in range was left unread.
    pub fn finish(mut self, exhausted: bool) -> EventPage {
        if self.found.len() > self.limit {
            self.found.truncate(self.limit);
            let next = self.found.last().map(|(position, _)| *position);
            return EventPage {
                events: self.found,
                next,
            };
        }
        EventPage {
            events: self.found,
            next: if exhausted { None } else { self.examined },
        }
    }
}

/// One page of events of `name` with `from <= at < to`, resuming after `cursor`.
pub fn list_page(
    name: &str,
    from: i64,
    to: i64,
    cursor: Option<Position>,
    limit: usize,
) -> Result<EventPage> {
    let mut collector = PageCollector::new(from, to, limit);
    let mut chunks_read = 0;
    let mut after = match cursor {
        Some(position) => {
            let key = position.chunk.key(name);
            if let Some(events) = kv::get_json::<Vec<StoredEvent>>(&key)? {
                chunks_read += 1;
                if collector.offer(position.chunk, events, Some(position.index)) {
                    return Ok(collector.finish(false));
                }
            }
            key
        }
        None => scan_start_after(name, from),
    };
    let prefix = events_prefix(name);
    let last_hour = hour_start(to - 1);
    loop {
        let page = kv::list(&prefix, Some(&after), MAX_CHUNKS_PER_PAGE as u32 + 1)?;
        for key in &page.keys {
            let Some(chunk) = ChunkId::parse_key(name, key) else {
                continue;
            };
            if chunk.hour > last_hour {
                return Ok(collector.finish(true));
            }
            if chunks_read >= MAX_CHUNKS_PER_PAGE {
                return Ok(collector.finish(false));
            }
            let events: Vec<StoredEvent> = kv::get_json(key)?.unwrap_or_default();
            chunks_read += 1;
            if collector.offer(chunk, events, None) {
                return Ok(collector.finish(false));
            }
        }
        match page.next {
            Some(next) => after = next,
            None => return Ok(collector.finish(true)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(at: i64) -> StoredEvent {
        StoredEvent {
            at,
            dimensions: BTreeMap::new(),
            metrics: BTreeMap::new(),
        }
    }

    #[test]
    fn keys_sort_by_hour_then_chunk_and_round_trip() {
        let chunk = ChunkId {
            hour: 1_767_225_600_000,
            number: 3,
        };
        assert_eq!(chunk.key("sale"), "events/sale/001767225600000-0003");
        assert_eq!(ChunkId::parse_key("sale", &chunk.key("sale")), Some(chunk));
        assert_eq!(ChunkId::parse_key("sales", &chunk.key("sale")), None);
        assert_eq!(
            ChunkId::parse_key("sale", "events/sale/001767225600001-0003"),
            None
        );
        assert_eq!(ChunkId::parse_key("sale", "events/sale/1767225600000-0003"), None);
        let later = ChunkId {
            hour: chunk.hour + HOUR_MS,
            number: 0,
        };
        assert!(chunk.key("sale") < later.key("sale"));
        assert!(scan_start_after("sale", chunk.hour + 5) < chunk.key("sale"));
        assert!(
            scan_start_after("sale", chunk.hour + 5)
                > ChunkId {
                    hour: chunk.hour - HOUR_MS,
                    number: 9999
                }
                .key("sale")
        );
        assert!(
            ChunkId { number: 0, ..chunk }
                .key("sale")
                .starts_with(&hour_prefix("sale", chunk.hour))
        );
        assert_eq!(hour_start(1_767_225_600_000 + 3_599_999), 1_767_225_600_000);
    }

    #[test]
    fn positions_are_ids_and_cursors() {
        let position = Position {
            chunk: ChunkId {
                hour: 3_600_000,
                number: 12,
            },
            index: 40,
        };
        assert_eq!(position.id(), "000000003600000-0012-40");
        assert_eq!(Position::parse(&position.id()), Ok(position));
        for bad in [
            "",
            "x",
            "000000003600000-0012",
            "000000003600000-0012-",
            "000000003600000-0012-4-1",
            "000000003600001-0012-4",
            "000000003600000-012-4",
            "000000003600000-0012-+4",
        ] {
            assert_eq!(
                Position::parse(bad),
                Err(Error::bad_request(format!(
                    "the cursor `{bad}` is invalid; pass the `next` of the previous page as `after`"
                ))),
                "{bad}"
            );
        }
    }

    #[test]
    fn appending_fills_the_last_chunk_then_rolls() {
        let size = encoded_len(&event(10)).expect("size");
        // Room for exactly two events of this size: `[e,e]`.
        let max = 2 + size * 2 + 1;
        let writes = plan_append("a", 0, None, vec![event(10), event(11), event(12)], max).expect("plan");
        assert_eq!(
            writes,
            vec![
                (ChunkId { hour: 0, number: 0 }, vec![event(10), event(11)]),
                (ChunkId { hour: 0, number: 1 }, vec![event(12)]),
            ]
        );
        let encoded = serde_json::to_vec(&writes[0].1).expect("json");
        assert_eq!(encoded.len(), max, "the byte count matches the stored JSON");
        let last = LastChunk {
            number: 1,
            events: vec![event(12)],
            bytes: 2 + size,
        };
        assert_eq!(
            plan_append("a", 0, Some(last), vec![event(13), event(14)], max).expect("plan"),
            vec![
                (ChunkId { hour: 0, number: 1 }, vec![event(12), event(13)]),
                (ChunkId { hour: 0, number: 2 }, vec![event(14)]),
            ]
        );
    }

    #[test]
    fn an_hour_has_a_last_chunk_number() {
        let last = LastChunk {
            number: MAX_CHUNKS_PER_HOUR - 1,
            events: vec![event(1)],
            bytes: 100,
        };
        assert_eq!(
            plan_append("sale", 0, Some(last), vec![event(2)], 100),
            Err(Error::unprocessable(
                "the hour starting at 0 already holds as many `sale` events as it can (10000 chunks); \
                 record them under another name"
            ))
        );
    }

    #[test]
    fn batches_group_by_name_and_hour_in_order() {
        let new = |name: &str, at| NewEvent {
            name: name.into(),
            event: event(at),
        };
        let groups = group_by_hour(vec![new("b", 5), new("a", HOUR_MS + 1), new("b", 1)]).expect("groups");
        assert_eq!(
            groups.into_iter().collect::<Vec<_>>(),
            vec![
                (("a".to_owned(), HOUR_MS), vec![event(HOUR_MS + 1)]),
                (("b".to_owned(), 0), vec![event(5), event(1)]),
            ]
        );
        let spread: Vec<NewEvent> = (0..=MAX_HOURS_PER_BATCH as i64)
            .map(|hour| new("a", hour * HOUR_MS))
            .collect();
        assert_eq!(
            group_by_hour(spread),
            Err(Error::unprocessable(
                "the batch spans 101 (event name, hour) pairs; at most 100 per request, so split it by time"
            ))
        );
    }

    #[test]
    fn pages_hold_limit_events_and_point_at_the_last_one() {
        let chunk = ChunkId { hour: 0, number: 0 };
        let mut collector = PageCollector::new(10, 20, 2);
        assert!(!collector.offer(chunk, vec![event(5), event(10)], None));
        assert!(collector.offer(chunk, vec![event(11), event(12), event(13)], None));
        let EventPage { events, next } = collector.finish(false);
        assert_eq!(
            events
                .iter()
                .map(|(position, event)| (position.index, event.at))
                .collect::<Vec<_>>(),
            vec![(1, 10), (0, 11)]
        );
        assert_eq!(next, Some(Position { chunk, index: 0 }));

        let mut resumed = PageCollector::new(10, 20, 2);
        assert!(!resumed.offer(chunk, vec![event(11), event(12), event(30)], Some(0)));
        let EventPage { events, next } = resumed.finish(true);
        assert_eq!(events.len(), 1);
        assert_eq!(next, None, "nothing left");

        let mut cut_short = PageCollector::new(10, 20, 5);
        assert!(!cut_short.offer(chunk, vec![event(1), event(2)], None));
        assert_eq!(
            cut_short.finish(false),
            EventPage {
                events: vec![],
                next: Some(Position { chunk, index: 1 })
            },
            "a page stopped by the chunk budget resumes after what it examined"
        );
    }
}
