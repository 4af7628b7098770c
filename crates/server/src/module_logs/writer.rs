//! The writer thread: takes records from the bounded channel, appends them to each tenant's open segment, keeps retention, feeds live streams.
//!
//! Writes go through a `BufWriter` per tenant, flushed whenever the channel
//! runs dry, after every batch and at least every second; a segment is
//! fsynced when it is closed (past its size, an hour old, or at shutdown).
//! I/O failures are logged (never a record's content) and cost only the
//! records they hit.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::time::{Duration, Instant, SystemTime};

use super::segments;
use super::{Limits, Message, Shared};

/// The most messages handled between two flushes.
const BATCH: usize = 4096;
/// How often every tenant's retention by age is applied.
const SWEEP_EVERY: Duration = Duration::from_secs(60);
/// A segment older than this is closed at its next record.
const SEGMENT_SPAN: Duration = Duration::from_secs(3600);
/// At most one I/O failure is logged per this long.
const ERROR_LOG_EVERY: Duration = Duration::from_secs(60);

/// One tenant's segment being appended to.
struct Open {
    id: u64,
    file: BufWriter<File>,
    len: u64,
    opened: Instant,
    dirty: bool,
}

/// One tenant as the writer knows it.
struct TenantFiles {
    dir: PathBuf,
    open: Option<Open>,
    /// Bytes its segments hold (written, flushed or not).
    total: u64,
    /// The newest segment id used, so the next is larger.
    last_id: u64,
}

struct Writer {
    root: PathBuf,
    limits: Limits,
    shared: Arc<Shared>,
    tenants: HashMap<String, TenantFiles>,
    last_error_log: Option<Instant>,
}

/// Runs until every sender is gone, then closes every segment.
pub(super) fn run(root: PathBuf, limits: Limits, shared: Arc<Shared>, messages: Receiver<Message>) {
    let mut writer = Writer {
        root,
        limits,
        shared,
        tenants: HashMap::new(),
        last_error_log: None,
    };
    writer.sweep();
    let mut last_sweep = Instant::now();
    loop {
        let first = match messages.recv_timeout(Duration::from_secs(1)) {
            Ok(message) => Some(message),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        if let Some(first) = first {
            writer.handle(first);
            for _ in 1..BATCH {
                match messages.try_recv() {
                    Ok(message) => writer.handle(message),
                    Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
                }
            }
        }
        writer.flush_all();
        if last_sweep.elapsed() >= SWEEP_EVERY {
            writer.sweep();
            last_sweep = Instant::now();
        }
    }
    writer.close_all();
}

fn now_ms() -> u64 {
    modhost_registry::now_ms()
}

impl Writer {
    fn handle(&mut self, message: Message) {
        match message {
            Message::Record { tenant, entry } => {
                if let Some(state) = self.shared.tenant_if_known(&tenant) {
                    state.pending_bytes.fetch_sub(entry.weight(), Ordering::Relaxed);
                    self.shared
                        .pending_bytes
                        .fetch_sub(entry.weight(), Ordering::Relaxed);
                    if let Err(error) = self.append(&tenant, &entry) {
                        state.dropped.fetch_add(1, Ordering::Relaxed);
                        self.failed(&tenant, &error);
                    }
                    if state.live.receiver_count() > 0 {
                        // No subscriber lagging behind slows this: the channel overwrites.
                        let _ = state.live.send(Arc::new(entry));
                    }
                }
            }
            Message::Sync(done) => {
                self.flush_all();
                let _ = done.send(());
            }
            Message::Forget { tenant, done } => {
                self.tenants.remove(&tenant);
                let dir = self.root.join(&tenant);
                match std::fs::remove_dir_all(&dir) {
                    Ok(()) => {}
                    Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                    Err(error) => self.failed(&tenant, &error),
                }
                let _ = done.send(());
            }
        }
    }

    fn failed(&mut self, tenant: &str, error: &io::Error) {
        if self
            .last_error_log
            .is_none_or(|last| last.elapsed() >= ERROR_LOG_EVERY)
        {
            self.last_error_log = Some(Instant::now());
            tracing::warn!(%tenant, %error, "could not write module log records; they are dropped");
        }
        if let Some(files) = self.tenants.get_mut(tenant) {
            // Start afresh with a new segment at the next record.
            files.open = None;
        }
    }

    fn files(&mut self, tenant: &str) -> io::Result<&mut TenantFiles> {
        if !self.tenants.contains_key(tenant) {
            let dir = self.root.join(tenant);
            std::fs::create_dir_all(&dir)?;
            let existing = segments::list(&dir)?;
            self.tenants.insert(
                tenant.to_owned(),
                TenantFiles {
                    total: existing.iter().map(|segment| segment.len).sum(),
                    last_id: existing.last().map_or(0, |segment| segment.id),
                    dir,
                    open: None,
                },
            );
        }
        self.tenants
            .get_mut(tenant)
            .ok_or_else(|| io::Error::other("the tenant's log files vanished"))
    }

    fn append(&mut self, tenant: &str, entry: &super::record::Entry) -> io::Result<()> {
        let mut line = serde_json::to_vec(entry).map_err(io::Error::other)?;
        line.push(b'\n');
        if line.len() > segments::MAX_LINE_BYTES {
            return Err(io::Error::other("a record is too long to store"));
        }
        let limits = self.limits;
        let files = self.files(tenant)?;
        let full = files.open.as_ref().is_some_and(|open| {
            (open.len > 0 && open.len + line.len() as u64 > limits.segment_bytes)
                || open.opened.elapsed() >= SEGMENT_SPAN
        });
        if full && let Some(open) = files.open.take() {
            close(open)?;
        }
        if files.open.is_none() {
            files.open = Some(create(&files.dir, &mut files.last_id)?);
        }
        let Some(open) = files.open.as_mut() else {
            return Err(io::Error::other("no open segment"));
        };
        open.file.write_all(&line)?;
        open.len += line.len() as u64;
        open.dirty = true;
        files.total += line.len() as u64;
        if files.total > limits.max_bytes {
            // On disk first, so the sizes retention reads are exact.
            open.file.flush()?;
            open.dirty = false;
            let open_id = Some(open.id);
            files.total = segments::enforce(
                &files.dir,
                limits.max_bytes,
                limits.max_age,
                SystemTime::now(),
                open_id,
            )?;
        }
        Ok(())
    }

    fn flush_all(&mut self) {
        let mut failures = Vec::new();
        for (tenant, files) in &mut self.tenants {
            if let Some(open) = files.open.as_mut().filter(|open| open.dirty) {
                open.dirty = false;
                if let Err(error) = open.file.flush() {
                    failures.push((tenant.clone(), error));
                }
            }
        }
        for (tenant, error) in failures {
            self.failed(&tenant, &error);
        }
    }

    /// Applies retention by age to every tenant's folder, known or not.
    fn sweep(&mut self) {
        let dirs = match std::fs::read_dir(&self.root) {
            Ok(dirs) => dirs,
            Err(error) => {
                self.failed("", &error);
                return;
            }
        };
        let now = SystemTime::now();
        for dir in dirs.flatten() {
            let Some(tenant) = dir.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            if let Some(files) = self.tenants.get_mut(&tenant)
                && files
                    .open
                    .as_ref()
                    .is_some_and(|open| open.opened.elapsed() >= SEGMENT_SPAN)
                && let Some(open) = files.open.take()
            {
                // Idle: a record would have closed it. Closed, it can age out.
                if let Err(error) = close(open) {
                    self.failed(&tenant, &error);
                }
            }
            let open = self
                .tenants
                .get(&tenant)
                .and_then(|files| files.open.as_ref().map(|open| open.id));
            match segments::enforce(&dir.path(), self.limits.max_bytes, self.limits.max_age, now, open) {
                Ok(total) => {
                    if let Some(files) = self.tenants.get_mut(&tenant) {
                        files.total = total
                            + files
                                .open
                                .as_ref()
                                .map_or(0, |open| open.file.buffer().len() as u64);
                    }
                }
                Err(error) => self.failed(&tenant, &error),
            }
        }
    }

    fn close_all(&mut self) {
        for files in self.tenants.values_mut() {
            if let Some(open) = files.open.take() {
                let _ = close(open);
            }
        }
    }
}

/// A new segment in `dir`, its id the time now, above `last_id`.
fn create(dir: &Path, last_id: &mut u64) -> io::Result<Open> {
    let mut id = now_ms().max(last_id.saturating_add(1));
    loop {
        match OpenOptions::new()
            .append(true)
            .create_new(true)
            .open(segments::path_of(dir, id))
        {
            Ok(file) => {
                *last_id = id;
                return Ok(Open {
                    id,
                    file: BufWriter::with_capacity(64 * 1024, file),
                    len: 0,
                    opened: Instant::now(),
                    dirty: false,
                });
            }
            // Another writer (a server being replaced) took this id.
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => id += 1,
            Err(error) => return Err(error),
        }
    }
}

/// Flushes and fsyncs a segment that will not be written again.
fn close(open: Open) -> io::Result<()> {
    let file = open.file.into_inner().map_err(|error| error.into_error())?;
    file.sync_all()
}
