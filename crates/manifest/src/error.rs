//! The errors `parse` returns: a TOML-level failure with its position, or every semantic problem.

use std::fmt;

use serde::Serialize;

use crate::MANIFEST_VERSION;

/// Why a `module.toml` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    /// The text is not TOML, or does not have the manifest's shape: an unknown
    /// field, a value of the wrong type or a missing required field. Only the
    /// first such failure is known, so it is reported alone.
    #[error("line {line}, column {column}: {}{message}", field_prefix(.field))]
    Syntax {
        /// 1-based line of the failure.
        line: usize,
        /// 1-based column of the failure, in characters.
        column: usize,
        /// The dotted path of the field concerned, when it could be located.
        field: Option<String>,
        /// What was wrong, in lower case.
        message: String,
    },
    /// `manifest_version` names a format this crate does not know; nothing
    /// else was checked, since a newer format may mean anything.
    #[error(
        "manifest_version: version {found} is not supported; this host reads manifest_version = {MANIFEST_VERSION}"
    )]
    UnsupportedVersion {
        /// The version the manifest declares.
        found: i64,
    },
    /// The manifest has the right shape but breaks one or more rules; every
    /// problem found is listed, in the order of the manifest's sections.
    #[error("{}", ProblemLines(.0))]
    Invalid(Vec<Problem>),
}

fn field_prefix(field: &Option<String>) -> String {
    field
        .as_ref()
        .map(|field| format!("{field}: "))
        .unwrap_or_default()
}

/// One broken rule, named by the dotted path of the field concerned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The field, like `module.id`, `endpoints[2].path` (0-based index) or
    /// `config.fields.low_stock_threshold.default`.
    pub field: String,
    /// What is wrong and what to do about it, in lower case.
    pub message: String,
}

impl Problem {
    /// A problem with `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Displays problems one per line.
struct ProblemLines<'a>(&'a [Problem]);

impl fmt::Display for ProblemLines<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, problem) in self.0.iter().enumerate() {
            if index > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

/// Collects problems while a validator walks the manifest.
#[derive(Debug, Default)]
pub(crate) struct Problems {
    list: Vec<Problem>,
}

impl Problems {
    /// Records a problem with `field`.
    pub(crate) fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.list.push(Problem::new(field, message));
    }

    /// Passes an `Ok` value through; records an `Err` as a problem with `field` and gives `None`.
    pub(crate) fn check<T, E: fmt::Display>(&mut self, field: &str, result: Result<T, E>) -> Option<T> {
        result.map_err(|error| self.add(field, error.to_string())).ok()
    }

    /// Whether nothing has been recorded.
    pub(crate) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The problems recorded, in order.
    pub(crate) fn into_vec(self) -> Vec<Problem> {
        self.list
    }
}
