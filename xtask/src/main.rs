//! `cargo xtask`: builds the guest modules, scaffolds new ones, and runs the test and CI suites.
//!
//! The cargo-xtask pattern: project automation is a Rust program in the
//! workspace, run through the `xtask` alias in `.cargo/config.toml`, so it
//! needs nothing installed but cargo and works the same on every machine.
//! It installs what it needs (the `wasm32-wasip2` target) itself.

mod bench;
mod browser;
mod build_plugins;
mod new_module;
mod process;
mod python_module;
mod run;
mod suites;
#[cfg(test)]
mod tidy;

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "modhost's build, scaffolding and test tasks")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Build every module in plugins/ and examples/ to a component, and write each
    /// with its manifest (sha256 filled in) to target/modules/<id>@<version>/.
    BuildPlugins {
        /// Build only these packages of the plugins workspace (repeatable; default: all).
        #[arg(short, long = "package", value_name = "PACKAGE")]
        packages: Vec<String>,
    },
    /// Scaffold a new module from plugins/template.
    NewModule {
        /// The module id, in kebab-case (e.g. `stock-alerts`).
        name: String,
        /// Where to create it (default: plugins/<name>, added to the plugins workspace).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Standard (published by operators) or custom (owned by one tenant).
        #[arg(long, value_enum, default_value_t = ModuleKindArg::Standard)]
        kind: ModuleKindArg,
    },
    /// Build everything, start a local host with demo tenants, print how to use it.
    Run {
        /// The port to listen on (127.0.0.1).
        #[arg(long, default_value_t = 8080)]
        port: u16,
    },
    /// Install Chromium for the browser tests if needed, build the plugins, then run every host test and every plugin's unit tests.
    Test,
    /// What CI runs: formatting and clippy checks on both workspaces, then `test`, then `bench --quick`.
    Ci,
    /// Build the plugins, then measure the targets in BENCHMARKS.md (target/bench/results.json).
    Bench {
        /// Tiny counts and durations: only checks that the harness runs.
        #[arg(long)]
        quick: bool,
    },
}

/// The `--kind` of a new module.
#[derive(Clone, Copy, ValueEnum)]
enum ModuleKindArg {
    Standard,
    Custom,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let root = repository_root()?;
    match cli.task {
        Task::BuildPlugins { packages } => build_plugins::run_packages(&root, &packages).map(|_| ()),
        Task::NewModule { name, dir, kind } => new_module::run(&root, &name, dir.as_deref(), kind),
        Task::Run { port } => run::run(&root, port),
        Task::Test => suites::test(&root),
        Task::Ci => suites::ci(&root),
        Task::Bench { quick } => bench::run(&root, quick),
    }
}

/// The repository root: the parent of this crate's folder.
fn repository_root() -> anyhow::Result<PathBuf> {
    let xtask_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = xtask_dir
        .parent()
        .context("the xtask crate has no parent folder")?;
    Ok(root.to_path_buf())
}
