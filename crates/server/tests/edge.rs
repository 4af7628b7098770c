//! The connection edge over real sockets: slow clients cut off at the header timeout, idle connections held cheaply, the connection cap as backpressure, oversized heads refused.

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

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use support::*;

fn address(server: &Server) -> String {
    server.url.trim_start_matches("http://").to_owned()
}

/// Reads until the server closes the connection (or `limit` passes); whether it closed.
fn closed_by_server(stream: &mut TcpStream, limit: Duration) -> bool {
    stream
        .set_read_timeout(Some(Duration::from_millis(50)))
        .expect("read timeout");
    let started = Instant::now();
    let mut buffer = [0u8; 4096];
    while started.elapsed() < limit {
        match stream.read(&mut buffer) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_reset) => return true,
        }
    }
    false
}

/// Sends one `GET /healthz` on `stream` and returns the status line.
fn healthz_on(stream: &mut TcpStream) -> String {
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .expect("write");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    let mut answer = Vec::new();
    let mut buffer = [0u8; 1024];
    while !answer.windows(4).any(|window| window == b"\r\n\r\n") {
        let read = stream.read(&mut buffer).expect("read");
        assert!(read > 0, "closed before answering");
        answer.extend_from_slice(&buffer[..read]);
    }
    String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn a_slowloris_client_is_cut_off_at_the_header_timeout_while_others_are_served() {
    let server = Server::start_with(|config| config.header_read_timeout_ms = 1000);
    let mut slow = TcpStream::connect(address(&server)).expect("connect");
    slow.write_all(b"GET /healthz HTTP/1.1\r\n").expect("write");
    let started = Instant::now();
    // One header byte every 100 ms: the head never completes.
    let mut served = 0;
    let mut cut_off = false;
    while started.elapsed() < Duration::from_secs(5) {
        if slow.write_all(b"x").is_err() {
            cut_off = true;
            break;
        }
        assert_eq!(server.get("/healthz", None).0, 200);
        served += 1;
        std::thread::sleep(Duration::from_millis(100));
        if closed_by_server(&mut slow, Duration::from_millis(1)) {
            cut_off = true;
            break;
        }
    }
    let after = started.elapsed();
    assert!(cut_off, "the slow client was still connected after {after:?}");
    assert!(
        after >= Duration::from_millis(900),
        "cut off after only {after:?}"
    );
    assert!(served >= 5, "others were served {served} times meanwhile");
}

#[test]
fn a_kept_alive_connection_idle_past_the_header_timeout_is_closed() {
    let server = Server::start_with(|config| config.header_read_timeout_ms = 1000);
    let mut client = TcpStream::connect(address(&server)).expect("connect");
    assert_eq!(healthz_on(&mut client), "HTTP/1.1 200 OK");
    assert!(
        closed_by_server(&mut client, Duration::from_secs(5)),
        "an idle kept-alive connection stayed open"
    );
}

#[test]
fn two_thousand_idle_connections_do_not_keep_healthz_from_answering() {
    // A long header timeout: on a loaded machine the first connections must
    // not be cut off as idle before the count is read.
    let server = Server::start_with(|config| config.header_read_timeout_ms = 120_000);
    let idle: Vec<TcpStream> = (0..2000)
        .map(|_| TcpStream::connect(address(&server)).expect("connect"))
        .collect();
    let mut slowest = Duration::ZERO;
    for _ in 0..50 {
        let started = Instant::now();
        assert_eq!(server.get("/healthz", None).0, 200);
        slowest = slowest.max(started.elapsed());
    }
    let (status, metrics) = server.raw("GET", "/metrics", Some(&server.operator), None);
    assert_eq!(status, 200);
    let metrics = String::from_utf8(metrics).expect("text");
    let open: u64 = metrics
        .lines()
        .find_map(|line| line.strip_prefix("modhost_connections_open "))
        .and_then(|value| value.parse().ok())
        .expect("modhost_connections_open");
    assert!(open >= 2000, "{open} connections open");
    eprintln!("2,000 idle connections held; 50 /healthz, slowest {slowest:?}; {open} open");
    drop(idle);
}

#[test]
fn at_the_connection_cap_a_new_client_waits_until_one_closes() {
    let server = Server::start_with(|config| {
        config.max_connections = 8;
        config.header_read_timeout_ms = 1500;
    });
    // 7 idle connections plus the one the support client keeps no longer than a request.
    let held: Vec<TcpStream> = (0..8)
        .map(|_| TcpStream::connect(address(&server)).expect("connect"))
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    // The 9th connects (the kernel's backlog) but is not served while 8 are held.
    let mut waiting = TcpStream::connect(address(&server)).expect("connect");
    waiting
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .expect("write");
    waiting
        .set_read_timeout(Some(Duration::from_millis(500)))
        .expect("read timeout");
    let mut buffer = [0u8; 64];
    let early = waiting.read(&mut buffer);
    assert!(
        matches!(&early, Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)),
        "answered while the server held its cap: {early:?}"
    );
    // The held connections are idle: the header timeout frees their slots.
    waiting
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    let read = waiting.read(&mut buffer).expect("answered once a slot freed");
    assert!(
        String::from_utf8_lossy(&buffer[..read]).starts_with("HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&buffer[..read])
    );
    drop(held);
}

#[test]
fn a_request_head_over_the_size_limit_is_refused_and_the_server_serves_on() {
    let server = Server::start();
    let mut client = TcpStream::connect(address(&server)).expect("connect");
    let huge_path = format!("/t/{}/x/y", "a".repeat(100 * 1024));
    client
        .write_all(format!("GET {huge_path} HTTP/1.1\r\nhost: x\r\n\r\n").as_bytes())
        .ok();
    client
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    let mut answer = Vec::new();
    client.read_to_end(&mut answer).ok();
    let status_line = String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(status_line, "HTTP/1.1 414 URI Too Long");
    let many_headers: String = (0..200).map(|index| format!("x-h{index}: v\r\n")).collect();
    let mut client = TcpStream::connect(address(&server)).expect("connect");
    client
        .write_all(format!("GET /healthz HTTP/1.1\r\nhost: x\r\n{many_headers}\r\n").as_bytes())
        .ok();
    let mut answer = Vec::new();
    client
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    client.read_to_end(&mut answer).ok();
    let status_line = String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(status_line, "HTTP/1.1 431 Request Header Fields Too Large");
    assert_eq!(server.get("/healthz", None).0, 200);
}

/// Creates the tenant `acme`.
fn create_acme(server: &Server) {
    let (status, body) = server.post(
        "/v1/tenants",
        Some(&server.operator),
        serde_json::json!({"id": "acme", "name": "Acme", "kind": "standard"}),
    );
    assert_eq!(status, 201, "{body}");
}

/// Bytes under `dir`, recursively.
fn size_of(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .expect("read dir")
        .map(|entry| {
            let entry = entry.expect("entry");
            let metadata = entry.metadata().expect("metadata");
            if metadata.is_dir() {
                size_of(&entry.path())
            } else {
                metadata.len()
            }
        })
        .sum()
}

#[test]
fn a_flood_of_refused_requests_with_huge_urls_leaves_the_audit_and_the_disk_bounded() {
    let server = Server::start();
    let audited = |server: &Server| -> Vec<serde_json::Value> {
        let (status, body) = server.get("/v1/audit?limit=1000", Some(&server.operator));
        assert_eq!(status, 200, "{body}");
        body["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .filter(|entry| entry["outcome"] == "denied")
            .cloned()
            .collect()
    };
    let denied_before = audited(&server).len();
    let disk_before = size_of(&server.data_dir());
    // 400 anonymous requests, each naming one of 8 distinct 40 KB tenants.
    let tenants: Vec<String> = (0..8)
        .map(|index| format!("{index}{}", "a".repeat(40 * 1024)))
        .collect();
    // From 8 clients at once, 50 requests each.
    let mut statuses = std::collections::BTreeMap::<u16, u32>::new();
    let per_client: Vec<Vec<u16>> = std::thread::scope(|scope| {
        let clients: Vec<_> = (0..8)
            .map(|_| {
                let (server, tenants) = (&server, &tenants);
                scope.spawn(move || {
                    (0..50)
                        .map(|index| {
                            let tenant = &tenants[index % tenants.len()];
                            server.get(&format!("/v1/tenants/{tenant}/logs"), None).0
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
    for status in per_client.into_iter().flatten() {
        *statuses.entry(status).or_default() += 1;
    }
    assert_eq!(statuses, std::collections::BTreeMap::from([(401, 400)]));
    let denied = audited(&server);
    assert_eq!(
        denied.len() - denied_before,
        8,
        "one entry per (client, action, tenant) in the minute"
    );
    for entry in &denied[denied_before..] {
        let size = entry.to_string().len();
        assert!(size < 1024, "an entry of {size} bytes: {entry}");
        assert_eq!(entry["actor"], "anonymous@127.0.0.1");
        assert!(
            entry["tenant"]
                .as_str()
                .is_some_and(|tenant| tenant.ends_with("… (40961 bytes)")),
            "{entry}"
        );
    }
    let growth = size_of(&server.data_dir()).saturating_sub(disk_before);
    assert!(growth < 4 * 1024 * 1024, "the data directory grew {growth} bytes");
    let (status, metrics) = server.raw("GET", "/metrics", Some(&server.operator), None);
    assert_eq!(status, 200);
    let metrics = String::from_utf8(metrics).expect("text");
    assert!(
        metrics
            .lines()
            .any(|line| line == "modhost_denials_total{reason=\"unauthenticated\"} 400"),
        "{metrics}"
    );
    eprintln!("400 refusals: 8 audit entries, data directory +{growth} bytes");
}

/// Sends the head of a 30 MiB upload and 1 KiB of it; returns everything the server answers.
fn start_a_huge_upload(server: &Server, token: Option<&str>) -> String {
    let mut client = TcpStream::connect(address(server)).expect("connect");
    let authorization = token
        .map(|token| format!("authorization: Bearer {token}\r\n"))
        .unwrap_or_default();
    let head = format!(
        "POST /v1/modules HTTP/1.1\r\nhost: x\r\n{authorization}content-type: multipart/form-data; boundary=b\r\ncontent-length: {}\r\n\r\n",
        30 * 1024 * 1024
    );
    client.write_all(head.as_bytes()).expect("write the head");
    client.write_all(&[b'x'; 1024]).expect("write 1 KiB");
    client
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    let mut answer = Vec::new();
    client
        .read_to_end(&mut answer)
        .expect("the server answers and closes");
    String::from_utf8_lossy(&answer).into_owned()
}

#[test]
fn a_refused_huge_upload_is_answered_without_its_body_being_read() {
    let server = Server::start();
    create_acme(&server);
    let viewer = server.token("tenant-viewer", Some("acme"));
    let cases = [
        (None, "HTTP/1.1 401 Unauthorized", "\"code\":\"unauthorized\""),
        (
            Some(viewer.as_str()),
            "HTTP/1.1 403 Forbidden",
            "the role `tenant-viewer` may not upload modules",
        ),
    ];
    // 16 clients at once, 8 per case, each announcing 30 MiB and sending 1 KiB.
    let answers: Vec<(usize, String)> = std::thread::scope(|scope| {
        let clients: Vec<_> = (0..16)
            .map(|client| {
                let (server, case) = (&server, client % cases.len());
                let token = cases[case].0;
                scope.spawn(move || (case, start_a_huge_upload(server, token)))
            })
            .collect();
        clients
            .into_iter()
            .map(|client| client.join().expect("a client"))
            .collect()
    });
    assert_eq!(answers.len(), 16);
    for (case, answer) in answers {
        let (_, status_line, message) = cases[case];
        // Only 1 KiB of the 30 MiB was sent: an answer at all shows the rest was never waited for.
        assert_closing_answer(&answer, status_line, message);
    }
    assert_eq!(server.get("/healthz", None).0, 200);
}

#[test]
fn the_data_directory_is_readable_by_the_servers_user_only() {
    use std::os::unix::fs::PermissionsExt as _;
    let server = Server::start();
    // Something written after start too: a tenant (registry) and its audit entry.
    create_acme(&server);
    let mut pending = vec![server.data_dir()];
    let mut checked = 0;
    while let Some(path) = pending.pop() {
        let metadata = std::fs::symlink_metadata(&path).expect("metadata");
        let mode = metadata.permissions().mode() & 0o777;
        if metadata.is_dir() {
            assert_eq!(mode, 0o700, "{}", path.display());
            pending.extend(
                std::fs::read_dir(&path)
                    .expect("list")
                    .map(|entry| entry.expect("entry").path()),
            );
        } else {
            assert_eq!(mode, 0o600, "{}", path.display());
        }
        checked += 1;
    }
    assert!(checked > 3, "only {checked} paths under the data directory");
}

/// Reads what the server answers on `client` until it closes (at most 10 s).
fn answer_of(client: &mut TcpStream) -> String {
    client
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        match client.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(read) => answer.extend_from_slice(&buffer[..read]),
        }
    }
    String::from_utf8_lossy(&answer).into_owned()
}

/// Asserts that a raw answer has `status_line`, carries `message` and closes the connection.
fn assert_closing_answer(answer: &str, status_line: &str, message: &str) {
    assert!(answer.starts_with(status_line), "{answer}");
    assert!(answer.contains(message), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("\r\nconnection: close\r\n"),
        "{answer}"
    );
}

#[test]
fn a_request_body_that_stalls_or_drags_is_answered_408_and_nothing_changes() {
    let server = Server::start_with(|config| {
        config.body_idle_timeout_ms = 300;
        config.body_read_timeout_ms = 1500;
    });
    let body = br#"{"id": "slow", "name": "Slow", "kind": "standard"}"#;
    let head = format!(
        "POST /v1/tenants HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        server.operator,
        body.len()
    );
    // Stalls: 10 bytes, then nothing.
    let mut stalled = TcpStream::connect(address(&server)).expect("connect");
    stalled.write_all(head.as_bytes()).expect("head");
    stalled.write_all(&body[..10]).expect("10 bytes");
    let started = Instant::now();
    let answer = answer_of(&mut stalled);
    assert_closing_answer(
        &answer,
        "HTTP/1.1 408 Request Timeout",
        "the request body stalled for 300 ms; send it faster",
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );

    // Forty clients stall at once: each is cut off on its own, none waits for the others.
    let started = Instant::now();
    let answers: Vec<String> = std::thread::scope(|scope| {
        let clients: Vec<_> = (0..40)
            .map(|_| {
                scope.spawn(|| {
                    let mut client = TcpStream::connect(address(&server)).expect("connect");
                    client.write_all(head.as_bytes()).expect("head");
                    client.write_all(&body[..10]).expect("10 bytes");
                    answer_of(&mut client)
                })
            })
            .collect();
        clients
            .into_iter()
            .map(|client| client.join().expect("a client"))
            .collect()
    });
    assert!(
        answers.iter().all(|answer| answer.starts_with("HTTP/1.1 408")),
        "{answers:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(server.get("/healthz", None).0, 200);

    // Drags: one byte every 100 ms, never pausing long enough to stall, while /healthz is served.
    let mut dragging = TcpStream::connect(address(&server)).expect("connect");
    dragging.write_all(head.as_bytes()).expect("head");
    let started = Instant::now();
    let mut healthy = 0;
    for byte in body.iter().take(30) {
        if dragging.write_all(&[*byte]).is_err() {
            break;
        }
        assert_eq!(server.get("/healthz", None).0, 200);
        healthy += 1;
        std::thread::sleep(Duration::from_millis(100));
    }
    let answer = answer_of(&mut dragging);
    assert_closing_answer(
        &answer,
        "HTTP/1.1 408 Request Timeout",
        "the request body took longer than 1500 ms to arrive; send it faster",
    );
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
    assert!(
        healthy >= 5,
        "only {healthy} health checks while the body dragged"
    );
    let (status, _) = server.get("/v1/tenants/slow", Some(&server.operator));
    assert_eq!(status, 404, "a cut-off request changes nothing");
}

/// The start of a multipart upload: the head (announcing `total` bytes) and the manifest part.
fn upload_head(token: &str, manifest: &str, total: usize) -> Vec<u8> {
    let mut bytes = format!(
        "POST /v1/modules HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {token}\r\ncontent-type: multipart/form-data; boundary=b\r\ncontent-length: {total}\r\n\r\n"
    )
    .into_bytes();
    bytes.extend_from_slice(
        format!("--b\r\ncontent-disposition: form-data; name=\"manifest\"\r\n\r\n{manifest}\r\n--b\r\ncontent-disposition: form-data; name=\"component\"\r\n\r\n").as_bytes(),
    );
    bytes
}

#[test]
fn an_upload_is_refused_on_its_manifest_before_its_component_is_read() {
    let server = Server::start();
    create_acme(&server);
    let admin = server.token("tenant-admin", Some("acme"));
    // A standard module's manifest from a tenant admin, then 1 KiB of a 15 MiB
    // component (under the 16 MiB cap, so only the manifest can refuse it).
    let (manifest, _) = built("template@0.1.0");
    let mut client = TcpStream::connect(address(&server)).expect("connect");
    client
        .write_all(&upload_head(&admin, &manifest, 15 * 1024 * 1024))
        .expect("head and manifest");
    client.write_all(&[0u8; 1024]).expect("1 KiB");
    let answer = answer_of(&mut client);
    assert!(answer.contains("\"code\":\"upload-rejected\""), "{answer}");
    assert_closing_answer(
        &answer,
        "HTTP/1.1 422 Unprocessable Entity",
        "standard modules are published by operators; publish yours with kind = \\\"custom\\\"",
    );
    let (_, versions) = server.get("/v1/modules", Some(&server.operator));
    assert_eq!(versions["versions"], serde_json::json!([]), "nothing stored");
    let (_, audit) = server.get("/v1/audit?action=module.publish", Some(&server.operator));
    let entries = audit["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), 1, "{audit}");
    assert_eq!(entries[0]["outcome"], "failed");
}

#[test]
fn one_publisher_gets_at_most_half_the_upload_slots() {
    let server = Server::start_with(|config| config.max_concurrent_uploads = 2);
    let (status, body) = server.post(
        "/v1/tenants",
        Some(&server.operator),
        serde_json::json!({"id": "acme", "name": "Acme", "kind": "custom"}),
    );
    assert_eq!(status, 201, "{body}");
    let admin = server.token("tenant-admin", Some("acme"));
    let (manifest, component) = built("template@0.1.0");
    let custom = manifest
        .replacen("kind = \"standard\"", "kind = \"custom\"", 1)
        .replacen("id = \"template\"", "id = \"acme-notes\"", 1);
    assert!(
        custom.contains("acme-notes") && custom.contains("custom"),
        "{custom}"
    );
    // acme holds its one slot with an upload that is still arriving.
    let mut holding = TcpStream::connect(address(&server)).expect("connect");
    holding
        .write_all(&upload_head(&admin, &custom, 1024 * 1024))
        .expect("head and manifest");
    std::thread::sleep(Duration::from_millis(300));
    // Its second upload is refused at once, unread.
    let mut second = TcpStream::connect(address(&server)).expect("connect");
    second
        .write_all(&upload_head(&admin, &custom, 1024 * 1024))
        .expect("head");
    let answer = answer_of(&mut second);
    assert_closing_answer(
        &answer,
        "HTTP/1.1 429 Too Many Requests",
        "this publisher already runs as many uploads as it may (1); retry when one finishes",
    );
    assert!(
        answer.to_ascii_lowercase().contains("\r\nretry-after: 1\r\n"),
        "{answer}"
    );
    // The operators' upload takes the other slot and goes through.
    let (status, body) = server.push(&server.operator, &manifest, &component, None);
    assert_eq!(status, 201, "{body}");
    // Once acme's first upload is gone, its slot is free again.
    drop(holding);
    std::thread::sleep(Duration::from_millis(300));
    let (status, body) = server.push(&admin, &custom, &component, None);
    assert_eq!(status, 201, "{body}");
}

#[test]
fn eight_simultaneous_uploads_of_one_tenant_get_only_its_half_of_the_slots() {
    let server = Server::start_with(|config| {
        config.max_concurrent_uploads = 4;
        config.body_idle_timeout_ms = 30_000;
    });
    let (status, body) = server.post(
        "/v1/tenants",
        Some(&server.operator),
        serde_json::json!({"id": "acme", "name": "Acme", "kind": "custom"}),
    );
    assert_eq!(status, 201, "{body}");
    let admin = server.token("tenant-admin", Some("acme"));
    let (manifest, _) = built("template@0.1.0");
    let custom = manifest
        .replacen("kind = \"standard\"", "kind = \"custom\"", 1)
        .replacen("id = \"template\"", "id = \"acme-notes\"", 1);
    // Eight uploads at once, each sending its head and manifest, then waiting.
    let answers: Vec<Option<String>> = std::thread::scope(|scope| {
        let clients: Vec<_> = (0..8)
            .map(|_| {
                scope.spawn(|| {
                    let mut client = TcpStream::connect(address(&server)).expect("connect");
                    client
                        .write_all(&upload_head(&admin, &custom, 1024 * 1024))
                        .expect("head and manifest");
                    client
                        .set_read_timeout(Some(Duration::from_millis(1500)))
                        .expect("read timeout");
                    let mut answer = [0u8; 512];
                    let answered = match client.read(&mut answer) {
                        Ok(read) if read > 0 => Some(String::from_utf8_lossy(&answer[..read]).into_owned()),
                        _ => None,
                    };
                    // Keep the held ones open until every client has looked.
                    std::thread::sleep(Duration::from_millis(500));
                    answered
                })
            })
            .collect();
        clients
            .into_iter()
            .map(|client| client.join().expect("a client"))
            .collect()
    });
    let refused = answers
        .iter()
        .flatten()
        .filter(|answer| answer.starts_with("HTTP/1.1 429 Too Many Requests"))
        .count();
    let held = answers.iter().filter(|answer| answer.is_none()).count();
    assert_eq!((refused, held), (6, 2), "{answers:?}");
    // The operators' slots were never taken.
    let (manifest, component) = built("template@0.1.0");
    let (status, body) = server.push(&server.operator, &manifest, &component, None);
    assert_eq!(status, 201, "{body}");
}
