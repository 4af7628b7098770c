//! Tenant lifecycle and garbage collection through the registry's API: suspend and resume, a delete that removes exactly one tenant's records, and a collection (and its dry run) that removes exactly what nothing references.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "test code: a failed expectation is a failed test"
)]

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use modhost_registry::store::{MemoryStore, Store, Tree};
use modhost_registry::{
    Alert, AlertEvent, AlertRule, AlertState, AuditQuery, BackupScheduleSpec, Channel, ChannelTarget,
    Delivery, DeliveryState, NewImplementation, NewMilestone, NewToken, Publisher, Registry, RegistryConfig,
    RegistryError, RegistryEvent, Role, RollbackTarget, RuleKind, Severity, TenantKind, now_ms,
};
use support::*;

const LOW_STOCK_FIELD: &str = "[config.fields.low_stock]\ntype = \"int\"\ndefault = 5\nmin = 0\n";

/// Every tree a registry writes (a tree nothing wrote reads as empty).
const TREES: &[&str] = &[
    "tenants",
    "modules",
    "deployments",
    "configs",
    "canaries",
    "rings",
    "rollouts",
    "tokens",
    "kv",
    "kv_snapshots",
    "kv_usage",
    "meta",
    "alert_rules",
    "alert_channels",
    "alerts",
    "alert_open",
    "alert_silences",
    "outbox",
    "outbox_done",
    "backup_schedules",
    "implementations",
];

type Dump = BTreeMap<(&'static str, Vec<u8>), Vec<u8>>;

/// Every entry of every tree but the audit log.
fn dump(store: &MemoryStore) -> Dump {
    let mut entries = Dump::new();
    for name in TREES {
        for entry in store.scan_prefix(Tree::new(name), &[]).unwrap() {
            let (key, value) = entry.unwrap();
            entries.insert((*name, key), value);
        }
    }
    entries
}

fn in_memory() -> (tempfile::TempDir, Arc<MemoryStore>, Registry) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Arc::new(MemoryStore::new());
    let registry = Registry::with_store(store.clone(), dir.path(), RegistryConfig::default()).unwrap();
    (dir, store, registry)
}

/// Publishes the standard `stock` 1.0.0 and 1.1.0 (with a config field).
fn publish_stock(registry: &Registry) {
    for release in ["1.0.0", "1.1.0"] {
        publish(
            registry,
            "stock",
            release,
            "standard",
            &[],
            LOW_STOCK_FIELD,
            &operator(),
        );
    }
}

/// Gives `tenant` one of everything a tenant can have: deployments (one
/// across a migration, so its history names a snapshot), config, data, a
/// canary, a ring, a backup schedule, an implementation project, tokens, an
/// alert rule, a channel, an alert about it with a silence and a delivery,
/// and a custom module of its own.
fn populate(registry: &Registry, tenant: &str) {
    support::tenant(registry, tenant, TenantKind::Custom);
    registry
        .promote(tenant, "stock", &version("1.0.0"), OPERATOR)
        .unwrap();
    let mut values = serde_json::Map::new();
    values.insert("low_stock".into(), serde_json::json!(3));
    registry.set_config(tenant, "stock", values, OPERATOR).unwrap();
    for key in ["a", "b", "c"] {
        registry
            .kv_set(tenant, "stock", key, key.repeat(10).as_bytes())
            .unwrap();
    }
    let snapshot = registry.kv_snapshot(tenant, "stock").unwrap();
    registry
        .promote_migrated(tenant, "stock", &version("1.1.0"), OPERATOR, Some(snapshot))
        .unwrap();
    registry
        .start_canary(tenant, "stock", &version("1.0.0"), 10, OPERATOR)
        .unwrap();
    let grid = format!("{tenant}-grid");
    publish(
        registry,
        &grid,
        "1.0.0",
        "custom",
        &[],
        "",
        &Publisher::Tenant(tenant.to_owned()),
    );
    registry
        .promote(tenant, &grid, &version("1.0.0"), OPERATOR)
        .unwrap();
    registry.set_ring(tenant, Some("beta"), OPERATOR).unwrap();
    let schedule = BackupScheduleSpec {
        interval_secs: 3600,
        keep_count: 3,
        max_age_days: None,
    };
    registry.set_backup_schedule(tenant, schedule, OPERATOR).unwrap();
    let project = NewImplementation {
        name: format!("{tenant} onboarding"),
        milestones: vec![NewMilestone {
            id: "kickoff".into(),
            title: "Kick-off".into(),
            due_date: "2020-01-15".into(),
            status: "in-progress".into(),
            ..NewMilestone::default()
        }],
    };
    registry.put_implementation(tenant, project, OPERATOR).unwrap();
    for role in [Role::TenantAdmin, Role::Invoker] {
        let new = NewToken {
            name: format!("{tenant} {}", role.name()),
            role,
            tenant: Some(tenant.to_owned()),
            permissions: None,
        };
        registry.create_token(new, OPERATOR).unwrap();
    }
    registry
        .create_channel(
            Channel {
                tenant: Some(tenant.to_owned()),
                name: "pager".into(),
                target: ChannelTarget::Webhook {
                    url: "https://hooks.example.com/pager".into(),
                },
                secret: Some("s3cret".into()),
                created_by: OPERATOR.into(),
                created_at_ms: 0,
            },
            OPERATOR,
        )
        .unwrap();
    registry
        .put_alert_rule(
            AlertRule {
                tenant: Some(tenant.to_owned()),
                name: "traps".into(),
                kind: RuleKind::Traps,
                series: None,
                module: None,
                threshold: 1.0,
                window_secs: 60,
                min_count: 1,
                severity: Severity::Warning,
                channels: vec!["pager".into()],
                escalate_after_secs: 0,
                updated_by: OPERATOR.into(),
                updated_at_ms: 0,
            },
            OPERATOR,
        )
        .unwrap();
    let alert = Alert {
        id: registry.next_alert_id().unwrap(),
        rule_tenant: Some(tenant.to_owned()),
        rule: "traps".into(),
        kind: RuleKind::Traps,
        tenant: Some(tenant.to_owned()),
        module: Some("stock".into()),
        state: AlertState::Firing,
        severity: Severity::Warning,
        value: 2.0,
        threshold: 1.0,
        summary: "2 traps".into(),
        escalation: 1,
        fired_at_ms: now_ms(),
        escalated_at_ms: now_ms(),
        acknowledged: None,
        resolved_at_ms: None,
        silenced_until_ms: None,
    };
    let delivery = Delivery {
        id: registry.next_alert_id().unwrap(),
        idempotency_key: format!("{tenant}-1"),
        channel_tenant: Some(tenant.to_owned()),
        channel: "pager".into(),
        event: AlertEvent::Firing,
        alert: Some(alert.clone()),
        state: DeliveryState::Pending,
        attempts: 0,
        created_at_ms: now_ms(),
        next_attempt_at_ms: now_ms(),
        last_error: None,
        finished_at_ms: None,
    };
    registry.save_alert(&alert, &[delivery], None).unwrap();
    registry
        .silence_alert(alert.id, now_ms() + 60_000, OPERATOR)
        .unwrap();
}

#[test]
fn deleting_a_tenant_removes_exactly_its_records_and_nothing_of_another() {
    let (_dir, store, registry) = in_memory();
    publish_stock(&registry);
    populate(&registry, "acme");
    let before = dump(&store);
    let acme_before = registry.kv_list("acme", "stock", "", None, 100).unwrap();

    populate(&registry, "banban");
    registry
        .suspend_tenant("banban", Some("unpaid".into()), OPERATOR)
        .unwrap();
    assert!(
        dump(&store).len() > before.len() + 20,
        "banban has records of its own"
    );
    let mut events = registry.subscribe();
    let report = registry.delete_tenant("banban", OPERATOR).unwrap();

    assert_eq!(
        dump(&store),
        before,
        "the store is exactly what it was before banban existed (audit log aside)"
    );
    assert_eq!(
        registry.kv_list("acme", "stock", "", None, 100).unwrap(),
        acme_before
    );
    assert_eq!(registry.tenants().unwrap().len(), 1);
    assert_eq!(
        (
            report.deployments,
            report.configs,
            report.canaries,
            report.kv_entries,
            report.kv_bytes,
            report.snapshots,
        ),
        (2, 1, 1, 3, 3 + 30, 1)
    );
    assert_eq!(
        (
            report.tokens,
            report.alert_rules,
            report.channels,
            report.alerts,
            report.deliveries,
            report.ring.as_deref(),
        ),
        (2, 1, 1, 1, 1, Some("beta"))
    );
    assert_eq!(report.module_versions, ["banban-grid@1.0.0"]);
    assert!(report.backup_schedule);
    assert_eq!(registry.backup_schedule("banban").unwrap(), None);
    assert!(report.kept_module_versions.is_empty());
    assert_eq!(
        events.try_recv().unwrap(),
        RegistryEvent::TenantChanged {
            tenant: "banban".into()
        }
    );
    let error = registry.tenant("banban").unwrap_err();
    assert_eq!(error.to_string(), "tenant `banban` does not exist");
    let audit = registry
        .audit(&AuditQuery {
            action: Some("tenant.delete".into()),
            ..AuditQuery::default()
        })
        .unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(
        audit[0].detail.as_deref(),
        Some(
            "removed 2 deployments, 1 configs, 1 canaries, 3 data entries (33 bytes), 1 snapshots, 2 tokens, 1 alert rules, 1 channels, 1 alerts, 1 deliveries, 1 module versions"
        )
    );
    // The id is free again, and a new tenant under it starts empty.
    support::tenant(&registry, "banban", TenantKind::Standard);
    assert!(registry.deployments_of("banban").unwrap().is_empty());
    assert_eq!(registry.kv_usage("banban", "stock").unwrap(), Default::default());
}

#[test]
fn unknown_tenants_are_refused_with_the_typed_error() {
    let (_dir, registry) = registry();
    for error in [
        registry.delete_tenant("nobody", OPERATOR).unwrap_err(),
        registry.suspend_tenant("nobody", None, OPERATOR).unwrap_err(),
        registry.resume_tenant("nobody", OPERATOR).unwrap_err(),
    ] {
        assert!(matches!(&error, RegistryError::TenantNotFound(id) if id == "nobody"));
        assert_eq!(error.to_string(), "tenant `nobody` does not exist");
    }
}

#[test]
fn suspension_is_kept_on_the_tenant_record_audited_and_announced() {
    let (dir, registry) = registry();
    support::tenant(&registry, "acme", TenantKind::Standard);
    let mut events = registry.subscribe();

    let suspended = registry
        .suspend_tenant("acme", Some("  unpaid invoice ".into()), OPERATOR)
        .unwrap();
    let suspension = suspended.suspended.clone().expect("suspended");
    assert_eq!(suspension.reason.as_deref(), Some("unpaid invoice"));
    assert_eq!(registry.tenant("acme").unwrap(), suspended);
    assert_eq!(
        events.try_recv().unwrap(),
        RegistryEvent::TenantChanged {
            tenant: "acme".into()
        }
    );
    let again = registry.suspend_tenant("acme", None, OPERATOR).unwrap_err();
    assert!(matches!(again, RegistryError::Conflict(_)));
    assert_eq!(
        again.to_string(),
        "tenant `acme` is already suspended; resume it first with `modhost tenant resume acme`"
    );
    let bad = registry
        .suspend_tenant("banban", Some("x".repeat(300)), OPERATOR)
        .unwrap_err();
    assert_eq!(
        bad.to_string(),
        "invalid reason: a suspension reason must be at most 256 characters without control characters"
    );

    // Kept across a restart; a record written before suspensions existed reads unsuspended.
    drop(registry);
    let registry = reopen(dir.path());
    assert_eq!(registry.tenant("acme").unwrap().suspended, Some(suspension));

    let resumed = registry.resume_tenant("acme", OPERATOR).unwrap();
    assert_eq!(resumed.suspended, None);
    assert_eq!(registry.tenant("acme").unwrap().suspended, None);
    let not_suspended = registry.resume_tenant("acme", OPERATOR).unwrap_err();
    assert_eq!(
        not_suspended.to_string(),
        "tenant `acme` is not suspended; there is nothing to resume"
    );
    let actions: Vec<(String, Option<String>)> = registry
        .audit(&AuditQuery {
            tenant: Some("acme".into()),
            ..AuditQuery::default()
        })
        .unwrap()
        .into_iter()
        .map(|entry| (entry.action, entry.detail))
        .collect();
    assert_eq!(actions[0].0, "tenant.create");
    assert_eq!(
        actions[1],
        ("tenant.suspend".into(), Some("unpaid invoice".into()))
    );
    assert_eq!(actions[2].0, "tenant.resume");
    assert!(actions[2].1.as_deref().unwrap().starts_with("suspended since "));
    assert_eq!(actions.len(), 3);
}

#[test]
fn tenant_records_written_before_suspensions_existed_read_unchanged() {
    let (_dir, store, registry) = in_memory();
    let legacy = br#"{"format":1,"id":"old","name":"Old","kind":"standard","organisation":{},"features":[],"created_at_ms":1,"updated_at_ms":2}"#;
    store.put(Tree::new("tenants"), b"old", legacy).unwrap();
    let tenant = registry.tenant("old").unwrap();
    assert_eq!((tenant.name.as_str(), tenant.suspended), ("Old", None));
    registry.suspend_tenant("old", None, OPERATOR).unwrap();
    let stored = store.get(Tree::new("tenants"), b"old").unwrap().unwrap();
    let stored: serde_json::Value = serde_json::from_slice(&stored).unwrap();
    assert!(stored["suspended"]["at_ms"].is_u64(), "{stored}");
    assert!(stored["suspended"].get("reason").is_none(), "{stored}");
    registry.resume_tenant("old", OPERATOR).unwrap();
    let stored = store.get(Tree::new("tenants"), b"old").unwrap().unwrap();
    let stored: serde_json::Value = serde_json::from_slice(&stored).unwrap();
    assert!(stored.get("suspended").is_none(), "{stored}");
}

/// Names of what a report lists, for comparing runs.
fn listed(report: &modhost_registry::GcReport) -> (Vec<String>, Vec<u64>, Vec<(String, String)>) {
    (
        report.blobs.iter().map(|blob| blob.name.clone()).collect(),
        report.snapshots.iter().map(|snapshot| snapshot.id).collect(),
        report
            .scopes
            .iter()
            .map(|scope| (scope.tenant.clone(), scope.module.clone()))
            .collect(),
    )
}

#[test]
fn garbage_collection_removes_only_what_nothing_references_and_a_dry_run_nothing() {
    let (dir, registry) = registry();
    publish_stock(&registry);
    support::tenant(&registry, "acme", TenantKind::Standard);
    registry
        .promote("acme", "stock", &version("1.0.0"), OPERATOR)
        .unwrap();
    registry.kv_set("acme", "stock", "sku", b"version one").unwrap();
    // Referenced: the snapshot of a promote that migrated.
    let kept_snapshot = registry.kv_snapshot("acme", "stock").unwrap();
    registry
        .promote_migrated("acme", "stock", &version("1.1.0"), OPERATOR, Some(kept_snapshot))
        .unwrap();
    registry.kv_set("acme", "stock", "sku", b"version two").unwrap();
    // Unreferenced: a snapshot no history names, a blob no version names,
    // a temporary file a crash left, data of a tenant that does not exist.
    let orphan_snapshot = registry.kv_snapshot("acme", "stock").unwrap();
    let orphan_blob = registry.blobs().put(b"a component nobody published").unwrap();
    let leftover_name = format!(".{}.4242.tmp", "ab".repeat(32));
    let leftover = registry
        .blobs()
        .location(&"ab".repeat(32))
        .unwrap()
        .with_file_name(&leftover_name);
    std::fs::create_dir_all(leftover.parent().unwrap()).unwrap();
    std::fs::write(&leftover, b"half a component").unwrap();
    registry.kv_set("ghost", "stock", "left", b"behind").unwrap();
    let referenced: Vec<String> = registry
        .versions(None, None)
        .unwrap()
        .into_iter()
        .map(|version| version.sha256)
        .collect();
    assert_eq!(
        registry.referenced_components().unwrap(),
        referenced.iter().cloned().collect()
    );

    let mut orphan_files = vec![leftover_name.clone(), orphan_blob.clone()];
    orphan_files.sort();
    let expected = (
        orphan_files,
        vec![orphan_snapshot],
        vec![("ghost".to_owned(), "stock".to_owned())],
    );
    let dry = registry.collect_garbage(true, Duration::ZERO).unwrap();
    assert!(dry.dry_run);
    assert_eq!(listed(&dry), expected);
    assert_eq!(dry.snapshots[0].entries, 1);
    assert_eq!(dry.scopes[0].entries, 1);
    assert_eq!(
        dry.blobs.iter().map(|blob| blob.bytes).sum::<u64>(),
        (b"a component nobody published".len() + b"half a component".len()) as u64
    );
    // The dry run removed nothing: a second one lists the same.
    assert_eq!(registry.collect_garbage(true, Duration::ZERO).unwrap(), dry);
    assert!(registry.blobs().location(&orphan_blob).unwrap().exists() && leftover.exists());
    assert_eq!(
        registry.kv_get("ghost", "stock", "left").unwrap(),
        Some(b"behind".to_vec())
    );

    // A grace keeps young blobs and snapshots; data of a missing tenant has none.
    let graced = registry
        .collect_garbage(false, Duration::from_secs(3600))
        .unwrap();
    assert_eq!(listed(&graced), (vec![], vec![], expected.2.clone()));
    assert!(registry.blobs().location(&orphan_blob).unwrap().exists() && leftover.exists());
    assert_eq!(registry.kv_get("ghost", "stock", "left").unwrap(), None);
    assert_eq!(
        registry.kv_usages().unwrap().len(),
        1,
        "only acme's scope has usage"
    );

    let real = registry.collect_garbage(false, Duration::ZERO).unwrap();
    assert!(!real.dry_run);
    assert_eq!(listed(&real), (expected.0.clone(), expected.1.clone(), vec![]));
    assert!(!registry.blobs().location(&orphan_blob).unwrap().exists());
    assert!(!leftover.exists());
    assert!(
        registry
            .collect_garbage(true, Duration::ZERO)
            .unwrap()
            .blobs
            .is_empty()
    );

    // What is referenced survived: every version's component reads back,
    // and a rollback across the migration restores the kept snapshot.
    for version in registry.versions(None, None).unwrap() {
        registry.component(&version).unwrap();
    }
    let change = registry
        .rollback("acme", "stock", &RollbackTarget::Previous, OPERATOR)
        .unwrap();
    assert_eq!(change.restored_snapshot, Some(kept_snapshot));
    assert_eq!(
        registry.kv_get("acme", "stock", "sku").unwrap(),
        Some(b"version one".to_vec())
    );
    let after = registry.collect_garbage(false, Duration::ZERO).unwrap();
    assert_eq!(listed(&after), (vec![], vec![], vec![]));

    // All of it holds on disk.
    drop(registry);
    let registry = reopen(dir.path());
    assert_eq!(
        registry.kv_get("acme", "stock", "sku").unwrap(),
        Some(b"version one".to_vec())
    );
}

#[test]
fn a_blob_stored_again_is_young_again_and_survives_a_graced_collection() {
    let (_dir, registry) = registry();
    let digest = registry.blobs().put(b"published twice").unwrap();
    let path = registry.blobs().location(&digest).unwrap();
    let old = std::time::SystemTime::now() - Duration::from_secs(7200);
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(old)
        .unwrap();
    let report = registry.collect_garbage(true, Duration::from_secs(3600)).unwrap();
    assert_eq!(
        listed(&report).0,
        vec![digest.clone()],
        "two hours old: collectable"
    );
    // Storing the same bytes again (an upload racing the collection) makes it young.
    assert_eq!(registry.blobs().put(b"published twice").unwrap(), digest);
    let report = registry
        .collect_garbage(false, Duration::from_secs(3600))
        .unwrap();
    assert!(report.blobs.is_empty(), "{report:?}");
    assert_eq!(registry.blobs().get(&digest).unwrap(), b"published twice");
}

#[test]
fn audit_entries_past_retention_are_counted_as_prune_audit_deletes_them() {
    let (_dir, registry) = registry();
    for id in ["a", "b", "c", "d"] {
        support::tenant(&registry, id, TenantKind::Standard);
    }
    let prunable = registry.prunable_audit(1, Duration::from_secs(3600)).unwrap();
    assert_eq!(prunable, 3);
    assert_eq!(
        registry.prune_audit(1, Duration::from_secs(3600)).unwrap(),
        prunable
    );
    assert_eq!(registry.prunable_audit(1, Duration::from_secs(3600)).unwrap(), 0);
}
