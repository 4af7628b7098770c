//! `/readyz` after a restart (the warm-up loads every route before any request; a route that cannot load keeps the host not ready, named to operators only) and tenant-scoped metrics.

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

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::*;

fn create_tenant(server: &Server, tenant: &str) {
    let (status, body) = server.post(
        "/v1/tenants",
        Some(&server.operator),
        json!({"id": tenant, "name": tenant, "kind": "standard"}),
    );
    assert_eq!(status, 201, "{body}");
}

fn push(server: &Server, (manifest, component): &(String, Vec<u8>)) {
    let (status, body) = server.push(&server.operator, manifest, component, None);
    assert_eq!(status, 201, "{body}");
}

fn promote(server: &Server, tenant: &str, version: &str) {
    let (status, body) = server.post(
        &format!("/v1/tenants/{tenant}/deployments/template/promote"),
        Some(&server.operator),
        json!({"version": version}),
    );
    assert_eq!(status, 200, "{body}");
}

/// Polls `/readyz` with `token` until `done` accepts the answer; panics after a generous deadline.
fn readyz_until(server: &Server, token: Option<&str>, done: impl Fn(u16, &Value) -> bool) -> (u16, Value) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (status, body) = server.get("/readyz", token);
        if done(status, &body) {
            return (status, body);
        }
        assert!(
            Instant::now() < deadline,
            "/readyz never got there: {status} {body}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The blob file of a component, from its manifest's `sha256`.
fn blob_path(server: &Server, manifest: &str) -> std::path::PathBuf {
    let hex = manifest
        .lines()
        .find_map(|line| line.trim().strip_prefix("sha256 = \""))
        .and_then(|rest| rest.strip_suffix('"'))
        .expect("the manifest names its sha256");
    let path = server
        .data_dir()
        .join("registry/blobs/sha256")
        .join(&hex[..2])
        .join(hex);
    assert!(path.is_file(), "no blob at {}", path.display());
    path
}

#[test]
fn after_a_restart_the_warm_up_loads_every_route_before_any_request_and_readyz_is_ready() {
    let server = Server::start();
    push(&server, &built("template@0.1.0"));
    for tenant in ["acme", "globex"] {
        create_tenant(&server, tenant);
        promote(&server, tenant, "0.1.0");
    }
    let server = server.restart(|_| {});

    // No data-plane request is made: only the warm-up can load the routes.
    let (_, body) = readyz_until(&server, None, |status, _| status == 200);
    assert_eq!(
        body,
        json!({"ready": true, "storage": "ok", "warming_up": false, "not_ready_count": 0, "not_ready": []})
    );
    let (status, status_body) = server.get("/v1/status", Some(&server.operator));
    assert_eq!(status, 200, "{status_body}");
    let routes = status_body["routes"].as_array().expect("routes");
    assert_eq!(routes.len(), 2, "{status_body}");
    for route in routes {
        assert_eq!(route["serving"], json!("0.1.0"), "{route}");
        assert_eq!(route["problem"], Value::Null, "{route}");
    }
}

#[test]
fn a_route_that_cannot_load_keeps_the_host_not_ready_naming_it_to_operators_while_others_are_served() {
    let server = Server::start();
    push(&server, &built("template@0.1.0"));
    let broken = template_version("0.2.0");
    push(&server, &broken);
    create_tenant(&server, "acme");
    create_tenant(&server, "globex");
    // acme only ever ran 0.2.0: nothing earlier to fall back to.
    promote(&server, "acme", "0.2.0");
    promote(&server, "globex", "0.1.0");
    std::fs::write(blob_path(&server, &broken.0), b"bit rot").expect("corrupt the blob");
    let server = server.restart(|_| {});
    let acme_admin = server.token("tenant-admin", Some("acme"));
    let globex_admin = server.token("tenant-admin", Some("globex"));

    let (status, body) = readyz_until(&server, Some(&server.operator), |_, body| {
        body["warming_up"] == json!(false)
    });
    assert_eq!(status, 503, "{body}");
    assert_eq!(
        (&body["ready"], &body["storage"], &body["not_ready_count"]),
        (&json!(false), &json!("ok"), &json!(1)),
        "{body}"
    );
    let listed = &body["not_ready"][0];
    assert_eq!(
        (
            &listed["tenant"],
            &listed["module"],
            &listed["version"],
            &listed["state"]
        ),
        (
            &json!("acme"),
            &json!("template"),
            &json!("0.2.0"),
            &json!("failed")
        ),
        "{body}"
    );
    let reason = listed["reason"].as_str().expect("operators get the reason");
    assert!(reason.starts_with("template@0.2.0 cannot be loaded"), "{reason}");

    // Without a token: counts only, no tenant id.
    let (status, bytes) = server.raw("GET", "/readyz", None, None);
    let text = String::from_utf8(bytes).expect("utf-8");
    assert_eq!(status, 503, "{text}");
    assert!(!text.contains("acme") && !text.contains("template"), "{text}");
    let anonymous: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(
        (&anonymous["not_ready_count"], &anonymous["not_ready"]),
        (&json!(1), &json!([]))
    );
    // A tenant's token: its own routes only, without the failure's detail.
    let (status, own) = server.get("/readyz", Some(&acme_admin));
    assert_eq!(status, 503);
    assert_eq!(
        own["not_ready"],
        json!([{"tenant": "acme", "module": "template", "version": "0.2.0", "state": "failed"}])
    );
    let (status, other) = server.get("/readyz", Some(&globex_admin));
    assert_eq!((status, &other["not_ready"]), (503, &json!([])), "{other}");

    // The other tenant is served all along; the broken one is refused.
    assert_eq!(
        server
            .get("/t/globex/template/hello/ready", Some(&globex_admin))
            .0,
        200
    );
    assert_ne!(
        server.get("/t/acme/template/hello/ready", Some(&acme_admin)).0,
        200
    );

    // Fixed by a promote to a version that loads: ready again.
    promote(&server, "acme", "0.1.0");
    let (_, body) = readyz_until(&server, Some(&server.operator), |status, _| status == 200);
    assert_eq!(body["not_ready"], json!([]));
}

/// The text of `GET /v1/tenants/{tenant}/metrics` with `token`.
fn tenant_metrics(server: &Server, tenant: &str, token: &str) -> (u16, String) {
    let (status, bytes) = server.raw("GET", &format!("/v1/tenants/{tenant}/metrics"), Some(token), None);
    (status, String::from_utf8(bytes).expect("utf-8"))
}

#[test]
fn a_tenants_metrics_hold_its_own_series_only() {
    let server = Server::start();
    push(&server, &built("template@0.1.0"));
    for tenant in ["acme", "globex"] {
        create_tenant(&server, tenant);
        promote(&server, tenant, "0.1.0");
        let invoker = server.token("invoker", Some(tenant));
        for _ in 0..3 {
            let path = format!("/t/{tenant}/template/hello/metrics");
            assert_eq!(server.get(&path, Some(&invoker)).0, 200);
        }
    }
    let acme_admin = server.token("tenant-admin", Some("acme"));
    let acme_viewer = server.token("tenant-viewer", Some("acme"));
    let acme_invoker = server.token("invoker", Some("acme"));
    let globex_admin = server.token("tenant-admin", Some("globex"));

    let (status, text) = tenant_metrics(&server, "acme", &acme_admin);
    assert_eq!(status, 200, "{text}");
    assert!(
        text.contains(r#"modhost_requests_total{tenant="acme",module="template",outcome="ok"} 3"#),
        "{text}"
    );
    assert!(
        text.contains("modhost_request_duration_seconds_bucket{"),
        "{text}"
    );
    assert!(!text.contains("globex"), "another tenant's series leaked: {text}");
    for label in text.lines().filter(|line| !line.starts_with('#')) {
        assert!(
            label.contains(r#"tenant="acme""#),
            "a series without acme's label: {label}"
        );
    }
    for host_wide in [
        "modhost_connections_open",
        "modhost_denials",
        "modhost_swaps",
        "modhost_compiled",
    ] {
        assert!(!text.contains(host_wide), "{host_wide} is host-wide: {text}");
    }
    assert_eq!(tenant_metrics(&server, "acme", &acme_viewer).0, 200);
    assert_eq!(tenant_metrics(&server, "acme", &acme_invoker).0, 403);

    // Another tenant's admin gets exactly what an unknown tenant gets.
    let (status, other) = tenant_metrics(&server, "acme", &globex_admin);
    let (unknown_status, unknown) = tenant_metrics(&server, "nobody", &globex_admin);
    assert_eq!((status, unknown_status), (404, 404));
    assert_eq!(other.replace("acme", "nobody"), unknown);
    let (status, operator_unknown) = tenant_metrics(&server, "nobody", &server.operator);
    assert_eq!(status, 404, "{operator_unknown}");
    assert_eq!(operator_unknown, unknown);

    // The operator's /metrics still holds both.
    let (status, bytes) = server.raw("GET", "/metrics", Some(&server.operator), None);
    let all = String::from_utf8(bytes).expect("utf-8");
    assert_eq!(status, 200);
    assert!(all.contains(r#"tenant="acme""#) && all.contains(r#"tenant="globex""#));
}
