//! One tenant attacks the real server over HTTP while another is served: counts, not timings.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "test code: a failed expectation is a failed test"
)]

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use support::*;

/// How many clients keep the hog's CPU-bound calls running: twice its
/// default limit of 8 concurrent calls.
const HOG_CLIENTS: usize = 16;
/// How long the attack lasts.
const ATTACK: Duration = Duration::from_secs(3);

fn deploy(server: &Server, tenant: &str, module: &str, version: &str) {
    let (status, body) = server.post(
        &format!("/v1/tenants/{tenant}/deployments/{module}/promote"),
        Some(&server.operator),
        json!({"version": version}),
    );
    assert_eq!(status, 200, "{body}");
}

/// A server where `hog` and `calm` both run template and chaos.
fn two_tenants() -> Arc<Server> {
    let server = Arc::new(Server::start());
    let operator = server.operator.clone();
    for tenant in ["hog", "calm"] {
        let (status, body) = server.post(
            "/v1/tenants",
            Some(&operator),
            json!({"id": tenant, "name": tenant, "kind": "standard"}),
        );
        assert_eq!(status, 201, "{body}");
    }
    for label in ["template@0.1.0", "chaos@1.0.0"] {
        let (manifest, component) = built(label);
        assert_eq!(server.push(&operator, &manifest, &component, None).0, 201);
    }
    for tenant in ["hog", "calm"] {
        deploy(&server, tenant, "template", "0.1.0");
        deploy(&server, tenant, "chaos", "1.0.0");
    }
    server
}

/// Adds one status to a tally.
fn tally(statuses: &mut BTreeMap<u16, u32>, status: u16) {
    *statuses.entry(status).or_default() += 1;
}

#[test]
fn a_tenant_looping_at_its_limit_neither_starves_nor_denies_its_neighbour() {
    let server = two_tenants();
    let operator = server.operator.clone();

    let attacking = Arc::new(AtomicBool::new(true));
    let hogs: Vec<_> = (0..HOG_CLIENTS)
        .map(|_| {
            let server = server.clone();
            let attacking = attacking.clone();
            std::thread::spawn(move || {
                let mut statuses = BTreeMap::<u16, u32>::new();
                while attacking.load(Ordering::Relaxed) {
                    let (status, _) = server.get("/t/hog/chaos/loop", Some(&server.operator));
                    tally(&mut statuses, status);
                }
                statuses
            })
        })
        .collect();
    // Let the hog fill its slots before the neighbour starts.
    std::thread::sleep(Duration::from_millis(300));

    let started = Instant::now();
    let (mut served, mut failed, mut health_ok) = (0u32, Vec::new(), 0u32);
    while started.elapsed() < ATTACK {
        let (status, body) = server.get("/t/calm/template/hello/world", Some(&operator));
        if status == 200 {
            served += 1;
        } else {
            failed.push((status, body));
        }
        if server.get("/healthz", None).0 == 200 {
            health_ok += 1;
        }
    }
    attacking.store(false, Ordering::Relaxed);
    let mut hog_statuses = BTreeMap::<u16, u32>::new();
    for hog in hogs {
        for (status, count) in hog.join().expect("a hog client") {
            *hog_statuses.entry(status).or_default() += count;
        }
    }

    assert!(failed.is_empty(), "the neighbour was refused: {failed:?}");
    assert!(
        served >= 10,
        "the neighbour got {served} answers in {ATTACK:?} while the hog looped"
    );
    assert_eq!(health_ok, served, "every /healthz answered 200");
    let unexpected: Vec<_> = hog_statuses
        .keys()
        .filter(|status| ![429, 504].contains(*status))
        .collect();
    assert!(
        unexpected.is_empty(),
        "the hog's calls end at their deadline (504) or are refused as busy (429): {hog_statuses:?}"
    );
    assert!(
        hog_statuses.get(&504).is_some_and(|count| *count >= 8),
        "{hog_statuses:?}"
    );
    // The hog's loops were charged to it and paused over its CPU share; the
    // neighbour's calls were never paused.
    let (status, metrics) = server.raw("GET", "/metrics", Some(&operator), None);
    assert_eq!(status, 200);
    let metrics = String::from_utf8(metrics).expect("text");
    let seconds = |name: &str, tenant: &str| -> f64 {
        let prefix = format!("{name}{{tenant=\"{tenant}\"}} ");
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(&prefix))
            .and_then(|value| value.parse().ok())
            .unwrap_or_else(|| panic!("no `{prefix}` in\n{metrics}"))
    };
    let hog_cpu = seconds("modhost_tenant_cpu_seconds_total", "hog");
    let hog_paused = seconds("modhost_tenant_cpu_throttled_seconds_total", "hog");
    assert!(
        hog_cpu > 0.0 && hog_paused > 0.0,
        "hog: {hog_cpu} s used, {hog_paused} s paused"
    );
    assert_eq!(seconds("modhost_tenant_cpu_throttled_seconds_total", "calm"), 0.0);
    eprintln!(
        "neighbour served {served} in {ATTACK:?}; hog statuses {hog_statuses:?}; hog cpu {hog_cpu} s, paused {hog_paused} s"
    );
}

#[test]
fn three_hundred_sleeping_calls_of_one_tenant_leave_the_neighbour_served() {
    let server = two_tenants();
    let operator = server.operator.clone();
    // All at once: 300 calls that would sleep 5 s each in WASI (chaos's
    // deadline is 200 ms). Before admission they took the whole instance
    // pool and the neighbour got 502.
    let start = Arc::new(std::sync::Barrier::new(301));
    let sleepers: Vec<_> = (0..300)
        .map(|_| {
            let server = server.clone();
            let start = start.clone();
            std::thread::spawn(move || {
                start.wait();
                server.get("/t/hog/chaos/sleep?ms=5000", Some(&server.operator))
            })
        })
        .collect();
    start.wait();
    std::thread::sleep(Duration::from_millis(50));
    let mut neighbour = BTreeMap::new();
    for _ in 0..20 {
        tally(&mut neighbour, server.get("/t/calm/chaos/ok", Some(&operator)).0);
        tally(
            &mut neighbour,
            server.get("/t/calm/template/hello/world", Some(&operator)).0,
        );
    }
    let mut hog = BTreeMap::new();
    let mut busy_bodies = std::collections::BTreeSet::new();
    for sleeper in sleepers {
        let (status, body) = sleeper.join().expect("a sleeping client");
        if status == 429 {
            busy_bodies.insert(body.to_string());
        }
        tally(&mut hog, status);
    }
    assert_eq!(neighbour, BTreeMap::from([(200, 40)]), "the neighbour's 40 calls");
    // At most 8 run (they end at the 200 ms deadline, 504) and 64 queue (a
    // queued call whose deadline passes before a slot frees is refused,
    // 429); the rest are refused at once. How many arrive while others still run
    // depends on thread scheduling (alone, about 230 are refused; beside
    // other tests, fewer), so only the kinds of answer are fixed.
    assert_eq!(hog.keys().copied().collect::<Vec<_>>(), [429, 504], "{hog:?}");
    assert_eq!(hog.values().sum::<u32>(), 300);
    // Refused at once with the queue full, or queued until the deadline
    // without a slot freeing up.
    let queue_full = json!({"error": {"code": "busy", "message": "tenant `hog` already runs 8 calls and queues 64; retry shortly"}}).to_string();
    let never_ran = json!({"error": {"code": "busy", "message": "tenant `hog` had 8 calls running for the whole deadline; retry shortly"}}).to_string();
    assert!(busy_bodies.contains(&queue_full), "{busy_bodies:?}");
    assert!(
        busy_bodies
            .iter()
            .all(|body| *body == queue_full || *body == never_ran),
        "every refusal says why: {busy_bodies:?}"
    );
    assert_eq!(
        server.get("/t/hog/chaos/ok", Some(&operator)).0,
        200,
        "the hog is served again"
    );
    eprintln!("neighbour {neighbour:?}; hog {hog:?}");
}

#[test]
fn a_tenant_filling_its_data_quota_from_many_clients_stops_at_it_and_the_neighbour_writes_on() {
    let server = two_tenants();
    let operator = server.operator.clone();
    // chaos's quota is 100 keys: 8 clients at once each try to add 60 keys
    // of their own (`fill/cN…`), holding them uncommitted for 100 ms.
    let start = Arc::new(std::sync::Barrier::new(8));
    let fillers: Vec<_> = (0..8)
        .map(|client| {
            let server = server.clone();
            let start = start.clone();
            std::thread::spawn(move || {
                start.wait();
                server.raw(
                    "PUT",
                    &format!("/t/hog/chaos/fill/60?prefix=c{client}&hold_ms=100"),
                    Some(&server.operator),
                    Some(("application/octet-stream".to_owned(), b"v".to_vec())),
                )
            })
        })
        .collect();
    let mut statuses = BTreeMap::new();
    let mut refusals = Vec::new();
    for filler in fillers {
        let (status, body) = filler.join().expect("a filling client");
        tally(&mut statuses, status);
        if status != 200 {
            let body: serde_json::Value = serde_json::from_slice(&body).expect("a JSON error");
            refusals.push((status, body));
        }
    }
    // Exactly one call's 60 keys fit; every other call kept nothing.
    assert_eq!(statuses.get(&200), Some(&1), "{statuses:?}");
    for (status, body) in &refusals {
        let message = body["error"]["message"].as_str().expect("a message");
        match status {
            // Refused at the write that would have made key 101 (60 stored).
            409 => {
                assert_eq!(body["error"]["code"], "conflict", "{body}");
                assert!(
                    message.starts_with(
                        "storage quota exceeded: this write would leave the module's data at 101 keys, "
                    ) && message
                        .ends_with("bytes; its quota is 100 keys, 1048576 bytes; delete keys or store less"),
                    "{message}"
                );
            }
            // Passed its writes before the winner committed; refused whole at commit.
            507 => {
                assert_eq!(body["error"]["code"], "kv-quota-exceeded", "{body}");
                assert!(
                    message.starts_with("the module's data would hold 120 keys, ")
                        && message.ends_with(
                            "its quota is 100 keys, 1048576 bytes; delete data or store less, then retry"
                        ),
                    "{message}"
                );
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    let (status, data) = server.get("/t/hog/chaos/data", Some(&operator));
    assert_eq!((status, data), (200, json!({})), "no call wrote `data/`");
    // The neighbour's quota is its own: it fills all 100 keys.
    let (status, body) = server.raw(
        "PUT",
        "/t/calm/chaos/fill/100",
        Some(&operator),
        Some(("application/octet-stream".to_owned(), b"v".to_vec())),
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    // Usage in status and in /metrics.
    let (status, body) = server.get("/v1/status", Some(&operator));
    assert_eq!(status, 200);
    let data_of = |tenant: &str| {
        body["routes"]
            .as_array()
            .expect("routes")
            .iter()
            .find(|route| route["tenant"] == tenant && route["module"] == "chaos")
            .map(|route| route["data"].clone())
            .expect("the route")
    };
    let hog = data_of("hog");
    assert_eq!(
        (&hog["keys"], &hog["max_keys"], &hog["max_bytes"]),
        (&json!(60), &json!(100), &json!(1_048_576)),
        "{hog}"
    );
    assert_eq!(data_of("calm")["keys"], 100);
    let (status, metrics) = server.raw("GET", "/metrics", Some(&operator), None);
    assert_eq!(status, 200);
    let metrics = String::from_utf8(metrics).expect("text");
    let hog_bytes = hog["bytes"].as_u64().expect("bytes");
    for line in [
        "modhost_kv_keys{tenant=\"hog\",module=\"chaos\"} 60".to_owned(),
        format!("modhost_kv_bytes{{tenant=\"hog\",module=\"chaos\"}} {hog_bytes}"),
        "modhost_kv_keys{tenant=\"calm\",module=\"chaos\"} 100".to_owned(),
    ] {
        assert!(
            metrics.lines().any(|found| found == line),
            "no `{line}` in\n{metrics}"
        );
    }
    eprintln!("fillers {statuses:?}");
}
