//! Business figures and implementation projects over real HTTP: a tenant's plan and monthly value (set, cleared, refused), implementation projects (overdue milestones, every refusal, who may read and write), `GET /v1/business` for a known set of tenants, and an `overdue-milestones` alert.

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

use modhost_registry::Date;
use serde_json::{Value, json};
use support::*;

const PAST: &str = "2020-01-15";
const FUTURE: &str = "2999-12-31";

fn create(server: &Server, body: Value) {
    let (status, answer) = server.post("/v1/tenants", Some(&server.operator), body);
    assert_eq!(status, 201, "{answer}");
}

fn patch(server: &Server, tenant: &str, body: Value) -> (u16, Value) {
    server.request(
        "PATCH",
        &format!("/v1/tenants/{tenant}"),
        Some(&server.operator),
        Some(&body),
    )
}

fn put_project(server: &Server, tenant: &str, token: &str, body: &Value) -> (u16, Value) {
    server.request(
        "PUT",
        &format!("/v1/tenants/{tenant}/implementation"),
        Some(token),
        Some(body),
    )
}

fn milestone(id: &str, due_date: &str, status: &str) -> Value {
    json!({"id": id, "title": format!("the {id} step"), "due_date": due_date, "status": status})
}

/// The `error` of a refusal, as `(status, code, message)`.
fn refusal(answer: (u16, Value)) -> (u16, String, String) {
    let (status, body) = answer;
    (
        status,
        body["error"]["code"].as_str().unwrap_or_default().to_owned(),
        body["error"]["message"].as_str().unwrap_or_default().to_owned(),
    )
}

fn invalid(message: &str) -> (u16, String, String) {
    (400, "invalid-input".to_owned(), message.to_owned())
}

fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(found) = check() {
            return found;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_plan_and_monthly_value_are_set_cleared_and_bad_ones_change_nothing() {
    let server = Server::start();
    create(
        &server,
        json!({"id": "acme", "name": "Acme", "kind": "standard", "plan": "growth", "monthly_value_cents": 49_900}),
    );
    let (_, tenant) = server.get("/v1/tenants/acme", Some(&server.operator));
    assert_eq!(
        (tenant["plan"].clone(), tenant["monthly_value_cents"].clone()),
        (json!("growth"), json!(49_900))
    );

    let (status, tenant) = patch(
        &server,
        "acme",
        json!({"plan": "enterprise-2026", "monthly_value_cents": 0}),
    );
    assert_eq!(status, 200, "{tenant}");
    assert_eq!(
        (tenant["plan"].clone(), tenant["monthly_value_cents"].clone()),
        (json!("enterprise-2026"), json!(0))
    );
    // Absent keeps, null clears.
    let (status, tenant) = patch(&server, "acme", json!({"name": "Acme Inc"}));
    assert_eq!((status, tenant["plan"].as_str()), (200, Some("enterprise-2026")));
    let (status, tenant) = patch(&server, "acme", json!({"plan": null}));
    assert_eq!(status, 200, "{tenant}");
    assert!(tenant.get("plan").is_none(), "{tenant}");
    assert_eq!(tenant["monthly_value_cents"], 0);
    let (status, tenant) = patch(
        &server,
        "acme",
        json!({"monthly_value_cents": null, "plan": "basic"}),
    );
    assert_eq!(status, 200, "{tenant}");
    assert!(tenant.get("monthly_value_cents").is_none(), "{tenant}");
    assert_eq!(tenant["plan"], "basic");

    let (_, before) = server.get("/v1/tenants/acme", Some(&server.operator));
    for (body, expected) in [
        (
            json!({"name": "Renamed", "plan": "Gold Plan"}),
            invalid(
                "invalid plan: plan `Gold Plan` must be kebab-case: 1 to 64 bytes of a-z, 0-9 and single dashes, not starting or ending with a dash, e.g. `growth`; send null to clear it",
            ),
        ),
        (
            json!({"plan": "x".repeat(65)}),
            invalid(&format!(
                "invalid plan: plan `{}` must be kebab-case: 1 to 64 bytes of a-z, 0-9 and single dashes, not starting or ending with a dash, e.g. `growth`; send null to clear it",
                "x".repeat(64)
            )),
        ),
        (
            json!({"name": "Renamed", "monthly_value_cents": 100_000_000_001_u64}),
            invalid(
                "invalid monthly_value_cents: 100000000001 is more than 100000000000 cents; give the value per month in cents, or null to clear it",
            ),
        ),
    ] {
        assert_eq!(refusal(patch(&server, "acme", body.clone())), expected, "{body}");
    }
    let (status, code, message) = refusal(patch(&server, "acme", json!({"monthly_value_cents": -5})));
    assert_eq!((status, code.as_str()), (400, "bad-request"));
    assert!(message.contains("expected u64"), "{message}");
    assert_eq!(
        refusal(server.post(
            "/v1/tenants",
            Some(&server.operator),
            json!({"id": "beta", "name": "Beta", "kind": "standard", "plan": "-basic"}),
        ))
        .2,
        "invalid plan: plan `-basic` must be kebab-case: 1 to 64 bytes of a-z, 0-9 and single dashes, not starting or ending with a dash, e.g. `growth`; send null to clear it"
    );
    let (_, after) = server.get("/v1/tenants/acme", Some(&server.operator));
    assert_eq!(after, before, "a refused change changed nothing");
    assert_eq!(server.get("/v1/tenants/beta", Some(&server.operator)).0, 404);
    let admin = server.token("tenant-admin", Some("acme"));
    let (status, _) = server.request(
        "PATCH",
        "/v1/tenants/acme",
        Some(&admin),
        Some(&json!({"plan": "free"})),
    );
    assert_eq!(status, 403, "only operators set plans");
}

#[test]
fn an_implementation_project_flags_overdue_milestones_and_refuses_bad_input_storing_nothing() {
    let server = Server::start();
    let operator = server.operator.clone();
    for tenant in ["acme", "beta"] {
        create(&server, json!({"id": tenant, "name": tenant, "kind": "standard"}));
    }
    let (status, body) = server.get("/v1/tenants/acme/implementation", Some(&operator));
    assert_eq!(
        (status, body["error"]["message"].as_str()),
        (
            404,
            Some(
                "tenant `acme` has no implementation project; an operator sets one with PUT /v1/tenants/acme/implementation"
            )
        )
    );

    let refused = [
        (
            json!({"name": "Onboarding", "milestones": [milestone("kickoff", PAST, "done"), milestone("setup", "2026-02-30", "planned")]}),
            "invalid milestones[1].due_date: `2026-02-30` is not a real date in the form YYYY-MM-DD, e.g. 2026-03-31",
        ),
        (
            json!({"name": "Onboarding", "milestones": [milestone("kickoff", PAST, "done"), milestone("setup", "31/03/2026", "planned")]}),
            "invalid milestones[1].due_date: `31/03/2026` is not a real date in the form YYYY-MM-DD, e.g. 2026-03-31",
        ),
        (
            json!({"name": "Onboarding", "milestones": [milestone("kickoff", PAST, "done"), milestone("setup", FUTURE, "planned"), milestone("kickoff", FUTURE, "planned")]}),
            "invalid milestones[2].id: `kickoff` is already the id of milestones[0]; give each milestone its own id",
        ),
        (
            json!({"name": "Onboarding", "milestones": (0..101).map(|index| milestone(&format!("step-{index}"), FUTURE, "planned")).collect::<Vec<_>>()}),
            "invalid milestones: a project has at most 100 milestones, not 101; merge some or remove finished ones",
        ),
        (
            json!({"name": "Onboarding", "milestones": [milestone("kickoff", PAST, "finished")]}),
            "invalid milestones[0].status: `finished` is not one of planned, in-progress, done, blocked",
        ),
        (
            json!({"name": "Onboarding", "milestones": [milestone("Kick Off", PAST, "done")]}),
            "invalid milestones[0].id: `Kick Off` must be kebab-case: lower-case letters, digits and single dashes, starting with a letter, at most 64 bytes",
        ),
        (
            json!({"name": "Onboarding", "milestones": [{"id": "kickoff", "title": " ", "due_date": PAST, "status": "done"}]}),
            "invalid milestones[0].title: a title must be 1 to 200 characters on one line, without control characters",
        ),
        (
            json!({"name": "", "milestones": []}),
            "invalid name: a project name must be 1 to 200 characters on one line, without control characters",
        ),
    ];
    for (body, message) in &refused {
        assert_eq!(
            refusal(put_project(&server, "acme", &operator, body)),
            invalid(message)
        );
        assert_eq!(
            server.get("/v1/tenants/acme/implementation", Some(&operator)).0,
            404,
            "nothing stored"
        );
    }
    let (status, _) = put_project(
        &server,
        "nobody",
        &operator,
        &json!({"name": "x", "milestones": []}),
    );
    assert_eq!(status, 404);

    let project = json!({"name": "Acme onboarding", "milestones": [
        milestone("kickoff", PAST, "done"),
        {"id": "data-import", "title": "Import the catalogue", "due_date": PAST, "status": "in-progress", "assignee": "ana", "notes": "two files:\nskus and stores"},
        milestone("go-live", FUTURE, "planned"),
        {"id": "training", "title": "Train the staff", "due_date": PAST, "status": "blocked", "completed_at_ms": 5},
    ]});
    let (status, stored) = put_project(&server, "acme", &operator, &project);
    assert_eq!(status, 200, "{stored}");
    let (status, read) = server.get("/v1/tenants/acme/implementation", Some(&operator));
    assert_eq!(status, 200);
    assert_eq!(read, stored);
    let overdue: Vec<(&str, bool)> = read["milestones"]
        .as_array()
        .unwrap()
        .iter()
        .map(|milestone| {
            (
                milestone["id"].as_str().unwrap(),
                milestone["overdue"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        overdue,
        [
            ("kickoff", false),
            ("data-import", true),
            ("go-live", false),
            ("training", true)
        ]
    );
    assert_eq!(
        read["summary"],
        json!({"total": 4, "done": 1, "overdue": 2, "state": "ongoing"})
    );
    assert_eq!(
        (read["tenant"].as_str(), read["name"].as_str()),
        (Some("acme"), Some("Acme onboarding"))
    );
    assert!(
        read["updated_by"].as_str().unwrap().ends_with(":operator"),
        "{read}"
    );
    let kickoff = &read["milestones"][0];
    let completed = kickoff["completed_at_ms"]
        .as_u64()
        .expect("a done milestone has its completion time");
    assert!(completed > 1_700_000_000_000, "{kickoff}");
    assert_eq!(read["milestones"][1]["assignee"], "ana");
    assert_eq!(read["milestones"][1]["notes"], "two files:\nskus and stores");
    assert!(
        read["milestones"][3].get("completed_at_ms").is_none(),
        "only done milestones keep one"
    );

    // A refused replacement leaves the stored project as it was.
    for (body, message) in &refused {
        assert_eq!(
            refusal(put_project(&server, "acme", &operator, body)),
            invalid(message)
        );
    }
    assert_eq!(
        server.get("/v1/tenants/acme/implementation", Some(&operator)).1,
        stored
    );

    // Who may read and write: a tenant admin reads its own only and writes none.
    let admin = server.token("tenant-admin", Some("acme"));
    let viewer = server.token("tenant-viewer", Some("acme"));
    for token in [&admin, &viewer] {
        assert_eq!(
            server.get("/v1/tenants/acme/implementation", Some(token.as_str())),
            (200, stored.clone())
        );
    }
    let beta = json!({"name": "Beta", "milestones": [milestone("kickoff", FUTURE, "done")]});
    assert_eq!(put_project(&server, "beta", &operator, &beta).0, 200);
    let (status, body) = server.get("/v1/tenants/beta/implementation", Some(&admin));
    assert_eq!(
        (status, body["error"]["message"].as_str()),
        (404, Some("tenant `beta` does not exist"))
    );
    assert_eq!(
        refusal(put_project(&server, "acme", &admin, &project)),
        (
            403,
            "forbidden".to_owned(),
            "the role `tenant-admin` may not do this".to_owned()
        )
    );
    let (status, _) = server.request("DELETE", "/v1/tenants/acme/implementation", Some(&admin), None);
    assert_eq!(status, 403);
    for path in ["/v1/implementations", "/v1/business"] {
        assert_eq!(server.get(path, Some(&admin)).0, 403, "{path}");
    }

    let (status, list) = server.get("/v1/implementations", Some(&operator));
    assert_eq!(status, 200);
    let listed: Vec<(&str, &str)> = list["implementations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|project| {
            (
                project["tenant"].as_str().unwrap(),
                project["summary"]["state"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(listed, [("acme", "ongoing"), ("beta", "completed")]);

    // Replacing keeps a done milestone's completion time; marking it undone drops it.
    let mut again = project.clone();
    again["milestones"][2]["status"] = json!("done");
    let (_, replaced) = put_project(&server, "acme", &operator, &again);
    assert_eq!(replaced["milestones"][0]["completed_at_ms"], completed);
    assert_eq!(
        replaced["summary"],
        json!({"total": 4, "done": 2, "overdue": 2, "state": "ongoing"})
    );

    let (status, removed) =
        server.request("DELETE", "/v1/tenants/acme/implementation", Some(&operator), None);
    assert_eq!((status, removed["name"].as_str()), (200, Some("Acme onboarding")));
    assert_eq!(
        server.get("/v1/tenants/acme/implementation", Some(&operator)).0,
        404
    );
    let (status, _) = server.request("DELETE", "/v1/tenants/acme/implementation", Some(&operator), None);
    assert_eq!(status, 404);
    let (_, audit) = server.get("/v1/audit?action=implementation.", Some(&operator));
    let actions: Vec<(&str, &str)> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| {
            (
                entry["action"].as_str().unwrap(),
                entry["target"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        [
            ("implementation.put", "acme"),
            ("implementation.put", "beta"),
            ("implementation.put", "acme"),
            ("implementation.delete", "acme"),
        ]
    );

    // Deleting a tenant removes its project: a new tenant of the same id starts without one.
    let (status, _) = server.request(
        "DELETE",
        "/v1/tenants/beta?final_backup=false",
        Some(&operator),
        None,
    );
    assert_eq!(status, 200);
    create(
        &server,
        json!({"id": "beta", "name": "Beta again", "kind": "standard"}),
    );
    assert_eq!(
        server.get("/v1/tenants/beta/implementation", Some(&operator)).0,
        404
    );
}

/// A custom module of `owner`: the template under another id.
fn push_custom(server: &Server, id: &str, version: &str, owner: &str) {
    let (manifest, component) = modhost_testkit::variant("template@0.1.0", version);
    let manifest = manifest
        .replacen("kind = \"standard\"", "kind = \"custom\"", 1)
        .replacen("id = \"template\"", &format!("id = \"{id}\""), 1);
    let (status, body) = server.push(&server.operator, &manifest, &component, Some(owner));
    assert_eq!(status, 201, "{body}");
}

#[test]
fn business_figures_add_up_for_a_known_set_of_tenants() {
    let server = Server::start();
    let operator = server.operator.clone();
    create(
        &server,
        json!({"id": "alpha", "name": "Alpha", "kind": "standard", "plan": "basic", "monthly_value_cents": 10_000}),
    );
    create(&server, json!({"id": "beta", "name": "Beta", "kind": "standard"}));
    create(
        &server,
        json!({"id": "gamma", "name": "Gamma", "kind": "custom", "plan": "enterprise", "monthly_value_cents": 250_000}),
    );
    assert_eq!(
        patch(
            &server,
            "beta",
            json!({"plan": "basic", "monthly_value_cents": 5})
        )
        .0,
        200
    );
    assert_eq!(
        patch(
            &server,
            "beta",
            json!({"plan": null, "monthly_value_cents": null})
        )
        .0,
        200
    );
    let (status, body) = server.post("/v1/tenants/beta/suspend", Some(&operator), json!({}));
    assert_eq!(status, 200, "{body}");
    push_custom(&server, "gamma-grid", "1.0.0", "gamma");
    push_custom(&server, "gamma-grid", "1.1.0", "gamma");
    push_custom(&server, "gamma-notes", "1.0.0", "gamma");
    let (manifest, component) = built("template@0.1.0");
    assert_eq!(server.push(&operator, &manifest, &component, None).0, 201);
    let alpha = json!({"name": "Alpha", "milestones": [milestone("kickoff", PAST, "done"), milestone("go-live", FUTURE, "planned")]});
    assert_eq!(put_project(&server, "alpha", &operator, &alpha).0, 200);
    let gamma = json!({"name": "Gamma", "milestones": [milestone("kickoff", PAST, "done")]});
    assert_eq!(put_project(&server, "gamma", &operator, &gamma).0, 200);

    let (status, figures) = server.get("/v1/business", Some(&operator));
    assert_eq!(status, 200, "{figures}");
    let today = Date::today();
    let months: Vec<Value> = (0..12)
        .rev()
        .map(|back| {
            let (standard, custom) = if back == 0 { (2, 1) } else { (0, 0) };
            json!({"month": today.months_back(back).month_label(), "standard": standard, "custom": custom})
        })
        .collect();
    assert_eq!(
        figures,
        json!({
            "tenants_by_kind": {"standard": 2, "custom": 1},
            "tenants_over_time": months,
            "custom_modules_per_tenant": [
                {"tenant": "alpha", "custom_modules": 0},
                {"tenant": "beta", "custom_modules": 0},
                {"tenant": "gamma", "custom_modules": 2},
            ],
            "implementations": {"not_started": 1, "ongoing": 1, "completed": 1},
            "mrr_cents_by_kind": {"standard": 10_000, "custom": 250_000},
            "mrr_cents": 260_000,
            "plans": [
                {"plan": "basic", "tenants": 1, "mrr_cents": 10_000},
                {"plan": "enterprise", "tenants": 1, "mrr_cents": 250_000},
                {"plan": null, "tenants": 1, "mrr_cents": 0},
            ],
            "suspended": 1,
        })
    );
}

#[test]
fn an_overdue_milestones_rule_fires_per_tenant_and_resolves_when_they_are_done() {
    let server = Server::start_with(|config| {
        config.alerts.eval_interval_ms = 100;
        config.alerts.default_rules = false;
    });
    let operator = server.operator.clone();
    for tenant in ["acme", "beta"] {
        create(&server, json!({"id": tenant, "name": tenant, "kind": "standard"}));
    }
    let (status, body) = server.request(
        "PUT",
        "/v1/alert-rules/late-onboarding",
        Some(&operator),
        Some(&json!({"kind": "overdue-milestones", "threshold": 2, "window_secs": 4})),
    );
    assert_eq!(status, 200, "{body}");
    let late = json!({"name": "Acme", "milestones": [
        milestone("kickoff", PAST, "in-progress"),
        milestone("import", PAST, "blocked"),
        milestone("go-live", FUTURE, "planned"),
    ]});
    assert_eq!(put_project(&server, "acme", &operator, &late).0, 200);
    // One overdue milestone is under the threshold: beta never fires.
    let one_late = json!({"name": "Beta", "milestones": [milestone("kickoff", PAST, "planned")]});
    assert_eq!(put_project(&server, "beta", &operator, &one_late).0, 200);

    let alert = eventually("an overdue-milestones alert", || {
        let (_, body) = server.get("/v1/alerts?state=firing", Some(&operator));
        body["alerts"].as_array().unwrap().first().cloned()
    });
    assert_eq!(
        (
            alert["kind"].as_str(),
            alert["rule"].as_str(),
            alert["tenant"].as_str(),
            alert["value"].as_f64()
        ),
        (
            Some("overdue-milestones"),
            Some("late-onboarding"),
            Some("acme"),
            Some(2.0)
        ),
        "{alert}"
    );
    assert_eq!(alert["module"], Value::Null);
    assert_eq!(
        alert["summary"],
        "2 overdue milestones in its implementation project (threshold 2)"
    );
    let (_, acme_alerts) = server.get("/v1/tenants/acme/alerts", Some(&operator));
    assert_eq!(
        acme_alerts["alerts"].as_array().unwrap().len(),
        1,
        "{acme_alerts}"
    );

    let mut done = late.clone();
    done["milestones"][0]["status"] = json!("done");
    assert_eq!(put_project(&server, "acme", &operator, &done).0, 200);
    eventually("the alert to resolve", || {
        let (_, body) = server.get("/v1/alerts?state=resolved", Some(&operator));
        body["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|resolved| resolved["id"] == alert["id"])
            .then_some(())
    });
    let (_, all) = server.get("/v1/alerts", Some(&operator));
    assert_eq!(
        all["alerts"].as_array().unwrap().len(),
        1,
        "beta never fired: {all}"
    );
}
