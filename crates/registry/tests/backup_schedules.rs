//! Backup schedules: validation with exact errors, set/get/remove/list, recorded runs, audit, durability.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "test code: a failed expectation is a failed test"
)]

mod support;

use modhost_registry::{
    AuditOutcome, AuditQuery, BackupOutcome, BackupRun, BackupScheduleSpec, RegistryError, TenantKind,
};
use support::*;

fn spec(interval_secs: u64, keep_count: u32, max_age_days: Option<u32>) -> BackupScheduleSpec {
    BackupScheduleSpec {
        interval_secs,
        keep_count,
        max_age_days,
    }
}

fn invalid(error: RegistryError) -> (String, String) {
    match error {
        RegistryError::InvalidInput { field, message } => (field, message),
        other => panic!("expected invalid input, got {other:?}"),
    }
}

fn audit_actions(
    registry: &modhost_registry::Registry,
    tenant: &str,
) -> Vec<(String, AuditOutcome, Option<String>)> {
    registry
        .audit(&AuditQuery {
            tenant: Some(tenant.to_owned()),
            action: Some("backup".to_owned()),
            ..AuditQuery::default()
        })
        .expect("audit")
        .into_iter()
        .map(|entry| (entry.action, entry.outcome, entry.detail))
        .collect()
}

#[test]
fn bad_input_is_refused_with_exact_errors_and_nothing_changes() {
    let (_dir, registry) = registry();
    tenant(&registry, "acme", TenantKind::Standard);
    let cases = [
        (
            spec(0, 3, None),
            "interval_secs",
            "0 is not an interval from 1 to 31536000 seconds (365 days); use at least 60 outside tests",
        ),
        (
            spec(31_536_001, 3, None),
            "interval_secs",
            "31536001 is not an interval from 1 to 31536000 seconds (365 days); use at least 60 outside tests",
        ),
        (
            spec(60, 0, None),
            "keep_count",
            "0 is not a number of backups to keep from 1 to 1000",
        ),
        (
            spec(60, 1001, None),
            "keep_count",
            "1001 is not a number of backups to keep from 1 to 1000",
        ),
        (
            spec(60, 3, Some(0)),
            "max_age_days",
            "0 is not an age from 1 to 3650 days; leave it out to keep backups whatever their age",
        ),
        (
            spec(60, 3, Some(3651)),
            "max_age_days",
            "3651 is not an age from 1 to 3650 days; leave it out to keep backups whatever their age",
        ),
    ];
    for (bad, field, message) in cases {
        let (got_field, got_message) =
            invalid(registry.set_backup_schedule("acme", bad, OPERATOR).unwrap_err());
        assert_eq!((got_field.as_str(), got_message.as_str()), (field, message));
    }
    let error = registry
        .set_backup_schedule("nobody", spec(60, 3, None), OPERATOR)
        .unwrap_err();
    assert!(
        matches!(&error, RegistryError::TenantNotFound(id) if id == "nobody"),
        "{error:?}"
    );
    assert_eq!(error.to_string(), "tenant `nobody` does not exist");
    assert_eq!(registry.backup_schedule("acme").unwrap(), None);
    assert!(registry.backup_schedules().unwrap().is_empty());
    assert!(audit_actions(&registry, "acme").is_empty());
    // The limits themselves are accepted.
    registry
        .set_backup_schedule("acme", spec(1, 1, Some(1)), OPERATOR)
        .expect("the smallest values");
    registry
        .set_backup_schedule("acme", spec(31_536_000, 1000, Some(3650)), OPERATOR)
        .expect("the largest values");
}

#[test]
fn set_get_list_remove_audited_and_durable() {
    let (dir, registry) = registry();
    tenant(&registry, "acme", TenantKind::Standard);
    tenant(&registry, "banban", TenantKind::Custom);
    let before = modhost_registry::now_ms();
    let set = registry
        .set_backup_schedule("acme", spec(21_600, 7, Some(30)), OPERATOR)
        .expect("set");
    assert_eq!(set.tenant, "acme");
    assert_eq!(set.spec, spec(21_600, 7, Some(30)));
    assert_eq!(set.updated_by, OPERATOR);
    assert!(set.next_run_at_ms >= before && set.is_due(modhost_registry::now_ms()));
    assert_eq!((set.runs, set.failures, set.consecutive_failures), (0, 0, 0));
    assert_eq!((set.last_run.clone(), set.last_success_at_ms), (None, None));
    assert_eq!(registry.backup_schedule("acme").unwrap(), Some(set.clone()));
    registry
        .set_backup_schedule("banban", spec(3600, 2, None), OPERATOR)
        .expect("set banban");
    let tenants: Vec<String> = registry
        .backup_schedules()
        .unwrap()
        .into_iter()
        .map(|schedule| schedule.tenant)
        .collect();
    assert_eq!(tenants, ["acme", "banban"]);
    assert_eq!(
        audit_actions(&registry, "acme"),
        [(
            "backup-schedule.set".to_owned(),
            AuditOutcome::Ok,
            Some("every 21600 s, keep 7, at most 30 days old".to_owned())
        )]
    );

    drop(registry);
    let registry = reopen(dir.path());
    assert_eq!(registry.backup_schedule("acme").unwrap(), Some(set.clone()));

    let removed = registry.remove_backup_schedule("acme", OPERATOR).expect("remove");
    assert_eq!(removed, set);
    assert_eq!(registry.backup_schedule("acme").unwrap(), None);
    let error = registry.remove_backup_schedule("acme", OPERATOR).unwrap_err();
    assert!(matches!(error, RegistryError::NotFound(_)), "{error:?}");
    assert_eq!(
        error.to_string(),
        "tenant `acme` has no backup schedule; set one with PUT /v1/tenants/acme/backup-schedule"
    );
    let error = registry.remove_backup_schedule("nobody", OPERATOR).unwrap_err();
    assert!(matches!(error, RegistryError::TenantNotFound(_)), "{error:?}");
    let actions: Vec<String> = audit_actions(&registry, "acme")
        .into_iter()
        .map(|(action, ..)| action)
        .collect();
    assert_eq!(actions, ["backup-schedule.set", "backup-schedule.delete"]);
    assert_eq!(registry.backup_schedules().unwrap().len(), 1);
}

#[test]
fn runs_are_recorded_with_counts_next_due_and_audit() {
    let (_dir, registry) = registry();
    tenant(&registry, "acme", TenantKind::Standard);
    registry
        .set_backup_schedule("acme", spec(60, 3, None), OPERATOR)
        .expect("set");
    let stored = BackupRun {
        at_ms: 1_000_000,
        took_ms: 12,
        outcome: BackupOutcome::Stored {
            file: "1000000.mhbk".to_owned(),
            bytes: 345,
            removed: 0,
        },
    };
    let after_ok = registry
        .record_backup_run("acme", stored.clone())
        .expect("record")
        .expect("scheduled");
    assert_eq!(
        (after_ok.runs, after_ok.failures, after_ok.consecutive_failures),
        (1, 0, 0)
    );
    assert_eq!(after_ok.last_success_at_ms, Some(1_000_000));
    assert_eq!(after_ok.next_run_at_ms, 1_060_000);
    assert_eq!(after_ok.last_run, Some(stored));

    let failed = BackupRun {
        at_ms: 1_060_000,
        took_ms: 3,
        outcome: BackupOutcome::Failed {
            error: "could not create the backup folder".to_owned(),
        },
    };
    registry
        .record_backup_run("acme", failed.clone())
        .expect("record");
    let after_failures = registry
        .record_backup_run(
            "acme",
            BackupRun {
                at_ms: 1_120_000,
                ..failed.clone()
            },
        )
        .expect("record")
        .expect("scheduled");
    assert_eq!(
        (
            after_failures.runs,
            after_failures.failures,
            after_failures.consecutive_failures
        ),
        (3, 2, 2)
    );
    assert_eq!(after_failures.last_success_at_ms, Some(1_000_000));
    assert_eq!(after_failures.next_run_at_ms, 1_180_000);
    assert!(matches!(
        after_failures.last_run.as_ref().map(|run| &run.outcome),
        Some(BackupOutcome::Failed { error }) if error == "could not create the backup folder"
    ));

    // Changing the schedule keeps the history; the next run is one new interval after the last.
    let changed = registry
        .set_backup_schedule("acme", spec(120, 5, None), OPERATOR)
        .expect("change");
    assert_eq!((changed.runs, changed.failures), (3, 2));
    assert_eq!(changed.next_run_at_ms, 1_240_000);
    assert_eq!(changed.last_run, after_failures.last_run);

    let back = registry
        .record_backup_run(
            "acme",
            BackupRun {
                at_ms: 1_240_000,
                took_ms: 5,
                outcome: BackupOutcome::Stored {
                    file: "1240000.mhbk".to_owned(),
                    bytes: 400,
                    removed: 1,
                },
            },
        )
        .expect("record")
        .expect("scheduled");
    assert_eq!((back.runs, back.failures, back.consecutive_failures), (4, 2, 0));

    let runs: Vec<(AuditOutcome, Option<String>)> = audit_actions(&registry, "acme")
        .into_iter()
        .filter(|(action, ..)| action == "backup.scheduled")
        .map(|(_, outcome, detail)| (outcome, detail))
        .collect();
    assert_eq!(
        runs,
        [
            (
                AuditOutcome::Ok,
                Some("stored 1000000.mhbk (345 bytes in 12 ms); retention removed 0".to_owned())
            ),
            (
                AuditOutcome::Failed,
                Some("could not create the backup folder".to_owned())
            ),
            (
                AuditOutcome::Failed,
                Some("could not create the backup folder".to_owned())
            ),
            (
                AuditOutcome::Ok,
                Some("stored 1240000.mhbk (400 bytes in 5 ms); retention removed 1".to_owned())
            ),
        ]
    );
    let entry = registry
        .audit(&AuditQuery {
            action: Some("backup.scheduled".to_owned()),
            ..AuditQuery::default()
        })
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(entry.actor, "system:backups");
    assert_eq!(entry.target, "acme");

    // A run that ends after its schedule was removed is audited and nothing else.
    registry.remove_backup_schedule("acme", OPERATOR).expect("remove");
    assert_eq!(registry.record_backup_run("acme", failed).expect("record"), None);
    assert_eq!(registry.backup_schedule("acme").unwrap(), None);
    assert_eq!(
        audit_actions(&registry, "acme")
            .iter()
            .filter(|(action, ..)| action == "backup.scheduled")
            .count(),
        5
    );
}
