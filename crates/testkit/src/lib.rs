//! Test and benchmark support: the modules `cargo xtask build-plugins` built, and variants of them.
//!
//! Tests load real components from `target/modules/<id>@<version>/` (or
//! `MODHOST_MODULES_DIR`, which `cargo xtask test` sets) and fail loudly,
//! naming the command to run, when they are missing. A *variant* is a built
//! module republished under another version with distinct bytes (an appended
//! custom section) and its manifest's sha256 updated: a second, valid
//! version of a real module without building one.

#![allow(
    clippy::expect_used,
    reason = "test support: a missing or broken build output is a failed test"
)]

use std::path::PathBuf;

/// A built module as `build-plugins` wrote it.
#[derive(Debug, Clone)]
pub struct BuiltModule {
    /// The `module.toml` text, sha256 filled in.
    pub text: String,
    /// The parsed manifest.
    pub manifest: modhost_manifest::Manifest,
    /// The component bytes.
    pub component: Vec<u8>,
}

/// Where `cargo xtask build-plugins` put the modules.
pub fn modules_dir() -> PathBuf {
    std::env::var_os("MODHOST_MODULES_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/modules"))
}

/// The built module `label` (`<id>@<version>`); panics with the command to run when missing.
pub fn load(label: &str) -> BuiltModule {
    let dir = modules_dir().join(label);
    let text = std::fs::read_to_string(dir.join("module.toml")).unwrap_or_else(|error| {
        panic!(
            "{}: {error}; run `cargo xtask build-plugins` first",
            dir.display()
        )
    });
    let manifest = modhost_manifest::parse(&text).expect("the built manifest is valid");
    let component =
        std::fs::read(dir.join(&manifest.component.path)).expect("the built component is readable");
    BuiltModule {
        text,
        manifest,
        component,
    }
}

/// The built module `label`'s manifest text and component.
pub fn built(label: &str) -> (String, Vec<u8>) {
    let module = load(label);
    (module.text, module.component)
}

/// The built module `label` republished as `version`, with distinct bytes.
pub fn variant(label: &str, version: &str) -> (String, Vec<u8>) {
    let module = load(label);
    let bytes = with_custom_section(
        module.component.clone(),
        "modhost-test-variant",
        version.as_bytes(),
    );
    let text = module
        .text
        .replacen(
            &format!("version = \"{}\"", module.manifest.module.version),
            &format!("version = \"{version}\""),
            1,
        )
        .replace(&sha256(&module.component), &sha256(&bytes));
    (text, bytes)
}

/// The lower-case hex SHA-256 the registry uses.
pub fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Appends a custom section: still a valid component, with different bytes.
pub fn with_custom_section(mut bytes: Vec<u8>, name: &str, payload: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    leb128(&mut body, name.len());
    body.extend_from_slice(name.as_bytes());
    body.extend_from_slice(payload);
    bytes.push(0);
    leb128(&mut bytes, body.len());
    bytes.extend_from_slice(&body);
    bytes
}

fn leb128(out: &mut Vec<u8>, mut value: usize) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// The test fixture `name` (a guest under `plugins/fixtures/`, built by
/// `cargo xtask build-plugins` to `target/fixtures/<name>.wasm`); panics with
/// the command to run when missing.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = modules_dir()
        .join("../fixtures")
        .join(name)
        .with_extension("wasm");
    std::fs::read(&path).unwrap_or_else(|error| {
        panic!(
            "{}: {error}; run `cargo xtask build-plugins` first",
            path.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_custom_section_keeps_the_component_valid_and_changes_its_bytes() {
        let empty = vec![0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];
        let long_name = "n".repeat(200);
        let changed = with_custom_section(empty.clone(), &long_name, b"payload");
        assert_ne!(changed, empty);
        assert_eq!(
            modhost_registry::component::inspect(&changed),
            Ok(Default::default())
        );
    }
}
