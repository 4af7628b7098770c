//! The files a scaffold is made of, embedded at compile time so `modhost new` needs no checkout.
//!
//! Paths are relative to the repository root. `tests` below checks that every
//! file of the embedded folders is listed, so adding a file to the SDK, the
//! path crate or the WIT without listing it here fails the build's tests.

/// One embedded file: where it lives in the repository and its text.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EmbeddedFile {
    /// The path relative to the repository root, with `/`.
    pub(crate) path: &'static str,
    /// The file's contents.
    pub(crate) text: &'static str,
}

macro_rules! embed {
    ($($path:literal),* $(,)?) => {
        &[$(EmbeddedFile {
            path: $path,
            text: include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../", $path)),
        }),*]
    };
}

/// The template module's files, copied (renamed) into every new module.
pub(crate) const TEMPLATE: &[EmbeddedFile] = embed!(
    "plugins/template/Cargo.toml",
    "plugins/template/module.toml",
    "plugins/template/README.md",
    "plugins/template/src/lib.rs",
);

/// The guest SDK, vendored into standalone modules.
pub(crate) const SDK: &[EmbeddedFile] = embed!(
    "crates/sdk/Cargo.toml",
    "crates/sdk/src/clock.rs",
    "crates/sdk/src/config.rs",
    "crates/sdk/src/error.rs",
    "crates/sdk/src/kv.rs",
    "crates/sdk/src/lib.rs",
    "crates/sdk/src/log.rs",
    "crates/sdk/src/metrics.rs",
    "crates/sdk/src/modules.rs",
    "crates/sdk/src/request.rs",
    "crates/sdk/src/response.rs",
    "crates/sdk/src/router.rs",
);

/// The path-pattern crate the SDK depends on, vendored beside it.
pub(crate) const PATH: &[EmbeddedFile] = embed!("crates/path/Cargo.toml", "crates/path/src/lib.rs");

/// The WIT contract, written to `wit/` (the SDK generates its bindings from it).
pub(crate) const WIT: &[EmbeddedFile] = embed!(
    "wit/v1.0.0/config.wit",
    "wit/v1.0.0/handler.wit",
    "wit/v1.0.0/kv.wit",
    "wit/v1.0.0/log.wit",
    "wit/v1.0.0/metrics.wit",
    "wit/v1.0.0/modules.wit",
    "wit/v1.0.0/types.wit",
    "wit/v1.0.0/world.wit",
);

/// The host workspace's manifest: the versions and package fields the vendored crates inherit.
pub(crate) const HOST_WORKSPACE: &str =
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.toml"));

/// The plugins workspace's manifest: the guest-side versions, lints and release profile.
pub(crate) const PLUGINS_WORKSPACE: &str =
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../plugins/Cargo.toml"));

/// The plugins workspace's lock file, so a new module builds with the versions tested here.
pub(crate) const PLUGINS_LOCK: &str =
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../plugins/Cargo.lock"));

/// The plugins workspace's cargo config: its `[target.wasm32-wasip2]` table
/// (how every module is linked) is what a standalone module's
/// `.cargo/config.toml` holds.
pub(crate) const PLUGINS_CARGO_CONFIG: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../plugins/.cargo/config.toml"
));

/// The text of the embedded file at `path`.
#[cfg(test)]
pub(crate) fn text(group: &[EmbeddedFile], path: &str) -> Option<&'static str> {
    group.iter().find(|file| file.path == path).map(|file| file.text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// Every file under `folder` (recursively), as repository-relative paths.
    fn files_under(folder: &str) -> Vec<String> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut found = Vec::new();
        let mut pending = vec![root.join(folder)];
        while let Some(dir) = pending.pop() {
            for entry in std::fs::read_dir(&dir).unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
            {
                let path = entry.map(|entry| entry.path()).unwrap_or_default();
                if path.is_dir() {
                    pending.push(path);
                } else if let Ok(relative) = path.strip_prefix(&root) {
                    found.push(relative.to_string_lossy().replace('\\', "/"));
                }
            }
        }
        found.sort();
        found
    }

    fn listed(group: &[EmbeddedFile], prefix: &str) -> Vec<String> {
        let mut paths: Vec<String> = group
            .iter()
            .map(|file| file.path.to_owned())
            .filter(|path| path.starts_with(prefix))
            .collect();
        paths.sort();
        paths
    }

    #[test]
    fn every_file_of_the_embedded_folders_is_listed() {
        assert_eq!(listed(SDK, "crates/sdk/src/"), files_under("crates/sdk/src"));
        assert_eq!(listed(PATH, "crates/path/src/"), files_under("crates/path/src"));
        assert_eq!(listed(WIT, "wit/v1.0.0/"), files_under("wit/v1.0.0"));
        assert_eq!(
            listed(TEMPLATE, "plugins/template/src/"),
            files_under("plugins/template/src")
        );
    }
}
