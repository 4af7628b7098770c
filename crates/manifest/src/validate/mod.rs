//! The second phase of parsing: checks every rule on the raw manifest, collecting every problem, and builds a [`Manifest`].

mod config;
mod module;
mod routes;
mod smoke;

use std::collections::BTreeMap;
use std::ops::RangeInclusive;

use crate::error::Problems;
use crate::keywords::parse_keyword;
use crate::raw::RawManifest;
use crate::text::quoted;
use crate::{MANIFEST_VERSION, Manifest, ManifestError, Method};

/// Validates `raw`, returning the normalised manifest or every problem found.
pub(crate) fn validate(raw: &RawManifest) -> Result<Manifest, ManifestError> {
    let mut problems = Problems::default();
    let module = module::module(&raw.module, &mut problems);
    let component = module::component(&raw.component, &mut problems);
    let dependencies = module::dependencies(&raw.dependencies, &raw.module, &mut problems);
    let endpoints = routes::endpoints(&raw.endpoints, &mut problems);
    let limits = routes::limits(&raw.limits, &mut problems);
    let config = config::schema(&raw.config, &mut problems);
    let tests = smoke::tests(&raw.tests, &mut problems);
    match (module, component, dependencies, endpoints, limits, config, tests) {
        (
            Some(module),
            Some(component),
            Some(dependencies),
            Some(endpoints),
            Some(limits),
            Some(config),
            Some(tests),
        ) if problems.is_empty() => Ok(Manifest {
            manifest_version: MANIFEST_VERSION,
            module,
            component,
            dependencies,
            endpoints,
            limits,
            config,
            tests,
        }),
        _ => Err(ManifestError::Invalid(problems.into_vec())),
    }
}

/// `Some` of every item when all are `Some`. Items are validated before this is
/// called, so no item's problems go unreported.
fn all<T>(items: Vec<Option<T>>) -> Option<Vec<T>> {
    items.into_iter().collect()
}

/// Remembers where each key was first seen; for a key seen before, returns that earlier index.
#[derive(Debug)]
struct FirstSeen<K> {
    seen: BTreeMap<K, usize>,
}

impl<K: Ord> FirstSeen<K> {
    fn new() -> Self {
        Self {
            seen: BTreeMap::new(),
        }
    }

    fn earlier(&mut self, key: K, index: usize) -> Option<usize> {
        match self.seen.get(&key) {
            Some(earlier) => Some(*earlier),
            None => {
                self.seen.insert(key, index);
                None
            }
        }
    }
}

/// Checks an optional value: `Some(None)` when absent, `None` when present and refused.
fn optional<R, T>(
    problems: &mut Problems,
    field: &str,
    value: Option<R>,
    check: impl FnOnce(R) -> Result<T, String>,
) -> Option<Option<T>> {
    match value {
        Some(value) => problems.check(field, check(value)).map(Some),
        None => Some(None),
    }
}

/// Says that `value` appears twice in a list of `noun`s.
fn listed_twice(value: &str, noun: &str) -> String {
    format!("{} is listed twice; list each {noun} once", quoted(value))
}

/// Converts an integer read as `i64` to `T` if it lies in `range`; `hint` says what to do otherwise.
fn in_range<T: TryFrom<i64>>(value: i64, range: RangeInclusive<i64>, hint: &str) -> Result<T, String> {
    T::try_from(value)
        .ok()
        .filter(|_| range.contains(&value))
        .ok_or_else(|| format!("{value} is out of range; {hint}"))
}

/// Reads an HTTP method, which must be upper case.
fn method(name: &str) -> Result<Method, String> {
    parse_keyword(name, "an HTTP method")
}

/// The longest description, in characters.
const MAX_DESCRIPTION_CHARS: usize = 1024;

/// Checks an optional `description`: at most 1024 characters, several lines allowed.
fn description(problems: &mut Problems, field: &str, value: Option<&str>) -> Option<Option<String>> {
    optional(problems, field, value, |description| {
        text(description, MAX_DESCRIPTION_CHARS, true)
    })
}

/// Checks free text: at most `max_chars` characters, and no control characters unless `multi_line`.
fn text(value: &str, max_chars: usize, multi_line: bool) -> Result<String, String> {
    let length = value.chars().count();
    if length > max_chars {
        return Err(format!("is {length} characters long; keep it to {max_chars}"));
    }
    let is_forbidden = |c: char| c.is_control() && !(multi_line && matches!(c, '\n' | '\r' | '\t'));
    if value.chars().any(is_forbidden) {
        let hint = if multi_line {
            "use plain text"
        } else {
            "use plain text on one line"
        };
        return Err(format!("holds a control character; {hint}"));
    }
    Ok(value.to_owned())
}
