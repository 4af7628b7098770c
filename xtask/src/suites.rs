//! `cargo xtask test` and `cargo xtask ci`: the README's test command and what CI runs.

use std::path::Path;

use crate::process::{self, cargo};
use crate::{browser, build_plugins};

/// Installs the browser the dashboard tests drive, builds the plugins, then
/// runs the host workspace's tests and the plugins' unit tests.
pub fn test(root: &Path) -> anyhow::Result<()> {
    browser::ensure_chromium(root)?;
    build_plugins::run(root)?;
    let mut host_tests = cargo();
    host_tests.args(["test", "--workspace"]);
    host_tests.env("MODHOST_MODULES_DIR", root.join("target").join("modules"));
    process::run(host_tests, root)?;
    let mut plugin_tests = cargo();
    plugin_tests
        .args(["test", "--workspace", "--manifest-path"])
        .arg(plugins_manifest(root));
    process::run(plugin_tests, root)?;
    eprintln!("xtask: all tests passed");
    Ok(())
}

/// Formatting and lints on both workspaces, a quick benchmark run (so the
/// harness never rots; it asserts only that it ran), then [`test`] last, so the
/// run closes on the test results.
pub fn ci(root: &Path) -> anyhow::Result<()> {
    let mut fmt = cargo();
    fmt.args(["fmt", "--all", "--check"]);
    process::run(fmt, root)?;
    let mut fmt_plugins = cargo();
    fmt_plugins
        .args(["fmt", "--all", "--check", "--manifest-path"])
        .arg(plugins_manifest(root));
    process::run(fmt_plugins, root)?;
    let mut clippy = cargo();
    clippy.args(["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]);
    process::run(clippy, root)?;
    let mut clippy_plugins = cargo();
    clippy_plugins
        .args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--target",
            build_plugins::GUEST_TARGET,
        ])
        .arg("--manifest-path")
        .arg(plugins_manifest(root))
        .args(["--", "-D", "warnings"]);
    process::run(clippy_plugins, root)?;
    crate::bench::run(root, true)?;
    test(root)
}

fn plugins_manifest(root: &Path) -> std::path::PathBuf {
    root.join("plugins").join("Cargo.toml")
}
