//! Tenant lifecycle and garbage collection over real HTTP: a suspended tenant's data plane answers `423` while its neighbour is served, resume, delete (with and without a final backup), operator-only access, bad input, and `POST /v1/gc`.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "test code: a failed expectation is a failed test"
)]

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::json;
use support::*;

const SUSPENDED_MESSAGE: &str = "tenant `acme` is suspended, so its modules answer no requests; its data is kept, and an operator can resume it with `modhost tenant resume acme`";

/// A server where `acme` and `banban` both run the template.
fn two_tenants(server: &Server) {
    let (manifest, component) = built("template@0.1.0");
    assert_eq!(server.push(&server.operator, &manifest, &component, None).0, 201);
    for tenant in ["acme", "banban"] {
        add_tenant(server, tenant);
    }
}

fn add_tenant(server: &Server, tenant: &str) {
    let (status, body) = server.post(
        "/v1/tenants",
        Some(&server.operator),
        json!({"id": tenant, "name": tenant, "kind": "standard"}),
    );
    assert_eq!(status, 201, "{body}");
    let (status, body) = server.post(
        &format!("/v1/tenants/{tenant}/deployments/template/promote"),
        Some(&server.operator),
        json!({"version": "0.1.0"}),
    );
    assert_eq!(status, 200, "{body}");
}

/// Calls each tenant's template from several threads at once; the statuses each got, counted.
fn call_both(server: &Arc<Server>, tokens: &[(&str, String)]) -> BTreeMap<(String, u16), u32> {
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let server = server.clone();
            let tokens: Vec<(String, String)> = tokens
                .iter()
                .map(|(tenant, token)| ((*tenant).to_owned(), token.clone()))
                .collect();
            std::thread::spawn(move || {
                let mut seen = Vec::new();
                for _ in 0..5 {
                    for (tenant, token) in &tokens {
                        let (status, body) =
                            server.get(&format!("/t/{tenant}/template/hello/world"), Some(token));
                        if status == 423 {
                            assert_eq!(
                                body,
                                json!({"error": {"code": "tenant-suspended", "message": SUSPENDED_MESSAGE}})
                            );
                        }
                        seen.push((tenant.clone(), status));
                    }
                }
                seen
            })
        })
        .collect();
    let mut counts = BTreeMap::new();
    for thread in threads {
        for seen in thread.join().expect("a client thread") {
            *counts.entry(seen).or_default() += 1;
        }
    }
    counts
}

fn metric(server: &Server, name: &str) -> String {
    let (status, text) = server.raw("GET", "/metrics", Some(&server.operator), None);
    assert_eq!(status, 200);
    let text = String::from_utf8(text).unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
        .to_owned()
}

#[test]
fn a_suspended_tenant_is_refused_with_423_while_its_neighbour_is_served_until_it_resumes() {
    let server = Arc::new(Server::start());
    two_tenants(&server);
    let operator = server.operator.clone();
    let tokens = [
        ("acme", server.token("invoker", Some("acme"))),
        ("banban", server.token("invoker", Some("banban"))),
    ];
    let both_served = BTreeMap::from([(("acme".to_owned(), 200), 20), (("banban".to_owned(), 200), 20)]);
    assert_eq!(call_both(&server, &tokens), both_served);

    let (status, body) = server.post(
        "/v1/tenants/acme/suspend",
        Some(&operator),
        json!({"reason": "unpaid invoice"}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["suspended"]["reason"], "unpaid invoice");
    assert!(body["suspended"]["at_ms"].as_u64().unwrap() > 0);

    assert_eq!(
        call_both(&server, &tokens),
        BTreeMap::from([(("acme".to_owned(), 423), 20), (("banban".to_owned(), 200), 20)]),
        "acme is refused, banban keeps being served"
    );
    let (status, body) = server.get("/t/acme/template/hello/world", Some(&operator));
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (423, Some("tenant-suspended"))
    );
    assert_eq!(metric(&server, "modhost_suspended_refusals_total"), "21");

    // The suspension shows on the tenant (to its own readers too) and in the status.
    let admin = server.token("tenant-admin", Some("acme"));
    let (status, tenant) = server.get("/v1/tenants/acme", Some(&admin));
    assert_eq!(status, 200);
    assert_eq!(tenant["suspended"]["reason"], "unpaid invoice");
    assert!(
        server
            .get("/v1/tenants/banban", Some(&operator))
            .1
            .get("suspended")
            .is_none()
    );
    let (_, status) = server.get("/v1/status", Some(&operator));
    let problems: BTreeMap<String, serde_json::Value> = status["routes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|route| {
            (
                route["tenant"].as_str().unwrap().to_owned(),
                route["problem"].clone(),
            )
        })
        .collect();
    assert_eq!(
        problems,
        BTreeMap::from([
            (
                "acme".to_owned(),
                json!("tenant `acme` is suspended: its requests are refused with 423")
            ),
            ("banban".to_owned(), serde_json::Value::Null),
        ])
    );

    let (status, body) = server.request("POST", "/v1/tenants/acme/suspend", Some(&operator), None);
    assert_eq!(
        (status, body),
        (
            409,
            json!({"error": {"code": "conflict", "message": "tenant `acme` is already suspended; resume it first with `modhost tenant resume acme`"}})
        )
    );

    let (status, body) = server.request("POST", "/v1/tenants/acme/resume", Some(&operator), None);
    assert_eq!(status, 200, "{body}");
    assert!(body.get("suspended").is_none(), "{body}");
    assert_eq!(call_both(&server, &tokens), both_served);
    let (status, body) = server.request("POST", "/v1/tenants/acme/resume", Some(&operator), None);
    assert_eq!(
        (status, body),
        (
            409,
            json!({"error": {"code": "conflict", "message": "tenant `acme` is not suspended; there is nothing to resume"}})
        )
    );
    let (_, audit) = server.get("/v1/audit?tenant=acme&action=tenant.", Some(&operator));
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["tenant.create", "tenant.suspend", "tenant.resume"]);
}

#[test]
fn lifecycle_routes_are_for_operators_and_refuse_bad_input_with_exact_errors() {
    let server = Server::start();
    two_tenants(&server);
    let operator = server.operator.clone();
    let admin = server.token("tenant-admin", Some("acme"));
    let routes = [
        ("POST", "/v1/tenants/acme/suspend"),
        ("POST", "/v1/tenants/acme/resume"),
        ("DELETE", "/v1/tenants/acme?final_backup=false"),
        ("POST", "/v1/gc?dry_run=true"),
    ];
    for (method, path) in routes {
        let (status, body) = server.request(method, path, Some(&admin), None);
        assert_eq!(
            (status, body),
            (
                403,
                json!({"error": {"code": "forbidden", "message": "the role `tenant-admin` may not do this"}})
            ),
            "{method} {path}"
        );
        assert_eq!(server.request(method, path, None, None).0, 401, "{method} {path}");
    }
    let (status, body) = server.request("POST", "/v1/tenants/banban/suspend", Some(&admin), None);
    assert_eq!(
        (status, body["error"]["message"].as_str()),
        (404, Some("tenant `banban` does not exist"))
    );
    assert!(
        server
            .get("/v1/tenants/acme", Some(&operator))
            .1
            .get("suspended")
            .is_none(),
        "nothing was suspended"
    );

    let unknown = json!({"error": {"code": "not-found", "message": "tenant `nobody` does not exist"}});
    for (method, path) in [
        ("POST", "/v1/tenants/nobody/suspend"),
        ("POST", "/v1/tenants/nobody/resume"),
        ("DELETE", "/v1/tenants/nobody"),
        ("DELETE", "/v1/tenants/nobody?final_backup=false"),
    ] {
        assert_eq!(
            server.request(method, path, Some(&operator), None),
            (404, unknown.clone()),
            "{method} {path}"
        );
    }
    let (status, body) = server.post("/v1/tenants/acme/suspend", Some(&operator), json!({"why": "x"}));
    assert_eq!(status, 400);
    assert_eq!(
        body["error"]["message"],
        "the request body is not valid JSON for this operation: unknown field `why`, expected `reason` at line 1 column 6"
    );
    let (status, body) = server.post(
        "/v1/tenants/acme/suspend",
        Some(&operator),
        json!({"reason": "a\nb"}),
    );
    assert_eq!(
        (status, body),
        (
            400,
            json!({"error": {"code": "invalid-input", "message": "invalid reason: a suspension reason must be at most 256 characters without control characters"}})
        )
    );
    for (method, path, message) in [
        (
            "DELETE",
            "/v1/tenants/acme?final_backup=maybe",
            "the query string is not valid for this operation: Failed to deserialize query string: final_backup: provided string was not `true` or `false`",
        ),
        (
            "DELETE",
            "/v1/tenants/acme?backup=false",
            "the query string is not valid for this operation: Failed to deserialize query string: backup: unknown field `backup`, expected `final_backup`",
        ),
        (
            "POST",
            "/v1/gc?dry_run=yes",
            "the query string is not valid for this operation: Failed to deserialize query string: dry_run: provided string was not `true` or `false`",
        ),
    ] {
        let (status, body) = server.request(method, path, Some(&operator), None);
        assert_eq!(
            (status, body),
            (400, json!({"error": {"code": "bad-request", "message": message}})),
            "{method} {path}"
        );
    }
    assert_eq!(
        server.get("/v1/tenants/acme", Some(&operator)).0,
        200,
        "acme is still there"
    );
}

#[test]
fn deleting_a_tenant_removes_it_and_its_tokens_and_leaves_its_neighbour_alone() {
    let server = Server::start();
    two_tenants(&server);
    let operator = server.operator.clone();
    let acme = server.token("invoker", Some("acme"));
    let banban = server.token("invoker", Some("banban"));
    for (tenant, token) in [("acme", &acme), ("banban", &banban)] {
        let (status, body) = server.get(&format!("/t/{tenant}/template/hello/world"), Some(token));
        assert_eq!((status, body["visits"].as_u64()), (200, Some(1)), "{body}");
    }
    let banban_before = server.get("/v1/tenants/banban/deployments", Some(&operator));
    // Each tenant's module stores a note (a second data entry) and logs a
    // line, kept on disk per tenant.
    let logs = server.data_dir().join("logs");
    for tenant in ["acme", "banban"] {
        let note = json!({"text": "kept until the tenant goes"});
        let path = format!("/t/{tenant}/template/notes/n1");
        let (status, body) = server.request("PUT", &path, Some(&operator), Some(&note));
        assert_eq!(status, 200, "{body}");
        let query = format!("/v1/tenants/{tenant}/logs?module=template");
        let (status, body) = server.get(&query, Some(&operator));
        assert_eq!(status, 200, "{body}");
        assert!(!body["records"].as_array().unwrap().is_empty(), "{body}");
        assert!(logs.join(tenant).is_dir());
    }

    let (status, body) = server.request(
        "DELETE",
        "/v1/tenants/acme?final_backup=false",
        Some(&operator),
        None,
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (
            &body["tenant"],
            &body["deployments"],
            &body["kv_entries"],
            &body["tokens"],
            body.get("final_backup")
        ),
        (&json!("acme"), &json!(1), &json!(2), &json!(1), None)
    );
    let (status, body) = server.get("/v1/tenants/acme", Some(&operator));
    assert_eq!(
        (status, body),
        (
            404,
            json!({"error": {"code": "not-found", "message": "tenant `acme` does not exist"}})
        )
    );
    let (status, body) = server.get("/t/acme/template/hello/world", Some(&operator));
    assert_eq!(
        (status, body["error"]["message"].as_str()),
        (404, Some("tenant `acme` does not exist"))
    );
    assert_eq!(
        server.get("/t/acme/template/hello/world", Some(&acme)).0,
        401,
        "acme's tokens went with it"
    );
    let (status, body) = server.get("/t/banban/template/hello/world", Some(&banban));
    assert_eq!((status, body["visits"].as_u64()), (200, Some(2)), "{body}");
    assert_eq!(
        server.get("/v1/tenants/banban/deployments", Some(&operator)),
        banban_before
    );
    let (_, tenants) = server.get("/v1/tenants", Some(&operator));
    assert_eq!(tenants["tenants"].as_array().unwrap().len(), 1);
    assert!(!logs.join("acme").exists(), "acme's module logs went with it");
    assert!(logs.join("banban").is_dir(), "banban's module logs stay");

    // The same id starts afresh: no data, no deployments.
    add_tenant(&server, "acme");
    let (status, body) = server.get("/t/acme/template/hello/world", Some(&operator));
    assert_eq!((status, body["visits"].as_u64()), (200, Some(1)), "{body}");
}

#[test]
fn a_delete_takes_a_final_backup_first_and_deletes_nothing_when_it_fails() {
    let server = Server::start();
    two_tenants(&server);
    let operator = server.operator.clone();
    assert_eq!(server.get("/t/acme/template/hello/world", Some(&operator)).0, 200);
    let (status, body) = server.request("DELETE", "/v1/tenants/acme", Some(&operator), None);
    assert_eq!(status, 200, "{body}");
    let path = std::path::PathBuf::from(body["final_backup"]["path"].as_str().unwrap());
    assert!(
        path.starts_with(server.data_dir().join("backups").join("acme")),
        "{}",
        path.display()
    );
    assert_eq!(
        std::fs::metadata(&path).unwrap().len(),
        body["final_backup"]["bytes"].as_u64().unwrap()
    );
    assert_eq!(server.get("/v1/tenants/acme", Some(&operator)).0, 404);

    // A backup directory that cannot be created: the delete is refused, nothing goes.
    let blocked = server.data_dir().join("not-a-directory");
    std::fs::write(&blocked, b"a file").unwrap();
    let server = server.restart(|config| config.backup_dir = Some(blocked.clone()));
    let (status, body) = server.request("DELETE", "/v1/tenants/banban", Some(&operator), None);
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (500, Some("final-backup-failed"))
    );
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with(
            "the final backup of tenant `banban` failed, so nothing was deleted: could not create the backup directory"
        ) && message.contains("fix the backup directory, or delete without a final backup (`final_backup=false`)"),
        "{message}"
    );
    assert_eq!(server.get("/v1/tenants/banban", Some(&operator)).0, 200);
    assert_eq!(
        server.get("/t/banban/template/hello/world", Some(&operator)).0,
        200
    );
}

#[test]
fn garbage_collection_lists_in_a_dry_run_and_removes_in_a_real_one() {
    let server = Server::start();
    two_tenants(&server);
    let operator = server.operator.clone();
    assert_eq!(server.get("/t/acme/template/hello/world", Some(&operator)).0, 200);
    // A compiled component of another engine (an older host) is stale.
    let compiled = server.data_dir().join("compiled");
    let stale = format!("{}-0000000000000000.cwasm", "ab".repeat(32));
    std::fs::write(compiled.join(&stale), b"old code").unwrap();
    let live_files = std::fs::read_dir(&compiled).unwrap().count() - 1;
    assert!(live_files >= 1, "the template was compiled");

    let (status, dry) = server.request("POST", "/v1/gc?dry_run=true", Some(&operator), None);
    assert_eq!(status, 200, "{dry}");
    assert_eq!(dry["dry_run"], true);
    assert_eq!(
        dry["compiled"],
        json!([{"name": stale, "bytes": 8, "reason": "other-engine"}])
    );
    assert_eq!(
        (
            &dry["blobs"],
            &dry["snapshots"],
            &dry["data_scopes"],
            &dry["grace_secs"]
        ),
        (&json!([]), &json!([]), &json!([]), &json!(3600))
    );
    assert!(compiled.join(&stale).exists(), "a dry run removes nothing");

    let (status, real) = server.request("POST", "/v1/gc", Some(&operator), None);
    assert_eq!(status, 200, "{real}");
    assert_eq!(real["dry_run"], false);
    assert_eq!(real["compiled"], dry["compiled"]);
    assert!(!compiled.join(&stale).exists());
    assert_eq!(std::fs::read_dir(&compiled).unwrap().count(), live_files);
    let (_, again) = server.request("POST", "/v1/gc?dry_run=true", Some(&operator), None);
    assert_eq!(again["compiled"], json!([]));
    let (_, audit) = server.get("/v1/audit?action=gc.", Some(&operator));
    assert_eq!(
        audit["entries"].as_array().unwrap().len(),
        1,
        "only the real run is audited"
    );
    assert_eq!(
        server.get("/t/banban/template/hello/world", Some(&operator)).0,
        200
    );
}
