//! `modhost config get|set|rollback`: a tenant's versioned config of a module.

use modhost_api::{ConfigRollbackRequest, ConfigVersion, ConfigView, SetConfigRequest};
use serde_json::{Map, Value};

use crate::args::{ConfigPair, merge_config, read_config_file};
use crate::client::path;
use crate::commands::Context;
use crate::error::CliError;
use crate::output::{format_ms, table};

fn config_path(tenant: &str, module: &str) -> String {
    path(&["v1", "tenants", tenant, "config", module])
}

/// `GET /v1/tenants/{tenant}/config/{module}`.
pub fn get(ctx: &Context, tenant: &str, module: &str) -> Result<(), CliError> {
    let config: ConfigView = ctx.client.get_as(&config_path(tenant, module))?;
    ctx.show(&config, |config| describe(tenant, module, config));
    Ok(())
}

/// `PUT /v1/tenants/{tenant}/config/{module}`. The API replaces the whole
/// set of values, so unless `--file` or `--replace` says where to start, the
/// current values are read first and `pairs` applied over them.
pub fn set(
    ctx: &Context,
    tenant: &str,
    module: &str,
    pairs: &[ConfigPair],
    file: Option<&str>,
    replace: bool,
) -> Result<(), CliError> {
    let base = match (file, replace) {
        (Some(file), _) => read_config_file(file)?,
        (None, true) => Map::new(),
        (None, false) => {
            let current: ConfigView = ctx.client.get_as(&config_path(tenant, module))?;
            current.values
        }
    };
    let values = merge_config(base, pairs)?;
    let version: ConfigVersion = ctx
        .client
        .put_as(&config_path(tenant, module), &SetConfigRequest { values })?;
    ctx.show(&version, |version| {
        format!(
            "{tenant}/{module}: config version {} set\n{}",
            version.version,
            values_table(&version.values)
        )
    });
    Ok(())
}

/// `POST /v1/tenants/{tenant}/config/{module}/rollback` to config version `to`.
pub fn rollback(ctx: &Context, tenant: &str, module: &str, to: u64) -> Result<(), CliError> {
    let version: ConfigVersion = ctx.client.post_as(
        &path(&["v1", "tenants", tenant, "config", module, "rollback"]),
        &ConfigRollbackRequest { to },
    )?;
    ctx.show(&version, |version| {
        format!(
            "{tenant}/{module}: config version {} now holds the values of version {to}\n{}",
            version.version,
            values_table(&version.values)
        )
    });
    Ok(())
}

/// Values as set, as a table.
fn values_table(values: &Map<String, Value>) -> String {
    match values {
        values if !values.is_empty() => table(
            &["field", "value"],
            values
                .iter()
                .map(|(key, value)| vec![key.clone(), json_text(value)])
                .collect(),
        ),
        _ => "no values set; every field has its default".into(),
    }
}

/// A config value as typed: strings quoted, so `"5"` and `5` differ.
fn json_text(value: &Value) -> String {
    value.to_string()
}

/// A config for people: the values in force with where each comes from,
/// then the history, newest first.
fn describe(tenant: &str, module: &str, config: &ConfigView) -> String {
    let version = match config.version {
        0 => "none yet".to_owned(),
        version => version.to_string(),
    };
    let mut out = format!("{tenant}/{module}: config version {version}");
    let set = &config.values;
    let in_force = config
        .resolved
        .as_ref()
        .and_then(Value::as_object)
        .or(Some(set))
        .filter(|values| !values.is_empty());
    match in_force {
        Some(values) => {
            let rows = values
                .iter()
                .map(|(key, value)| {
                    let source = if set.contains_key(key) { "set" } else { "default" };
                    vec![key.clone(), json_text(value), source.to_owned()]
                })
                .collect();
            out.push_str(&format!("\n{}", table(&["field", "value", "source"], rows)));
        }
        None => out.push_str("\nno config fields"),
    }
    if !config.history.is_empty() {
        let rows = config
            .history
            .iter()
            .rev()
            .map(|entry| {
                vec![
                    entry.version.to_string(),
                    entry.reason.clone(),
                    entry.actor.clone(),
                    format_ms(entry.at_ms),
                    json_text(&Value::Object(entry.values.clone())),
                ]
            })
            .collect();
        out.push_str(&format!(
            "\n\nhistory:\n{}",
            table(&["version", "reason", "by", "at", "values"], rows)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn typed(value: Value) -> ConfigView {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn describes_values_defaults_and_history() {
        let config = typed(json!({
            "version": 2,
            "values": {"threshold": 5},
            "resolved": {"greeting": "hello", "threshold": 5},
            "history": [
                {"version": 1, "values": {"threshold": 3}, "actor": "ops", "at_ms": 0, "reason": "set"},
                {"version": 2, "values": {"threshold": 5}, "actor": "ops", "at_ms": 0, "reason": "set"}
            ]
        }));
        assert_eq!(
            describe("banban", "inventory", &config),
            "banban/inventory: config version 2\n\
             FIELD      VALUE    SOURCE\n\
             greeting   \"hello\"  default\n\
             threshold  5        set\n\
             \n\
             history:\n\
             VERSION  REASON  BY   AT                   VALUES\n\
             2        set     ops  1970-01-01 00:00:00  {\"threshold\":5}\n\
             1        set     ops  1970-01-01 00:00:00  {\"threshold\":3}"
        );
    }

    #[test]
    fn never_configured() {
        let config = typed(json!({"version": 0, "values": {}, "resolved": {}, "history": []}));
        assert_eq!(
            describe("t", "m", &config),
            "t/m: config version none yet\nno config fields"
        );
        assert_eq!(
            values_table(&Map::new()),
            "no values set; every field has its default"
        );
    }
}
