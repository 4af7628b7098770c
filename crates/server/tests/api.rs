//! The HTTP API over real HTTP against a real server: the deploy flow, the authorization matrix, bad input.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "test code: a failed expectation is a failed test"
)]

mod support;

use serde_json::json;
use support::*;

fn setup() -> Server {
    let server = Server::start();
    let operator = server.operator.clone();
    for (id, kind) in [("acme", "standard"), ("banban", "custom")] {
        let (status, body) = server.post(
            "/v1/tenants",
            Some(&operator),
            json!({"id": id, "name": id, "kind": kind}),
        );
        assert_eq!(status, 201, "{body}");
    }
    let (manifest, component) = built("template@0.1.0");
    let (status, body) = server.push(&operator, &manifest, &component, None);
    assert_eq!((status, body["created"].clone()), (201, json!(true)), "{body}");
    server
}

fn promote(server: &Server, token: &str, tenant: &str, version: &str) -> (u16, serde_json::Value) {
    server.post(
        &format!("/v1/tenants/{tenant}/deployments/template/promote"),
        Some(token),
        json!({"version": version}),
    )
}

fn served_version(server: &Server, token: &str) -> (u16, String, serde_json::Value) {
    server.get_with("/t/acme/template/hello/world", token, &[], "x-modhost-version")
}

#[test]
fn push_promote_call_upgrade_and_roll_back() {
    let server = setup();
    let operator = server.operator.clone();
    let (manifest, component) = built("template@0.1.0");
    let (status, body) = server.push(&operator, &manifest, &component, None);
    assert_eq!(
        (status, body["created"].clone()),
        (200, json!(false)),
        "an identical re-upload is idempotent"
    );

    assert_eq!(promote(&server, &operator, "acme", "0.1.0").0, 200);
    let invoker = server.token("invoker", Some("acme"));
    let (status, version, body) = served_version(&server, &invoker);
    assert_eq!((status, version.as_str()), (200, "template@0.1.0"));
    assert_eq!(body, json!({"message": "hello, world", "visits": 1}));

    let (manifest, component) = template_version("0.2.0");
    assert_eq!(server.push(&operator, &manifest, &component, None).0, 201);
    let (status, change) = promote(&server, &operator, "acme", "0.2.0");
    assert_eq!(
        (status, change["from"].clone(), change["to"].clone()),
        (200, json!("0.1.0"), json!("0.2.0"))
    );
    let (_, version, body) = served_version(&server, &invoker);
    assert_eq!(version, "template@0.2.0");
    assert_eq!(body["visits"], 2, "data survives the upgrade");

    let (status, change) = server.post(
        "/v1/tenants/acme/deployments/template/rollback",
        Some(&operator),
        json!({}),
    );
    assert_eq!((status, change["to"].clone()), (200, json!("0.1.0")), "{change}");
    let (_, version, body) = served_version(&server, &invoker);
    assert_eq!(
        (version.as_str(), body["visits"].clone()),
        ("template@0.1.0", json!(3))
    );

    let (status, deployment) = server.get("/v1/tenants/acme/deployments/template", Some(&operator));
    assert_eq!(status, 200);
    let history: Vec<_> = deployment["history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|event| {
            (
                event["action"].clone(),
                event["from"].clone(),
                event["to"].clone(),
            )
        })
        .collect();
    assert_eq!(
        history,
        [
            (json!("promote"), json!(null), json!("0.1.0")),
            (json!("promote"), json!("0.1.0"), json!("0.2.0")),
            (json!("rollback"), json!("0.2.0"), json!("0.1.0")),
        ]
    );

    let (status, context) = server.get("/v1/tenants/acme/context", Some(&invoker));
    assert_eq!(status, 200);
    assert_eq!(context["tenant"]["kind"], "standard");
    assert_eq!(context["modules"][0]["id"], "template");
    assert_eq!(context["modules"][0]["title"], "Template");
    assert_eq!(context["permissions"], json!(["template.read", "template.write"]));

    let (status, metrics) = server.raw("GET", "/metrics", Some(&operator), None);
    let metrics = String::from_utf8(metrics).expect("text");
    assert_eq!(status, 200);
    assert!(
        metrics.contains("modhost_requests_total{tenant=\"acme\",module=\"template\",outcome=\"ok\"} 3"),
        "{metrics}"
    );
    assert!(metrics.contains("modhost_swaps_total 3"), "{metrics}");
    let (_, audit) = server.get("/v1/audit?action=deployment.", Some(&operator));
    assert_eq!(audit["entries"].as_array().expect("entries").len(), 3);
    let (status, document) = server.get("/v1/openapi.json", None);
    assert_eq!((status, document["openapi"].clone()), (200, json!("3.1.0")));
}

/// Who is asking, in the matrix.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Who {
    Anonymous,
    Operator,
    Admin,
    Viewer,
    Invoker,
}

#[test]
fn authorization_matrix_every_route_role_and_tenant() {
    let server = setup();
    let operator = server.operator.clone();
    for tenant in ["acme", "banban"] {
        assert_eq!(promote(&server, &operator, tenant, "0.1.0").0, 200);
    }
    let tokens = [
        (Who::Anonymous, None),
        (Who::Operator, Some(operator.clone())),
        (Who::Admin, Some(server.token("tenant-admin", Some("acme")))),
        (Who::Viewer, Some(server.token("tenant-viewer", Some("acme")))),
        (Who::Invoker, Some(server.token("invoker", Some("acme")))),
    ];
    // (method, path with {t}, body, roles allowed on their own tenant)
    let tenant_routes: &[(&str, &str, Option<serde_json::Value>, &[Who])] = &[
        ("GET", "/v1/tenants/{t}", None, &[Who::Admin, Who::Viewer]),
        ("PATCH", "/v1/tenants/{t}", Some(json!({})), &[]),
        (
            "GET",
            "/v1/tenants/{t}/context",
            None,
            &[Who::Admin, Who::Viewer, Who::Invoker],
        ),
        ("GET", "/v1/tenants/{t}/logs", None, &[Who::Admin, Who::Viewer]),
        (
            "GET",
            "/v1/tenants/{t}/deployments",
            None,
            &[Who::Admin, Who::Viewer],
        ),
        (
            "GET",
            "/v1/tenants/{t}/deployments/template",
            None,
            &[Who::Admin, Who::Viewer],
        ),
        (
            "POST",
            "/v1/tenants/{t}/deployments/template/promote",
            Some(json!({"version": "0.1.0"})),
            &[Who::Admin],
        ),
        (
            "GET",
            "/v1/tenants/{t}/config/template",
            None,
            &[Who::Admin, Who::Viewer],
        ),
        (
            "PUT",
            "/v1/tenants/{t}/config/template",
            Some(json!({"values": {"greeting": "oi"}})),
            &[Who::Admin],
        ),
        (
            "POST",
            "/v1/tenants/{t}/config/template/rollback",
            Some(json!({"to": 1})),
            &[Who::Admin],
        ),
        (
            "POST",
            "/v1/tenants/{t}/deployments/absent/rollback",
            Some(json!({})),
            &[Who::Admin],
        ),
        (
            "POST",
            "/v1/tenants/{t}/deployments/absent/disable",
            Some(json!({})),
            &[Who::Admin],
        ),
        (
            "GET",
            "/t/{t}/template/hello/matrix",
            None,
            &[Who::Admin, Who::Invoker],
        ),
        (
            "GET",
            "/v1/tenants/{t}/alert-rules",
            None,
            &[Who::Admin, Who::Viewer],
        ),
        (
            "PUT",
            "/v1/tenants/{t}/alert-rules/matrix",
            Some(json!({"kind": "traps", "threshold": 1, "window_secs": 60})),
            &[Who::Admin],
        ),
        (
            "GET",
            "/v1/tenants/{t}/channels",
            None,
            &[Who::Admin, Who::Viewer],
        ),
        ("GET", "/v1/tenants/{t}/alerts", None, &[Who::Admin, Who::Viewer]),
        ("GET", "/v1/tenants/{t}/metrics", None, &[Who::Admin, Who::Viewer]),
        (
            "GET",
            "/v1/tenants/{t}/deliveries",
            None,
            &[Who::Admin, Who::Viewer],
        ),
    ];
    let mut failures = Vec::new();
    for (who, token) in &tokens {
        for (method, path, body, allowed) in tenant_routes {
            for tenant in ["acme", "banban"] {
                let (status, response) = server.request(
                    method,
                    &path.replace("{t}", tenant),
                    token.as_deref(),
                    body.as_ref(),
                );
                let expected_ok = *who == Who::Operator || (tenant == "acme" && allowed.contains(who));
                // Allowed means the operation ran: success, or a refusal of its own (409 not enabled).
                let ok = (200..300).contains(&status) || status == 409;
                let expected_denial = match who {
                    Who::Anonymous => 401,
                    _ if tenant == "banban" => 404,
                    _ => 403,
                };
                if ok != expected_ok || (!expected_ok && status != expected_denial) {
                    failures.push(format!(
                        "{who:?} {method} {path} on {tenant}: {status} {response}"
                    ));
                }
            }
        }
        let global_routes: &[(&str, &str, Option<serde_json::Value>, &[Who])] = &[
            ("GET", "/metrics", None, &[]),
            ("GET", "/v1/alert-rules", None, &[]),
            ("GET", "/v1/channels", None, &[]),
            ("GET", "/v1/alerts", None, &[]),
            ("GET", "/v1/deliveries", None, &[]),
            ("GET", "/v1/status", None, &[]),
            ("GET", "/v1/audit", None, &[Who::Admin]),
            ("GET", "/v1/tokens", None, &[Who::Admin]),
            (
                "POST",
                "/v1/tenants",
                Some(json!({"id": format!("t-{who:?}").to_lowercase(), "name": "x", "kind": "standard"})),
                &[],
            ),
            ("GET", "/v1/tenants", None, &[Who::Admin, Who::Viewer]),
            ("GET", "/v1/modules", None, &[Who::Admin, Who::Viewer]),
            (
                "GET",
                "/v1/modules/template/versions/0.1.0",
                None,
                &[Who::Admin, Who::Viewer],
            ),
            (
                "POST",
                "/v1/tokens",
                Some(json!({"name": "matrix", "role": "invoker", "tenant": "acme"})),
                &[Who::Admin],
            ),
            (
                "GET",
                "/healthz",
                None,
                &[Who::Anonymous, Who::Admin, Who::Viewer, Who::Invoker],
            ),
            (
                "GET",
                "/readyz",
                None,
                &[Who::Anonymous, Who::Admin, Who::Viewer, Who::Invoker],
            ),
            (
                "GET",
                "/v1/openapi.json",
                None,
                &[Who::Anonymous, Who::Admin, Who::Viewer, Who::Invoker],
            ),
        ];
        for (method, path, body, allowed) in global_routes {
            let (status, response) = server.request(method, path, token.as_deref(), body.as_ref());
            let expected_ok = *who == Who::Operator || allowed.contains(who);
            let expected_denial = if *who == Who::Anonymous { 401 } else { 403 };
            if (200..300).contains(&status) != expected_ok || (!expected_ok && status != expected_denial) {
                failures.push(format!("{who:?} {method} {path}: {status} {response}"));
            }
        }
    }
    assert_eq!(failures, Vec::<String>::new());

    // Nothing leaked across tenants: banban's config was only ever written by the operator.
    let (_, config) = server.get("/v1/tenants/banban/config/template", Some(&operator));
    let writers: Vec<_> = config["history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|v| v["actor"].as_str().unwrap_or("").to_owned())
        .collect();
    assert!(
        writers.iter().all(|actor| actor.ends_with(":operator")),
        "{writers:?}"
    );
    let (_, audit) = server.get("/v1/audit?tenant=acme", Some(&tokens[2].1.clone().unwrap()));
    assert!(
        audit["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .all(|entry| entry["tenant"] == "acme"),
        "a tenant admin sees only its tenant's audit"
    );
    let (_, tenants) = server.get("/v1/tenants", Some(&tokens[3].1.clone().unwrap()));
    assert_eq!(
        tenants["tenants"].as_array().expect("tenants").len(),
        1,
        "a viewer lists only its own tenant"
    );

    let (_, denials) = server.get("/v1/audit?action=data-plane.call", Some(&operator));
    let denials = denials["entries"].as_array().expect("entries");
    assert!(
        !denials.is_empty() && denials.iter().all(|entry| entry["outcome"] == "denied"),
        "{denials:?}"
    );
    assert!(
        denials
            .iter()
            .all(|entry| !entry["actor"].as_str().unwrap_or("").contains("mh_")),
        "no secret in the audit"
    );

    // Uploads: operators and tenant admins only; a tenant admin publishes only custom modules it owns.
    let (manifest, component) = template_version("0.5.0");
    let (status, _) = server.push(&tokens[3].1.clone().unwrap(), &manifest, &component, None);
    assert_eq!(status, 403, "a viewer may not upload");
    let (status, body) = server.push(&tokens[2].1.clone().unwrap(), &manifest, &component, None);
    assert_eq!(
        (status, body["error"]["problems"][0]["check"].clone()),
        (422, json!("owner")),
        "{body}"
    );
    let (status, _) = server.push(
        &tokens[2].1.clone().unwrap(),
        &manifest,
        &component,
        Some("banban"),
    );
    assert_eq!(status, 404, "a tenant admin cannot upload for another tenant");

    // Tokens: a tenant admin revokes its own tenant's tokens only, and never sees others'.
    let banban_token = server.token("invoker", Some("banban"));
    let (_, listed) = server.get("/v1/tokens", Some(&operator));
    let id_of = |tenant: &str| -> String {
        let tokens = listed["tokens"].as_array().expect("tokens");
        tokens
            .iter()
            .rev()
            .find(|t| t["tenant"] == tenant)
            .expect("token")["id"]
            .as_str()
            .expect("id")
            .to_owned()
    };
    let acme_admin = tokens[2].1.clone().unwrap();
    assert_eq!(
        server
            .request(
                "DELETE",
                &format!("/v1/tokens/{}", id_of("banban")),
                Some(&acme_admin),
                None
            )
            .0,
        404
    );
    assert_eq!(
        server
            .get("/t/banban/template/hello/still", Some(&banban_token))
            .0,
        200,
        "the other tenant's token still works"
    );
    assert_eq!(
        server
            .request(
                "DELETE",
                &format!("/v1/tokens/{}", id_of("acme")),
                Some(&acme_admin),
                None
            )
            .0,
        200
    );
    let (_, own) = server.get("/v1/tokens", Some(&acme_admin));
    assert!(
        own["tokens"]
            .as_array()
            .expect("tokens")
            .iter()
            .all(|t| t["tenant"] == "acme")
    );
}

/// A server where acme runs template 0.1.0 and chaos 1.0.0 (which needs it).
fn acme_running_chaos() -> (Server, String) {
    let server = setup();
    let operator = server.operator.clone();
    let (manifest, component) = built("chaos@1.0.0");
    assert_eq!(server.push(&operator, &manifest, &component, None).0, 201);
    assert_eq!(promote(&server, &operator, "acme", "0.1.0").0, 200);
    let (status, body) = server.post(
        "/v1/tenants/acme/deployments/chaos/promote",
        Some(&operator),
        json!({"version": "1.0.0"}),
    );
    assert_eq!(status, 200, "{body}");
    (server, operator)
}

#[test]
fn guest_failures_map_to_gateway_statuses_and_the_host_keeps_serving() {
    let (server, operator) = acme_running_chaos();
    let cases = [
        ("/t/acme/chaos/loop", 504, "deadline-exceeded"),
        ("/t/acme/chaos/panic", 502, "module-trapped"),
        ("/t/acme/chaos/alloc", 502, "resource-limit"),
        ("/t/acme/chaos/huge", 502, "invalid-response"),
    ];
    for (path, status, code) in cases {
        let (actual, body) = server.get(path, Some(&operator));
        assert_eq!(
            (actual, body["error"]["code"].as_str().unwrap_or_default()),
            (status, code),
            "{path}: {body}"
        );
        assert_eq!(
            server.get("/t/acme/chaos/ok", Some(&operator)).0,
            200,
            "served again after {path}"
        );
    }
    let (_, logs) = server.get("/v1/tenants/acme/logs", Some(&operator));
    let records = logs["records"].as_array().expect("records");
    let messages: Vec<&str> = records
        .iter()
        .map(|record| record["message"].as_str().unwrap_or(""))
        .collect();
    assert!(messages.contains(&"chaos panic: deliberate"), "{messages:?}");
}

#[test]
fn bad_input_gets_a_clear_json_error_and_the_server_keeps_serving() {
    let server = setup();
    let operator = server.operator.clone();
    assert_eq!(promote(&server, &operator, "acme", "0.1.0").0, 200);
    let invoker = server.token("invoker", Some("acme"));
    let check = |(status, body): (u16, serde_json::Value), expected_status: u16, code: &str| {
        assert_eq!(
            (status, body["error"]["code"].as_str().unwrap_or_default()),
            (expected_status, code),
            "{body}"
        );
        assert!(!body["error"]["message"].as_str().unwrap_or_default().is_empty());
        assert_eq!(server.get("/healthz", None).0, 200, "still serving");
    };
    let (status, bytes) = server.raw(
        "POST",
        "/v1/tenants",
        Some(&operator),
        Some(("application/json".into(), b"{\"id\": ".to_vec())),
    );
    check(
        (status, serde_json::from_slice(&bytes).expect("json error")),
        400,
        "bad-request",
    );
    check(server.get("/v1/tenants/ghost", Some(&operator)), 404, "not-found");
    check(promote(&server, &operator, "acme", "9.9.9"), 404, "not-found");
    check(server.get("/t/acme/nothing/x", Some(&operator)), 404, "not-found");
    check(
        server.get("/t/ghost/template/hello/x", Some(&operator)),
        404,
        "not-found",
    );
    check(server.get("/v1/status", Some("mh_wrong")), 401, "unauthorized");
    let revoked = server.token("invoker", Some("acme"));
    // Used first, so the revoke must also reach the token cache.
    for _ in 0..3 {
        assert_eq!(server.get("/t/acme/template/hello/x", Some(&revoked)).0, 200);
    }
    let (_, tokens) = server.get("/v1/tokens?tenant=acme", Some(&operator));
    let id = tokens["tokens"]
        .as_array()
        .expect("tokens")
        .last()
        .expect("token")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    assert_eq!(
        server
            .request("DELETE", &format!("/v1/tokens/{id}"), Some(&operator), None)
            .0,
        200
    );
    check(
        server.get("/t/acme/template/hello/x", Some(&revoked)),
        401,
        "unauthorized",
    );

    let big = vec![b'x'; 70 * 1024];
    let (status, bytes) = server.raw(
        "PUT",
        "/t/acme/template/notes/big",
        Some(&invoker),
        Some(("application/json".into(), big)),
    );
    check(
        (status, serde_json::from_slice(&bytes).expect("json error")),
        413,
        "payload-too-large",
    );
    check(
        server.get("/t/acme/template/nope", Some(&invoker)),
        404,
        "no-endpoint",
    );
    check(
        server.request(
            "PUT",
            "/t/acme/template/notes/x",
            Some(&invoker),
            Some(&json!({"text": ""})),
        ),
        422,
        "unprocessable",
    );

    let (manifest, component) = built("template@0.1.0");
    let broken = manifest.replace("id = \"template\"", "id = \"Template\"");
    let (status, body) = server.push(&operator, &broken, &component, None);
    check((status, body.clone()), 422, "upload-rejected");
    assert_eq!(body["error"]["problems"][0]["check"], "manifest");

    let invalid_config = server.request(
        "PUT",
        "/v1/tenants/acme/config/template",
        Some(&operator),
        Some(&json!({"values": {"max_note_length": 0}})),
    );
    check(invalid_config, 422, "config-invalid");

    let (manifest, component) = template_version("0.3.0");
    let needs_inventory = manifest
        .replace(
            "capabilities = [\"config\", \"kv\", \"log\"]",
            "capabilities = [\"config\", \"kv\", \"log\", \"modules\"]",
        )
        .replacen(
            "[[endpoints]]",
            "[dependencies]\ninventory = \"^1\"\n\n[[endpoints]]",
            1,
        );
    assert_eq!(server.push(&operator, &needs_inventory, &component, None).0, 201);
    let (status, body) = promote(&server, &operator, "acme", "0.3.0");
    check((status, body.clone()), 409, "deployment-blocked");
    assert_eq!(
        body["error"]["problems"][0]["kind"]["kind"], "dependency-missing",
        "{body}"
    );
    let (_, deployment) = server.get("/v1/tenants/acme/deployments/template", Some(&operator));
    assert_eq!(deployment["active"], "0.1.0", "nothing changed");
}

#[test]
fn a_version_failing_its_smoke_tests_is_refused_with_422_and_nothing_changes() {
    let server = setup();
    let operator = server.operator.clone();
    assert_eq!(promote(&server, &operator, "acme", "0.1.0").0, 200);
    let (manifest, component) = template_version("0.2.0");
    let failing = manifest.replacen(
        r#"json = { message = "hello, world" }"#,
        r#"json = { message = "bom dia, world" }"#,
        1,
    );
    assert_ne!(
        failing, manifest,
        "the template's smoke test changed; update this test"
    );
    assert_eq!(server.push(&operator, &failing, &component, None).0, 201);

    let (status, body) = promote(&server, &operator, "acme", "0.2.0");
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (422, json!("smoke-test-failed")),
        "{body}"
    );
    assert_eq!(
        body["error"]["message"],
        "template@0.2.0 failed its smoke tests, so it was not promoted: smoke test `greets` failed: \
         the response JSON differs at `$.message`: expected \"bom dia, world\", found a string"
    );
    let invoker = server.token("invoker", Some("acme"));
    let (status, version, body) = served_version(&server, &invoker);
    assert_eq!((status, version.as_str()), (200, "template@0.1.0"));
    assert_eq!(
        body["visits"], 1,
        "the smoke tests never touched the tenant's data"
    );
}

#[test]
fn a_tenant_admin_cannot_mint_a_token_wider_than_its_own() {
    let server = setup();
    let operator = server.operator.clone();
    let (status, body) = server.post(
        "/v1/tokens",
        Some(&operator),
        json!({"name": "narrow admin", "role": "tenant-admin", "tenant": "acme", "permissions": ["template.read"]}),
    );
    assert_eq!(status, 201, "{body}");
    let admin = body["token"].as_str().expect("secret").to_owned();
    let tokens_before = server.get("/v1/tokens", Some(&operator)).1["tokens"]
        .as_array()
        .expect("tokens")
        .len();
    let attempts = [
        (json!(["*"]), "`*`"),
        (json!(["template.*"]), "`template.*`"),
        (json!(["template.read", "inventory.read"]), "`inventory.read`"),
    ];
    // 8 clients at once, each trying every widening.
    let answers: Vec<Vec<(u16, serde_json::Value)>> = std::thread::scope(|scope| {
        let clients: Vec<_> = (0..8)
            .map(|_| {
                let (server, admin, attempts) = (&server, &admin, &attempts);
                scope.spawn(move || {
                    attempts
                        .iter()
                        .map(|(permissions, _)| {
                            server.post(
                                "/v1/tokens",
                                Some(admin),
                                json!({"name": "wider", "role": "invoker", "tenant": "acme", "permissions": permissions}),
                            )
                        })
                        .collect()
                })
            })
            .collect();
        clients
            .into_iter()
            .map(|client| client.join().expect("a client"))
            .collect()
    });
    assert_eq!(answers.len(), 8);
    for client in answers {
        for ((status, body), (_, refused)) in client.into_iter().zip(&attempts) {
            assert_eq!(status, 403, "{body}");
            assert_eq!(
                body["error"]["message"],
                format!("a token can grant only permissions its creator holds; yours do not cover {refused}")
            );
        }
    }
    let tokens_after = server.get("/v1/tokens", Some(&operator)).1["tokens"]
        .as_array()
        .expect("tokens")
        .len();
    assert_eq!(tokens_after, tokens_before, "no token was created");
    // Within its own grants, or with no list (it inherits the creator's).
    for permissions in [json!(["template.read"]), serde_json::Value::Null] {
        let mut request = json!({"name": "narrow", "role": "invoker", "tenant": "acme"});
        if !permissions.is_null() {
            request["permissions"] = permissions;
        }
        let (status, body) = server.post("/v1/tokens", Some(&admin), request);
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["permissions"], json!(["template.read"]), "{body}");
    }
}

#[test]
fn host_failures_give_non_operators_a_request_id_and_operators_the_detail() {
    let server = setup();
    let operator = server.operator.clone();
    assert_eq!(promote(&server, &operator, "acme", "0.1.0").0, 200);
    let invoker = server.token("invoker", Some("acme"));
    let admin = server.token("tenant-admin", Some("acme"));
    // Break the artifact store under the active version: its blob becomes a
    // folder, and the compile cache is gone, so the restarted host cannot load it.
    let data_dir = server.data_dir();
    let blob = walk(&data_dir.join("registry"))
        .into_iter()
        .find(|path| {
            path.parent()
                .and_then(|parent| parent.parent())
                .is_some_and(|p| p.ends_with("sha256"))
        })
        .expect("a stored blob");
    std::fs::remove_file(&blob).unwrap();
    std::fs::create_dir(&blob).unwrap();
    std::fs::remove_dir_all(data_dir.join("compiled")).unwrap();
    let server = server.restart(|_| {});
    let data_dir = server.data_dir();
    let data_dir = data_dir.to_string_lossy();

    for token in [&invoker, &admin] {
        let (status, request_id, body) =
            server.get_with("/t/acme/template/hello/world", token, &[], "x-request-id");
        assert_eq!(status, 503, "{body}");
        assert!(!request_id.is_empty(), "every answer names its request");
        assert_eq!(body["error"]["code"], "no-ready-version", "{body}");
        assert_eq!(
            body["error"]["message"],
            format!(
                "the host could not serve this request; if it persists, give the operator the request id `{request_id}`"
            )
        );
        let text = body.to_string();
        assert!(
            !text.contains(&*data_dir) && !text.contains("artifact store"),
            "{text}"
        );
    }
    let (status, request_id, body) =
        server.get_with("/t/acme/template/hello/world", &operator, &[], "x-request-id");
    assert_eq!(status, 503, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("the artifact store failed"), "{message}");
    assert!(
        message.ends_with(&format!("(request id `{request_id}`)")),
        "{message}"
    );
    assert!(
        !message.contains(&*data_dir),
        "the path is only logged: {message}"
    );
}

fn walk(folder: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(folder).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(walk(&path));
        } else {
            found.push(path);
        }
    }
    found
}

#[test]
fn an_incoming_request_id_follows_the_request_into_the_answer_and_the_module_logs() {
    let (server, operator) = acme_running_chaos();
    let (status, id, _) = server.get_with(
        "/t/acme/chaos/panic",
        &operator,
        &[("x-request-id", "edge-7f3a:42")],
        "x-request-id",
    );
    assert_eq!((status, id.as_str()), (502, "edge-7f3a:42"));
    let (status, id, _) = server.get_with(
        "/healthz",
        &operator,
        &[("x-request-id", "edge-7f3a:43")],
        "x-request-id",
    );
    assert_eq!(
        (status, id.as_str()),
        (200, "edge-7f3a:43"),
        "admin routes keep it too"
    );
    let too_long = "a".repeat(65);
    for refused in ["has space", too_long.as_str()] {
        let (status, id, _) = server.get_with(
            "/healthz",
            &operator,
            &[("x-request-id", refused)],
            "x-request-id",
        );
        assert_eq!(status, 200);
        assert!(
            !id.is_empty() && id != refused,
            "{refused:?} is replaced by the host's own id, got {id:?}"
        );
    }

    let (_, logs) = server.get("/v1/tenants/acme/logs", Some(&operator));
    let panic_record = logs["records"]
        .as_array()
        .expect("records")
        .iter()
        .find(|record| record["message"] == "chaos panic: deliberate")
        .cloned()
        .unwrap_or_default();
    assert_eq!(panic_record["request_id"], "edge-7f3a:42", "{logs}");
}
