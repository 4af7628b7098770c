//! The registry over the storage seam: the in-memory store, one batch and one flush per `kv_apply`, unknown record formats.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "test code: a failed expectation is a failed test"
)]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use modhost_registry::store::{Batch, Entries, MemoryStore, Store, StoreError, Tree};
use modhost_registry::{DataQuota, DataWrite, Registry, RegistryConfig, RegistryError, TenantKind};

/// A [`MemoryStore`] that counts batches and flushes, and can be told to fail batches.
#[derive(Default)]
struct CountingStore {
    inner: MemoryStore,
    applies: AtomicUsize,
    flushes: AtomicUsize,
    fail_applies: std::sync::atomic::AtomicBool,
}

impl Store for CountingStore {
    fn get(&self, tree: Tree, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.get(tree, key)
    }
    fn scan(&self, tree: Tree, prefix: &[u8], start: Option<&[u8]>) -> Result<Entries<'_>, StoreError> {
        self.inner.scan(tree, prefix, start)
    }
    fn apply(&self, batch: &Batch) -> Result<bool, StoreError> {
        if self.fail_applies.load(Ordering::SeqCst) {
            return Err(StoreError("the disk is full".to_owned()));
        }
        self.applies.fetch_add(1, Ordering::SeqCst);
        self.inner.apply(batch)
    }
    fn next_id(&self) -> Result<u64, StoreError> {
        self.inner.next_id()
    }
    fn flush(&self) -> Result<(), StoreError> {
        self.flushes.fetch_add(1, Ordering::SeqCst);
        self.inner.flush()
    }
}

fn counting_registry() -> (tempfile::TempDir, Arc<CountingStore>, Registry) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Arc::new(CountingStore::default());
    let registry =
        Registry::with_store(store.clone(), dir.path(), RegistryConfig::default()).expect("registry");
    (dir, store, registry)
}

fn set(key: &str, value: &str) -> DataWrite {
    DataWrite::Set {
        key: key.to_owned(),
        value: value.as_bytes().to_vec(),
    }
}

#[test]
fn kv_apply_is_one_batch_and_one_flush_in_order() {
    let (_dir, store, registry) = counting_registry();
    registry
        .kv_apply("acme", "notes", &[set("gone", "x")], DataQuota::UNLIMITED)
        .expect("seed");
    let (applies, flushes) = (
        store.applies.load(Ordering::SeqCst),
        store.flushes.load(Ordering::SeqCst),
    );
    let writes = [
        set("a", "1"),
        set("b", "2"),
        DataWrite::Delete {
            key: "gone".to_owned(),
        },
        set("a", "3"),
        set("c", "4"),
        DataWrite::Delete { key: "c".to_owned() },
    ];
    registry
        .kv_apply("acme", "notes", &writes, DataQuota::UNLIMITED)
        .expect("apply");
    assert_eq!(store.applies.load(Ordering::SeqCst), applies + 1, "one batch");
    assert_eq!(store.flushes.load(Ordering::SeqCst), flushes + 1, "one flush");
    assert_eq!(
        registry.kv_list("acme", "notes", "", None, 10).expect("list"),
        ["a", "b"]
    );
    assert_eq!(
        registry.kv_get("acme", "notes", "a").expect("get"),
        Some(b"3".to_vec())
    );
    assert_eq!(
        registry.kv_get("banban", "notes", "a").expect("get"),
        None,
        "scopes are separate"
    );

    store.fail_applies.store(true, Ordering::SeqCst);
    let error = registry
        .kv_apply(
            "acme",
            "notes",
            &[set("a", "lost"), set("d", "lost")],
            DataQuota::UNLIMITED,
        )
        .expect_err("the store fails");
    assert!(error.to_string().contains("the disk is full"), "{error}");
    store.fail_applies.store(false, Ordering::SeqCst);
    assert_eq!(
        registry.kv_get("acme", "notes", "a").expect("get"),
        Some(b"3".to_vec()),
        "none of it"
    );
    assert_eq!(registry.kv_get("acme", "notes", "d").expect("get"), None);
}

#[test]
fn a_record_in_an_unknown_format_is_refused_with_what_to_do() {
    let (_dir, store, registry) = counting_registry();
    support::tenant(&registry, "acme", TenantKind::Standard);
    store
        .put(
            Tree::new("tenants"),
            b"future",
            br#"{"format":7,"id":"future","name":"F","kind":"standard"}"#,
        )
        .expect("put");
    let error = registry.tenant("future").expect_err("format 7");
    assert!(matches!(error, RegistryError::Storage(_)), "{error:?}");
    assert_eq!(
        error.to_string(),
        "the registry's storage failed: a stored tenant record has format version 7; this build reads 1; upgrade modhost"
    );
    assert!(registry.tenants().is_err(), "listing does not skip it silently");
    assert_eq!(registry.tenant("acme").expect("acme").id, "acme");
}

#[test]
fn the_in_memory_registry_runs_the_whole_flow() {
    let dir = tempfile::tempdir().expect("temp dir");
    let registry = Registry::in_memory(dir.path(), RegistryConfig::default()).expect("registry");
    support::tenant(&registry, "acme", TenantKind::Standard);
    let published = support::publish(
        &registry,
        "notes",
        "1.0.0",
        "standard",
        &[],
        "",
        &support::operator(),
    );
    registry
        .promote("acme", "notes", &published.version, support::OPERATOR)
        .expect("promote");
    registry.kv_set("acme", "notes", "k", b"v").expect("set");
    let snapshot = registry.kv_snapshot("acme", "notes").expect("snapshot");
    registry.kv_set("acme", "notes", "k", b"changed").expect("set");
    registry
        .kv_restore_snapshot("acme", "notes", snapshot)
        .expect("restore");
    assert_eq!(
        registry.kv_get("acme", "notes", "k").expect("get"),
        Some(b"v".to_vec())
    );
    assert_eq!(registry.active_deployments().expect("active").len(), 1);
    let audit = registry.audit(&Default::default()).expect("audit");
    assert!(
        audit.windows(2).all(|pair| pair[0].id < pair[1].id),
        "audit ids increase"
    );
}
