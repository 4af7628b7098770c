//! The `migrate` lifecycle hook: what each release does with data an earlier (or later) release wrote.
//!
//! 1.1.0 rewrites every 1.0 stock level (a bare number) into the 1.1 object
//! shape; running it twice changes nothing. A release refuses data written by
//! a newer minor release, whose shapes it may not know: the promotion fails and
//! the host leaves the data as it was (roll back instead of promoting an older
//! version).

use modhost_sdk::kv;

use crate::stock::{RESERVATIONS, upgrade_stored_level};

/// What a migration has to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// The data already has this release's shape.
    Nothing,
    /// Rewrite 1.0 stock levels into the 1.1 shape.
    UpgradeStockLevels,
}

/// `major.minor` of a version string such as `1.0.0` or `1.1.0-rc.1`.
fn major_minor(version: &str) -> Option<(u64, u64)> {
    let mut parts = version.split(['.', '-', '+']);
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

/// Decides the step for data written by `from_version` (`None`: no earlier
/// version ran for this tenant), in the release `this_version`.
pub fn plan(from_version: Option<&str>, this_version: &str) -> Result<Step, String> {
    let Some(from_version) = from_version else {
        return Ok(Step::Nothing);
    };
    let from = major_minor(from_version)
        .ok_or_else(|| format!("`{from_version}` is not a version this module understands"))?;
    let this = major_minor(this_version)
        .ok_or_else(|| format!("this module's own version `{this_version}` is not understood"))?;
    if from.0 != this.0 || from > this {
        return Err(format!(
            "inventory {this_version} cannot read data written by inventory {from_version}; \
             roll back to the earlier version instead of promoting an older one"
        ));
    }
    if RESERVATIONS && from < (1, 1) {
        return Ok(Step::UpgradeStockLevels);
    }
    Ok(Step::Nothing)
}

/// Runs the migration for data written by `from_version`.
pub fn run(from_version: Option<&str>) -> Result<(), String> {
    match plan(from_version, env!("CARGO_PKG_VERSION"))? {
        Step::Nothing => Ok(()),
        Step::UpgradeStockLevels => upgrade_stock_levels().map_err(|error| error.message().to_owned()),
    }
}

fn upgrade_stock_levels() -> modhost_sdk::Result<()> {
    let mut after: Option<String> = None;
    loop {
        let page = kv::list("stock/", after.as_deref(), 0)?;
        for key in &page.keys {
            let Some(stored) = kv::get(key)? else { continue };
            match upgrade_stored_level(key, &stored) {
                Ok(Some(upgraded)) => kv::set_json(key, &upgraded)?,
                Ok(None) => {}
                Err(reason) => return Err(modhost_sdk::Error::internal(reason)),
            }
        }
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_activation_has_nothing_to_migrate() {
        assert_eq!(plan(None, "1.1.0"), Ok(Step::Nothing));
        assert_eq!(plan(None, "1.0.0"), Ok(Step::Nothing));
    }

    #[test]
    fn upgrading_from_1_0_rewrites_stock_levels_in_the_1_1_line() {
        let expected = if RESERVATIONS {
            Step::UpgradeStockLevels
        } else {
            Step::Nothing
        };
        assert_eq!(plan(Some("1.0.0"), "1.1.0"), Ok(expected));
        assert_eq!(plan(Some("1.1.0"), "1.1.3"), Ok(Step::Nothing));
    }

    #[test]
    fn data_from_a_newer_release_is_refused() {
        assert_eq!(
            plan(Some("1.1.0"), "1.0.0"),
            Err("inventory 1.0.0 cannot read data written by inventory 1.1.0; \
                 roll back to the earlier version instead of promoting an older one"
                .to_owned())
        );
        assert_eq!(
            plan(Some("2.0.0"), "1.1.0"),
            Err("inventory 1.1.0 cannot read data written by inventory 2.0.0; \
                 roll back to the earlier version instead of promoting an older one"
                .to_owned())
        );
        assert_eq!(
            plan(Some("one"), "1.1.0"),
            Err("`one` is not a version this module understands".to_owned())
        );
    }
}
