//! `modhost smoke`, `modhost promote --dry-run` and `modhost audit --csv`: the debug tools, which change nothing.

use modhost_api::{PromoteDryRun, PromoteDryRunRequest, SmokeReport, SmokeRequest};

use crate::args::ModuleRef;
use crate::client::{path, with_query};
use crate::commands::Context;
use crate::commands::observe::AuditFilter;
use crate::error::CliError;
use crate::output::{one_line, table};

/// `POST …/deployments/{module}/smoke`: prints each test; fails when one did.
pub fn smoke(ctx: &Context, tenant: &str, module: &str, version: &str) -> Result<(), CliError> {
    let report: SmokeReport = ctx.client.post_as(
        &path(&["v1", "tenants", tenant, "deployments", module, "smoke"]),
        &SmokeRequest {
            version: version.to_owned(),
        },
    )?;
    ctx.show(&report, |report| describe_smoke(tenant, report));
    if report.passed {
        Ok(())
    } else {
        Err(CliError::failed(format!(
            "{module}@{version} failed its smoke tests for {tenant}; nothing was changed"
        )))
    }
}

fn describe_smoke(tenant: &str, report: &SmokeReport) -> String {
    let rows = report
        .tests
        .iter()
        .map(|test| {
            vec![
                test.name.clone(),
                if test.ok { "ok" } else { "FAILED" }.to_owned(),
                format!("{} ms", test.took_ms),
                test.message.as_deref().map_or_else(String::new, one_line),
            ]
        })
        .collect();
    let verdict = if report.passed {
        format!(
            "{}/{}@{}: every smoke test passed",
            tenant, report.module, report.version
        )
    } else {
        format!(
            "{}/{}@{}: a smoke test failed",
            tenant, report.module, report.version
        )
    };
    if report.tests.is_empty() {
        format!("{verdict} (the manifest has none)")
    } else {
        format!(
            "{}\n{verdict}",
            table(&["test", "result", "took", "message"], rows)
        )
    }
}

/// `POST …/deployments/{module}/promote/dry-run`: prints the checks; fails when the promote would.
pub fn promote_dry_run(ctx: &Context, tenant: &str, target: &ModuleRef) -> Result<(), CliError> {
    let run: PromoteDryRun = ctx.client.post_as(
        &path(&[
            "v1",
            "tenants",
            tenant,
            "deployments",
            &target.module,
            "promote",
            "dry-run",
        ]),
        &PromoteDryRunRequest {
            version: target.version.to_string(),
        },
    )?;
    ctx.show(&run, |run| describe_dry_run(tenant, run));
    if run.ok {
        Ok(())
    } else {
        Err(CliError::failed(format!(
            "promoting {}@{} for {tenant} would be refused; nothing was changed",
            target.module, target.version
        )))
    }
}

fn describe_dry_run(tenant: &str, run: &PromoteDryRun) -> String {
    let from = run.from.as_deref().unwrap_or("nothing");
    if !run.would_change {
        return format!(
            "{tenant}/{}: {} is already active; a promote would change nothing",
            run.module, run.to
        );
    }
    let rows = run
        .checks
        .iter()
        .map(|check| {
            vec![
                check.name.clone(),
                if check.ok { "ok" } else { "FAILED" }.to_owned(),
                check.message.as_deref().map_or_else(String::new, one_line),
            ]
        })
        .collect();
    let verdict = if run.ok {
        format!("a promote from {from} to {} would pass every check", run.to)
    } else {
        format!("a promote from {from} to {} would be refused", run.to)
    };
    format!(
        "{}\n{tenant}/{}: {verdict} (dry run: nothing changed)",
        table(&["check", "result", "message"], rows),
        run.module
    )
}

/// `GET /v1/audit/export?…`: every matching entry as CSV, to standard output as it arrives.
pub fn audit_csv(ctx: &Context, filter: &AuditFilter) -> Result<(), CliError> {
    let query = with_query("/v1/audit/export", &filter.pairs());
    let mut out = std::io::stdout().lock();
    ctx.client.download(&query, &mut out)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;
    use serde_json::json;

    use super::*;
    use crate::cli::{Cli, Command};

    fn typed<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> T {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn the_debug_commands_parse() {
        let parse =
            |args: &[&str]| Cli::try_parse_from(std::iter::once("modhost").chain(args.iter().copied()));
        let cli = parse(&["smoke", "acme", "inventory", "--version", "1.1.0"]).unwrap();
        let Command::Smoke(args) = cli.command else {
            panic!("not smoke");
        };
        assert_eq!(
            (args.tenant, args.module, args.version),
            ("acme".into(), "inventory".into(), "1.1.0".into())
        );
        assert!(parse(&["smoke", "acme", "inventory", "--version", "one"]).is_err());
        let cli = parse(&["promote", "acme", "inventory@1.1.0", "--dry-run"]).unwrap();
        assert!(matches!(cli.command, Command::Promote { dry_run: true, .. }));
        assert!(parse(&["promote", "acme", "inventory@1.1.0", "--dry-run", "--watch", "60"]).is_err());
        let cli = parse(&["audit", "--csv", "--tenant", "acme", "--since", "1d"]).unwrap();
        let Command::Audit(args) = cli.command else {
            panic!("not audit");
        };
        assert_eq!(
            (args.csv, args.since, args.tenant.as_deref()),
            (true, Some(86_400), Some("acme"))
        );
        assert!(parse(&["audit", "--csv", "--limit", "5"]).is_err());
    }

    #[test]
    fn smoke_report_and_dry_run_tables() {
        let report = json!({"module": "template", "version": "0.2.0", "passed": false, "tests": [
            {"name": "greets", "ok": true, "took_ms": 3},
            {"name": "refuses", "ok": false, "took_ms": 1, "message": "expected status 422, got 200"}]});
        assert_eq!(
            describe_smoke("acme", &typed(report)),
            "TEST     RESULT  TOOK  MESSAGE\n\
             greets   ok      3 ms\n\
             refuses  FAILED  1 ms  expected status 422, got 200\n\
             acme/template@0.2.0: a smoke test failed"
        );
        let run = json!({"module": "template", "from": "0.1.0", "to": "0.2.0", "would_change": true, "ok": false,
            "checks": [{"name": "dependencies", "ok": true}, {"name": "config", "ok": false, "message": "cannot move"}]});
        assert_eq!(
            describe_dry_run("acme", &typed(run)),
            "CHECK         RESULT  MESSAGE\n\
             dependencies  ok\n\
             config        FAILED  cannot move\n\
             acme/template: a promote from 0.1.0 to 0.2.0 would be refused (dry run: nothing changed)"
        );
        let run = json!({"module": "template", "from": "0.1.0", "to": "0.1.0", "would_change": false, "ok": true, "checks": []});
        assert_eq!(
            describe_dry_run("acme", &typed(run)),
            "acme/template: 0.1.0 is already active; a promote would change nothing"
        );
    }
}
