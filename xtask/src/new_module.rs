//! `cargo xtask new-module <name>`: scaffolds a module with `modhost-scaffold` (the code `modhost new` runs).
//!
//! Inside `plugins/` the new crate joins the plugins workspace and inherits its
//! versions and lints. Anywhere else it is the standalone crate `modhost new`
//! writes: its own workspace, the SDK vendored, the WIT beside it.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use modhost_scaffold::{Kind, Layout};
use toml_edit::DocumentMut;

use crate::ModuleKindArg;

/// Creates the module and prints how to build it.
pub fn run(root: &Path, name: &str, dir: Option<&Path>, kind: ModuleKindArg) -> anyhow::Result<()> {
    let plugins = root.join("plugins");
    let destination = match dir {
        Some(dir) => absolute(dir)?,
        None => plugins.join(name),
    };
    let in_plugins_workspace = destination.parent() == Some(plugins.as_path());
    let layout = if in_plugins_workspace {
        Layout::PluginsWorkspace
    } else {
        Layout::Standalone
    };
    let kind = match kind {
        ModuleKindArg::Standard => Kind::Standard,
        ModuleKindArg::Custom => Kind::Custom,
    };
    let created = modhost_scaffold::create(name, kind, &destination, layout)?;
    if in_plugins_workspace {
        add_workspace_member(&plugins, &created.id)?;
        println!("created module `{}` in {}", created.id, destination.display());
        println!("build every module:  cargo xtask build-plugins");
    } else {
        println!("created module `{}` in {}", created.id, destination.display());
        println!(
            "build and check it:  cd {} && modhost build",
            destination.display()
        );
    }
    println!("test it:             cd {} && cargo test", destination.display());
    Ok(())
}

fn add_workspace_member(plugins: &Path, member: &str) -> anyhow::Result<()> {
    let path = plugins.join("Cargo.toml");
    let mut document: DocumentMut = fs::read_to_string(&path)?
        .parse()
        .context("plugins/Cargo.toml is not valid TOML")?;
    let members = document["workspace"]["members"]
        .as_array_mut()
        .context("plugins/Cargo.toml has no members list")?;
    if !members.iter().any(|existing| existing.as_str() == Some(member)) {
        members.push(member);
    }
    fs::write(&path, document.to_string()).context("could not update plugins/Cargo.toml")
}

fn absolute(path: &Path) -> anyhow::Result<PathBuf> {
    if path.is_absolute() {
        Ok(path.to_path_buf())
    } else {
        Ok(std::env::current_dir()?.join(path))
    }
}
