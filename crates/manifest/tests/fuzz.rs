//! Fuzzing the manifest parser with proptest: random bytes, random edits of a full manifest and
//! soups of TOML fragments are parsed or refused, never panicked on.
//!
//! CI runs the default number of cases (a few seconds). To fuzz longer, raise
//! `PROPTEST_CASES`, e.g. `PROPTEST_CASES=200000 cargo test --release -p modhost-manifest --test fuzz`.
//! A failing case is shrunk and saved under `tests/fuzz.proptest-regressions`; commit it so the
//! case is replayed from then on.

use std::path::Path;

use modhost_manifest::parse;
use proptest::prelude::*;

/// `PROPTEST_CASES`, or `default`.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(default)
}

fn full_manifest() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/manifests/valid/full.toml");
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
}

/// Parses `text`; a manifest that parses is also rendered as JSON and its
/// config defaults validated, the other things a caller does with it.
fn parse_fully(text: &str) {
    if let Ok(manifest) = parse(text) {
        let _ = manifest.to_json_pretty();
        let _ = manifest.config.validate(&Default::default());
    }
}

/// One edit of a text: replace `len` bytes at `at` (both taken modulo the text) with `with`.
#[derive(Debug, Clone)]
struct Edit {
    at: usize,
    len: usize,
    with: String,
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for edit in edits {
        let at = edit.at % (bytes.len() + 1);
        let end = (at + edit.len % 16).min(bytes.len());
        bytes.splice(at..end, edit.with.bytes());
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Pieces of TOML that appear in manifests, to build near-manifests from.
const FRAGMENTS: &[&str] = &[
    "manifest_version = 1\n",
    "manifest_version = 2\n",
    "[module]\n",
    "id = \"inventory\"\n",
    "id = \"\"\n",
    "version = \"1.0.0\"\n",
    "version = \"1.0.0-rc.1+build\"\n",
    "kind = \"standard\"\n",
    "kind = \"custom\"\n",
    "api = \"^1.0\"\n",
    "api = \">=9\"\n",
    "[component]\n",
    "sha256 = \"00\"\n",
    "[[endpoints]]\n",
    "method = \"GET\"\n",
    "method = \"BREW\"\n",
    "path = \"/items/{sku}\"\n",
    "path = \"/files/{*rest}\"\n",
    "path = \"/{a}/{a}\"\n",
    "path = \"/{*a}/b\"\n",
    "permission = \"inventory.read\"\n",
    "[limits]\n",
    "memory_mb = 64\n",
    "memory_mb = 18446744073709551615\n",
    "timeout_ms = 0\n",
    "kv_mb = 65537\n",
    "kv_keys = -1\n",
    "[config.greeting]\n",
    "type = \"string\"\n",
    "type = \"integer\"\n",
    "default = \"hi\"\n",
    "default = 1e308\n",
    "min = 5\nmax = 1\n",
    "enum = [\"a\", \"a\"]\n",
    "[[smoke_tests]]\n",
    "request = { method = \"GET\", path = \"/\" }\n",
    "expect = { status = 200 }\n",
    "capabilities = [\"kv\", \"log\", \"nope\"]\n",
    "features = [\"x\"]\n",
    "= = =\n",
    "[\n",
    "\"\\u0000\" = 1\n",
    "a.b.c.d.e.f = 1\n",
    "x = [[[[[[[[[[1]]]]]]]]]]\n",
    "\u{feff}",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(512), ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_are_parsed_or_refused(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        parse_fully(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn edits_of_a_full_manifest_are_parsed_or_refused(
        edits in proptest::collection::vec(
            (any::<usize>(), any::<usize>(), "(\\PC|[\\[\\]{}=\"'\\n#.,]){0,12}")
                .prop_map(|(at, len, with)| Edit { at, len, with }),
            1..8,
        )
    ) {
        parse_fully(&apply(&full_manifest(), &edits));
    }

    #[test]
    fn soups_of_manifest_fragments_are_parsed_or_refused(
        picks in proptest::collection::vec(0..FRAGMENTS.len(), 0..40)
    ) {
        let text: String = picks.iter().map(|pick| FRAGMENTS[*pick]).collect();
        parse_fully(&text);
    }
}
