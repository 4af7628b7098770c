//! Watched promotes over real HTTP with real components: a version failing in traffic is rolled back automatically, a healthy one stays, a breach after a migration is held for a person.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "test code: a failed expectation is a failed test"
)]

#[allow(
    unused_imports,
    reason = "the shared support re-exports helpers this file does not use"
)]
mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::json;
use support::*;

/// A server with acme, chaos 1.0.0 active and 1.0.1 (failing) and 1.0.2 (healthy) published.
fn setup() -> (Server, String) {
    let server = Server::start_with(|config| config.watch_min_requests = 10);
    let operator = server.operator.clone();
    let (status, body) = server.post(
        "/v1/tenants",
        Some(&operator),
        json!({"id": "acme", "name": "Acme", "kind": "standard"}),
    );
    assert_eq!(status, 201, "{body}");
    // chaos depends on template.
    let (manifest, component) = built("template@0.1.0");
    assert_eq!(server.push(&operator, &manifest, &component, None).0, 201);
    let (status, body) = server.post(
        "/v1/tenants/acme/deployments/template/promote",
        Some(&operator),
        json!({"version": "0.1.0"}),
    );
    assert_eq!(status, 200, "{body}");
    for (version, flaky_status) in [("1.0.0", 200), ("1.0.1", 503), ("1.0.2", 200)] {
        let (manifest, component) = flaky_chaos(version, flaky_status);
        let (status, body) = server.push(&operator, &manifest, &component, None);
        assert_eq!(status, 201, "{body}");
    }
    let (status, body) = promote(&server, "1.0.0", None);
    assert_eq!(status, 200, "{body}");
    let invoker = server.token("invoker", Some("acme"));
    (server, invoker)
}

fn promote(server: &Server, version: &str, watch_secs: Option<u64>) -> (u16, serde_json::Value) {
    let mut body = json!({"version": version});
    if let Some(watch_secs) = watch_secs {
        body["watch_secs"] = json!(watch_secs);
    }
    server.post(
        "/v1/tenants/acme/deployments/chaos/promote",
        Some(&server.operator),
        body,
    )
}

/// One `GET /flaky`: the status and the version that answered.
fn flaky(server: &Server, token: &str) -> (u16, String) {
    let (status, version, _) = server.get_with("/t/acme/chaos/flaky", token, &[], "x-modhost-version");
    (status, version)
}

fn health(server: &Server) -> serde_json::Value {
    let (status, body) = server.get(
        "/v1/tenants/acme/deployments/chaos/health",
        Some(&server.operator),
    );
    assert_eq!(status, 200, "{body}");
    body
}

/// Polls the health until the watch is in `state` (at most 15 s).
fn wait_for_watch(server: &Server, state: &str) -> serde_json::Value {
    let started = Instant::now();
    loop {
        let body = health(server);
        if body["watch"]["state"] == state {
            return body;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "the watch never became {state}: {body}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn audit(server: &Server, action: &str) -> Vec<serde_json::Value> {
    let (_, body) = server.get(&format!("/v1/audit?action={action}"), Some(&server.operator));
    body["entries"].as_array().cloned().unwrap_or_default()
}

#[test]
fn a_version_failing_in_traffic_is_rolled_back_automatically_and_the_audit_says_why() {
    let (server, invoker) = setup();
    for _ in 0..30 {
        assert_eq!(flaky(&server, &invoker), (200, "chaos@1.0.0".to_owned()));
    }
    // 1.0.1's migration changes nothing, so a breach may roll it back.
    let (status, _) = server.raw(
        "PUT",
        "/t/acme/chaos/control/fail-migrate",
        Some(&invoker),
        Some(("text/plain".to_owned(), b"skip".to_vec())),
    );
    assert_eq!(status, 204);
    let (status, body) = promote(&server, "1.0.1", Some(60));
    assert_eq!(status, 200, "{body}");
    let promoted = Instant::now();
    let mut rolled_back_after = None;
    // Traffic every 10 ms until 1.0.0 has answered 20 times in a row again.
    let mut answers = BTreeMap::<(u16, String), usize>::new();
    let mut back_in_a_row = 0;
    let started = Instant::now();
    while back_in_a_row < 20 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "never rolled back: {answers:?} {}",
            health(&server)
        );
        let answer = flaky(&server, &invoker);
        back_in_a_row = if answer.1 == "chaos@1.0.0" {
            back_in_a_row + 1
        } else {
            0
        };
        if back_in_a_row == 1 {
            rolled_back_after = Some(promoted.elapsed());
        }
        *answers.entry(answer).or_default() += 1;
        std::thread::sleep(Duration::from_millis(10));
    }
    let rolled_back_after = rolled_back_after.expect("rolled back");
    eprintln!("rolled back {rolled_back_after:?} after the promote");
    assert!(
        rolled_back_after < Duration::from_secs(5),
        "{rolled_back_after:?}"
    );
    eprintln!("answers during the watch: {answers:?}");
    // Nothing failed but the bad version's own answers.
    let allowed = [(200, "chaos@1.0.0".to_owned()), (503, "chaos@1.0.1".to_owned())];
    assert!(
        answers.keys().all(|answer| allowed.contains(answer)),
        "{answers:?}"
    );
    let bad = answers.get(&allowed[1]).copied().unwrap_or(0);
    assert!(
        (10..500).contains(&bad),
        "judged after its 10 minimum requests: {answers:?}"
    );

    let (_, deployment) = server.get("/v1/tenants/acme/deployments/chaos", Some(&server.operator));
    assert_eq!(deployment["active"], "1.0.0");
    let last = deployment["history"]
        .as_array()
        .and_then(|history| history.last())
        .cloned()
        .unwrap();
    assert_eq!(
        (last["action"].clone(), last["actor"].clone()),
        (json!("rollback"), json!("system:watch"))
    );
    let rollbacks = audit(&server, "deployment.rollback");
    assert_eq!(rollbacks.len(), 1, "{rollbacks:?}");
    let detail = rollbacks[0]["detail"].as_str().unwrap_or_default();
    assert!(
        detail.starts_with("automatic rollback of chaos@1.0.1 to 1.0.0: error rate 100.0% over ")
            && detail.ends_with("requests is above the allowed 1.0% (the previous version had 0.0% over 31)"),
        "{detail}"
    );
    let body = health(&server);
    assert_eq!(body["watch"]["state"], "rolled-back", "{body}");
    assert_eq!(body["watch"]["migrated"], false, "{body}");
    assert_eq!(
        body["watch"]["baseline"]["requests"], 31,
        "30 calls and the control write"
    );
    let versions = body["versions"].as_array().unwrap();
    let failing = versions
        .iter()
        .find(|version| version["version"] == "1.0.1")
        .unwrap();
    assert_eq!(failing["error_rate"], 1.0, "{body}");
}

#[test]
fn a_healthy_version_passes_its_watch_and_stays() {
    let (server, invoker) = setup();
    for _ in 0..20 {
        assert_eq!(flaky(&server, &invoker).0, 200);
    }
    let (status, body) = promote(&server, "1.0.2", Some(2));
    assert_eq!(status, 200, "{body}");
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(2500) {
        assert_eq!(flaky(&server, &invoker), (200, "chaos@1.0.2".to_owned()));
        std::thread::sleep(Duration::from_millis(50));
    }
    let body = wait_for_watch(&server, "passed");
    assert!(
        body["watch"]["verdict"]
            .as_str()
            .unwrap_or_default()
            .starts_with("healthy for 2 s: "),
        "{body}"
    );
    let (_, deployment) = server.get("/v1/tenants/acme/deployments/chaos", Some(&server.operator));
    assert_eq!(deployment["active"], "1.0.2");
    let watches = audit(&server, "deployment.watch");
    assert_eq!(watches.len(), 1, "{watches:?}");
    assert_eq!(watches[0]["outcome"], "ok");
    assert!(audit(&server, "deployment.rollback").is_empty());
}

#[test]
fn a_breach_after_a_migration_is_held_for_a_person_and_the_data_is_kept() {
    let (server, invoker) = setup();
    let (status, _) = server.raw(
        "PUT",
        "/t/acme/chaos/data/note",
        Some(&invoker),
        Some(("text/plain".to_owned(), b"written by 1.0.0".to_vec())),
    );
    assert_eq!(status, 204);
    // 1.0.1's migration upper-cases the data: the promote keeps a snapshot.
    let (status, body) = promote(&server, "1.0.1", Some(60));
    assert_eq!(status, 200, "{body}");
    for _ in 0..15 {
        assert_eq!(flaky(&server, &invoker), (503, "chaos@1.0.1".to_owned()));
    }
    let body = wait_for_watch(&server, "held");
    assert_eq!(body["watch"]["migrated"], true, "{body}");
    let verdict = body["watch"]["verdict"].as_str().unwrap_or_default();
    assert!(
        verdict.contains("the automatic rollback is held for a person because the promote migrated the data"),
        "{verdict}"
    );
    // Still 1.0.1, with its migrated data and the writes since.
    let (_, deployment) = server.get("/v1/tenants/acme/deployments/chaos", Some(&server.operator));
    assert_eq!(deployment["active"], "1.0.1");
    let (status, value) = server.raw("GET", "/t/acme/chaos/data/note", Some(&invoker), None);
    assert_eq!((status, value), (200, b"WRITTEN BY 1.0.0".to_vec()));
    let watches = audit(&server, "deployment.watch");
    assert_eq!(watches.len(), 1, "{watches:?}");
    assert_eq!(watches[0]["outcome"], "failed");
    assert!(audit(&server, "deployment.rollback").is_empty());
}
