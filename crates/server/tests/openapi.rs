//! Keeps three things in sync: the OpenAPI document, the admin router's routes, and `docs/http-api.md`.
//!
//! - The route table (what `Routes::add` registered with the router) and the
//!   document's operations are the same set of (method, path).
//! - Every route of the table is served by the real router (a request to it
//!   is not answered "no route" or `405`), and the served `/v1/openapi.json`
//!   is the document.
//! - `docs/http-api.md` lists every admin route and no other, and says that
//!   a route takes a body exactly when the document has its request body.
//! - Every operation names its access rule, declares its path parameters,
//!   has a schema for its success response, and every `$ref` resolves.

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

use serde_json::Value;
use support::Server;

type Route = (String, String);

fn document() -> Value {
    serde_json::to_value(modhost_server::openapi::document()).expect("the document is JSON")
}

fn operations(document: &Value) -> BTreeMap<Route, Value> {
    let mut operations = BTreeMap::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            operations.insert((method.to_uppercase(), path.clone()), operation.clone());
        }
    }
    operations
}

fn table() -> BTreeSet<Route> {
    modhost_server::openapi::routes()
        .into_iter()
        .map(|route| (route.method, route.path))
        .collect()
}

/// Each `- \`METHOD /path…\`` entry of the doc, with its continuation lines.
fn documented() -> BTreeMap<Route, String> {
    let text = include_str!("../../../docs/http-api.md");
    let mut entries: Vec<String> = Vec::new();
    for line in text.lines() {
        if line.starts_with("- `") {
            entries.push(line.to_owned());
        } else if line.starts_with("  ")
            && let Some(last) = entries.last_mut()
        {
            last.push(' ');
            last.push_str(line.trim());
        } else if line.trim().is_empty() || line.starts_with('#') {
            entries.push(String::new());
        }
    }
    let methods = ["GET", "POST", "PUT", "PATCH", "DELETE"];
    entries
        .into_iter()
        .filter_map(|entry| {
            let quoted = entry.strip_prefix("- `")?.split('`').next()?.to_owned();
            let (method, target) = quoted.split_once(' ')?;
            if !methods.contains(&method) {
                return None;
            }
            let path = target.split(['[', '?']).next()?.to_owned();
            Some(((method.to_owned(), path), entry))
        })
        .collect()
}

#[test]
fn the_route_table_and_the_document_have_the_same_operations() {
    let document = document();
    let documented: BTreeSet<Route> = operations(&document).into_keys().collect();
    assert_eq!(documented, table());
    assert_eq!(document["openapi"], "3.1.0");
}

#[test]
fn docs_http_api_lists_every_admin_route_and_no_other() {
    let doc = documented();
    let listed: BTreeSet<Route> = doc.keys().cloned().collect();
    let table = table();
    let missing: Vec<_> = table.difference(&listed).collect();
    let extra: Vec<_> = listed.difference(&table).collect();
    assert!(
        missing.is_empty(),
        "routes missing from docs/http-api.md: {missing:?}"
    );
    assert!(
        extra.is_empty(),
        "docs/http-api.md lists routes the server lacks: {extra:?}"
    );
    let operations = operations(&document());
    for (route, entry) in &doc {
        let says_body = entry.contains("body `") || entry.contains("multipart/form-data");
        let has_body = !operations[route]["requestBody"].is_null();
        assert_eq!(
            says_body, has_body,
            "{route:?}: the doc and the document disagree on whether it takes a body: {entry}"
        );
    }
}

#[test]
fn every_operation_has_schemas_an_access_rule_and_its_path_parameters() {
    let document = document();
    let schemas = document["components"]["schemas"].as_object().expect("schemas");
    for ((method, path), operation) in operations(&document) {
        let name = format!("{method} {path}");
        assert!(
            operation["x-access"].is_string(),
            "{name} declares no access rule"
        );
        assert!(operation["operationId"].is_string(), "{name} has no operation id");
        let success: Vec<_> = operation["responses"]
            .as_object()
            .expect("responses")
            .iter()
            .filter(|(status, _)| status.starts_with('2'))
            .collect();
        assert!(!success.is_empty(), "{name} has no success response");
        for (status, response) in success {
            let content = response["content"].as_object().expect("content");
            assert!(
                content.values().all(|media| media["schema"].is_object()),
                "{name} {status} has no response schema"
            );
            assert!(!content.is_empty(), "{name} {status} has no response body");
        }
        let error = &operation["responses"]["default"]["content"]["application/json"]["schema"]["$ref"];
        assert_eq!(error, "#/components/schemas/ErrorBody", "{name}");
        if let Some(body) = operation["requestBody"].as_object() {
            let content = body["content"].as_object().expect("request content");
            assert!(
                !content.is_empty() && content.values().all(|media| media["schema"].is_object()),
                "{name} has a request body without a schema"
            );
        }
        let declared: BTreeSet<&str> = operation["parameters"]
            .as_array()
            .map(|parameters| {
                parameters
                    .iter()
                    .filter(|parameter| parameter["in"] == "path")
                    .filter_map(|parameter| parameter["name"].as_str())
                    .collect()
            })
            .unwrap_or_default();
        let in_path: BTreeSet<&str> = path
            .split('/')
            .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
            .collect();
        assert_eq!(declared, in_path, "{name}: path parameters");
    }
    let text = document.to_string();
    for reference in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let schema = reference.split('"').next().unwrap_or_default();
        assert!(
            schemas.contains_key(schema),
            "`{schema}` is referenced but not defined"
        );
    }
}

#[test]
fn the_router_serves_every_route_of_the_table_and_the_document() {
    let server = Server::start();
    for (method, path) in table() {
        let concrete: String = path
            .split('/')
            .map(|segment| if segment.starts_with('{') { "x" } else { segment })
            .collect::<Vec<_>>()
            .join("/");
        let (status, body) = server.request(&method, &concrete, None, None);
        let unrouted = status == 405
            || (status == 404
                && body["error"]["message"]
                    .as_str()
                    .is_some_and(|message| message.starts_with("no route")));
        assert!(!unrouted, "{method} {path} is not served: {status} {body}");
    }
    let (status, body) = server.request("GET", "/v1/no-such-route", None, None);
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("not-found")));
    let (status, body) = server.request("DELETE", "/v1/tenants", Some(&server.operator), None);
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (405, Some("method-not-allowed")),
        "{body}"
    );
    let (status, served) = server.get("/v1/openapi.json", None);
    assert_eq!(status, 200);
    assert_eq!(served, document(), "the served document is the generated one");
}
