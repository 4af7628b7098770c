//! Alerts over real HTTP with real components and real receivers on loopback: a signed webhook, a Slack-format receiver and an SMTP server; firing, escalation, acknowledgement, resolution, an automatic rollback, retries while a receiver is down, giving up, and every refusal.

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

use hmac::Mac as _;
use serde_json::json;
use support::receivers::{HttpReceiver, Received, SmtpReceiver};
use support::*;

/// The server with alert evaluation every 100 ms, loopback targets allowed,
/// quick retries, and email through `smtp_port`.
fn alerting_server(smtp_port: u16, configure: impl FnOnce(&mut modhost_server::ServerConfig)) -> Server {
    Server::start_with(|config| {
        config.watch_min_requests = 10;
        config.alerts.eval_interval_ms = 100;
        config.alerts.default_rules = false;
        config.alerts.allowed_targets = vec!["http://127.0.0.1:*".to_owned()];
        config.alerts.allowed_email_domains = vec!["example.com".to_owned()];
        config.alerts.retry_base_ms = 100;
        config.alerts.retry_max_ms = 400;
        config.alerts.smtp = Some(modhost_alerts::SmtpConfig {
            host: "127.0.0.1".to_owned(),
            port: smtp_port,
            from: "modhost@example.com".to_owned(),
            tls: modhost_alerts::SmtpTls::None,
            username: None,
            password: None,
        });
        configure(config);
    })
}

/// acme with chaos 1.0.0 active (and 1.0.1, failing on `/flaky`, published).
fn deploy_chaos(server: &Server) {
    let operator = server.operator.clone();
    let (status, body) = server.post(
        "/v1/tenants",
        Some(&operator),
        json!({"id": "acme", "name": "Acme", "kind": "standard"}),
    );
    assert_eq!(status, 201, "{body}");
    let (manifest, component) = built("template@0.1.0");
    assert_eq!(server.push(&operator, &manifest, &component, None).0, 201);
    let (status, body) = server.post(
        "/v1/tenants/acme/deployments/template/promote",
        Some(&operator),
        json!({"version": "0.1.0"}),
    );
    assert_eq!(status, 200, "{body}");
    for (version, flaky_status) in [("1.0.0", 200), ("1.0.1", 503)] {
        let (manifest, component) = flaky_chaos(version, flaky_status);
        let (status, body) = server.push(&operator, &manifest, &component, None);
        assert_eq!(status, 201, "{body}");
    }
    let (status, body) = server.post(
        "/v1/tenants/acme/deployments/chaos/promote",
        Some(&operator),
        json!({"version": "1.0.0", "watch_secs": 0}),
    );
    assert_eq!(status, 200, "{body}");
}

fn put(server: &Server, path: &str, token: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
    server.request("PUT", path, Some(token), Some(&body))
}

/// Adds a channel and returns its signing secret (webhooks).
fn add_channel(server: &Server, path: &str, token: &str, body: serde_json::Value) -> Option<String> {
    let (status, answer) = server.post(path, Some(token), body);
    assert_eq!(status, 201, "{answer}");
    answer["secret"].as_str().map(str::to_owned)
}

/// Checks a webhook's signature independently of the host's code:
/// HMAC-SHA256(secret, "<t>.<body>") in hex, and a timestamp within 5 minutes.
fn assert_signed(received: &Received, secret: &str) {
    let header = received.header("x-modhost-signature").expect("signed");
    let (t, v1) = header
        .split_once(",v1=")
        .and_then(|(t, v1)| Some((t.strip_prefix("t=")?, v1)))
        .expect("t=…,v1=…");
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(t.as_bytes());
    mac.update(b".");
    mac.update(&received.body);
    assert_eq!(
        hex_of(&mac.finalize().into_bytes()),
        v1,
        "the signature matches the body"
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    assert!(now.abs_diff(t.parse::<u64>().expect("seconds")) < 300);
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Each request's event: the webhook payload's `event`, or the first word of a Slack `text`.
fn events(received: &[Received]) -> Vec<String> {
    received
        .iter()
        .map(|request| {
            let body = request.json();
            match body["event"].as_str() {
                Some(event) => event.to_owned(),
                None => body["text"]
                    .as_str()
                    .and_then(|text| text.split(' ').next())
                    .unwrap_or_default()
                    .to_lowercase(),
            }
        })
        .collect()
}

/// Calls `/panic` (a trap) every 200 ms for `span`.
fn trap_for(server: &Server, token: &str, span: Duration) {
    let started = Instant::now();
    while started.elapsed() < span {
        let (status, _) = server.get("/t/acme/chaos/panic", Some(token));
        assert_eq!(status, 502);
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn alerts_of(server: &Server, token: &str) -> Vec<serde_json::Value> {
    let (status, body) = server.get("/v1/tenants/acme/alerts", Some(token));
    assert_eq!(status, 200, "{body}");
    body["alerts"].as_array().expect("alerts").clone()
}

fn wait_until(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    while started.elapsed() < limit {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[test]
fn a_failing_guest_fires_once_escalates_along_the_chain_and_resolves() {
    let (hook, slack, smtp) = (
        HttpReceiver::start(),
        HttpReceiver::start(),
        SmtpReceiver::start(),
    );
    let server = alerting_server(smtp.port, |_| {});
    deploy_chaos(&server);
    let admin = server.token("tenant-admin", Some("acme"));
    let invoker = server.token("invoker", Some("acme"));
    let secret = add_channel(
        &server,
        "/v1/tenants/acme/channels",
        &admin,
        json!({"name": "hook", "type": "webhook", "url": hook.url}),
    )
    .expect("a webhook has a secret");
    assert!(secret.starts_with("whsec_") && secret.len() == 6 + 64, "{secret}");
    assert_eq!(
        add_channel(
            &server,
            "/v1/tenants/acme/channels",
            &admin,
            json!({"name": "chat", "type": "slack", "url": slack.url})
        ),
        None
    );
    add_channel(
        &server,
        "/v1/tenants/acme/channels",
        &admin,
        json!({"name": "mail", "type": "email", "to": ["ops@example.com"]}),
    );
    let (status, body) = put(
        &server,
        "/v1/tenants/acme/alert-rules/panics",
        &admin,
        json!({"kind": "traps", "threshold": 3, "window_secs": 2, "severity": "critical",
               "channels": ["hook", "chat", "mail"], "escalate_after_secs": 1}),
    );
    assert_eq!(status, 200, "{body}");

    // Traps for 3.5 s: the alert fires, then nobody acknowledges it, so
    // after 1 s the chat channel is told, after another the mail.
    trap_for(&server, &invoker, Duration::from_millis(3500));
    let mails = smtp.wait_for(Duration::from_secs(10), |mails| !mails.is_empty());
    assert_eq!(mails.len(), 1, "one escalation email: {mails:?}");
    assert!(
        mails[0]
            .data
            .contains("Subject: [modhost] ESCALATED critical: panics on acme/chaos"),
        "{}",
        mails[0].data
    );
    assert_eq!(mails[0].to, vec!["ops@example.com".to_owned()]);
    // The traps stop; 2 s later the window is clear and it resolves: every channel told is told so.
    let hook_got = hook.wait_for(Duration::from_secs(10), |got| got.len() >= 2);
    let slack_got = slack.wait_for(Duration::from_secs(10), |got| got.len() >= 2);
    let mails = smtp.wait_for(Duration::from_secs(10), |mails| mails.len() >= 2);
    assert_eq!(events(&hook_got), vec!["firing", "resolved"]);
    assert_eq!(events(&slack_got), vec!["escalated", "resolved"]);
    assert!(
        mails[1]
            .data
            .contains("Subject: [modhost] RESOLVED critical: panics on acme/chaos"),
        "{}",
        mails[1].data
    );
    for received in &hook_got {
        assert_signed(received, &secret);
        assert_eq!(
            received.header("x-modhost-idempotency-key"),
            received.json()["idempotency_key"].as_str()
        );
    }
    let firing = hook_got[0].json();
    assert_eq!(firing["alert"]["kind"], "traps");
    assert_eq!(firing["alert"]["subject"], "acme/chaos");
    assert_eq!(firing["alert"]["rule_scope"], "tenant");
    assert!(firing["alert"]["value"].as_f64().expect("value") >= 3.0);
    let text = slack_got[0].json()["text"]
        .as_str()
        .expect("slack text")
        .to_owned();
    assert!(
        text.starts_with("ESCALATED [critical] panics on acme/chaos: "),
        "{text}"
    );
    assert!(
        slack_got[0].header("x-modhost-signature").is_none(),
        "slack bodies are not signed"
    );

    // Nothing more arrives: one alert, told once per step.
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(hook.received().len(), 2);
    assert_eq!(slack.received().len(), 2);
    assert_eq!(smtp.wait_for(Duration::ZERO, |_| true).len(), 2);
    let alerts = alerts_of(&server, &admin);
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["state"], "resolved");
    assert_eq!(alerts[0]["escalation"], 3);
    let keys: std::collections::BTreeSet<String> = hook_got
        .iter()
        .map(|got| got.json()["idempotency_key"].as_str().expect("key").to_owned())
        .chain(mails.iter().map(|mail| {
            let id = mail
                .data
                .lines()
                .find_map(|line| line.strip_prefix("Message-ID: <"))
                .expect("message id");
            id.trim_end_matches("@modhost>").to_owned()
        }))
        .collect();
    assert_eq!(keys.len(), 4, "each notification has its own key: {keys:?}");
    let (_, audit) = server.get("/v1/audit?action=alert.", Some(&server.operator));
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|entry| entry["action"].as_str().expect("action"))
        .collect();
    assert_eq!(
        actions,
        vec!["alert.fire", "alert.escalate", "alert.escalate", "alert.resolve"]
    );
    let (_, metrics) = server.raw("GET", "/metrics", Some(&server.operator), None);
    let metrics = String::from_utf8(metrics).expect("text");
    assert!(
        metrics.contains("modhost_notifications_delivered_total 6"),
        "{metrics}"
    );
    assert!(metrics.contains("modhost_alerts_firing 0"), "{metrics}");
}

#[test]
fn an_acknowledged_alert_stops_escalating_and_a_silence_holds_notifications() {
    let (hook, pager) = (HttpReceiver::start(), HttpReceiver::start());
    let server = alerting_server(1, |_| {});
    deploy_chaos(&server);
    let admin = server.token("tenant-admin", Some("acme"));
    let invoker = server.token("invoker", Some("acme"));
    add_channel(
        &server,
        "/v1/tenants/acme/channels",
        &admin,
        json!({"name": "hook", "type": "webhook", "url": hook.url}),
    );
    add_channel(
        &server,
        "/v1/tenants/acme/channels",
        &admin,
        json!({"name": "pager", "type": "webhook", "url": pager.url}),
    );
    let rule = json!({"kind": "traps", "threshold": 2, "window_secs": 2, "channels": ["hook", "pager"], "escalate_after_secs": 1});
    assert_eq!(
        put(&server, "/v1/tenants/acme/alert-rules/panics", &admin, rule).0,
        200
    );
    trap_for(&server, &invoker, Duration::from_millis(500));
    assert!(wait_until(Duration::from_secs(5), || alerts_of(&server, &admin)
        .len()
        == 1));
    let id = alerts_of(&server, &admin)[0]["id"].as_u64().expect("id");
    let (status, body) = server.post(
        &format!("/v1/tenants/acme/alerts/{id}/ack"),
        Some(&admin),
        json!({}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["state"], "acknowledged");
    assert!(
        body["acknowledged_by"]
            .as_str()
            .expect("who")
            .contains("tenant-admin"),
        "{body}"
    );
    let (status, body) = server.post(
        &format!("/v1/tenants/acme/alerts/{id}/ack"),
        Some(&admin),
        json!({}),
    );
    assert_eq!(
        (status, body["error"]["message"].as_str()),
        (
            409,
            Some(&*format!(
                "alert {id} is acknowledged; only a firing alert can be acknowledged"
            ))
        )
    );
    // Still in breach for 2 s more, past the escalation time: the pager is never told.
    trap_for(&server, &invoker, Duration::from_millis(2000));
    let got = hook.wait_for(Duration::from_secs(10), |got| got.len() >= 2);
    assert_eq!(events(&got), vec!["firing", "resolved"]);
    assert!(pager.received().is_empty(), "{:?}", events(&pager.received()));

    // Silenced for an hour: the next breach fires an alert but tells nobody.
    let (status, body) = server.post(
        &format!("/v1/tenants/acme/alerts/{id}/silence"),
        Some(&admin),
        json!({"for_secs": 3600}),
    );
    assert_eq!(status, 200, "{body}");
    trap_for(&server, &invoker, Duration::from_millis(600));
    let fired_again = wait_until(Duration::from_secs(5), || alerts_of(&server, &admin).len() >= 2);
    let (_, audit) = server.get("/v1/audit?action=alert.", Some(&server.operator));
    assert!(fired_again, "{:?} {audit}", alerts_of(&server, &admin));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        hook.received().len(),
        2,
        "silenced: {:?}",
        events(&hook.received())
    );
    let (status, body) = server.post(
        &format!("/v1/tenants/acme/alerts/{id}/silence"),
        Some(&admin),
        json!({"for_secs": 0}),
    );
    assert_eq!(
        (status, body["error"]["message"].as_str()),
        (
            400,
            Some("invalid for_secs: 0 is not between 1 and 2592000 (30 days)")
        )
    );
}

#[test]
fn an_automatic_rollback_notifies_the_operators() {
    let ops = HttpReceiver::start();
    let server = alerting_server(1, |_| {});
    deploy_chaos(&server);
    let operator = server.operator.clone();
    add_channel(
        &server,
        "/v1/channels",
        &operator,
        json!({"name": "ops", "type": "webhook", "url": ops.url}),
    );
    let (status, body) = put(
        &server,
        "/v1/alert-rules/automatic-rollbacks",
        &operator,
        json!({"kind": "automatic-rollbacks", "threshold": 1, "window_secs": 60, "severity": "critical", "channels": ["ops"]}),
    );
    assert_eq!(status, 200, "{body}");
    let invoker = server.token("invoker", Some("acme"));
    // 1.0.1's migration changes nothing, so its watch may roll it back.
    let (status, _) = server.raw(
        "PUT",
        "/t/acme/chaos/control/fail-migrate",
        Some(&invoker),
        Some(("text/plain".to_owned(), b"skip".to_vec())),
    );
    assert_eq!(status, 204);
    let (status, body) = server.post(
        "/v1/tenants/acme/deployments/chaos/promote",
        Some(&operator),
        json!({"version": "1.0.1", "watch_secs": 60}),
    );
    assert_eq!(status, 200, "{body}");
    // 1.0.1 answers 503 on /flaky: its watch rolls it back, and the rule fires.
    let got = ops.wait_for(Duration::from_secs(20), |got| {
        if got.is_empty() {
            let _ = server.get("/t/acme/chaos/flaky", Some(&invoker));
        }
        !got.is_empty()
    });
    let (_, audit) = server.get("/v1/audit?action=deployment.", Some(&operator));
    let (_, alerts) = server.get("/v1/alerts", Some(&operator));
    assert_eq!(events(&got), vec!["firing"], "{audit} {alerts}");
    let alert = &got[0].json()["alert"];
    assert_eq!(alert["kind"], "automatic-rollbacks");
    assert_eq!(alert["subject"], "acme/chaos");
    assert_eq!(alert["rule_scope"], "global");
    let (_, deployment) = server.get("/v1/tenants/acme/deployments/chaos", Some(&operator));
    assert_eq!(deployment["active"], "1.0.0", "{deployment}");
}

#[test]
fn a_receiver_that_is_down_gets_the_notification_once_when_it_is_back() {
    let hook = HttpReceiver::start();
    hook.set_up(false);
    let server = alerting_server(1, |_| {});
    let operator = server.operator.clone();
    add_channel(
        &server,
        "/v1/channels",
        &operator,
        json!({"name": "ops", "type": "webhook", "url": hook.url}),
    );
    let (status, delivery) = server.post("/v1/channels/ops/test", Some(&operator), json!({}));
    assert_eq!(status, 202, "{delivery}");
    let key = delivery["idempotency_key"].as_str().expect("key").to_owned();
    let (status, body) = server.post("/v1/channels/ops/test", Some(&operator), json!({}));
    assert_eq!(status, 409, "one pending test per channel: {body}");
    let message = body["error"]["message"].as_str().expect("message");
    assert!(
        message.starts_with("a test notification to `ops` is still pending (delivery "),
        "{message}"
    );
    assert!(
        wait_until(Duration::from_secs(10), || hook.received().len() >= 3),
        "retried while down"
    );
    let (_, list) = server.get("/v1/deliveries", Some(&operator));
    assert_eq!(list["deliveries"][0]["state"], "pending", "{list}");
    assert_eq!(
        list["deliveries"][0]["last_error"],
        "the receiver answered 503 Service Unavailable"
    );
    hook.set_up(true);
    let accepted = hook.wait_for(Duration::from_secs(10), |got| !got.is_empty());
    std::thread::sleep(Duration::from_millis(800));
    let accepted_after = hook.accepted();
    assert_eq!(accepted_after.len(), 1, "delivered exactly once");
    assert_eq!(accepted[0].json()["idempotency_key"], key.as_str());
    assert_eq!(accepted[0].json()["event"], "test");
    assert!(
        hook.received()
            .iter()
            .all(|got| got.json()["idempotency_key"] == key.as_str()),
        "every attempt carries the same key"
    );
    let (_, list) = server.get("/v1/deliveries", Some(&operator));
    assert_eq!(list["deliveries"][0]["state"], "delivered", "{list}");
    assert!(
        list["deliveries"][0]["attempts"].as_u64().expect("attempts") >= 4,
        "{list}"
    );
}

#[test]
fn a_receiver_down_past_the_limit_is_given_up_audited_and_counted() {
    let hook = HttpReceiver::start();
    hook.set_up(false);
    let server = alerting_server(1, |config| config.alerts.give_up_secs = 1);
    let operator = server.operator.clone();
    add_channel(
        &server,
        "/v1/channels",
        &operator,
        json!({"name": "ops", "type": "webhook", "url": hook.url}),
    );
    assert_eq!(
        server.post("/v1/channels/ops/test", Some(&operator), json!({})).0,
        202
    );
    let failed = wait_until(Duration::from_secs(10), || {
        let (_, list) = server.get("/v1/deliveries", Some(&operator));
        list["deliveries"][0]["state"] == "failed"
    });
    assert!(failed, "given up");
    let tries = hook.received().len();
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(hook.received().len(), tries, "no attempt after giving up");
    let (_, audit) = server.get("/v1/audit?action=alert.delivery", Some(&operator));
    let entry = &audit["entries"][0];
    assert_eq!(entry["outcome"], "failed");
    let detail = entry["detail"].as_str().expect("detail");
    assert!(
        detail.starts_with("given up after ")
            && detail.ends_with("attempts: the receiver answered 503 Service Unavailable"),
        "{detail}"
    );
    let (_, status) = server.get("/v1/status", Some(&operator));
    assert_eq!(status["notifications_failed"], 1, "{status}");
}

#[test]
fn bad_rules_and_channels_are_refused_with_the_exact_error_and_nothing_is_stored() {
    let server = alerting_server(1, |config| config.alerts.allowed_email_domains = Vec::new());
    deploy_chaos(&server);
    let operator = server.operator.clone();
    let admin = server.token("tenant-admin", Some("acme"));
    let viewer = server.token("tenant-viewer", Some("acme"));
    let refusals = [
        (
            "/v1/tenants/acme/channels",
            json!({"name": "x", "type": "webhook", "url": "https://evil.example/steal"}),
            422,
            "https://evil.example:443 is not an allowed notification target; ask the operator to add it to `alerts.allowed_targets`",
        ),
        (
            "/v1/tenants/acme/channels",
            json!({"name": "x", "type": "webhook", "url": "http://user:pw@127.0.0.1:9/"}),
            422,
            "the url must not carry a user name or password",
        ),
        (
            "/v1/tenants/acme/channels",
            json!({"name": "x", "type": "email", "to": ["ops@example.com"]}),
            422,
            "example.com is not an allowed email domain; ask the operator to add it to `alerts.allowed_email_domains`",
        ),
        (
            "/v1/tenants/acme/channels",
            json!({"name": "x", "type": "pigeon"}),
            400,
            "invalid type: `pigeon` is not one of webhook, slack, email",
        ),
        (
            "/v1/tenants/acme/channels",
            json!({"name": "Bad Name", "type": "webhook", "url": "http://127.0.0.1:9/"}),
            400,
            "invalid name: `Bad Name` must be kebab-case: lower-case letters, digits and single dashes, starting with a letter",
        ),
    ];
    for (path, body, status, message) in refusals {
        let (got, answer) = server.post(path, Some(&admin), body.clone());
        assert_eq!(
            (got, answer["error"]["message"].as_str()),
            (status, Some(message)),
            "{body}"
        );
    }
    let (_, list) = server.get("/v1/tenants/acme/channels", Some(&viewer));
    assert_eq!(list["channels"], json!([]), "nothing stored");
    add_channel(
        &server,
        "/v1/channels",
        &operator,
        json!({"name": "ops", "type": "webhook", "url": "http://127.0.0.1:9/x"}),
    );
    add_channel(
        &server,
        "/v1/tenants/acme/channels",
        &admin,
        json!({"name": "hook", "type": "webhook", "url": "http://127.0.0.1:9/y"}),
    );
    let (status, body) = server.post(
        "/v1/tenants/acme/channels",
        Some(&admin),
        json!({"name": "hook", "type": "slack", "url": "http://127.0.0.1:9/z"}),
    );
    assert_eq!(
        (status, body["error"]["message"].as_str()),
        (
            409,
            Some("tenant `acme` already has a channel `hook`; remove it first or pick another name")
        )
    );
    let rule_refusals = [
        (
            json!({"kind": "traps", "threshold": 1, "window_secs": 60, "channels": ["ops"]}),
            "invalid channels: tenant `acme` has no channel `ops`; add it first",
        ),
        (
            json!({"kind": "noise", "threshold": 1, "window_secs": 60}),
            "invalid kind: `noise` is not one of error-rate, p99-ms, traps, deadlines, limit-hits, storage-errors, quota-use, fallbacks, failed-promotes, automatic-rollbacks, anomaly, backup-failures, overdue-milestones",
        ),
        (
            json!({"kind": "traps", "threshold": 1, "window_secs": 601}),
            "invalid window_secs: is 601; it must be between 1 and 600",
        ),
        (
            json!({"kind": "traps", "threshold": -1, "window_secs": 60}),
            "invalid threshold: must be a number of at least 0",
        ),
        (
            json!({"kind": "anomaly", "threshold": 3, "window_secs": 60}),
            "invalid series: an anomaly rule names the series it follows: requests, error-rate or p99-ms",
        ),
        (
            json!({"kind": "traps", "series": "requests", "threshold": 3, "window_secs": 60}),
            "invalid series: only anomaly rules follow a series; `traps` does not",
        ),
    ];
    for (body, message) in rule_refusals {
        let (status, answer) = put(&server, "/v1/tenants/acme/alert-rules/r", &admin, body.clone());
        assert_eq!(
            (status, answer["error"]["message"].as_str()),
            (400, Some(message)),
            "{body}"
        );
    }
    let (status, _) = put(
        &server,
        "/v1/tenants/acme/alert-rules/r",
        &viewer,
        json!({"kind": "traps", "threshold": 1, "window_secs": 60}),
    );
    assert_eq!(status, 403, "viewers read only");
    let (status, _) = put(
        &server,
        "/v1/alert-rules/r",
        &admin,
        json!({"kind": "traps", "threshold": 1, "window_secs": 60}),
    );
    assert_eq!(status, 403, "global rules are the operators'");
    let (_, rules) = server.get("/v1/tenants/acme/alert-rules", Some(&viewer));
    assert_eq!(rules["rules"], json!([]), "nothing stored");
    let (status, _) = put(
        &server,
        "/v1/tenants/acme/alert-rules/r",
        &admin,
        json!({"kind": "traps", "threshold": 1, "window_secs": 60, "channels": ["hook"]}),
    );
    assert_eq!(status, 200);
    let (status, body) = server.request("DELETE", "/v1/tenants/acme/channels/hook", Some(&admin), None);
    assert_eq!(
        (status, body["error"]["message"].as_str()),
        (
            409,
            Some("channel `hook` is used by the rules r; take it out of them first")
        )
    );
    let (_, list) = server.get("/v1/tenants/acme/channels", Some(&viewer));
    assert_eq!(list["channels"][0]["signed"], true);
    assert!(
        list["channels"][0].get("secret").is_none(),
        "the secret is shown only once: {list}"
    );
    let (status, _) = server.get("/v1/channels", Some(&admin));
    assert_eq!(status, 403, "the operators' channels are theirs");

    // A tenant cannot grow its rules or channels without bound.
    for index in 1..50 {
        let (status, body) = put(
            &server,
            &format!("/v1/tenants/acme/alert-rules/r{index}"),
            &admin,
            json!({"kind": "traps", "threshold": 1, "window_secs": 60}),
        );
        assert_eq!(status, 200, "{body}");
    }
    let (status, body) = put(
        &server,
        "/v1/tenants/acme/alert-rules/one-more",
        &admin,
        json!({"kind": "traps", "threshold": 1, "window_secs": 60}),
    );
    assert_eq!(
        (status, body["error"]["message"].as_str()),
        (
            409,
            Some("tenant `acme` already has 50 alert rules, the most allowed; remove one first")
        )
    );
    let (status, _) = put(
        &server,
        "/v1/tenants/acme/alert-rules/r1",
        &admin,
        json!({"kind": "deadlines", "threshold": 1, "window_secs": 60}),
    );
    assert_eq!(status, 200, "replacing a rule at the limit is fine");
    for index in 1..20 {
        add_channel(
            &server,
            "/v1/tenants/acme/channels",
            &admin,
            json!({"name": format!("c{index}"), "type": "webhook", "url": "http://127.0.0.1:9/"}),
        );
    }
    let (status, body) = server.post(
        "/v1/tenants/acme/channels",
        Some(&admin),
        json!({"name": "c20", "type": "webhook", "url": "http://127.0.0.1:9/"}),
    );
    assert_eq!(
        (status, body["error"]["message"].as_str()),
        (
            409,
            Some("tenant `acme` already has 20 channels, the most allowed; remove one first")
        )
    );
}
