//! `cargo xtask build-plugins`: every module to a component, with its manifest, in `target/modules/`.
//!
//! For each package of the plugins workspace that has a `module.toml` beside
//! its `Cargo.toml`, the output folder `target/modules/<id>@<version>/` holds
//! the manifest with `component.sha256` filled in (formatting and comments
//! kept) and the component at the manifest's `component.path`. Tests and
//! `cargo xtask run` publish from there.
//!
//! Packages under `plugins/fixtures/` are test fixtures, not modules: they
//! have no `module.toml`, may import test-only interfaces, and are copied to
//! `target/fixtures/<folder>.wasm` for the host's tests.
//!
//! Modules written in Python (`examples/python-hello`) are built by
//! [`python_module`] with componentize-py and written here the same way.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use sha2::{Digest, Sha256};

use crate::process::{self, cargo};
use crate::python_module;

/// The guest target.
pub const GUEST_TARGET: &str = "wasm32-wasip2";

/// One built module.
pub struct BuiltModule {
    /// `<id>@<version>`.
    pub label: String,
    /// The module id.
    pub id: String,
    /// The version.
    pub version: String,
    /// Whether it is a custom module.
    pub custom: bool,
    /// Whether it declares no dependencies (published first).
    pub dependencies_empty: bool,
    /// The output folder holding `module.toml` and the component.
    pub dir: PathBuf,
}

/// Builds every plugin and writes the output folders.
pub fn run(root: &Path) -> anyhow::Result<Vec<BuiltModule>> {
    run_packages(root, &[])
}

/// Builds the named packages of the plugins workspace and the named Python
/// modules (all of both when `packages` is empty) and writes their output folders.
pub fn run_packages(root: &Path, packages: &[String]) -> anyhow::Result<Vec<BuiltModule>> {
    let (python, rust): (Vec<String>, Vec<String>) = packages
        .iter()
        .cloned()
        .partition(|package| python_module::is_python_package(package));
    let mut components = BTreeMap::new();
    if packages.is_empty() || !rust.is_empty() {
        ensure_guest_target(root)?;
        components = build_components(root, &rust)?;
    }
    if packages.is_empty() || !python.is_empty() {
        components.extend(python_module::build_components(root, &python)?);
    }
    let output_root = root.join("target").join("modules");
    let fixtures_root = root.join("plugins").join("fixtures");
    let mut built = Vec::new();
    for (package_dir, component) in &components {
        if package_dir.starts_with(&fixtures_root) {
            write_fixture(package_dir, component, &root.join("target").join("fixtures"))?;
            continue;
        }
        built.push(write_module(package_dir, component, &output_root)?);
    }
    if built.is_empty() {
        bail!("the plugins workspace built no components; is plugins/Cargo.toml listing its members?");
    }
    eprintln!(
        "xtask: built {} modules into {}",
        built.len(),
        output_root.display()
    );
    for module in &built {
        eprintln!("  {:<28} {}", module.label, module.dir.display());
    }
    Ok(built)
}

/// Installs the guest target with rustup when it is missing.
fn ensure_guest_target(root: &Path) -> anyhow::Result<()> {
    let mut list = std::process::Command::new("rustup");
    list.args(["target", "list", "--installed"]);
    let installed = process::output(list, root)
        .context("could not ask rustup for installed targets; install rustup, or the wasm32-wasip2 target")?;
    if installed.lines().any(|line| line.trim() == GUEST_TARGET) {
        return Ok(());
    }
    let mut add = std::process::Command::new("rustup");
    add.args(["target", "add", GUEST_TARGET]);
    process::run(add, root)
}

/// Builds the plugins workspace in release for the guest target; returns each
/// component by the folder of the package that produced it.
fn build_components(root: &Path, packages: &[String]) -> anyhow::Result<BTreeMap<PathBuf, PathBuf>> {
    let mut build = cargo();
    build.args(["build", "--release", "--target", GUEST_TARGET]);
    if packages.is_empty() {
        build.arg("--workspace");
    }
    for package in packages {
        build.args(["--package", package]);
    }
    build.args(["--message-format", "json-render-diagnostics", "--manifest-path"]);
    build.arg(root.join("plugins").join("Cargo.toml"));
    // Cargo reads `plugins/.cargo/config.toml` only when run from `plugins/`:
    // its guest link flags are passed on from here.
    build.env("CARGO_TARGET_WASM32_WASIP2_RUSTFLAGS", guest_rustflags(root)?);
    let messages = process::output(build, root)?;
    let mut components = BTreeMap::new();
    for line in messages.lines() {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if message["reason"] != "compiler-artifact" {
            continue;
        }
        let is_cdylib = message["target"]["kind"]
            .as_array()
            .is_some_and(|kinds| kinds.iter().any(|k| k == "cdylib"));
        let wasm = message["filenames"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|name| name.as_str())
            .find(|name| name.ends_with(".wasm"));
        let package_manifest = message["manifest_path"].as_str();
        if let (true, Some(wasm), Some(package_manifest)) = (is_cdylib, wasm, package_manifest) {
            let package_dir = Path::new(package_manifest)
                .parent()
                .context("a package manifest has no folder")?;
            components.insert(package_dir.to_path_buf(), PathBuf::from(wasm));
        }
    }
    Ok(components)
}

/// Runs the registry's upload checks on the component: the same validator a
/// host runs when the module is published.
fn check_fits_host(manifest: &modhost_manifest::Manifest, component: &[u8]) -> anyhow::Result<()> {
    let interface = modhost_registry::component::inspect(component).map_err(anyhow::Error::msg)?;
    let problems = modhost_registry::component::check_against_manifest(manifest, &interface);
    if !problems.is_empty() {
        bail!("{}", problems.join("\n"));
    }
    Ok(())
}

/// Copies a test fixture (a guest under `plugins/fixtures/`, with no
/// `module.toml`: never published) to `target/fixtures/<folder>.wasm`.
fn write_fixture(package_dir: &Path, component: &Path, fixtures_root: &Path) -> anyhow::Result<()> {
    let name = package_dir
        .file_name()
        .context("a fixture package has no folder name")?;
    fs::create_dir_all(fixtures_root)
        .with_context(|| format!("could not create {}", fixtures_root.display()))?;
    let target = fixtures_root.join(name).with_extension("wasm");
    fs::copy(component, &target)
        .with_context(|| format!("could not copy {} to {}", component.display(), target.display()))?;
    Ok(())
}

/// The lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn write_module(package_dir: &Path, component: &Path, output_root: &Path) -> anyhow::Result<BuiltModule> {
    let manifest_path = package_dir.join("module.toml");
    let text = fs::read_to_string(&manifest_path).with_context(|| {
        format!(
            "{} builds a component but has no readable module.toml",
            package_dir.display()
        )
    })?;
    let manifest =
        modhost_manifest::parse(&text).with_context(|| format!("{} is invalid", manifest_path.display()))?;
    let bytes = fs::read(component).with_context(|| format!("could not read {}", component.display()))?;
    let sha256 = sha256_hex(&bytes);

    let mut document: toml_edit::DocumentMut = text
        .parse()
        .with_context(|| format!("could not edit {}", manifest_path.display()))?;
    document["component"]["sha256"] = toml_edit::value(sha256.as_str());
    let filled = document.to_string();
    let checked = modhost_manifest::parse(&filled).with_context(|| {
        format!(
            "{} no longer parses with its sha256 filled in",
            manifest_path.display()
        )
    })?;
    checked
        .require_sha256()
        .context("the filled-in manifest has no sha256")?;
    check_fits_host(&checked, &bytes)
        .with_context(|| format!("{} does not fit the host", package_dir.display()))?;

    let label = format!("{}@{}", manifest.module.id.as_str(), manifest.module.version);
    let dir = output_root.join(&label);
    if dir.exists() {
        fs::remove_dir_all(&dir).with_context(|| format!("could not clear {}", dir.display()))?;
    }
    let component_out = dir.join(&manifest.component.path);
    let component_dir = component_out
        .parent()
        .context("the component path has no folder")?;
    fs::create_dir_all(component_dir)
        .with_context(|| format!("could not create {}", component_dir.display()))?;
    fs::write(&component_out, &bytes)
        .with_context(|| format!("could not write {}", component_out.display()))?;
    fs::write(dir.join("module.toml"), filled)
        .with_context(|| format!("could not write {}", dir.display()))?;
    Ok(BuiltModule {
        label,
        id: manifest.module.id.as_str().to_owned(),
        version: manifest.module.version.to_string(),
        custom: manifest.module.kind == modhost_manifest::ModuleKind::Custom,
        dependencies_empty: manifest.dependencies.is_empty(),
        dir,
    })
}

/// The `rustflags` of `plugins/.cargo/config.toml`'s `[target.wasm32-wasip2]`
/// table, space-separated: how every module is linked.
fn guest_rustflags(root: &Path) -> anyhow::Result<String> {
    let path = root.join("plugins").join(".cargo").join("config.toml");
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let config: toml_edit::DocumentMut = text
        .parse()
        .with_context(|| format!("{} is not TOML", path.display()))?;
    let flags = config
        .get("target")
        .and_then(|target| target.get(GUEST_TARGET))
        .and_then(|guest| guest.get("rustflags"))
        .and_then(toml_edit::Item::as_array)
        .with_context(|| format!("{} has no [target.{GUEST_TARGET}] rustflags", path.display()))?;
    let flags: Vec<&str> = flags.iter().filter_map(toml_edit::Value::as_str).collect();
    Ok(flags.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guest_link_flags_come_from_the_plugins_cargo_config() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .unwrap_or_else(|| Path::new(".."));
        let flags = guest_rustflags(root).unwrap_or_else(|error| panic!("{error:#}"));
        assert_eq!(flags, "-C link-arg=-zstack-size=65536");
    }
}
