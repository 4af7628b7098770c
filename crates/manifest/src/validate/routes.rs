//! Checks `[[endpoints]]` and `[limits]`.

use modhost_path::PathPattern;

use super::{FirstSeen, description, in_range, method, optional};
use crate::error::Problems;
use crate::names::check_permission;
use crate::raw::{RawEndpoint, RawLimits};
use crate::text::field_index;
use crate::{Endpoint, Limits};

pub(super) fn endpoints(raw: &[RawEndpoint], problems: &mut Problems) -> Option<Vec<Endpoint>> {
    let checked = raw
        .iter()
        .enumerate()
        .map(|(index, endpoint)| self::endpoint(index, endpoint, problems))
        .collect();
    report_duplicates(raw, problems);
    super::all(checked)
}

fn endpoint(index: usize, raw: &RawEndpoint, problems: &mut Problems) -> Option<Endpoint> {
    let prefix = field_index("endpoints", index);
    let method = problems.check(&format!("{prefix}.method"), method(&raw.method));
    let path = problems.check(&format!("{prefix}.path"), PathPattern::parse(&raw.path));
    let permission = problems.check(&format!("{prefix}.permission"), check_permission(&raw.permission));
    let description = description(
        problems,
        &format!("{prefix}.description"),
        raw.description.as_deref(),
    );
    Some(Endpoint {
        method: method?,
        path: path?,
        permission: permission?,
        description: description?,
    })
}

/// Refuses a second endpoint with the same method and path as written.
fn report_duplicates(raw: &[RawEndpoint], problems: &mut Problems) {
    let mut first_seen = FirstSeen::new();
    for (index, endpoint) in raw.iter().enumerate() {
        if let Some(earlier) = first_seen.earlier((endpoint.method.as_str(), endpoint.path.as_str()), index) {
            problems.add(
                field_index("endpoints", index),
                format!(
                    "`{} {}` is already declared by endpoints[{earlier}]; declare each method and path once",
                    endpoint.method, endpoint.path
                ),
            );
        }
    }
}

pub(super) fn limits(raw: &RawLimits, problems: &mut Problems) -> Option<Limits> {
    let memory_mb = optional(problems, "limits.memory_mb", raw.memory_mb, |value| {
        in_range(value, 1..=i64::from(Limits::MAX_MEMORY_MB), "use 1 to 4096 (MiB)")
    });
    let timeout_ms = optional(problems, "limits.timeout_ms", raw.timeout_ms, |value| {
        in_range(
            value,
            1..=i64::from(Limits::MAX_TIMEOUT_MS),
            "use 1 to 60000 (milliseconds)",
        )
    });
    let fuel = optional(problems, "limits.fuel", raw.fuel, |value| {
        in_range(
            value,
            1..=i64::MAX,
            "use 1 or more, or leave `fuel` out to turn metering off",
        )
    });
    let kv_mb = optional(problems, "limits.kv_mb", raw.kv_mb, |value| {
        in_range(value, 1..=i64::from(Limits::MAX_KV_MB), "use 1 to 65536 (MiB)")
    });
    let kv_keys = optional(problems, "limits.kv_keys", raw.kv_keys, |value| {
        in_range(
            value,
            1..=i64::try_from(Limits::MAX_KV_KEYS).unwrap_or(i64::MAX),
            "use 1 to 100000000 (keys)",
        )
    });
    Some(Limits {
        memory_mb: memory_mb?.unwrap_or(Limits::DEFAULT_MEMORY_MB),
        timeout_ms: timeout_ms?.unwrap_or(Limits::DEFAULT_TIMEOUT_MS),
        fuel: fuel?,
        kv_mb: kv_mb?.unwrap_or(Limits::DEFAULT_KV_MB),
        kv_keys: kv_keys?.unwrap_or(Limits::DEFAULT_KV_KEYS),
    })
}
