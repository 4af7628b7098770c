//! Tidy checks run by `cargo test`: the structural rules ARCHITECTURE.md states, checked on the source tree.
//!
//! - Only the registry's on-disk store (`store/disk.rs`) names the storage engine (sled).
//! - No source file outside tests is over [`MAX_SOURCE_LINES`] lines.
//! - Every `.rs` file opens with a `//!` line saying what it is for.
//! - No two files of one crate import each other, directly or in a circle
//!   (a crate root's re-exports and a folder's `mod.rs` re-exports of its own
//!   children are its facade, not imports).
//! - The sandbox's dependency tree holds no registry, no deploy, no hyper.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The longest a source file outside tests may be.
const MAX_SOURCE_LINES: usize = 600;

fn repository_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Every `.rs` file under `dir`, skipping build output.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|name| name == "target") {
                continue;
            }
            found.extend(rust_files(&path));
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            found.push(path);
        }
    }
    found.sort();
    found
}

/// The source folders the rules cover.
fn source_roots() -> Vec<PathBuf> {
    let root = repository_root();
    ["crates", "xtask", "plugins", "examples", "tests"]
        .iter()
        .map(|folder| root.join(folder))
        .collect()
}

fn relative(path: &Path) -> String {
    path.strip_prefix(repository_root())
        .unwrap_or(path)
        .display()
        .to_string()
}

fn is_test_file(path: &Path) -> bool {
    path.components().any(|part| part.as_os_str() == "tests")
}

#[test]
fn only_the_registry_disk_store_names_sled() {
    let engine_file = repository_root().join("crates/registry/src/store/disk.rs");
    let mut offenders = Vec::new();
    for path in source_roots().iter().flat_map(|root| rust_files(root)) {
        if path == engine_file || path.ends_with("xtask/src/tidy.rs") {
            continue;
        }
        let text = fs::read_to_string(&path).unwrap_or_default();
        if text.to_ascii_lowercase().contains("sled") {
            offenders.push(relative(&path));
        }
    }
    assert!(
        offenders.is_empty(),
        "these files name the storage engine; go through the registry's store trait instead: {offenders:?}"
    );
}

/// The lines of `text` before its unit-test module (`#[cfg(test)]` then `mod tests`), which counts as tests.
fn lines_before_unit_tests(text: &str) -> usize {
    let lines: Vec<&str> = text.lines().collect();
    lines
        .windows(2)
        .position(|pair| pair[0].trim() == "#[cfg(test)]" && pair[1].trim_start().starts_with("mod tests"))
        .unwrap_or(lines.len())
}

#[test]
fn no_source_file_outside_tests_is_too_long() {
    let mut offenders = Vec::new();
    for path in source_roots().iter().flat_map(|root| rust_files(root)) {
        if is_test_file(&path) {
            continue;
        }
        let lines = lines_before_unit_tests(&fs::read_to_string(&path).unwrap_or_default());
        if lines > MAX_SOURCE_LINES {
            offenders.push(format!("{} ({lines} lines)", relative(&path)));
        }
    }
    assert!(
        offenders.is_empty(),
        "split these files (at most {MAX_SOURCE_LINES} lines each): {offenders:?}"
    );
}

#[test]
fn every_source_file_says_what_it_is_for() {
    let mut offenders = Vec::new();
    for path in source_roots().iter().flat_map(|root| rust_files(root)) {
        let text = fs::read_to_string(&path).unwrap_or_default();
        if !text.starts_with("//!") {
            offenders.push(relative(&path));
        }
    }
    assert!(
        offenders.is_empty(),
        "open these files with a `//!` line saying what they are for: {offenders:?}"
    );
}

/// A crate's source folder: every folder named `src` holding a `lib.rs` or `main.rs`.
fn crate_source_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    for root in source_roots() {
        collect_source_dirs(&root, &mut dirs);
    }
    dirs
}

fn collect_source_dirs(dir: &Path, dirs: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if !path.is_dir() || path.file_name().is_some_and(|name| name == "target") {
            continue;
        }
        if path.file_name().is_some_and(|name| name == "src")
            && (path.join("lib.rs").exists() || path.join("main.rs").exists())
        {
            dirs.push(path.clone());
        }
        collect_source_dirs(&path, dirs);
    }
}

/// The module path of a file of a crate (`caps/kv.rs` → `["caps", "kv"]`);
/// empty for the crate root.
fn module_path(source_dir: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(source_dir).unwrap_or(file);
    let mut parts: Vec<String> = relative
        .with_extension("")
        .components()
        .map(|part| part.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|last| last == "mod") {
        parts.pop();
    }
    if parts.len() == 1 && (parts[0] == "lib" || parts[0] == "main") {
        parts.clear();
    }
    parts
}

/// The `crate::`, `self::` and `super::` paths a file names, as module paths
/// (each path's segments, resolved against the file's own module).
fn named_paths(text: &str, own: &[String]) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    for line in text.lines() {
        let code = line.trim_start();
        if code.starts_with("//") {
            continue;
        }
        for (start, _) in code
            .match_indices("crate::")
            .chain(code.match_indices("self::"))
            .chain(code.match_indices("super::"))
        {
            let before = code[..start].chars().last();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':' || c == '$') {
                continue;
            }
            let rest: String = code[start..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            if rest.ends_with("::") {
                continue; // a glob (`use super::*;` in a file's own test module)
            }
            let mut segments = rest.split("::").filter(|segment| !segment.is_empty());
            let mut resolved: Vec<String> = match segments.next() {
                Some("crate") => Vec::new(),
                Some("self") => own.to_vec(),
                Some("super") => {
                    let mut parent = own.to_vec();
                    parent.pop();
                    parent
                }
                _ => continue,
            };
            for segment in segments {
                if segment == "super" {
                    resolved.pop();
                } else {
                    resolved.push(segment.to_owned());
                }
            }
            paths.push(resolved);
        }
    }
    paths
}

/// Files of one crate that import each other in a circle.
fn import_circles(source_dir: &Path) -> Vec<Vec<String>> {
    let files: Vec<PathBuf> = rust_files(source_dir);
    let modules: BTreeMap<Vec<String>, PathBuf> = files
        .iter()
        .map(|file| (module_path(source_dir, file), file.clone()))
        .collect();
    let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for (own, file) in &modules {
        if own.is_empty() {
            continue; // the crate root is the facade
        }
        let text = fs::read_to_string(file).unwrap_or_default();
        let is_folder_root = file.file_name().is_some_and(|name| name == "mod.rs");
        for path in named_paths(&text, own) {
            // The longest prefix that is a module file.
            let target = (1..=path.len())
                .rev()
                .map(|length| path[..length].to_vec())
                .find(|prefix| modules.contains_key(prefix));
            let Some(target) = target else { continue };
            let is_own_child = is_folder_root && target.len() > own.len() && target.starts_with(own);
            if target != *own && !target.is_empty() && !is_own_child {
                edges.entry(own.clone()).or_default().insert(target);
            }
        }
    }
    strongly_connected(&edges)
        .into_iter()
        .filter(|component| component.len() > 1)
        .map(|component| component.iter().map(|module| module.join("::")).collect())
        .collect()
}

/// Tarjan's strongly connected components of `edges`.
fn strongly_connected(edges: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Vec<Vec<Vec<String>>> {
    struct Search<'a> {
        edges: &'a BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        index: BTreeMap<&'a Vec<String>, usize>,
        low: BTreeMap<&'a Vec<String>, usize>,
        stack: Vec<&'a Vec<String>>,
        on_stack: BTreeSet<&'a Vec<String>>,
        found: Vec<Vec<Vec<String>>>,
    }
    impl<'a> Search<'a> {
        fn visit(&mut self, node: &'a Vec<String>) {
            let number = self.index.len();
            self.index.insert(node, number);
            self.low.insert(node, number);
            self.stack.push(node);
            self.on_stack.insert(node);
            for next in self.edges.get(node).into_iter().flatten() {
                if !self.index.contains_key(next) {
                    self.visit(next);
                    let low = self.low[node].min(self.low[next]);
                    self.low.insert(node, low);
                } else if self.on_stack.contains(next) {
                    let low = self.low[node].min(self.index[next]);
                    self.low.insert(node, low);
                }
            }
            if self.low[node] == self.index[node] {
                let mut component = Vec::new();
                while let Some(member) = self.stack.pop() {
                    self.on_stack.remove(member);
                    component.push(member.clone());
                    if member == node {
                        break;
                    }
                }
                self.found.push(component);
            }
        }
    }
    let mut search = Search {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for node in edges.keys() {
        if !search.index.contains_key(node) {
            search.visit(node);
        }
    }
    search.found
}

#[test]
fn no_two_files_of_a_crate_import_each_other() {
    let mut offenders = Vec::new();
    for source_dir in crate_source_dirs() {
        for circle in import_circles(&source_dir) {
            offenders.push(format!("{}: {}", relative(&source_dir), circle.join(" <-> ")));
        }
    }
    assert!(
        offenders.is_empty(),
        "these files import each other; move what they share into a file both import: {offenders:?}"
    );
}

#[test]
fn the_circle_check_finds_a_circle_and_ignores_a_facade() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let source = dir.path();
    fs::create_dir_all(source.join("caps")).expect("a folder");
    fs::write(
        source.join("lib.rs"),
        "//! root\nmod a;\nmod b;\npub use crate::a::A;\n",
    )
    .expect("write");
    fs::write(source.join("a.rs"), "//! a\nuse crate::b::B;\n").expect("write");
    fs::write(
        source.join("b.rs"),
        "//! b\npub(crate) fn f() { crate::a::g(); }\n",
    )
    .expect("write");
    fs::write(source.join("caps/mod.rs"), "//! caps\npub use self::kv::Kv;\n").expect("write");
    fs::write(source.join("caps/kv.rs"), "//! kv\nuse super::Shared;\n").expect("write");
    let circles = import_circles(source);
    assert_eq!(circles.len(), 1, "{circles:?}");
    let mut members = circles[0].clone();
    members.sort();
    assert_eq!(members, ["a", "b"]);
}

#[test]
fn the_sandbox_depends_on_no_registry_deploy_or_hyper() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = std::process::Command::new(cargo)
        .args([
            "tree",
            "-p",
            "modhost-runtime",
            "--prefix",
            "none",
            "--edges",
            "normal,build,dev",
        ])
        .current_dir(repository_root())
        .output()
        .expect("cargo tree runs");
    assert!(
        output.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let tree = String::from_utf8_lossy(&output.stdout);
    let crates: BTreeSet<&str> = tree
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .collect();
    assert!(crates.contains("wasmtime"), "the tree was read: {crates:?}");
    let forbidden: Vec<&str> = [
        "modhost-registry",
        "modhost-deploy",
        "modhost-server",
        "hyper",
        "sled",
    ]
    .into_iter()
    .filter(|name| crates.contains(name))
    .collect();
    assert!(
        forbidden.is_empty(),
        "the sandbox must not depend on {forbidden:?}; move that code to deploy or the server"
    );
}
