//! Module data usage and quotas: exact usage across writes, restores and reopening, refusals that write nothing, commits racing from many threads.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "test code: a failed expectation is a failed test"
)]

mod support;

use std::sync::Arc;

use modhost_registry::store::{MemoryStore, Store, Tree};
use modhost_registry::{DataQuota, DataUsage, DataWrite, Registry, RegistryConfig, RegistryError};

fn set(key: &str, value: &str) -> DataWrite {
    DataWrite::Set {
        key: key.to_owned(),
        value: value.as_bytes().to_vec(),
    }
}

fn delete(key: &str) -> DataWrite {
    DataWrite::Delete { key: key.to_owned() }
}

fn usage(keys: u64, bytes: u64) -> DataUsage {
    DataUsage { keys, bytes }
}

const TEN_KEYS: DataQuota = DataQuota {
    max_keys: 10,
    max_bytes: 1000,
};

#[test]
fn usage_counts_keys_and_bytes_through_sets_overwrites_and_deletes_and_survives_a_reopen() {
    let (dir, registry) = support::registry();
    assert_eq!(registry.kv_usage("acme", "notes").expect("usage"), usage(0, 0));
    registry
        .kv_apply(
            "acme",
            "notes",
            &[
                set("a", "1234"),
                set("bb", "12"),
                set("a", "1"),
                delete("missing"),
            ],
            TEN_KEYS,
        )
        .expect("apply");
    // a=1 (2 bytes), bb=12 (4 bytes).
    assert_eq!(registry.kv_usage("acme", "notes").expect("usage"), usage(2, 6));
    registry
        .kv_apply("acme", "notes", &[delete("a"), set("bb", "123456")], TEN_KEYS)
        .expect("apply");
    assert_eq!(registry.kv_usage("acme", "notes").expect("usage"), usage(1, 8));
    assert_eq!(registry.kv_usage("acme", "other").expect("usage"), usage(0, 0));
    drop(registry);
    let registry = support::reopen(dir.path());
    assert_eq!(registry.kv_usage("acme", "notes").expect("usage"), usage(1, 8));
    assert_eq!(
        registry.kv_usages().expect("usages"),
        vec![("acme".to_owned(), "notes".to_owned(), usage(1, 8))]
    );
}

#[test]
fn a_scope_without_a_usage_record_is_counted_once_by_a_scan() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Arc::new(MemoryStore::default());
    let registry =
        Registry::with_store(store.clone(), dir.path(), RegistryConfig::default()).expect("registry");
    registry.kv_set("acme", "notes", "a", b"123").expect("set");
    registry.kv_set("acme", "notes", "b", b"").expect("set");
    // As data written before usage was tracked: no record.
    store
        .delete(Tree::new("kv_usage"), b"acme\0notes\0")
        .expect("delete the record");
    assert_eq!(registry.kv_usages().expect("usages"), vec![]);
    assert_eq!(registry.kv_usage("acme", "notes").expect("usage"), usage(2, 5));
    assert_eq!(
        registry.kv_usages().expect("usages"),
        vec![("acme".to_owned(), "notes".to_owned(), usage(2, 5))],
        "the count is recorded"
    );
}

#[test]
fn writes_past_the_quota_are_refused_whole_and_deletes_always_pass() {
    let (_dir, registry) = support::registry();
    let nine: Vec<DataWrite> = (0..9).map(|index| set(&format!("k{index}"), "v")).collect();
    registry
        .kv_apply("acme", "notes", &nine, TEN_KEYS)
        .expect("nine keys fit");
    let before = registry.kv_usage("acme", "notes").expect("usage");
    assert_eq!(before, usage(9, 27));
    let error = registry
        .kv_apply(
            "acme",
            "notes",
            &[set("k0", "changed"), set("new1", "v"), set("new2", "v")],
            TEN_KEYS,
        )
        .expect_err("eleven keys");
    assert!(
        matches!(&error, RegistryError::QuotaExceeded { tenant, module, after, quota }
            if tenant == "acme" && module == "notes" && *after == usage(11, 43) && *quota == TEN_KEYS),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "acme/notes's data would hold 11 keys, 43 bytes (quota 10 keys, 1000 bytes); delete data, or have the operator or the module's manifest raise the quota"
    );
    assert_eq!(registry.kv_usage("acme", "notes").expect("usage"), before);
    assert_eq!(
        registry.kv_get("acme", "notes", "k0").expect("get"),
        Some(b"v".to_vec())
    );
    assert_eq!(registry.kv_get("acme", "notes", "new1").expect("get"), None);
    // Bytes: one value of 1000 bytes would pass 1000 bytes in all.
    let error = registry
        .kv_apply("acme", "notes", &[set("big", &"x".repeat(1000))], TEN_KEYS)
        .expect_err("too many bytes");
    assert!(matches!(error, RegistryError::QuotaExceeded { after, .. } if after == usage(10, 1030)));
    // Over a lowered quota: shrinking passes, growing does not.
    let two = DataQuota {
        max_keys: 2,
        max_bytes: 1000,
    };
    registry
        .kv_apply("acme", "notes", &[delete("k0"), set("k1", "")], two)
        .expect("shrinking passes over the quota");
    assert_eq!(registry.kv_usage("acme", "notes").expect("usage"), usage(8, 23));
    let error = registry
        .kv_apply(
            "acme",
            "notes",
            &[delete("k2"), set("n1", "v"), set("n2", "v")],
            two,
        )
        .expect_err("one out, two in: still growing");
    assert!(matches!(error, RegistryError::QuotaExceeded { after, .. } if after == usage(9, 26)));
}

#[test]
fn commits_racing_from_many_threads_never_pass_the_quota_together() {
    let (_dir, registry) = support::registry();
    let quota = DataQuota {
        max_keys: 100,
        max_bytes: u64::MAX,
    };
    // 16 threads each commit 20 keys of their own (`tNN-NN` = `v`, 7 bytes): at most 5 may pass.
    let outcomes: Vec<Result<(), RegistryError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..16)
            .map(|thread| {
                let registry = &registry;
                scope.spawn(move || {
                    let writes: Vec<DataWrite> = (0..20)
                        .map(|index| set(&format!("t{thread:02}-{index:02}"), "v"))
                        .collect();
                    registry.kv_apply("acme", "notes", &writes, quota)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().expect("no panic"))
            .collect()
    });
    let passed = outcomes.iter().filter(|outcome| outcome.is_ok()).count();
    let refused = outcomes
        .iter()
        .filter(
            |outcome| matches!(outcome, Err(RegistryError::QuotaExceeded { after, .. }) if after.keys == 120),
        )
        .count();
    assert_eq!((passed, refused), (5, 11), "{outcomes:?}");
    assert_eq!(
        registry.kv_usage("acme", "notes").expect("usage"),
        usage(100, 100 * 7)
    );
    assert_eq!(
        registry
            .kv_list("acme", "notes", "", None, 1000)
            .expect("list")
            .len(),
        100
    );
}

#[test]
fn restoring_a_snapshot_restores_its_usage() {
    let (_dir, registry) = support::registry();
    registry.kv_set("acme", "notes", "a", b"1").expect("set");
    let snapshot = registry.kv_snapshot("acme", "notes").expect("snapshot");
    registry.kv_set("acme", "notes", "b", b"22").expect("set");
    registry.kv_set("acme", "notes", "a", b"111").expect("set");
    assert_eq!(registry.kv_usage("acme", "notes").expect("usage"), usage(2, 7));
    registry
        .kv_restore_snapshot("acme", "notes", snapshot)
        .expect("restore");
    assert_eq!(registry.kv_usage("acme", "notes").expect("usage"), usage(1, 2));
}
