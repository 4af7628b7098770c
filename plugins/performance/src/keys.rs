//! The kv key layout: every key the module reads or writes is built here.
//!
//! Keys are built only from validated names (metric names, tag keys and values,
//! rule ids), none of which can contain `/`, so no input can forge another
//! key's structure. Timestamps and sequence numbers are zero-padded so that
//! ascending key order is time order.
//!
//! | key | value |
//! |---|---|
//! | `metrics/<name>` | a metric definition |
//! | `points/<metric>/<hour start, 13 digits>-<seq, 4 digits>` | a chunk: up to [`CHUNK_CAPACITY`] points of that hour |
//! | `rules/<id>` | a threshold rule |
//! | `rule-index/<metric>/<id>` | empty: rule `id` watches `metric` |
//! | `open/<rule>/<series>` | the id of the open alert of that rule and tag set |
//! | `alerts/<9999999999 - id, 10 digits>` | an alert; inverted so key order is newest first |
//! | `alert-seq` | the last alert id handed out |

/// One hour in milliseconds: the span of a chunk.
pub const HOUR_MS: i64 = 3_600_000;
/// The most points kept in one chunk value (worst case well under the 1 MiB value limit).
pub const CHUNK_CAPACITY: usize = 500;
/// The most chunks one hour of one metric may have (the sequence has 4 digits).
pub const MAX_CHUNKS_PER_HOUR: u32 = 10_000;
/// The largest alert id (10 digits).
pub const MAX_ALERT_ID: u64 = 9_999_999_999;
/// Where the last alert id handed out is kept.
pub const ALERT_SEQ_KEY: &str = "alert-seq";
/// The prefix of metric definitions.
pub const METRICS_PREFIX: &str = "metrics/";
/// The prefix of rules.
pub const RULES_PREFIX: &str = "rules/";
/// The prefix of alerts.
pub const ALERTS_PREFIX: &str = "alerts/";

/// The key of metric `name`'s definition.
pub fn metric(name: &str) -> String {
    format!("{METRICS_PREFIX}{name}")
}

/// The key of rule `id`.
pub fn rule(id: &str) -> String {
    format!("{RULES_PREFIX}{id}")
}

/// The prefix of the rule index of `metric`.
pub fn rule_index_prefix(metric: &str) -> String {
    format!("rule-index/{metric}/")
}

/// The index entry saying rule `id` watches `metric`.
pub fn rule_index(metric: &str, id: &str) -> String {
    format!("{}{id}", rule_index_prefix(metric))
}

/// The start of the hour containing `at`.
pub fn hour_start(at: i64) -> i64 {
    at - at.rem_euclid(HOUR_MS)
}

/// The prefix of every chunk of `metric`.
pub fn chunks_prefix(metric: &str) -> String {
    format!("points/{metric}/")
}

/// The prefix of the chunks of `metric` for the hour starting at `hour`.
pub fn hour_chunks_prefix(metric: &str, hour: i64) -> String {
    format!("{}{hour:013}-", chunks_prefix(metric))
}

/// The key to list after to get the chunks of `metric` from the hour starting at `hour` on
/// (`list` is strictly after; every chunk key of that hour extends this one, so sorts after it).
pub fn chunks_from(metric: &str, hour: i64) -> String {
    format!("{}{hour:013}", chunks_prefix(metric))
}

/// The key of chunk `seq` of `metric` for the hour starting at `hour`.
pub fn chunk(metric: &str, hour: i64, seq: u32) -> String {
    format!("{}{seq:04}", hour_chunks_prefix(metric, hour))
}

/// The `(hour start, seq)` of a chunk key of `metric`, or `None` if it is not one.
pub fn parse_chunk(metric: &str, key: &str) -> Option<(i64, u32)> {
    let rest = key.strip_prefix(&chunks_prefix(metric))?;
    let (hour, seq) = rest.split_once('-')?;
    if hour.len() != 13 || seq.len() != 4 {
        return None;
    }
    Some((hour.parse().ok()?, seq.parse().ok()?))
}

/// The prefix of the open-alert index of rule `rule`.
pub fn open_prefix(rule: &str) -> String {
    format!("open/{rule}/")
}

/// The open-alert index entry of rule `rule` for the tag set encoded as `series`.
pub fn open(rule: &str, series: &str) -> String {
    format!("{}{series}", open_prefix(rule))
}

/// The key of alert `id` (1..=[`MAX_ALERT_ID`]): inverted, so ascending keys are newest first.
pub fn alert(id: u64) -> String {
    format!("{ALERTS_PREFIX}{:010}", MAX_ALERT_ID.saturating_sub(id))
}

/// The alert id of an alert key, or `None` if it is not one.
pub fn parse_alert(key: &str) -> Option<u64> {
    let digits = key.strip_prefix(ALERTS_PREFIX)?;
    if digits.len() != 10 {
        return None;
    }
    let inverted: u64 = digits.parse().ok()?;
    MAX_ALERT_ID.checked_sub(inverted).filter(|id| *id > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const AT: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z, an hour start

    #[test]
    fn chunk_keys_sort_in_time_order_and_round_trip() {
        assert_eq!(hour_start(AT + 1), AT);
        assert_eq!(hour_start(AT + HOUR_MS - 1), AT);
        assert_eq!(hour_start(AT + HOUR_MS), AT + HOUR_MS);
        assert_eq!(chunk("cpu", AT, 0), "points/cpu/1767225600000-0000");
        assert_eq!(chunk("cpu", 0, 12), "points/cpu/0000000000000-0012");
        assert_eq!(hour_chunks_prefix("cpu", AT), "points/cpu/1767225600000-");
        assert_eq!(parse_chunk("cpu", &chunk("cpu", AT, 7)), Some((AT, 7)));
        assert_eq!(parse_chunk("cpu", "points/cpu.x/1767225600000-0000"), None);
        assert_eq!(parse_chunk("cpu", "points/cpu/17672-0000"), None);
        let mut keys = vec![
            chunk("cpu", AT + HOUR_MS, 0),
            chunk("cpu", AT, 1),
            chunk("cpu", AT, 0),
            chunks_from("cpu", AT),
        ];
        keys.sort();
        assert_eq!(
            keys,
            [
                chunks_from("cpu", AT),
                chunk("cpu", AT, 0),
                chunk("cpu", AT, 1),
                chunk("cpu", AT + HOUR_MS, 0)
            ]
        );
        assert!(!chunk("cpu.x", AT, 0).starts_with(&chunks_prefix("cpu")));
    }

    #[test]
    fn alert_keys_are_newest_first() {
        assert_eq!(alert(1), "alerts/9999999998");
        assert_eq!(alert(42), "alerts/9999999957");
        assert!(alert(2) < alert(1));
        assert_eq!(parse_alert(&alert(42)), Some(42));
        assert_eq!(parse_alert("alerts/9999999999"), None);
        assert_eq!(parse_alert("alerts/abc"), None);
        assert_eq!(parse_alert("rules/9999999998"), None);
    }

    #[test]
    fn other_keys() {
        assert_eq!(metric("checkout_latency_ms"), "metrics/checkout_latency_ms");
        assert_eq!(rule("slow"), "rules/slow");
        assert_eq!(rule_index("cpu", "slow"), "rule-index/cpu/slow");
        assert_eq!(
            open("slow", "channel=web,store=sp-01"),
            "open/slow/channel=web,store=sp-01"
        );
    }
}
