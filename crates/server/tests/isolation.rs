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

#[test]
fn a_tenant_looping_at_its_limit_neither_starves_nor_denies_its_neighbour() {
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
    deploy(&server, "calm", "template", "0.1.0");
    deploy(&server, "hog", "template", "0.1.0");
    deploy(&server, "hog", "chaos", "1.0.0");

    let attacking = Arc::new(AtomicBool::new(true));
    let hogs: Vec<_> = (0..HOG_CLIENTS)
        .map(|_| {
            let server = server.clone();
            let attacking = attacking.clone();
            std::thread::spawn(move || {
                let mut statuses = BTreeMap::<u16, u32>::new();
                while attacking.load(Ordering::Relaxed) {
                    let (status, _) = server.get("/t/hog/chaos/loop", Some(&server.operator));
                    *statuses.entry(status).or_default() += 1;
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
    eprintln!("neighbour served {served} in {ATTACK:?}; hog statuses {hog_statuses:?}");
}
