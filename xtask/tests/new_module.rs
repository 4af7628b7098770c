//! `cargo xtask new-module` end to end: scaffold outside the repo (vendored SDK), build it to a component, validate it, run its tests.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "test code: a failed expectation is a failed test"
)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn repository_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn xtask(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .output()
        .expect("xtask runs")
}

fn exported_interfaces(component: &[u8]) -> Vec<String> {
    let mut exports = modhost_registry::component::inspect(component)
        .expect("a valid component")
        .exports;
    exports.sort();
    exports
}

#[test]
fn a_scaffolded_custom_module_builds_to_a_valid_component_without_edits() {
    let scratch = tempfile::tempdir().expect("temp dir");
    let dir = scratch.path().join("stock-alerts");
    let created = xtask(&[
        "new-module",
        "stock-alerts",
        "--dir",
        dir.to_str().expect("utf-8 path"),
        "--kind",
        "custom",
    ]);
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );

    let manifest_text = std::fs::read_to_string(dir.join("module.toml")).expect("module.toml");
    let manifest = modhost_manifest_parse(&manifest_text);
    assert_eq!(manifest["module"]["id"], "stock-alerts");
    assert_eq!(manifest["module"]["kind"], "custom");
    assert_eq!(manifest["module"]["title"], "Stock Alerts");
    assert_eq!(
        manifest["component"]["path"],
        "target/wasm32-wasip2/release/stock_alerts.wasm"
    );
    assert!(
        dir.join("vendor/modhost-sdk/Cargo.toml").is_file() && dir.join("wit/v1.0.0/world.wit").is_file()
    );
    assert_eq!(manifest["endpoints"][0]["permission"], "stock-alerts.read");

    // Build exactly as the module's README says, sharing a target folder between runs for speed.
    let target_dir = repository_root().join("target").join("scaffold-test");
    let status = Command::new(env!("CARGO"))
        .args(["build", "--release", "--target", "wasm32-wasip2"])
        .env("CARGO_TARGET_DIR", &target_dir)
        .current_dir(&dir)
        .status()
        .expect("cargo runs");
    assert!(
        status.success(),
        "the scaffolded module should build without edits"
    );
    let component =
        std::fs::read(target_dir.join("wasm32-wasip2/release/stock_alerts.wasm")).expect("component");
    assert_eq!(
        exported_interfaces(&component),
        ["modhost:module/handler@1.0.0", "modhost:module/lifecycle@1.0.0"]
    );

    let tests = Command::new(env!("CARGO"))
        .arg("test")
        .env("CARGO_TARGET_DIR", &target_dir)
        .current_dir(&dir)
        .status();
    assert!(
        tests.expect("cargo runs").success(),
        "the scaffolded module's unit tests pass"
    );
}

/// Parses with the real manifest validator and returns the normalised JSON.
fn modhost_manifest_parse(text: &str) -> serde_json::Value {
    let manifest = modhost_manifest::parse(text).unwrap_or_else(|error| panic!("invalid manifest: {error}"));
    serde_json::from_str(&manifest.to_json_pretty()).expect("normalised JSON")
}

#[test]
fn bad_names_and_occupied_folders_are_refused() {
    let scratch = tempfile::tempdir().expect("temp dir");
    let refused = xtask(&[
        "new-module",
        "Stock_Alerts",
        "--dir",
        scratch.path().join("x").to_str().expect("utf-8"),
    ]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("`Stock_Alerts` cannot be a module id"),
        "{stderr}"
    );
    assert!(
        !scratch.path().join("x").exists(),
        "nothing is written for a refused name"
    );

    std::fs::write(scratch.path().join("keep.txt"), "mine").expect("write");
    let occupied = xtask(&[
        "new-module",
        "notes",
        "--dir",
        scratch.path().to_str().expect("utf-8"),
    ]);
    assert!(!occupied.status.success());
    let stderr = String::from_utf8_lossy(&occupied.stderr);
    assert!(stderr.contains("already exists and is not empty"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(scratch.path().join("keep.txt")).expect("kept"),
        "mine"
    );
    assert!(!Path::new(&scratch.path().join("module.toml")).exists());
}
