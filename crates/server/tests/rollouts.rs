//! Rollouts over real HTTP with real components: six tenants in three rings, a healthy rollout completes, a failing ring halts it and is rolled back, and a restart mid-rollout resumes it without repeating or skipping a tenant.

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
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use support::*;

const TENANTS: [(&str, &str); 6] = [
    ("t1", "internal"),
    ("t2", "internal"),
    ("t3", "beta"),
    ("t4", "beta"),
    ("t5", "general"),
    ("t6", "general"),
];

/// Six tenants in three rings, each on chaos 1.0.0 (with migrations skipped); 1.0.1 fails in traffic, 1.0.2 is healthy.
fn setup(configure: impl FnOnce(&mut modhost_server::ServerConfig)) -> Server {
    let server = Server::start_with(|config| {
        config.watch_min_requests = 10;
        configure(config);
    });
    let operator = server.operator.clone();
    let (manifest, component) = built("template@0.1.0");
    assert_eq!(server.push(&operator, &manifest, &component, None).0, 201);
    for (version, status) in [("1.0.0", 200), ("1.0.1", 503), ("1.0.2", 200)] {
        let (manifest, component) = flaky_chaos(version, status);
        assert_eq!(server.push(&operator, &manifest, &component, None).0, 201);
    }
    for (tenant, ring) in TENANTS {
        let (status, body) = server.post(
            "/v1/tenants",
            Some(&operator),
            json!({"id": tenant, "name": tenant, "kind": "standard"}),
        );
        assert_eq!(status, 201, "{body}");
        let (status, body) = server.request(
            "PUT",
            &format!("/v1/tenants/{tenant}/ring"),
            Some(&operator),
            Some(&json!({"ring": ring})),
        );
        assert_eq!((status, body["ring"].clone()), (200, json!(ring)), "{body}");
        for (module, version) in [("template", "0.1.0"), ("chaos", "1.0.0")] {
            let (status, body) = server.post(
                &format!("/v1/tenants/{tenant}/deployments/{module}/promote"),
                Some(&operator),
                json!({"version": version}),
            );
            assert_eq!(status, 200, "{body}");
        }
        let (status, _) = server.raw(
            "PUT",
            &format!("/t/{tenant}/chaos/control/fail-migrate"),
            Some(&operator),
            Some(("text/plain".to_owned(), b"skip".to_vec())),
        );
        assert_eq!(status, 204);
    }
    server
}

fn start(server: &Server, version: &str, soak_secs: u64, watch_secs: u64) -> u64 {
    let (status, body) = server.post(
        "/v1/rollouts",
        Some(&server.operator),
        json!({"module": "chaos", "version": version, "rings": ["internal", "beta", "general"],
               "soak_secs": soak_secs, "watch_secs": watch_secs}),
    );
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["state"], "running");
    body["id"].as_u64().unwrap()
}

/// Polls the rollout until `done` says so (at most 60 s).
fn wait_for(server: &Server, id: u64, done: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
    let started = Instant::now();
    loop {
        let (status, body) = server.get(&format!("/v1/rollouts/{id}"), Some(&server.operator));
        assert_eq!(status, 200, "{body}");
        if done(&body) {
            return body;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "waited too long: {body}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn active(server: &Server, tenant: &str) -> String {
    let (_, body) = server.get(
        &format!("/v1/tenants/{tenant}/deployments/chaos"),
        Some(&server.operator),
    );
    body["active"].as_str().unwrap_or_default().to_owned()
}

fn done_tenants(rollout: &serde_json::Value) -> Vec<(String, String)> {
    rollout["done"]
        .as_array()
        .unwrap()
        .iter()
        .map(|done| {
            (
                done["tenant"].as_str().unwrap().to_owned(),
                done["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn every_tenant_promoted_once() -> Vec<(String, String)> {
    TENANTS
        .iter()
        .map(|(tenant, _)| ((*tenant).to_owned(), "promoted".to_owned()))
        .collect()
}

#[test]
fn a_healthy_three_ring_rollout_over_six_tenants_completes_ring_by_ring() {
    let server = setup(|_| {});
    let id = start(&server, "1.0.2", 1, 1);
    let rollout = wait_for(&server, id, |rollout| rollout["state"] != "running");
    assert_eq!(rollout["state"], "completed", "{rollout}");
    assert_eq!(done_tenants(&rollout), every_tenant_promoted_once());
    for (tenant, _) in TENANTS {
        assert_eq!(active(&server, tenant), "1.0.2");
    }
    let (_, audit) = server.get("/v1/audit?action=rollout.", Some(&server.operator));
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "rollout.start",
            "rollout.ring",
            "rollout.ring",
            "rollout.ring",
            "rollout.complete"
        ]
    );
    // Each promote was an ordinary, watched one by the rollout.
    let (_, deployment) = server.get("/v1/tenants/t6/deployments/chaos", Some(&server.operator));
    let last = deployment["history"].as_array().unwrap().last().cloned().unwrap();
    assert_eq!(last["actor"], format!("system:rollout-{id}"));
}

#[test]
fn a_ring_failing_its_watch_halts_the_rollout_and_is_rolled_back() {
    let server = setup(|_| {});
    // Steady traffic to every tenant for the whole test.
    let stop = AtomicBool::new(false);
    let answers = std::thread::scope(|scope| {
        let traffic = scope.spawn(|| {
            let mut answers = BTreeMap::<(u16, String), usize>::new();
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .build()
                .into();
            while !stop.load(Ordering::SeqCst) {
                for (tenant, _) in TENANTS {
                    let response = agent
                        .get(format!("{}/t/{tenant}/chaos/flaky", server.url))
                        .header("authorization", format!("Bearer {}", server.operator))
                        .call()
                        .expect("http");
                    let version = response
                        .headers()
                        .get("x-modhost-version")
                        .and_then(|value| value.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    *answers.entry((response.status().as_u16(), version)).or_default() += 1;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            answers
        });
        let id = start(&server, "1.0.1", 2, 30);
        let rollout = wait_for(&server, id, |rollout| rollout["state"] != "running");
        assert_eq!(rollout["state"], "halted", "{rollout}");
        let reason = rollout["reason"].as_str().unwrap_or_default();
        assert!(
            reason
                .contains("failed its watch: automatic rollback of chaos@1.0.1 to 1.0.0: error rate 100.0%"),
            "{reason}"
        );
        assert_eq!(rollout["ring"], "internal", "{rollout}");
        // Both internal tenants end up back on 1.0.0 (each by its own watch).
        let started = Instant::now();
        while ["t1", "t2"]
            .iter()
            .any(|tenant| active(&server, tenant) != "1.0.0")
        {
            assert!(started.elapsed() < Duration::from_secs(15), "not rolled back");
            std::thread::sleep(Duration::from_millis(100));
        }
        // The later rings were never touched.
        for tenant in ["t3", "t4", "t5", "t6"] {
            assert_eq!(active(&server, tenant), "1.0.0");
        }
        let tenants: Vec<String> = done_tenants(&rollout)
            .into_iter()
            .map(|(tenant, _)| tenant)
            .collect();
        assert_eq!(tenants, ["t1", "t2"]);
        stop.store(true, Ordering::SeqCst);
        traffic.join().expect("traffic")
    });
    eprintln!("answers during the rollout: {answers:?}");
    let allowed = [(200, "chaos@1.0.0".to_owned()), (503, "chaos@1.0.1".to_owned())];
    assert!(
        answers.keys().all(|answer| allowed.contains(answer)),
        "{answers:?}"
    );
    assert!(
        answers.contains_key(&allowed[1]),
        "the bad version served: {answers:?}"
    );
}

#[test]
fn a_rollout_resumes_after_a_restart_without_repeating_or_skipping_a_tenant() {
    let server = setup(|_| {});
    let id = start(&server, "1.0.2", 3, 1);
    // Stop the server while the first ring soaks.
    let rollout = wait_for(&server, id, |rollout| {
        rollout["done"].as_array().is_some_and(|done| done.len() == 2)
    });
    assert_eq!(rollout["ring"], "internal", "{rollout}");
    let server = server.restart(|config| config.watch_min_requests = 10);
    let rollout = wait_for(&server, id, |rollout| rollout["state"] != "running");
    assert_eq!(rollout["state"], "completed", "{rollout}");
    assert_eq!(done_tenants(&rollout), every_tenant_promoted_once());
    for (tenant, _) in TENANTS {
        assert_eq!(active(&server, tenant), "1.0.2");
        let (_, deployment) = server.get(
            &format!("/v1/tenants/{tenant}/deployments/chaos"),
            Some(&server.operator),
        );
        let promotes = deployment["history"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|event| event["to"] == "1.0.2")
            .count();
        assert_eq!(promotes, 1, "{tenant} promoted once: {deployment}");
    }
}

#[test]
fn rollouts_refuse_bad_input_and_are_steered_by_operators_only() {
    let server = setup(|_| {});
    for (body, status, message) in [
        (
            json!({"module": "chaos", "version": "9.9.9", "rings": ["beta"], "soak_secs": 1}),
            404,
            "module `chaos` has no version 9.9.9",
        ),
        (
            json!({"module": "chaos", "version": "1.0.2", "rings": [], "soak_secs": 1}),
            400,
            "name at least one ring",
        ),
        (
            json!({"module": "chaos", "version": "1.0.2", "rings": ["beta", "beta"], "soak_secs": 1}),
            400,
            "ring `beta` is named twice",
        ),
        (
            json!({"module": "chaos", "version": "1.0.2", "rings": ["Beta!"], "soak_secs": 1}),
            400,
            "ring `Beta!` must be kebab-case",
        ),
    ] {
        let (answer, reply) = server.post("/v1/rollouts", Some(&server.operator), body);
        assert_eq!(answer, status, "{reply}");
        assert!(
            reply["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains(message),
            "{reply}"
        );
    }
    let (_, list) = server.get("/v1/rollouts", Some(&server.operator));
    assert_eq!(list["rollouts"], json!([]), "nothing started");
    // Eight operators start the same module's rollout at once: one wins.
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let starts: Vec<_> = (0..8)
            .map(|_| {
                scope.spawn(|| {
                    server
                        .post(
                            "/v1/rollouts",
                            Some(&server.operator),
                            json!({"module": "chaos", "version": "1.0.2", "rings": ["nobody"], "soak_secs": 600}),
                        )
                        .0
                })
            })
            .collect();
        starts
            .into_iter()
            .map(|start| start.join().expect("a client"))
            .collect()
    });
    assert_eq!(
        statuses.iter().filter(|status| **status == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|status| **status == 400).count(),
        7,
        "{statuses:?}"
    );
    let (_, list) = server.get("/v1/rollouts", Some(&server.operator));
    let raced = list["rollouts"][0]["id"].as_u64().expect("the one rollout");
    let (status, _) = server.post(
        &format!("/v1/rollouts/{raced}/abort"),
        Some(&server.operator),
        json!({}),
    );
    assert_eq!(status, 200);
    let admin = server.token("tenant-admin", Some("t1"));
    let (status, _) = server.post(
        "/v1/rollouts",
        Some(&admin),
        json!({"module": "chaos", "version": "1.0.2", "rings": ["beta"], "soak_secs": 1}),
    );
    assert_eq!(status, 403);
    // Paused right away: nothing moves until it is resumed.
    let id = start(&server, "1.0.2", 60, 1);
    let (status, body) = server.post(
        &format!("/v1/rollouts/{id}/pause"),
        Some(&server.operator),
        json!({}),
    );
    assert_eq!((status, body["state"].clone()), (200, json!("paused")), "{body}");
    let (status, body) = server.post(
        "/v1/rollouts",
        Some(&server.operator),
        json!({"module": "chaos", "version": "1.0.2", "rings": ["beta"], "soak_secs": 1}),
    );
    assert_eq!(status, 400, "one live rollout per module: {body}");
    let (status, body) = server.post(
        &format!("/v1/rollouts/{id}/abort"),
        Some(&server.operator),
        json!({}),
    );
    assert_eq!((status, body["state"].clone()), (200, json!("aborted")), "{body}");
    let (status, body) = server.post(
        &format!("/v1/rollouts/{id}/resume"),
        Some(&server.operator),
        json!({}),
    );
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["error"]["message"],
        format!("invalid state: rollout {id} is aborted; it cannot become running")
    );
    let (status, _) = server.get("/v1/rollouts/999999", Some(&server.operator));
    assert_eq!(status, 404);
}
