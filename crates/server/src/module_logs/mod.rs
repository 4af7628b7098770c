//! Durable module logs: what guests write through the `log` capability, kept per tenant on disk with retention, queried and streamed live.
//!
//! The runtime hands every record to [`ModuleLogs`]' sink on the guest's call
//! path; the sink only checks the tenant's and the host's backlog and puts
//! the record on a bounded channel (past either bound the record is dropped
//! and counted, `modhost_module_logs_dropped_total{tenant}`), so a guest call
//! never waits for a disk. One writer thread (`writer.rs`) appends records to
//! `<data_dir>/logs/<tenant>/<id>.jsonl` segments (`segments.rs`), applies
//! each tenant's retention by size and age by deleting its own oldest whole
//! segments, and feeds each tenant's live `broadcast` channel. Queries
//! (`query.rs`) read segments backwards and stop at a page.

mod dropped;
mod query;
pub(crate) mod record;
mod segments;
mod streams;
mod writer;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use anyhow::Context as _;
use modhost_runtime::logs::{LogRecord, LogSink};
use tokio::sync::broadcast;

pub(crate) use self::dropped::DroppedRecords;
pub(crate) use self::query::Page;
use self::record::{Cursor, Entry, Filter, Level};
use self::streams::Streams;
pub(crate) use self::streams::{STREAMS_IN_ALL, STREAMS_PER_TENANT, StreamRefusal, StreamSlot};

/// How many records wait for the writer at most, all tenants together.
const CHANNEL_RECORDS: usize = 16 * 1024;
/// How many bytes of records wait for the writer at most, all tenants together.
const PENDING_BYTES: usize = 32 * 1024 * 1024;
/// How many bytes of one tenant's records wait for the writer at most.
const TENANT_PENDING_BYTES: usize = 4 * 1024 * 1024;
/// How many records a live subscriber may fall behind before it is told it missed some.
const LIVE_RECORDS: usize = 1024;
/// The largest page a query returns.
pub(crate) const MAX_LIMIT: usize = 1000;

/// How much of its logs each tenant keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    /// Bytes of segments per tenant; its oldest segments go past it.
    pub(crate) max_bytes: u64,
    /// Segments last written longer ago than this go.
    pub(crate) max_age: Duration,
    /// A segment is closed once it would grow past this.
    pub(crate) segment_bytes: u64,
}

impl Limits {
    /// Limits of `max_bytes` and `max_age`, with segments an eighth of
    /// `max_bytes` (4 KiB to 4 MiB), so retention frees little at a time.
    pub(crate) fn new(max_bytes: u64, max_age: Duration) -> Self {
        Self {
            max_bytes,
            max_age,
            segment_bytes: (max_bytes / 8).clamp(4 * 1024, 4 * 1024 * 1024),
        }
    }
}

/// What the writer thread is sent.
enum Message {
    Record {
        tenant: String,
        entry: Entry,
    },
    /// Flush everything sent before, then answer.
    Sync(tokio::sync::oneshot::Sender<()>),
    /// Close the tenant's segment and remove its folder (the tenant was deleted), then answer.
    Forget {
        tenant: String,
        done: tokio::sync::oneshot::Sender<()>,
    },
}

/// One tenant's counters and live channel.
struct TenantLog {
    /// Bytes of its records waiting for the writer.
    pending_bytes: AtomicUsize,
    /// Records dropped: its backlog or the host's was full, or a write failed.
    dropped: AtomicU64,
    live: broadcast::Sender<Arc<Entry>>,
}

/// What the sink, the writer and the readers share.
struct Shared {
    tenants: RwLock<HashMap<String, Arc<TenantLog>>>,
    pending_bytes: AtomicUsize,
}

impl Shared {
    fn tenant_if_known(&self, tenant: &str) -> Option<Arc<TenantLog>> {
        self.tenants
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(tenant)
            .cloned()
    }

    fn tenant(&self, tenant: &str) -> Arc<TenantLog> {
        if let Some(known) = self.tenant_if_known(tenant) {
            return known;
        }
        self.tenants
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(tenant.to_owned())
            .or_insert_with(|| {
                Arc::new(TenantLog {
                    pending_bytes: AtomicUsize::new(0),
                    dropped: AtomicU64::new(0),
                    live: broadcast::channel(LIVE_RECORDS).0,
                })
            })
            .clone()
    }
}

/// The runtime's [`LogSink`]: never blocks.
struct Appender {
    shared: Arc<Shared>,
    sender: SyncSender<Message>,
}

impl LogSink for Appender {
    fn append(&self, record: LogRecord) {
        // Self-tests run under a reserved tenant; nobody reads their records.
        if record.tenant == modhost_runtime::SELF_TEST_TENANT
            || modhost_registry::check_tenant_id(&record.tenant).is_err()
        {
            return;
        }
        let entry = Entry {
            time_ms: record
                .time
                .duration_since(std::time::UNIX_EPOCH)
                .map(|elapsed| u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX))
                .unwrap_or(0),
            module: record.module,
            version: record.version,
            request_id: record.request_id,
            level: Level::of(record.level),
            message: record.message,
            fields: record.fields.into_iter().collect(),
        };
        let weight = entry.weight();
        let state = self.shared.tenant(&record.tenant);
        let tenant_full =
            state.pending_bytes.fetch_add(weight, Ordering::Relaxed) + weight > TENANT_PENDING_BYTES;
        let host_full =
            self.shared.pending_bytes.fetch_add(weight, Ordering::Relaxed) + weight > PENDING_BYTES;
        let sent = !tenant_full
            && !host_full
            && match self.sender.try_send(Message::Record {
                tenant: record.tenant,
                entry,
            }) {
                Ok(()) => true,
                Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => false,
            };
        if !sent {
            state.pending_bytes.fetch_sub(weight, Ordering::Relaxed);
            self.shared.pending_bytes.fetch_sub(weight, Ordering::Relaxed);
            state.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The durable module log store.
pub(crate) struct ModuleLogs {
    root: PathBuf,
    shared: Arc<Shared>,
    sender: SyncSender<Message>,
    streams: Arc<Streams>,
    closing: tokio::sync::watch::Sender<bool>,
}

impl ModuleLogs {
    /// Opens the store in `root` (created if missing) and starts its writer thread.
    pub(crate) fn open(root: PathBuf, limits: Limits) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&root)
            .with_context(|| format!("could not create the module log folder {}", root.display()))?;
        let shared = Arc::new(Shared {
            tenants: RwLock::new(HashMap::new()),
            pending_bytes: AtomicUsize::new(0),
        });
        let (sender, receiver) = std::sync::mpsc::sync_channel(CHANNEL_RECORDS);
        let (thread_root, thread_shared) = (root.clone(), shared.clone());
        std::thread::Builder::new()
            .name("modhost-module-logs".into())
            .spawn(move || writer::run(thread_root, limits, thread_shared, receiver))
            .context("could not start the module log writer thread")?;
        Ok(Self {
            root,
            shared,
            sender,
            streams: Arc::default(),
            closing: tokio::sync::watch::channel(false).0,
        })
    }

    /// The sink to install in the runtime ([`modhost_runtime::logs::LogBuffer::set_sink`]).
    pub(crate) fn sink(&self) -> Arc<dyn LogSink> {
        Arc::new(Appender {
            shared: self.shared.clone(),
            sender: self.sender.clone(),
        })
    }

    /// Waits (at most `wait`) until every record sent so far is written, so
    /// a query sees the records of the requests that finished before it.
    pub(crate) async fn sync(&self, wait: Duration) {
        let (done, written) = tokio::sync::oneshot::channel();
        if self.sender.try_send(Message::Sync(done)).is_ok() {
            let _ = tokio::time::timeout(wait, written).await;
        }
    }

    /// Removes a deleted tenant's records: its open segment is closed and its
    /// folder removed by the writer, after every record sent before.
    pub(crate) async fn forget(&self, tenant: &str) {
        let (done, removed) = tokio::sync::oneshot::channel();
        let sender = self.sender.clone();
        let message = Message::Forget {
            tenant: tenant.to_owned(),
            done,
        };
        // A full channel makes `send` wait: never on a request worker.
        let sent = tokio::task::spawn_blocking(move || sender.send(message).is_ok()).await;
        if matches!(sent, Ok(true)) {
            let _ = removed.await;
        }
    }

    /// A page of `tenant`'s records (blocking: file reads).
    pub(crate) fn query(
        &self,
        tenant: &str,
        filter: &Filter,
        limit: usize,
        before: Option<Cursor>,
    ) -> std::io::Result<Page> {
        if modhost_registry::check_tenant_id(tenant).is_err() {
            return Ok(Page::default());
        }
        query::query(&self.root.join(tenant), filter, limit.min(MAX_LIMIT), before)
    }

    /// A place for one more live stream of `tenant`, unless too many are open.
    pub(crate) fn open_stream(&self, tenant: &str) -> Result<StreamSlot, StreamRefusal> {
        self.streams.open(tenant)
    }

    /// `tenant`'s records from now on, as the writer stores them.
    pub(crate) fn subscribe(&self, tenant: &str) -> broadcast::Receiver<Arc<Entry>> {
        self.shared.tenant(tenant).live.subscribe()
    }

    /// Changes to `true` when the server shuts down: live streams end.
    pub(crate) fn closing(&self) -> tokio::sync::watch::Receiver<bool> {
        self.closing.subscribe()
    }

    /// Ends every live stream (the server is shutting down).
    pub(crate) fn close_streams(&self) {
        self.closing.send_replace(true);
    }

    /// Records dropped per tenant, for `/metrics`.
    pub(crate) fn metrics(&self) -> DroppedRecords {
        let mut dropped: Vec<(String, u64)> = self
            .shared
            .tenants
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(tenant, state)| (tenant.clone(), state.dropped.load(Ordering::Relaxed)))
            .collect();
        dropped.sort();
        DroppedRecords(dropped)
    }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use modhost_runtime::logs::LogLevel;

    use super::*;

    fn record(tenant: &str, module: &str, level: LogLevel, request_id: &str, message: &str) -> LogRecord {
        LogRecord {
            time: SystemTime::now(),
            tenant: tenant.into(),
            module: module.into(),
            version: "1.0.0".into(),
            request_id: request_id.into(),
            level,
            message: message.into(),
            fields: vec![("n".into(), message.into())],
        }
    }

    fn sync(logs: &ModuleLogs) {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("tokio")
            .block_on(logs.sync(Duration::from_secs(60)));
    }

    fn messages(page: &Page) -> Vec<String> {
        page.entries.iter().map(|entry| entry.message.clone()).collect()
    }

    fn dropped(logs: &ModuleLogs, tenant: &str) -> u64 {
        logs.metrics()
            .0
            .iter()
            .find(|(name, _)| name == tenant)
            .map_or(0, |(_, count)| *count)
    }

    fn folder_bytes(dir: &std::path::Path) -> u64 {
        segments::list(dir)
            .expect("list")
            .iter()
            .map(|segment| segment.len)
            .sum()
    }

    #[test]
    fn a_full_channel_drops_and_counts_without_waiting() {
        let shared = Arc::new(Shared {
            tenants: RwLock::new(HashMap::new()),
            pending_bytes: AtomicUsize::new(0),
        });
        // Nobody reads this channel: it fills after three records.
        let (sender, _receiver) = std::sync::mpsc::sync_channel(3);
        let sink = Appender {
            shared: shared.clone(),
            sender,
        };
        for index in 0..5 {
            sink.append(record("acme", "m", LogLevel::Info, "r", &index.to_string()));
        }
        let acme = shared.tenant("acme");
        assert_eq!(acme.dropped.load(Ordering::Relaxed), 2);
        let three = acme.pending_bytes.load(Ordering::Relaxed);
        assert!(three > 0 && three == shared.pending_bytes.load(Ordering::Relaxed));
        sink.append(record(
            "modhost-self-test",
            "m",
            LogLevel::Info,
            "r",
            "kept by nobody",
        ));
        sink.append(record("../escape", "m", LogLevel::Info, "r", "not a tenant id"));
        assert!(shared.tenant_if_known("modhost-self-test").is_none());
        assert!(shared.tenant_if_known("../escape").is_none());
    }

    #[test]
    fn one_tenant_fills_only_its_own_share_of_the_backlog() {
        let shared = Arc::new(Shared {
            tenants: RwLock::new(HashMap::new()),
            pending_bytes: AtomicUsize::new(0),
        });
        let (sender, _receiver) = std::sync::mpsc::sync_channel(CHANNEL_RECORDS);
        let sink = Appender {
            shared: shared.clone(),
            sender,
        };
        let big = "x".repeat(4000);
        for _ in 0..2000 {
            sink.append(record("flood", "m", LogLevel::Info, "r", &big));
        }
        let flood = shared.tenant("flood");
        let dropped = flood.dropped.load(Ordering::Relaxed);
        assert!(
            dropped > 900,
            "past its 4 MiB backlog the flood is dropped: {dropped}"
        );
        assert!(flood.pending_bytes.load(Ordering::Relaxed) <= TENANT_PENDING_BYTES);
        sink.append(record("quiet", "m", LogLevel::Info, "r", "still heard"));
        assert_eq!(shared.tenant("quiet").dropped.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn records_survive_reopening_and_queries_filter_and_page_newest_first() {
        let dir = tempfile::tempdir().expect("temp dir");
        let limits = Limits::new(1024 * 1024, Duration::from_secs(86_400));
        let logs = ModuleLogs::open(dir.path().to_path_buf(), limits).expect("open");
        let sink = logs.sink();
        let levels = [LogLevel::Debug, LogLevel::Info, LogLevel::Warn, LogLevel::Error];
        for index in 0..40 {
            let module = if index % 2 == 0 { "even" } else { "odd" };
            let request = format!("req-{}", index / 10);
            sink.append(record(
                "acme",
                module,
                levels[index % 4],
                &request,
                &index.to_string(),
            ));
        }
        sink.append(record("banban", "even", LogLevel::Error, "req-0", "banban's"));
        sync(&logs);
        drop((sink, logs));

        let logs = ModuleLogs::open(dir.path().to_path_buf(), limits).expect("reopen");
        let all = Filter::default();
        let page = logs.query("acme", &all, 1000, None).expect("query");
        let expected: Vec<String> = (0..40).rev().map(|index| index.to_string()).collect();
        assert_eq!(
            messages(&page),
            expected,
            "everything, newest first, after reopening"
        );
        assert_eq!(page.next, None);

        let odd_warnings = Filter {
            module: Some("odd".into()),
            min_level: Some(Level::Warn),
            ..Filter::default()
        };
        let page = logs.query("acme", &odd_warnings, 1000, None).expect("query");
        assert_eq!(
            messages(&page),
            ["39", "35", "31", "27", "23", "19", "15", "11", "7", "3"]
        );
        let request = Filter {
            request_id: Some("req-2".into()),
            min_level: Some(Level::Error),
            ..Filter::default()
        };
        assert_eq!(
            messages(&logs.query("acme", &request, 1000, None).expect("query")),
            ["27", "23"]
        );
        let (first, last) = (&page.entries[9], &page.entries[0]);
        let window = Filter {
            since_ms: Some(first.time_ms),
            until_ms: Some(last.time_ms),
            ..odd_warnings.clone()
        };
        assert_eq!(
            logs.query("acme", &window, 1000, None)
                .expect("query")
                .entries
                .len(),
            10
        );
        let future = Filter {
            since_ms: Some(modhost_registry::now_ms() + 60_000),
            ..Filter::default()
        };
        assert!(
            logs.query("acme", &future, 1000, None)
                .expect("query")
                .entries
                .is_empty()
        );

        let mut paged = Vec::new();
        let mut before = None;
        loop {
            let page = logs.query("acme", &all, 7, before).expect("query");
            assert!(page.entries.len() <= 7);
            paged.extend(messages(&page));
            match page.next {
                Some(next) => before = Some(next),
                None => break,
            }
        }
        assert_eq!(
            paged, expected,
            "pages follow each other without a gap or a repeat"
        );
        assert_eq!(
            messages(&logs.query("banban", &all, 10, None).expect("query")),
            ["banban's"]
        );
        assert!(
            logs.query("nobody", &all, 10, None)
                .expect("query")
                .entries
                .is_empty()
        );
        assert!(
            logs.query("..", &all, 10, None)
                .expect("query")
                .entries
                .is_empty()
        );
    }

    #[test]
    fn retention_by_size_deletes_a_flooding_tenant_s_own_oldest_segments() {
        let dir = tempfile::tempdir().expect("temp dir");
        let max_bytes = 64 * 1024;
        let logs = ModuleLogs::open(
            dir.path().to_path_buf(),
            Limits::new(max_bytes, Duration::from_secs(86_400)),
        )
        .expect("open");
        let sink = logs.sink();
        sink.append(record("quiet", "m", LogLevel::Info, "r", "first"));
        let filler = "f".repeat(200);
        for index in 0..3000 {
            sink.append(record(
                "flood",
                "m",
                LogLevel::Info,
                "r",
                &format!("{index} {filler}"),
            ));
            if index % 500 == 0 {
                sync(&logs);
            }
        }
        sink.append(record("quiet", "m", LogLevel::Info, "r", "second"));
        sync(&logs);
        assert_eq!(dropped(&logs, "flood"), 0);
        let flood = dir.path().join("flood");
        let kept = segments::list(&flood).expect("list");
        assert!(kept.len() > 1, "{kept:?}");
        assert!(folder_bytes(&flood) <= max_bytes, "{}", folder_bytes(&flood));
        let page = logs
            .query("flood", &Filter::default(), 1000, None)
            .expect("query");
        assert!(page.entries[0].message.starts_with("2999 "), "the newest stays");
        let oldest = page.entries.last().expect("some");
        let oldest: u32 = oldest
            .message
            .split(' ')
            .next()
            .and_then(|n| n.parse().ok())
            .expect("n");
        assert!(oldest > 2000, "the oldest went: the oldest kept is {oldest}");
        let quiet = logs.query("quiet", &Filter::default(), 10, None).expect("query");
        assert_eq!(
            messages(&quiet),
            ["second", "first"],
            "the neighbour lost nothing"
        );
    }

    #[test]
    fn retention_by_age_deletes_whole_segments_last_written_too_long_ago() {
        let dir = tempfile::tempdir().expect("temp dir");
        let acme = dir.path().join("acme");
        std::fs::create_dir_all(&acme).expect("folder");
        let line = b"{\"time_ms\":1,\"module\":\"m\",\"version\":\"1\",\"request_id\":\"r\",\"level\":\"info\",\"message\":\"old\"}\n";
        let week_and_a_day = Duration::from_secs(8 * 86_400);
        for (id, age) in [
            (1_u64, week_and_a_day),
            (2, week_and_a_day),
            (3, Duration::from_secs(60)),
        ] {
            let path = segments::path_of(&acme, id);
            std::fs::write(&path, line).expect("write");
            let file = std::fs::File::options().write(true).open(&path).expect("open");
            file.set_modified(SystemTime::now() - age).expect("mtime");
        }
        let logs = ModuleLogs::open(
            dir.path().to_path_buf(),
            Limits::new(1024 * 1024, Duration::from_secs(7 * 86_400)),
        )
        .expect("open");
        sync(&logs);
        let ids: Vec<u64> = segments::list(&acme)
            .expect("list")
            .iter()
            .map(|s| s.id)
            .collect();
        assert_eq!(ids, [3], "the two segments older than 7 days went at start");
        assert_eq!(
            logs.query("acme", &Filter::default(), 10, None)
                .expect("query")
                .entries
                .len(),
            1
        );
    }
}
