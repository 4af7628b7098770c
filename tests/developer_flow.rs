//! The developer flow through the real binary: the README quick starts run word for word, and `modhost dev`.
//!
//! The quick starts are read from README.md (every ```sh block of the
//! section) and run by bash in a temp folder outside the repository, with
//! `modhost` on the PATH (this build's binary, the one `cargo install --path
//! crates/cli` installs), `MODHOST_URL` and an operator `MODHOST_TOKEN`
//! pointing at a real server. Module crates are built by cargo for real;
//! `CARGO_TARGET_DIR` is shared between the tests to build dependencies once.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "test code: a failed expectation is a failed test"
)]

#[path = "support/host.rs"]
mod host;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use host::{BINARY, Host};

fn repository_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Where the scaffolds' cargo builds go (their dependencies are built once for all tests).
fn shared_target_dir() -> PathBuf {
    repository_root().join("target").join("scaffold-test")
}

/// Every ```sh block of README section `## {title}`, in order.
fn readme_blocks(title: &str) -> Vec<String> {
    let readme = std::fs::read_to_string(repository_root().join("README.md")).expect("README.md");
    let heading = format!("## {title}\n");
    let start = readme
        .find(&heading)
        .unwrap_or_else(|| panic!("README has no section `{title}`"))
        + heading.len();
    let section = &readme[start..];
    let section = &section[..section.find("\n## ").unwrap_or(section.len())];
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in section.lines() {
        match (&mut current, line) {
            (None, "```sh") => current = Some(String::new()),
            (Some(block), "```") => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            (Some(block), line) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    assert!(current.is_none(), "an unclosed code block in `{title}`");
    blocks
}

/// Runs `script` with bash (`-euo pipefail`) in `dir` against `host`, `modhost` on the PATH.
fn run_script(host: &Host, dir: &Path, script: &str) -> Output {
    let binary_dir = Path::new(BINARY).parent().expect("the binary's folder");
    let path = format!(
        "{}:{}",
        binary_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    Command::new("bash")
        .args(["-euo", "pipefail", "-c", script])
        .current_dir(dir)
        .env("PATH", path)
        .env("MODHOST_URL", &host.url)
        .env("MODHOST_TOKEN", &host.token)
        .env("CARGO_TARGET_DIR", shared_target_dir())
        .env_remove("CARGO")
        .output()
        .expect("bash runs")
}

fn assert_ran(output: &Output, what: &str) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{what} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// The JSON objects with a `message` in `text` (the answers of `modhost call`, among other output).
fn greetings(text: &str) -> Vec<serde_json::Value> {
    text.match_indices("{\"")
        .filter_map(|(at, _)| {
            serde_json::Deserializer::from_str(&text[at..])
                .into_iter::<serde_json::Value>()
                .next()
                .and_then(Result::ok)
        })
        .filter(|value| value.get("message").is_some())
        .collect()
}

#[test]
fn the_module_developer_quick_start_runs_as_written_outside_the_repository() {
    let host = Host::start();
    let scratch = tempfile::tempdir().expect("temp dir");
    let blocks = readme_blocks("Quick start: module developers");
    assert_eq!(blocks.len(), 1, "one shell block: {blocks:?}");
    let stdout = assert_ran(
        &run_script(&host, scratch.path(), &blocks.join("")),
        "the module developers' quick start",
    );
    assert!(stdout.contains("created module `stock-alerts`"), "{stdout}");
    assert!(
        stdout.contains("built stock-alerts@0.1.0: every check passed"),
        "{stdout}"
    );
    assert!(
        scratch
            .path()
            .join("stock-alerts/target/wasm32-wasip2/release/stock_alerts.wasm")
            .is_file(),
        "the component is where component.path says"
    );
}

#[test]
fn the_tenant_quick_start_runs_as_written_new_deploy_call_change_deploy_call_rollback() {
    let host = Host::start();
    let scratch = tempfile::tempdir().expect("temp dir");
    let blocks = readme_blocks("Quick start: tenants' custom modules");
    assert_eq!(
        blocks.len(),
        3,
        "operator, first deploy, change and roll back: {blocks:?}"
    );
    let output = run_script(&host, scratch.path(), &blocks.join(""));
    let stdout = assert_ran(&output, "the tenants' quick start");

    let answers = greetings(&stdout);
    let visits: Vec<u64> = answers
        .iter()
        .map(|answer| answer["visits"].as_u64().unwrap())
        .collect();
    assert_eq!(visits, [1, 2, 3], "{stdout}");
    assert_eq!(answers[0]["message"], "hello, world");
    assert_eq!(answers[0].get("greeted_by"), None, "0.1.0 before the change");
    assert_eq!(answers[1]["greeted_by"], "banban-grid", "0.1.1 after the change");
    assert_eq!(
        answers[2].get("greeted_by"),
        None,
        "0.1.0 again after the rollback"
    );

    let status = host.json(&["status"]);
    let route = status["routes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|route| route["tenant"] == "banban" && route["module"] == "banban-grid")
        .expect("banban-grid is routed for banban");
    assert_eq!(route["active"], "0.1.0");
    let versions = host.json(&["module", "list", "--module", "banban-grid"]);
    let owners: Vec<(String, String)> = versions["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|version| {
            (
                version["version"].as_str().unwrap().to_owned(),
                version["owner"].as_str().unwrap_or("-").to_owned(),
            )
        })
        .collect();
    assert_eq!(owners.len(), 2, "{owners:?}");
    assert!(owners.iter().all(|(_, owner)| owner == "banban"), "{owners:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains(&host.token),
        "the operator token is never printed"
    );
}

#[test]
fn modhost_dev_promotes_a_new_version_after_each_source_change_and_prints_the_modules_logs() {
    let host = Host::start();
    host.ok(&[
        "tenant", "create", "devshop", "--name", "Dev Shop", "--kind", "custom",
    ]);
    let scratch = tempfile::tempdir().expect("temp dir");
    host.ok(&[
        "new",
        "dev-loop",
        "--kind",
        "custom",
        "--dir",
        scratch.path().join("dev-loop").to_str().unwrap(),
    ]);
    let dir = scratch.path().join("dev-loop");
    let log_path = scratch.path().join("dev.out");
    struct KillOnDrop(std::process::Child);
    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _dev = KillOnDrop(
        Command::new(BINARY)
            .args(["dev", "--tenant", "devshop", "--interval-ms", "200"])
            .current_dir(&dir)
            .env("MODHOST_URL", &host.url)
            .env("MODHOST_TOKEN", &host.token)
            .env("CARGO_TARGET_DIR", shared_target_dir())
            .env_remove("CARGO")
            .stdout(std::fs::File::create(&log_path).expect("output file"))
            .stderr(Stdio::null())
            .spawn()
            .expect("modhost dev starts"),
    );
    {
        let active = |host: &Host| -> Option<String> {
            let status = host.json(&["status"]);
            status["routes"].as_array()?.iter().find_map(|route| {
                (route["tenant"] == "devshop" && route["module"] == "dev-loop")
                    .then(|| route["active"].as_str().unwrap_or_default().to_owned())
            })
        };
        // A cold build of the crate's dependencies can take minutes on a loaded 2-core machine.
        let wait_for = |what: &str, done: &dyn Fn() -> Option<String>| -> String {
            let deadline = Instant::now() + Duration::from_secs(600);
            loop {
                if let Some(found) = done() {
                    return found;
                }
                assert!(Instant::now() < deadline, "{what} did not happen in 600 s");
                std::thread::sleep(Duration::from_millis(250));
            }
        };
        let first = wait_for("the first dev version", &|| {
            active(&host).filter(|v| v.starts_with("0.1.0-dev."))
        });
        let answer = host.ok(&["call", "devshop", "dev-loop", "/hello/world"]);
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&answer)
                .unwrap()
                .get("greeted_by"),
            None
        );

        let lib = dir.join("src/lib.rs");
        let source = std::fs::read_to_string(&lib).unwrap();
        let changed = source.replace(
            "\"visits\": visits",
            "\"visits\": visits, \"greeted_by\": \"dev\"",
        );
        assert_ne!(source, changed, "the template still has the line this test edits");
        std::fs::write(&lib, changed).unwrap();
        let second = wait_for("a new dev version after the change", &|| {
            active(&host).filter(|v| v.starts_with("0.1.0-dev.") && *v != first)
        });
        assert!(
            semver::Version::parse(&second).unwrap() > semver::Version::parse(&first).unwrap(),
            "{first} -> {second}"
        );
        let answer = host.ok(&["call", "devshop", "dev-loop", "/hello/world"]);
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&answer).unwrap()["greeted_by"],
            "dev"
        );

        host.ok(&[
            "call",
            "devshop",
            "dev-loop",
            "/notes/monday",
            "-X",
            "PUT",
            "-d",
            r#"{"text":"restock"}"#,
        ]);
        wait_for("the module's log line in dev's output", &|| {
            std::fs::read_to_string(&log_path)
                .ok()
                .filter(|out| out.contains("note stored") && out.contains(&format!("dev-loop@{second}")))
        });
    }
}

/// Runs `modhost args…` in `dir` against `host`; (exit code, stdout, stderr).
fn modhost_in(host: &Host, dir: &Path, args: &[&str]) -> (i32, String, String) {
    let output = Command::new(BINARY)
        .args(args)
        .current_dir(dir)
        .env("MODHOST_URL", &host.url)
        .env("MODHOST_TOKEN", &host.token)
        .env("CARGO_TARGET_DIR", shared_target_dir())
        .env_remove("CARGO")
        .output()
        .expect("modhost runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn deploy_refusals_say_what_to_do_and_publish_nothing() {
    let host = Host::start();
    host.ok(&["tenant", "create", "shop", "--name", "Shop", "--kind", "custom"]);
    let scratch = tempfile::tempdir().expect("temp dir");
    let (code, _, stderr) = modhost_in(&host, scratch.path(), &["build"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.starts_with(&format!(
            "error: {} has no Cargo.toml; `modhost build` builds a Rust module crate",
            "."
        )),
        "{stderr}"
    );

    host.ok(&[
        "new",
        "refusals",
        "--kind",
        "custom",
        "--dir",
        scratch.path().join("refusals").to_str().unwrap(),
    ]);
    let dir = scratch.path().join("refusals");
    let (code, _, stderr) = modhost_in(&host, &dir, &["deploy", "--promote"]);
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(
        stderr.trim_end(),
        "error: --promote needs --tenant TENANT: the tenant whose active version changes"
    );
    let (code, _, stderr) = modhost_in(&host, &dir, &["deploy"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.ends_with("error: refusals is a custom module, owned by one tenant; pass --tenant TENANT\n"),
        "{stderr}"
    );

    let manifest_path = dir.join("module.toml");
    let manifest = std::fs::read_to_string(&manifest_path).unwrap();
    let zeros = "0".repeat(64);
    std::fs::write(
        &manifest_path,
        manifest.replace(
            "path = \"target/wasm32-wasip2/release/refusals.wasm\"",
            &format!("path = \"target/wasm32-wasip2/release/refusals.wasm\"\nsha256 = \"{zeros}\""),
        ),
    )
    .unwrap();
    let (code, _, stderr) = modhost_in(&host, &dir, &["deploy", "--tenant", "shop"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "error: component.sha256 in ./module.toml is {zeros}, but the component just built is "
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("; delete the field (deploy computes it) or correct it"),
        "{stderr}"
    );
    std::fs::write(&manifest_path, &manifest).unwrap();

    let lib = dir.join("src/lib.rs");
    let source = std::fs::read_to_string(&lib).unwrap();
    std::fs::write(
        &lib,
        format!("{source}\nfn broken() -> u8 {{ \"not a number\" }}\n"),
    )
    .unwrap();
    let (code, _, stderr) = modhost_in(&host, &dir, &["deploy", "--tenant", "shop"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("error: `cargo build --release --target wasm32-wasip2` failed in . (exit status: 101); see its messages above"),
        "{stderr}"
    );
    std::fs::write(&lib, &source).unwrap();

    let versions = host.json(&["module", "list", "--module", "refusals"]);
    assert_eq!(
        versions["versions"],
        serde_json::json!([]),
        "nothing was published"
    );
    let status = host.json(&["status"]);
    assert!(
        !status["routes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|route| route["module"] == "refusals"),
        "nothing was promoted"
    );

    // The same crate, fixed, deploys: the refusals left nothing behind that stands in the way.
    let (code, stdout, stderr) = modhost_in(&host, &dir, &["deploy", "--tenant", "shop", "--promote"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("published refusals@0.1.0: every check passed"),
        "{stdout}"
    );
    assert!(stdout.contains("shop/refusals: none -> 0.1.0"), "{stdout}");
}
