//! Turns a TOML or serde failure into a [`ManifestError::Syntax`] with a line, a column and, when it can be found, the field.

use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::ManifestError;
use crate::text::{field_index, field_key};

/// Converts `error`, raised while reading `text`, into a positioned error.
pub(crate) fn syntax_error(text: &str, error: &toml::de::Error) -> ManifestError {
    let span = error.span();
    let (line, column) = span
        .as_ref()
        .map_or((1, 1), |span| line_and_column(text, span.start));
    let field = span.and_then(|span| field_at(text, &span));
    ManifestError::Syntax {
        line,
        column,
        field,
        message: tidy_message(error.message()),
    }
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
    let line = before.matches('\n').count() + 1;
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// toml's messages are one line, but may end with a newline; ours never do.
fn tidy_message(message: &str) -> String {
    message.trim().to_owned()
}

/// The dotted path of the most specific key or value whose span holds `span`,
/// found by re-reading the document with spans. `None` when the text is not
/// TOML (a syntax error is about text, not a field) or nothing holds the span.
fn field_at(text: &str, span: &Range<usize>) -> Option<String> {
    let document = DeTable::parse(text).ok()?;
    let mut best: Option<(usize, String)> = None;
    visit_table(document.get_ref(), "", span, &mut best);
    best.map(|(_, path)| path)
}

/// Keeps the narrowest candidate, preferring the later (deeper) one on a tie.
fn consider(candidate: &Range<usize>, path: &str, target: &Range<usize>, best: &mut Option<(usize, String)>) {
    let holds = candidate.start <= target.start && target.end <= candidate.end;
    let width = candidate.end - candidate.start;
    if holds && best.as_ref().is_none_or(|(best_width, _)| width <= *best_width) {
        *best = Some((width, path.to_owned()));
    }
}

fn visit_table(table: &DeTable<'_>, prefix: &str, target: &Range<usize>, best: &mut Option<(usize, String)>) {
    for (key, value) in table {
        let path = if prefix.is_empty() {
            key.get_ref().to_string()
        } else {
            field_key(prefix, key.get_ref())
        };
        consider(&key.span(), &path, target, best);
        visit_value(value, &path, target, best);
    }
}

fn visit_value(
    value: &Spanned<DeValue<'_>>,
    path: &str,
    target: &Range<usize>,
    best: &mut Option<(usize, String)>,
) {
    consider(&value.span(), path, target, best);
    match value.get_ref() {
        DeValue::Table(table) => visit_table(table, path, target, best),
        DeValue::Array(array) => {
            for (index, element) in array.iter().enumerate() {
                visit_value(element, &field_index(path, index), target, best);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_and_count_characters() {
        let text = "a = 1\nbé = 2\n";
        assert_eq!(line_and_column(text, 0), (1, 1));
        assert_eq!(line_and_column(text, 6), (2, 1));
        assert_eq!(line_and_column(text, 9), (2, 3));
        assert_eq!(line_and_column(text, 8), (2, 2), "inside a character: its start");
        assert_eq!(line_and_column(text, 999), (3, 1), "past the end: the end");
    }
}
