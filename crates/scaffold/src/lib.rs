//! Creates a new modhost module crate from the template embedded in this crate.
//!
//! `modhost new` (and `cargo xtask new-module`) call [`create`]. Two layouts:
//!
//! - [`Layout::Standalone`], anywhere outside this repository: the crate is its
//!   own `[workspace]` with the guest versions, lints and release profile
//!   written in; the SDK and the path crate it needs are vendored under
//!   `vendor/`, the WIT contract under `wit/v1.0.0/`, and the plugins lock file
//!   pins the tested versions, so the folder builds anywhere, without this
//!   checkout, and can be moved. `rust-toolchain.toml` asks rustup for the
//!   `wasm32-wasip2` target, and `component.path` in `module.toml` is where cargo
//!   writes the component (`target/wasm32-wasip2/release/<crate>.wasm`).
//!   `.cargo/config.toml` links it the way the in-tree modules are (the
//!   `[target.wasm32-wasip2]` table of `plugins/.cargo/config.toml`: a
//!   64 KiB shadow stack).
//! - [`Layout::PluginsWorkspace`], a member of this repository's `plugins/`
//!   workspace: it inherits the workspace, and `cargo xtask build-plugins`
//!   copies its component next to the manifest (`component.path = "<id>.wasm"`).
//!   Adding it to the members list is the caller's job.
//!
//! Invariant: everything written comes from the embedded files; nothing is
//! read from the disk or the network, and the scaffolded `module.toml` is
//! checked with the manifest parser the server uses before anything is written.

mod cargo_toml;
mod embedded;

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use modhost_manifest::ModuleId;
use toml_edit::{DocumentMut, value};

use crate::embedded::{EmbeddedFile, PATH, PLUGINS_CARGO_CONFIG, PLUGINS_LOCK, SDK, TEMPLATE, WIT};

/// Who a module is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Published by operators for every tenant.
    Standard,
    /// Owned by one tenant and visible only to it.
    Custom,
}

/// Where the new crate lives and so how it is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Anywhere: its own workspace, vendored SDK and WIT.
    Standalone,
    /// A member of this repository's `plugins/` workspace.
    PluginsWorkspace,
}

/// What [`create`] made.
#[derive(Debug, Clone)]
pub struct Created {
    /// The module id.
    pub id: String,
    /// The crate's folder.
    pub destination: PathBuf,
    /// Every file written, relative to `destination`.
    pub files: Vec<PathBuf>,
    /// `component.path` of the new manifest.
    pub component_path: String,
}

/// The `rust-toolchain.toml` of a standalone module: rustup installs the target on first use.
const RUST_TOOLCHAIN: &str = "# rustup reads this: the stable toolchain with the component target.\n\
[toolchain]\nchannel = \"stable\"\ntargets = [\"wasm32-wasip2\"]\n";

/// The comment over a standalone module's `[target.wasm32-wasip2]` table.
const STANDALONE_CARGO_CONFIG_HEADER: &str = "# How modhost modules are linked: a 64 KiB shadow stack (Rust's default is\n\
# 1 MiB), so a fresh instance per request touches only memory the host keeps\n\
# resident. A deeper stack traps as an out-of-bounds access; raise the size\n\
# here if your module needs more.\n";

/// The first lines of the template's `module.toml`, which speak of the repository's build.
const TEMPLATE_MANIFEST_HEADER: &str = "# The manifest of a modhost module. Reference: crates/manifest (rustdoc) and\n\
# ARCHITECTURE.md. `cargo xtask build-plugins` fills in `component.sha256`.\n";

/// Their replacement in a standalone module.
const STANDALONE_MANIFEST_HEADER: &str = "# The manifest of a modhost module; the contract is in wit/v1.0.0/.\n\
# `modhost build` checks it with the component; `modhost deploy` computes\n\
# `component.sha256` itself (if you fill it in, it must match).\n";

/// Creates module `name` in `destination` (which must be missing or empty).
pub fn create(name: &str, kind: Kind, destination: &Path, layout: Layout) -> anyhow::Result<Created> {
    let id =
        ModuleId::parse(name).map_err(|error| anyhow::anyhow!("`{name}` cannot be a module id: {error}"))?;
    if destination.exists()
        && fs::read_dir(destination)
            .with_context(|| format!("cannot read {}", destination.display()))?
            .next()
            .is_some()
    {
        bail!(
            "{} already exists and is not empty; choose another folder",
            destination.display()
        );
    }
    let standalone = layout == Layout::Standalone;
    let names = Names::new(id.as_str());
    let component_path = if standalone {
        format!(
            "target/wasm32-wasip2/release/{}.wasm",
            id.as_str().replace('-', "_")
        )
    } else {
        format!("{}.wasm", id.as_str())
    };
    let mut files: Vec<(PathBuf, String)> = Vec::new();
    for file in TEMPLATE {
        let relative = file
            .path
            .strip_prefix("plugins/template/")
            .context("an embedded template file is outside plugins/template")?;
        let text = match relative {
            "Cargo.toml" => cargo_toml::module(file.text, &names.id, standalone)?,
            "module.toml" => module_toml(file.text, &names, kind, &component_path, standalone)?,
            "README.md" => names.rename(&strip_template_only(file.text)),
            _ => names.rename(file.text),
        };
        files.push((PathBuf::from(relative), text));
    }
    if standalone {
        files.push(("rust-toolchain.toml".into(), RUST_TOOLCHAIN.to_owned()));
        files.push((".gitignore".into(), "/target\n".to_owned()));
        files.push(("Cargo.lock".into(), PLUGINS_LOCK.to_owned()));
        files.push((".cargo/config.toml".into(), standalone_cargo_config()?));
        vendor(&mut files, SDK, "crates/sdk/", "vendor/modhost-sdk")?;
        vendor(&mut files, PATH, "crates/path/", "vendor/modhost-path")?;
        for file in WIT {
            files.push((PathBuf::from(file.path), file.text.to_owned()));
        }
    }
    for (relative, text) in &files {
        let path = destination.join(relative);
        if let Some(folder) = path.parent() {
            fs::create_dir_all(folder).with_context(|| format!("cannot create {}", folder.display()))?;
        }
        fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(Created {
        id: names.id,
        destination: destination.to_path_buf(),
        files: files.into_iter().map(|(relative, _)| relative).collect(),
        component_path,
    })
}

/// Adds `group` (files under `prefix`) to `files` under `folder`, manifests made standalone.
fn vendor(
    files: &mut Vec<(PathBuf, String)>,
    group: &[EmbeddedFile],
    prefix: &str,
    folder: &str,
) -> anyhow::Result<()> {
    for file in group {
        let relative = file
            .path
            .strip_prefix(prefix)
            .context("an embedded crate file is outside its crate")?;
        let text = if relative == "Cargo.toml" {
            cargo_toml::vendored(file.text)?
        } else {
            file.text.to_owned()
        };
        files.push((Path::new(folder).join(relative), text));
    }
    Ok(())
}

/// The template's names and their replacements for the new module.
struct Names {
    id: String,
    type_name: String,
    title: String,
}

impl Names {
    fn new(id: &str) -> Self {
        let words: Vec<String> = id
            .split('-')
            .map(|word| {
                let mut chars = word.chars();
                chars
                    .next()
                    .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                    .unwrap_or_default()
            })
            .collect();
        Self {
            id: id.to_owned(),
            type_name: words.concat(),
            title: words.join(" "),
        }
    }

    fn rename(&self, text: &str) -> String {
        text.replace("Template", &self.type_name)
            .replace("template", &self.id)
    }
}

/// A standalone module's `.cargo/config.toml`: the plugins workspace's
/// `[target.wasm32-wasip2]` table (how modules are linked), with its comment.
fn standalone_cargo_config() -> anyhow::Result<String> {
    let plugins: DocumentMut = PLUGINS_CARGO_CONFIG
        .parse()
        .context("the embedded plugins/.cargo/config.toml is not TOML")?;
    let mut guest = plugins
        .get("target")
        .and_then(|target| target.get("wasm32-wasip2"))
        .and_then(toml_edit::Item::as_table)
        .context("the embedded plugins/.cargo/config.toml has no [target.wasm32-wasip2] table")?
        .clone();
    guest.decor_mut().set_prefix(STANDALONE_CARGO_CONFIG_HEADER);
    let mut config = DocumentMut::new();
    let mut target = toml_edit::Table::new();
    target.set_implicit(true);
    target.insert("wasm32-wasip2", toml_edit::Item::Table(guest));
    config.insert("target", toml_edit::Item::Table(target));
    Ok(config.to_string())
}

/// Drops the `<!-- template-only -->` … `<!-- /template-only -->` blocks.
fn strip_template_only(text: &str) -> String {
    let mut kept = String::new();
    let mut skipping = false;
    for line in text.lines() {
        match line.trim() {
            "<!-- template-only -->" => skipping = true,
            "<!-- /template-only -->" => skipping = false,
            _ if !skipping => {
                kept.push_str(line);
                kept.push('\n');
            }
            _ => {}
        }
    }
    kept
}

fn module_toml(
    text: &str,
    names: &Names,
    kind: Kind,
    component_path: &str,
    standalone: bool,
) -> anyhow::Result<String> {
    let text = if standalone {
        if !text.starts_with(TEMPLATE_MANIFEST_HEADER) {
            bail!("the embedded template module.toml does not start with the expected header");
        }
        text.replacen(TEMPLATE_MANIFEST_HEADER, STANDALONE_MANIFEST_HEADER, 1)
    } else {
        text.to_owned()
    };
    let mut document: DocumentMut = text
        .parse()
        .context("the embedded template module.toml is not valid TOML")?;
    document["module"]["id"] = value(names.id.as_str());
    document["module"]["title"] = value(names.title.as_str());
    document["module"]["version"] = value("0.1.0");
    document["module"]["kind"] = value(match kind {
        Kind::Standard => "standard",
        Kind::Custom => "custom",
    });
    document["module"]["description"] = value(format!("The {} module.", names.title));
    let renamed = names.rename(&document.to_string());
    let mut document: DocumentMut = renamed
        .parse()
        .context("the renamed module.toml is not valid TOML")?;
    document["component"]["path"] = value(component_path);
    let text = document.to_string();
    modhost_manifest::parse(&text).context("the scaffolded module.toml does not validate")?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_standalone_module_has_everything_it_builds_from() {
        let scratch = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
        let destination = scratch.path().join("stock-alerts");
        let created = create("stock-alerts", Kind::Custom, &destination, Layout::Standalone)
            .unwrap_or_else(|error| panic!("{error:#}"));
        assert_eq!(
            created.component_path,
            "target/wasm32-wasip2/release/stock_alerts.wasm"
        );
        for file in [
            "Cargo.toml",
            "Cargo.lock",
            "module.toml",
            "README.md",
            "src/lib.rs",
            "rust-toolchain.toml",
            ".gitignore",
            "vendor/modhost-sdk/Cargo.toml",
            "vendor/modhost-sdk/src/lib.rs",
            "vendor/modhost-path/src/lib.rs",
            "wit/v1.0.0/world.wit",
        ] {
            assert!(destination.join(file).is_file(), "{file} is missing");
        }
        let manifest = fs::read_to_string(destination.join("module.toml")).unwrap_or_default();
        let parsed = modhost_manifest::parse(&manifest).unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(parsed.module.id.as_str(), "stock-alerts");
        assert_eq!(
            parsed.component.path,
            "target/wasm32-wasip2/release/stock_alerts.wasm"
        );
        assert!(manifest.starts_with(STANDALONE_MANIFEST_HEADER), "{manifest}");
        assert!(
            manifest.contains("kind = \"custom\"") && manifest.contains("stock-alerts.read"),
            "{manifest}"
        );
        let lib = fs::read_to_string(destination.join("src/lib.rs")).unwrap_or_default();
        assert!(
            lib.contains("pub struct StockAlerts;") && !lib.contains("Template"),
            "{lib}"
        );
        // Linked like the in-tree modules: the same guest table, nothing else.
        let cargo_config = fs::read_to_string(destination.join(".cargo/config.toml")).unwrap_or_default();
        assert_eq!(
            cargo_config,
            format!(
                "{STANDALONE_CARGO_CONFIG_HEADER}[target.wasm32-wasip2]\nrustflags = [\"-C\", \"link-arg=-zstack-size=65536\"]\n"
            )
        );
    }

    #[test]
    fn a_workspace_member_keeps_the_component_beside_its_manifest() {
        let scratch = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
        let destination = scratch.path().join("stock-alerts");
        let created = create(
            "stock-alerts",
            Kind::Standard,
            &destination,
            Layout::PluginsWorkspace,
        )
        .unwrap_or_else(|error| panic!("{error:#}"));
        assert_eq!(created.component_path, "stock-alerts.wasm");
        assert!(!destination.join("vendor").exists() && !destination.join("rust-toolchain.toml").exists());
    }

    #[test]
    fn refusals_write_nothing() {
        let scratch = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
        let error = create(
            "Bad_Name",
            Kind::Custom,
            &scratch.path().join("x"),
            Layout::Standalone,
        )
        .err()
        .map(|error| error.to_string())
        .unwrap_or_default();
        assert!(error.starts_with("`Bad_Name` cannot be a module id: "), "{error}");
        assert!(!scratch.path().join("x").exists());
        fs::write(scratch.path().join("keep.txt"), "mine").unwrap_or_else(|error| panic!("{error}"));
        let error = create("fine", Kind::Custom, scratch.path(), Layout::Standalone)
            .err()
            .map(|error| error.to_string())
            .unwrap_or_default();
        assert_eq!(
            error,
            format!(
                "{} already exists and is not empty; choose another folder",
                scratch.path().display()
            )
        );
        assert_eq!(
            fs::read_dir(scratch.path())
                .map(Iterator::count)
                .unwrap_or_default(),
            1
        );
    }
}
