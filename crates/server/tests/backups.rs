//! Tenant backups over HTTP: take, download, verify and restore; who may; every refusal exact and changing nothing; the upload bound and the slots.

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

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::json;
use support::{Server, template_version};

fn acme(server: &Server) {
    let operator = server.operator.clone();
    let (status, body) = server.post(
        "/v1/tenants",
        Some(&operator),
        json!({"id": "acme", "name": "ACME", "kind": "standard"}),
    );
    assert_eq!(status, 201, "{body}");
    let (manifest, component) = template_version("1.0.0");
    assert_eq!(server.push(&operator, &manifest, &component, None).0, 201);
    let (status, body) = server.post(
        "/v1/tenants/acme/deployments/template/promote",
        Some(&operator),
        json!({"version": "1.0.0"}),
    );
    assert_eq!(status, 200, "{body}");
}

fn octets(bytes: &[u8]) -> Option<(String, Vec<u8>)> {
    Some(("application/octet-stream".to_owned(), bytes.to_vec()))
}

#[test]
fn take_download_verify_and_restore_over_http() {
    let server = Server::start();
    acme(&server);
    let operator = server.operator.clone();
    let (status, created) = server.post("/v1/tenants/acme/backups", Some(&operator), json!({}));
    assert_eq!(status, 201, "{created}");
    let name = created["backup"]["name"].as_str().unwrap().to_owned();
    assert!(name.ends_with(".mhbk"), "{name}");
    assert_eq!(created["contents"]["records"], 2, "the tenant and its deployment");

    let (status, file) = server.raw("GET", &format!("/v1/backups/acme/{name}"), Some(&operator), None);
    assert_eq!(status, 200);
    assert_eq!(file.len() as u64, created["backup"]["bytes"].as_u64().unwrap());

    let (status, verified) = server.raw("POST", "/v1/backups/verify", Some(&operator), octets(&file));
    let verified: serde_json::Value = serde_json::from_slice(&verified).unwrap();
    assert_eq!(status, 200, "{verified}");
    assert_eq!(verified["tenant"], "acme");
    assert_eq!(verified["contents"], created["contents"]);

    // Restore under a new id, then from the stored copy over acme itself.
    let (status, restored) = server.raw(
        "POST",
        "/v1/backups/restore?as=acme-copy",
        Some(&operator),
        octets(&file),
    );
    let restored: serde_json::Value = serde_json::from_slice(&restored).unwrap();
    assert_eq!(status, 200, "{restored}");
    assert_eq!(
        (restored["tenant"].as_str(), restored["replaced"].as_bool()),
        (Some("acme-copy"), Some(false))
    );
    let (status, body) = server.get("/t/acme-copy/template/hello/copy", Some(&operator));
    assert_eq!(status, 200, "the copy serves its modules: {body}");
    let (status, restored) = server.post(
        &format!("/v1/backups/acme/{name}/restore"),
        Some(&operator),
        json!({}),
    );
    assert_eq!(status, 200, "{restored}");
    assert_eq!(restored["replaced"], true);
    let (status, _) = server.get("/t/acme/template/hello/again", Some(&operator));
    assert_eq!(status, 200);

    let (status, audit) = server.get("/v1/audit?action=tenant.restore", Some(&operator));
    assert_eq!(status, 200);
    assert_eq!(audit["entries"].as_array().unwrap().len(), 2, "{audit}");
}

#[test]
fn refusals_are_exact_and_change_nothing() {
    let server = Server::start_with(|config| config.max_backup_upload_bytes = 64 * 1024);
    acme(&server);
    let operator = server.operator.clone();
    let admin = server.token("tenant-admin", Some("acme"));
    let (status, created) = server.post("/v1/tenants/acme/backups", Some(&operator), json!({}));
    assert_eq!(status, 201);
    let name = created["backup"]["name"].as_str().unwrap().to_owned();
    let (_, file) = server.raw("GET", &format!("/v1/backups/acme/{name}"), Some(&operator), None);

    // Only operators.
    let (status, body) = server.post("/v1/tenants/acme/backups", Some(&admin), json!({}));
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("forbidden")),
        "{body}"
    );
    let (status, _) = server.raw("GET", &format!("/v1/backups/acme/{name}"), Some(&admin), None);
    assert_eq!(status, 403);

    // Unknown tenant, unknown or path-like names.
    let (status, body) = server.post("/v1/tenants/nobody/backups", Some(&operator), json!({}));
    assert_eq!(
        (status, body["error"]["message"].as_str()),
        (404, Some("tenant `nobody` does not exist"))
    );
    for name in ["1.mhbk", "..%2F..%2Fregistry", "%2Fetc%2Fpasswd"] {
        let (status, body) = server.get(&format!("/v1/backups/acme/{name}"), Some(&operator));
        assert_eq!(status, 404, "{name}: {body}");
    }

    // Damaged files, each with its code; acme still serves as before.
    let truncated = &file[..file.len() / 2];
    let mut flipped = file.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x01;
    for (bytes, code) in [
        (truncated, "backup-truncated"),
        (flipped.as_slice(), "backup-damaged"),
        (b"not a backup".as_slice(), "not-a-backup"),
    ] {
        for path in ["/v1/backups/verify", "/v1/backups/restore"] {
            let (status, body) = server.raw("POST", path, Some(&operator), octets(bytes));
            let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(
                (status, body["error"]["code"].as_str()),
                (422, Some(code)),
                "{path}: {body}"
            );
            assert!(
                body["error"]["message"]
                    .as_str()
                    .unwrap()
                    .ends_with("nothing was changed"),
                "{body}"
            );
        }
    }
    // `as` must be free and valid.
    let (status, body) = server.raw(
        "POST",
        "/v1/backups/restore?as=Not_An_Id",
        Some(&operator),
        octets(&file),
    );
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    let (status, body) = server.raw(
        "POST",
        "/v1/backups/restore?bogus=1",
        Some(&operator),
        octets(&file),
    );
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));

    // Past the upload cap: refused from the declared length, nothing spooled.
    let big = vec![0u8; 65 * 1024];
    let (status, body) = server.raw("POST", "/v1/backups/restore", Some(&operator), octets(&big));
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (413, Some("payload-too-large")),
        "{body}"
    );
    // Eight at once, one of them a restore, another a verify: all refused
    // the same way (the cap is checked before a slot is even looked at).
    let refusals: Vec<u16> = std::thread::scope(|scope| {
        let uploads: Vec<_> = (0..8)
            .map(|index| {
                let (server, operator, big) = (&server, &operator, &big);
                let path = if index % 2 == 0 {
                    "/v1/backups/restore"
                } else {
                    "/v1/backups/verify"
                };
                scope.spawn(move || server.raw("POST", path, Some(operator), octets(big)).0)
            })
            .collect();
        uploads.into_iter().map(|upload| upload.join().unwrap()).collect()
    });
    assert_eq!(refusals, vec![413; 8]);
    let incoming = server.data_dir().join("backups").join(".incoming");
    let spooled = std::fs::read_dir(&incoming)
        .map(|entries| entries.count())
        .unwrap_or(0);
    assert_eq!(spooled, 0, "every refused upload's spool file is gone");

    let (status, tenants) = server.get("/v1/tenants", Some(&operator));
    assert_eq!(status, 200);
    assert_eq!(
        tenants["tenants"].as_array().unwrap().len(),
        1,
        "no tenant appeared: {tenants}"
    );
    let (status, _) = server.get("/t/acme/template/hello/still", Some(&operator));
    assert_eq!(status, 200);
}

/// An upload that sends its head and a few bytes, then stalls: it holds a slot.
fn stalled_upload(address: &str, operator: &str) -> TcpStream {
    let mut stream = TcpStream::connect(address).unwrap();
    write!(
        stream,
        "POST /v1/backups/verify HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {operator}\r\ncontent-type: application/octet-stream\r\ncontent-length: 100000\r\n\r\npartial"
    )
    .unwrap();
    stream.set_nonblocking(true).unwrap();
    stream
}

/// Whether the server has answered (refused or timed out) a stalled upload.
fn answered(stream: &mut TcpStream) -> bool {
    let mut byte = [0u8; 1];
    !matches!(stream.read(&mut byte), Err(error) if error.kind() == std::io::ErrorKind::WouldBlock)
}

/// A cheap backup operation: verifying an empty file (`422` when a slot is free).
fn probe(server: &Server) -> (u16, serde_json::Value) {
    let (status, body) = server.raw("POST", "/v1/backups/verify", Some(&server.operator), octets(b""));
    (status, serde_json::from_slice(&body).unwrap())
}

/// Two uploads that stall hold both slots: a third backup operation is
/// refused at once with `429 busy`, and works again when they are gone.
/// (A stalled upload that lost the race for a slot to a probe, or timed
/// out, is answered by the server; it is replaced and the probe repeated.)
#[test]
fn at_most_two_backup_operations_run_at_once() {
    let server = Server::start();
    acme(&server);
    let operator = server.operator.clone();
    let address = server.url.trim_start_matches("http://").to_owned();
    let mut stalled: Vec<TcpStream> = Vec::new();
    let mut refused = None;
    for _ in 0..2_000 {
        stalled.retain_mut(|stream| !answered(stream));
        while stalled.len() < 2 {
            stalled.push(stalled_upload(&address, &operator));
        }
        std::thread::sleep(Duration::from_millis(25));
        let (status, body) = probe(&server);
        if status == 429 {
            refused = Some(body);
            break;
        }
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (422, Some("not-a-backup")),
            "{body}"
        );
    }
    let refused = refused.expect("a third operation was refused while two uploads held the slots");
    assert_eq!(refused["error"]["code"], "busy");
    assert_eq!(
        refused["error"]["message"],
        "2 backups, restores or verifications are already running; retry when one finishes"
    );
    for stream in stalled {
        stream.shutdown(std::net::Shutdown::Both).unwrap();
    }
    let mut freed = false;
    for _ in 0..400 {
        if probe(&server).0 == 422 {
            freed = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    assert!(freed, "the slots came back when the stalled uploads went away");
    let (status, body) = server.post("/v1/tenants/acme/backups", Some(&operator), json!({}));
    assert_eq!(status, 201, "{body}");
}
