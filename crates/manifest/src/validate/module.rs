//! Checks `[module]`, `[component]` and `[dependencies]`.

use std::collections::{BTreeMap, BTreeSet};

use semver::{Version, VersionReq};

use super::{FirstSeen, description, listed_twice, optional, text};
use crate::error::Problems;
use crate::keywords::parse_keyword;
use crate::names::check_icon;
use crate::raw::{RawComponent, RawModule};
use crate::text::{field_index, field_key, has_control, quoted};
use crate::{Capability, Component, ModuleId, ModuleInfo};

/// The longest title, in characters.
const MAX_TITLE_CHARS: usize = 64;
/// How a SHA-256 is written.
const SHA256_FORM: &str = "a sha256 is 64 lower-case hex characters";

pub(super) fn module(raw: &RawModule, problems: &mut Problems) -> Option<ModuleInfo> {
    let id = problems.check("module.id", ModuleId::parse(&raw.id));
    let version = problems.check("module.version", version(&raw.version));
    let kind = problems.check("module.kind", parse_keyword(&raw.kind, "a module kind"));
    let api = problems.check("module.api", version_req(&raw.api));
    let title = problems.check("module.title", title(&raw.title));
    let icon = optional(problems, "module.icon", raw.icon.as_deref(), check_icon);
    let description = description(problems, "module.description", raw.description.as_deref());
    let capabilities = capabilities(&raw.capabilities, problems);
    Some(ModuleInfo {
        id: id?,
        version: version?,
        kind: kind?,
        api: api?,
        title: title?,
        icon: icon?,
        description: description?,
        capabilities: capabilities?,
    })
}

fn version(version: &str) -> Result<Version, String> {
    Version::parse(version).map_err(|error| {
        format!(
            "{} is not a semantic version like `1.2.0`: {error}",
            quoted(version)
        )
    })
}

pub(super) fn version_req(requirement: &str) -> Result<VersionReq, String> {
    VersionReq::parse(requirement).map_err(|error| {
        format!(
            "{} is not a version requirement like `^1.0`: {error}",
            quoted(requirement)
        )
    })
}

fn title(title: &str) -> Result<String, String> {
    if title.trim().is_empty() {
        return Err("is empty; give the module a short name for the navigation, like `Inventory`".to_owned());
    }
    text(title, MAX_TITLE_CHARS, false)
}

fn capabilities(names: &[String], problems: &mut Problems) -> Option<BTreeSet<Capability>> {
    let mut first_seen = FirstSeen::new();
    let checked: Vec<Option<Capability>> = names
        .iter()
        .enumerate()
        .map(|(index, name)| {
            let field = field_index("module.capabilities", index);
            let capability = problems.check(&field, parse_keyword::<Capability>(name, "a capability"))?;
            match first_seen.earlier(capability, index) {
                Some(_) => {
                    problems.add(field, listed_twice(name, "capability"));
                    None
                }
                None => Some(capability),
            }
        })
        .collect();
    super::all(checked).map(BTreeSet::from_iter)
}

pub(super) fn component(raw: &RawComponent, problems: &mut Problems) -> Option<Component> {
    let path = problems.check("component.path", component_path(&raw.path));
    let sha256 = optional(problems, "component.sha256", raw.sha256.as_deref(), sha256);
    Some(Component {
        path: path?,
        sha256: sha256?,
    })
}

fn component_path(path: &str) -> Result<String, String> {
    let shown = quoted(path);
    if path.is_empty() {
        Err("is empty; give the path of the `.wasm` file, relative to module.toml".to_owned())
    } else if path.starts_with('/') {
        Err(format!(
            "{shown} is absolute; give a path relative to module.toml"
        ))
    } else if path.contains('\\') {
        Err(format!("{shown} uses `\\`; separate directories with `/`"))
    } else if path.split('/').any(|segment| segment == "..") {
        Err(format!(
            "{shown} climbs out with `..`; keep the component beside module.toml or below it"
        ))
    } else if has_control(path) {
        Err(format!(
            "{shown} holds a control character; use a plain file name"
        ))
    } else if !path.ends_with(".wasm") {
        Err(format!(
            "{shown} does not end with `.wasm`; point at the component file"
        ))
    } else {
        Ok(path.to_owned())
    }
}

fn sha256(hex: &str) -> Result<String, String> {
    let length = hex.chars().count();
    if length != 64 {
        Err(format!("is {length} characters long; {SHA256_FORM}"))
    } else if let Some(bad) = hex.chars().find(|c| !c.is_ascii_hexdigit()) {
        Err(format!(
            "{} is not a hex digit; {SHA256_FORM}",
            quoted(&bad.to_string())
        ))
    } else if hex.chars().any(|c| c.is_ascii_uppercase()) {
        Err(format!("has upper-case hex digits; {SHA256_FORM}"))
    } else {
        Ok(hex.to_owned())
    }
}

pub(super) fn dependencies(
    raw: &BTreeMap<String, String>,
    module: &RawModule,
    problems: &mut Problems,
) -> Option<BTreeMap<ModuleId, VersionReq>> {
    let checked: Vec<Option<(ModuleId, VersionReq)>> = raw
        .iter()
        .map(|(name, requirement)| {
            let field = field_key("dependencies", name);
            let id = problems.check(&field, dependency_id(name, &module.id));
            let requirement = problems.check(&field, version_req(requirement));
            Some((id?, requirement?))
        })
        .collect();
    if !raw.is_empty()
        && !module
            .capabilities
            .iter()
            .any(|name| name == Capability::Modules.name())
    {
        problems.add(
            "dependencies",
            "calling other modules needs the `modules` capability; add \"modules\" to module.capabilities",
        );
    }
    super::all(checked).map(BTreeMap::from_iter)
}

fn dependency_id(name: &str, own_id: &str) -> Result<ModuleId, String> {
    if name == own_id {
        return Err("a module cannot depend on itself; remove this entry".to_owned());
    }
    ModuleId::parse(name).map_err(|error| error.to_string())
}
