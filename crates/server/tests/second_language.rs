//! A module in a second language over real HTTP: python-hello (CPython via componentize-py, built by `cargo xtask build-plugins`) pushed, promoted and called like a Rust module.
//!
//! The component is about 18 MB, over the default `max_component_bytes`
//! (16 MiB), so the server here is configured with a larger cap, as an
//! operator running Python modules must do in `modhost.toml`.

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

use serde_json::json;
use support::*;

const LABEL: &str = "python-hello@0.1.0";

/// The cap a host needs for python-hello: above the component, with room.
const PYTHON_COMPONENT_CAP: usize = 32 * 1024 * 1024;

fn python_host() -> Server {
    Server::start_with(|config| config.max_component_bytes = PYTHON_COMPONENT_CAP)
}

#[test]
fn a_python_module_is_pushed_promoted_and_called_over_http() {
    let (manifest, component) = built(LABEL);
    let default_cap = modhost_server::ServerConfig::default().max_component_bytes;
    eprintln!(
        "{LABEL}: {} bytes (default max_component_bytes: {default_cap})",
        component.len()
    );
    let server = python_host();
    let operator = server.operator.clone();
    let (status, body) = server.post(
        "/v1/tenants",
        Some(&operator),
        json!({"id": "acme", "name": "Acme", "kind": "standard"}),
    );
    assert_eq!(status, 201, "{body}");

    let started = Instant::now();
    let (status, body) = server.push(&operator, &manifest, &component, None);
    assert_eq!((status, body["created"].clone()), (201, json!(true)), "{body}");
    eprintln!("push: {:?}", started.elapsed());

    // Promoting compiles the component, runs its self-test and its smoke tests.
    let started = Instant::now();
    let (status, body) = server.post(
        "/v1/tenants/acme/deployments/python-hello/promote",
        Some(&operator),
        json!({"version": "0.1.0"}),
    );
    assert_eq!(status, 200, "{body}");
    eprintln!(
        "promote (compile, self-test, smoke tests): {:?}",
        started.elapsed()
    );

    let invoker = server.token("invoker", Some("acme"));
    let started = Instant::now();
    let (status, version, body) = server.get_with(
        "/t/acme/python-hello/hello/world",
        &invoker,
        &[],
        "x-modhost-version",
    );
    eprintln!("first GET /hello/world: {:?}", started.elapsed());
    assert_eq!((status, version.as_str()), (200, LABEL), "{body}");
    assert_eq!(body, json!({"message": "hello, world"}));
    let (_, content_type, _) = server.get_with(
        "/t/acme/python-hello/hello/w%C3%B6rld",
        &invoker,
        &[],
        "content-type",
    );
    assert_eq!(content_type, "application/json");

    let started = Instant::now();
    let (status, body) = server.get("/t/acme/python-hello/hello/w%C3%B6rld", Some(&invoker));
    eprintln!("second GET /hello/wörld: {:?}", started.elapsed());
    assert_eq!(
        (status, body),
        (200, json!({"message": "hello, wörld"})),
        "path parameters are percent-decoded like the Rust SDK does"
    );

    // The config import: the tenant's greeting.
    let (status, body) = server.request(
        "PUT",
        "/v1/tenants/acme/config/python-hello",
        Some(&operator),
        Some(&json!({"values": {"greeting": "olá"}})),
    );
    assert_eq!(status, 200, "{body}");
    // The loader applies config changes in the background: wait for it.
    let deadline = Instant::now() + Duration::from_secs(10);
    let greeted = loop {
        let answer = server.get("/t/acme/python-hello/hello/ana", Some(&invoker));
        if answer.1 != json!({"message": "hello, ana"}) || Instant::now() > deadline {
            break answer;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(greeted, (200, json!({"message": "olá, ana"})));

    // The kv import: a note written by one call is read by the next.
    let note = json!({"text": "written by python"});
    assert_eq!(
        server.request(
            "PUT",
            "/t/acme/python-hello/notes/first",
            Some(&invoker),
            Some(&note)
        ),
        (200, note.clone())
    );
    assert_eq!(
        server.get("/t/acme/python-hello/notes/first", Some(&invoker)),
        (200, note)
    );

    // Module errors come back in the host's error shape with the code's status.
    assert_eq!(
        server.get("/t/acme/python-hello/notes/missing", Some(&invoker)),
        (
            404,
            json!({"error": {"code": "not-found", "message": "no note `missing`"}})
        )
    );
    let (status, body) = server.request(
        "PUT",
        "/t/acme/python-hello/notes/empty",
        Some(&invoker),
        Some(&json!({"text": ""})),
    );
    assert_eq!(
        (status, body["error"].clone()),
        (
            422,
            json!({"code": "unprocessable", "message": "a note needs some text"})
        )
    );
    let (status, body) = server.raw(
        "PUT",
        "/t/acme/python-hello/notes/broken",
        Some(&invoker),
        Some(("application/json".into(), b"{".to_vec())),
    );
    let body: serde_json::Value = serde_json::from_slice(&body).expect("json error");
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (400, json!("bad-request"))
    );
    assert_eq!(
        server.get("/t/acme/python-hello/notes/broken", Some(&invoker)).0,
        404,
        "the refused note was not stored"
    );
}

#[test]
fn on_a_host_with_the_default_cap_eight_simultaneous_python_uploads_are_refused_and_nothing_is_stored() {
    let (manifest, component) = built(LABEL);
    let default_cap = modhost_server::ServerConfig::default().max_component_bytes;
    assert!(
        component.len() > default_cap,
        "the component is {} bytes",
        component.len()
    );
    let server = Server::start();
    let operator = server.operator.clone();
    // Eight at once, as a hostile uploader would: each is refused on its
    // declared length, before its component is sent.
    let answers: Vec<(u16, serde_json::Value)> = std::thread::scope(|scope| {
        let uploads: Vec<_> = (0..8)
            .map(|_| scope.spawn(|| declare_upload(&server, &operator, &manifest, component.len())))
            .collect();
        uploads
            .into_iter()
            .map(|upload| upload.join().expect("upload thread"))
            .collect()
    });
    for (status, body) in answers {
        assert_eq!(status, 413, "{body}");
        assert_eq!(body["error"]["code"], "payload-too-large", "{body}");
    }
    let (status, body) = server.get("/v1/modules?module=python-hello", Some(&operator));
    assert_eq!((status, body["versions"].clone()), (200, json!([])), "{body}");
}

/// Sends an upload's headers declaring a body with a `component_len`-byte
/// component, then only the manifest part, and reads the answer: a refusal on
/// the declared length comes before the component is sent at all.
fn declare_upload(
    server: &Server,
    token: &str,
    manifest: &str,
    component_len: usize,
) -> (u16, serde_json::Value) {
    use std::io::{Read as _, Write as _};
    let boundary = "modhost-test-boundary";
    let head = format!(
        "--{boundary}\r\ncontent-disposition: form-data; name=\"manifest\"\r\n\r\n{manifest}\r\n--{boundary}\r\n\
         content-disposition: form-data; name=\"component\"; filename=\"c.wasm\"\r\n\r\n"
    );
    let tail = format!("\r\n--{boundary}--\r\n");
    let length = head.len() + component_len + tail.len();
    let address = server.url.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let request = format!(
        "POST /v1/modules HTTP/1.1\r\nhost: {address}\r\nauthorization: Bearer {token}\r\n\
         content-type: multipart/form-data; boundary={boundary}\r\ncontent-length: {length}\r\n\r\n{head}"
    );
    let _ = stream.write_all(request.as_bytes());
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let body = answer
        .split_once("\r\n\r\n")
        .and_then(|(_, body)| serde_json::from_str(body).ok())
        .unwrap_or(serde_json::Value::Null);
    (status, body)
}
