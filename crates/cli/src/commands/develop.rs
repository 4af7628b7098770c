//! `modhost new | build | deploy`: create a module crate, build and check its component, publish and promote it.
//!
//! `build` runs cargo for `wasm32-wasip2` (adding the target with rustup when
//! it is missing), puts the component where `component.path` says, and checks
//! it with the validator the server runs at upload (component, imports,
//! exports, WIT version against the manifest). `deploy` then uploads it with
//! `component.sha256` computed here (a value in module.toml must match) and,
//! with `--promote`, makes it the tenant's active version.

use std::fs;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use modhost_api::PublishResult;
use modhost_manifest::{Manifest, ModuleKind};
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use toml_edit::{DocumentMut, value};

use crate::args::ModuleRef;
use crate::commands::module::{PushSource, locate, report, upload};
use crate::commands::{Context, deploy};
use crate::error::CliError;
use crate::output::{self, fields, format_bytes};

/// The target modules are built for.
const WASM_TARGET: &str = "wasm32-wasip2";

/// `modhost new NAME [--kind] [--dir]`: a standalone module crate from the embedded template.
pub fn new(name: &str, custom: bool, dir: Option<PathBuf>) -> Result<(), CliError> {
    let destination = dir.unwrap_or_else(|| PathBuf::from(name));
    let kind = if custom {
        modhost_scaffold::Kind::Custom
    } else {
        modhost_scaffold::Kind::Standard
    };
    let created = modhost_scaffold::create(name, kind, &destination, modhost_scaffold::Layout::Standalone)
        .map_err(|error| CliError::Usage(format!("{error:#}")))?;
    output::print(&format!(
        "created module `{}` in {}\n\
         build and check it:   cd {} && modhost build\n\
         unit tests:           cargo test\n\
         publish and promote:  modhost deploy --tenant <TENANT> --promote",
        created.id,
        destination.display(),
        destination.display()
    ));
    Ok(())
}

/// What a build produced and the checks found.
#[derive(Debug, Clone, Serialize)]
pub struct BuildReport {
    /// The module id.
    pub module: String,
    /// Its version.
    pub version: String,
    /// Where the component is.
    pub component: String,
    /// Its size.
    pub size_bytes: u64,
    /// Its sha256, lower-case hex.
    pub sha256: String,
    /// What it imports.
    pub imports: Vec<String>,
    /// What it exports.
    pub exports: Vec<String>,
}

/// A built and checked module, ready to upload.
pub struct Built {
    /// The manifest and component as `module push` sends them, `component.sha256` filled in.
    pub source: PushSource,
    /// The parsed manifest.
    pub manifest: Manifest,
    /// What the build produced.
    pub report: BuildReport,
}

/// `modhost build [DIR]`.
pub fn build(json: bool, dir: &Path) -> Result<(), CliError> {
    let built = build_and_check(dir)?;
    if json {
        output::print_json(&serde_json::to_value(&built.report).unwrap_or_default());
    } else {
        output::print(&describe_build(&built.report));
    }
    Ok(())
}

fn describe_build(report: &BuildReport) -> String {
    format!(
        "built {}@{}: every check passed\n{}",
        report.module,
        report.version,
        fields(&[
            ("component", report.component.clone()),
            ("size", format_bytes(report.size_bytes)),
            ("sha256", report.sha256.clone()),
            ("imports", report.imports.join(", ")),
            ("exports", report.exports.join(", ")),
        ])
    )
}

/// Builds the crate in `dir` for the component target and checks the result as the server will.
pub fn build_and_check(dir: &Path) -> Result<Built, CliError> {
    if !dir.join("Cargo.toml").is_file() {
        return Err(CliError::Usage(format!(
            "{} has no Cargo.toml; `modhost build` builds a Rust module crate \
             (build a component in another language with its own tools, then `modhost module push`)",
            dir.display()
        )));
    }
    let mut source = locate(dir)?;
    let manifest = source.manifest.clone();
    ensure_target(dir)?;
    let artifact = cargo_build(dir)?;
    place_component(&artifact, &source.component_path)?;
    let bytes = fs::read(&source.component_path).map_err(|error| {
        CliError::failed(format!(
            "cannot read {}: {error}",
            source.component_path.display()
        ))
    })?;
    let sha256 = hex::encode(Sha256::digest(&bytes));
    if let Some(declared) = &manifest.component.sha256
        && *declared != sha256
    {
        return Err(CliError::failed(format!(
            "component.sha256 in {} is {declared}, but the component just built is {sha256}; \
             delete the field (deploy computes it) or correct it",
            source.manifest_path.display()
        )));
    }
    let interface = modhost_registry::component::inspect(&bytes).map_err(|problem| CliError::Failed {
        message: format!("{} is not a usable component", source.component_path.display()),
        details: vec![problem],
    })?;
    let problems = modhost_registry::component::check_against_manifest(&manifest, &interface);
    if !problems.is_empty() {
        return Err(CliError::Failed {
            message: format!("{} does not fit its manifest or this host", source.label),
            details: problems,
        });
    }
    source.manifest_text = with_sha256(&source.manifest_text, &sha256)?;
    let report = BuildReport {
        module: manifest.module.id.as_str().to_owned(),
        version: manifest.module.version.to_string(),
        component: source.component_path.display().to_string(),
        size_bytes: u64::try_from(bytes.len()).unwrap_or(u64::MAX),
        sha256,
        imports: interface.imports,
        exports: interface.exports,
    };
    Ok(Built {
        source,
        manifest,
        report,
    })
}

/// The manifest text with `component.sha256` set (comments and layout kept).
pub fn with_sha256(manifest_text: &str, sha256: &str) -> Result<String, CliError> {
    edit_manifest(manifest_text, |document| {
        document["component"]["sha256"] = value(sha256);
    })
}

/// The manifest text after `change`, which the manifest parser must still accept.
pub fn edit_manifest(manifest_text: &str, change: impl FnOnce(&mut DocumentMut)) -> Result<String, CliError> {
    let mut document: DocumentMut = manifest_text
        .parse()
        .map_err(|error| CliError::failed(format!("module.toml is not valid TOML: {error}")))?;
    change(&mut document);
    Ok(document.to_string())
}

/// Adds the component target with rustup when it is missing (run in `dir`, so its toolchain file counts).
fn ensure_target(dir: &Path) -> Result<(), CliError> {
    let Ok(installed) = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .current_dir(dir)
        .stderr(Stdio::inherit())
        .output()
    else {
        return Ok(()); // no rustup: cargo says what is missing
    };
    if String::from_utf8_lossy(&installed.stdout)
        .lines()
        .any(|line| line.trim() == WASM_TARGET)
    {
        return Ok(());
    }
    eprintln!("adding the {WASM_TARGET} target: rustup target add {WASM_TARGET}");
    let status = Command::new("rustup")
        .args(["target", "add", WASM_TARGET])
        .current_dir(dir)
        .status()
        .map_err(|error| CliError::failed(format!("cannot run rustup: {error}")))?;
    if status.success() {
        Ok(())
    } else {
        Err(CliError::failed(format!(
            "`rustup target add {WASM_TARGET}` failed ({status}); install the target and build again"
        )))
    }
}

/// `cargo build --release --target wasm32-wasip2`; the component cargo wrote.
fn cargo_build(dir: &Path) -> Result<PathBuf, CliError> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut child = Command::new(&cargo)
        .args([
            "build",
            "--release",
            "--target",
            WASM_TARGET,
            "--message-format=json-render-diagnostics",
        ])
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|error| CliError::failed(format!("cannot run cargo: {error}; install Rust with rustup")))?;
    let mut artifact = None;
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(path) = wasm_artifact(&line) {
                artifact = Some(path);
            }
        }
    }
    let status = child
        .wait()
        .map_err(|error| CliError::failed(format!("cargo did not finish: {error}")))?;
    if !status.success() {
        return Err(CliError::failed(format!(
            "`cargo build --release --target {WASM_TARGET}` failed in {} ({status}); see its messages above",
            dir.display()
        )));
    }
    artifact.ok_or_else(|| {
        CliError::failed(format!(
            "cargo built no `.wasm` in {}; the crate needs `crate-type = [\"cdylib\", ...]` under [lib]",
            dir.display()
        ))
    })
}

/// The `.wasm` file named by one of cargo's JSON messages, if it is a compiler artifact with one.
fn wasm_artifact(line: &str) -> Option<PathBuf> {
    let message: serde_json::Value = serde_json::from_str(line).ok()?;
    if message.get("reason")?.as_str()? != "compiler-artifact" {
        return None;
    }
    message
        .get("filenames")?
        .as_array()?
        .iter()
        .filter_map(serde_json::Value::as_str)
        .find(|name| name.ends_with(".wasm"))
        .map(PathBuf::from)
}

/// Copies the component to `component.path` when cargo wrote it elsewhere (e.g. under `CARGO_TARGET_DIR`).
fn place_component(artifact: &Path, component_path: &Path) -> Result<(), CliError> {
    let same = match (fs::canonicalize(artifact), fs::canonicalize(component_path)) {
        (Ok(built), Ok(declared)) => built == declared,
        _ => false,
    };
    if same {
        return Ok(());
    }
    if let Some(folder) = component_path.parent() {
        fs::create_dir_all(folder)
            .map_err(|error| CliError::failed(format!("cannot create {}: {error}", folder.display())))?;
    }
    fs::copy(artifact, component_path).map(|_| ()).map_err(|error| {
        CliError::failed(format!(
            "cannot copy {} to {} (component.path): {error}",
            artifact.display(),
            component_path.display()
        ))
    })
}

/// Who owns an upload: a custom module belongs to `tenant`, which must be given.
pub fn owner_for(manifest: &Manifest, tenant: Option<&str>) -> Result<Option<String>, CliError> {
    match (manifest.module.kind, tenant) {
        (ModuleKind::Custom, Some(tenant)) => Ok(Some(tenant.to_owned())),
        (ModuleKind::Custom, None) => Err(CliError::Usage(format!(
            "{} is a custom module, owned by one tenant; pass --tenant TENANT",
            manifest.module.id.as_str()
        ))),
        (_, _) => Ok(None),
    }
}

/// `modhost deploy [DIR] [--tenant T] [--promote]`: build, check, upload, and optionally promote.
pub fn deploy(ctx: &Context, dir: &Path, tenant: Option<&str>, promote: bool) -> Result<(), CliError> {
    if promote && tenant.is_none() {
        return Err(CliError::Usage(
            "--promote needs --tenant TENANT: the tenant whose active version changes".into(),
        ));
    }
    let built = build_and_check(dir)?;
    let owner = owner_for(&built.manifest, tenant)?;
    let answer: PublishResult = upload(ctx, &built.source, owner)?;
    ctx.show(&answer, |answer| report(answer, &built.source.label));
    if let (true, Some(tenant)) = (promote, tenant) {
        let target = ModuleRef {
            module: built.report.module.clone(),
            version: built.report.version.clone(),
        };
        deploy::promote(ctx, tenant, &target, None)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_component_in_cargo_messages() {
        let artifact = r#"{"reason":"compiler-artifact","filenames":["/t/wasm32-wasip2/release/libx.rlib","/t/wasm32-wasip2/release/x.wasm"]}"#;
        assert_eq!(
            wasm_artifact(artifact),
            Some(PathBuf::from("/t/wasm32-wasip2/release/x.wasm"))
        );
        assert_eq!(
            wasm_artifact(r#"{"reason":"build-finished","success":true}"#),
            None
        );
        assert_eq!(wasm_artifact("not json"), None);
    }

    #[test]
    fn fills_in_the_sha256_and_keeps_comments() {
        let text = "# mine\nmanifest_version = 1\n\n[component]\npath = \"x.wasm\" # here\n";
        let filled = with_sha256(text, &"a".repeat(64)).unwrap_or_default();
        assert_eq!(
            filled,
            format!(
                "# mine\nmanifest_version = 1\n\n[component]\npath = \"x.wasm\" # here\nsha256 = \"{}\"\n",
                "a".repeat(64)
            )
        );
    }
}
