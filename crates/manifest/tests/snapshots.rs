//! Snapshot tests over `tests/manifests/`: each `valid/<name>.toml` must normalise to
//! `valid/<name>.json`, each `invalid/<name>.toml` must be refused with the text in
//! `invalid/<name>.err`. Run with `BLESS=1` to (re)write the expected files, then
//! review the diff.

use std::fs;
use std::path::{Path, PathBuf};

use modhost_manifest::{ManifestError, parse};

/// The folder holding the `valid` and `invalid` cases.
fn manifests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("manifests")
}

/// Reads a file the test cannot do without, saying which one when it cannot.
fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
}

fn blessing() -> bool {
    std::env::var("BLESS").is_ok_and(|value| value == "1")
}

/// Every file in `folder` with extension `extension`, sorted.
fn files_with_extension(folder: &Path, extension: &str) -> Vec<PathBuf> {
    let entries =
        fs::read_dir(folder).unwrap_or_else(|error| panic!("cannot read {}: {error}", folder.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|entry| {
            entry
                .unwrap_or_else(|error| panic!("cannot list {}: {error}", folder.display()))
                .path()
        })
        .filter(|path| path.extension().is_some_and(|found| found == extension))
        .collect();
    files.sort();
    files
}

/// Compares the rendering of every `<folder>/*.toml` with its `.<extension>` file, or writes it when blessing.
fn check_folder(folder: &str, extension: &str, render: impl Fn(&str) -> Result<String, String>) {
    let folder = manifests_dir().join(folder);
    let cases = files_with_extension(&folder, "toml");
    assert!(!cases.is_empty(), "no cases in {}", folder.display());
    let mut failures = Vec::new();
    for case in &cases {
        let text = read(case);
        let expected_path = case.with_extension(extension);
        let actual = match render(&text) {
            Ok(actual) => actual,
            Err(why) => {
                failures.push(format!("{}: {why}", case.display()));
                continue;
            }
        };
        if blessing() {
            fs::write(&expected_path, &actual)
                .unwrap_or_else(|error| panic!("cannot write {}: {error}", expected_path.display()));
            continue;
        }
        match fs::read_to_string(&expected_path) {
            Ok(expected) if expected == actual => {}
            Ok(expected) => failures.push(mismatch(&expected_path, &expected, &actual)),
            Err(_) => failures.push(format!(
                "{}: missing; run with BLESS=1 to write it",
                expected_path.display()
            )),
        }
    }
    failures.extend(orphans(&folder, extension));
    assert!(
        failures.is_empty(),
        "{} snapshot failure(s):\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// Expected files whose `.toml` is gone.
fn orphans(folder: &Path, extension: &str) -> Vec<String> {
    files_with_extension(folder, extension)
        .into_iter()
        .filter(|expected| !expected.with_extension("toml").exists())
        .map(|expected| format!("{}: no matching .toml; delete it", expected.display()))
        .collect()
}

/// A line-by-line account of how `actual` differs from `expected`.
fn mismatch(path: &Path, expected: &str, actual: &str) -> String {
    let expected_lines: Vec<&str> = expected.lines().collect();
    let actual_lines: Vec<&str> = actual.lines().collect();
    let mut report = format!(
        "{}: differs (- expected, + actual; BLESS=1 accepts the actual)\n",
        path.display()
    );
    for index in 0..expected_lines.len().max(actual_lines.len()) {
        let (old, new) = (expected_lines.get(index), actual_lines.get(index));
        if old == new {
            continue;
        }
        report.push_str(&format!("  line {}:\n", index + 1));
        if let Some(old) = old {
            report.push_str(&format!("  - {old}\n"));
        }
        if let Some(new) = new {
            report.push_str(&format!("  + {new}\n"));
        }
    }
    report
}

#[test]
fn valid_manifests_normalise_to_their_json() {
    check_folder("valid", "json", |text| match parse(text) {
        Ok(manifest) => Ok(format!("{}\n", manifest.to_json_pretty())),
        Err(error) => Err(format!("should parse, but:\n{error}")),
    });
}

#[test]
fn invalid_manifests_fail_with_their_message() {
    check_folder("invalid", "err", |text| match parse(text) {
        Ok(_) => Err("should be refused, but it parsed".to_owned()),
        Err(error) => Ok(format!("{error}\n")),
    });
}

#[test]
fn several_problems_are_reported_together() {
    let text =
        fs::read_to_string(manifests_dir().join("invalid").join("several-problems.toml")).expect("case");
    match parse(&text) {
        Err(ManifestError::Invalid(problems)) => {
            let fields: Vec<&str> = problems.iter().map(|problem| problem.field.as_str()).collect();
            assert_eq!(
                fields,
                [
                    "module.id",
                    "module.version",
                    "module.capabilities[1]",
                    "component.sha256",
                    "dependencies",
                    "endpoints[0].path",
                    "limits.memory_mb",
                    "config.fields.mode.values",
                    "tests[0].expect.status",
                ]
            );
        }
        other => panic!("expected every problem, got {other:?}"),
    }
}
