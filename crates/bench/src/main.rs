//! `modhost-bench`: measures the targets in BENCHMARKS.md in one run and writes `results.json`.
//!
//! Run it through `cargo xtask bench [--quick]`, which builds the modules
//! first. Every figure is printed and stored under one flat key (e.g.
//! `in_process.trivial.p50_us`); BENCHMARKS.md records a full run.

mod density;
mod http;
mod in_process;
mod support;
mod wasi_http;

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Parser;

/// Command line of the harness.
#[derive(Parser)]
#[command(name = "modhost-bench", about = "modhost's benchmark harness")]
struct Args {
    /// Tiny counts and durations: checks that the harness runs, measures nothing meaningful.
    #[arg(long)]
    quick: bool,
    /// Where `cargo xtask build-plugins` put the modules.
    #[arg(long)]
    modules: PathBuf,
    /// Where to write `results.json`.
    #[arg(long)]
    out: PathBuf,
    /// Runs only this measurement: `density`, `compile-cache`, `in-process` or `http`.
    #[arg(long)]
    only: Option<String>,
}

/// How much work each measurement does.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Calls per in-process series.
    pub calls: usize,
    /// Duration of each HTTP load run.
    pub http_seconds: u64,
    /// Keep-alive connections of the load client.
    pub connections: usize,
    /// Promote/rollback flips during the swap run.
    pub flips: usize,
    /// Custom module versions with distinct bytes (each one compiled) for the density run.
    pub tenants: usize,
    /// Custom module versions sharing one component's bytes for the density run.
    pub resident: usize,
}

/// The figures of a run, by flat key.
pub type Results = BTreeMap<String, f64>;

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let plan = if args.quick {
        Plan {
            calls: 200,
            http_seconds: 1,
            connections: 32,
            flips: 20,
            tenants: 20,
            resident: 100,
        }
    } else {
        Plan {
            calls: 20_000,
            http_seconds: 10,
            connections: 32,
            flips: 1_000,
            tenants: 300,
            resident: 10_000,
        }
    };
    let modules = support::Modules::new(&args.modules)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("could not start tokio")?;
    let started = std::time::Instant::now();
    let mut results = Results::new();
    let wants = |name: &str| args.only.as_deref().is_none_or(|only| only == name);
    runtime.block_on(async {
        // Density first, so its RSS delta is not hidden by memory freed by earlier runs.
        if wants("density") {
            density::density(&modules, plan, &mut results).await?;
        }
        if wants("compile-cache") {
            density::compile_cache(&modules, &mut results)?;
        }
        if wants("in-process") {
            in_process::run(&modules, plan, &mut results).await?;
        }
        if wants("http") {
            http::run(&modules, plan, &mut results).await?;
        }
        anyhow::Ok(())
    })?;
    results.insert("run.quick".into(), if args.quick { 1.0 } else { 0.0 });
    results.insert("run.wall_s".into(), started.elapsed().as_secs_f64());
    print_table(&results);
    std::fs::create_dir_all(&args.out).with_context(|| format!("could not create {}", args.out.display()))?;
    let path = args.out.join("results.json");
    std::fs::write(&path, serde_json::to_string_pretty(&results)?)
        .with_context(|| format!("could not write {}", path.display()))?;
    println!("wrote {}", path.display());
    if args.quick && wants("http") {
        // Every peer must have served, and answered nothing but 2xx.
        for peer in http::PEERS {
            let figure = |name: &str| {
                results
                    .get(&format!("http.{peer}.{name}"))
                    .copied()
                    .unwrap_or(0.0)
            };
            anyhow::ensure!(
                figure("requests") > 0.0,
                "the quick run: peer {peer} served no request"
            );
            anyhow::ensure!(
                figure("failed") == 0.0,
                "the quick run: peer {peer} failed requests"
            );
        }
    }
    Ok(())
}

fn print_table(results: &Results) {
    let width = results.keys().map(String::len).max().unwrap_or(0);
    println!("{:width$}  value", "figure");
    println!("{:-<width$}  -----", "");
    for (key, value) in results {
        if value.fract() == 0.0 && value.abs() < 1e15 {
            println!("{key:width$}  {value:.0}");
        } else {
            println!("{key:width$}  {value:.2}");
        }
    }
}
