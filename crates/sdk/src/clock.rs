//! The wall clock, as modules store time: milliseconds since the Unix epoch.
//!
//! The host gives guests the WASI wall clock; this is the one place that
//! turns it into the `u64` milliseconds module data uses (`at`, `from`, `to`).

/// Milliseconds since the Unix epoch (0 if the clock reads earlier, which a host never does).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| {
            u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
        })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_clock_reads_after_2023() {
        assert!(super::now_ms() > 1_700_000_000_000);
    }
}
