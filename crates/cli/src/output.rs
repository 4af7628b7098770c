//! What commands print: plain tables and key/value lists for people, the server's JSON for scripts.

use std::io::Write;

use comfy_table::{ContentArrangement, Table, presets};
use serde_json::Value;

/// Prints `text` and a newline on stdout. A closed pipe (`modhost … | head`)
/// is not an error worth a panic, so write failures are ignored.
pub fn print(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{}", without_controls(text));
    let _ = stdout.flush();
}

/// `text` with every control character but the newline removed, so nothing
/// the server relays (a module's log message, an audit field) can move the
/// cursor, recolour or clear the terminal.
pub fn without_controls(text: &str) -> String {
    text.chars()
        .filter(|character| *character == '\n' || !character.is_control())
        .collect()
}

/// One table cell or field value on one line: newlines, tabs and other
/// control characters written as escapes (`\n`, `\t`, `\u{1b}`), so a value
/// can never forge a row.
pub fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        if character.is_control() {
            out.extend(character.escape_debug());
        } else {
            out.push(character);
        }
    }
    out
}

/// Prints `value` as pretty JSON on stdout (the `--json` output).
pub fn print_json(value: &Value) {
    print(&serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string()));
}

/// A borderless table with upper-case headers and two spaces between columns.
pub fn table(headers: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut table = Table::new();
    table
        .load_style(presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(
            headers
                .iter()
                .map(|header| header.to_uppercase())
                .collect::<Vec<_>>(),
        );
    for row in rows {
        table.add_row(row.iter().map(|cell| one_line(cell)).collect::<Vec<_>>());
    }
    for column in table.column_iter_mut() {
        column.set_padding((0, 2));
    }
    table.trim_fmt()
}

/// Aligned `key: value` lines.
pub fn fields(pairs: &[(&str, String)]) -> String {
    let width = pairs
        .iter()
        .map(|(key, _)| key.chars().count())
        .max()
        .unwrap_or(0);
    pairs
        .iter()
        .map(|(key, value)| {
            format!(
                "{:width$}  {}",
                format!("{key}:"),
                one_line(value),
                width = width + 1
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
/// Field `key` of `value` for display: `-` when absent or null, strings bare,
/// arrays of scalars joined with `, `, anything else compact JSON.
pub fn text(value: &Value, key: &str) -> String {
    show(value.get(key).unwrap_or(&Value::Null))
}

/// A JSON value for display; see [`text`].
pub fn show(value: &Value) -> String {
    match value {
        Value::Null => "-".to_owned(),
        Value::String(text) => text.clone(),
        Value::Array(items) if items.is_empty() => "-".to_owned(),
        Value::Array(items) if items.iter().all(|item| !item.is_array() && !item.is_object()) => {
            items.iter().map(show).collect::<Vec<_>>().join(", ")
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
/// Field `key` holding milliseconds since the Unix epoch, as UTC time; `-` if absent.
pub fn time(value: &Value, key: &str) -> String {
    value
        .get(key)
        .and_then(Value::as_u64)
        .map_or_else(|| "-".to_owned(), format_ms)
}

/// The array at `key` (empty if absent or not an array).
pub fn list<'a>(value: &'a Value, key: &str) -> &'a [Value] {
    value
        .get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// Milliseconds since the Unix epoch as `YYYY-MM-DD HH:MM:SS` UTC.
pub fn format_ms(ms: u64) -> String {
    let date = modhost_registry::Date::from_unix_ms(ms);
    let of_day = ms / 1000 % 86_400;
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        date.year(),
        date.month(),
        date.day(),
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    )
}

/// A byte count as `812 B`, `1.5 KiB`, `3.2 MiB`.
pub fn format_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// The first 12 characters of a hash, enough to tell versions apart.
pub fn short_hash(hash: &str) -> String {
    hash.chars().take(12).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn relayed_text_cannot_forge_rows_or_drive_the_terminal() {
        let forged = "stock low\n2026-01-01 00:00:00  error  inventory@1.0.0  r9  \u{1b}[2Jpwned\tx";
        let rendered = table(&["message"], vec![vec![forged.to_owned()]]);
        assert_eq!(rendered.lines().count(), 2, "{rendered}");
        assert_eq!(
            rendered.lines().nth(1),
            Some("stock low\\n2026-01-01 00:00:00  error  inventory@1.0.0  r9  \\u{1b}[2Jpwned\\tx")
        );
        assert_eq!(fields(&[("detail", "a\nb".to_owned())]), "detail:  a\\nb");
        assert_eq!(
            without_controls("ok\u{1b}[31mred\r\nnext\u{7}"),
            "ok[31mred\nnext"
        );
    }

    #[test]
    fn tables_are_aligned_without_borders() {
        let text = table(
            &["id", "name"],
            vec![
                vec!["banban".into(), "Banban".into()],
                vec!["a".into(), "-".into()],
            ],
        );
        assert_eq!(text, "ID      NAME\nbanban  Banban\na       -");
    }

    #[test]
    fn fields_are_aligned() {
        assert_eq!(
            fields(&[("id", "x".into()), ("features", "a, b".into())]),
            "id:        x\nfeatures:  a, b"
        );
    }

    #[test]
    fn values_for_people() {
        let value = json!({"s": "x", "n": 3, "none": null, "list": ["a", "b"], "empty": [], "obj": {"k": 1}});
        assert_eq!(text(&value, "s"), "x");
        assert_eq!(text(&value, "n"), "3");
        assert_eq!(text(&value, "none"), "-");
        assert_eq!(text(&value, "missing"), "-");
        assert_eq!(text(&value, "list"), "a, b");
        assert_eq!(text(&value, "empty"), "-");
        assert_eq!(text(&value, "obj"), r#"{"k":1}"#);
    }

    #[test]
    fn times_and_sizes() {
        assert_eq!(format_ms(0), "1970-01-01 00:00:00");
        assert_eq!(format_ms(951_782_400_000), "2000-02-29 00:00:00");
        assert_eq!(format_ms(1_767_225_599_999), "2025-12-31 23:59:59");
        assert_eq!(
            time(&json!({"at_ms": 86_400_000}), "at_ms"),
            "1970-01-02 00:00:00"
        );
        assert_eq!(format_bytes(812), "812 B");
        assert_eq!(format_bytes(1536), "1.5 KiB");
        assert_eq!(format_bytes(16 * 1024 * 1024), "16.0 MiB");
        assert_eq!(short_hash("0123456789abcdef"), "0123456789ab");
    }
}
