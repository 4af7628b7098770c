//! A hostile module's response over the real server: headers that would act for the shared origin are dropped, safety headers added, 1xx and 600+ statuses refused.

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

use serde_json::json;
use support::*;

fn server_running_chaos() -> Server {
    let server = Server::start();
    let (status, body) = server.post(
        "/v1/tenants",
        Some(&server.operator),
        json!({"id": "acme", "name": "Acme", "kind": "standard"}),
    );
    assert_eq!(status, 201, "{body}");
    // chaos depends on template.
    for (label, module, version) in [
        ("template@0.1.0", "template", "0.1.0"),
        ("chaos@1.0.0", "chaos", "1.0.0"),
    ] {
        let (manifest, component) = built(label);
        assert_eq!(server.push(&server.operator, &manifest, &component, None).0, 201);
        let (status, body) = server.post(
            &format!("/v1/tenants/acme/deployments/{module}/promote"),
            Some(&server.operator),
            json!({"version": version}),
        );
        assert_eq!(status, 200, "{body}");
    }
    server
}

/// Status, headers (sorted, lower case) and body of a raw GET.
fn get(server: &Server, path: &str) -> (u16, Vec<(String, String)>, String) {
    let uri = format!("{}{path}", server.url);
    let request = ureq::http::Request::builder()
        .method("GET")
        .uri(&uri)
        .header("authorization", format!("Bearer {}", server.operator))
        .body(Vec::new())
        .expect("request");
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let mut response = agent.run(request).expect("http");
    let mut headers: Vec<(String, String)> = response
        .headers()
        .iter()
        .map(|(name, value)| (name.as_str().to_owned(), value.to_str().unwrap_or("?").to_owned()))
        .collect();
    headers.sort();
    let body = response.body_mut().read_to_string().expect("body");
    (response.status().as_u16(), headers, body)
}

#[test]
fn a_hostile_modules_headers_never_act_for_the_origin() {
    let server = server_running_chaos();
    let (status, headers, body) = get(&server, "/t/acme/chaos/respond");
    assert_eq!(status, 200);
    assert_eq!(body, "<script>document.title = 'owned'</script>");
    let names: Vec<&str> = headers.iter().map(|(name, _)| name.as_str()).collect();
    for absent in [
        "set-cookie",
        "location",
        "www-authenticate",
        "proxy-authenticate",
        "upgrade",
    ] {
        assert!(
            !names.contains(&absent),
            "`{absent}` reached the client: {headers:?}"
        );
    }
    let value = |name: &str| -> Vec<&str> {
        headers
            .iter()
            .filter(|(found, _)| found == name)
            .map(|(_, value)| value.as_str())
            .collect()
    };
    assert_eq!(
        value("content-security-policy"),
        ["default-src 'none'; frame-ancestors 'none'; sandbox"]
    );
    assert_eq!(value("x-content-type-options"), ["nosniff"]);
    assert_eq!(value("x-chaos"), ["kept"]);
    assert_eq!(value("content-type"), ["text/html"]);
    assert_eq!(value("x-modhost-version"), ["chaos@1.0.0"]);
    assert_ne!(value("connection"), ["upgrade"]);
    // On a redirect the module's `location` passes.
    let (status, headers, _) = get(&server, "/t/acme/chaos/respond?status=302");
    assert_eq!(status, 302);
    assert!(headers.contains(&("location".to_owned(), "https://evil.example/".to_owned())));
}

#[test]
fn informational_and_out_of_range_statuses_become_502() {
    let server = server_running_chaos();
    // 1xx are valid HTTP statuses the edge refuses; 600 and up the sandbox already does.
    for (status, message) in [
        (
            101,
            "the module answered status 101; the host passes on 200 to 599 only".to_owned(),
        ),
        (
            100,
            "the module answered status 100; the host passes on 200 to 599 only".to_owned(),
        ),
        (
            600,
            "the module returned an invalid response: status 600 is outside 100..=599".to_owned(),
        ),
        (
            999,
            "the module returned an invalid response: status 999 is outside 100..=599".to_owned(),
        ),
    ] {
        let (answered, _, body) = get(&server, &format!("/t/acme/chaos/respond?status={status}"));
        assert_eq!(answered, 502, "{status}: {body}");
        let body: serde_json::Value = serde_json::from_str(&body).expect("json");
        assert_eq!(
            body,
            json!({"error": {"code": "invalid-response", "message": message}})
        );
    }
    let (status, _, _) = get(&server, "/t/acme/chaos/respond?status=204");
    assert_eq!(status, 204);
}
