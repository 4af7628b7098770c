//! Small text helpers shared by the validators: quoting input in messages and naming fields.

/// How many characters of a user-supplied value a message shows before cutting it short.
const SHOWN_CHARS: usize = 48;

/// Quotes `value` in backticks for a message, escaping control characters and
/// cutting very long input short so a message stays one readable line.
pub(crate) fn quoted(value: &str) -> String {
    let mut shown = String::from("`");
    for (index, c) in value.chars().enumerate() {
        if index == SHOWN_CHARS {
            shown.push('…');
            break;
        }
        if c.is_control() {
            shown.extend(c.escape_debug());
        } else {
            shown.push(c);
        }
    }
    shown.push('`');
    shown
}

/// Names the entry `key` of the table at `prefix`, quoting keys that are not bare TOML keys.
pub(crate) fn field_key(prefix: &str, key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if bare {
        format!("{prefix}.{key}")
    } else {
        format!("{prefix}.\"{}\"", key.escape_debug())
    }
}

/// Names the element `index` (0-based) of the array at `prefix`.
pub(crate) fn field_index(prefix: &str, index: usize) -> String {
    format!("{prefix}[{index}]")
}

/// Whether `value` holds any control character (newline and tab included).
pub(crate) fn has_control(value: &str) -> bool {
    value.chars().any(char::is_control)
}

/// Joins `items` as a list of back-quoted words: `` `a`, `b`, `c` ``.
pub(crate) fn quoted_list<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    items
        .into_iter()
        .map(|item| format!("`{item}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Joins `items` as alternatives: `` `a`, `b` or `c` ``.
pub(crate) fn alternatives<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let quoted: Vec<String> = items.into_iter().map(|item| format!("`{item}`")).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => quoted.concat(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_escapes_and_shortens() {
        assert_eq!(quoted("a\nb"), "`a\\nb`");
        assert_eq!(quoted(&"x".repeat(60)), format!("`{}…`", "x".repeat(48)));
    }

    #[test]
    fn alternatives_end_with_or() {
        assert_eq!(alternatives(["a"]), "`a`");
        assert_eq!(alternatives(["a", "b", "c"]), "`a`, `b` or `c`");
        assert_eq!(alternatives([]), "");
    }

    #[test]
    fn field_key_quotes_only_when_needed() {
        assert_eq!(field_key("dependencies", "analytics"), "dependencies.analytics");
        assert_eq!(field_key("dependencies", "Bad Id"), "dependencies.\"Bad Id\"");
        assert_eq!(field_key("dependencies", ""), "dependencies.\"\"");
    }
}
