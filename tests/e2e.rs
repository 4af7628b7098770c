//! End to end: the real `modhost` binary serving on a free port, driven through its own CLI and over HTTP.
//!
//! push → promote → call → push v2 → promote → call → rollback → call, then
//! the history, a tenant-scoped token's view, and a graceful stop. Then the
//! shipped modules: inventory 1.0.0 with data, upgraded to 1.1.0 (which
//! migrates it), read back through 1.1.0 and BanBan's custom module, and
//! rolled back. Then a rollout over six tenants in three rings, with the
//! server killed (SIGKILL) in the middle of it and restarted. Last, a
//! notification to a receiver that is down, the server killed while it
//! retries, and the receiver reached exactly once after the restart. And the
//! host's JSON log lines: the access line of a call names its caller, tenant,
//! module and the caller's request id, and no line holds a token.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "test code: a failed expectation is a failed test"
)]

#[path = "../crates/server/tests/support/receivers.rs"]
#[allow(dead_code, reason = "the e2e tests use only the HTTP receiver")]
mod receivers;

#[path = "support/host.rs"]
mod host;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use host::{BINARY, Host};

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

#[test]
fn inventory_upgrades_with_its_1_0_data_and_rolls_back_through_the_real_binary() {
    let host = Host::start();
    host.ok(&[
        "tenant", "create", "banban", "--name", "BanBan", "--kind", "custom",
    ]);
    host.push_built("inventory@1.0.0", None);
    host.push_built("inventory@1.1.0", None);
    host.push_built("banban@1.0.0", Some("banban"));
    host.ok(&["promote", "banban", "inventory@1.0.0"]);
    host.ok(&["promote", "banban", "banban@1.0.0"]);

    // Data written by 1.0.0.
    let put =
        |path: &str, body: &str| host.call_json(&["banban", "inventory", path, "-X", "PUT", "-d", body]);
    put("/locations/sp-01", r#"{"name": "São Paulo"}"#);
    put("/locations/rj-02", r#"{"name": "Rio"}"#);
    put(
        "/products/TS-M-PRE",
        r#"{"name": "Camiseta", "price_cents": 7990, "attributes": {"style": "TS", "size": "M", "colour": "preto"}}"#,
    );
    for movement in [
        r#"{"kind": "receive", "sku": "TS-M-PRE", "location": "sp-01", "quantity": 9}"#,
        r#"{"kind": "sell", "sku": "TS-M-PRE", "location": "sp-01", "quantity": 1}"#,
    ] {
        host.call_json(&["banban", "inventory", "/movements", "-d", movement]);
    }
    let stock_in_1_0 = host.call_json(&["banban", "inventory", "/stock/TS-M-PRE"]);
    assert_eq!(stock_in_1_0["total_on_hand"], 8);
    assert_eq!(
        stock_in_1_0.get("total_available"),
        None,
        "1.0 has no reservations"
    );
    let suggestions_in_1_0 = host.call_json(&["banban", "banban", "/transfers/suggestions"]);
    assert_eq!(suggestions_in_1_0["suggestions"][0]["quantity"], 4);

    // Upgrade: 1.1.0 migrates 1.0.0's data and reads it back.
    let promoted = host.json(&["promote", "banban", "inventory@1.1.0"]);
    assert_eq!(promoted["from"], "1.0.0", "{promoted}");
    let stock_in_1_1 = host.call_json(&["banban", "inventory", "/stock/TS-M-PRE"]);
    assert_eq!(
        (
            stock_in_1_1["total_on_hand"].clone(),
            stock_in_1_1["total_available"].clone(),
            stock_in_1_1["locations"][0]["reserved"].clone()
        ),
        (serde_json::json!(8), serde_json::json!(8), serde_json::json!(0))
    );
    let history = host.call_json(&["banban", "inventory", "/movements?sku=TS-M-PRE"]);
    assert_eq!(history["movements"].as_array().map(Vec::len), Some(2));
    host.call_json(&[
        "banban",
        "inventory",
        "/reservations",
        "-d",
        r#"{"sku": "TS-M-PRE", "location": "sp-01", "quantity": 3}"#,
    ]);
    let grid = host.call_json(&["banban", "banban", "/grid/TS"]);
    assert_eq!(grid["total"], 5, "banban counts available units under 1.1");

    // Roll back: 1.0.0 serves its own data again; 1.1.0's reservation is gone with the snapshot.
    host.ok(&["rollback", "banban", "inventory"]);
    let stock_after_rollback = host.call_json(&["banban", "inventory", "/stock/TS-M-PRE"]);
    assert_eq!(stock_after_rollback, stock_in_1_0);
    let grid_after_rollback = host.call_json(&["banban", "banban", "/grid/TS"]);
    assert_eq!(grid_after_rollback["total"], 8);
    let not_found = host.cli(&["call", "banban", "inventory", "/reservations", "-d", "{}"]);
    assert!(!not_found.status.success(), "1.0 has no reservations route");

    let history = host.json(&["history", "banban", "inventory"]);
    let actions: Vec<_> = history["history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|event| event["action"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(actions, ["promote", "promote", "rollback"]);
}

#[test]
fn a_rollout_resumes_after_the_server_is_killed_without_repeating_or_skipping_a_tenant() {
    let host = Host::start();
    let scratch = tempfile::tempdir().expect("temp dir");
    let tenants = [
        ("r1", "internal"),
        ("r2", "internal"),
        ("r3", "beta"),
        ("r4", "beta"),
        ("r5", "general"),
        ("r6", "general"),
    ];
    host.push_built("template@0.1.0", None);
    let next = template_version(scratch.path(), "0.1.1");
    host.ok(&["module", "push", next.to_str().expect("utf-8 path")]);
    for (tenant, ring) in tenants {
        host.ok(&["tenant", "create", tenant, "--name", tenant, "--kind", "standard"]);
        host.ok(&["tenant", "ring", tenant, ring]);
        host.ok(&["promote", tenant, "template@0.1.0"]);
    }
    let rollout = host.json(&[
        "rollout",
        "start",
        "template@0.1.1",
        "--rings",
        "internal,beta,general",
        "--soak",
        "1s",
        "--watch",
        "1s",
    ]);
    let id = rollout["id"].as_u64().expect("id").to_string();
    // Kill it once the rollout is under way: somewhere in the first rings.
    let started = Instant::now();
    loop {
        let status = host.json(&["rollout", "status", &id]);
        if status["done"].as_array().is_some_and(|done| !done.is_empty()) {
            eprintln!(
                "killed with {} tenant(s) done, in flight: {}, soaking: {}",
                status["done"].as_array().map_or(0, Vec::len),
                status["in_flight"],
                status["soaking"]
            );
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the rollout never started: {status}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let host = host.kill_and_restart();
    let started = Instant::now();
    let status = loop {
        let status = host.json(&["rollout", "status", &id]);
        if status["state"] != "running" {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the rollout did not finish: {status}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(status["state"], "completed", "{status}");
    let done: Vec<&str> = status["done"]
        .as_array()
        .expect("done")
        .iter()
        .map(|done| done["tenant"].as_str().expect("tenant"))
        .collect();
    assert_eq!(done, ["r1", "r2", "r3", "r4", "r5", "r6"], "{status}");
    for (tenant, _) in tenants {
        let history = host.json(&["history", tenant, "template"]);
        assert_eq!(history["active"], "0.1.1");
        let promotes = history["history"]
            .as_array()
            .expect("history")
            .iter()
            .filter(|event| event["to"] == "0.1.1")
            .count();
        assert_eq!(promotes, 1, "{tenant}: {history}");
    }
}

#[test]
fn a_notification_survives_a_kill_of_the_server_and_arrives_once_when_the_receiver_is_back() {
    // A port with nothing listening: the receiver is down.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("free port")
        .local_addr()
        .expect("addr")
        .port();
    let host = Host::start_with_config(
        "[alerts]\nallowed_targets = [\"http://127.0.0.1:*\"]\nretry_base_ms = 200\nretry_max_ms = 1000\n",
    );
    let url = format!("http://127.0.0.1:{port}/hook");
    let created = host.json(&["channel", "add", "ops", "--webhook", &url]);
    let secret = created["secret"].as_str().expect("secret").to_owned();
    let test = host.json(&["channel", "test", "ops"]);
    let key = test["idempotency_key"].as_str().expect("key").to_owned();
    let started = Instant::now();
    loop {
        let deliveries = host.json(&["alert", "deliveries"]);
        let delivery = &deliveries["deliveries"][0];
        if delivery["attempts"].as_u64().unwrap_or(0) >= 2 {
            assert_eq!(delivery["state"], "pending", "{delivery}");
            let error = delivery["last_error"].as_str().expect("error");
            assert!(error.starts_with("could not reach the receiver"), "{error}");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no retries: {deliveries}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut host = host;
    host.kill();
    let receiver = receivers::HttpReceiver::on(
        std::net::TcpListener::bind(("127.0.0.1", port)).expect("the port again"),
    );
    let host = host.restart();
    let got = receiver.wait_for(Duration::from_secs(30), |got| !got.is_empty());
    std::thread::sleep(Duration::from_secs(2));
    let got_after = receiver.received();
    assert_eq!(got_after.len(), 1, "exactly once: {got_after:?}");
    assert_eq!(got[0].json()["idempotency_key"], key.as_str());
    let header = got[0].header("x-modhost-signature").expect("signed");
    let timestamp: u64 = header
        .strip_prefix("t=")
        .and_then(|rest| rest.split(',').next())
        .and_then(|t| t.parse().ok())
        .expect("timestamp");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    assert_eq!(
        modhost_alerts::notify::verify(&secret, header, &got[0].body, now, Duration::from_secs(300)),
        Ok(())
    );
    assert!(now.abs_diff(timestamp) < 300);
    let deliveries = host.json(&["alert", "deliveries"]);
    assert_eq!(deliveries["deliveries"][0]["state"], "delivered", "{deliveries}");
}

#[test]
fn json_logs_name_the_caller_tenant_module_and_the_incoming_request_id_never_the_token() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log_path = dir.path().join("serve.log");
    let log_file = std::fs::File::create(&log_path).expect("log file");
    let mut host = Host::start_logging(dir, &["--log-format", "json"], "info", log_file.into());
    host.ok(&["tenant", "create", "acme", "--name", "ACME", "--kind", "standard"]);
    let scratch = tempfile::tempdir().expect("temp dir");
    let module_dir = template_version(scratch.path(), "0.1.0");
    host.ok(&["module", "push", module_dir.to_str().expect("utf-8")]);
    host.ok(&["promote", "acme", "template@0.1.0"]);
    host.ok(&[
        "call",
        "acme",
        "template",
        "/hello/world",
        "-H",
        "x-request-id: shop-checkout-77",
    ]);
    host.kill();

    let text = std::fs::read_to_string(&log_path).expect("log");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|error| panic!("not JSON ({error}): {line}")))
        .collect();
    assert!(!lines.is_empty());
    let call = lines
        .iter()
        .find(|line| {
            line["fields"]["message"] == "request" && line["fields"]["request_id"] == "shop-checkout-77"
        })
        .unwrap_or_else(|| panic!("no access line for the call in {text}"));
    assert_eq!(call["level"], "INFO");
    assert_eq!(call["fields"]["status"], 200);
    assert_eq!(call["fields"]["tenant"], "acme");
    assert_eq!(call["fields"]["module"], "template");
    assert_eq!(call["fields"]["path"], "/t/acme/template/hello/world");
    assert!(
        call["fields"]["principal"]
            .as_str()
            .is_some_and(|principal| principal.ends_with(":operator")),
        "{call}"
    );
    let token_secret = &host.token[3..];
    assert!(!text.contains(token_secret), "a token appears in the host's logs");
}
