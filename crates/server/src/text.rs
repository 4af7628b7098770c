//! Text taken from requests or guests, made safe to keep or show: cut to a bounded length, control characters replaced.

/// The longest request- or guest-derived field the server keeps or logs, in characters.
pub(crate) const MAX_FIELD_CHARS: usize = 128;

/// `text` cut to [`MAX_FIELD_CHARS`] characters, control characters as `?`;
/// a cut says how long the original was.
pub(crate) fn bounded(text: &str) -> String {
    let mut out: String = text
        .chars()
        .take(MAX_FIELD_CHARS)
        .map(|character| if character.is_control() { '?' } else { character })
        .collect();
    if text.chars().nth(MAX_FIELD_CHARS).is_some() {
        out.push_str(&format!("… ({} bytes)", text.len()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_fields_are_cut_and_control_characters_replaced() {
        assert_eq!(bounded("acme"), "acme");
        assert_eq!(bounded("a\nb\u{1b}[31m"), "a?b?[31m");
        let long = "x".repeat(400 * 1024);
        let cut = bounded(&long);
        assert_eq!(cut, format!("{}… (409600 bytes)", "x".repeat(MAX_FIELD_CHARS)));
    }
}
