//! Fuzzing path patterns with proptest: any pattern text is parsed or refused, and any request
//! path is matched or not against any pattern that parsed, never panicked on.
//!
//! CI runs the default number of cases; `PROPTEST_CASES=200000 cargo test --release -p
//! modhost-path --test fuzz` runs longer.

use modhost_path::PathPattern;
use proptest::prelude::*;

/// `PROPTEST_CASES`, or `default`.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(default)
}

/// Pattern-ish text: slashes, braces, stars, names and percent signs are common.
const PATTERN: &str = "(/|\\{|\\}|\\*|[a-z_]{1,3}|%[0-9a-fA-F]{0,2}|\\PC){0,16}";
/// Request-path-ish text, with percent escapes valid and broken.
const REQUEST_PATH: &str = "(/|[a-z0-9]{1,4}|%[0-9a-fA-F]{0,2}|\\.\\.|\\PC){0,24}";

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(1024), ..ProptestConfig::default() })]

    #[test]
    fn any_pattern_and_path_are_handled(pattern in PATTERN, path in REQUEST_PATH) {
        if let Ok(parsed) = PathPattern::parse(&pattern) {
            let _ = parsed.matches(&path);
            let _ = parsed.matches(&format!("/{path}"));
        }
    }

    #[test]
    fn a_pattern_matches_the_path_it_was_written_as(segments in proptest::collection::vec("[a-z]{1,6}", 0..6)) {
        let text = format!("/{}", segments.join("/"));
        let pattern = PathPattern::parse(&text).map_err(|error| TestCaseError::fail(error.to_string()))?;
        prop_assert!(pattern.matches(&text).is_some(), "{text}");
    }
}
