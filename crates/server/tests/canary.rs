//! Canaries over real HTTP with real components: the candidate's share of callers, stickiness, pins, durability across a restart, the migration refusal, promote and abort.

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

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;
use support::*;

/// acme with template and chaos 1.0.0 active, chaos 1.0.2 published.
fn setup() -> (Server, String) {
    let server = Server::start();
    let operator = server.operator.clone();
    let (status, body) = server.post(
        "/v1/tenants",
        Some(&operator),
        json!({"id": "acme", "name": "Acme", "kind": "standard"}),
    );
    assert_eq!(status, 201, "{body}");
    for (label, version) in [
        ("template@0.1.0", None),
        ("chaos@1.0.0", None),
        ("chaos@1.0.0", Some("1.0.2")),
    ] {
        let (manifest, component) = match version {
            Some(version) => modhost_testkit::variant(label, version),
            None => built(label),
        };
        assert_eq!(server.push(&operator, &manifest, &component, None).0, 201);
    }
    for (module, version) in [("template", "0.1.0"), ("chaos", "1.0.0")] {
        let (status, body) = server.post(
            &format!("/v1/tenants/acme/deployments/{module}/promote"),
            Some(&operator),
            json!({"version": version}),
        );
        assert_eq!(status, 200, "{body}");
    }
    let invoker = server.token("invoker", Some("acme"));
    (server, invoker)
}

/// `(status, x-modhost-version)` of `GET /t/acme/chaos/ok` with the given headers.
fn call(server: &Server, token: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let (status, version, _) = server.get_with("/t/acme/chaos/ok", token, headers, "x-modhost-version");
    (status, version)
}

fn start_canary(server: &Server, version: &str, percent: u8) -> (u16, serde_json::Value) {
    server.post(
        "/v1/tenants/acme/deployments/chaos/canary",
        Some(&server.operator),
        json!({"version": version, "percent": percent}),
    )
}

fn skip_migration(server: &Server, token: &str) {
    let (status, _) = server.raw(
        "PUT",
        "/t/acme/chaos/control/fail-migrate",
        Some(token),
        Some(("text/plain".to_owned(), b"skip".to_vec())),
    );
    assert_eq!(status, 204);
}

/// The version each of `callers` callers is served, over `rounds` requests each; panics if one moves.
fn versions_by_caller(
    server: &Server,
    token: &str,
    callers: usize,
    rounds: usize,
) -> BTreeMap<String, String> {
    let mut seen = BTreeMap::<String, BTreeSet<String>>::new();
    for _ in 0..rounds {
        for caller in 0..callers {
            let affinity = format!("caller-{caller}");
            let (status, version) = call(server, token, &[("x-modhost-affinity", &affinity)]);
            assert_eq!(status, 200);
            seen.entry(affinity).or_default().insert(version);
        }
    }
    seen.into_iter()
        .map(|(caller, versions)| {
            assert_eq!(versions.len(), 1, "{caller} moved between versions: {versions:?}");
            (caller, versions.into_iter().next().unwrap())
        })
        .collect()
}

#[test]
fn a_canary_serves_its_share_of_callers_each_on_one_version_and_survives_a_restart() {
    let (server, invoker) = setup();
    // chaos migrates its data from 1.0.0 (it records where it came from): refused.
    let (status, body) = start_canary(&server, "1.0.2", 10);
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "canary-needs-migration");
    assert_eq!(
        body["error"]["message"],
        "chaos@1.0.2 would migrate acme's data from 1.0.0, and a canary would run both versions on data in two shapes; promote it instead (a watched promote rolls back by itself)"
    );
    let (_, deployment) = server.get("/v1/tenants/acme/deployments/chaos", Some(&server.operator));
    assert_eq!(
        (deployment["active"].clone(), deployment.get("canary")),
        (json!("1.0.0"), None)
    );
    let (_, audit) = server.get("/v1/audit?action=deployment.canary", Some(&server.operator));
    assert_eq!(audit["entries"][0]["outcome"], "failed", "{audit}");

    skip_migration(&server, &invoker);
    let (status, body) = start_canary(&server, "1.0.2", 10);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["percent"], 10);

    // 2,000 requests: 500 callers, 4 each.
    let by_caller = versions_by_caller(&server, &invoker, 500, 4);
    let on_canary: Vec<&String> = by_caller
        .iter()
        .filter(|(_, version)| *version == "chaos@1.0.2")
        .map(|(caller, _)| caller)
        .collect();
    let share = on_canary.len() as f64 / by_caller.len() as f64 * 100.0;
    eprintln!("canary share over 2,000 requests from 500 callers: {share:.1}%");
    assert!((8.0..=12.0).contains(&share), "{share}");
    assert!(
        by_caller
            .values()
            .all(|version| version == "chaos@1.0.0" || version == "chaos@1.0.2")
    );

    // Pins: either version, for any caller; nothing else.
    let canary_caller = on_canary[0].clone();
    let stable_caller = by_caller
        .iter()
        .find(|(_, version)| *version == "chaos@1.0.0")
        .unwrap()
        .0
        .clone();
    assert_eq!(
        call(
            &server,
            &invoker,
            &[("x-modhost-affinity", &canary_caller), ("x-modhost-pin", "1.0.0")]
        ),
        (200, "chaos@1.0.0".to_owned())
    );
    assert_eq!(
        call(
            &server,
            &invoker,
            &[("x-modhost-affinity", &stable_caller), ("x-modhost-pin", "1.0.2")]
        ),
        (200, "chaos@1.0.2".to_owned())
    );
    assert_eq!(call(&server, &invoker, &[("x-modhost-pin", "9.9.9")]).0, 409);
    assert_eq!(call(&server, &invoker, &[("x-modhost-pin", "latest")]).0, 400);

    // Durable: after a restart the canary is routed as before.
    let server = server.restart(|_| {});
    let (_, deployment) = server.get("/v1/tenants/acme/deployments/chaos", Some(&server.operator));
    assert_eq!(deployment["canary"]["version"], "1.0.2", "{deployment}");
    assert_eq!(
        call(&server, &invoker, &[("x-modhost-affinity", &canary_caller)]),
        (200, "chaos@1.0.2".to_owned())
    );
    assert_eq!(
        call(&server, &invoker, &[("x-modhost-affinity", &stable_caller)]),
        (200, "chaos@1.0.0".to_owned())
    );

    // Promoting the candidate ends the canary: everyone is on it.
    let (status, body) = server.post(
        "/v1/tenants/acme/deployments/chaos/promote",
        Some(&server.operator),
        json!({"version": "1.0.2"}),
    );
    assert_eq!(status, 200, "{body}");
    let (_, deployment) = server.get("/v1/tenants/acme/deployments/chaos", Some(&server.operator));
    assert_eq!(deployment.get("canary"), None, "{deployment}");
    assert_eq!(
        call(&server, &invoker, &[("x-modhost-affinity", &stable_caller)]),
        (200, "chaos@1.0.2".to_owned())
    );
}

#[test]
fn an_aborted_canary_sends_everyone_back_and_bad_requests_change_nothing() {
    let (server, invoker) = setup();
    skip_migration(&server, &invoker);
    for (version, percent, status, code) in [
        ("1.0.2", 0, 400, "invalid-input"),
        ("1.0.2", 100, 400, "invalid-input"),
        ("1.0.0", 10, 400, "invalid-input"),
        ("7.0.0", 10, 404, "not-found"),
    ] {
        let (answer, body) = start_canary(&server, version, percent);
        assert_eq!(
            (answer, body["error"]["code"].clone()),
            (status, json!(code)),
            "{version} {percent}: {body}"
        );
    }
    let (_, deployment) = server.get("/v1/tenants/acme/deployments/chaos", Some(&server.operator));
    assert_eq!(deployment.get("canary"), None, "nothing started: {deployment}");
    let (status, body) = start_canary(&server, "1.0.2", 50);
    assert_eq!(status, 200, "{body}");
    let by_caller = versions_by_caller(&server, &invoker, 40, 1);
    assert!(by_caller.values().any(|version| version == "chaos@1.0.2"));
    let (status, body) = server.post(
        "/v1/tenants/acme/deployments/chaos/canary/abort",
        Some(&server.operator),
        json!({}),
    );
    assert_eq!(
        (status, body["aborted"]["version"].clone()),
        (200, json!("1.0.2")),
        "{body}"
    );
    let by_caller = versions_by_caller(&server, &invoker, 40, 1);
    assert!(
        by_caller.values().all(|version| version == "chaos@1.0.0"),
        "{by_caller:?}"
    );
    let (status, body) = server.post(
        "/v1/tenants/acme/deployments/chaos/canary/abort",
        Some(&server.operator),
        json!({}),
    );
    assert_eq!((status, body["aborted"].clone()), (200, json!(null)));
    // An invoker may not start one.
    let (status, _) = server.post(
        "/v1/tenants/acme/deployments/chaos/canary",
        Some(&invoker),
        json!({"version": "1.0.2", "percent": 10}),
    );
    assert_eq!(status, 403);
}
