//! Durable module logs over HTTP: found by request id and module, kept across a restart, streamed live, refused clearly, and bounded per tenant under a flood.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "test code: a failed expectation is a failed test"
)]

mod support;

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Server, built};

/// The per-tenant log size the flood test configures.
const SMALL_LOGS: u64 = 64 * 1024;

fn setup(configure: impl FnOnce(&mut modhost_server::ServerConfig)) -> Server {
    let server = Server::start_with(configure);
    let operator = server.operator.clone();
    let (manifest, component) = built("template@0.1.0");
    assert_eq!(server.push(&operator, &manifest, &component, None).0, 201);
    for tenant in ["acme", "banban"] {
        let (status, body) = server.post(
            "/v1/tenants",
            Some(&operator),
            json!({"id": tenant, "name": tenant, "kind": "standard"}),
        );
        assert_eq!(status, 201, "{body}");
        let (status, body) = server.post(
            &format!("/v1/tenants/{tenant}/deployments/template/promote"),
            Some(&operator),
            json!({"version": "0.1.0"}),
        );
        assert_eq!(status, 200, "{body}");
    }
    server
}

/// `PUT /t/{tenant}/template/notes/{id}` (the template logs "note stored"), with a request id if given.
fn put_note(server: &Server, tenant: &str, id: &str, request_id: Option<&str>) -> u16 {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut request = agent
        .put(format!("{}/t/{tenant}/template/notes/{id}", server.url))
        .header("authorization", format!("Bearer {}", server.operator))
        .header("content-type", "application/json");
    if let Some(request_id) = request_id {
        request = request.header("x-request-id", request_id);
    }
    request
        .send(json!({"text": "a note"}).to_string())
        .expect("PUT a note")
        .status()
        .as_u16()
}

fn records(body: &Value) -> Vec<Value> {
    body["records"].as_array().cloned().unwrap_or_default()
}

/// Asks `path` until `done` holds for its answer, for at most 30 s.
fn poll(server: &Server, path: &str, token: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = server.get(path, Some(token));
        assert_eq!(status, 200, "{path}: {body}");
        if done(&body) {
            return body;
        }
        assert!(Instant::now() < deadline, "{path} never got there: {body}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A live stream opened with a raw socket: the status line and headers read, the events still to come.
struct Stream {
    socket: TcpStream,
    head: String,
    seen: String,
}

impl Stream {
    fn open(server: &Server, path: &str, token: &str) -> Self {
        let address = server.url.trim_start_matches("http://");
        let mut socket = TcpStream::connect(address).expect("connect");
        socket
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        write!(
            socket,
            "GET {path} HTTP/1.1\r\nhost: {address}\r\nauthorization: Bearer {token}\r\naccept: text/event-stream\r\n\r\n"
        )
        .expect("send");
        let mut stream = Self {
            socket,
            head: String::new(),
            seen: String::new(),
        };
        stream.read_until(|seen| seen.contains("\r\n\r\n"));
        let (head, rest) = stream.seen.split_once("\r\n\r\n").expect("a head");
        stream.head = head.to_owned();
        stream.seen = rest.to_owned();
        stream
    }

    fn status(&self) -> u16 {
        self.head
            .split(' ')
            .nth(1)
            .and_then(|status| status.parse().ok())
            .expect("a status")
    }

    /// Reads until `done` holds for everything read so far (failing after 30 s of silence).
    fn read_until(&mut self, done: impl Fn(&str) -> bool) {
        let mut buffer = [0; 4096];
        while !done(&self.seen) {
            let read = self.socket.read(&mut buffer).expect("the stream stays open");
            assert!(read > 0, "the server closed the stream: {}", self.seen);
            self.seen.push_str(&String::from_utf8_lossy(&buffer[..read]));
        }
    }
}

#[test]
fn records_are_found_by_request_id_and_module_kept_across_a_restart_and_streamed_live() {
    let server = setup(|_| {});
    let viewer = server.token("tenant-viewer", Some("acme"));
    assert_eq!(put_note(&server, "acme", "first", Some("note-1")), 200);
    assert_eq!(put_note(&server, "acme", "second", Some("note-2")), 200);
    assert_eq!(put_note(&server, "banban", "theirs", Some("note-1")), 200);

    let path = "/v1/tenants/acme/logs?request_id=note-1&module=template";
    let body = poll(&server, path, &viewer, |body| !records(body).is_empty());
    let found = records(&body);
    assert_eq!(found.len(), 1, "only acme's record of that request: {body}");
    assert_eq!(found[0]["message"], "note stored");
    assert_eq!(found[0]["fields"], json!({"id": "first"}));
    assert_eq!(found[0]["level"], "info");
    assert_eq!(found[0]["version"], "0.1.0");
    assert_eq!(body.get("next"), None, "one record is not a full page");
    let (_, none) = server.get("/v1/tenants/acme/logs?module=inventory", Some(&viewer));
    assert!(records(&none).is_empty(), "{none}");
    let (_, none) = server.get("/v1/tenants/acme/logs?level=warn", Some(&viewer));
    assert!(records(&none).is_empty(), "info is below warn: {none}");
    let (_, page) = server.get("/v1/tenants/acme/logs?limit=1", Some(&viewer));
    assert_eq!(
        records(&page)[0]["request_id"],
        "note-2",
        "the newest first: {page}"
    );
    let next = page["next"].as_str().expect("a full page has a cursor");
    let (_, older) = server.get(
        &format!("/v1/tenants/acme/logs?limit=1&before={next}"),
        Some(&viewer),
    );
    assert_eq!(records(&older)[0]["request_id"], "note-1", "{older}");
    let time = records(&older)[0]["time_ms"].as_u64().expect("time");
    let (_, window) = server.get(
        &format!("/v1/tenants/acme/logs?since_ms={time}&until_ms={time}&request_id=note-1"),
        Some(&viewer),
    );
    assert_eq!(records(&window).len(), 1, "{window}");

    let mut stream = Stream::open(
        &server,
        "/v1/tenants/acme/logs/stream?module=template&level=info",
        &viewer,
    );
    assert_eq!(stream.status(), 200, "{}", stream.head);
    assert!(
        stream
            .head
            .to_lowercase()
            .contains("content-type: text/event-stream"),
        "{}",
        stream.head
    );
    assert_eq!(
        put_note(&server, "banban", "not-for-acme", Some("live-banban")),
        200
    );
    assert_eq!(put_note(&server, "acme", "live", Some("note-live")), 200);
    stream.read_until(|seen| seen.contains("\"request_id\":\"note-live\""));
    assert!(stream.seen.contains("data: {"), "{}", stream.seen);
    assert!(
        !stream.seen.contains("live-banban"),
        "another tenant's record: {}",
        stream.seen
    );
    drop(stream);

    let server = server.restart(|_| {});
    let (status, body) = server.get(path, Some(&viewer));
    assert_eq!(
        (status, records(&body).len()),
        (200, 1),
        "kept across the restart: {body}"
    );
    let (_, all) = server.get("/v1/tenants/acme/logs", Some(&viewer));
    assert_eq!(records(&all).len(), 3, "{all}");
}

#[test]
fn other_tenants_bad_queries_and_too_many_streams_are_refused_clearly() {
    let server = setup(|_| {});
    let other_viewer = server.token("tenant-viewer", Some("banban"));
    let invoker = server.token("invoker", Some("acme"));
    for path in ["/v1/tenants/acme/logs", "/v1/tenants/acme/logs/stream"] {
        let (status, body) = server.get(path, Some(&other_viewer));
        assert_eq!(status, 404, "{path}: {body}");
        let (status, body) = server.get(path, Some(&invoker));
        assert_eq!(status, 403, "{path}: {body}");
        let (status, body) = server.get(path, None);
        assert_eq!(status, 401, "{path}: {body}");
    }
    let viewer = server.token("tenant-viewer", Some("acme"));
    for (query, message) in [
        (
            "level=shout",
            "`level` is `shout`; use trace, debug, info, warn or error",
        ),
        ("limit=0", "`limit` is `0`; it must be a number from 1 to 1000"),
        (
            "limit=5000",
            "`limit` is `5000`; it must be a number from 1 to 1000",
        ),
        (
            "limit=ten",
            "`limit` is `ten`; it must be a number from 1 to 1000",
        ),
        (
            "since_ms=yesterday",
            "`since_ms` is `yesterday`; it must be a time in milliseconds since the Unix epoch",
        ),
        (
            "since_ms=20&until_ms=10",
            "`since_ms` (20) is after `until_ms` (10); give a range that starts before it ends",
        ),
        (
            "before=page-2",
            "`before` is `page-2`; pass the `next` of a previous page",
        ),
    ] {
        let (status, body) = server.get(&format!("/v1/tenants/acme/logs?{query}"), Some(&viewer));
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["error"]["code"], "bad-request", "{query}: {body}");
        assert_eq!(body["error"]["message"], message, "{query}");
    }
    let (status, body) = server.get("/v1/tenants/acme/logs/stream?level=shout", Some(&viewer));
    assert_eq!(
        (status, body["error"]["message"].clone()),
        (
            400,
            json!("`level` is `shout`; use trace, debug, info, warn or error")
        )
    );

    let streams: Vec<Stream> = (0..8)
        .map(|_| Stream::open(&server, "/v1/tenants/acme/logs/stream", &viewer))
        .collect();
    assert!(streams.iter().all(|stream| stream.status() == 200));
    let (status, body) = server.get("/v1/tenants/acme/logs/stream", Some(&viewer));
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["code"], "busy");
    assert_eq!(
        body["error"]["message"],
        "this tenant already has 8 live log streams open; close one or query `/logs` instead"
    );
    let neighbour = Stream::open(&server, "/v1/tenants/banban/logs/stream", &other_viewer);
    assert_eq!(neighbour.status(), 200, "another tenant's cap is its own");
    drop(streams);
    // A closed stream's place comes back once the server notices (at the latest its next heartbeat).
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let stream = Stream::open(&server, "/v1/tenants/acme/logs/stream", &viewer);
        if stream.status() == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the closed streams' places never came back"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_flooding_tenant_neither_stops_its_neighbour_nor_outgrows_its_retention() {
    let server = setup(|config| config.module_logs_max_bytes_per_tenant = SMALL_LOGS);
    let long_id = "n".repeat(150);
    let (flood, neighbour) = std::thread::scope(|scope| {
        let flooders: Vec<_> = (0..8)
            .map(|client| {
                let (server, long_id) = (&server, &long_id);
                scope.spawn(move || {
                    (0..60)
                        .map(|index| put_note(server, "acme", &format!("{long_id}-{client}-{index}"), None))
                        .collect::<Vec<u16>>()
                })
            })
            .collect();
        let neighbour = scope.spawn(|| {
            (0..20)
                .map(|index| {
                    put_note(
                        &server,
                        "banban",
                        &format!("calm-{index}"),
                        Some(&format!("calm-{index}")),
                    )
                })
                .collect::<Vec<u16>>()
        });
        let flood: Vec<u16> = flooders
            .into_iter()
            .flat_map(|client| client.join().expect("a flooder"))
            .collect();
        (flood, neighbour.join().expect("the neighbour"))
    });
    assert_eq!(neighbour, vec![200; 20], "the neighbour was served throughout");
    assert!(
        flood.iter().all(|status| *status == 200 || *status == 429),
        "{flood:?}"
    );
    let operator = server.operator.clone();
    let body = poll(&server, "/v1/tenants/banban/logs?limit=1000", &operator, |body| {
        records(body).len() == 20
    });
    assert!(
        records(&body)
            .iter()
            .all(|record| record["message"] == "note stored")
    );
    let (_, acme) = server.get("/v1/tenants/acme/logs?limit=1000", Some(&operator));
    let kept = records(&acme).len();
    assert!(
        kept > 0 && kept < 480,
        "acme keeps only its newest records: {kept}"
    );
    let folder = server.data_dir().join("logs").join("acme");
    let bytes: u64 = std::fs::read_dir(&folder)
        .expect("acme's log folder")
        .map(|entry| entry.expect("entry").metadata().expect("metadata").len())
        .sum();
    assert!(bytes <= SMALL_LOGS, "acme's logs take {bytes} bytes");
    let (_, metrics) = server.raw("GET", "/metrics", Some(&operator), None);
    let metrics = String::from_utf8(metrics).expect("text");
    assert!(
        metrics.contains("modhost_module_logs_dropped_total{tenant=\"banban\"} 0"),
        "{metrics}"
    );
}
