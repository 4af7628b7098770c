//! Group commit: many writers share flushes, every acknowledged write survives a reopen, a ticket is never covered by a flush that started before it, errors reach every covered ticket, and dropping the registry completes what is pending.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::print_stdout,
    reason = "test code: a failed expectation is a failed test; the shared-flush figures are printed"
)]

mod support;

use std::future::Future as _;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::task::{Context, Poll, Waker};

use modhost_registry::store::{Batch, Entries, MemoryStore, Store, StoreError, Tree};
use modhost_registry::{DataQuota, DataWrite, FlushTicket, Registry, RegistryConfig, RegistryError};

const THREADS: usize = 64;
const WRITES_EACH: usize = 200;

fn set(key: &str, value: &str) -> DataWrite {
    DataWrite::Set {
        key: key.to_owned(),
        value: value.as_bytes().to_vec(),
    }
}

#[test]
fn many_writers_share_flushes_and_every_acknowledged_write_survives_a_reopen() {
    let (dir, registry) = support::registry();
    let before = registry.flush_stats();
    let workers: Vec<_> = (0..THREADS)
        .map(|thread| {
            let registry = registry.clone();
            std::thread::spawn(move || {
                let mut acknowledged = Vec::new();
                for write in 0..WRITES_EACH {
                    let key = format!("t{thread}-{write}");
                    registry
                        .kv_apply(
                            "acme",
                            "notes",
                            &[set(&key, &format!("v{write}"))],
                            DataQuota::UNLIMITED,
                        )
                        .expect("kv_apply");
                    acknowledged.push((key, format!("v{write}")));
                }
                acknowledged
            })
        })
        .collect();
    let acknowledged: Vec<(String, String)> = workers
        .into_iter()
        .flat_map(|worker| worker.join().expect("writer"))
        .collect();
    assert_eq!(acknowledged.len(), THREADS * WRITES_EACH);
    let after = registry.flush_stats();
    let (flushes, tickets) = (after.flushes - before.flushes, after.tickets - before.tickets);
    println!(
        "{THREADS} threads x {WRITES_EACH} writes: {tickets} tickets, {flushes} flushes, largest group {}",
        after.largest_group
    );
    assert_eq!(tickets, u64::try_from(THREADS * WRITES_EACH).unwrap());
    assert!(
        flushes < tickets,
        "{flushes} flushes for {tickets} tickets: no flush was shared"
    );
    assert_eq!(after.failed_flushes, 0);
    drop(registry);

    let reopened = support::reopen(dir.path());
    for (key, value) in &acknowledged {
        assert_eq!(
            reopened.kv_get("acme", "notes", key).expect("kv_get").as_deref(),
            Some(value.as_bytes()),
            "{key} was acknowledged but is not there after reopening"
        );
    }
}

/// A [`MemoryStore`] whose flushes can be held inside `flush` (on two
/// barriers: entered, then released) and made to fail.
#[derive(Default)]
struct GatedStore {
    inner: MemoryStore,
    flushes: AtomicUsize,
    /// How many of the next flushes stop at the gate.
    gated: AtomicUsize,
    fail: AtomicBool,
    gate: Mutex<Option<(Arc<Barrier>, Arc<Barrier>)>>,
}

impl GatedStore {
    /// Makes the next `count` flushes stop at the gate; returns (entered, release).
    fn hold(&self, count: usize) -> (Arc<Barrier>, Arc<Barrier>) {
        let gate = (Arc::new(Barrier::new(2)), Arc::new(Barrier::new(2)));
        *self.gate.lock().unwrap() = Some(gate.clone());
        self.gated.store(count, Ordering::SeqCst);
        gate
    }
}

impl Store for GatedStore {
    fn get(&self, tree: Tree, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.get(tree, key)
    }
    fn scan(&self, tree: Tree, prefix: &[u8], start: Option<&[u8]>) -> Result<Entries<'_>, StoreError> {
        self.inner.scan(tree, prefix, start)
    }
    fn apply(&self, batch: &Batch) -> Result<bool, StoreError> {
        self.inner.apply(batch)
    }
    fn next_id(&self) -> Result<u64, StoreError> {
        self.inner.next_id()
    }
    fn flush(&self) -> Result<(), StoreError> {
        // Whether it fails is decided when it starts.
        let fail = self.fail.load(Ordering::SeqCst);
        self.flushes.fetch_add(1, Ordering::SeqCst);
        let gated = self
            .gated
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| left.checked_sub(1))
            .is_ok();
        if gated {
            let (entered, release) = self.gate.lock().unwrap().clone().expect("a gate");
            entered.wait();
            release.wait();
        }
        if fail {
            return Err(StoreError("the disk is full; free some space".to_owned()));
        }
        self.inner.flush()
    }
}

fn gated_registry() -> (tempfile::TempDir, Arc<GatedStore>, Registry) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Arc::new(GatedStore::default());
    let registry =
        Registry::with_store(store.clone(), dir.path(), RegistryConfig::default()).expect("registry");
    (dir, store, registry)
}

/// Whether the ticket has completed, without waiting (and its result when it has).
fn poll_now(ticket: &mut FlushTicket) -> Poll<Result<(), RegistryError>> {
    Pin::new(ticket).poll(&mut Context::from_waker(Waker::noop()))
}

/// Commits `k0`…`k{count-1}` to acme's notes, one call each, without waiting: their tickets.
fn commit_keys(registry: &Registry, count: usize) -> Vec<FlushTicket> {
    (0..count)
        .map(|n| {
            registry
                .kv_commit(
                    "acme",
                    "notes",
                    &[set(&format!("k{n}"), "v")],
                    DataQuota::UNLIMITED,
                )
                .expect("apply")
        })
        .collect()
}

#[test]
fn a_ticket_registered_during_a_flush_waits_for_the_next_one() {
    let (_dir, store, registry) = gated_registry();
    let (entered, release) = store.hold(2);
    let first = {
        let registry = registry.clone();
        std::thread::spawn(move || registry.kv_apply("acme", "notes", &[set("a", "1")], DataQuota::UNLIMITED))
    };
    entered.wait(); // the first flush is running, covering only `a`
    let flushes_so_far = store.flushes.load(Ordering::SeqCst);
    let mut second = registry
        .kv_commit("acme", "notes", &[set("b", "2")], DataQuota::UNLIMITED)
        .expect("apply b");
    assert!(poll_now(&mut second).is_pending());
    release.wait(); // the first flush completes
    first.join().expect("writer").expect("a acknowledged");
    entered.wait(); // the next flush started: the first one has completed all it covered
    assert_eq!(store.flushes.load(Ordering::SeqCst), flushes_so_far + 1);
    assert!(
        poll_now(&mut second).is_pending(),
        "a ticket registered during a flush was completed by it"
    );
    release.wait();
    second.wait().expect("b acknowledged by the next flush");
    assert_eq!(
        registry.kv_get("acme", "notes", "b").expect("get").as_deref(),
        Some(&b"2"[..])
    );
}

#[test]
fn a_flush_error_reaches_every_ticket_it_covered_and_the_next_flush_works() {
    let (_dir, store, registry) = gated_registry();
    let (entered, release) = store.hold(1);
    let first = registry
        .kv_commit("acme", "notes", &[set("a", "1")], DataQuota::UNLIMITED)
        .expect("apply a");
    entered.wait(); // the first flush is running (and will succeed)
    let covered = commit_keys(&registry, 4);
    store.fail.store(true, Ordering::SeqCst);
    release.wait();
    first.wait().expect("the first flush succeeded");
    for ticket in covered {
        let error = ticket.wait().expect_err("the failed flush covered it");
        assert!(error.to_string().contains("the disk is full"), "{error}");
    }
    let stats = registry.flush_stats();
    assert_eq!(stats.failed_flushes, 1);
    assert!(stats.largest_group >= 4, "{stats:?}");

    store.fail.store(false, Ordering::SeqCst);
    registry
        .kv_apply("acme", "notes", &[set("after", "1")], DataQuota::UNLIMITED)
        .expect("the next flush works");
    registry
        .kv_snapshot("acme", "notes")
        .expect("record writes flush too");
    assert_eq!(registry.flush_stats().failed_flushes, 1);
}

#[test]
fn dropping_the_registry_completes_pending_tickets() {
    let (_dir, store, registry) = gated_registry();
    let (entered, release) = store.hold(1);
    let first = registry
        .kv_commit("acme", "notes", &[set("a", "1")], DataQuota::UNLIMITED)
        .expect("apply a");
    entered.wait();
    let pending = commit_keys(&registry, 3);
    let dropping = std::thread::spawn(move || drop(registry));
    release.wait();
    dropping.join().expect("the drop returned");
    first.wait().expect("a acknowledged");
    for ticket in pending {
        ticket
            .wait()
            .expect("a pending ticket was completed before the flusher closed");
    }
    assert!(
        store.flushes.load(Ordering::SeqCst) >= 3,
        "open, a, then the pending ones"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_writers_await_their_tickets() {
    let (dir, registry) = support::registry();
    let tasks: Vec<_> = (0..32)
        .map(|task| {
            let registry = registry.clone();
            tokio::spawn(async move {
                for write in 0..20 {
                    registry
                        .kv_commit(
                            "acme",
                            "notes",
                            &[set(&format!("t{task}-{write}"), "v")],
                            DataQuota::UNLIMITED,
                        )
                        .expect("apply")
                        .await
                        .expect("durable");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task");
    }
    // A sync write from a worker blocks in place rather than starving it.
    registry
        .kv_apply("acme", "notes", &[set("sync", "1")], DataQuota::UNLIMITED)
        .expect("sync write");
    drop(registry);
    let reopened = support::reopen(dir.path());
    assert_eq!(
        reopened
            .kv_get("acme", "notes", "t31-19")
            .expect("get")
            .as_deref(),
        Some(&b"v"[..])
    );
}
