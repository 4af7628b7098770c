//! Scheduled backups on a real server: retention keeps exactly the configured number, access rules, exact refusals, failures recorded, counted and audited.
//!
//! Nothing here is timed: each test polls for an outcome with a generous deadline.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "test code: a failed expectation is a failed test"
)]

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::*;

/// How long any awaited outcome may take.
const DEADLINE: Duration = Duration::from_secs(180);

/// Polls `check` until it gives a value, or fails the test naming `what`.
fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(started.elapsed() < DEADLINE, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn create_tenant(server: &Server, tenant: &str) {
    let (status, body) = server.post(
        "/v1/tenants",
        Some(&server.operator),
        json!({"id": tenant, "name": tenant, "kind": "standard"}),
    );
    assert_eq!(status, 201, "{body}");
}

/// A server with tenants `acme` (running the template, with notes stored)
/// and `banban`, judging alert rules every 100 ms.
fn setup() -> Server {
    let server = Server::start_with(|config| config.alerts.eval_interval_ms = 100);
    let operator = server.operator.clone();
    create_tenant(&server, "acme");
    create_tenant(&server, "banban");
    let (manifest, component) = built("template@0.1.0");
    assert_eq!(server.push(&operator, &manifest, &component, None).0, 201);
    let (status, body) = server.post(
        "/v1/tenants/acme/deployments/template/promote",
        Some(&operator),
        json!({"version": "0.1.0"}),
    );
    assert_eq!(status, 200, "{body}");
    for id in ["1", "2", "3"] {
        let (status, body) = server.request(
            "PUT",
            &format!("/t/acme/template/notes/{id}"),
            Some(&operator),
            Some(&json!({"text": format!("note {id}")})),
        );
        assert!(status < 300, "{status} {body}");
    }
    server
}

fn put_schedule(server: &Server, token: &str, tenant: &str, body: Value) -> (u16, Value) {
    server.request(
        "PUT",
        &format!("/v1/tenants/{tenant}/backup-schedule"),
        Some(token),
        Some(&body),
    )
}

fn schedule(server: &Server, tenant: &str) -> (u16, Value) {
    server.get(
        &format!("/v1/tenants/{tenant}/backup-schedule"),
        Some(&server.operator),
    )
}

/// The names of the complete backups stored for `tenant`, sorted.
fn files(server: &Server, tenant: &str) -> Vec<String> {
    let folder = server.data_dir().join("backups").join(tenant);
    let Ok(entries) = std::fs::read_dir(&folder) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".mhbk"))
        .collect();
    names.sort_by_key(|name| name.trim_end_matches(".mhbk").parse::<u64>().unwrap());
    names
}

/// The `backup.scheduled` audit entries of `tenant`, oldest first.
fn run_entries(server: &Server, tenant: &str) -> Vec<Value> {
    let (status, body) = server.get(
        &format!("/v1/audit?tenant={tenant}&action=backup.scheduled"),
        Some(&server.operator),
    );
    assert_eq!(status, 200, "{body}");
    body["entries"].as_array().unwrap().clone()
}

/// The file each successful run stored, oldest first, from the audit log.
fn stored_by_runs(server: &Server, tenant: &str) -> Vec<String> {
    run_entries(server, tenant)
        .iter()
        .filter(|entry| entry["outcome"] == "ok")
        .map(|entry| {
            let detail = entry["detail"].as_str().unwrap();
            let rest = detail.strip_prefix("stored ").expect(detail);
            rest.split(' ').next().unwrap().to_owned()
        })
        .collect()
}

fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn scheduled_backups_keep_exactly_the_configured_number_the_newest() {
    let server = setup();
    let operator = server.operator.clone();
    let (status, body) = put_schedule(
        &server,
        &operator,
        "acme",
        json!({"interval_secs": 1, "keep_count": 3}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["tenant"], "acme");
    assert_eq!(body["interval_secs"], 1);
    assert_eq!(body["keep_count"], 3);
    assert_eq!(body["max_age_days"], Value::Null);

    let running = eventually("five scheduled runs", || {
        let (status, body) = schedule(&server, "acme");
        assert_eq!(status, 200, "{body}");
        (body["runs"].as_u64().unwrap() >= 5).then_some(body)
    });
    assert_eq!(running["failures"], 0, "{running}");
    assert_eq!(running["last_run"]["ok"], true, "{running}");
    assert!(running["last_success_at_ms"].as_u64().is_some(), "{running}");
    let (status, listing) = server.get("/v1/backup-schedules", Some(&operator));
    assert_eq!(status, 200, "{listing}");
    assert_eq!(listing["schedules"].as_array().unwrap().len(), 1);
    let (_, status_body) = server.get("/v1/status", Some(&operator));
    assert_eq!(status_body["backups"]["scheduled"], 1, "{status_body}");
    assert_eq!(status_body["backups"]["failing"], 0, "{status_body}");
    let (_, metrics) = server.raw("GET", "/metrics", Some(&operator), None);
    let metrics = String::from_utf8(metrics).unwrap();
    assert_eq!(
        metric(&metrics, "modhost_backup_failures_total{tenant=\"acme\"}"),
        Some(0.0),
        "{metrics}"
    );
    assert!(
        metric(
            &metrics,
            "modhost_backup_last_success_timestamp_seconds{tenant=\"acme\"}"
        )
        .is_some_and(|seconds| seconds > 1.0e9),
        "{metrics}"
    );

    // Stop the schedule; a run in flight finishes and applies its retention.
    let (status, body) = server.request(
        "DELETE",
        "/v1/tenants/acme/backup-schedule",
        Some(&operator),
        None,
    );
    assert_eq!(status, 200, "{body}");
    let kept = eventually("exactly the three newest backups", || {
        let on_disk = files(&server, "acme");
        let stored = stored_by_runs(&server, "acme");
        let newest = stored[stored.len().saturating_sub(3)..].to_vec();
        (stored.len() >= 5 && on_disk == newest).then_some(on_disk)
    });
    assert_eq!(kept.len(), 3);
    assert!(
        run_entries(&server, "acme")
            .iter()
            .any(|entry| entry["detail"].as_str().unwrap().ends_with("retention removed 1")),
        "retention removed older backups"
    );
    let leftovers: Vec<String> = std::fs::read_dir(server.data_dir().join("backups").join("acme"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| !name.ends_with(".mhbk"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // The stored backups as the API lists them: newest first; paths for operators only.
    let (status, body) = server.get("/v1/backups?tenant=acme", Some(&operator));
    assert_eq!(status, 200, "{body}");
    let listed: Vec<&str> = body["backups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|backup| backup["name"].as_str().unwrap())
        .collect();
    let mut newest_first: Vec<&str> = kept.iter().map(String::as_str).collect();
    newest_first.reverse();
    assert_eq!(listed, newest_first);
    assert!(body["backups"][0]["path"].as_str().is_some(), "{body}");
    let admin = server.token("tenant-admin", Some("acme"));
    let (status, body) = server.get("/v1/backups", Some(&admin));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["backups"].as_array().unwrap().len(), 3);
    assert_eq!(body["backups"][0]["tenant"], "acme");
    assert_eq!(body["backups"][0].get("path"), None, "{body}");
    let (_, status_body) = server.get("/v1/status", Some(&operator));
    assert_eq!(status_body["backups"]["scheduled"], 0, "{status_body}");
}

#[test]
fn bad_input_is_refused_exactly_and_changes_nothing_and_access_is_limited() {
    let server = setup();
    let operator = server.operator.clone();
    let refusals = [
        (
            "acme",
            json!({"interval_secs": 60, "keep_count": 0}),
            400,
            "invalid keep_count: 0 is not a number of backups to keep from 1 to 1000",
        ),
        (
            "acme",
            json!({"interval_secs": 0, "keep_count": 3}),
            400,
            "invalid interval_secs: 0 is not an interval from 1 to 31536000 seconds (365 days); use at least 60 outside tests",
        ),
        (
            "acme",
            json!({"interval_secs": 60, "keep_count": 3, "max_age_days": 0}),
            400,
            "invalid max_age_days: 0 is not an age from 1 to 3650 days; leave it out to keep backups whatever their age",
        ),
        (
            "nobody",
            json!({"interval_secs": 60, "keep_count": 3}),
            404,
            "tenant `nobody` does not exist",
        ),
    ];
    for (tenant, body, expected_status, message) in refusals {
        let (status, answer) = put_schedule(&server, &operator, tenant, body);
        assert_eq!(status, expected_status, "{answer}");
        assert_eq!(answer["error"]["message"], message, "{answer}");
    }
    let (status, answer) = put_schedule(
        &server,
        &operator,
        "acme",
        json!({"interval_secs": 60, "keep_count": 3, "every": "6h"}),
    );
    assert_eq!(status, 400, "{answer}");
    let (status, answer) = schedule(&server, "acme");
    assert_eq!(status, 404, "{answer}");
    assert_eq!(
        answer["error"]["message"],
        "tenant `acme` has no backup schedule; an operator sets one with PUT /v1/tenants/acme/backup-schedule"
    );
    let (status, answer) = server.request(
        "DELETE",
        "/v1/tenants/acme/backup-schedule",
        Some(&operator),
        None,
    );
    assert_eq!(status, 404, "{answer}");
    let (_, listing) = server.get("/v1/backup-schedules", Some(&operator));
    assert_eq!(listing["schedules"], json!([]));
    let (_, audit) = server.get("/v1/audit?action=backup", Some(&operator));
    assert_eq!(audit["entries"], json!([]), "nothing was audited as changed");
    assert!(files(&server, "acme").is_empty());

    // Access: operators manage; a tenant admin reads its own tenant's only.
    let (status, _) = put_schedule(
        &server,
        &operator,
        "acme",
        json!({"interval_secs": 3600, "keep_count": 2, "max_age_days": 30}),
    );
    assert_eq!(status, 200);
    let acme_admin = server.token("tenant-admin", Some("acme"));
    let banban_admin = server.token("tenant-admin", Some("banban"));
    let acme_viewer = server.token("tenant-viewer", Some("acme"));
    let get = |token: &str, path: &str| server.get(path, Some(token)).0;
    assert_eq!(get(&acme_admin, "/v1/tenants/acme/backup-schedule"), 200);
    let (_, own) = server.get("/v1/tenants/acme/backup-schedule", Some(&acme_admin));
    assert_eq!(own["keep_count"], 2);
    assert_eq!(own["max_age_days"], 30);
    // Another tenant's schedule does not exist for a tenant-scoped token.
    assert_eq!(get(&banban_admin, "/v1/tenants/acme/backup-schedule"), 404);
    assert_eq!(get(&banban_admin, "/v1/backups?tenant=acme"), 404);
    // Forbidden: changing one's own schedule, listing every schedule, a viewer reading.
    let change = json!({"interval_secs": 60, "keep_count": 1});
    assert_eq!(put_schedule(&server, &acme_admin, "acme", change.clone()).0, 403);
    assert_eq!(put_schedule(&server, &banban_admin, "banban", change).0, 403);
    let (status, _) = server.request(
        "DELETE",
        "/v1/tenants/acme/backup-schedule",
        Some(&acme_admin),
        None,
    );
    assert_eq!(status, 403);
    assert_eq!(get(&acme_admin, "/v1/backup-schedules"), 403);
    assert_eq!(get(&acme_viewer, "/v1/tenants/acme/backup-schedule"), 403);
    assert_eq!(get(&acme_viewer, "/v1/backups"), 403);
    assert_eq!(server.get("/v1/backup-schedules", None).0, 401);
    let (_, still) = schedule(&server, "acme");
    assert_eq!(
        (still["interval_secs"].as_u64(), still["keep_count"].as_u64()),
        (Some(3600), Some(2))
    );
}

#[test]
fn a_failing_backup_is_recorded_counted_audited_and_recovers() {
    let server = setup();
    let operator = server.operator.clone();
    create_tenant(&server, "broken");
    // A regular file where the tenant's backup folder belongs: even root cannot create the folder.
    let root = server.data_dir().join("backups");
    std::fs::create_dir_all(&root).unwrap();
    let blocker = root.join("broken");
    std::fs::write(&blocker, b"not a folder").unwrap();
    let (status, body) = server.request(
        "PUT",
        "/v1/alert-rules/backups",
        Some(&operator),
        Some(&json!({"kind": "backup-failures", "threshold": 1, "window_secs": 60})),
    );
    assert_eq!(status, 200, "{body}");
    let (status, body) = put_schedule(
        &server,
        &operator,
        "broken",
        json!({"interval_secs": 1, "keep_count": 2}),
    );
    assert_eq!(status, 200, "{body}");

    let failed = eventually("a failed run", || {
        let (_, body) = schedule(&server, "broken");
        (body["failures"].as_u64().unwrap() >= 1).then_some(body)
    });
    let run = &failed["last_run"];
    assert_eq!(run["ok"], false, "{failed}");
    let error = run["error"].as_str().unwrap();
    assert!(error.starts_with("the backup could not be stored: "), "{error}");
    assert!(error.contains("<backup_dir>/broken"), "{error}");
    assert!(!error.contains(&*root.to_string_lossy()), "no host path: {error}");
    assert_eq!(failed["last_success_at_ms"], Value::Null);
    assert!(failed["consecutive_failures"].as_u64().unwrap() >= 1);

    let admin = server.token("tenant-admin", Some("broken"));
    let (status, seen) = server.get("/v1/tenants/broken/backup-schedule", Some(&admin));
    assert_eq!(status, 200, "{seen}");
    assert_eq!(seen["last_run"]["ok"], false, "{seen}");
    assert_eq!(
        seen["last_run"]["error"],
        "the backup failed; the operator can see why in the audit log"
    );

    let (_, metrics) = server.raw("GET", "/metrics", Some(&operator), None);
    let metrics = String::from_utf8(metrics).unwrap();
    assert!(
        metric(&metrics, "modhost_backup_failures_total{tenant=\"broken\"}")
            .is_some_and(|failures| failures >= 1.0),
        "{metrics}"
    );
    assert_eq!(
        metric(
            &metrics,
            "modhost_backup_last_success_timestamp_seconds{tenant=\"broken\"}"
        ),
        None
    );
    let entries = run_entries(&server, "broken");
    let audited = entries.first().expect("an audited run");
    assert_eq!(audited["outcome"], "failed", "{audited}");
    assert_eq!(audited["actor"], "system:backups");
    assert_eq!(audited["target"], "broken");
    assert!(
        audited["detail"]
            .as_str()
            .unwrap()
            .starts_with("the backup could not be stored: "),
        "{audited}"
    );
    let alert = eventually("a backup-failures alert", || {
        let (_, body) = server.get("/v1/alerts?state=firing", Some(&operator));
        body["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|alert| alert["kind"] == "backup-failures")
            .cloned()
    });
    assert_eq!(alert["rule"], "backups", "{alert}");
    assert_eq!(alert["tenant"], "broken", "{alert}");
    assert_eq!(alert["module"], Value::Null, "{alert}");
    let (_, status_body) = server.get("/v1/status", Some(&operator));
    assert_eq!(status_body["backups"]["failing"], 1, "{status_body}");
    assert_eq!(
        status_body["backups"]["last_failure"]["tenant"], "broken",
        "{status_body}"
    );

    // Clear the way: the next run stores a backup and the failure streak ends.
    std::fs::remove_file(&blocker).unwrap();
    let recovered = eventually("a successful run after the failures", || {
        let (_, body) = schedule(&server, "broken");
        (body["last_run"]["ok"] == true).then_some(body)
    });
    assert_eq!(recovered["consecutive_failures"], 0);
    assert!(recovered["failures"].as_u64().unwrap() >= 1);
    assert!(recovered["last_success_at_ms"].as_u64().is_some());
    assert!(!files(&server, "broken").is_empty());
    assert!(Path::new(&root.join("broken")).is_dir());
}
