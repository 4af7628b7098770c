//! A load probe, not a timed test: 32 threads committing one small kv write each for 3 s on a real on-disk registry; prints writes/s.
//!
//! Run with `cargo test -p modhost-registry --test kv_throughput -- --ignored --nocapture`.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::print_stdout,
    reason = "test code: a failed expectation is a failed test; the probe reports its figures"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use modhost_registry::{DataQuota, DataWrite, Registry, RegistryConfig};

const THREADS: usize = 32;
const RUN_FOR: Duration = Duration::from_secs(3);

#[test]
#[ignore = "a load probe: run by hand with --ignored --nocapture"]
fn kv_apply_throughput() {
    let dir = tempfile::tempdir().expect("temp dir");
    let registry = Registry::open(dir.path(), RegistryConfig::default()).expect("open registry");
    let stop = Arc::new(AtomicBool::new(false));
    let writes = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..THREADS)
        .map(|thread| {
            let (registry, stop, writes) = (registry.clone(), stop.clone(), writes.clone());
            std::thread::spawn(move || {
                let mut n = 0_u64;
                while !stop.load(Ordering::Relaxed) {
                    let write = DataWrite::Set {
                        key: format!("k{thread}"),
                        value: n.to_be_bytes().to_vec(),
                    };
                    registry
                        .kv_apply("acme", "probe", &[write], DataQuota::UNLIMITED)
                        .expect("kv_apply");
                    n += 1;
                    writes.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let started = Instant::now();
    std::thread::sleep(RUN_FOR);
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        worker.join().expect("worker");
    }
    let elapsed = started.elapsed().as_secs_f64();
    let writes = writes.load(Ordering::Relaxed);
    #[allow(clippy::cast_precision_loss, reason = "a rough rate")]
    let rate = writes as f64 / elapsed;
    let stats = registry.flush_stats();
    #[allow(clippy::cast_precision_loss, reason = "a rough ratio")]
    let per_flush = stats.tickets as f64 / stats.flushes.max(1) as f64;
    println!(
        "kv_apply probe: {THREADS} threads, {writes} writes in {elapsed:.2} s = {rate:.0} writes/s; \
         {} flushes for {} tickets ({per_flush:.1} per flush, largest group {}, {:?} inside flush)",
        stats.flushes, stats.tickets, stats.largest_group, stats.flush_time
    );
}
