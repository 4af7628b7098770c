//! `cargo xtask new-module <name>`: scaffolds a module from `plugins/template`, ready to build.
//!
//! Inside `plugins/` the new crate joins the plugins workspace and inherits its
//! versions and lints. Anywhere else it becomes a standalone crate: the
//! workspace's versions, lints and release profile are written into its own
//! `Cargo.toml`, and the SDK is referenced by absolute path to this checkout.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use modhost_manifest::ModuleId;
use toml_edit::{DocumentMut, Item, Table, value};

use crate::ModuleKindArg;

/// The files copied from the template; everything else (target/, editor files) is left behind.
const TEMPLATE_FILES: &[&str] = &["Cargo.toml", "module.toml", "README.md", "src/lib.rs"];

/// Creates the module and prints how to build it.
pub fn run(root: &Path, name: &str, dir: Option<&Path>, kind: ModuleKindArg) -> anyhow::Result<()> {
    let id = ModuleId::parse(name).with_context(|| format!("`{name}` cannot be a module id"))?;
    let plugins = root.join("plugins");
    let destination = match dir {
        Some(dir) => absolute(dir)?,
        None => plugins.join(id.as_str()),
    };
    if destination.exists() && fs::read_dir(&destination)?.next().is_some() {
        bail!(
            "{} already exists and is not empty; choose another --dir",
            destination.display()
        );
    }
    let in_plugins_workspace = destination.parent() == Some(plugins.as_path());
    let names = Names::new(id.as_str());
    let template = plugins.join("template");
    for file in TEMPLATE_FILES {
        let text = fs::read_to_string(template.join(file))
            .with_context(|| format!("could not read plugins/template/{file}"))?;
        let text = match *file {
            "Cargo.toml" => cargo_toml(&text, &names, in_plugins_workspace, root)?,
            "module.toml" => module_toml(&text, &names, kind)?,
            "README.md" => names.rename(&strip_template_only(&text)),
            _ => names.rename(&text),
        };
        let path = destination.join(file);
        fs::create_dir_all(path.parent().context("a template file has no folder")?)?;
        fs::write(&path, text).with_context(|| format!("could not write {}", path.display()))?;
    }
    if in_plugins_workspace {
        add_workspace_member(&plugins, id.as_str())?;
    } else {
        fs::write(destination.join(".gitignore"), "/target\n")?;
    }
    println!("created module `{}` in {}", id.as_str(), destination.display());
    println!(
        "build it:  cd {} && cargo build --release --target wasm32-wasip2",
        destination.display()
    );
    println!("test it:   cd {} && cargo test", destination.display());
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

fn module_toml(text: &str, names: &Names, kind: ModuleKindArg) -> anyhow::Result<String> {
    let mut document: DocumentMut = text
        .parse()
        .context("plugins/template/module.toml is not valid TOML")?;
    document["module"]["id"] = value(names.id.as_str());
    document["module"]["title"] = value(names.title.as_str());
    document["module"]["version"] = value("0.1.0");
    document["module"]["kind"] = value(match kind {
        ModuleKindArg::Standard => "standard",
        ModuleKindArg::Custom => "custom",
    });
    document["module"]["description"] = value(format!("The {} module.", names.title));
    document["component"]["path"] = value(format!("{}.wasm", names.id));
    let renamed = names.rename(&document.to_string());
    modhost_manifest::parse(&renamed).context("the scaffolded module.toml does not validate")?;
    Ok(renamed)
}

fn cargo_toml(text: &str, names: &Names, in_plugins_workspace: bool, root: &Path) -> anyhow::Result<String> {
    let mut document: DocumentMut = text
        .parse()
        .context("plugins/template/Cargo.toml is not valid TOML")?;
    document["package"]["name"] = value(names.id.as_str());
    if in_plugins_workspace {
        return Ok(document.to_string());
    }
    let workspace_text = fs::read_to_string(root.join("plugins").join("Cargo.toml"))?;
    let workspace: DocumentMut = workspace_text
        .parse()
        .context("plugins/Cargo.toml is not valid TOML")?;
    let inherited_package = workspace["workspace"]["package"]
        .as_table()
        .context("plugins/Cargo.toml has no [workspace.package]")?;
    let package = document["package"]
        .as_table_mut()
        .context("the template has no [package]")?;
    for (key, item) in inherited_package.iter() {
        package.insert(key, item.clone());
    }
    let inherited_dependencies = workspace["workspace"]["dependencies"]
        .as_table()
        .context("plugins/Cargo.toml has no [workspace.dependencies]")?;
    let dependencies = document["dependencies"]
        .as_table_mut()
        .context("the template has no [dependencies]")?;
    let names_of_dependencies: Vec<String> = dependencies.iter().map(|(key, _)| key.to_owned()).collect();
    for name in names_of_dependencies {
        let mut item = inherited_dependencies
            .get(&name)
            .with_context(|| format!("dependency `{name}` is not in plugins/Cargo.toml"))?
            .clone();
        if name == "modhost-sdk" {
            let sdk = root.join("crates").join("sdk");
            let mut table = toml_edit::InlineTable::new();
            table.insert("path", sdk.to_string_lossy().as_ref().into());
            item = value(table);
        }
        dependencies.insert(&name, item);
    }
    let mut lints = Table::new();
    lints.set_implicit(true);
    for (key, item) in workspace["workspace"]["lints"]
        .as_table()
        .context("plugins/Cargo.toml has no [workspace.lints]")?
        .iter()
    {
        lints.insert(key, item.clone());
    }
    document.insert("lints", Item::Table(lints));
    let profile = workspace["profile"].clone();
    document.insert("profile", profile);
    document.insert("workspace", Item::Table(Table::new()));
    Ok(document.to_string())
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
