//! Endpoint path patterns such as `/items/{sku}` or `/files/{*rest}`: parsing and matching.
//!
//! One implementation serves the host and the guests: the manifest validator
//! checks `[[endpoints]].path` with [`PathPattern::parse`], the host matches a
//! request to an endpoint to enforce its permission, and the guest SDK's router
//! dispatches to handler functions. Keeping a single matcher means the host and
//! a module can never disagree about which endpoint a request is for.
//!
//! # Syntax
//!
//! A pattern starts with `/` and is a sequence of `/`-separated segments:
//!
//! - a literal segment (`items`) matches itself exactly;
//! - a parameter (`{sku}`) matches one non-empty segment and captures it;
//! - a rest parameter (`{*path}`), only as the last segment, captures everything
//!   that follows (possibly empty), slashes included.
//!
//! Parameter names are `[a-z_][a-z0-9_]*` and unique within a pattern. A trailing
//! slash is significant only in that `/items/` has an empty last segment, which
//! no parameter matches. Captured values are percent-decoded.
//!
//! This crate has no dependencies so that it costs guests nothing.

use std::fmt;

/// A parsed path pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathPattern {
    source: String,
    segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param(String),
    Rest(String),
}

/// Why a pattern could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError {
    message: String,
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for PatternError {}

fn pattern_error(message: impl Into<String>) -> PatternError {
    PatternError {
        message: message.into(),
    }
}

/// Path parameters captured by a match, in pattern order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// The value captured for `name`, if the pattern has such a parameter.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// Every `(name, value)` pair in pattern order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs
            .iter()
            .map(|(key, value)| (key.as_str(), value.as_str()))
    }

    /// Whether nothing was captured.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }
}

fn is_valid_param_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn is_valid_literal(segment: &str) -> bool {
    segment
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~' | ':' | '@'))
}

impl PathPattern {
    /// Parses `source`, explaining in lower case what is wrong when it is not a pattern.
    pub fn parse(source: &str) -> Result<Self, PatternError> {
        let Some(body) = source.strip_prefix('/') else {
            return Err(pattern_error(format!("path `{source}` must start with `/`")));
        };
        if source.len() > 256 {
            return Err(pattern_error("path is longer than 256 bytes"));
        }
        let mut segments = Vec::new();
        if body.is_empty() {
            return Ok(Self {
                source: source.to_owned(),
                segments,
            });
        }
        let raw_segments: Vec<&str> = body.split('/').collect();
        let last_index = raw_segments.len() - 1;
        for (index, raw) in raw_segments.iter().enumerate() {
            let segment = if let Some(inner) = raw.strip_prefix('{').and_then(|r| r.strip_suffix('}')) {
                if let Some(rest_name) = inner.strip_prefix('*') {
                    if index != last_index {
                        return Err(pattern_error(format!(
                            "rest parameter `{{*{rest_name}}}` in `{source}` must be the last segment"
                        )));
                    }
                    Segment::Rest(rest_name.to_owned())
                } else {
                    Segment::Param(inner.to_owned())
                }
            } else if raw.contains('{') || raw.contains('}') {
                return Err(pattern_error(format!(
                    "segment `{raw}` in `{source}` mixes text and braces; a parameter is a whole segment like `{{name}}`"
                )));
            } else if raw.is_empty() && index != last_index {
                return Err(pattern_error(format!(
                    "path `{source}` has an empty segment (`//`)"
                )));
            } else if !is_valid_literal(raw) {
                return Err(pattern_error(format!(
                    "segment `{raw}` in `{source}` may only hold letters, digits and `-_.~:@`"
                )));
            } else {
                Segment::Literal((*raw).to_owned())
            };
            if let Segment::Param(name) | Segment::Rest(name) = &segment {
                if !is_valid_param_name(name) {
                    return Err(pattern_error(format!(
                        "parameter name `{name}` in `{source}` must match [a-z_][a-z0-9_]*"
                    )));
                }
                let duplicate = segments.iter().any(
                    |existing| matches!(existing, Segment::Param(other) | Segment::Rest(other) if other == name),
                );
                if duplicate {
                    return Err(pattern_error(format!(
                        "parameter `{name}` appears twice in `{source}`"
                    )));
                }
            }
            segments.push(segment);
        }
        Ok(Self {
            source: source.to_owned(),
            segments,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The parameter names in pattern order.
    pub fn param_names(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().filter_map(|segment| match segment {
            Segment::Param(name) | Segment::Rest(name) => Some(name.as_str()),
            Segment::Literal(_) => None,
        })
    }

    /// Matches a request path (without query string) and returns the captured parameters.
    pub fn matches(&self, path: &str) -> Option<Params> {
        let body = path.strip_prefix('/')?;
        let mut pairs = Vec::new();
        let mut remaining = if body.is_empty() && self.segments.is_empty() {
            None
        } else {
            Some(body)
        };
        for segment in &self.segments {
            match segment {
                Segment::Rest(name) => {
                    pairs.push((name.clone(), percent_decode(remaining.unwrap_or(""))?));
                    return Some(Params { pairs });
                }
                Segment::Literal(literal) => {
                    let (head, tail) = split_first_segment(remaining?);
                    if head != literal {
                        return None;
                    }
                    remaining = tail;
                }
                Segment::Param(name) => {
                    let (head, tail) = split_first_segment(remaining?);
                    if head.is_empty() {
                        return None;
                    }
                    pairs.push((name.clone(), percent_decode(head)?));
                    remaining = tail;
                }
            }
        }
        remaining.is_none().then_some(Params { pairs })
    }
}

impl fmt::Display for PathPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

fn split_first_segment(path: &str) -> (&str, Option<&str>) {
    match path.split_once('/') {
        Some((head, tail)) => (head, Some(tail)),
        None => (path, None),
    }
}

/// Decodes `%XX` escapes; `None` when an escape is malformed or the result is not UTF-8.
pub fn percent_decode(input: &str) -> Option<String> {
    let bytes = input.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = input.get(index + 1..index + 3)?;
            decoded.push(u8::from_str_radix(hex, 16).ok()?);
            index += 3;
        } else {
            decoded.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(decoded).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(source: &str) -> PathPattern {
        match PathPattern::parse(source) {
            Ok(pattern) => pattern,
            Err(error) => panic!("`{source}` should parse: {error}"),
        }
    }

    #[test]
    fn literal_paths_match_only_themselves() {
        let health = pattern("/health");
        assert_eq!(health.matches("/health"), Some(Params::default()));
        assert_eq!(health.matches("/health/"), None);
        assert_eq!(health.matches("/healthz"), None);
        assert_eq!(health.matches("/"), None);
        let root = pattern("/");
        assert_eq!(root.matches("/"), Some(Params::default()));
        assert_eq!(root.matches("/x"), None);
    }

    #[test]
    fn params_capture_one_decoded_segment() {
        let item = pattern("/items/{sku}/stock/{location}");
        let params = item.matches("/items/TS%2D01/stock/store%201").expect("matches");
        assert_eq!(params.get("sku"), Some("TS-01"));
        assert_eq!(params.get("location"), Some("store 1"));
        assert_eq!(item.matches("/items//stock/x"), None);
        assert_eq!(item.matches("/items/a/stock"), None);
        assert_eq!(item.matches("/items/a/stock/b/c"), None);
        assert_eq!(item.param_names().collect::<Vec<_>>(), ["sku", "location"]);
    }

    #[test]
    fn rest_captures_everything_after() {
        let files = pattern("/files/{*path}");
        assert_eq!(
            files.matches("/files/a/b/c").expect("matches").get("path"),
            Some("a/b/c")
        );
        assert_eq!(files.matches("/files/").expect("matches").get("path"), Some(""));
        assert_eq!(files.matches("/file/a"), None);
    }

    #[test]
    fn malformed_escapes_do_not_match() {
        assert_eq!(pattern("/items/{sku}").matches("/items/%zz"), None);
        assert_eq!(pattern("/items/{sku}").matches("/items/%ff"), None);
    }

    #[test]
    fn bad_patterns_say_what_is_wrong() {
        let cases = [
            ("items", "path `items` must start with `/`"),
            ("/a//b", "path `/a//b` has an empty segment (`//`)"),
            (
                "/{*rest}/x",
                "rest parameter `{*rest}` in `/{*rest}/x` must be the last segment",
            ),
            (
                "/a{b}",
                "segment `a{b}` in `/a{b}` mixes text and braces; a parameter is a whole segment like `{name}`",
            ),
            (
                "/{Sku}",
                "parameter name `Sku` in `/{Sku}` must match [a-z_][a-z0-9_]*",
            ),
            ("/{id}/{id}", "parameter `id` appears twice in `/{id}/{id}`"),
            (
                "/a b",
                "segment `a b` in `/a b` may only hold letters, digits and `-_.~:@`",
            ),
        ];
        for (source, expected) in cases {
            match PathPattern::parse(source) {
                Ok(_) => panic!("`{source}` should be refused"),
                Err(error) => assert_eq!(error.to_string(), expected),
            }
        }
    }
}
