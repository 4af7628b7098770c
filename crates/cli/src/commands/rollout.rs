//! `modhost tenant ring` and `modhost rollout start|status|pause|resume|abort`: rings of tenants and rollouts over them.

use modhost_api::{NewRollout, RingRequest, Rollout, RolloutList, TenantRing};
use serde_json::json;

use crate::args::ModuleRef;
use crate::client::path;
use crate::commands::Context;
use crate::error::CliError;
use crate::output::{format_ms, table};

/// `PUT /v1/tenants/{tenant}/ring`.
pub fn set_ring(ctx: &Context, tenant: &str, ring: Option<String>) -> Result<(), CliError> {
    let answer: TenantRing = ctx
        .client
        .put_as(&path(&["v1", "tenants", tenant, "ring"]), &RingRequest { ring })?;
    ctx.show(&answer, |answer| match &answer.ring {
        Some(ring) => format!("{} is in ring {ring}", answer.tenant),
        None => format!("{} is in no ring", answer.tenant),
    });
    Ok(())
}

/// A duration like `90`, `30s`, `10m` or `2h`, in seconds.
pub fn parse_duration(text: &str) -> Result<u64, String> {
    let (number, unit) = match text
        .char_indices()
        .find(|(_, character)| !character.is_ascii_digit())
    {
        Some((at, _)) => text.split_at(at),
        None => (text, "s"),
    };
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration like 90, 30s, 10m or 2h"))?;
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        _ => return Err(format!("`{text}` is not a duration like 90, 30s, 10m or 2h")),
    };
    Ok(number.saturating_mul(scale))
}

/// `POST /v1/rollouts`.
pub fn start(
    ctx: &Context,
    target: &ModuleRef,
    rings: Vec<String>,
    soak_secs: u64,
    watch_secs: Option<u64>,
) -> Result<(), CliError> {
    let rollout: Rollout = ctx.client.post_as(
        "/v1/rollouts",
        &NewRollout {
            module: target.module.clone(),
            version: target.version.to_string(),
            rings,
            soak_secs,
            watch_secs,
        },
    )?;
    ctx.show(&rollout, describe);
    Ok(())
}

/// `GET /v1/rollouts[/{id}]`.
pub fn status(ctx: &Context, id: Option<u64>) -> Result<(), CliError> {
    match id {
        Some(id) => {
            let rollout: Rollout = ctx.client.get_as(&format!("/v1/rollouts/{id}"))?;
            ctx.show(&rollout, describe);
        }
        None => {
            let list: RolloutList = ctx.client.get_as("/v1/rollouts")?;
            ctx.show(&list, describe_list);
        }
    }
    Ok(())
}

/// `POST /v1/rollouts/{id}/{action}` for `pause`, `resume` or `abort`.
pub fn steer(ctx: &Context, id: u64, action: &str) -> Result<(), CliError> {
    let rollout: Rollout = ctx
        .client
        .post_as(&format!("/v1/rollouts/{id}/{action}"), &json!({}))?;
    ctx.show(&rollout, describe);
    Ok(())
}

fn describe_list(list: &RolloutList) -> String {
    if list.rollouts.is_empty() {
        return "no rollouts".to_owned();
    }
    let rows = list
        .rollouts
        .iter()
        .map(|rollout| {
            vec![
                rollout.id.to_string(),
                format!("{}@{}", rollout.module, rollout.version),
                rollout.state.clone(),
                rollout.ring.clone().unwrap_or_else(|| "-".to_owned()),
                rollout.done.len().to_string(),
                format_ms(rollout.started_at_ms),
            ]
        })
        .collect();
    table(
        &["id", "version", "state", "ring", "tenants done", "started"],
        rows,
    )
}

fn describe(rollout: &Rollout) -> String {
    let mut text = format!(
        "rollout {}: {}@{} over {} (soak {} s): {}",
        rollout.id,
        rollout.module,
        rollout.version,
        rollout.rings.join(" → "),
        rollout.soak_secs,
        rollout.state
    );
    if let Some(ring) = &rollout.ring {
        text.push_str(&format!(
            ", ring {ring}{}",
            if rollout.soaking { " (soaking)" } else { "" }
        ));
    }
    if let Some(tenant) = &rollout.in_flight {
        text.push_str(&format!(", promoting {tenant}"));
    }
    if let Some(reason) = &rollout.reason {
        text.push_str(&format!("\n{reason}"));
    }
    if !rollout.done.is_empty() {
        let rows = rollout
            .done
            .iter()
            .map(|done| {
                vec![
                    done.tenant.clone(),
                    done.ring.clone(),
                    done.outcome.clone(),
                    format_ms(done.at_ms),
                ]
            })
            .collect();
        text.push('\n');
        text.push_str(&table(&["tenant", "ring", "outcome", "at"], rows));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_seconds_minutes_and_hours() {
        assert_eq!(parse_duration("90"), Ok(90));
        assert_eq!(parse_duration("30s"), Ok(30));
        assert_eq!(parse_duration("10m"), Ok(600));
        assert_eq!(parse_duration("2h"), Ok(7200));
        assert_eq!(
            parse_duration("10 minutes"),
            Err("`10 minutes` is not a duration like 90, 30s, 10m or 2h".to_owned())
        );
        assert!(parse_duration("m").is_err());
    }
}
