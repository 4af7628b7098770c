//! End to end: the real `modhost` binary serving on a free port, driven through its own CLI and over HTTP.
//!
//! push → promote → call → push v2 → promote → call → rollback → call, then
//! the history, a tenant-scoped token's view, and a graceful stop.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "test code: a failed expectation is a failed test"
)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BINARY: &str = env!("CARGO_BIN_EXE_modhost");

struct Host {
    child: Child,
    url: String,
    token: String,
    _dir: tempfile::TempDir,
}

impl Host {
    fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("free port")
            .local_addr()
            .expect("addr")
            .port();
        let url = format!("http://127.0.0.1:{port}");
        let token = format!("mh_{}", "e2e0".repeat(16));
        let child = Command::new(BINARY)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data"])
            .arg(dir.path().join("data"))
            .env("MODHOST_ADMIN_TOKEN", &token)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("modhost serve starts");
        let host = Self {
            child,
            url,
            token,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if host.cli(&["status", "--json"]).status.success() {
                return host;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("modhost serve did not come up");
    }

    fn cli(&self, args: &[&str]) -> Output {
        Command::new(BINARY)
            .args(args)
            .env("MODHOST_URL", &self.url)
            .env("MODHOST_TOKEN", &self.token)
            .output()
            .expect("cli runs")
    }

    /// Runs a CLI command that must succeed and returns its stdout.
    fn ok(&self, args: &[&str]) -> String {
        let output = self.cli(args);
        assert!(
            output.status.success(),
            "modhost {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("utf-8")
    }

    fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut with_json = vec!["--json"];
        with_json.extend_from_slice(args);
        serde_json::from_str(&self.ok(&with_json)).expect("json output")
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes template `version` (distinct bytes) into `dir`, ready to push.
fn template_version(dir: &Path, version: &str) -> PathBuf {
    let (text, bytes) = modhost_testkit::variant("template@0.1.0", version);
    let out = dir.join(version);
    std::fs::create_dir_all(&out).expect("dir");
    std::fs::write(out.join("module.toml"), text).expect("manifest");
    std::fs::write(out.join("template.wasm"), bytes).expect("component");
    out
}

fn hello(host: &Host, token: &str) -> (String, serde_json::Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut response = agent
        .get(format!("{}/t/acme/template/hello/e2e", host.url))
        .header("authorization", format!("Bearer {token}"))
        .call()
        .expect("http");
    assert_eq!(response.status().as_u16(), 200);
    let version = response
        .headers()
        .get("x-modhost-version")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = serde_json::from_slice(&response.body_mut().read_to_vec().expect("body")).expect("json");
    (version, body)
}

#[test]
fn push_promote_call_upgrade_roll_back_through_the_real_binary() {
    let host = Host::start();
    let scratch = tempfile::tempdir().expect("temp dir");
    host.ok(&[
        "tenant",
        "create",
        "acme",
        "--name",
        "ACME Retail",
        "--kind",
        "standard",
    ]);
    let pushed = host.json(&[
        "module",
        "push",
        modhost_testkit::modules_dir()
            .join("template@0.1.0")
            .to_str()
            .expect("utf-8"),
    ]);
    assert_eq!(pushed["created"], true, "{pushed}");
    host.ok(&["promote", "acme", "template@0.1.0"]);
    let invoker = host
        .ok(&[
            "token", "create", "--name", "shop", "--role", "invoker", "--tenant", "acme",
        ])
        .trim()
        .to_owned();
    assert!(
        invoker.starts_with("mh_"),
        "the secret is printed alone on stdout: {invoker}"
    );

    let called = host.ok(&["call", "acme", "template", "/hello/e2e"]);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&called).expect("json")["visits"],
        1
    );
    assert_eq!(hello(&host, &invoker).0, "template@0.1.0");

    let v2 = template_version(scratch.path(), "0.2.0");
    assert_eq!(
        host.json(&["module", "push", v2.to_str().expect("utf-8")])["created"],
        true
    );
    host.ok(&["promote", "acme", "template@0.2.0"]);
    let (version, body) = hello(&host, &invoker);
    assert_eq!(
        (version.as_str(), body["visits"].clone()),
        ("template@0.2.0", serde_json::json!(3))
    );

    host.ok(&["rollback", "acme", "template"]);
    assert_eq!(hello(&host, &invoker).0, "template@0.1.0");

    let history = host.json(&["history", "acme", "template"]);
    let steps: Vec<_> = history["history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|event| {
            format!(
                "{} {} -> {}",
                event["action"].as_str().unwrap_or(""),
                event["from"].as_str().unwrap_or("-"),
                event["to"].as_str().unwrap_or("-")
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            "promote - -> 0.1.0",
            "promote 0.1.0 -> 0.2.0",
            "rollback 0.2.0 -> 0.1.0"
        ]
    );

    let refused = Command::new(BINARY)
        .args(["promote", "acme", "template@0.2.0"])
        .env("MODHOST_URL", &host.url)
        .env("MODHOST_TOKEN", &invoker)
        .output()
        .expect("cli runs");
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("error: the role `invoker` may not do this"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let bad_version = host.cli(&["promote", "acme", "template"]);
    assert_eq!(bad_version.status.code(), Some(2), "usage errors exit 2");
}
