//! `modhost backup create|verify|restore`: take a tenant's backup (and download it), check a file, restore one.

use std::fs::File;
use std::io::{BufReader, IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};

use modhost_api::{BackupContents, CreatedBackup, RestoredTenant};

use crate::client::{path, with_query};
use crate::commands::Context;
use crate::commands::module::progress_bar;
use crate::error::CliError;
use crate::output::{fields, format_bytes, format_ms};

/// `POST /v1/tenants/{tenant}/backups`, then with `output` `GET /v1/backups/{tenant}/{name}` into that file.
pub fn create(ctx: &Context, tenant: &str, output: Option<&Path>) -> Result<(), CliError> {
    let created: CreatedBackup = ctx.client.post_as(
        &path(&["v1", "tenants", tenant, "backups"]),
        &serde_json::json!({}),
    )?;
    if let Some(output) = output {
        download(ctx, &created, output)?;
    }
    ctx.show(&created, |created| {
        let backup = &created.backup;
        let mut lines = vec![
            ("tenant", backup.tenant.clone()),
            ("stored as", backup.name.clone()),
            ("size", format_bytes(backup.bytes)),
            ("point in time", format_ms(backup.created_at_ms)),
        ];
        if let Some(output) = output {
            lines.push(("written to", output.display().to_string()));
        }
        lines.extend(describe(&created.contents));
        format!("backed up tenant {}\n{}", backup.tenant, fields(&lines))
    });
    Ok(())
}

/// Downloads a stored backup to `output` (a temporary file renamed into place when complete).
fn download(ctx: &Context, created: &CreatedBackup, output: &Path) -> Result<(), CliError> {
    let backup = &created.backup;
    let partial = partial_path(output);
    let mut file = File::create(&partial)
        .map_err(|error| CliError::failed(format!("cannot create {}: {error}", partial.display())))?;
    let visible = !ctx.json && std::io::stderr().is_terminal();
    let bar = progress_bar(backup.bytes, visible, &backup.name);
    bar.set_message(format!("downloading {}", backup.name));
    let mut writer = bar.wrap_write(&mut file);
    let result = ctx.client.download(
        &path(&["v1", "backups", &backup.tenant, &backup.name]),
        &mut writer,
    );
    bar.finish_and_clear();
    let finished = result.and_then(|_| {
        file.flush()
            .and_then(|()| file.sync_all())
            .map_err(|error| CliError::failed(format!("cannot write {}: {error}", partial.display())))
    });
    if let Err(error) = finished {
        let _ = std::fs::remove_file(&partial);
        return Err(error);
    }
    std::fs::rename(&partial, output)
        .map_err(|error| CliError::failed(format!("cannot move the backup to {}: {error}", output.display())))
}

fn partial_path(output: &Path) -> PathBuf {
    let mut name = output.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    output.with_file_name(name)
}

/// Checks a backup file here, member by member (no server needed).
pub fn verify(ctx: &Context, file: &Path) -> Result<(), CliError> {
    let (reader, length) = open(file)?;
    let bar = progress_bar(length, !ctx.json && std::io::stderr().is_terminal(), "");
    bar.set_message(format!("verifying {}", file.display()));
    let checked = modhost_registry::verify_backup(BufReader::new(bar.wrap_read(reader)));
    bar.finish_and_clear();
    let manifest = checked.map_err(|error| CliError::failed(format!("{}: {error}", file.display())))?;
    let contents = BackupContents {
        records: manifest.counts.records,
        kv_entries: manifest.counts.kv_entries,
        kv_bytes: manifest.counts.kv_bytes,
        snapshot_entries: manifest.counts.snapshot_entries,
        module_versions: manifest.counts.module_versions,
    };
    let verified = modhost_api::VerifiedBackup {
        tenant: manifest.header.tenant.clone(),
        format: manifest.header.format,
        host_version: manifest.header.host_version.clone(),
        created_at_ms: manifest.header.created_at_ms,
        members: manifest.members.len() as u64,
        contents,
    };
    ctx.show(&verified, |verified| {
        let mut lines = vec![
            ("tenant", verified.tenant.clone()),
            ("point in time", format_ms(verified.created_at_ms)),
            (
                "written by",
                format!("modhost {} (format {})", verified.host_version, verified.format),
            ),
            ("members checked", verified.members.to_string()),
        ];
        lines.extend(describe(&verified.contents));
        format!("{} is a whole backup\n{}", file.display(), fields(&lines))
    });
    Ok(())
}

/// Where a restore reads from.
pub enum RestoreSource<'a> {
    /// A local file, uploaded.
    File(&'a Path),
    /// A backup stored on the host, `TENANT/NAME`.
    Stored(&'a str),
}

/// `POST /v1/backups/restore` (uploading the file) or `POST /v1/backups/{tenant}/{name}/restore`.
pub fn restore(ctx: &Context, source: RestoreSource<'_>, as_id: Option<String>) -> Result<(), CliError> {
    let query = [("as", as_id)];
    let restored: RestoredTenant = match source {
        RestoreSource::File(file) => {
            let (reader, length) = open(file)?;
            let bar = progress_bar(length, !ctx.json && std::io::stderr().is_terminal(), "");
            bar.set_message(format!("uploading {}", file.display()));
            let answer = ctx.client.post_file(
                &with_query("/v1/backups/restore", &query),
                bar.wrap_read(reader),
                length,
            );
            bar.finish_and_clear();
            answer?
        }
        RestoreSource::Stored(stored) => {
            let Some((tenant, name)) = stored.split_once('/') else {
                return Err(CliError::Usage(format!(
                    "--stored takes TENANT/NAME as `modhost backup list` shows them, got {stored:?}"
                )));
            };
            let target = with_query(&path(&["v1", "backups", tenant, name, "restore"]), &query);
            ctx.client.post_as(&target, &serde_json::json!({}))?
        }
    };
    ctx.show(&restored, |restored| {
        let action = if restored.replaced { "replaced" } else { "created" };
        let mut lines = vec![
            ("tenant", format!("{} ({action})", restored.tenant)),
            ("backup of", restored.from_tenant.clone()),
            ("point in time", format_ms(restored.created_at_ms)),
        ];
        lines.extend(describe(&restored.contents));
        let mut text = format!("restored tenant {}\n{}", restored.tenant, fields(&lines));
        for warning in &restored.warnings {
            text.push_str(&format!("\nwarning: {warning}"));
        }
        text
    });
    Ok(())
}

fn open(file: &Path) -> Result<(File, u64), CliError> {
    let reader = File::open(file)
        .map_err(|error| CliError::failed(format!("cannot open {}: {error}", file.display())))?;
    let length = reader
        .metadata()
        .map_err(|error| CliError::failed(format!("cannot read {}: {error}", file.display())))?
        .len();
    Ok((reader, length))
}

fn describe(contents: &BackupContents) -> Vec<(&'static str, String)> {
    vec![
        ("records", contents.records.to_string()),
        (
            "module data",
            format!(
                "{} entries, {}",
                contents.kv_entries,
                format_bytes(contents.kv_bytes)
            ),
        ),
        ("snapshot entries", contents.snapshot_entries.to_string()),
        ("custom versions", contents.module_versions.to_string()),
    ]
}
