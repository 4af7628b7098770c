//! `modhost`: runs the server (`modhost serve`) and drives its HTTP API from the command line.
//!
//! Every client command is one HTTP call (or a few) to the API described in
//! `docs/http-api.md`. People get tables; `--json` prints the server's JSON for
//! scripts. Errors go to stderr as `error: <message>`, one problem per line
//! after it; the exit code is 2 for usage errors and 1 for anything else.

mod args;
mod cli;
mod cli_backup;
mod cli_debug;
mod cli_logs;
mod cli_metrics;
mod client;
mod commands;
mod error;
mod multipart;
mod output;

use std::process::ExitCode;

use clap::Parser as _;

use crate::cli::{
    AlertCommand, CanaryCommand, ChannelCommand, Cli, Command, ConfigCommand, LogFormat, ModuleCommand,
    RolloutCommand, RuleCommand, ScaffoldKind, TenantCommand, TokenCommand,
};
use crate::client::Client;
use crate::commands::Context;
use crate::error::CliError;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.json;
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            if json
                && let CliError::Api(api) = &error
                && let Some(body) = &api.body
            {
                output::print_json(body);
            }
            eprintln!("{}", error.render());
            ExitCode::from(error.exit_code())
        }
    }
}

fn run(cli: Cli) -> Result<(), CliError> {
    let Cli {
        server,
        token,
        json,
        command,
    } = cli;
    let command = match command {
        Command::Serve(serve) => {
            let json_logs = serve.log_format == LogFormat::Json;
            return commands::serve::serve(serve.listen, serve.data, serve.config, json_logs);
        }
        Command::New { name, kind, dir } => {
            return commands::develop::new(&name, kind == ScaffoldKind::Custom, dir);
        }
        Command::Build { dir } => return commands::develop::build(json, &dir),
        command => command,
    };
    let ctx = Context {
        client: Client::new(&server, token)?,
        json,
    };
    match command {
        Command::Serve(_) | Command::New { .. } | Command::Build { .. } => Ok(()),
        Command::Deploy { dir, tenant, promote } => {
            commands::develop::deploy(&ctx, &dir, tenant.as_deref(), promote)
        }
        Command::Dev {
            dir,
            tenant,
            interval_ms,
        } => commands::dev::dev(
            &ctx,
            &dir,
            &tenant,
            std::time::Duration::from_millis(interval_ms.max(50)),
        ),
        Command::Tenant(TenantCommand::Create {
            id,
            name,
            kind,
            features,
        }) => commands::tenant::create(&ctx, &id, &name, kind, &features),
        Command::Tenant(TenantCommand::List) => commands::tenant::list(&ctx),
        Command::Tenant(TenantCommand::Show { id }) => commands::tenant::show(&ctx, &id),
        Command::Tenant(TenantCommand::Ring { id, ring, clear: _ }) => {
            commands::rollout::set_ring(&ctx, &id, ring)
        }
        Command::Tenant(TenantCommand::Lifecycle(command)) => commands::tenant::lifecycle(&ctx, command),
        Command::Gc(args) => commands::gc::gc(&ctx, &args),
        Command::Rollout(RolloutCommand::Start {
            target,
            rings,
            soak,
            watch,
        }) => commands::rollout::start(&ctx, &target, rings, soak, watch),
        Command::Alert(command) => alert(&ctx, command),
        Command::Backup(command) => backup(&ctx, command),
        Command::Channel(command) => channel(&ctx, command),
        Command::Rollout(RolloutCommand::Status { id }) => commands::rollout::status(&ctx, id),
        Command::Rollout(RolloutCommand::Pause { id }) => commands::rollout::steer(&ctx, id, "pause"),
        Command::Rollout(RolloutCommand::Resume { id }) => commands::rollout::steer(&ctx, id, "resume"),
        Command::Rollout(RolloutCommand::Abort { id }) => commands::rollout::steer(&ctx, id, "abort"),
        Command::Module(ModuleCommand::Push { path, owner }) => commands::module::push(&ctx, &path, owner),
        Command::Module(ModuleCommand::List { module, tenant }) => {
            commands::module::list(&ctx, module, tenant)
        }
        Command::Module(ModuleCommand::Show { target }) => commands::module::show(&ctx, &target),
        Command::Promote {
            tenant,
            target,
            watch,
            canary,
            dry_run,
        } => match canary {
            Some(percent) => commands::deploy::canary(&ctx, &tenant, &target, percent),
            None if dry_run => commands::debug::promote_dry_run(&ctx, &tenant, &target),
            None => commands::deploy::promote(&ctx, &tenant, &target, watch),
        },
        Command::Smoke(args) => commands::debug::smoke(&ctx, &args.tenant, &args.module, &args.version),
        Command::Canary(CanaryCommand::Abort { tenant, module }) => {
            commands::deploy::abort_canary(&ctx, &tenant, &module)
        }
        Command::Health { tenant, module } => commands::deploy::health(&ctx, &tenant, &module),
        Command::Rollback { tenant, module, to } => commands::deploy::rollback(&ctx, &tenant, &module, to),
        Command::Disable { tenant, module } => commands::deploy::disable(&ctx, &tenant, &module),
        Command::History { tenant, module } => commands::deploy::history(&ctx, &tenant, &module),
        Command::Config(ConfigCommand::Get { tenant, module }) => {
            commands::config::get(&ctx, &tenant, &module)
        }
        Command::Config(ConfigCommand::Set {
            tenant,
            module,
            pairs,
            file,
            replace,
        }) => commands::config::set(&ctx, &tenant, &module, &pairs, file.as_deref(), replace),
        Command::Config(ConfigCommand::Rollback {
            tenant,
            module,
            config_version,
        }) => commands::config::rollback(&ctx, &tenant, &module, config_version),
        Command::Status => commands::observe::status(&ctx),
        Command::Metrics(args) => commands::metrics::metrics(&ctx, &args.tenant),
        Command::Token(TokenCommand::Create {
            name,
            role,
            tenant,
            permissions,
        }) => commands::token::create(&ctx, &name, role, tenant, &permissions),
        Command::Token(TokenCommand::List { tenant }) => commands::token::list(&ctx, tenant),
        Command::Token(TokenCommand::Revoke { id }) => commands::token::revoke(&ctx, &id),
        Command::Call(call) => commands::call::call(
            &ctx,
            &commands::call::CallRequest {
                tenant: call.tenant,
                module: call.module,
                path: call.path,
                method: call.method,
                data: call.data,
                headers: call.headers,
            },
        ),
        Command::Logs(args) => commands::logs::logs(
            &ctx,
            &args.tenant,
            &commands::logs::LogsFilter {
                module: args.module,
                level: args.level,
                request_id: args.request_id,
                since_secs: args.since,
                limit: args.limit,
                follow: args.follow,
            },
        ),
        Command::Audit(audit) => {
            let csv = audit.csv;
            let filter = commands::observe::AuditFilter {
                tenant: audit.tenant,
                actor: audit.actor,
                action: audit.action,
                since_secs: audit.since,
                until_secs: audit.until,
                after: audit.after,
                limit: audit.limit,
            };
            if csv {
                commands::debug::audit_csv(&ctx, &filter)
            } else {
                commands::observe::audit(&ctx, &filter)
            }
        }
    }
}

fn alert(ctx: &Context, command: AlertCommand) -> Result<(), CliError> {
    use commands::alert;
    match command {
        AlertCommand::Rule(RuleCommand::Add(args)) => {
            let body = modhost_api::AlertRuleBody {
                kind: args.kind,
                series: args.series,
                module: args.module,
                threshold: args.threshold,
                window_secs: args.window,
                min_count: args.min_count,
                severity: args.severity,
                channels: args.channels,
                escalate_after_secs: args.escalate_after,
            };
            alert::put_rule(ctx, args.tenant.as_deref(), &args.name, &body)
        }
        AlertCommand::Rule(RuleCommand::List { tenant }) => alert::list_rules(ctx, tenant.as_deref()),
        AlertCommand::Rule(RuleCommand::Rm { name, tenant }) => {
            alert::remove_rule(ctx, tenant.as_deref(), &name)
        }
        AlertCommand::List { tenant, state, limit } => {
            alert::list_alerts(ctx, tenant.as_deref(), state, limit)
        }
        AlertCommand::Ack { id, tenant } => alert::acknowledge(ctx, tenant.as_deref(), id),
        AlertCommand::Silence { id, duration, tenant } => {
            alert::silence(ctx, tenant.as_deref(), id, duration)
        }
        AlertCommand::Deliveries { tenant } => alert::deliveries(ctx, tenant.as_deref()),
    }
}

fn backup(ctx: &Context, command: cli_backup::BackupCommand) -> Result<(), CliError> {
    use cli_backup::{BackupCommand, ScheduleCommand};
    use commands::backup_schedule;
    match command {
        BackupCommand::Schedule(ScheduleCommand::Set {
            tenant,
            every,
            keep,
            max_age,
        }) => backup_schedule::set(ctx, &tenant, every, keep, max_age),
        BackupCommand::Schedule(ScheduleCommand::Show { tenant }) => backup_schedule::show(ctx, &tenant),
        BackupCommand::Schedule(ScheduleCommand::Rm { tenant }) => backup_schedule::remove(ctx, &tenant),
        BackupCommand::Schedule(ScheduleCommand::List) => backup_schedule::list(ctx),
        BackupCommand::List { tenant } => backup_schedule::list_stored(ctx, tenant),
        BackupCommand::Create { tenant, output } => commands::backup::create(ctx, &tenant, output.as_deref()),
        BackupCommand::Verify { file } => commands::backup::verify(ctx, &file),
        BackupCommand::Restore { file, stored, as_id } => {
            let source = match (&file, &stored) {
                (Some(file), _) => commands::backup::RestoreSource::File(file),
                (None, Some(stored)) => commands::backup::RestoreSource::Stored(stored),
                (None, None) => {
                    return Err(CliError::Usage(
                        "give a backup FILE or --stored TENANT/NAME".into(),
                    ));
                }
            };
            commands::backup::restore(ctx, source, as_id)
        }
    }
}

fn channel(ctx: &Context, command: ChannelCommand) -> Result<(), CliError> {
    use commands::alert;
    match command {
        ChannelCommand::Add {
            name,
            tenant,
            webhook,
            slack,
            email,
        } => {
            let (kind, url) = match (webhook, slack) {
                (Some(url), _) => ("webhook", Some(url)),
                (None, Some(url)) => ("slack", Some(url)),
                (None, None) if !email.is_empty() => ("email", None),
                (None, None) => {
                    return Err(CliError::Usage(
                        "name the target: --webhook URL, --slack URL or --email ADDRESS".to_owned(),
                    ));
                }
            };
            let channel = modhost_api::NewChannel {
                name,
                kind: kind.to_owned(),
                url,
                to: email,
            };
            alert::add_channel(ctx, tenant.as_deref(), channel)
        }
        ChannelCommand::List { tenant } => alert::list_channels(ctx, tenant.as_deref()),
        ChannelCommand::Test { name, tenant } => alert::test_channel(ctx, tenant.as_deref(), &name),
        ChannelCommand::Rm { name, tenant } => alert::remove_channel(ctx, tenant.as_deref(), &name),
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use clap::CommandFactory;
    use clap::error::ErrorKind;
    use modhost_api::TenantKind;

    use super::*;
    use crate::cli::Role;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("modhost").chain(args.iter().copied()))
    }

    #[test]
    fn the_command_tree_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn promote_splits_module_and_version() {
        let cli = parse(&["promote", "banban", "inventory@1.1.0"]).unwrap();
        let Command::Promote { tenant, target, .. } = cli.command else {
            panic!("not promote");
        };
        assert_eq!(tenant, "banban");
        assert_eq!(target.module, "inventory");
        assert_eq!(target.version, "1.1.0");
    }

    #[test]
    fn promote_without_a_version_is_a_usage_error() {
        let error = parse(&["promote", "banban", "inventory"]).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::ValueValidation);
        assert_eq!(error.exit_code(), 2);
        assert!(
            error
                .to_string()
                .contains(r#"expected <module>@<version>, got "inventory""#),
            "{error}"
        );
    }

    #[test]
    fn global_flags_go_anywhere() {
        let cli = parse(&[
            "tenant",
            "list",
            "--json",
            "--server",
            "http://h:1",
            "--token",
            "mh_x",
        ])
        .unwrap();
        assert!(cli.json);
        assert_eq!(cli.server, "http://h:1");
        assert_eq!(cli.token.as_deref(), Some("mh_x"));
    }

    #[test]
    fn config_set_needs_pairs_or_a_file() {
        assert_eq!(
            parse(&["config", "set", "banban", "inventory"])
                .unwrap_err()
                .kind(),
            ErrorKind::MissingRequiredArgument
        );
        let cli = parse(&["config", "set", "banban", "inventory", "threshold=5", "name=x"]).unwrap();
        let Command::Config(ConfigCommand::Set { pairs, .. }) = cli.command else {
            panic!("not config set");
        };
        assert_eq!(pairs.len(), 2);
        assert_eq!(pairs[0].value, serde_json::json!(5));
        assert!(parse(&["config", "set", "banban", "inventory", "--file", "v.json"]).is_ok());
        assert!(parse(&["config", "set", "banban", "inventory", "threshold"]).is_err());
        assert!(parse(&["config", "set", "t", "m", "--file", "v.json", "--replace"]).is_err());
    }

    #[test]
    fn enums_and_repeated_flags() {
        let cli = parse(&[
            "tenant",
            "create",
            "banban",
            "--name",
            "Banban",
            "--kind",
            "custom",
            "--feature",
            "a",
            "--feature",
            "b",
        ])
        .unwrap();
        let Command::Tenant(TenantCommand::Create { kind, features, .. }) = cli.command else {
            panic!("not tenant create");
        };
        assert_eq!(kind, TenantKind::Custom);
        assert_eq!(features, ["a", "b"]);
        assert!(parse(&["tenant", "create", "x", "--name", "X", "--kind", "other"]).is_err());
        let cli = parse(&[
            "token",
            "create",
            "--name",
            "ci",
            "--role",
            "tenant-admin",
            "--tenant",
            "banban",
        ])
        .unwrap();
        let Command::Token(TokenCommand::Create { role, .. }) = cli.command else {
            panic!("not token create");
        };
        assert_eq!(role, Role::TenantAdmin);
    }

    #[test]
    fn serve_options() {
        let cli = parse(&["serve", "--listen", "127.0.0.1:9000", "--data", "/tmp/d"]).unwrap();
        let Command::Serve(serve) = cli.command else {
            panic!("not serve");
        };
        assert_eq!(serve.listen, Some("127.0.0.1:9000".parse().unwrap()));
        assert_eq!(serve.data, Some(PathBuf::from("/tmp/d")));
        assert_eq!(serve.config, None);
        assert_eq!(serve.log_format, LogFormat::Text);
        assert!(parse(&["serve", "--listen", "nowhere"]).is_err());
        let Command::Serve(serve) = parse(&["serve", "--log-format", "json"]).unwrap().command else {
            panic!("not serve");
        };
        assert_eq!(serve.log_format, LogFormat::Json);
        assert!(parse(&["serve", "--log-format", "xml"]).is_err());
    }

    #[test]
    fn backup_schedule_set_parses_intervals_and_ages() {
        use crate::cli_backup::{BackupCommand, ScheduleCommand};
        let cli = parse(&[
            "backup",
            "schedule",
            "set",
            "acme",
            "--every",
            "6h",
            "--keep",
            "7",
            "--max-age",
            "30d",
        ])
        .unwrap();
        let Command::Backup(BackupCommand::Schedule(ScheduleCommand::Set {
            tenant,
            every,
            keep,
            max_age,
        })) = cli.command
        else {
            panic!("not backup schedule set");
        };
        assert_eq!(
            (tenant.as_str(), every, keep, max_age),
            ("acme", 21_600, 7, Some(30))
        );
        assert!(
            parse(&[
                "backup", "schedule", "set", "acme", "--every", "6 hours", "--keep", "7"
            ])
            .is_err()
        );
        assert!(parse(&["backup", "schedule", "set", "acme", "--keep", "7"]).is_err());
        let cli = parse(&["backup", "list", "--tenant", "acme"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Backup(BackupCommand::List { tenant: Some(_) })
        ));
    }

    #[test]
    fn rollback_checks_the_version() {
        assert!(parse(&["rollback", "banban", "inventory", "--to", "1.0.0"]).is_ok());
        assert!(parse(&["rollback", "banban", "inventory", "--to", "latest"]).is_err());
    }
}
