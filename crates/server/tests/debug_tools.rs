//! The debug tools over real HTTP with real components: smoke tests on demand, a promote's dry run (changing nothing but the audit log), and the audit log's CSV export.

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

#[path = "debug_tools/audit_export.rs"]
mod audit_export;

use std::collections::BTreeMap;

use modhost_registry::store::{DiskStore, Store, Tree};
use serde_json::{Value, json};
use support::*;

/// Every tree a registry writes, but the audit log.
const TREES: &[&str] = &[
    "tenants",
    "modules",
    "deployments",
    "configs",
    "canaries",
    "rings",
    "rollouts",
    "tokens",
    "kv",
    "kv_snapshots",
    "kv_usage",
    "meta",
    "alert_rules",
    "alert_channels",
    "alerts",
    "alert_open",
    "alert_silences",
    "outbox",
    "outbox_done",
    "backup_schedules",
    "backup_capture",
];

type Dump = BTreeMap<(&'static str, Vec<u8>), Vec<u8>>;

/// Restarts the server, reading every record but the audit log's while it is stopped.
fn dump(server: Server) -> (Server, Dump) {
    let mut dump = Dump::new();
    let server = server.restart(|config| {
        let store = DiskStore::open(&config.data_dir.join("registry").join("db")).expect("store");
        for name in TREES {
            for entry in store.scan_prefix(Tree::new(name), &[]).expect("scan") {
                let (key, value) = entry.expect("entry");
                dump.insert((*name, key), value);
            }
        }
    });
    (server, dump)
}

/// The template republished as `version` with an extra smoke test named
/// `name` that fails: it expects a status the module never answers.
fn template_failing_as(version: &str, name: &str) -> (String, Vec<u8>) {
    let (manifest, component) = template_version(version);
    let test = format!(
        "\n[[tests]]\nname = {}\nrequest = {{ method = \"GET\", path = \"/hello/smoke\" }}\nexpect = {{ status = 418 }}\n",
        toml_string(name)
    );
    (manifest + &test, component)
}

/// `text` as a TOML basic string.
fn toml_string(text: &str) -> String {
    serde_json::to_string(text).expect("json string")
}

/// The template republished as `version` whose `max_note_length` accepts at most 300.
fn template_with_narrow_config(version: &str) -> (String, Vec<u8>) {
    let (manifest, component) = template_version(version);
    let field = "default = 280\nmin = 1\nmax = 10000";
    assert!(manifest.contains(field), "the template declares max_note_length");
    (
        manifest.replacen(field, "default = 280\nmin = 1\nmax = 300", 1),
        component,
    )
}

/// acme (template 0.1.0, chaos 1.0.0 active, a note in chaos's data), globex
/// (nothing active), banban (custom, owning banban); template 0.1.1 (healthy),
/// 0.1.2 (a failing smoke test), 0.1.3 (a narrower config), 0.2.0 (healthy,
/// but chaos needs ^0.1) and chaos 1.1.0 (a migration that upper-cases the
/// data) published.
fn setup() -> (Server, String) {
    let server = Server::start();
    let operator = server.operator.clone();
    for (id, kind) in [("acme", "standard"), ("globex", "standard"), ("banban", "custom")] {
        let (status, body) = server.post(
            "/v1/tenants",
            Some(&operator),
            json!({"id": id, "name": id, "kind": kind}),
        );
        assert_eq!(status, 201, "{body}");
    }
    let uploads = [
        built("template@0.1.0"),
        template_version("0.1.1"),
        template_failing_as("0.1.2", "answers a teapot"),
        template_with_narrow_config("0.1.3"),
        template_version("0.2.0"),
        built("chaos@1.0.0"),
        modhost_testkit::variant("chaos@1.0.0", "1.1.0"),
    ];
    for (manifest, component) in &uploads {
        let (status, body) = server.push(&operator, manifest, component, None);
        assert_eq!(status, 201, "{body}");
    }
    let (manifest, component) = built("banban@1.0.0");
    let (status, body) = server.push(&operator, &manifest, &component, Some("banban"));
    assert_eq!(status, 201, "{body}");
    for (module, version) in [("template", "0.1.0"), ("chaos", "1.0.0")] {
        let (status, body) = promote(&server, &operator, "acme", module, version);
        assert_eq!(status, 200, "{body}");
    }
    let invoker = server.token("invoker", Some("acme"));
    let (status, _) = server.raw(
        "PUT",
        "/t/acme/chaos/data/note",
        Some(&invoker),
        Some(("text/plain".to_owned(), b"written by 1.0.0".to_vec())),
    );
    assert_eq!(status, 204);
    (server, invoker)
}

fn promote(server: &Server, token: &str, tenant: &str, module: &str, version: &str) -> (u16, Value) {
    server.post(
        &format!("/v1/tenants/{tenant}/deployments/{module}/promote"),
        Some(token),
        json!({"version": version, "watch_secs": 0}),
    )
}

fn smoke(server: &Server, token: &str, tenant: &str, module: &str, version: &str) -> (u16, Value) {
    server.post(
        &format!("/v1/tenants/{tenant}/deployments/{module}/smoke"),
        Some(token),
        json!({"version": version}),
    )
}

fn dry_run(server: &Server, token: &str, tenant: &str, module: &str, version: &str) -> (u16, Value) {
    server.post(
        &format!("/v1/tenants/{tenant}/deployments/{module}/promote/dry-run"),
        Some(token),
        json!({"version": version}),
    )
}

/// What a dry run must leave as it was, as the API shows it: every tenant's
/// deployments with their history, acme's configs, and chaos's data.
fn visible_state(server: &Server, invoker: &str) -> Vec<Value> {
    let operator = server.operator.clone();
    let mut state = Vec::new();
    for tenant in ["acme", "globex"] {
        let (status, body) = server.get(&format!("/v1/tenants/{tenant}/deployments"), Some(&operator));
        assert_eq!(status, 200, "{body}");
        state.push(body);
    }
    for module in ["template", "chaos"] {
        let (status, body) = server.get(&format!("/v1/tenants/acme/config/{module}"), Some(&operator));
        assert_eq!(status, 200, "{body}");
        state.push(body);
    }
    let (status, body) = server.get("/t/acme/chaos/data", Some(invoker));
    assert_eq!(status, 200, "{body}");
    state.push(body);
    state
}

/// `(action, outcome, detail)` of every audit entry of `action`, oldest first.
fn audited(server: &Server, action: &str) -> Vec<(String, String, String)> {
    let (status, body) = server.get(&format!("/v1/audit?action={action}"), Some(&server.operator));
    assert_eq!(status, 200, "{body}");
    body["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|entry| entry["action"] == action)
        .map(|entry| {
            (
                entry["target"].as_str().unwrap_or_default().to_owned(),
                entry["outcome"].as_str().unwrap_or_default().to_owned(),
                entry["detail"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn names(checks: &Value) -> Vec<&str> {
    checks
        .as_array()
        .expect("checks")
        .iter()
        .map(|check| check["name"].as_str().expect("name"))
        .collect()
}

const TEAPOT_FAILURE: &str = "expected status 418, got 200";

#[test]
fn smoke_tests_on_demand_pass_and_fail_with_the_exact_message_and_change_nothing() {
    let (server, invoker) = setup();
    let operator = server.operator.clone();
    let admin = server.token("tenant-admin", Some("acme"));
    let (server, before) = dump(server);
    let visible = visible_state(&server, &invoker);

    let (status, report) = smoke(&server, &admin, "acme", "template", "0.1.1");
    assert_eq!(status, 200, "{report}");
    assert_eq!(
        (&report["module"], &report["version"], &report["passed"]),
        (&json!("template"), &json!("0.1.1"), &json!(true))
    );
    let tests = report["tests"].as_array().expect("tests");
    assert_eq!(
        tests
            .iter()
            .map(|test| (
                test["name"].clone(),
                test["ok"].clone(),
                test.get("message").cloned()
            ))
            .collect::<Vec<_>>(),
        [
            (json!("greets"), json!(true), None),
            (json!("refuses an empty note"), json!(true), None)
        ]
    );
    assert!(tests.iter().all(|test| test["took_ms"].is_u64()), "{report}");

    let (status, report) = smoke(&server, &admin, "acme", "template", "0.1.2");
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["passed"], false);
    let last = report["tests"]
        .as_array()
        .expect("tests")
        .last()
        .cloned()
        .expect("a test");
    assert_eq!(
        (last["name"].clone(), last["ok"].clone(), last["message"].clone()),
        (json!("answers a teapot"), json!(false), json!(TEAPOT_FAILURE))
    );

    assert_eq!(visible_state(&server, &invoker), visible);

    // The tenant's config for that version makes a test fail: it greets with the tenant's word.
    let (status, body) = server.request(
        "PUT",
        "/v1/tenants/acme/config/template",
        Some(&operator),
        Some(&json!({"values": {"greeting": "hola"}})),
    );
    assert_eq!(status, 200, "{body}");
    let visible = visible_state(&server, &invoker);
    let (status, report) = smoke(&server, &operator, "acme", "template", "0.1.1");
    assert_eq!(status, 200, "{report}");
    assert_eq!(
        report["tests"],
        json!([{"name": "greets", "ok": false, "took_ms": report["tests"][0]["took_ms"],
            "message": "the response JSON differs at `$.message`: expected \"hello, world\", found a string"}]),
        "the first failure stops the run"
    );

    assert_eq!(
        audited(&server, "deployment.smoke"),
        [
            ("acme/template@0.1.1".to_owned(), "ok".to_owned(), "2 smoke tests passed".to_owned()),
            (
                "acme/template@0.1.2".to_owned(),
                "failed".to_owned(),
                format!("smoke test `answers a teapot` failed: {TEAPOT_FAILURE}")
            ),
            (
                "acme/template@0.1.1".to_owned(),
                "failed".to_owned(),
                "smoke test `greets` failed: the response JSON differs at `$.message`: expected \"hello, world\", found a string".to_owned()
            ),
        ]
    );
    assert_eq!(visible_state(&server, &invoker), visible);

    // Unknown things, and what the tenant may not run, are 404 alike (for the dry run too).
    for (tenant, module, version, message) in [
        ("nope", "template", "0.1.1", "tenant `nope` does not exist"),
        ("acme", "absent", "1.0.0", "module `absent` does not exist"),
        ("acme", "banban", "1.0.0", "module `banban` does not exist"),
        (
            "acme",
            "template",
            "9.9.9",
            "module `template` has no version 9.9.9",
        ),
    ] {
        let (status, body) = smoke(&server, &operator, tenant, module, version);
        assert_eq!(
            (status, body["error"]["message"].as_str()),
            (404, Some(message)),
            "{body}"
        );
        let (status, body) = dry_run(&server, &operator, tenant, module, version);
        assert_eq!(
            (status, body["error"]["message"].as_str()),
            (404, Some(message)),
            "{body}"
        );
    }
    let (status, body) = smoke(&server, &operator, "acme", "template", "one");
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (400, json!("bad-request")),
        "{body}"
    );

    // Roles: tenant admins of the tenant and operators; others are refused.
    let viewer = server.token("tenant-viewer", Some("acme"));
    for (token, tenant, expected) in [
        (viewer.as_str(), "acme", 403),
        (invoker.as_str(), "acme", 403),
        (admin.as_str(), "globex", 404),
    ] {
        assert_eq!(smoke(&server, token, tenant, "template", "0.1.1").0, expected);
        assert_eq!(dry_run(&server, token, tenant, "template", "0.1.1").0, expected);
    }
    let (status, body) = smoke(&server, &admin, "globex", "template", "0.1.1");
    assert_eq!(
        body["error"]["message"], "tenant `globex` does not exist",
        "{status}"
    );

    let (_, after) = dump(server);
    let unchanged_part = |dump: &Dump| {
        dump.iter()
            .filter(|((tree, _), _)| *tree != "configs")
            .filter(|((tree, _), _)| *tree != "tokens")
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect::<Dump>()
    };
    assert_eq!(
        unchanged_part(&after),
        unchanged_part(&before),
        "nothing but the audit log, acme's config and the new tokens changed"
    );
}

#[test]
fn a_dry_run_runs_every_check_of_a_promote_and_changes_nothing() {
    let (server, invoker) = setup();
    let operator = server.operator.clone();
    let (status, body) = server.request(
        "PUT",
        "/v1/tenants/acme/config/template",
        Some(&operator),
        Some(&json!({"values": {"max_note_length": 500}})),
    );
    assert_eq!(status, 200, "{body}");
    let admin = server.token("tenant-admin", Some("acme"));
    let (server, before) = dump(server);
    let visible = visible_state(&server, &invoker);
    let mut failures = BTreeMap::new();

    // A promote that would pass: every check, in the promote's order.
    let (status, run) = dry_run(&server, &admin, "acme", "template", "0.1.1");
    assert_eq!(status, 200, "{run}");
    assert_eq!(
        (
            &run["module"],
            &run["from"],
            &run["to"],
            &run["would_change"],
            &run["ok"]
        ),
        (
            &json!("template"),
            &json!("0.1.0"),
            &json!("0.1.1"),
            &json!(true),
            &json!(true)
        )
    );
    assert_eq!(
        names(&run["checks"]),
        [
            "dependencies",
            "dependents",
            "config",
            "ready",
            "smoke",
            "migration"
        ]
    );
    assert!(
        run["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|check| check["ok"] == true)
    );
    assert_eq!(run["checks"][4]["message"], "2 smoke tests passed");
    assert_eq!(
        run["checks"][5]["message"],
        "migrating from 0.1.0 would not change the tenant's data"
    );
    assert_eq!(visible_state(&server, &invoker), visible);

    // A migration that would change the data says so; the data is not touched.
    let (status, run) = dry_run(&server, &admin, "acme", "chaos", "1.1.0");
    assert_eq!((status, run["ok"].clone()), (200, json!(true)), "{run}");
    assert_eq!(
        run["checks"][5]["message"],
        "migrating from 1.0.0 would change the tenant's data: a promote would snapshot it first, and a rollback would restore the snapshot"
    );
    assert_eq!(visible_state(&server, &invoker), visible);

    // Already active: nothing would change.
    let (status, run) = dry_run(&server, &admin, "acme", "template", "0.1.0");
    assert_eq!(status, 200, "{run}");
    assert_eq!(
        (&run["would_change"], &run["ok"], &run["checks"]),
        (&json!(false), &json!(true), &json!([]))
    );

    // Promotes that would fail: the failing check carries the promote's error; later checks do not run.
    for (tenant, module, version, failing, checks) in [
        ("acme", "template", "0.1.3", "config", 3),
        ("acme", "template", "0.2.0", "dependents", 3),
        ("globex", "chaos", "1.0.0", "dependencies", 3),
        ("acme", "template", "0.1.2", "smoke", 5),
    ] {
        let (status, run) = dry_run(&server, &operator, tenant, module, version);
        assert_eq!((status, run["ok"].clone()), (200, json!(false)), "{run}");
        let listed = run["checks"].as_array().expect("checks");
        assert_eq!(listed.len(), checks, "{run}");
        let failed: Vec<&Value> = listed.iter().filter(|check| check["ok"] == false).collect();
        assert_eq!(failed.len(), 1, "{run}");
        assert_eq!(failed[0]["name"].as_str(), Some(failing), "{run}");
        let message = failed[0]["message"].as_str().expect("message").to_owned();
        failures.insert((tenant, module, version), message);
        assert_eq!(visible_state(&server, &invoker), visible);
    }
    assert_eq!(
        failures[&("acme", "template", "0.1.3")],
        "cannot move acme/template to 0.1.3: the tenant's config does not fit this version: config.max_note_length: 500 is above the maximum 300"
    );
    assert_eq!(
        failures[&("acme", "template", "0.2.0")],
        "cannot move acme/template to 0.2.0: the tenant's chaos@1.0.0 needs this module at ^0.1; change that module first"
    );
    assert_eq!(
        failures[&("globex", "chaos", "1.0.0")],
        "cannot move globex/chaos to 1.0.0: it needs `template` ^0.1, which the tenant does not run; promote it first"
    );
    assert_eq!(
        failures[&("acme", "template", "0.1.2")],
        format!(
            "template@0.1.2 failed its smoke tests, so it was not promoted: smoke test `answers a teapot` failed: {TEAPOT_FAILURE}"
        )
    );

    for module in ["template", "chaos"] {
        let path = format!("/v1/tenants/acme/deployments/{module}/health");
        let (status, health) = server.get(&path, Some(&operator));
        assert_eq!((status, health.get("watch")), (200, None), "no watch: {health}");
    }

    // A migration that would fail: the data is not touched.
    let (status, _) = server.raw(
        "PUT",
        "/t/acme/chaos/control/fail-migrate",
        Some(&invoker),
        Some(("text/plain".to_owned(), b"yes".to_vec())),
    );
    assert_eq!(status, 204);
    let (server, before_migration) = dump(server);
    let visible = visible_state(&server, &invoker);
    let (status, run) = dry_run(&server, &admin, "acme", "chaos", "1.1.0");
    assert_eq!((status, run["ok"].clone()), (200, json!(false)), "{run}");
    assert_eq!(run["checks"][5]["name"], "migration");
    let migration = run["checks"][5]["message"].as_str().expect("message").to_owned();
    assert_eq!(
        migration,
        "chaos@1.1.0 failed to migrate the tenant's data, which was left untouched: migration refused: control/fail-migrate is set"
    );
    assert_eq!(visible_state(&server, &invoker), visible);
    let (server, after) = dump(server);
    assert_eq!(
        after, before_migration,
        "the failing migration's dry run wrote nothing"
    );
    let changed: std::collections::BTreeSet<_> = after
        .iter()
        .chain(&before)
        .filter(|(key, _)| before.get(*key) != after.get(*key))
        .map(|((tree, key), _)| (*tree, String::from_utf8_lossy(key).into_owned()))
        .collect();
    assert_eq!(
        changed.into_iter().collect::<Vec<_>>(),
        [
            ("kv", "acme\0chaos\0control/fail-migrate".to_owned()),
            ("kv_usage", "acme\0chaos\0".to_owned())
        ],
        "only the test's own write changed a record"
    );

    // Each dry run was audited, and the real promotes fail exactly as the dry runs said.
    let runs = audited(&server, "deployment.promote-dry-run");
    assert_eq!(runs.len(), 8, "{runs:?}");
    assert_eq!(
        runs[0],
        (
            "acme/template@0.1.1".to_owned(),
            "ok".to_owned(),
            "a promote would pass every check, 6 in all".to_owned()
        )
    );
    assert_eq!(runs[7].1, "failed");
    assert_eq!(runs[7].2, migration);
    failures.insert(("acme", "chaos", "1.1.0"), migration);
    for ((tenant, module, version), message) in &failures {
        let (status, body) = promote(&server, &operator, tenant, module, version);
        assert_eq!(
            (status >= 400, body["error"]["message"].as_str()),
            (true, Some(message.as_str())),
            "{body}"
        );
    }
}

/// A tenant admin sending many smoke tests and dry runs at once for a version
/// nobody has compiled: at most its half of `max_concurrent_checks` (2 of the
/// default 4) run, the rest are refused `429 busy` before anything runs
/// (nothing audited for them), and the version is compiled once, not once
/// per request.
#[test]
fn a_flood_of_smoke_tests_and_dry_runs_from_one_tenant_is_refused_past_its_share_and_compiles_once() {
    let (server, _invoker) = setup();
    let admin = server.token("tenant-admin", Some("acme"));
    let (manifest, component) = template_version("0.1.9");
    let distinct = modhost_testkit::with_custom_section(component.clone(), "flood", b"0.1.9");
    let manifest = manifest.replace(
        &modhost_testkit::sha256(&component),
        &modhost_testkit::sha256(&distinct),
    );
    let (status, body) = server.push(&server.operator, &manifest, &distinct, None);
    assert_eq!(status, 201, "{body}");
    let compiled = || server.get("/v1/status", Some(&server.operator)).1["compiled"].clone();
    let compiled_before = compiled().as_u64().expect("compiled");
    let (server_ref, admin_ref) = (&server, admin.as_str());
    let answers: Vec<(u16, Value)> = std::thread::scope(|scope| {
        let sent: Vec<_> = (0..16)
            .map(|n| {
                let check = if n % 2 == 0 { smoke } else { dry_run };
                scope.spawn(move || check(server_ref, admin_ref, "acme", "template", "0.1.9"))
            })
            .collect();
        sent.into_iter()
            .map(|answer| answer.join().expect("sent"))
            .collect()
    });
    let passed = answers
        .iter()
        .filter(|(status, body)| *status == 200 && (body["passed"] == true || body["ok"] == true))
        .count();
    let busy: Vec<&Value> = answers
        .iter()
        .filter(|(status, _)| *status == 429)
        .map(|(_, body)| body)
        .collect();
    assert_eq!(
        passed + busy.len(),
        16,
        "every answer passed or was refused: {answers:?}"
    );
    assert!(
        passed >= 1 && !busy.is_empty(),
        "{passed} passed, {} refused",
        busy.len()
    );
    for body in &busy {
        assert_eq!(body["error"]["code"], "busy");
        assert_eq!(
            body["error"]["message"],
            "this tenant already runs as many smoke tests and dry runs as it may (2); retry when one finishes"
        );
    }
    assert_eq!(
        compiled().as_u64(),
        Some(compiled_before + 1),
        "the version was compiled once for {passed} checks"
    );
    let audits = ["deployment.smoke", "deployment.promote-dry-run"]
        .iter()
        .flat_map(|action| audited(&server, action))
        .filter(|(target, _, _)| target.contains("0.1.9"))
        .count();
    assert_eq!(audits, passed, "a refused check ran nothing and audited nothing");
    // Another tenant is not refused meanwhile: its own share is free.
    let globex = server.token("tenant-admin", Some("globex"));
    let (status, body) = smoke(&server, &globex, "globex", "template", "0.1.9");
    assert_eq!((status, body["passed"].clone()), (200, json!(true)), "{body}");
}
