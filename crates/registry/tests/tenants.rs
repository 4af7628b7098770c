//! Tenants and the audit log: creation rules, updates, bad input, audit queries.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "test code: a failed expectation is a failed test"
)]

mod support;

use modhost_registry::{AuditOutcome, AuditQuery, NewTenant, Organisation, TenantKind, TenantUpdate};
use support::*;

fn new_tenant(id: &str) -> NewTenant {
    NewTenant {
        id: id.to_owned(),
        name: "BanBan Fashion".to_owned(),
        kind: TenantKind::Custom,
        organisation: Organisation {
            legal_name: Some("BanBan Ltda".into()),
            country: Some("BR".into()),
            contact_email: None,
        },
        features: ["size-grid".to_owned()].into(),
        plan: None,
        monthly_value_cents: None,
    }
}

#[test]
fn create_get_list_and_update() {
    let (_dir, registry) = registry();
    let created = registry
        .create_tenant(new_tenant("banban"), OPERATOR)
        .expect("create");
    assert_eq!(registry.tenant("banban").expect("get"), created);
    registry
        .create_tenant(
            NewTenant {
                id: "acme".into(),
                kind: TenantKind::Standard,
                ..new_tenant("acme")
            },
            OPERATOR,
        )
        .expect("acme");
    let ids: Vec<String> = registry
        .tenants()
        .expect("list")
        .into_iter()
        .map(|tenant| tenant.id)
        .collect();
    assert_eq!(ids, ["acme", "banban"]);
    let update = TenantUpdate {
        name: Some("BanBan".into()),
        features: Some(Default::default()),
        ..Default::default()
    };
    let updated = registry
        .update_tenant("banban", update, OPERATOR)
        .expect("update");
    assert_eq!(
        (updated.name.as_str(), updated.features.len(), updated.kind),
        ("BanBan", 0, TenantKind::Custom)
    );
    assert_eq!(
        updated.organisation, created.organisation,
        "absent fields keep their value"
    );
}

#[test]
fn bad_tenant_input_is_refused_and_stores_nothing() {
    let (_dir, registry) = registry();
    let cases = [
        (
            new_tenant("Ban Ban"),
            "invalid id: tenant id `Ban Ban` must be kebab-case: lower-case letters, digits and single dashes, starting with a letter, at most 64 bytes",
        ),
        (
            NewTenant {
                name: " ".into(),
                ..new_tenant("banban")
            },
            "invalid name: a tenant name must be 1 to 128 characters without control characters",
        ),
        (
            NewTenant {
                features: ["Bad Flag".to_owned()].into(),
                ..new_tenant("banban")
            },
            "invalid features: feature `Bad Flag` must be 1 to 64 of a-z, 0-9, `-`, `_`, `.`",
        ),
    ];
    for (tenant, message) in cases {
        assert_eq!(
            registry
                .create_tenant(tenant, OPERATOR)
                .expect_err("refused")
                .to_string(),
            message
        );
    }
    assert!(registry.tenants().expect("list").is_empty());
    registry
        .create_tenant(new_tenant("banban"), OPERATOR)
        .expect("create");
    let duplicate = registry
        .create_tenant(new_tenant("banban"), OPERATOR)
        .expect_err("duplicate");
    assert_eq!(duplicate.to_string(), "tenant `banban` already exists");
    let missing = registry
        .update_tenant("ghost", TenantUpdate::default(), OPERATOR)
        .expect_err("missing");
    assert_eq!(missing.to_string(), "tenant `ghost` does not exist");
    let bad_name = TenantUpdate {
        name: Some(String::new()),
        ..Default::default()
    };
    registry
        .update_tenant("banban", bad_name, OPERATOR)
        .expect_err("empty name");
    assert_eq!(
        registry.tenant("banban").expect("unchanged").name,
        "BanBan Fashion"
    );
}

#[test]
fn audit_queries_filter_and_page() {
    let (_dir, registry) = registry();
    tenant(&registry, "banban", TenantKind::Custom);
    tenant(&registry, "acme", TenantKind::Standard);
    publish(&registry, "inventory", "1.0.0", "standard", &[], "", &operator());
    registry
        .promote("acme", "inventory", &version("1.0.0"), "operator:ana")
        .expect("promote");
    let _ = registry.promote("banban", "inventory", &version("9.0.0"), "operator:ana");

    let acme = registry
        .audit(&AuditQuery {
            tenant: Some("acme".into()),
            ..Default::default()
        })
        .expect("audit");
    let acme_actions: Vec<&str> = acme.iter().map(|entry| entry.action.as_str()).collect();
    assert_eq!(acme_actions, ["tenant.create", "deployment.promote"]);
    let ana = registry
        .audit(&AuditQuery {
            actor: Some("operator:ana".into()),
            ..Default::default()
        })
        .expect("audit");
    assert_eq!(
        ana.iter().map(|entry| entry.outcome).collect::<Vec<_>>(),
        [AuditOutcome::Ok, AuditOutcome::Failed]
    );
    assert_eq!(
        ana[1].detail.as_deref(),
        Some("module `inventory` has no version 9.0.0")
    );
    let all = registry.audit(&AuditQuery::default()).expect("audit");
    let page = registry
        .audit(&AuditQuery {
            after: Some(all[1].id),
            limit: Some(2),
            ..Default::default()
        })
        .expect("page");
    assert_eq!(page, all[2..4].to_vec());
}

#[test]
fn an_audit_query_looks_at_a_bounded_number_of_records_and_says_where_to_go_on() {
    let (_dir, registry) = registry();
    let draft = |tenant: &str, index: usize| {
        modhost_registry::AuditDraft::ok("operator:ana", "test.entry", format!("t{index}"), Some(tenant))
    };
    for index in 0..50_005 {
        registry
            .record_audit_lazily(draft("other", index))
            .expect("audit");
    }
    let rare = registry.record_audit_lazily(draft("acme", 0)).expect("audit");
    let acme = |after: Option<u64>| AuditQuery {
        tenant: Some("acme".into()),
        after,
        ..AuditQuery::default()
    };
    // The first page looked at 50,000 records and found none of acme's.
    let first = registry.audit_page(&acme(None)).expect("audit");
    assert_eq!(first.entries, vec![]);
    let next = first.next_after.expect("more may follow");
    let skipped = registry
        .audit(&AuditQuery {
            after: None,
            limit: Some(1000),
            ..AuditQuery::default()
        })
        .expect("audit");
    assert_eq!(skipped.first().map(|entry| entry.id + 49_999), Some(next));
    // The next page finds it and reaches the end.
    let second = registry.audit_page(&acme(Some(next))).expect("audit");
    assert_eq!(second.entries, vec![rare]);
    assert_eq!(second.next_after, None);
    // A page that fills its limit says so too.
    let limited = registry
        .audit_page(&AuditQuery {
            limit: Some(3),
            ..AuditQuery::default()
        })
        .expect("audit");
    assert_eq!(limited.entries.len(), 3);
    assert_eq!(limited.next_after, Some(limited.entries[2].id));
}

#[test]
fn audit_pruning_keeps_the_newest_entries_within_count_and_age() {
    let (dir, registry) = registry();
    for index in 0..25 {
        registry
            .record_audit_lazily(modhost_registry::AuditDraft::ok(
                "operator:ana",
                "test.entry",
                format!("t{index}"),
                None,
            ))
            .expect("audit");
    }
    let all = registry.audit(&AuditQuery::default()).expect("audit");
    assert_eq!(all.len(), 25);
    let day = std::time::Duration::from_secs(86_400);
    assert_eq!(registry.prune_audit(10, day).expect("prune"), 15);
    let kept = registry.audit(&AuditQuery::default()).expect("audit");
    assert_eq!(kept, all[15..].to_vec(), "the newest 10, in order");
    assert_eq!(registry.prune_audit(10, day).expect("prune"), 0, "nothing more");
    drop(registry);
    // Durable across a reopen, and an age of zero takes everything older than now.
    let registry = reopen(dir.path());
    assert_eq!(registry.audit(&AuditQuery::default()).expect("audit").len(), 10);
    std::thread::sleep(std::time::Duration::from_millis(5));
    assert_eq!(
        registry
            .prune_audit(1000, std::time::Duration::ZERO)
            .expect("prune"),
        10
    );
    assert_eq!(registry.audit(&AuditQuery::default()).expect("audit"), vec![]);
}

#[test]
fn tenant_ids_the_host_keeps_for_itself_are_refused() {
    let (_dir, registry) = registry();
    for id in ["modhost-self-test", "modhost-anything"] {
        let error = registry
            .create_tenant(
                NewTenant {
                    id: id.to_owned(),
                    name: "Sneaky".to_owned(),
                    kind: TenantKind::Standard,
                    organisation: Organisation::default(),
                    features: Default::default(),
                    plan: None,
                    monthly_value_cents: None,
                },
                OPERATOR,
            )
            .expect_err("reserved");
        assert_eq!(
            error.to_string(),
            "invalid id: tenant ids starting with `modhost-` are reserved for the host (its self-tests run as `modhost-self-test`); choose another id"
        );
        assert!(matches!(
            registry.tenant(id),
            Err(modhost_registry::RegistryError::TenantNotFound(_))
        ));
    }
}
