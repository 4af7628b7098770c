//! One stored module log record (a JSON line of a segment), the query filter, and the page cursor.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A record's severity, ordered from the least to the most severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

impl Level {
    /// The level named `text` (`trace`, `debug`, `info`, `warn`, `error`).
    pub(crate) fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "trace" => Self::Trace,
            "debug" => Self::Debug,
            "info" => Self::Info,
            "warn" => Self::Warn,
            "error" => Self::Error,
            _ => return None,
        })
    }

    /// The lower-case name.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Trace => "trace",
            Self::Debug => "debug",
            Self::Info => "info",
            Self::Warn => "warn",
            Self::Error => "error",
        }
    }

    /// The runtime's level of the same name.
    pub(crate) fn of(level: modhost_runtime::logs::LogLevel) -> Self {
        use modhost_runtime::logs::LogLevel;
        match level {
            LogLevel::Trace => Self::Trace,
            LogLevel::Debug => Self::Debug,
            LogLevel::Info => Self::Info,
            LogLevel::Warn => Self::Warn,
            LogLevel::Error => Self::Error,
        }
    }
}

/// One record as stored: one JSON object per line of a segment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Entry {
    /// When the host received it, in ms since the Unix epoch.
    pub(crate) time_ms: u64,
    pub(crate) module: String,
    pub(crate) version: String,
    pub(crate) request_id: String,
    pub(crate) level: Level,
    pub(crate) message: String,
    #[serde(default)]
    pub(crate) fields: BTreeMap<String, String>,
}

impl Entry {
    /// About how many bytes the record holds, to bound what waits for the writer.
    pub(crate) fn weight(&self) -> usize {
        64 + self.module.len()
            + self.version.len()
            + self.request_id.len()
            + self.message.len()
            + self
                .fields
                .iter()
                .map(|(key, value)| key.len() + value.len() + 8)
                .sum::<usize>()
    }
}

/// Which records a query or a live stream wants; every condition set must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Filter {
    pub(crate) module: Option<String>,
    /// This level or a more severe one.
    pub(crate) min_level: Option<Level>,
    pub(crate) request_id: Option<String>,
    /// At or after (ms since the Unix epoch).
    pub(crate) since_ms: Option<u64>,
    /// At or before (ms since the Unix epoch).
    pub(crate) until_ms: Option<u64>,
}

impl Filter {
    /// Whether `entry` passes.
    pub(crate) fn matches(&self, entry: &Entry) -> bool {
        self.module.as_ref().is_none_or(|module| *module == entry.module)
            && self.min_level.is_none_or(|level| entry.level >= level)
            && self
                .request_id
                .as_ref()
                .is_none_or(|request_id| *request_id == entry.request_id)
            && self.since_ms.is_none_or(|since| entry.time_ms >= since)
            && self.until_ms.is_none_or(|until| entry.time_ms <= until)
    }
}

/// Where a page ended: the records before byte `offset` of segment
/// `segment`, then every older segment. Travels as `<segment>.<offset>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cursor {
    pub(crate) segment: u64,
    pub(crate) offset: u64,
}

impl Cursor {
    /// Reads a cursor as [`Cursor::encode`] wrote it.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let (segment, offset) = text.split_once('.')?;
        let number = |part: &str| {
            (!part.is_empty() && part.bytes().all(|byte| byte.is_ascii_digit()))
                .then(|| part.parse().ok())
                .flatten()
        };
        Some(Self {
            segment: number(segment)?,
            offset: number(offset)?,
        })
    }

    /// The cursor as it travels.
    pub(crate) fn encode(self) -> String {
        format!("{}.{}", self.segment, self.offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_order_and_parse() {
        assert!(Level::Trace < Level::Debug && Level::Warn < Level::Error);
        assert_eq!(Level::parse("warn"), Some(Level::Warn));
        assert_eq!(Level::parse("WARN"), None);
        assert_eq!(Level::parse("shout"), None);
        assert_eq!(Level::Error.as_str(), "error");
    }

    #[test]
    fn cursors_round_trip_and_refuse_anything_else() {
        let cursor = Cursor {
            segment: 1_700_000_000_000,
            offset: 4096,
        };
        assert_eq!(Cursor::parse(&cursor.encode()), Some(cursor));
        for bad in [
            "",
            ".",
            "1.",
            ".1",
            "1.2.3",
            "a.1",
            "-1.2",
            "1.+2",
            "99999999999999999999999.1",
        ] {
            assert_eq!(Cursor::parse(bad), None, "{bad:?}");
        }
    }
}
