//! The `Cargo.toml` files of a scaffold: the module's own, and the vendored crates' with workspace fields resolved.

use anyhow::{Context as _, bail};
use toml_edit::{DocumentMut, InlineTable, Item, Table, value};

use crate::embedded::{HOST_WORKSPACE, PLUGINS_WORKSPACE};

/// Where a standalone module finds its vendored SDK, relative to its `Cargo.toml`.
pub(crate) const VENDORED_SDK: &str = "vendor/modhost-sdk";

fn parse(text: &str, what: &str) -> anyhow::Result<DocumentMut> {
    text.parse()
        .with_context(|| format!("the embedded {what} is not valid TOML"))
}

fn table<'a>(document: &'a DocumentMut, keys: &[&str], what: &str) -> anyhow::Result<&'a Table> {
    let mut item = document.as_item();
    for key in keys {
        item = item
            .get(key)
            .with_context(|| format!("the embedded {what} has no [{}]", keys.join(".")))?;
    }
    item.as_table()
        .with_context(|| format!("[{}] of the embedded {what} is not a table", keys.join(".")))
}

/// Whether a manifest entry is `{ workspace = true }` (inline or as a table).
fn inherits(item: &Item) -> bool {
    item.get("workspace").and_then(Item::as_bool) == Some(true)
}

/// The template's `Cargo.toml` for a module named `id`: a workspace member
/// as it is, or standalone with the plugins workspace's versions, lints and
/// profile written in and the SDK from [`VENDORED_SDK`].
pub(crate) fn module(template: &str, id: &str, standalone: bool) -> anyhow::Result<String> {
    let mut document = parse(template, "template Cargo.toml")?;
    document["package"]["name"] = value(id);
    if !standalone {
        return Ok(document.to_string());
    }
    let workspace = parse(PLUGINS_WORKSPACE, "plugins/Cargo.toml")?;
    let inherited_package = table(&workspace, &["workspace", "package"], "plugins/Cargo.toml")?;
    let inherited_dependencies = table(&workspace, &["workspace", "dependencies"], "plugins/Cargo.toml")?;
    let package = document["package"]
        .as_table_mut()
        .context("the embedded template has no [package]")?;
    for (key, item) in inherited_package {
        package.insert(key, item.clone());
    }
    let dependencies = document["dependencies"]
        .as_table_mut()
        .context("the embedded template has no [dependencies]")?;
    let names: Vec<String> = dependencies.iter().map(|(name, _)| name.to_owned()).collect();
    for name in names {
        let item = if name == "modhost-sdk" {
            let mut sdk = InlineTable::new();
            sdk.insert("path", VENDORED_SDK.into());
            value(sdk)
        } else {
            inherited_dependencies
                .get(&name)
                .with_context(|| format!("dependency `{name}` is not in plugins/Cargo.toml"))?
                .clone()
        };
        dependencies.insert(&name, item);
    }
    let mut lints = table(&workspace, &["workspace", "lints"], "plugins/Cargo.toml")?.clone();
    lints.set_implicit(true);
    document.insert("lints", Item::Table(lints));
    document.insert("profile", workspace["profile"].clone());
    document.insert("workspace", Item::Table(Table::new()));
    Ok(document.to_string())
}

/// A host crate's `Cargo.toml` made standalone for `vendor/`: package fields
/// and dependencies inherited from the host workspace are written in, a
/// dependency on another host crate points at its vendored sibling, and
/// lints, dev-dependencies and test targets (not vendored) are dropped.
pub(crate) fn vendored(text: &str) -> anyhow::Result<String> {
    let mut document = parse(text, "crate manifest")?;
    let host = parse(HOST_WORKSPACE, "host Cargo.toml")?;
    let host_package = table(&host, &["workspace", "package"], "host Cargo.toml")?;
    let host_dependencies = table(&host, &["workspace", "dependencies"], "host Cargo.toml")?;
    for section in ["lints", "dev-dependencies", "test", "bench"] {
        document.remove(section);
    }
    let package = document["package"]
        .as_table_mut()
        .context("a vendored crate has no [package]")?;
    let keys: Vec<String> = package.iter().map(|(key, _)| key.to_owned()).collect();
    for key in keys {
        if package.get(&key).is_some_and(inherits) {
            let item = host_package
                .get(&key)
                .with_context(|| format!("package.{key} is not in the host workspace"))?
                .clone();
            package.insert(&key, item);
        }
    }
    let Some(dependencies) = document.get_mut("dependencies").and_then(Item::as_table_like_mut) else {
        return Ok(document.to_string());
    };
    let names: Vec<String> = dependencies.iter().map(|(name, _)| name.to_owned()).collect();
    for name in names {
        let Some(local) = dependencies.get(&name) else {
            continue;
        };
        if !inherits(local) {
            continue;
        }
        let extra_features = local.get("features").cloned();
        let host_item = host_dependencies
            .get(&name)
            .with_context(|| format!("dependency `{name}` is not in the host workspace"))?;
        let mut resolved = match host_item {
            Item::Value(toml_edit::Value::String(version)) => {
                let mut inline = InlineTable::new();
                inline.insert("version", version.value().as_str().into());
                inline
            }
            other => other
                .as_inline_table()
                .cloned()
                .or_else(|| other.as_table().map(|table| table.clone().into_inline_table()))
                .with_context(|| {
                    format!("dependency `{name}` of the host workspace has an unexpected form")
                })?,
        };
        if resolved.contains_key("path") {
            if !name.starts_with("modhost-") {
                bail!("dependency `{name}` is a path dependency that is not vendored");
            }
            resolved.insert("path", format!("../{name}").into());
        }
        if let Some(features) = extra_features.as_ref().and_then(Item::as_array) {
            let mut all = resolved
                .get("features")
                .and_then(toml_edit::Value::as_array)
                .cloned()
                .unwrap_or_default();
            for feature in features {
                all.push(feature.clone());
            }
            resolved.insert("features", all.into());
        }
        dependencies.insert(&name, value(resolved));
    }
    Ok(document.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embedded::{PATH, SDK, text};

    #[test]
    fn the_vendored_sdk_has_no_workspace_fields_left() {
        let sdk = vendored(text(SDK, "crates/sdk/Cargo.toml").unwrap_or_default()).unwrap_or_default();
        assert!(!sdk.contains("workspace"), "{sdk}");
        assert!(
            sdk.contains("modhost-path = { path = \"../modhost-path\" }"),
            "{sdk}"
        );
        assert!(sdk.contains("wit-bindgen = { version = \"0.61\""), "{sdk}");
        assert!(sdk.contains("edition = \"2024\""), "{sdk}");
        let path = vendored(text(PATH, "crates/path/Cargo.toml").unwrap_or_default()).unwrap_or_default();
        assert!(
            !path.contains("workspace") && !path.contains("proptest"),
            "{path}"
        );
    }

    #[test]
    fn a_standalone_module_is_its_own_workspace_with_the_vendored_sdk() {
        let template = crate::embedded::text(crate::embedded::TEMPLATE, "plugins/template/Cargo.toml")
            .unwrap_or_default();
        let standalone = module(template, "stock-alerts", true).unwrap_or_default();
        assert!(standalone.contains("name = \"stock-alerts\""), "{standalone}");
        assert!(
            standalone.contains("modhost-sdk = { path = \"vendor/modhost-sdk\" }"),
            "{standalone}"
        );
        assert!(
            standalone.contains("[workspace]") && standalone.contains("[profile.release]"),
            "{standalone}"
        );
        assert!(!standalone.contains(".workspace = true"), "{standalone}");
        let member = module(template, "stock-alerts", false).unwrap_or_default();
        assert!(member.contains("modhost-sdk.workspace = true"), "{member}");
    }
}
