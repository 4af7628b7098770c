//! `cargo xtask run`: a local host with demo tenants, ready to try.
//!
//! Builds the modules and the `modhost` binary, starts `modhost serve` on a
//! data directory in `.modhost/` (kept between runs), then, through the
//! `modhost` CLI itself: creates the demo tenants (`banban`, custom; `acme`,
//! standard), publishes every module, and promotes them. Everything it does is
//! idempotent, so running it again reuses the data directory. The operator
//! token is kept in `.modhost/admin-token` and passed as `MODHOST_ADMIN_TOKEN`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use crate::build_plugins::{self, BuiltModule};
use crate::process::{self, cargo};

/// Modules built only to test the runtime; never published by `run`.
const TEST_FIXTURE_MODULES: &[&str] = &["chaos"];

/// Modules a host with the default config refuses, never published by `run`:
/// python-hello's component (about 18 MB) is over the default
/// `max_component_bytes` (16 MiB); see examples/python-hello/README.md.
const OVER_DEFAULT_CAP_MODULES: &[&str] = &["python-hello"];

/// The demo tenants: id, name, kind.
const DEMO_TENANTS: &[(&str, &str, &str)] = &[
    ("banban", "BanBan Fashion", "custom"),
    ("acme", "ACME Retail", "standard"),
];

/// Starts the local host and blocks until it exits (Ctrl-C stops it).
pub fn run(root: &Path, port: u16) -> anyhow::Result<()> {
    let modules = build_plugins::run(root)?;
    let mut build = cargo();
    build.args(["build", "--package", "modhost-cli"]);
    process::run(build, root)?;
    let binary = root.join("target").join("debug").join("modhost");
    let data_dir = root.join(".modhost");
    fs::create_dir_all(&data_dir).with_context(|| format!("could not create {}", data_dir.display()))?;
    let token = admin_token(&data_dir)?;
    let url = format!("http://127.0.0.1:{port}");

    let mut server = Command::new(&binary)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data"])
        .arg(&data_dir)
        .env("MODHOST_ADMIN_TOKEN", &token)
        .spawn()
        .with_context(|| format!("could not start {}", binary.display()))?;
    let seeded = wait_until_up(&binary, &url, &token, &mut server)
        .and_then(|()| seed(&binary, &url, &token, &modules));
    if let Err(error) = seeded {
        let _ = server.kill();
        return Err(error);
    }
    print_banner(&url, &token, &binary);
    let status = server.wait().context("the server process could not be awaited")?;
    if !status.success() {
        bail!("modhost serve exited with {status}");
    }
    Ok(())
}

/// The operator token of this data directory, created on the first run.
fn admin_token(data_dir: &Path) -> anyhow::Result<String> {
    let path = data_dir.join("admin-token");
    if let Ok(token) = fs::read_to_string(&path) {
        return Ok(token.trim().to_owned());
    }
    let mut bytes = [0_u8; 32];
    getrandom::fill(&mut bytes).map_err(|error| anyhow::anyhow!("no randomness available: {error}"))?;
    let token = format!("mh_{}", hex::encode(bytes));
    fs::write(&path, &token).with_context(|| format!("could not write {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600))?;
    }
    Ok(token)
}

fn cli(binary: &Path, url: &str, token: &str) -> Command {
    let mut command = Command::new(binary);
    command.env("MODHOST_URL", url).env("MODHOST_TOKEN", token);
    command
}

fn wait_until_up(binary: &Path, url: &str, token: &str, server: &mut Child) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Some(status) = server.try_wait()? {
            bail!("modhost serve exited with {status} before it was ready (is port {url} taken?)");
        }
        let probe = cli(binary, url, token).args(["status", "--json"]).output()?;
        if probe.status.success() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    bail!("modhost serve did not answer on {url} within 60 s")
}

/// Runs a CLI command, accepting failures whose message contains `tolerated`.
fn step(binary: &Path, url: &str, token: &str, args: &[&str], tolerated: Option<&str>) -> anyhow::Result<()> {
    let output = cli(binary, url, token).args(args).output()?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if output.status.success() || tolerated.is_some_and(|text| stderr.contains(text)) {
        return Ok(());
    }
    bail!("`modhost {}` failed: {}", args.join(" "), stderr.trim())
}

fn seed(binary: &Path, url: &str, token: &str, modules: &[BuiltModule]) -> anyhow::Result<()> {
    for (id, name, kind) in DEMO_TENANTS {
        step(
            binary,
            url,
            token,
            &["tenant", "create", id, "--name", name, "--kind", kind],
            Some("already exists"),
        )?;
    }
    let mut demo: Vec<&BuiltModule> = modules
        .iter()
        .filter(|module| {
            !TEST_FIXTURE_MODULES.contains(&module.id.as_str())
                && !OVER_DEFAULT_CAP_MODULES.contains(&module.id.as_str())
        })
        .collect();
    // Standard before custom, modules without dependencies first, and each
    // module's versions oldest first; every version is pushed, only the newest
    // is promoted (promoting an older one over newer data would be refused).
    demo.sort_by_key(|module| {
        (
            module.custom,
            !module.dependencies_empty,
            module.id.clone(),
            semver::Version::parse(&module.version).ok(),
        )
    });
    for (index, module) in demo.iter().enumerate() {
        let dir: PathBuf = module.dir.clone();
        let dir = dir.to_string_lossy().into_owned();
        let target = format!("{}@{}", module.id, module.version);
        let newest = demo.get(index + 1).is_none_or(|next| next.id != module.id);
        let (push_owner, tenants): (&[&str], Vec<&str>) = if module.custom {
            (&["--owner", "banban"], vec!["banban"])
        } else {
            (&[], DEMO_TENANTS.iter().map(|(id, _, _)| *id).collect())
        };
        let mut push = vec!["module", "push", dir.as_str()];
        push.extend_from_slice(push_owner);
        step(binary, url, token, &push, None)?;
        if newest {
            for tenant in tenants {
                step(binary, url, token, &["promote", tenant, &target], None)?;
            }
        }
    }
    Ok(())
}

fn print_banner(url: &str, token: &str, binary: &Path) {
    let binary = binary.display();
    println!(
        "\nmodhost is running at {url}  (Ctrl-C stops it; data in .modhost/)\n\n\
         operator token: {token}\n\n\
         dashboard: {url}/ui/  (sign in with the operator token)\n\n\
         try:\n\
         \x20 export MODHOST_URL={url} MODHOST_TOKEN={token}\n\
         \x20 {binary} tenant list\n\
         \x20 {binary} status\n\
         \x20 {binary} call acme template /hello/world\n\
         \x20 {binary} call acme inventory /locations/sp-01 -X PUT -d '{{\"name\": \"Sao Paulo\"}}'\n\
         \x20 {binary} call banban banban /transfers/suggestions\n\
         \x20 curl -H \"authorization: Bearer $MODHOST_TOKEN\" {url}/t/acme/template/hello/world\n\
         \x20 curl -H \"authorization: Bearer $MODHOST_TOKEN\" {url}/v1/tenants/banban/context\n"
    );
}
