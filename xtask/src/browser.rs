//! Installs what the dashboard's browser tests drive: Debian's `chromium` and `chromium-driver`.
//!
//! `cargo xtask test` calls [`ensure_chromium`] first. When `chromedriver`
//! is already on the `PATH` (or `CHROMEDRIVER` names one) nothing happens;
//! otherwise it runs `apt-get update` and installs both packages, as root
//! directly or through `sudo`. A machine that can do neither fails here,
//! with the command to run, rather than in the middle of the tests.

use std::path::Path;
use std::process::Command;

use anyhow::{Context as _, bail};

/// The Debian packages the browser tests need.
const PACKAGES: [&str; 2] = ["chromium", "chromium-driver"];

/// Makes sure `chromedriver` and `chromium` are installed.
pub fn ensure_chromium(root: &Path) -> anyhow::Result<()> {
    if std::env::var_os("CHROMEDRIVER").is_some() || on_path("chromedriver") {
        return Ok(());
    }
    eprintln!(
        "xtask: installing {} for the dashboard's browser tests",
        PACKAGES.join(" and ")
    );
    let as_root = std::fs::read_to_string("/proc/self/status")
        .map(|status| {
            status
                .lines()
                .any(|line| line.starts_with("Uid:") && line.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false);
    let apt = |args: &[&str]| -> anyhow::Result<()> {
        let mut command = if as_root {
            Command::new("apt-get")
        } else {
            let mut sudo = Command::new("sudo");
            sudo.arg("apt-get");
            sudo
        };
        command.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        crate::process::run(command, root)
    };
    apt(&["update"]).context(install_hint())?;
    let mut install = vec!["install", "-y", "--no-install-recommends"];
    install.extend(PACKAGES);
    apt(&install).context(install_hint())?;
    if !on_path("chromedriver") {
        bail!(
            "chromedriver is still not on the PATH after installing {}; {}",
            PACKAGES.join(" "),
            install_hint()
        );
    }
    Ok(())
}

fn install_hint() -> String {
    format!(
        "install them with `sudo apt-get install {}` (or set CHROMEDRIVER to a chromedriver and CHROMIUM to its browser)",
        PACKAGES.join(" ")
    )
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}
