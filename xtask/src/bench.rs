//! `cargo xtask bench`: build the modules, then run the benchmark harness (crates/bench) in release.

use std::path::Path;

use crate::build_plugins;
use crate::process::{self, cargo};

/// Builds the plugins and runs `modhost-bench`; results go to target/bench/results.json.
pub fn run(root: &Path, quick: bool) -> anyhow::Result<()> {
    build_plugins::run(root)?;
    let target = root.join("target");
    let mut bench = cargo();
    bench.args(["run", "--release", "-p", "modhost-bench", "--"]);
    if quick {
        bench.arg("--quick");
    }
    bench
        .arg("--modules")
        .arg(target.join("modules"))
        .arg("--out")
        .arg(target.join("bench"));
    process::run(bench, root)
}
