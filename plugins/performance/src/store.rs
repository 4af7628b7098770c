//! Reading and writing the module's kv data, with every scan bounded.
//!
//! The functions here only move data between kv and the types of
//! [`crate::model`] and [`crate::alerts`]; the one decision they share,
//! how new points fill chunks, is the pure [`pack_chunks`].

use std::collections::BTreeMap;

use modhost_sdk::{Error, Result, kv};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::alerts::{Alert, AlertState};
use crate::keys::{self, CHUNK_CAPACITY, HOUR_MS, MAX_CHUNKS_PER_HOUR};
use crate::model::{MetricDef, Rule, StoredPoint};

/// The most rules one metric may have; bounds the work of every ingest.
pub const MAX_RULES_PER_METRIC: usize = 50;
/// The most chunk keys `DELETE /metrics/{name}` removes in one request.
pub const MAX_DELETE_CHUNKS: usize = 20_000;
/// The most expired chunks of one metric an ingest deletes.
pub const MAX_PRUNE_PER_METRIC: u32 = 100;
/// The most open alerts of one rule a rule change or deletion resolves.
pub const MAX_OPEN_PER_RULE: usize = 10_000;
/// The most alerts one `GET /alerts` reads while filtering by state.
pub const MAX_ALERT_SCAN: usize = 2000;

/// Metric `name`'s definition, if defined.
pub fn metric(name: &str) -> Result<Option<MetricDef>> {
    kv::get_json(&keys::metric(name))
}

/// The definitions of those of `names` that are defined.
pub fn metrics<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<BTreeMap<String, MetricDef>> {
    let mut found = BTreeMap::new();
    for name in names {
        if found.contains_key(name) {
            continue;
        }
        if let Some(definition) = metric(name)? {
            found.insert(name.to_owned(), definition);
        }
    }
    Ok(found)
}

/// Rule `id`, if it exists.
pub fn rule(id: &str) -> Result<Option<Rule>> {
    kv::get_json(&keys::rule(id))
}

/// The ids of the rules watching `metric`, at most `limit` (sorted).
pub fn rule_ids_of(metric: &str, limit: u32) -> Result<Vec<String>> {
    let prefix = keys::rule_index_prefix(metric);
    let page = kv::list(&prefix, None, limit)?;
    Ok(page
        .keys
        .iter()
        .filter_map(|key| key.strip_prefix(&prefix))
        .map(str::to_owned)
        .collect())
}

/// The rules watching `metric`.
pub fn rules_of(metric: &str) -> Result<Vec<Rule>> {
    let ids = rule_ids_of(metric, u32::try_from(MAX_RULES_PER_METRIC).unwrap_or(u32::MAX))?;
    let mut rules = Vec::with_capacity(ids.len());
    for id in ids {
        // An index entry without its rule is skipped: the rule is the source of truth.
        if let Some(rule) = rule(&id)?
            && rule.metric == metric
        {
            rules.push(rule);
        }
    }
    Ok(rules)
}

/// One page of the keys under `prefix` after the entry `after` (a suffix), as suffixes,
/// and the suffix to continue after when more remain.
pub fn page_of_names(prefix: &str, after: Option<&str>, limit: u32) -> Result<(Vec<String>, Option<String>)> {
    let after = after.map(|suffix| format!("{prefix}{suffix}"));
    let page = kv::list(prefix, after.as_deref(), limit)?;
    let names: Vec<String> = page
        .keys
        .iter()
        .filter_map(|key| key.strip_prefix(prefix))
        .map(str::to_owned)
        .collect();
    let next = page.next.is_some().then(|| names.last().cloned()).flatten();
    Ok((names, next))
}

/// The JSON values of `keys` that exist, in order.
pub fn values_of<T: DeserializeOwned>(keys: impl IntoIterator<Item = String>) -> Result<Vec<T>> {
    let mut values = Vec::new();
    for key in keys {
        if let Some(value) = kv::get_json(&key)? {
            values.push(value);
        }
    }
    Ok(values)
}

/// Stores `value` as JSON under `key`.
pub fn put<T: Serialize + ?Sized>(key: &str, value: &T) -> Result<()> {
    kv::set_json(key, value)
}

/// The last chunk of `metric` for the hour starting at `hour`, with its sequence number.
pub fn last_chunk(metric: &str, hour: i64) -> Result<Option<(u32, Vec<StoredPoint>)>> {
    let prefix = keys::hour_chunks_prefix(metric, hour);
    let chunk_keys = kv::list_all(&prefix, MAX_CHUNKS_PER_HOUR as usize)?;
    let Some(last) = chunk_keys.last() else {
        return Ok(None);
    };
    let (_, seq) = keys::parse_chunk(metric, last)
        .ok_or_else(|| Error::internal(format!("stored key `{last}` is not a chunk key")))?;
    let points = kv::get_json(last)?.unwrap_or_default();
    Ok(Some((seq, points)))
}

/// Fills the last chunk of an hour (`last`, if any) with `new` points up to `capacity`, then
/// new chunks; returns every chunk to write, or `None` if the hour would need more than
/// [`MAX_CHUNKS_PER_HOUR`] chunks.
pub fn pack_chunks(
    last: Option<(u32, Vec<StoredPoint>)>,
    new: Vec<StoredPoint>,
    capacity: usize,
) -> Option<Vec<(u32, Vec<StoredPoint>)>> {
    let (mut seq, mut current) = match last {
        // A full last chunk stays as it is: start the next one.
        Some((seq, points)) if points.len() >= capacity => (seq + 1, Vec::new()),
        Some(last) => last,
        None => (0, Vec::new()),
    };
    if seq >= MAX_CHUNKS_PER_HOUR {
        return None;
    }
    let mut chunks = Vec::new();
    for point in new {
        if current.len() >= capacity {
            chunks.push((seq, std::mem::take(&mut current)));
            seq += 1;
            if seq >= MAX_CHUNKS_PER_HOUR {
                return None;
            }
        }
        current.push(point);
    }
    chunks.push((seq, current));
    Some(chunks)
}

/// Appends `points` to the chunks of `metric` for the hour starting at `hour`: the chunks to write.
pub fn plan_append(
    metric: &str,
    hour: i64,
    points: Vec<StoredPoint>,
) -> Result<Vec<(String, Vec<StoredPoint>)>> {
    let packed = pack_chunks(last_chunk(metric, hour)?, points, CHUNK_CAPACITY).ok_or_else(|| {
        Error::unprocessable(format!(
            "metric `{metric}` would have more than {} points in the hour starting at {hour}",
            CHUNK_CAPACITY * MAX_CHUNKS_PER_HOUR as usize
        ))
    })?;
    Ok(packed
        .into_iter()
        .map(|(seq, chunk)| (keys::chunk(metric, hour, seq), chunk))
        .collect())
}

/// Deletes up to [`MAX_PRUNE_PER_METRIC`] chunks of `metric` whose whole hour is before `cutoff`;
/// returns how many.
pub fn prune_expired(metric: &str, cutoff: i64) -> Result<usize> {
    let page = kv::list(&keys::chunks_prefix(metric), None, MAX_PRUNE_PER_METRIC)?;
    let mut pruned = 0;
    for key in &page.keys {
        match keys::parse_chunk(metric, key) {
            Some((hour, _)) if hour + HOUR_MS <= cutoff => {
                kv::delete(key)?;
                pruned += 1;
            }
            _ => break,
        }
    }
    Ok(pruned)
}

/// Deletes every chunk of `metric`; returns how many.
pub fn delete_chunks(metric: &str) -> Result<usize> {
    let prefix = keys::chunks_prefix(metric);
    let chunk_keys = kv::list_all(&prefix, MAX_DELETE_CHUNKS).map_err(|_| {
        Error::unprocessable(format!(
            "metric `{metric}` has more than {MAX_DELETE_CHUNKS} chunks of points; lower retention_days so \
             old ones are pruned, then delete it"
        ))
    })?;
    for key in &chunk_keys {
        kv::delete(key)?;
    }
    Ok(chunk_keys.len())
}

/// The chunk keys of `metric` for hours from `from` (inclusive, any millisecond of the hour) to
/// `to` (exclusive), at most `max` or the error of `too_many`.
pub fn chunk_keys_in(
    metric: &str,
    from: i64,
    to: i64,
    too_many: impl Fn(usize) -> Result<()>,
) -> Result<Vec<String>> {
    let prefix = keys::chunks_prefix(metric);
    let mut after = Some(keys::chunks_from(metric, keys::hour_start(from)));
    let mut found = Vec::new();
    loop {
        let page = kv::list(&prefix, after.as_deref(), 0)?;
        for key in page.keys {
            match keys::parse_chunk(metric, &key) {
                Some((hour, _)) if hour >= to => return Ok(found),
                Some(_) => {
                    found.push(key);
                    too_many(found.len())?;
                }
                None => {}
            }
        }
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(found),
        }
    }
}

/// Alert `id`, if it exists.
pub fn alert(id: u64) -> Result<Option<Alert>> {
    kv::get_json(&keys::alert(id))
}

/// The id of the alert open for rule `rule` and tag set `series`, if any.
pub fn open_alert_id(rule: &str, series: &str) -> Result<Option<u64>> {
    kv::get_json(&keys::open(rule, series))
}

/// The alerts open for rule `rule`.
pub fn open_alerts_of(rule: &str) -> Result<Vec<Alert>> {
    let prefix = keys::open_prefix(rule);
    let open_keys = kv::list_all(&prefix, MAX_OPEN_PER_RULE)?;
    let mut alerts = Vec::new();
    for key in open_keys {
        if let Some(id) = kv::get_json::<u64>(&key)?
            && let Some(alert) = alert(id)?
        {
            alerts.push(alert);
        }
    }
    Ok(alerts)
}

/// One page of alerts, newest first, after alert `after` (older than it), keeping those in
/// `state` (all when `None`): at most `limit`, reading at most [`MAX_ALERT_SCAN`] alerts.
/// Returns the page and the id to continue after when more may remain.
pub fn alerts_page(
    state: Option<AlertState>,
    after: Option<u64>,
    limit: usize,
) -> Result<(Vec<Alert>, Option<u64>)> {
    let mut cursor = after.map(keys::alert);
    let mut found = Vec::new();
    let mut scanned = 0;
    loop {
        let budget = (MAX_ALERT_SCAN - scanned).min(1000);
        let page = kv::list(
            keys::ALERTS_PREFIX,
            cursor.as_deref(),
            u32::try_from(budget).unwrap_or(1000),
        )?;
        let page_len = page.keys.len();
        for (index, key) in page.keys.iter().enumerate() {
            scanned += 1;
            let Some(id) = keys::parse_alert(key) else {
                continue;
            };
            if let Some(alert) = alert(id)?
                && state.is_none_or(|wanted| alert.state == wanted)
            {
                found.push(alert);
            }
            let more = index + 1 < page_len || page.next.is_some();
            if found.len() >= limit || scanned >= MAX_ALERT_SCAN {
                return Ok((found, more.then_some(id)));
            }
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Ok((found, None)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn points(values: std::ops::Range<i64>) -> Vec<StoredPoint> {
        values
            .map(|at| StoredPoint {
                at,
                value: 1.0,
                tags: Default::default(),
            })
            .collect()
    }

    #[test]
    fn new_points_fill_the_last_chunk_then_roll() {
        assert_eq!(pack_chunks(None, points(0..2), 3), Some(vec![(0, points(0..2))]));
        assert_eq!(
            pack_chunks(Some((4, points(0..2))), points(2..7), 3),
            Some(vec![(4, points(0..3)), (5, points(3..6)), (6, points(6..7))])
        );
        assert_eq!(
            pack_chunks(Some((1, points(0..3))), points(3..4), 3),
            Some(vec![(2, points(3..4))]),
            "a full chunk is not rewritten"
        );
        assert_eq!(
            pack_chunks(Some((MAX_CHUNKS_PER_HOUR - 1, points(0..3))), points(3..4), 3),
            None
        );
        assert_eq!(
            pack_chunks(Some((MAX_CHUNKS_PER_HOUR - 1, points(0..2))), points(2..4), 3),
            None
        );
        assert_eq!(
            pack_chunks(Some((MAX_CHUNKS_PER_HOUR - 1, points(0..2))), points(2..3), 3),
            Some(vec![(MAX_CHUNKS_PER_HOUR - 1, points(0..3))])
        );
    }
}
