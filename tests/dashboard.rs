//! The browser dashboard driven in headless Chromium against the real `modhost serve`.
//!
//! Each scenario signs in through the page and works it as a person would
//! (typing, choosing, clicking, confirming), then checks the server's state
//! through the API, so a page that only looks right does not pass. A failing
//! scenario leaves its page in `target/ui-screenshots/<scenario>.png`.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "test code: a failed expectation is a failed test"
)]

#[path = "support/browser.rs"]
mod browser;
#[path = "support/host.rs"]
mod host;

use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};
use browser::{Browser, screenshot_dir};
use host::Host;

/// GET `path` on the admin API with `token`: (status, JSON body).
fn api(host: &Host, token: &str, path: &str) -> (u16, serde_json::Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut response = agent
        .get(format!("{}{path}", host.url))
        .header("authorization", format!("Bearer {token}"))
        .call()
        .expect("http");
    let status = response.status().as_u16();
    let body = response.body_mut().read_to_vec().expect("body");
    (
        status,
        serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
    )
}

/// A data-plane call with the operator token: (status, request id).
fn call(host: &Host, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let url = format!("{}{path}", host.url);
    let authorization = format!("Bearer {}", host.token);
    let response = match (method, body) {
        ("PUT", Some(body)) => agent
            .put(&url)
            .header("authorization", &authorization)
            .header("content-type", "application/json")
            .send(body),
        _ => agent.get(&url).header("authorization", &authorization).call(),
    }
    .expect("http");
    let id = response
        .headers()
        .get("x-request-id")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (response.status().as_u16(), id)
}

fn token(host: &Host, role: &str, tenant: &str) -> String {
    host.ok(&[
        "token", "create", "--name", role, "--role", role, "--tenant", tenant,
    ])
    .trim()
    .to_owned()
}

#[test]
fn an_operator_creates_a_tenant_promotes_rolls_back_and_edits_config() {
    let host = Host::start();
    host.push_built("inventory@1.0.0", None);
    host.push_built("inventory@1.1.0", None);
    let host = &host;
    Browser::run("operator-flow", &host.url, |browser| async move {
        // A wrong token is refused on the form, with the reason.
        browser.open("/ui/").await?;
        browser.type_into("#token", "mh_not-a-real-token").await?;
        browser.click("#sign-in-button").await?;
        browser
            .wait_text("#sign-in-error", "the token was not accepted")
            .await?;

        browser.sign_in(&host.token).await?;
        ensure!(
            browser.navigation().await?
                == [
                    "overview",
                    "tenants",
                    "modules",
                    "metrics",
                    "logs",
                    "audit",
                    "debug",
                    "business",
                    "implementations"
                ],
            "an operator sees every page"
        );
        browser.wait_text("#stat-modules", "1").await?;

        // Create a tenant: a bad id is refused with the server's message and nothing is created.
        browser.open("/ui/#/tenants").await?;
        browser.type_into("#new-tenant-id", "Not Valid").await?;
        browser.type_into("#new-tenant-name", "Broken").await?;
        browser.click("#new-tenant-submit").await?;
        browser.wait_text("#new-tenant-error", "400").await?;
        ensure!(
            api(host, &host.token, "/v1/tenants").1["tenants"]
                .as_array()
                .map(Vec::len)
                == Some(0)
        );
        browser.type_into("#new-tenant-id", "acme").await?;
        browser.type_into("#new-tenant-name", "Acme Retail").await?;
        browser.type_into("#new-tenant-features", "reservations").await?;
        browser.click("#new-tenant-submit").await?;
        browser.wait_text("#tenants-table", "Acme Retail").await?;
        let (status, tenant) = api(host, &host.token, "/v1/tenants/acme");
        ensure!(
            status == 200 && tenant["features"] == serde_json::json!(["reservations"]),
            "{tenant}"
        );

        // Promote 1.0.0, then 1.1.0, then roll back: each confirmed, each shown, each real.
        browser.click("#tenants-table a.tenant-link").await?;
        browser.wait_text("#active-inventory", "not enabled").await?;
        browser.choose("#version-inventory", "1.0.0").await?;
        browser.click_and_confirm("#promote-inventory").await?;
        browser.wait_text("#active-inventory", "1.0.0").await?;
        browser.wait_text("#result-inventory", "nothing → 1.0.0").await?;
        browser.choose("#version-inventory", "1.1.0").await?;
        browser.click("#promote-inventory").await?;
        // Cancelling the confirmation changes nothing.
        browser.click("#confirm-cancel").await?;
        ensure!(api(host, &host.token, "/v1/tenants/acme/deployments/inventory").1["active"] == "1.0.0");
        browser.click_and_confirm("#promote-inventory").await?;
        browser.wait_text("#active-inventory", "1.1.0").await?;
        ensure!(api(host, &host.token, "/v1/tenants/acme/deployments/inventory").1["active"] == "1.1.0");
        browser.click_and_confirm("#rollback-inventory").await?;
        browser.wait_text("#active-inventory", "1.0.0").await?;
        browser.wait_text("#result-inventory", "1.1.0 → 1.0.0").await?;
        let (_, deployment) = api(host, &host.token, "/v1/tenants/acme/deployments/inventory");
        ensure!(deployment["active"] == "1.0.0", "{deployment}");
        ensure!(
            deployment["history"].as_array().map(Vec::len) == Some(3),
            "{deployment}"
        );

        // The config editor comes from the schema; a value out of range is refused inline, nothing stored.
        browser.wait_for("#config-inventory-max_page_size").await?;
        browser
            .type_into("#config-inventory-max_page_size", "5000")
            .await?;
        browser.click("#config-save-inventory").await?;
        let problem = browser
            .wait_text("#config-error-inventory-max_page_size", "1000")
            .await?;
        ensure!(
            problem.contains("above the maximum"),
            "the field's own message: {problem}"
        );
        let (_, config) = api(host, &host.token, "/v1/tenants/acme/config/inventory");
        ensure!(config["version"] == 0, "nothing was stored: {config}");
        browser
            .type_into("#config-inventory-max_page_size", "250")
            .await?;
        browser.click("#config-save-inventory").await?;
        browser
            .wait_text("#config-inventory h3", "config version 1")
            .await?;
        let (_, config) = api(host, &host.token, "/v1/tenants/acme/config/inventory");
        ensure!(config["values"]["max_page_size"] == 250, "{config}");
        // The README's screenshot (docs/images/dashboard.png) is this page, without the notices.
        browser
            .client
            .execute("document.getElementById('notices').replaceChildren();", vec![])
            .await?;
        browser
            .save_screenshot(&screenshot_dir().join("dashboard-tenant.png"))
            .await?;
        Ok(())
    });
}

#[test]
fn logs_follow_live_and_charts_update_while_requests_are_made() {
    let host = Host::start();
    host.push_built("template@0.1.0", None);
    host.ok(&["tenant", "create", "acme", "--name", "Acme", "--kind", "standard"]);
    host.ok(&["promote", "acme", "template@0.1.0"]);
    let host = &host;
    Browser::run("logs-and-charts", &host.url, |browser| async move {
        browser.sign_in(&host.token).await?;
        browser.open("/ui/#/logs").await?;
        browser.choose("#logs-level", "info").await?;
        browser.click("#logs-follow").await?;
        browser.wait_text("#logs-follow", "Stop following").await?;
        // The page says so once the server answered the stream (it is subscribed by then).
        browser.wait_text("#logs-state", "following live").await?;
        let (status, request_id) = call(host, "PUT", "/t/acme/template/notes/n1", Some(r#"{"text":"hi"}"#));
        ensure!(status == 200 && !request_id.is_empty(), "status {status}");
        let row = format!("#logs-body tr[data-request-id='{request_id}']");
        browser
            .wait_text(&row, "note stored")
            .await
            .context("the logged line arrives live")?;

        // Live charts: requests made while the page is open show up without a reload.
        browser.open("/ui/#/metrics").await?;
        browser.wait_for("#chart-requests").await?;
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut seen = 0.0_f64;
        while Instant::now() < deadline && seen <= 0.0 {
            for _ in 0..10 {
                call(host, "GET", "/t/acme/template/hello/chart", None);
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
            seen = browser
                .data("#chart-requests", "last")
                .await?
                .and_then(|value| value.parse().ok())
                .unwrap_or(0.0);
        }
        ensure!(seen > 0.0, "the requests chart never showed traffic");
        let points: u32 = browser
            .data("#chart-requests", "points")
            .await?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        ensure!(points >= 1, "points: {points}");
        browser.wait_text("#chart-latency figcaption", "Latency").await?;
        Ok(())
    });
}

#[test]
fn each_role_sees_only_what_it_may() {
    let host = Host::start();
    host.push_built("template@0.1.0", None);
    host.ok(&["tenant", "create", "acme", "--name", "Acme", "--kind", "standard"]);
    host.ok(&[
        "tenant", "create", "other", "--name", "Other", "--kind", "standard",
    ]);
    host.ok(&["promote", "acme", "template@0.1.0"]);
    let viewer = token(&host, "tenant-viewer", "acme");
    let admin = token(&host, "tenant-admin", "acme");
    let invoker = token(&host, "invoker", "acme");
    let (viewer, admin, invoker) = (&viewer, &admin, &invoker);
    Browser::run("roles", &host.url, |browser| async move {
        // An invoker token is for the data plane only.
        browser.open("/ui/").await?;
        browser.type_into("#token", invoker).await?;
        browser.click("#sign-in-button").await?;
        browser
            .wait_text("#sign-in-error", "invoker tokens reach the data plane only")
            .await?;

        // A viewer: its own tenant, read only.
        browser.sign_in(viewer).await?;
        ensure!(browser.navigation().await? == ["overview", "tenants", "modules", "metrics", "logs"]);
        browser.open("/ui/#/tenants").await?;
        browser.wait_text("#tenants-table", "acme").await?;
        ensure!(
            !browser
                .text("#tenants-table")
                .await?
                .unwrap_or_default()
                .contains("other")
        );
        ensure!(
            !browser.exists("#new-tenant").await?,
            "no create form for a viewer"
        );
        browser.open("/ui/#/tenants/acme").await?;
        browser.wait_text("#active-template", "0.1.0").await?;
        ensure!(
            !browser.exists("#promote-template").await?,
            "no promote button for a viewer"
        );
        browser.wait_for("#config-template-greeting").await?;
        let disabled = browser
            .client
            .execute(
                "return document.querySelector('#config-template-greeting').disabled;",
                vec![],
            )
            .await?;
        ensure!(disabled == serde_json::json!(true), "config inputs are read only");
        browser.open("/ui/#/business").await?;
        browser
            .wait_text("#page", "There is no such page for this role")
            .await?;
        browser.open("/ui/#/tenants/other").await?;
        browser.wait_text("#page", "404").await?;
        browser.click("#sign-out").await?;
        browser.wait_for("#token").await?;
        let stored = browser
            .client
            .execute("return sessionStorage.length;", vec![])
            .await?;
        ensure!(stored == serde_json::json!(0), "signing out forgets the token");

        // A tenant admin: its own tenant, with actions, the audit and the debug tools; no business pages.
        browser.sign_in(admin).await?;
        ensure!(
            browser.navigation().await?
                == [
                    "overview", "tenants", "modules", "metrics", "logs", "audit", "debug"
                ]
        );
        browser.open("/ui/#/tenants/acme").await?;
        browser.wait_for("#promote-template").await?;
        ensure!(
            !browser.exists("#edit-tenant").await?,
            "editing the tenant record is for operators"
        );
        browser.open("/ui/#/audit").await?;
        browser.wait_for("#audit-table").await?;
        let audit = browser.text("#audit-table").await?.unwrap_or_default();
        ensure!(
            !audit.contains("other"),
            "a tenant admin's audit holds only its tenant: {audit}"
        );
        browser.open("/ui/#/debug").await?;
        browser.type_into("#debug-path", "/hello/dashboard").await?;
        browser.click("#debug-send").await?;
        browser.wait_text("#debug-status", "200").await?;
        browser.wait_text("#debug-response", "dashboard").await?;
        Ok(())
    });
    // The token never went into a URL: the access log would show it; the page kept it in session storage only.
    let (status, _) = api(&host, viewer, "/v1/tenants/other");
    assert_eq!(status, 404, "the API refuses what the page hid");
}

#[test]
fn an_operator_runs_the_business_implementation_and_debug_pages() {
    let host = Host::start();
    host.push_built("inventory@1.0.0", None);
    host.push_built("inventory@1.1.0", None);
    host.ok(&["tenant", "create", "acme", "--name", "Acme", "--kind", "standard"]);
    host.ok(&[
        "tenant", "create", "banban", "--name", "BanBan", "--kind", "custom",
    ]);
    host.ok(&["promote", "acme", "inventory@1.0.0"]);
    let host = &host;
    Browser::run("operator-pages", &host.url, |browser| async move {
        browser.sign_in(&host.token).await?;

        // Plan and monthly value, set on the tenant page, shown as MRR on the business page.
        browser.open("/ui/#/tenants/acme").await?;
        browser.click("#tenant-admin summary").await?;
        browser.type_into("#edit-plan", "growth").await?;
        browser.type_into("#edit-monthly-value", "1250.50").await?;
        browser.click("#edit-tenant-submit").await?;
        browser.wait_for("#tenant-admin").await?;
        let (_, tenant) = api(host, &host.token, "/v1/tenants/acme");
        ensure!(
            tenant["plan"] == "growth" && tenant["monthly_value_cents"] == 125_050,
            "{tenant}"
        );

        // Implementation milestones: one overdue (highlighted), one not; marking it done clears it.
        browser.type_into("#milestone-title", "Data import").await?;
        browser.set_value("#milestone-due", "2020-01-15").await?;
        browser.type_into("#milestone-assignee", "ana").await?;
        browser.click("#milestone-add").await?;
        browser
            .wait_for("#milestones-table tr.overdue[data-milestone='data-import']")
            .await?;
        browser.type_into("#milestone-title", "Go live").await?;
        browser.set_value("#milestone-due", "2099-01-01").await?;
        browser.click("#milestone-add").await?;
        browser
            .wait_for("#milestones-table tr[data-milestone='go-live']")
            .await?;
        ensure!(
            !browser
                .exists("#milestones-table tr.overdue[data-milestone='go-live']")
                .await?
        );
        browser.wait_text("#implementation-summary", "1 overdue").await?;
        browser.open("/ui/#/implementations").await?;
        browser
            .wait_text("#implementations-table tr.overdue", "acme")
            .await?;
        browser.open("/ui/#/tenants/acme").await?;
        browser.choose("#milestone-status-data-import", "done").await?;
        browser.wait_text("#implementation-summary", "0 overdue").await?;
        let (_, project) = api(host, &host.token, "/v1/tenants/acme/implementation");
        ensure!(
            project["summary"]["overdue"] == 0 && project["summary"]["done"] == 1,
            "{project}"
        );

        browser.open("/ui/#/business").await?;
        browser.wait_text("#stat-mrr", "1,250.50").await?;
        browser.wait_text("#stat-mrr-standard", "1,250.50").await?;
        browser.wait_text("#plans-table", "growth").await?;
        browser.wait_text("#business-implementations", "ongoing").await?;

        // Debug tools: smoke tests and a dry-run promote of 1.1.0 change nothing.
        browser.open("/ui/#/debug").await?;
        browser.choose("#debug-tenant", "acme").await?;
        browser.choose("#debug-module", "inventory").await?;
        browser.choose("#debug-version", "1.1.0").await?;
        browser.click("#smoke-run").await?;
        browser
            .wait_text("#smoke-summary", "every smoke test passed")
            .await?;
        browser.click("#dry-run").await?;
        browser
            .wait_text("#dry-run-summary", "a promote would pass every check")
            .await?;
        let (_, deployment) = api(host, &host.token, "/v1/tenants/acme/deployments/inventory");
        ensure!(
            deployment["active"] == "1.0.0" && deployment["history"].as_array().map(Vec::len) == Some(1),
            "{deployment}"
        );
        browser.type_into("#debug-path", "/locations").await?;
        browser.click("#debug-send").await?;
        browser.wait_text("#debug-status", "200").await?;

        // Modules: the manifests of two versions compared.
        browser.open("/ui/#/modules").await?;
        browser.choose("#diff-module", "inventory").await?;
        browser.choose("#diff-left", "1.0.0").await?;
        browser.choose("#diff-right", "1.1.0").await?;
        browser.click("#diff-run").await?;
        browser
            .wait_text("#diff-summary", "line(s) differ between 1.0.0 and 1.1.0")
            .await?;
        ensure!(
            browser.exists("#manifest-diff .added").await?,
            "added lines are marked"
        );

        // Audit: a filter, then the CSV export of what it matches.
        browser.open("/ui/#/audit").await?;
        browser.type_into("#audit-action", "implementation.").await?;
        browser.click("#audit-search").await?;
        browser
            .wait_until("#audit-table", |text| {
                text.contains("implementation.put") && !text.contains("tenant.create")
            })
            .await
            .context("only the filtered actions are listed")?;
        browser.click("#audit-export").await?;
        browser.wait_text("#notices", "audit export downloaded").await?;
        Ok(())
    });
}
