//! The store contract checked against every engine: the same assertions on [`MemoryStore`] and [`DiskStore`].

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use super::{Batch, DiskStore, MemoryStore, Store, Tree};

const A: Tree = Tree::new("a");
const B: Tree = Tree::new("b");

fn keys(store: &dyn Store, tree: Tree, prefix: &[u8], start: Option<&[u8]>) -> Vec<Vec<u8>> {
    store
        .scan(tree, prefix, start)
        .expect("scan")
        .map(|entry| entry.expect("entry").0)
        .collect()
}

fn put_get_delete(store: &dyn Store) {
    assert_eq!(store.get(A, b"k").unwrap(), None);
    store.put(A, b"k", b"v").unwrap();
    assert_eq!(store.get(A, b"k").unwrap(), Some(b"v".to_vec()));
    assert_eq!(store.get(B, b"k").unwrap(), None, "trees are separate");
    store.put(A, b"k", b"w").unwrap();
    assert_eq!(store.get(A, b"k").unwrap(), Some(b"w".to_vec()));
    store.delete(A, b"k").unwrap();
    assert_eq!(store.get(A, b"k").unwrap(), None);
    store.delete(A, b"never").unwrap();
}

fn scans(store: &dyn Store) {
    for key in [&b"p/b"[..], b"p/a", b"p/c", b"o", b"q", b"p"] {
        store.put(B, key, key).unwrap();
    }
    assert_eq!(
        keys(store, B, b"p/", None),
        [b"p/a".to_vec(), b"p/b".to_vec(), b"p/c".to_vec()]
    );
    assert_eq!(
        keys(store, B, b"p/", Some(b"p/b")),
        [b"p/b".to_vec(), b"p/c".to_vec()]
    );
    assert_eq!(
        keys(store, B, b"p/", Some(b"a")),
        keys(store, B, b"p/", None),
        "a start before the prefix"
    );
    assert_eq!(keys(store, B, b"", None).len(), 6);
    assert!(keys(store, B, b"z", None).is_empty());
    let (key, value) = store.scan_prefix(B, b"q").unwrap().next().unwrap().unwrap();
    assert_eq!((key.as_slice(), value.as_slice()), (&b"q"[..], &b"q"[..]));
}

fn atomic_batches(store: &dyn Store) {
    store.put(A, b"old", b"1").unwrap();
    let mut batch = Batch::new();
    batch.put(A, b"x", b"1").put(B, b"y", b"2").delete(A, b"old");
    assert!(store.apply(&batch).unwrap());
    assert_eq!(store.get(A, b"x").unwrap(), Some(b"1".to_vec()));
    assert_eq!(store.get(B, b"y").unwrap(), Some(b"2".to_vec()));
    assert_eq!(store.get(A, b"old").unwrap(), None);

    let mut refused = Batch::new();
    refused
        .require_absent(A, b"x")
        .put(A, b"z", b"3")
        .put(B, b"y", b"changed");
    assert!(!store.apply(&refused).unwrap(), "x exists, so nothing is written");
    assert_eq!(store.get(A, b"z").unwrap(), None);
    assert_eq!(store.get(B, b"y").unwrap(), Some(b"2".to_vec()));

    let mut conditional = Batch::new();
    conditional.require_absent(A, b"z").put(A, b"z", b"3");
    assert!(store.apply(&conditional).unwrap());
    assert!(!store.apply(&conditional).unwrap(), "second time z exists");

    let mut ordered = Batch::new();
    ordered
        .put(A, b"o", b"first")
        .delete(A, b"o")
        .put(A, b"p", b"1")
        .put(A, b"p", b"2");
    assert!(store.apply(&ordered).unwrap());
    assert_eq!(store.get(A, b"o").unwrap(), None, "writes apply in order");
    assert_eq!(store.get(A, b"p").unwrap(), Some(b"2".to_vec()));
    assert!(store.apply(&Batch::new()).unwrap());
    store.flush().unwrap();
}

fn ids(store: &dyn Store) -> u64 {
    let first = store.next_id().unwrap();
    let second = store.next_id().unwrap();
    assert!(second > first);
    let appended = store.append(B, b"entry").unwrap();
    assert!(appended > second);
    assert_eq!(
        store.get(B, &appended.to_be_bytes()).unwrap(),
        Some(b"entry".to_vec())
    );
    appended
}

fn conformance(store: &dyn Store) {
    put_get_delete(store);
    scans(store);
    atomic_batches(store);
    ids(store);
}

#[test]
fn memory_store_keeps_the_contract() {
    conformance(&MemoryStore::new());
}

#[test]
fn disk_store_keeps_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    conformance(&DiskStore::open(dir.path()).unwrap());
}

#[test]
fn disk_store_ids_stay_monotonic_and_data_durable_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let before = {
        let store = DiskStore::open(dir.path()).unwrap();
        let mut batch = Batch::new();
        batch.put(A, b"kept", b"yes").put(B, b"kept", b"too");
        assert!(store.apply(&batch).unwrap());
        let id = ids(&store);
        store.flush().unwrap();
        id
    };
    let store = DiskStore::open(dir.path()).unwrap();
    assert_eq!(store.get(A, b"kept").unwrap(), Some(b"yes".to_vec()));
    assert_eq!(store.get(B, b"kept").unwrap(), Some(b"too".to_vec()));
    let after = ids(&store);
    assert!(after > before, "{after} after reopening must exceed {before}");
}
