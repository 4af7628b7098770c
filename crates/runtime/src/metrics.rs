//! Module-defined metrics: validated, bounded and aggregated per (tenant, module).
//!
//! A series is a metric name plus its sorted tags. Counters add, gauges keep
//! the last value. Each (tenant, module) may hold at most
//! [`MAX_SERIES_PER_MODULE`] series so a module cannot exhaust host memory by
//! inventing tag values.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

/// The longest metric name or tag key, in bytes.
pub const MAX_NAME_BYTES: usize = 64;
/// Tag keys the host writes itself when it exports a series (or Prometheus
/// reserves); a guest tag with one of them would make the exported line
/// ambiguous or invalid, and a scrape with an invalid line fails for everyone.
pub const RESERVED_TAG_KEYS: &[&str] = &["tenant", "module", "le", "quantile", "outcome"];
/// The most tags on one point.
pub const MAX_TAGS: usize = 8;
/// The longest tag value, in bytes.
pub const MAX_TAG_VALUE_BYTES: usize = 128;
/// The most distinct series per (tenant, module).
pub const MAX_SERIES_PER_MODULE: usize = 1000;

/// A series: name and sorted tags.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SeriesKey {
    /// The metric name.
    pub name: String,
    /// Tags sorted by key.
    pub tags: Vec<(String, String)>,
}

/// The current value of a series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SeriesValue {
    /// A monotonically increasing count.
    Counter(u64),
    /// A last-written value.
    Gauge(f64),
}

/// Why a point was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetricRefusal {
    /// A name or tag key breaks the naming rule.
    #[error("{0}")]
    InvalidName(String),
    /// Too many tags or a tag value too long.
    #[error("{0}")]
    InvalidTags(String),
    /// The module already has the maximum number of series.
    #[error("the module already has {MAX_SERIES_PER_MODULE} series")]
    TooManySeries,
    /// The same series was used as a counter and a gauge.
    #[error("metric `{0}` is already recorded with the other kind (counter vs gauge)")]
    KindMismatch(String),
}

fn check_name(what: &str, name: &str) -> Result<(), MetricRefusal> {
    let mut chars = name.chars();
    let valid = name.len() <= MAX_NAME_BYTES
        && matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if valid {
        Ok(())
    } else {
        Err(MetricRefusal::InvalidName(format!(
            "{what} `{name}` must match [a-z][a-z0-9_]* and be at most {MAX_NAME_BYTES} bytes"
        )))
    }
}

fn series_key(name: &str, tags: Vec<(String, String)>) -> Result<SeriesKey, MetricRefusal> {
    check_name("metric name", name)?;
    if tags.len() > MAX_TAGS {
        return Err(MetricRefusal::InvalidTags(format!(
            "{} tags given; at most {MAX_TAGS}",
            tags.len()
        )));
    }
    for (index, (key, value)) in tags.iter().enumerate() {
        check_name("tag key", key)?;
        if RESERVED_TAG_KEYS.contains(&key.as_str()) {
            return Err(MetricRefusal::InvalidName(format!(
                "tag key `{key}` is reserved by the host ({}); choose another",
                RESERVED_TAG_KEYS.join(", ")
            )));
        }
        if tags[..index].iter().any(|(earlier, _)| earlier == key) {
            return Err(MetricRefusal::InvalidTags(format!(
                "tag `{key}` is given twice; give each tag once"
            )));
        }
        if value.len() > MAX_TAG_VALUE_BYTES {
            return Err(MetricRefusal::InvalidTags(format!(
                "tag `{key}` has a value longer than {MAX_TAG_VALUE_BYTES} bytes"
            )));
        }
    }
    let mut tags = tags;
    tags.sort();
    Ok(SeriesKey {
        name: name.to_owned(),
        tags,
    })
}

type ModuleSeries = BTreeMap<SeriesKey, SeriesValue>;

/// One module's series for one tenant, in a [`ModuleMetrics::snapshot`].
#[derive(Debug, Clone, PartialEq)]
pub struct ModuleSeriesSnapshot {
    /// The tenant.
    pub tenant: String,
    /// The module.
    pub module: String,
    /// Its series, sorted.
    pub series: Vec<(SeriesKey, SeriesValue)>,
}

/// All module metrics of the host.
#[derive(Debug, Default)]
pub struct ModuleMetrics {
    modules: Mutex<HashMap<(String, String), ModuleSeries>>,
}

impl ModuleMetrics {
    /// No metrics yet.
    pub fn new() -> Self {
        Self::default()
    }

    fn record(
        &self,
        tenant: &str,
        module: &str,
        key: SeriesKey,
        update: impl FnOnce(Option<SeriesValue>) -> Result<SeriesValue, MetricRefusal>,
    ) -> Result<(), MetricRefusal> {
        let mut modules = self
            .modules
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let series = modules.entry((tenant.to_owned(), module.to_owned())).or_default();
        let current = series.get(&key).copied();
        if current.is_none() && series.len() >= MAX_SERIES_PER_MODULE {
            return Err(MetricRefusal::TooManySeries);
        }
        let next = update(current)?;
        series.insert(key, next);
        Ok(())
    }

    /// Adds `value` to a counter.
    pub fn counter(
        &self,
        tenant: &str,
        module: &str,
        name: &str,
        value: u64,
        tags: Vec<(String, String)>,
    ) -> Result<(), MetricRefusal> {
        let key = series_key(name, tags)?;
        self.record(tenant, module, key, |current| match current {
            None => Ok(SeriesValue::Counter(value)),
            Some(SeriesValue::Counter(total)) => Ok(SeriesValue::Counter(total.saturating_add(value))),
            Some(SeriesValue::Gauge(_)) => Err(MetricRefusal::KindMismatch(name.to_owned())),
        })
    }

    /// Sets a gauge to `value`.
    pub fn gauge(
        &self,
        tenant: &str,
        module: &str,
        name: &str,
        value: f64,
        tags: Vec<(String, String)>,
    ) -> Result<(), MetricRefusal> {
        let key = series_key(name, tags)?;
        self.record(tenant, module, key, |current| match current {
            Some(SeriesValue::Counter(_)) => Err(MetricRefusal::KindMismatch(name.to_owned())),
            _ => Ok(SeriesValue::Gauge(value)),
        })
    }

    /// A copy of every series, sorted by tenant and module.
    pub fn snapshot(&self) -> Vec<ModuleSeriesSnapshot> {
        self.snapshot_where(|_| true)
    }

    /// A copy of `tenant`'s series only, sorted by module.
    pub fn snapshot_of(&self, tenant: &str) -> Vec<ModuleSeriesSnapshot> {
        self.snapshot_where(|owner| owner == tenant)
    }

    fn snapshot_where(&self, tenant: impl Fn(&str) -> bool) -> Vec<ModuleSeriesSnapshot> {
        let modules = self
            .modules
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut snapshot: Vec<_> = modules
            .iter()
            .filter(|((owner, _), _)| tenant(owner))
            .map(|((tenant, module), series)| ModuleSeriesSnapshot {
                tenant: tenant.clone(),
                module: module.clone(),
                series: series.iter().map(|(key, value)| (key.clone(), *value)).collect(),
            })
            .collect();
        snapshot.sort_by(|a, b| (&a.tenant, &a.module).cmp(&(&b.tenant, &b.module)));
        snapshot
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn counters_add_and_gauges_replace() {
        let metrics = ModuleMetrics::new();
        metrics
            .counter("acme", "inv", "sales", 2, tags(&[("store", "a")]))
            .expect("ok");
        metrics
            .counter("acme", "inv", "sales", 3, tags(&[("store", "a")]))
            .expect("ok");
        metrics.gauge("acme", "inv", "stock", 1.5, vec![]).expect("ok");
        metrics.gauge("acme", "inv", "stock", 7.0, vec![]).expect("ok");
        let snapshot = metrics.snapshot();
        assert_eq!(snapshot.len(), 1);
        let values: Vec<_> = snapshot[0]
            .series
            .iter()
            .map(|(k, v)| (k.name.as_str(), *v))
            .collect();
        assert_eq!(
            values,
            [
                ("sales", SeriesValue::Counter(5)),
                ("stock", SeriesValue::Gauge(7.0))
            ]
        );
    }

    #[test]
    fn a_tenants_snapshot_holds_only_its_modules() {
        let metrics = ModuleMetrics::new();
        for (tenant, module) in [("acme", "b"), ("acme", "a"), ("acmex", "a"), ("globex", "a")] {
            metrics.counter(tenant, module, "hits", 1, vec![]).expect("ok");
        }
        let owners: Vec<_> = metrics
            .snapshot_of("acme")
            .into_iter()
            .map(|module| (module.tenant, module.module))
            .collect();
        assert_eq!(
            owners,
            [
                ("acme".to_owned(), "a".to_owned()),
                ("acme".to_owned(), "b".to_owned())
            ]
        );
        assert_eq!(metrics.snapshot().len(), 4);
    }

    #[test]
    fn reserved_and_repeated_tag_keys_are_refused_and_nothing_is_recorded() {
        let metrics = ModuleMetrics::new();
        for key in RESERVED_TAG_KEYS {
            assert_eq!(
                metrics.counter("t", "m", "hits", 1, tags(&[(key, "x")])),
                Err(MetricRefusal::InvalidName(format!(
                    "tag key `{key}` is reserved by the host (tenant, module, le, quantile, outcome); choose another"
                )))
            );
        }
        assert_eq!(
            metrics.gauge("t", "m", "depth", 1.0, tags(&[("store", "a"), ("store", "b")])),
            Err(MetricRefusal::InvalidTags(
                "tag `store` is given twice; give each tag once".into()
            ))
        );
        assert!(metrics.snapshot().is_empty(), "a refused point records nothing");
    }

    #[test]
    fn reserved_tags_from_many_threads_at_once_record_nothing() {
        let metrics = std::sync::Arc::new(ModuleMetrics::new());
        let threads: Vec<_> = (0..8)
            .map(|thread| {
                let metrics = metrics.clone();
                std::thread::spawn(move || {
                    (0..100)
                        .filter(|point| {
                            let key = RESERVED_TAG_KEYS[(thread + point) % RESERVED_TAG_KEYS.len()];
                            metrics.counter("t", "m", "hits", 1, tags(&[(key, "x")])).is_err()
                        })
                        .count()
                })
            })
            .collect();
        let refused: usize = threads
            .into_iter()
            .map(|thread| thread.join().expect("thread"))
            .sum();
        assert_eq!(refused, 800);
        assert!(metrics.snapshot().is_empty());
    }

    #[test]
    fn bad_points_are_refused_with_reasons() {
        let metrics = ModuleMetrics::new();
        assert_eq!(
            metrics.counter("t", "m", "Bad", 1, vec![]),
            Err(MetricRefusal::InvalidName(
                "metric name `Bad` must match [a-z][a-z0-9_]* and be at most 64 bytes".into()
            ))
        );
        let many: Vec<_> = (0..9).map(|i| (format!("k{i}"), "v".to_owned())).collect();
        assert_eq!(
            metrics.counter("t", "m", "ok", 1, many),
            Err(MetricRefusal::InvalidTags("9 tags given; at most 8".into()))
        );
        metrics.counter("t", "m", "hits", 1, vec![]).expect("ok");
        assert_eq!(
            metrics.gauge("t", "m", "hits", 1.0, vec![]),
            Err(MetricRefusal::KindMismatch("hits".into()))
        );
    }

    #[test]
    fn series_per_module_are_capped() {
        let metrics = ModuleMetrics::new();
        for index in 0..MAX_SERIES_PER_MODULE {
            metrics
                .counter("t", "m", "c", 1, tags(&[("id", &index.to_string())]))
                .expect("under cap");
        }
        assert_eq!(
            metrics.counter("t", "m", "c", 1, tags(&[("id", "new")])),
            Err(MetricRefusal::TooManySeries)
        );
        metrics
            .counter("t", "m", "c", 1, tags(&[("id", "0")]))
            .expect("existing series still counts");
        metrics
            .counter("t", "other", "c", 1, tags(&[("id", "new")]))
            .expect("other module has its own cap");
    }
}
