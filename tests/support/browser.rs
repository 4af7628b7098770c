//! Headless Chromium driven over WebDriver (Debian `chromium` + `chromium-driver`), with screenshots on failure.
//!
//! [`Browser::run`] starts `chromedriver` on a free port, opens a headless
//! session and runs a scenario. When the scenario fails (an error or a
//! panic) the page is saved to `target/ui-screenshots/<name>.png` before the
//! test fails, so a red run shows what the browser saw.

#![allow(dead_code, reason = "each test file uses part of the harness")]

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use fantoccini::{Client, ClientBuilder, Locator};
use futures_util::FutureExt as _;

/// How long a wait for the page gives up after.
const PATIENCE: Duration = Duration::from_secs(20);

/// A headless browser session and the driver process behind it.
#[derive(Clone)]
pub struct Browser {
    pub client: Client,
    pub base: String,
}

/// Where failure screenshots go (also the README screenshot's source).
pub fn screenshot_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/ui-screenshots")
}

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Browser {
    /// Runs `scenario` in a fresh headless Chromium against `base` (the server's URL).
    pub fn run<F, Fut>(name: &str, base: &str, scenario: F)
    where
        F: FnOnce(Browser) -> Fut,
        Fut: Future<Output = anyhow::Result<()>>,
    {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        // A screenshot left by an earlier failed run would mislead.
        let _ = std::fs::remove_file(screenshot_dir().join(format!("{name}.png")));
        runtime.block_on(async {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .expect("free port")
                .local_addr()
                .expect("addr")
                .port();
            let _driver = Driver(
                Command::new(chromedriver())
                    .arg(format!("--port={port}"))
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("chromedriver starts (cargo xtask test installs Debian's chromium-driver)"),
            );
            let client = connect(port).await.expect("a headless Chromium session");
            let browser = Browser {
                client: client.clone(),
                base: base.to_owned(),
            };
            let outcome = AssertUnwindSafe(scenario(browser.clone())).catch_unwind().await;
            let failed = !matches!(outcome, Ok(Ok(())));
            if failed {
                let path = screenshot_dir().join(format!("{name}.png"));
                match browser.save_screenshot(&path).await {
                    Ok(()) => eprintln!("the page at failure: {}", path.display()),
                    Err(error) => eprintln!("could not save a screenshot: {error:#}"),
                }
            }
            let _ = client.close().await;
            match outcome {
                Ok(Ok(())) => {}
                Ok(Err(error)) => panic!("{name}: {error:#}"),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        });
    }

    /// Writes the current page as a PNG.
    pub async fn save_screenshot(&self, path: &std::path::Path) -> anyhow::Result<()> {
        let png = self.client.screenshot().await.context("screenshot")?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, png)?;
        Ok(())
    }

    /// Opens `path` (e.g. `/ui/#/tenants`) on the server.
    pub async fn open(&self, path: &str) -> anyhow::Result<()> {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .context("goto")?;
        Ok(())
    }

    /// Signs in with `token` on the sign-in form and waits for the navigation.
    pub async fn sign_in(&self, token: &str) -> anyhow::Result<()> {
        self.open("/ui/").await?;
        self.type_into("#token", token).await?;
        self.click("#sign-in-button").await?;
        self.wait_for("#nav-overview").await
    }

    /// Waits until `css` matches an element.
    pub async fn wait_for(&self, css: &str) -> anyhow::Result<()> {
        self.wait_until(css, |_| true).await.map(|_| ())
    }

    /// Waits until the text of the element matching `css` contains `needle`; returns the text.
    pub async fn wait_text(&self, css: &str, needle: &str) -> anyhow::Result<String> {
        self.wait_until(css, |text| text.contains(needle))
            .await
            .with_context(|| format!("`{css}` never showed {needle:?}"))
    }

    /// Polls the text of `css` until `ready` accepts it.
    pub async fn wait_until(&self, css: &str, ready: impl Fn(&str) -> bool) -> anyhow::Result<String> {
        let deadline = Instant::now() + PATIENCE;
        let mut last = None;
        while Instant::now() < deadline {
            if let Some(text) = self.text(css).await? {
                if ready(&text) {
                    return Ok(text);
                }
                last = Some(text);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(anyhow!("waited {PATIENCE:?} for `{css}`; last seen: {last:?}"))
    }

    /// The text of the first element matching `css`, or `None` if there is none.
    pub async fn text(&self, css: &str) -> anyhow::Result<Option<String>> {
        let value = self
            .client
            .execute(
                "const element = document.querySelector(arguments[0]); return element ? element.textContent : null;",
                vec![serde_json::json!(css)],
            )
            .await
            .context("reading the page")?;
        Ok(value.as_str().map(str::to_owned))
    }

    /// Whether an element matches `css` now.
    pub async fn exists(&self, css: &str) -> anyhow::Result<bool> {
        Ok(!self.client.find_all(Locator::Css(css)).await?.is_empty())
    }

    /// A data attribute (`data-<name>`) of the element matching `css`.
    pub async fn data(&self, css: &str, name: &str) -> anyhow::Result<Option<String>> {
        let value = self
            .client
            .execute(
                "const element = document.querySelector(arguments[0]); return element ? (element.dataset[arguments[1]] ?? null) : null;",
                vec![serde_json::json!(css), serde_json::json!(name)],
            )
            .await?;
        Ok(value.as_str().map(str::to_owned))
    }

    /// Clicks the element matching `css` (waiting for it first).
    pub async fn click(&self, css: &str) -> anyhow::Result<()> {
        self.wait_for(css).await?;
        self.client
            .find(Locator::Css(css))
            .await?
            .click()
            .await
            .with_context(|| format!("clicking `{css}`"))?;
        Ok(())
    }

    /// Replaces the value of the input matching `css` with `text`, typed.
    pub async fn type_into(&self, css: &str, text: &str) -> anyhow::Result<()> {
        self.wait_for(css).await?;
        let element = self.client.find(Locator::Css(css)).await?;
        element.clear().await?;
        element
            .send_keys(text)
            .await
            .with_context(|| format!("typing into `{css}`"))?;
        Ok(())
    }

    /// Sets the value of the input matching `css` as a script would (date inputs
    /// take typed keys in the browser's locale order), then fires `input` and `change`.
    pub async fn set_value(&self, css: &str, value: &str) -> anyhow::Result<()> {
        self.wait_for(css).await?;
        self.client
            .execute(
                "const element = document.querySelector(arguments[0]); element.value = arguments[1]; \
                 element.dispatchEvent(new Event('input', {bubbles: true})); element.dispatchEvent(new Event('change', {bubbles: true}));",
                vec![serde_json::json!(css), serde_json::json!(value)],
            )
            .await?;
        Ok(())
    }

    /// Picks `value` in the `<select>` matching `css`.
    pub async fn choose(&self, css: &str, value: &str) -> anyhow::Result<()> {
        self.wait_for(css).await?;
        let element = self.client.find(Locator::Css(css)).await?;
        element
            .select_by_value(value)
            .await
            .with_context(|| format!("choosing {value:?} in `{css}`"))?;
        Ok(())
    }

    /// Clicks `css`, then Confirm in the confirmation dialog it opens.
    pub async fn click_and_confirm(&self, css: &str) -> anyhow::Result<()> {
        self.click(css).await?;
        self.click("#confirm-ok").await
    }

    /// The hrefs of the navigation, in order.
    pub async fn navigation(&self) -> anyhow::Result<Vec<String>> {
        let value = self
            .client
            .execute(
                "return [...document.querySelectorAll('#nav a')].map((link) => link.dataset.page);",
                vec![],
            )
            .await?;
        let Some(pages) = value.as_array() else {
            bail!("the navigation is not a list: {value}");
        };
        Ok(pages
            .iter()
            .filter_map(|page| page.as_str().map(str::to_owned))
            .collect())
    }
}

/// Debian's chromedriver (or `CHROMEDRIVER`).
fn chromedriver() -> String {
    std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".to_owned())
}

/// Connects to the driver on `port` (retrying while it starts) with a headless Chromium.
async fn connect(port: u16) -> anyhow::Result<Client> {
    let mut capabilities = serde_json::Map::new();
    let mut args = vec![
        "--headless=new",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1400,1000",
        "--no-first-run",
    ];
    // Chromium refuses to run as root with its sandbox on (CI runs as root).
    if std::env::var("USER").as_deref() == Ok("root") || is_root() {
        args.push("--no-sandbox");
    }
    let mut options = serde_json::json!({ "args": args });
    if let Ok(binary) = std::env::var("CHROMIUM") {
        options["binary"] = serde_json::json!(binary);
    }
    capabilities.insert("goog:chromeOptions".to_owned(), options);
    let deadline = Instant::now() + PATIENCE;
    loop {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let attempt = ClientBuilder::new(connector)
            .capabilities(capabilities.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await;
        match attempt {
            Ok(client) => return Ok(client),
            Err(error) if Instant::now() > deadline => bail!("could not start a browser session: {error}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|status| {
            status
                .lines()
                .any(|line| line.starts_with("Uid:") && line.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}
