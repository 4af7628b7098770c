//! What a component imports and exports, read with `wasmparser`, and the upload checks on it.
//!
//! The registry never runs a component; it only reads its outer type: the
//! names of its top-level imports and exports. That is enough to check it
//! targets a host WIT version the manifest's `api` accepts, exports the world's
//! interfaces, and imports only what the host provides and the manifest grants.
//!
//! WIT versions are semver: a minor release of `modhost:module` only adds, so
//! a host implementing 1.N accepts every 1.M with M ≤ N (any patch), and
//! refuses a newer minor or another major ([`check_api_version`]).

use modhost_manifest::{Capability, Manifest};
use semver::Version;

/// The newest version of each major of `modhost:module` this host implements;
/// every earlier minor of that major (any patch) is accepted too.
pub const SUPPORTED_API_VERSIONS: &[Version] = &[Version::new(1, 0, 0)];

/// Whether this host can run a component built against `modhost:module@version`:
/// `Ok` for the same major at a minor no newer than the host's, else why not.
pub fn check_api_version(version: &Version) -> Result<(), String> {
    if !version.pre.is_empty() || !version.build.is_empty() {
        return Err(not_implemented(version));
    }
    let Some(newest) = SUPPORTED_API_VERSIONS
        .iter()
        .find(|supported| supported.major == version.major)
    else {
        return Err(not_implemented(version));
    };
    if version.minor > newest.minor {
        return Err(format!(
            "the component targets {PACKAGE}@{version}, newer than this host implements ({PACKAGE}@{newest}); upgrade modhost or build against {PACKAGE}@{}.{}",
            newest.major, newest.minor
        ));
    }
    Ok(())
}

/// The WIT package every module targets.
const PACKAGE: &str = "modhost:module";

/// WASI interfaces a module may import. Rust's standard library imports the
/// CLI and I/O ones for stdio and exit; the host links them with no
/// environment, no arguments, no preopened directories and no network.
///
/// The `wasi:sockets` ones are accepted for the same reason the filesystem
/// ones are: toolchains built on wasi-libc (CPython through componentize-py,
/// for one) import them whether or not the code touches the network. The
/// host links them with every use refused (no TCP or UDP socket can be
/// created, no name resolved, no address allowed: see the runtime's
/// `caps/wasi.rs`), so importing them grants nothing.
const ALLOWED_WASI_INTERFACES: &[&str] = &[
    "wasi:cli/environment",
    "wasi:cli/exit",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    "wasi:cli/terminal-input",
    "wasi:cli/terminal-output",
    "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout",
    "wasi:cli/terminal-stderr",
    "wasi:clocks/monotonic-clock",
    "wasi:clocks/wall-clock",
    "wasi:filesystem/preopens",
    "wasi:filesystem/types",
    "wasi:io/error",
    "wasi:io/poll",
    "wasi:io/streams",
    "wasi:random/insecure",
    "wasi:random/insecure-seed",
    "wasi:random/random",
    "wasi:sockets/instance-network",
    "wasi:sockets/ip-name-lookup",
    "wasi:sockets/network",
    "wasi:sockets/tcp",
    "wasi:sockets/tcp-create-socket",
    "wasi:sockets/udp",
    "wasi:sockets/udp-create-socket",
];

/// The outer type of a component: its top-level import and export names.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ComponentInterface {
    /// Import names such as `modhost:module/kv@1.0.0`.
    pub imports: Vec<String>,
    /// Export names such as `modhost:module/handler@1.0.0`.
    pub exports: Vec<String>,
}

/// Validates `bytes` as a component and reads its outer type.
pub fn inspect(bytes: &[u8]) -> Result<ComponentInterface, String> {
    if !wasmparser::Parser::is_component(bytes) {
        return Err(if wasmparser::Parser::is_core_wasm(bytes) {
            "the file is a core WebAssembly module, not a component; build for wasm32-wasip2".to_owned()
        } else {
            "the file is not WebAssembly".to_owned()
        });
    }
    let mut validator = wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all());
    validator
        .validate_all(bytes)
        .map_err(|error| format!("the component is not valid: {error}"))?;
    let mut interface = ComponentInterface::default();
    let mut depth = 0_usize;
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(|error| format!("the component is not valid: {error}"))?;
        match payload {
            wasmparser::Payload::ModuleSection { .. } | wasmparser::Payload::ComponentSection { .. } => {
                depth += 1
            }
            wasmparser::Payload::End(_) => depth = depth.saturating_sub(1),
            wasmparser::Payload::ComponentImportSection(section) if depth == 0 => {
                for import in section {
                    let import = import.map_err(|error| format!("the component is not valid: {error}"))?;
                    interface.imports.push(import.name.name.to_owned());
                }
            }
            wasmparser::Payload::ComponentExportSection(section) if depth == 0 => {
                for export in section {
                    let export = export.map_err(|error| format!("the component is not valid: {error}"))?;
                    interface.exports.push(export.name.name.to_owned());
                }
            }
            _ => {}
        }
    }
    Ok(interface)
}

/// Splits `ns:pkg/interface@version` into the unversioned name and the version.
fn split_versioned(name: &str) -> (&str, Option<&str>) {
    match name.split_once('@') {
        Some((interface, version)) => (interface, Some(version)),
        None => (name, None),
    }
}

/// Every way `interface` does not fit `manifest` and this host; empty when it fits.
pub fn check_against_manifest(manifest: &Manifest, interface: &ComponentInterface) -> Vec<String> {
    let mut problems = Vec::new();
    let api_version = match world_version(interface) {
        Ok(version) => Some(version),
        Err(problem) => {
            problems.push(problem);
            None
        }
    };
    if let Some(version) = &api_version {
        if let Err(problem) = check_api_version(version) {
            problems.push(problem);
        }
        if !manifest.module.api.matches(version) {
            problems.push(format!(
                "the component targets {PACKAGE}@{version}, but module.api is `{}`; rebuild it or change api",
                manifest.module.api
            ));
        }
    }
    for import in &interface.imports {
        if let Some(problem) = check_import(manifest, import, api_version.as_ref()) {
            problems.push(problem);
        }
    }
    problems
}

/// The `modhost:module` version the exports target, requiring both world exports at one version.
fn world_version(interface: &ComponentInterface) -> Result<Version, String> {
    let mut versions = Vec::new();
    for required in ["handler", "lifecycle"] {
        let wanted = format!("{PACKAGE}/{required}");
        let found = interface
            .exports
            .iter()
            .find_map(|export| match split_versioned(export) {
                (name, Some(version)) if name == wanted => Some(version),
                _ => None,
            });
        match found {
            None => {
                return Err(format!(
                    "the component does not export `{wanted}`; a module must export the world's handler and lifecycle (use modhost_sdk::export_module!)"
                ));
            }
            Some(version) => versions.push(
                Version::parse(version)
                    .map_err(|_| format!("export `{wanted}@{version}` has an invalid version"))?,
            ),
        }
    }
    if versions[0] != versions[1] {
        return Err(format!(
            "the component exports handler@{} and lifecycle@{}; both must come from one {PACKAGE} version",
            versions[0], versions[1]
        ));
    }
    Ok(versions.remove(0))
}

fn check_import(manifest: &Manifest, import: &str, api_version: Option<&Version>) -> Option<String> {
    let (name, version) = split_versioned(import);
    if let Some(interface) = name.strip_prefix("modhost:module/") {
        if let (Some(version), Some(api_version)) = (version, api_version)
            && version != api_version.to_string()
        {
            return Some(format!(
                "import `{import}` is from another {PACKAGE} version than the exports ({api_version})"
            ));
        }
        if interface == "types" {
            return None;
        }
        return match Capability::ALL
            .iter()
            .find(|capability| capability.name() == interface)
        {
            None => Some(format!("import `{import}` is not an interface of {PACKAGE}")),
            Some(capability) if !manifest.grants(*capability) => Some(format!(
                "the component imports `{import}` but module.capabilities does not grant `{}`; add it or stop using it",
                capability.name()
            )),
            Some(_) => None,
        };
    }
    if ALLOWED_WASI_INTERFACES.contains(&name) {
        return None;
    }
    Some(format!(
        "import `{import}` is not provided to modules (allowed: {PACKAGE} capabilities and WASI clocks, random, cli and io)"
    ))
}

/// Why a version outside every supported major (or a pre-release) is refused.
fn not_implemented(version: &Version) -> String {
    format!(
        "the component targets {PACKAGE}@{version}, which this host does not implement (it implements {})",
        supported_list()
    )
}

fn supported_list() -> String {
    SUPPORTED_API_VERSIONS
        .iter()
        .map(|version| format!("{PACKAGE}@{version}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(text: &str) -> Version {
        Version::parse(text).expect("version")
    }

    #[test]
    fn any_older_or_equal_minor_of_the_host_major_is_accepted() {
        for accepted in ["1.0.0", "1.0.1", "1.0.27"] {
            assert_eq!(check_api_version(&version(accepted)), Ok(()), "{accepted}");
        }
        let newer_minor = check_api_version(&version("1.1.0")).expect_err("1.1.0");
        assert_eq!(
            newer_minor,
            "the component targets modhost:module@1.1.0, newer than this host implements (modhost:module@1.0.0); upgrade modhost or build against modhost:module@1.0"
        );
        for refused in ["2.0.0", "0.9.0", "1.0.0-rc.1"] {
            assert!(check_api_version(&version(refused)).is_err(), "{refused}");
        }
        assert_eq!(
            check_api_version(&version("2.0.0")),
            Err(
                "the component targets modhost:module@2.0.0, which this host does not implement (it implements modhost:module@1.0.0)"
                    .to_owned()
            )
        );
    }

    #[test]
    fn sockets_are_accepted_like_filesystem_other_wasi_is_not() {
        let manifest = modhost_manifest::parse(
            "manifest_version = 1\n[module]\nid = \"py\"\nversion = \"0.1.0\"\nkind = \"standard\"\napi = \"^1.0\"\ntitle = \"Py\"\n[component]\npath = \"py.wasm\"\n",
        )
        .expect("manifest");
        let exports = ["handler", "lifecycle"].map(|name| format!("modhost:module/{name}@1.0.0"));
        let imports = [
            "wasi:sockets/network@0.2.9",
            "wasi:sockets/instance-network@0.2.9",
            "wasi:sockets/tcp@0.2.9",
            "wasi:sockets/tcp-create-socket@0.2.9",
            "wasi:sockets/udp@0.2.9",
            "wasi:sockets/udp-create-socket@0.2.9",
            "wasi:sockets/ip-name-lookup@0.2.9",
            "wasi:filesystem/preopens@0.2.9",
            "wasi:http/outgoing-handler@0.2.9",
            "wasi:sockets/raw@0.2.9",
        ];
        let interface = ComponentInterface {
            imports: imports.map(str::to_owned).to_vec(),
            exports: exports.to_vec(),
        };
        assert_eq!(
            check_against_manifest(&manifest, &interface),
            [
                "import `wasi:http/outgoing-handler@0.2.9` is not provided to modules (allowed: modhost:module capabilities and WASI clocks, random, cli and io)",
                "import `wasi:sockets/raw@0.2.9` is not provided to modules (allowed: modhost:module capabilities and WASI clocks, random, cli and io)",
            ]
        );
    }

    #[test]
    fn non_components_are_named() {
        assert_eq!(inspect(b"hello"), Err("the file is not WebAssembly".to_owned()));
        let core_module = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
        assert_eq!(
            inspect(&core_module),
            Err("the file is a core WebAssembly module, not a component; build for wasm32-wasip2".to_owned())
        );
        let truncated_component = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00, 0x01];
        assert!(
            inspect(&truncated_component)
                .expect_err("truncated")
                .starts_with("the component is not valid")
        );
    }
}
