//! The `modhost backup` command tree as clap parses it, with its value parsers (apart from `cli.rs`, which is near the length cap).

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub(crate) enum BackupCommand {
    /// Take a backup of a tenant (stored on the host; with -o also downloaded) (operator).
    Create {
        /// The tenant.
        tenant: String,
        /// Also write the backup to this file.
        #[arg(short, long, value_name = "FILE")]
        output: Option<std::path::PathBuf>,
    },
    /// Check a backup file member by member, here, without a server.
    Verify {
        /// The backup file.
        file: std::path::PathBuf,
    },
    /// Restore a tenant from a backup, all or nothing (operator).
    Restore {
        /// The backup file to upload.
        #[arg(required_unless_present = "stored", conflicts_with = "stored")]
        file: Option<std::path::PathBuf>,
        /// Restore a backup stored on the host instead: TENANT/NAME, as `backup list` shows.
        #[arg(long, value_name = "TENANT/NAME")]
        stored: Option<String>,
        /// Restore under this new tenant id (it must not exist).
        #[arg(long = "as", value_name = "TENANT")]
        as_id: Option<String>,
    },
    /// A tenant's scheduled backups: set, show, remove, list (operator; a
    /// tenant admin may show its own).
    #[command(subcommand)]
    Schedule(ScheduleCommand),
    /// List the backups stored on the host, newest first (operator; a
    /// tenant admin sees its own tenant's).
    List {
        /// Only this tenant's backups.
        #[arg(long, value_name = "TENANT")]
        tenant: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum ScheduleCommand {
    /// Back a tenant up every so often and keep the newest few (replaces its schedule).
    Set {
        /// The tenant.
        tenant: String,
        /// How often: 90, 30s, 10m, 6h, 1d (at least 1 minute outside tests).
        #[arg(long, value_name = "INTERVAL", value_parser = parse_every)]
        every: u64,
        /// How many of the newest backups to keep (1 to 1000).
        #[arg(long, value_name = "N")]
        keep: u32,
        /// Also remove backups older than this, e.g. 30d (never the newest one).
        #[arg(long, value_name = "DAYS", value_parser = parse_days)]
        max_age: Option<u32>,
    },
    /// Show a tenant's backup schedule and its last run.
    Show {
        /// The tenant.
        tenant: String,
    },
    /// Remove a tenant's backup schedule; its stored backups stay.
    Rm {
        /// The tenant.
        tenant: String,
    },
    /// List every tenant's backup schedule.
    List,
}

/// An interval like `90`, `30s`, `10m`, `6h` or `1d`, in seconds.
pub(crate) fn parse_every(text: &str) -> Result<u64, String> {
    let wrong = || format!("`{text}` is not an interval like 90, 30s, 10m, 6h or 1d");
    let (number, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((at, _)) => text.split_at(at),
        None => (text, "s"),
    };
    let number: u64 = number.parse().map_err(|_| wrong())?;
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(wrong()),
    };
    Ok(number.saturating_mul(scale))
}

/// An age like `30d` or `30`, in days.
pub(crate) fn parse_days(text: &str) -> Result<u32, String> {
    text.strip_suffix('d')
        .unwrap_or(text)
        .parse()
        .map_err(|_| format!("`{text}` is not an age in days like 30d"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_and_ages_parse() {
        assert_eq!(parse_every("90"), Ok(90));
        assert_eq!(parse_every("30s"), Ok(30));
        assert_eq!(parse_every("10m"), Ok(600));
        assert_eq!(parse_every("6h"), Ok(21_600));
        assert_eq!(parse_every("1d"), Ok(86_400));
        assert_eq!(
            parse_every("6 hours"),
            Err("`6 hours` is not an interval like 90, 30s, 10m, 6h or 1d".to_owned())
        );
        assert!(parse_every("h").is_err());
        assert_eq!(parse_days("30d"), Ok(30));
        assert_eq!(parse_days("7"), Ok(7));
        assert_eq!(
            parse_days("2w"),
            Err("`2w` is not an age in days like 30d".to_owned())
        );
    }
}
