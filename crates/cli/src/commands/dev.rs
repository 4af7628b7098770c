//! `modhost dev [DIR] --tenant T`: rebuild, publish a dev version and promote it on every source change.
//!
//! Sources are polled (modification time and size of every file outside
//! `target/` and hidden folders), so it works the same on every platform
//! and file system. Each change is published as `<version>-dev.<unix ms>`
//! (versions are immutable; a pre-release sorts before the release it
//! leads to) and promoted to the tenant; a failed build, check, upload or
//! promote is printed and the loop keeps watching. Between changes the
//! module's new log records for the tenant are printed as they arrive.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use modhost_api::LogRecords;
use toml_edit::value;

use crate::args::ModuleRef;
use crate::client::{path, with_query};
use crate::commands::develop::{build_and_check, edit_manifest, owner_for};
use crate::commands::module::{locate, upload};
use crate::commands::{Context, deploy};
use crate::error::CliError;
use crate::output::format_ms;

/// A file's identity for change detection: modification time and size.
type Fingerprint = BTreeMap<PathBuf, (Option<SystemTime>, u64)>;

/// Watches `dir` until interrupted.
pub fn dev(ctx: &Context, dir: &Path, tenant: &str, interval: Duration) -> Result<(), CliError> {
    let module = locate(dir)?.manifest.module.id.as_str().to_owned();
    eprintln!(
        "watching {} for changes; each one is built, published and promoted to `{tenant}` (Ctrl-C stops)",
        dir.display()
    );
    let mut seen = Fingerprint::new();
    let mut logs_after_ms = now_ms();
    loop {
        let current = fingerprint(dir);
        if current != seen {
            seen = current;
            match deploy_dev_version(ctx, dir, tenant) {
                Ok(label) => eprintln!("{label} is active for `{tenant}`; watching"),
                Err(error) => eprintln!("{}\nwatching for the next change", error.render()),
            }
            // The build may have taken a while; a change during it is picked up next round.
        }
        logs_after_ms = print_new_logs(ctx, &module, tenant, logs_after_ms);
        std::thread::sleep(interval);
    }
}

/// One round: build, check, publish `<version>-dev.<ms>`, promote; the label published.
fn deploy_dev_version(ctx: &Context, dir: &Path, tenant: &str) -> Result<String, CliError> {
    let mut built = build_and_check(dir)?;
    let version = dev_version(&built.report.version, now_ms());
    built.source.manifest_text = edit_manifest(&built.source.manifest_text, |document| {
        document["module"]["version"] = value(version.as_str());
    })?;
    built.source.label = format!("{}@{version}", built.report.module);
    let owner = owner_for(&built.manifest, Some(tenant))?;
    upload(ctx, &built.source, owner)?;
    let target = ModuleRef {
        module: built.report.module.clone(),
        version,
    };
    deploy::promote(ctx, tenant, &target, None)?;
    Ok(built.source.label)
}

/// `1.2.0` → `1.2.0-dev.<ms>`; a version that already has a pre-release keeps it: `1.2.0-rc.1` → `1.2.0-rc.1.dev.<ms>`.
fn dev_version(version: &str, ms: u64) -> String {
    let (core, build) = version
        .split_once('+')
        .map_or((version, None), |(core, build)| (core, Some(build)));
    let dev = if core.contains('-') {
        format!("{core}.dev.{ms}")
    } else {
        format!("{core}-dev.{ms}")
    };
    match build {
        Some(build) => format!("{dev}+{build}"),
        None => dev,
    }
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| {
        u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
    })
}

/// Every source file under `dir` (not `target/`, hidden folders or `Cargo.lock`) with its mtime and size.
fn fingerprint(dir: &Path) -> Fingerprint {
    let mut files = Fingerprint::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        let Ok(entries) = fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let Ok(metadata) = entry.metadata() else { continue };
            let top_level = folder == dir;
            if metadata.is_dir() {
                let skipped = name.starts_with('.') || (top_level && name == "target");
                if !skipped {
                    pending.push(path);
                }
            } else if !(top_level && name == "Cargo.lock") {
                // Cargo.lock is rewritten by the build itself; Cargo.toml changes are what matter.
                files.insert(path, (metadata.modified().ok(), metadata.len()));
            }
        }
    }
    files
}

/// Prints the tenant's log records of this module newer than `after_ms`; the newest time seen.
fn print_new_logs(ctx: &Context, module: &str, tenant: &str, after_ms: u64) -> u64 {
    let Ok(answer) = ctx.client.get_as::<LogRecords>(&with_query(
        &path(&["v1", "tenants", tenant, "logs"]),
        &[("module", Some(module.to_owned())), ("limit", Some("200".into()))],
    )) else {
        return after_ms;
    };
    let mut newest = after_ms;
    for record in answer
        .records
        .iter()
        .filter(|record| record.module == module && record.time_ms > after_ms)
    {
        let mut line = format!(
            "{} {} {}@{} [{}] {}",
            format_ms(record.time_ms),
            record.level,
            record.module,
            record.version,
            record.request_id,
            record.message
        );
        for (key, value) in &record.fields {
            line.push_str(&format!(" {key}={value}"));
        }
        println!("{line}");
        newest = newest.max(record.time_ms);
    }
    newest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_versions_are_pre_releases_of_the_declared_version() {
        assert_eq!(dev_version("0.1.0", 42), "0.1.0-dev.42");
        assert_eq!(dev_version("1.2.0-rc.1", 42), "1.2.0-rc.1.dev.42");
        assert_eq!(dev_version("1.2.0+linux", 42), "1.2.0-dev.42+linux");
        for version in ["0.1.0-dev.42", "1.2.0-rc.1.dev.42", "1.2.0-dev.42+linux"] {
            assert!(semver::Version::parse(version).is_ok(), "{version}");
        }
        let earlier =
            semver::Version::parse(&dev_version("0.1.0", 41)).unwrap_or_else(|error| panic!("{error}"));
        let later =
            semver::Version::parse(&dev_version("0.1.0", 42)).unwrap_or_else(|error| panic!("{error}"));
        assert!(earlier < later && later < semver::Version::new(0, 1, 0));
    }

    #[test]
    fn a_change_of_a_source_changes_the_fingerprint_but_target_does_not() {
        let scratch = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
        let dir = scratch.path();
        fs::create_dir_all(dir.join("src")).unwrap_or_else(|error| panic!("{error}"));
        fs::create_dir_all(dir.join("target/release")).unwrap_or_else(|error| panic!("{error}"));
        fs::write(dir.join("src/lib.rs"), "a").unwrap_or_else(|error| panic!("{error}"));
        let before = fingerprint(dir);
        fs::write(dir.join("target/release/x.wasm"), "built").unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(fingerprint(dir), before);
        fs::write(dir.join("src/lib.rs"), "ab").unwrap_or_else(|error| panic!("{error}"));
        assert_ne!(fingerprint(dir), before);
    }
}
