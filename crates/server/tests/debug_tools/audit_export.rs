//! The audit log's CSV export over real HTTP: the header, RFC 4180 quoting, the formula guard, the filters and a tenant admin's scope.

use serde_json::{Value, json};

use super::support::Server;
use super::{smoke, template_failing_as};

/// The records of an RFC 4180 text (CRLF line ends), fields unquoted.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let (mut records, mut record, mut field) = (Vec::new(), Vec::new(), String::new());
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => {
                assert!(field.is_empty(), "a quote inside an unquoted field: {field}");
                quoted = true;
            }
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') => {
                assert_eq!(chars.next(), Some('\n'), "a bare CR ends no record");
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, c) => field.push(c),
        }
    }
    assert!(
        !quoted && field.is_empty() && record.is_empty(),
        "the export ends with a line end"
    );
    records
}

/// `GET /v1/audit/export{query}`: status, content type, content disposition, body.
fn export(server: &Server, query: &str, token: Option<&str>) -> (u16, String, String, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut request = agent.get(format!("{}/v1/audit/export{query}", server.url));
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let mut response = request.call().expect("export");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let (content_type, disposition) = (header("content-type"), header("content-disposition"));
    let status = response.status().as_u16();
    let body = response.body_mut().read_to_string().expect("body");
    (status, content_type, disposition, body)
}

/// The CSV records `GET /v1/audit{query}` says the export must hold: the
/// fields as the JSON has them, a formula's guard added.
fn expected_rows(server: &Server, query: &str, token: &str) -> Vec<Vec<String>> {
    let (status, body) = server.get(&format!("/v1/audit{query}"), Some(token));
    assert_eq!(status, 200, "{body}");
    assert!(
        body.get("next_after").is_none(),
        "one page holds the whole log here"
    );
    let text = |value: &Value| {
        let text = value.as_str().unwrap_or_default();
        if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
            format!("'{text}")
        } else {
            text.to_owned()
        }
    };
    body["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|entry| {
            vec![
                entry["id"].to_string(),
                entry["at_ms"].to_string(),
                text(&entry["actor"]),
                text(&entry["action"]),
                text(&entry["target"]),
                text(&entry["tenant"]),
                text(&entry["outcome"]),
                text(&entry["detail"]),
            ]
        })
        .collect()
}

/// The export's records after the header, with `at` checked against and
/// replaced by the JSON's `at_ms`.
fn exported_rows(body: &str, expected: &[Vec<String>]) -> Vec<Vec<String>> {
    let mut records = parse_csv(body);
    assert_eq!(
        records.first().map(|header| header.join(",")),
        Some("id,at,actor,action,target,tenant,outcome,detail".to_owned())
    );
    records.remove(0);
    for (record, wanted) in records.iter_mut().zip(expected) {
        let at_ms: u64 = wanted[1].parse().expect("at_ms");
        let at = &record[1];
        assert_eq!(at.len(), 24, "{at}");
        assert!(
            at.starts_with("20") && at.ends_with('Z') && &at[10..11] == "T",
            "{at}"
        );
        assert_eq!(&at[17..19], format!("{:02}", at_ms / 1000 % 60), "{at}");
        assert_eq!(&at[20..23], format!("{:03}", at_ms % 1000), "{at}");
        record[1] = wanted[1].clone();
    }
    records
}

#[test]
fn the_audit_log_exports_as_csv_quoted_guarded_filtered_and_scoped() {
    let server = Server::start();
    let operator = server.operator.clone();
    for id in ["acme", "globex"] {
        let (status, body) = server.post(
            "/v1/tenants",
            Some(&operator),
            json!({"id": id, "name": id, "kind": "standard"}),
        );
        assert_eq!(status, 201, "{body}");
    }
    let formula = "=HYPERLINK(\"http://evil.example\",\"click\"), then";
    for (tenant, reason) in [("acme", formula), ("globex", "-2+3")] {
        let path = format!("/v1/tenants/{tenant}/suspend");
        let (status, body) = server.post(&path, Some(&operator), json!({"reason": reason}));
        assert_eq!(status, 200, "{body}");
        let (status, body) = server.post(
            &format!("/v1/tenants/{tenant}/resume"),
            Some(&operator),
            json!({}),
        );
        assert_eq!(status, 200, "{body}");
    }
    let (manifest, component) = template_failing_as("0.5.0", "line one,\n\"two\"");
    assert_eq!(server.push(&operator, &manifest, &component, None).0, 201);
    let (status, report) = smoke(&server, &operator, "acme", "template", "0.5.0");
    assert_eq!(
        (status, report["passed"].clone()),
        (200, json!(false)),
        "{report}"
    );

    let (status, content_type, disposition, body) = export(&server, "", Some(&operator));
    assert_eq!(status, 200, "{body}");
    assert_eq!(content_type, "text/csv; charset=utf-8");
    assert_eq!(disposition, "attachment; filename=\"modhost-audit.csv\"");
    assert!(
        body.starts_with("id,at,actor,action,target,tenant,outcome,detail\r\n"),
        "{body}"
    );
    // RFC 4180 quoting and the formula guard, byte for byte.
    assert!(
        body.contains(",acme,ok,\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"click\"\"), then\"\r\n"),
        "{body}"
    );
    assert!(body.contains(",globex,ok,'-2+3\r\n"), "{body}");
    assert!(
        body.contains(
            ",acme,failed,\"smoke test `line one,\n\"\"two\"\"` failed: expected status 418, got 200\"\r\n"
        ),
        "{body}"
    );
    let expected = expected_rows(&server, "", &operator);
    assert_eq!(exported_rows(&body, &expected), expected);

    // Filters, as `GET /v1/audit` applies them.
    let (status, body) = server.get("/v1/audit?action=tenant.suspend", Some(&operator));
    assert_eq!(status, 200, "{body}");
    let suspensions = body["entries"].as_array().expect("entries");
    assert_eq!(suspensions.len(), 2, "{body}");
    let (first_ms, second_ms) = (&suspensions[0]["at_ms"], &suspensions[1]["at_ms"]);
    for query in [
        "?action=tenant.".to_owned(),
        "?tenant=globex".to_owned(),
        format!("?actor={}", suspensions[0]["actor"].as_str().expect("actor")),
        format!("?since_ms={second_ms}"),
        format!("?until_ms={first_ms}"),
        format!("?action=tenant.suspend&since_ms={first_ms}&until_ms={second_ms}"),
        "?since_ms=99999999999999".to_owned(),
    ] {
        let (status, _, _, body) = export(&server, &query, Some(&operator));
        assert_eq!(status, 200, "{query}: {body}");
        let expected = expected_rows(&server, &query, &operator);
        assert_eq!(exported_rows(&body, &expected), expected, "{query}");
    }
    let (status, _, _, body) = export(
        &server,
        &format!("?action=tenant.suspend&since_ms={first_ms}&until_ms={second_ms}"),
        Some(&operator),
    );
    assert_eq!((status, parse_csv(&body).len()), (200, 3), "{body}");
    for path in ["/v1/audit/export?since_ms=yesterday", "/v1/audit?until_ms=-1"] {
        let (status, body) = server.get(path, Some(&operator));
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert_eq!(status, 400, "{body}");
        assert!(
            message.contains("must be a whole number of milliseconds since the Unix epoch"),
            "{message}"
        );
    }

    // A tenant admin exports its tenant's rows only; others are refused.
    let admin = server.token("tenant-admin", Some("acme"));
    let (status, _, _, body) = export(&server, "", Some(&admin));
    assert_eq!(status, 200, "{body}");
    let rows = parse_csv(&body);
    assert!(rows.len() > 2, "{body}");
    assert!(rows[1..].iter().all(|row| row[5] == "acme"), "{body}");
    let expected = expected_rows(&server, "?tenant=acme", &operator);
    assert_eq!(exported_rows(&body, &expected), expected);
    let (status, _, _, body) = export(&server, "?tenant=globex", Some(&admin));
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("tenant `globex` does not exist"), "{body}");
    let viewer = server.token("tenant-viewer", Some("acme"));
    let invoker = server.token("invoker", Some("acme"));
    for (token, expected) in [
        (Some(viewer.as_str()), 403),
        (Some(invoker.as_str()), 403),
        (None, 401),
    ] {
        assert_eq!(export(&server, "", token).0, expected);
    }
}
