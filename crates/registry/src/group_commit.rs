//! Group commit: one thread makes applied batches durable for many writers at once, one [`Store::flush`] per group.
//!
//! A writer applies its batch first (visible, not yet durable), then calls
//! [`GroupCommit::request`] and gets a [`FlushTicket`]. The flusher thread
//! (`modhost-flush`) takes every ticket registered so far, runs one
//! [`Store::flush`], and completes all of them with its result (an error goes
//! to every ticket it covered). A ticket registered while a flush runs is left
//! for the next one, so a ticket completes only after a flush that *started
//! after its batch was applied*: acknowledged means durable, as with one flush
//! per write.
//!
//! Gathering: a writer about to apply announces it ([`GroupCommit::begin`]).
//! Before a flush starts, the flusher waits for the writers that had begun
//! by then to register (or give up): their applies are short, and an engine
//! may block applies while it flushes (the on-disk one does), so flushing
//! without them would only make them wait a whole flush more. Writers that begin later do
//! not extend the wait, so it is bounded by one apply. The rule that keeps
//! it deadlock-free: announce only once holding every lock the apply needs
//! (module data announces under its scope lock), because others hold such
//! locks while they wait for a flush.
//!
//! Waiting: async callers `.await` a ticket (it is a [`Future`]); sync callers
//! call [`FlushTicket::wait`], which blocks the calling thread only. Neither
//! needs an executor: the flusher is its own OS thread, so no wait can
//! deadlock on it. Dropping the last handle closes the flusher after it has
//! completed every pending ticket.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::thread::JoinHandle;

use crate::error::RegistryError;
use crate::store::{Store, StoreError};

/// How many flushes and tickets the flusher has handled since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlushStats {
    /// Flushes run (each one [`Store::flush`]).
    pub flushes: u64,
    /// Tickets completed (each one writer's request for durability).
    pub tickets: u64,
    /// The most tickets one flush completed.
    pub largest_group: u64,
    /// Flushes that failed (their error went to every ticket they covered).
    pub failed_flushes: u64,
    /// The time spent inside [`Store::flush`], all flushes together.
    pub flush_time: std::time::Duration,
}

/// The flusher: owns the thread that runs [`Store::flush`] for every writer of one store.
pub struct GroupCommit {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

struct Shared {
    store: Arc<dyn Store>,
    state: Mutex<State>,
    /// Signalled when a ticket is registered or the flusher should close.
    work: Condvar,
}

#[derive(Default)]
struct State {
    pending: Vec<Arc<Slot>>,
    closing: bool,
    stats: FlushStats,
    /// Writers that announced an apply ([`GroupCommit::begin`]), ever.
    begun: u64,
    /// Of those, how many registered their ticket or gave up, ever.
    settled: u64,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl GroupCommit {
    /// Starts the flusher thread for `store`.
    pub fn start(store: Arc<dyn Store>) -> Result<Self, RegistryError> {
        let shared = Arc::new(Shared {
            store,
            state: Mutex::new(State::default()),
            work: Condvar::new(),
        });
        let thread = std::thread::Builder::new()
            .name("modhost-flush".to_owned())
            .spawn({
                let shared = shared.clone();
                move || run(&shared)
            })
            .map_err(|error| {
                RegistryError::Storage(format!(
                    "could not start the registry's flusher thread: {error}; raise the process's thread limit"
                ))
            })?;
        Ok(Self {
            shared,
            thread: Some(thread),
        })
    }

    /// Asks for everything applied so far to be made durable: the ticket
    /// completes after a flush that started after this call.
    pub fn request(&self) -> FlushTicket {
        let slot = Arc::new(Slot::default());
        lock(&self.shared.state).pending.push(slot.clone());
        self.shared.work.notify_one();
        FlushTicket { slot: Some(slot) }
    }

    /// Announces a writer about to apply a batch; [`Applying::request`] then
    /// registers its ticket. A flush about to start waits for the writers
    /// announced before it (dropping the guard without a request, e.g. when
    /// the batch is refused, releases that wait).
    pub fn begin(&self) -> Applying<'_> {
        lock(&self.shared.state).begun += 1;
        Applying { commits: self }
    }

    /// Makes everything applied so far durable, blocking the calling thread
    /// until a flush that started after this call has completed.
    pub fn flush(&self) -> Result<(), RegistryError> {
        self.request().wait()
    }

    /// The flushes and tickets handled so far.
    pub fn stats(&self) -> FlushStats {
        lock(&self.shared.state).stats
    }
}

impl Drop for GroupCommit {
    fn drop(&mut self) {
        lock(&self.shared.state).closing = true;
        self.shared.work.notify_one();
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("the registry's flusher thread panicked while closing");
        }
    }
}

/// A writer between [`GroupCommit::begin`] and its request: a flush about to
/// start waits for it.
#[must_use = "request the ticket once the batch is applied"]
pub struct Applying<'a> {
    commits: &'a GroupCommit,
}

impl std::fmt::Debug for Applying<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Applying").finish_non_exhaustive()
    }
}

impl Applying<'_> {
    /// Registers the ticket of the batch just applied (see [`GroupCommit::request`]).
    pub fn request(self) -> FlushTicket {
        let slot = Arc::new(Slot::default());
        lock(&self.commits.shared.state).pending.push(slot.clone());
        drop(self); // settles, and wakes the flusher
        FlushTicket { slot: Some(slot) }
    }
}

impl Drop for Applying<'_> {
    fn drop(&mut self) {
        lock(&self.commits.shared.state).settled += 1;
        self.commits.shared.work.notify_one();
    }
}

/// The flusher thread: one flush per group of pending tickets, until closed
/// with none pending.
fn run(shared: &Shared) {
    loop {
        let group = {
            let mut state = lock(&shared.state);
            while state.pending.is_empty() && !state.closing {
                state = shared.work.wait(state).unwrap_or_else(PoisonError::into_inner);
            }
            if state.pending.is_empty() {
                return;
            }
            // Gather the writers already applying (bounded: later ones don't count).
            let begun = state.begun;
            while state.settled < begun {
                state = shared.work.wait(state).unwrap_or_else(PoisonError::into_inner);
            }
            std::mem::take(&mut state.pending)
        };
        let started = std::time::Instant::now();
        // A panicking engine fails this group instead of leaving it waiting forever.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| shared.store.flush()))
            .unwrap_or_else(|_| {
                Err(StoreError(
                    "the storage engine panicked while flushing; check the data directory's disk".to_owned(),
                ))
            });
        let took = started.elapsed();
        if let Err(error) = &result {
            tracing::error!(%error, tickets = group.len(), "the registry's flush failed");
        }
        {
            let mut state = lock(&shared.state);
            let size = u64::try_from(group.len()).unwrap_or(u64::MAX);
            state.stats.flushes += 1;
            state.stats.flush_time += took;
            state.stats.tickets += size;
            state.stats.largest_group = state.stats.largest_group.max(size);
            if result.is_err() {
                state.stats.failed_flushes += 1;
            }
        }
        for slot in group {
            slot.complete(result.clone());
        }
    }
}

/// Where a ticket's result lands.
#[derive(Default)]
struct Slot {
    state: Mutex<SlotState>,
    done: Condvar,
}

#[derive(Default)]
enum SlotState {
    #[default]
    Waiting,
    Polled(Waker),
    Done(Result<(), StoreError>),
}

impl Slot {
    fn complete(&self, result: Result<(), StoreError>) {
        let previous = std::mem::replace(&mut *lock(&self.state), SlotState::Done(result));
        self.done.notify_all();
        if let SlotState::Polled(waker) = previous {
            waker.wake();
        }
    }
}

/// A writer's claim on a flush: completes with the result of the first flush
/// that started after it was requested. Await it (async callers) or
/// [`FlushTicket::wait`] for it (sync callers).
#[must_use = "a write is durable only once its ticket completes"]
pub struct FlushTicket {
    /// `None`: nothing to wait for (already durable, or already taken).
    slot: Option<Arc<Slot>>,
}

impl std::fmt::Debug for FlushTicket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlushTicket")
            .field("pending", &self.slot.is_some())
            .finish()
    }
}

impl FlushTicket {
    /// A ticket with nothing to wait for (nothing was written).
    pub fn done() -> Self {
        Self { slot: None }
    }

    /// Blocks the calling thread until the ticket completes. Async code
    /// should await the ticket instead; called on a worker of tokio's
    /// multi-threaded runtime anyway, it blocks in place (the worker's other
    /// tasks move elsewhere). It cannot deadlock: the flusher needs no executor.
    pub fn wait(mut self) -> Result<(), RegistryError> {
        let Some(slot) = self.slot.take() else {
            return Ok(());
        };
        let on_worker = tokio::runtime::Handle::try_current()
            .is_ok_and(|handle| handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        if on_worker {
            tokio::task::block_in_place(|| slot.wait())
        } else {
            slot.wait()
        }
    }
}

impl Slot {
    fn wait(&self) -> Result<(), RegistryError> {
        let mut state = lock(&self.state);
        loop {
            if let SlotState::Done(result) = &*state {
                return Ok(result.clone()?);
            }
            state = self.done.wait(state).unwrap_or_else(PoisonError::into_inner);
        }
    }
}

impl Future for FlushTicket {
    type Output = Result<(), RegistryError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(slot) = self.slot.clone() else {
            return Poll::Ready(Ok(()));
        };
        let mut state = lock(&slot.state);
        match &mut *state {
            SlotState::Done(result) => {
                let result = result.clone();
                drop(state);
                self.slot = None;
                Poll::Ready(Ok(result?))
            }
            SlotState::Polled(waker) => {
                waker.clone_from(cx.waker());
                Poll::Pending
            }
            waiting @ SlotState::Waiting => {
                *waiting = SlotState::Polled(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::expect_used,
        clippy::unwrap_used,
        reason = "test code: a failed expectation is a failed test"
    )]

    use super::*;
    use crate::store::MemoryStore;

    #[test]
    fn a_ticket_completes_and_is_counted() {
        let commit = GroupCommit::start(Arc::new(MemoryStore::new())).unwrap();
        commit.flush().unwrap();
        commit.request().wait().unwrap();
        let stats = commit.stats();
        assert_eq!(stats.tickets, 2);
        assert!(stats.flushes >= 1 && stats.flushes <= 2);
        assert_eq!(stats.failed_flushes, 0);
    }

    #[test]
    fn a_done_ticket_needs_no_flush() {
        FlushTicket::done().wait().unwrap();
        let commit = GroupCommit::start(Arc::new(MemoryStore::new())).unwrap();
        assert_eq!(commit.stats(), FlushStats::default());
    }

    #[tokio::test]
    async fn a_ticket_can_be_awaited() {
        let commit = GroupCommit::start(Arc::new(MemoryStore::new())).unwrap();
        let tickets: Vec<_> = (0..10).map(|_| commit.request()).collect();
        for ticket in tickets {
            ticket.await.unwrap();
        }
        FlushTicket::done().await.unwrap();
        assert_eq!(commit.stats().tickets, 10);
    }

    #[test]
    fn a_flush_awaited_under_a_scope_lock_does_not_wait_for_writers_queued_on_it() {
        use crate::{DataQuota, DataWrite, Registry, RegistryConfig};
        let dir = tempfile::tempdir().unwrap();
        let registry = Registry::in_memory(dir.path(), RegistryConfig::default()).unwrap();
        // As a deployment that restores data does: the scope's lock held while it flushes.
        let scope = registry.inner.data.lock_scope("acme", "notes");
        let writer = {
            let registry = registry.clone();
            std::thread::spawn(move || {
                let write = DataWrite::Set {
                    key: "k".to_owned(),
                    value: b"v".to_vec(),
                };
                registry.kv_apply("acme", "notes", &[write], DataQuota::UNLIMITED)
            })
        };
        // Let the writer queue on the scope's lock (a hang here is the failure).
        std::thread::sleep(std::time::Duration::from_millis(50));
        registry.flush().unwrap();
        drop(scope);
        writer.join().unwrap().unwrap();
    }

    #[test]
    fn dropping_the_flusher_completes_what_is_pending() {
        let commit = GroupCommit::start(Arc::new(MemoryStore::new())).unwrap();
        let tickets: Vec<_> = (0..5).map(|_| commit.request()).collect();
        drop(commit);
        for ticket in tickets {
            ticket.wait().unwrap();
        }
    }
}
