//! Promote, rollback and disable: dependency checks both ways, config checks, history, persistence, concurrency.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "test code: a failed expectation is a failed test"
)]

mod support;

use modhost_registry::{
    DeploymentAction, DeploymentProblem, Registry, RegistryError, RegistryEvent, RollbackTarget, TenantKind,
};
use support::*;

const LOW_STOCK_FIELD: &str = "[config.fields.low_stock]\ntype = \"int\"\ndefault = 5\nmin = 0\n";

/// inventory 1.0.0, 1.1.0, 2.0.0 and a `grid` custom module of banban that needs inventory ^1.
fn catalogue(registry: &Registry) {
    tenant(registry, "banban", TenantKind::Custom);
    for version in ["1.0.0", "1.1.0", "2.0.0"] {
        publish(
            registry,
            "inventory",
            version,
            "standard",
            &[],
            LOW_STOCK_FIELD,
            &operator(),
        );
    }
    let owner = modhost_registry::Publisher::Tenant("banban".into());
    publish(
        registry,
        "grid",
        "1.0.0",
        "custom",
        &[("inventory", "^1")],
        "",
        &owner,
    );
}

fn active(registry: &Registry, tenant: &str, module: &str) -> Option<String> {
    registry
        .deployment(tenant, module)
        .expect("deployment")
        .active
        .map(|version| version.to_string())
}

#[test]
fn promote_rollback_and_history() {
    let (_dir, registry) = registry();
    catalogue(&registry);
    let first = registry
        .promote("banban", "inventory", &version("1.0.0"), OPERATOR)
        .expect("promote");
    assert_eq!((first.from, first.to.clone()), (None, Some(version("1.0.0"))));
    registry
        .promote("banban", "inventory", &version("1.1.0"), OPERATOR)
        .expect("promote");
    let again = registry
        .promote("banban", "inventory", &version("1.1.0"), OPERATOR)
        .expect("no-op");
    assert_eq!(again.event, None, "promoting the active version changes nothing");
    let back = registry
        .rollback("banban", "inventory", &RollbackTarget::Previous, OPERATOR)
        .expect("rollback");
    assert_eq!(
        (back.from, back.to),
        (Some(version("1.1.0")), Some(version("1.0.0")))
    );
    registry
        .rollback(
            "banban",
            "inventory",
            &RollbackTarget::To(version("1.1.0")),
            OPERATOR,
        )
        .expect("to 1.1.0");
    let history = registry
        .deployment("banban", "inventory")
        .expect("deployment")
        .history;
    let summary: Vec<_> = history
        .iter()
        .map(|event| {
            (
                event.seq,
                event.action,
                event.from.as_ref().map(ToString::to_string),
                event.to.as_ref().map(ToString::to_string),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (1, DeploymentAction::Promote, None, Some("1.0.0".into())),
            (
                2,
                DeploymentAction::Promote,
                Some("1.0.0".into()),
                Some("1.1.0".into())
            ),
            (
                3,
                DeploymentAction::Rollback,
                Some("1.1.0".into()),
                Some("1.0.0".into())
            ),
            (
                4,
                DeploymentAction::Rollback,
                Some("1.0.0".into()),
                Some("1.1.0".into())
            ),
        ]
    );
    let never = registry.rollback(
        "banban",
        "inventory",
        &RollbackTarget::To(version("2.0.0")),
        OPERATOR,
    );
    assert_eq!(
        never.expect_err("never active").to_string(),
        "inventory@2.0.0 was never active for tenant `banban`; promote it instead"
    );
    let nothing = registry.rollback("banban", "grid", &RollbackTarget::Previous, OPERATOR);
    assert_eq!(
        nothing.expect_err("not enabled").to_string(),
        "module `grid` is not enabled for tenant `banban`; promote a version first"
    );
}

#[test]
fn dependencies_are_checked_both_ways() {
    let (_dir, registry) = registry();
    catalogue(&registry);
    let missing = registry
        .promote("banban", "grid", &version("1.0.0"), OPERATOR)
        .expect_err("needs inventory");
    assert_eq!(
        missing.to_string(),
        "cannot move banban/grid to 1.0.0: it needs `inventory` ^1, which the tenant does not run; promote it first"
    );
    registry
        .promote("banban", "inventory", &version("2.0.0"), OPERATOR)
        .expect("inventory 2");
    let mismatch = registry
        .promote("banban", "grid", &version("1.0.0"), OPERATOR)
        .expect_err("wrong major");
    let RegistryError::DeploymentBlocked { problems, .. } = &mismatch else {
        panic!("{mismatch}")
    };
    assert_eq!(
        problems,
        &[DeploymentProblem::DependencyMissing {
            dependency: "inventory".into(),
            requirement: "^1".parse().expect("req"),
            active: Some(version("2.0.0")),
        }]
    );
    registry
        .promote("banban", "inventory", &version("1.1.0"), OPERATOR)
        .expect("inventory 1.1");
    registry
        .promote("banban", "grid", &version("1.0.0"), OPERATOR)
        .expect("grid now fits");

    let breaking = registry
        .promote("banban", "inventory", &version("2.0.0"), OPERATOR)
        .expect_err("grid needs ^1");
    assert_eq!(
        breaking.to_string(),
        "cannot move banban/inventory to 2.0.0: the tenant's grid@1.0.0 needs this module at ^1; change that module first"
    );
    let disable = registry
        .disable("banban", "inventory", OPERATOR)
        .expect_err("grid needs it");
    assert!(
        disable
            .to_string()
            .starts_with("cannot move banban/inventory to disabled:"),
        "{disable}"
    );
    assert_eq!(
        active(&registry, "banban", "inventory").as_deref(),
        Some("1.1.0"),
        "refusals change nothing"
    );
    registry
        .promote("banban", "inventory", &version("1.0.0"), OPERATOR)
        .expect("still ^1");
    registry.disable("banban", "grid", OPERATOR).expect("grid off");
    registry
        .disable("banban", "inventory", OPERATOR)
        .expect("now inventory can go");
    assert_eq!(active(&registry, "banban", "inventory"), None);
    let restored = registry
        .rollback("banban", "inventory", &RollbackTarget::Previous, OPERATOR)
        .expect("re-enable");
    assert_eq!(restored.to, Some(version("1.0.0")));
}

#[test]
fn custom_modules_deploy_only_to_their_owner() {
    let (_dir, registry) = registry();
    catalogue(&registry);
    tenant(&registry, "zara", TenantKind::Custom);
    let refused = registry
        .promote("zara", "grid", &version("1.0.0"), OPERATOR)
        .expect_err("invisible");
    assert_eq!(refused.to_string(), "module `grid` has no version 1.0.0");
    let unknown_tenant = registry
        .promote("ghost", "inventory", &version("1.0.0"), OPERATOR)
        .expect_err("no tenant");
    assert_eq!(unknown_tenant.to_string(), "tenant `ghost` does not exist");
}

#[test]
fn config_is_validated_versioned_and_rolled_back() {
    let (_dir, registry) = registry();
    catalogue(&registry);
    let not_enabled = registry
        .set_config("banban", "inventory", Default::default(), OPERATOR)
        .expect_err("inactive");
    assert!(matches!(not_enabled, RegistryError::NotEnabled { .. }));
    registry
        .promote("banban", "inventory", &version("1.0.0"), OPERATOR)
        .expect("promote");
    assert_eq!(
        registry.resolved_config("banban", "inventory").expect("defaults")["low_stock"],
        modhost_manifest::ConfigValue::Integer(5)
    );
    let values = |value: serde_json::Value| value.as_object().cloned().expect("object");
    let first = registry
        .set_config(
            "banban",
            "inventory",
            values(serde_json::json!({"low_stock": 3})),
            OPERATOR,
        )
        .expect("set");
    assert_eq!(first.version, 1);
    let invalid = registry.set_config(
        "banban",
        "inventory",
        values(serde_json::json!({"low_stock": -1, "colour": "red"})),
        OPERATOR,
    );
    let RegistryError::ConfigInvalid { problems, .. } = invalid.expect_err("invalid") else {
        panic!("wrong error")
    };
    assert_eq!(problems.len(), 2, "every problem is reported: {problems:?}");
    registry
        .set_config(
            "banban",
            "inventory",
            values(serde_json::json!({"low_stock": 9})),
            OPERATOR,
        )
        .expect("set");
    let rolled = registry
        .rollback_config("banban", "inventory", 1, OPERATOR)
        .expect("config rollback");
    assert_eq!((rolled.version, rolled.reason.as_str()), (3, "rollback to 1"));
    assert_eq!(
        registry.resolved_config("banban", "inventory").expect("resolved")["low_stock"],
        modhost_manifest::ConfigValue::Integer(3)
    );
    let missing = registry
        .rollback_config("banban", "inventory", 42, OPERATOR)
        .expect_err("no such version");
    assert_eq!(missing.to_string(), "banban/inventory has no config version 42");
    assert_eq!(
        registry
            .config("banban", "inventory")
            .expect("history")
            .versions
            .len(),
        3
    );
}

#[test]
fn promotion_is_refused_when_the_config_does_not_fit_the_new_schema() {
    let (_dir, registry) = registry();
    tenant(&registry, "acme", TenantKind::Standard);
    publish(
        &registry,
        "reports",
        "1.0.0",
        "standard",
        &[],
        "[config.fields.period]\ntype = \"string\"\n",
        &operator(),
    );
    publish(
        &registry,
        "reports",
        "2.0.0",
        "standard",
        &[],
        "[config.fields.period]\ntype = \"enum\"\nvalues = [\"day\", \"week\"]\n",
        &operator(),
    );
    registry
        .promote("acme", "reports", &version("1.0.0"), OPERATOR)
        .expect("promote");
    let period = serde_json::json!({"period": "month"})
        .as_object()
        .cloned()
        .expect("object");
    registry
        .set_config("acme", "reports", period, OPERATOR)
        .expect("valid for 1.0.0");
    let refused = registry
        .promote("acme", "reports", &version("2.0.0"), OPERATOR)
        .expect_err("month is not an option");
    let RegistryError::DeploymentBlocked { problems, .. } = &refused else {
        panic!("{refused}")
    };
    assert!(
        matches!(&problems[..], [DeploymentProblem::ConfigInvalid { problems }] if problems[0].field == "config.period"),
        "{problems:?}"
    );
    assert_eq!(active(&registry, "acme", "reports").as_deref(), Some("1.0.0"));
}

#[test]
fn everything_survives_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    {
        let registry = reopen(dir.path());
        catalogue(&registry);
        registry
            .promote("banban", "inventory", &version("1.1.0"), OPERATOR)
            .expect("promote");
        let values = serde_json::json!({"low_stock": 2})
            .as_object()
            .cloned()
            .expect("object");
        registry
            .set_config("banban", "inventory", values, OPERATOR)
            .expect("config");
    }
    let registry = reopen(dir.path());
    assert_eq!(
        registry.tenant("banban").expect("tenant").kind,
        TenantKind::Custom
    );
    assert_eq!(registry.versions(None, None).expect("versions").len(), 4);
    assert_eq!(active(&registry, "banban", "inventory").as_deref(), Some("1.1.0"));
    assert_eq!(
        registry
            .config("banban", "inventory")
            .expect("config")
            .versions
            .len(),
        1
    );
    let version = registry
        .version("inventory", &version("1.1.0"), None)
        .expect("version");
    assert!(
        !registry
            .component(&version)
            .expect("component bytes verified")
            .is_empty()
    );
    let actions: Vec<String> = registry
        .audit(&Default::default())
        .expect("audit")
        .into_iter()
        .map(|entry| entry.action)
        .collect();
    assert!(
        actions.contains(&"deployment.promote".to_owned()) && actions.contains(&"config.set".to_owned()),
        "{actions:?}"
    );
}

#[test]
fn a_corrupted_blob_is_detected_on_read() {
    let (_dir, registry) = registry();
    let record = publish(&registry, "inventory", "1.0.0", "standard", &[], "", &operator());
    std::fs::write(
        registry.blobs().location(&record.sha256).expect("location"),
        b"bit rot",
    )
    .expect("corrupt");
    let error = registry.component(&record).expect_err("corrupted");
    assert!(
        error
            .to_string()
            .starts_with(&format!("the stored component {} is corrupted", record.sha256)),
        "{error}"
    );
}

#[test]
fn concurrent_promotes_on_one_tenant_serialise_without_lost_updates() {
    let (_dir, registry) = registry();
    tenant(&registry, "acme", TenantKind::Standard);
    let versions: Vec<String> = (0..8).map(|minor| format!("1.{minor}.0")).collect();
    for version in &versions {
        publish(&registry, "inventory", version, "standard", &[], "", &operator());
    }
    std::thread::scope(|scope| {
        for worker in 0..4 {
            let registry = registry.clone();
            let versions = versions.clone();
            scope.spawn(move || {
                for round in 0..10 {
                    let target = &versions[(worker * 3 + round) % versions.len()];
                    registry
                        .promote("acme", "inventory", &version(target), &format!("worker{worker}"))
                        .expect("promote");
                }
            });
        }
    });
    let deployment = registry.deployment("acme", "inventory").expect("deployment");
    for pair in deployment.history.windows(2) {
        assert_eq!(
            pair[0].to, pair[1].from,
            "each change starts where the previous one ended"
        );
        assert_eq!(pair[0].seq + 1, pair[1].seq);
    }
    assert_eq!(
        deployment.history.last().and_then(|event| event.to.clone()),
        deployment.active
    );
    let promotes = registry.audit(&modhost_registry::AuditQuery {
        action: Some("deployment.promote".into()),
        ..Default::default()
    });
    assert_eq!(
        promotes.expect("audit").len(),
        deployment.history.len(),
        "one audit entry per change, none lost"
    );
}

#[test]
fn subscribers_hear_deployment_changes() {
    let (_dir, registry) = registry();
    catalogue(&registry);
    let mut events = registry.subscribe();
    registry
        .promote("banban", "inventory", &version("1.0.0"), OPERATOR)
        .expect("promote");
    assert_eq!(
        events.try_recv().expect("an event"),
        RegistryEvent::DeploymentChanged {
            tenant: "banban".into(),
            module: "inventory".into(),
            active: Some(version("1.0.0"))
        }
    );
}

#[test]
fn module_data_is_scoped_and_a_rollback_across_a_migration_restores_it() {
    let (_dir, registry) = registry();
    catalogue(&registry);
    tenant(&registry, "acme", TenantKind::Standard);
    registry
        .kv_set("banban", "inventory", "items/a", b"old shape")
        .expect("set");
    registry
        .kv_set("acme", "inventory", "items/a", b"acme's")
        .expect("set");
    registry
        .kv_set("banban", "inventory-x", "y", b"neighbour")
        .expect("set");
    assert_eq!(
        registry
            .kv_list("banban", "inventory", "", None, 10)
            .expect("list"),
        ["items/a"]
    );
    registry
        .promote("banban", "inventory", &version("1.0.0"), OPERATOR)
        .expect("promote");

    // What the runtime does around a migrating promotion: snapshot, migrate, record the snapshot.
    let snapshot = registry.kv_snapshot("banban", "inventory").expect("snapshot");
    assert!(
        registry
            .kv_matches_snapshot("banban", "inventory", snapshot)
            .expect("compare")
    );
    registry
        .kv_set("banban", "inventory", "items/a", b"new shape")
        .expect("migrate");
    assert!(
        !registry
            .kv_matches_snapshot("banban", "inventory", snapshot)
            .expect("compare")
    );
    registry
        .promote_migrated("banban", "inventory", &version("1.1.0"), OPERATOR, Some(snapshot))
        .expect("promote");
    registry
        .kv_set("banban", "inventory", "items/b", b"written after the migration")
        .expect("set");

    let rollback = registry
        .rollback("banban", "inventory", &RollbackTarget::Previous, OPERATOR)
        .expect("rollback");
    assert_eq!(rollback.restored_snapshot, Some(snapshot));
    assert_eq!(
        registry
            .kv_get("banban", "inventory", "items/a")
            .expect("get")
            .as_deref(),
        Some(&b"old shape"[..])
    );
    assert_eq!(
        registry.kv_get("banban", "inventory", "items/b").expect("get"),
        None,
        "writes since are discarded"
    );
    assert_eq!(
        registry.kv_usage("banban", "inventory").expect("usage"),
        modhost_registry::DataUsage {
            keys: 1,
            bytes: ("items/a".len() + "old shape".len()) as u64,
        },
        "the usage is the snapshot's"
    );
    assert_eq!(
        registry
            .kv_get("acme", "inventory", "items/a")
            .expect("get")
            .as_deref(),
        Some(&b"acme's"[..])
    );
    assert_eq!(
        registry
            .kv_get("banban", "inventory-x", "y")
            .expect("get")
            .as_deref(),
        Some(&b"neighbour"[..])
    );
    let audit = registry.audit(&modhost_registry::AuditQuery {
        action: Some("deployment.rollback".into()),
        ..Default::default()
    });
    let detail = audit
        .expect("audit")
        .pop()
        .and_then(|entry| entry.detail)
        .expect("detail");
    assert_eq!(
        detail,
        format!(
            "module data restored to snapshot {snapshot}, taken when 1.0.0 was left; writes made since were discarded"
        )
    );

    // Moving forward again without a migration restores nothing.
    let forward = registry
        .rollback("banban", "inventory", &RollbackTarget::Previous, OPERATOR)
        .expect("toggle");
    assert_eq!(forward.restored_snapshot, None);
    assert_eq!(
        registry
            .kv_get("banban", "inventory", "items/a")
            .expect("get")
            .as_deref(),
        Some(&b"old shape"[..])
    );
}
