//! Bad input must never panic: every prefix of a full manifest, and the manifest with any one
//! line removed, is either parsed or refused with an error.

use std::fs;
use std::path::Path;

use modhost_manifest::parse;

fn full_manifest() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/manifests/valid/full.toml");
    fs::read_to_string(&path).unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
}

#[test]
fn every_prefix_parses_or_fails_cleanly() {
    let text = full_manifest();
    for (end, _) in text.char_indices() {
        let _ = parse(&text[..end]);
    }
}

#[test]
fn removing_any_line_parses_or_fails_cleanly() {
    let text = full_manifest();
    let lines: Vec<&str> = text.lines().collect();
    for skipped in 0..lines.len() {
        let mutated: Vec<&str> = lines
            .iter()
            .enumerate()
            .filter(|(index, _)| *index != skipped)
            .map(|(_, line)| *line)
            .collect();
        let _ = parse(&mutated.join("\n"));
    }
}

#[test]
fn odd_documents_are_refused_not_panicked_on() {
    let documents = [
        "",
        "\u{feff}",
        "manifest_version = 1",
        "manifest_version = 9223372036854775807",
        "manifest_version = -1",
        "[[module]]\nid = 1",
        "manifest_version = 1\nmodule = 5\ncomponent = []",
        "manifest_version = 1\n[module]\nid = \"\u{0}\"",
        "manifest_version = 1\n\"\\u0000\" = 1",
        "\u{1F600} = 1",
    ];
    for document in documents {
        assert!(parse(document).is_err(), "{document:?} should be refused");
    }
}
