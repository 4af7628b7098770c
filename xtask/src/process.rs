//! Running child commands loudly: print what runs, fail with the command line on a non-zero exit.

use std::path::Path;
use std::process::Command;

use anyhow::{Context as _, bail};

/// `cargo` as invoked by the user's cargo (respects `$CARGO`).
pub fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Runs `command` in `dir`, streaming its output; an error if it fails.
pub fn run(mut command: Command, dir: &Path) -> anyhow::Result<()> {
    command.current_dir(dir);
    let line = describe(&command);
    eprintln!("xtask: $ {line}");
    let status = command
        .status()
        .with_context(|| format!("could not start `{line}`"))?;
    if !status.success() {
        bail!("`{line}` failed with {status}");
    }
    Ok(())
}

/// Runs `command` in `dir` and returns its stdout; stderr streams through.
pub fn output(mut command: Command, dir: &Path) -> anyhow::Result<String> {
    command.current_dir(dir).stderr(std::process::Stdio::inherit());
    let line = describe(&command);
    eprintln!("xtask: $ {line}");
    let output = command
        .output()
        .with_context(|| format!("could not start `{line}`"))?;
    if !output.status.success() {
        bail!("`{line}` failed with {}", output.status);
    }
    String::from_utf8(output.stdout).with_context(|| format!("`{line}` printed something that is not UTF-8"))
}

fn describe(command: &Command) -> String {
    std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|part| part.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}
