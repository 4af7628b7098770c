//! `modhost module push|list|show`: uploading a module version with a progress bar, and reading versions.

use std::fs::{self, File};
use std::io::{ErrorKind, IsTerminal};
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};
use modhost_api::{ModuleKind, ModuleVersion, PublishResult, VersionDetail, VersionList};

use crate::args::ModuleRef;
use crate::client::{path, typed, with_query};
use crate::commands::Context;
use crate::error::CliError;
use crate::multipart::{Multipart, random_boundary};
use crate::output::{fields, format_bytes, format_ms, short_hash, table};

/// What `module push` sends: the manifest's text and where its component is.
#[derive(Debug)]
pub struct PushSource {
    /// The module.toml that was read.
    pub manifest_path: PathBuf,
    /// Its text, sent as is.
    pub manifest_text: String,
    /// The module id and version, for messages.
    pub label: String,
    /// The component file, `component.path` relative to the manifest.
    pub component_path: PathBuf,
    /// The manifest as the server's parser read it.
    pub manifest: modhost_manifest::Manifest,
}

/// Finds the manifest (`target` is a folder holding `module.toml`, or the
/// manifest itself), checks it with the same parser the server uses, and
/// locates its component.
pub fn locate(target: &Path) -> Result<PushSource, CliError> {
    let manifest_path = if target.is_dir() {
        target.join("module.toml")
    } else {
        target.to_path_buf()
    };
    if manifest_path
        .extension()
        .is_some_and(|extension| extension == "wasm")
    {
        return Err(CliError::Usage(format!(
            "{} is a component; pass the folder holding its module.toml, or the module.toml itself",
            target.display()
        )));
    }
    let manifest_text = fs::read_to_string(&manifest_path).map_err(|error| match error.kind() {
        ErrorKind::NotFound if target.is_dir() => CliError::Usage(format!(
            "{} has no module.toml; pass a module's folder or its module.toml",
            target.display()
        )),
        ErrorKind::NotFound => CliError::Usage(format!("{} does not exist", target.display())),
        _ => CliError::failed(format!("cannot read {}: {error}", manifest_path.display())),
    })?;
    let manifest = modhost_manifest::parse(&manifest_text).map_err(|error| CliError::Failed {
        message: format!("{} is not a valid manifest", manifest_path.display()),
        details: error.to_string().lines().map(str::to_owned).collect(),
    })?;
    let folder = manifest_path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    Ok(PushSource {
        label: format!("{}@{}", manifest.module.id.as_str(), manifest.module.version),
        component_path: folder.join(&manifest.component.path),
        manifest_path,
        manifest_text,
        manifest,
    })
}

/// `POST /v1/modules[?owner=]` with the manifest and the component, then the validation report.
pub fn push(ctx: &Context, target: &Path, owner: Option<String>) -> Result<(), CliError> {
    let source = locate(target)?;
    let answer = upload(ctx, &source, owner)?;
    ctx.show(&answer, |answer| report(answer, &source.label));
    Ok(())
}

/// Uploads `source` with a progress bar on a terminal; the server's answer.
pub fn upload(ctx: &Context, source: &PushSource, owner: Option<String>) -> Result<PublishResult, CliError> {
    let component = File::open(&source.component_path).map_err(|error| {
        CliError::failed(format!(
            "cannot open the component {} (component.path in {}): {error}",
            source.component_path.display(),
            source.manifest_path.display()
        ))
    })?;
    let component_len = component
        .metadata()
        .map_err(|error| {
            CliError::failed(format!(
                "cannot read {}: {error}",
                source.component_path.display()
            ))
        })?
        .len();
    let file_name = source.component_path.file_name().map_or_else(
        || "component.wasm".into(),
        |name| name.to_string_lossy().into_owned(),
    );
    let boundary = random_boundary().map_err(|error| CliError::failed(error.to_string()))?;
    let multipart = Multipart::new(&boundary, &source.manifest_text, &file_name, component_len);

    let bar = progress_bar(
        component_len,
        !ctx.json && std::io::stderr().is_terminal(),
        &source.label,
    );
    let result = ctx.client.upload(
        &with_query("/v1/modules", &[("owner", owner)]),
        multipart,
        bar.wrap_read(component),
    );
    bar.finish_and_clear();
    let (_, answer) = result?;
    typed("/v1/modules", answer)
}

/// A byte progress bar on stderr, or a hidden one.
pub(crate) fn progress_bar(len: u64, visible: bool, label: &str) -> ProgressBar {
    if !visible {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    if let Ok(style) =
        ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(format!("uploading {label}"));
    bar
}

/// The upload answer for people: created, or already there.
pub fn report(answer: &PublishResult, _label: &str) -> String {
    let version = &answer.version;
    let name = format!("{}@{}", version.module, version.version);
    let head = if answer.created {
        format!("published {name}: every check passed")
    } else {
        format!("{name} is already published with this exact content; nothing changed")
    };
    format!("{head}\n{}", describe(version))
}

fn kind_name(kind: ModuleKind) -> &'static str {
    kind.name()
}

/// One version's record as aligned fields.
fn describe(version: &ModuleVersion) -> String {
    let mut pairs = vec![("kind", kind_name(version.kind).to_owned())];
    if let Some(owner) = &version.owner {
        pairs.push(("owner", owner.clone()));
    }
    pairs.extend([
        ("sha256", version.sha256.clone()),
        ("size", format_bytes(version.size_bytes)),
        ("published by", version.published_by.clone()),
        ("published", format_ms(version.published_at_ms)),
    ]);
    fields(&pairs)
}

/// `GET /v1/modules[?module=][&tenant=]`.
pub fn list(ctx: &Context, module: Option<String>, tenant: Option<String>) -> Result<(), CliError> {
    let answer: VersionList = ctx.client.get_as(&with_query(
        "/v1/modules",
        &[("module", module), ("tenant", tenant)],
    ))?;
    ctx.show(&answer, versions_table);
    Ok(())
}

fn versions_table(answer: &VersionList) -> String {
    if answer.versions.is_empty() {
        return "no module versions".into();
    }
    let rows = answer
        .versions
        .iter()
        .map(|version| {
            vec![
                version.module.clone(),
                version.version.clone(),
                kind_name(version.kind).to_owned(),
                version.owner.clone().unwrap_or_else(|| "-".into()),
                format_bytes(version.size_bytes),
                short_hash(&version.sha256),
                version.published_by.clone(),
                format_ms(version.published_at_ms),
            ]
        })
        .collect();
    table(
        &[
            "module",
            "version",
            "kind",
            "owner",
            "size",
            "sha256",
            "published by",
            "published",
        ],
        rows,
    )
}

/// `GET /v1/modules/{module}/versions/{version}`.
pub fn show(ctx: &Context, target: &ModuleRef) -> Result<(), CliError> {
    let version: VersionDetail = ctx.client.get_as(&path(&[
        "v1",
        "modules",
        &target.module,
        "versions",
        &target.version,
    ]))?;
    ctx.show(&version, |version| {
        let mut out = format!(
            "{}@{}\n{}",
            target.module,
            target.version,
            describe(&version.version)
        );
        if !version.manifest.is_null() {
            let manifest = serde_json::to_string_pretty(&version.manifest)
                .unwrap_or_else(|_| version.manifest.to_string());
            out.push_str(&format!("\n\nmanifest (normalised):\n{manifest}"));
        }
        out
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn typed<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> T {
        serde_json::from_value(value).unwrap()
    }

    const MANIFEST: &str = r#"
manifest_version = 1

[module]
id = "inventory"
version = "1.1.0"
kind = "standard"
api = "^1.0"
title = "Inventory"

[component]
path = "build/inventory.wasm"
"#;

    #[test]
    fn locates_from_a_folder_or_a_manifest() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("module.toml"), MANIFEST).unwrap();
        let from_folder = locate(dir.path()).unwrap();
        assert_eq!(from_folder.label, "inventory@1.1.0");
        assert_eq!(
            from_folder.component_path,
            dir.path().join("build/inventory.wasm")
        );
        assert_eq!(from_folder.manifest_text, MANIFEST);
        let from_file = locate(&dir.path().join("module.toml")).unwrap();
        assert_eq!(from_file.component_path, dir.path().join("build/inventory.wasm"));
    }

    #[test]
    fn refuses_what_is_not_a_module() {
        let dir = tempfile::tempdir().unwrap();
        assert!(
            matches!(locate(dir.path()), Err(CliError::Usage(message)) if message.contains("has no module.toml"))
        );
        assert!(
            matches!(locate(&dir.path().join("x.wasm")), Err(CliError::Usage(message)) if message.contains("is a component"))
        );
        fs::write(
            dir.path().join("module.toml"),
            "manifest_version = 1\n[module]\nid = \"Bad\"\n",
        )
        .unwrap();
        let Err(CliError::Failed { message, details }) = locate(dir.path()) else {
            panic!("expected an invalid manifest");
        };
        assert!(message.ends_with("is not a valid manifest"), "{message}");
        assert!(!details.is_empty());
    }

    #[test]
    fn reports_created_and_identical_uploads() {
        let version = json!({"module": "inventory", "version": "1.1.0", "kind": "custom", "owner": "banban",
            "sha256": "ab", "size_bytes": 2048, "published_by": "ops", "published_at_ms": 0});
        let created = report(&typed(json!({"created": true, "version": version})), "x@1");
        assert!(
            created.starts_with("published inventory@1.1.0: every check passed\n"),
            "{created}"
        );
        assert!(created.contains("owner:         banban"), "{created}");
        assert!(created.contains("size:          2.0 KiB"), "{created}");
        let again = report(&typed(json!({"created": false, "version": version})), "x@1");
        assert!(
            again.starts_with("inventory@1.1.0 is already published"),
            "{again}"
        );
    }

    #[test]
    fn versions_as_a_table() {
        let answer = json!({"versions": [{"module": "inventory", "version": "1.1.0", "kind": "standard",
            "owner": null, "sha256": "0123456789abcdef", "size_bytes": 10, "published_by": "ops",
            "published_at_ms": 0}]});
        assert_eq!(
            versions_table(&typed(answer)),
            "MODULE     VERSION  KIND      OWNER  SIZE  SHA256        PUBLISHED BY  PUBLISHED\n\
             inventory  1.1.0    standard  -      10 B  0123456789ab  ops           1970-01-01 00:00:00"
        );
        assert_eq!(
            versions_table(&typed(json!({"versions": []}))),
            "no module versions"
        );
    }
}
