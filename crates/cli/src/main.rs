//! `modhost`: runs the server (`modhost serve`) and drives its HTTP API from the command line.
//!
//! Every client command is one HTTP call (or a few) to the API described in
//! `docs/http-api.md`. People get tables; `--json` prints the server's JSON for
//! scripts. Errors go to stderr as `error: <message>`, one problem per line
//! after it; the exit code is 2 for usage errors and 1 for anything else.

mod args;
mod client;
mod commands;
mod error;
mod multipart;
mod output;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use modhost_api::TenantKind;

use crate::args::{ConfigPair, ModuleRef, parse_config_pair, parse_header, parse_module_ref, parse_version};
use crate::client::Client;
use crate::commands::Context;
use crate::error::CliError;

/// Run and manage a modhost server: tenants, modules, deployments, config, tokens.
#[derive(Debug, Parser)]
#[command(name = "modhost", version, propagate_version = true, max_term_width = 100)]
struct Cli {
    /// The modhost server to talk to.
    #[arg(
        long,
        global = true,
        env = "MODHOST_URL",
        default_value = "http://127.0.0.1:8080",
        value_name = "URL"
    )]
    server: String,

    /// The API token (`mh_…`) to authenticate with.
    #[arg(
        long,
        global = true,
        env = "MODHOST_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    token: Option<String>,

    /// Print the server's JSON instead of tables. On an error answer its JSON
    /// body is printed too, and the exit code is still non-zero.
    #[arg(long, global = true)]
    json: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the modhost server in this process.
    Serve(ServeArgs),
    /// Create, list and show tenants.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Publish and list module versions.
    #[command(subcommand)]
    Module(ModuleCommand),
    /// Make a version of a module the active one for a tenant.
    Promote {
        /// The tenant.
        tenant: String,
        /// The module and version, e.g. `inventory@1.1.0`.
        #[arg(value_name = "MODULE@VERSION", value_parser = parse_module_ref)]
        target: ModuleRef,
        /// Watch the new version for this many seconds instead of the
        /// server's default (0: do not watch); a breach rolls it back.
        #[arg(long, value_name = "SECS", conflicts_with = "canary")]
        watch: Option<u64>,
        /// Instead of promoting, run the version as a canary for this share
        /// of the tenant's callers (1 to 99); promote it later, or abort.
        #[arg(long, value_name = "PERCENT", value_parser = clap::value_parser!(u8).range(1..=99))]
        canary: Option<u8>,
    },
    /// End a canary: every request goes to the active version again.
    #[command(subcommand)]
    Canary(CanaryCommand),
    /// Roll a module version out over rings of tenants (operator).
    #[command(subcommand)]
    Rollout(RolloutCommand),
    /// Show the health of a tenant's module: each version's recent requests,
    /// errors and latency, and the watch of its latest promote.
    Health {
        /// The tenant.
        tenant: String,
        /// The module.
        module: String,
    },
    /// Move a tenant's module back to its previous (or a chosen) version.
    Rollback {
        /// The tenant.
        tenant: String,
        /// The module.
        module: String,
        /// The version to return to; default: the one active before the current one.
        #[arg(long, value_name = "VERSION", value_parser = parse_version)]
        to: Option<String>,
    },
    /// Turn a module off for a tenant.
    Disable {
        /// The tenant.
        tenant: String,
        /// The module.
        module: String,
    },
    /// Show a tenant's deployment history of a module.
    History {
        /// The tenant.
        tenant: String,
        /// The module.
        module: String,
    },
    /// Read, set and roll back a tenant's config of a module.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Show what every tenant's modules are serving.
    Status,
    /// Create, list and revoke API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Call a tenant's module through the data plane and print its answer.
    Call(CallArgs),
    /// Show a tenant's recent module log records.
    Logs {
        /// The tenant.
        tenant: String,
        /// At most this many records.
        #[arg(long, value_name = "N")]
        limit: Option<u32>,
    },
    /// Show the audit log.
    Audit(AuditArgs),
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// The address to listen on, e.g. 127.0.0.1:8080.
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// The data directory (registry database, artifacts, compile cache).
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// The server's config file.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum TenantCommand {
    /// Create a tenant (operator).
    Create {
        /// Its id: kebab-case, e.g. `banban`.
        id: String,
        /// Its display name.
        #[arg(long)]
        name: String,
        /// Standard tenants use standard modules; custom ones may own modules too.
        #[arg(long)]
        kind: TenantKind,
        /// A feature flag to enable; repeat for more.
        #[arg(long = "feature", value_name = "FEATURE")]
        features: Vec<String>,
    },
    /// List the tenants you can see.
    List,
    /// Show a tenant and its deployments.
    Show {
        /// The tenant.
        id: String,
    },
    /// Put a tenant in a ring for rollouts, e.g. `internal`, `beta`, `general` (operator).
    Ring {
        /// The tenant.
        id: String,
        /// The ring; leave out with --clear.
        #[arg(required_unless_present = "clear")]
        ring: Option<String>,
        /// Take the tenant out of every ring.
        #[arg(long, conflicts_with = "ring")]
        clear: bool,
    },
}

#[derive(Debug, Subcommand)]
enum RolloutCommand {
    /// Promote a module version ring by ring: each tenant of a ring by a watched
    /// promote, the next ring once this one stayed healthy for the soak time.
    Start {
        /// The module and version, e.g. `inventory@1.1.0`.
        #[arg(value_name = "MODULE@VERSION", value_parser = parse_module_ref)]
        target: ModuleRef,
        /// The rings in order, comma-separated, e.g. `internal,beta,general`.
        #[arg(long, value_delimiter = ',', required = true)]
        rings: Vec<String>,
        /// How long each ring must stay healthy: 90, 30s, 10m, 2h.
        #[arg(long, value_parser = commands::rollout::parse_duration)]
        soak: u64,
        /// Each promote's watch window (default: the server's).
        #[arg(long, value_parser = commands::rollout::parse_duration)]
        watch: Option<u64>,
    },
    /// Show one rollout, or list them all.
    Status {
        /// The rollout id.
        id: Option<u64>,
    },
    /// Hold a running rollout where it is.
    Pause {
        /// The rollout id.
        id: u64,
    },
    /// Let a paused rollout go on.
    Resume {
        /// The rollout id.
        id: u64,
    },
    /// Stop a rollout; tenants already promoted keep the version.
    Abort {
        /// The rollout id.
        id: u64,
    },
}

#[derive(Debug, Subcommand)]
enum ModuleCommand {
    /// Upload a module version: a folder with module.toml and its component, or a module.toml.
    Push {
        /// The module's folder, or its module.toml.
        path: PathBuf,
        /// The tenant that owns this custom module.
        #[arg(long, value_name = "TENANT")]
        owner: Option<String>,
    },
    /// List published module versions.
    List {
        /// Only this module's versions.
        #[arg(long, value_name = "MODULE")]
        module: Option<String>,
        /// Only the versions this tenant can see.
        #[arg(long, value_name = "TENANT")]
        tenant: Option<String>,
    },
    /// Show one published version with its manifest.
    Show {
        /// The module and version, e.g. `inventory@1.1.0`.
        #[arg(value_name = "MODULE@VERSION", value_parser = parse_module_ref)]
        target: ModuleRef,
    },
}

#[derive(Debug, Subcommand)]
enum CanaryCommand {
    /// End the tenant's canary of a module.
    Abort {
        /// The tenant.
        tenant: String,
        /// The module.
        module: String,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Show the config values in force, their defaults and the history.
    Get {
        /// The tenant.
        tenant: String,
        /// The module.
        module: String,
    },
    /// Set config values; other values stay as they are.
    ///
    /// Each value is JSON when it parses as JSON (`5`, `true`, `"5"`), else a
    /// string. `key=null` removes a value, so its default applies again.
    Set {
        /// The tenant.
        tenant: String,
        /// The module.
        module: String,
        /// `key=value` pairs.
        #[arg(
            value_name = "KEY=VALUE",
            value_parser = parse_config_pair,
            required_unless_present = "file"
        )]
        pairs: Vec<ConfigPair>,
        /// A JSON object of values to set instead of the current ones (pairs apply on top).
        #[arg(long, value_name = "FILE")]
        file: Option<String>,
        /// Start from no values instead of the current ones: unnamed keys fall back to their defaults.
        #[arg(long, conflicts_with = "file")]
        replace: bool,
    },
    /// Make an earlier config version the current one (as a new version).
    Rollback {
        /// The tenant.
        tenant: String,
        /// The module.
        module: String,
        /// The config version to restore.
        #[arg(value_name = "VERSION")]
        config_version: u64,
    },
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Create a token; its secret is printed once.
    Create {
        /// A name to recognise it by, e.g. `ci deploy`.
        #[arg(long)]
        name: String,
        /// What it may do.
        #[arg(long, value_enum)]
        role: Role,
        /// The tenant it is for (every role but operator).
        #[arg(long, value_name = "TENANT")]
        tenant: Option<String>,
        /// A data-plane permission, e.g. `inventory.read` or `inventory.*`; repeat for more (default: all).
        #[arg(long = "permission", value_name = "PERMISSION")]
        permissions: Vec<String>,
    },
    /// List tokens (never their secrets).
    List {
        /// Only this tenant's tokens.
        #[arg(long, value_name = "TENANT")]
        tenant: Option<String>,
    },
    /// Revoke a token.
    Revoke {
        /// The token's id (from `token list`).
        id: String,
    },
}

/// A token's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Role {
    /// Everything, on every tenant.
    Operator,
    /// One tenant: custom modules, deployments, config, tokens.
    TenantAdmin,
    /// One tenant: read it.
    TenantViewer,
    /// One tenant: call its modules.
    Invoker,
}

#[derive(Debug, Args)]
struct CallArgs {
    /// The tenant.
    tenant: String,
    /// The module.
    module: String,
    /// The path inside the module, e.g. `/items/TS-01?verbose=1`.
    path: String,
    /// The HTTP method; default GET, or POST with --data.
    #[arg(long, short = 'X', value_name = "METHOD")]
    method: Option<String>,
    /// The request body; `@file` reads a file, `@-` standard input.
    #[arg(long, short = 'd', value_name = "BODY|@FILE")]
    data: Option<String>,
    /// A request header `name: value`; repeat for more.
    #[arg(long = "header", short = 'H', value_name = "NAME: VALUE", value_parser = parse_header)]
    headers: Vec<(String, String)>,
}

#[derive(Debug, Args)]
struct AuditArgs {
    /// Only this tenant's entries.
    #[arg(long, value_name = "TENANT")]
    tenant: Option<String>,
    /// Only this actor's entries.
    #[arg(long, value_name = "ACTOR")]
    actor: Option<String>,
    /// Only actions starting with this, e.g. `deployment.`.
    #[arg(long, value_name = "ACTION")]
    action: Option<String>,
    /// Only entries after this id (for paging).
    #[arg(long, value_name = "ID")]
    after: Option<u64>,
    /// At most this many entries.
    #[arg(long, value_name = "N")]
    limit: Option<u32>,
}

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
    if let Command::Serve(serve) = command {
        return commands::serve::serve(serve.listen, serve.data, serve.config);
    }
    let ctx = Context {
        client: Client::new(&server, token)?,
        json,
    };
    match command {
        Command::Serve(_) => Ok(()),
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
        Command::Rollout(RolloutCommand::Start {
            target,
            rings,
            soak,
            watch,
        }) => commands::rollout::start(&ctx, &target, rings, soak, watch),
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
        } => match canary {
            Some(percent) => commands::deploy::canary(&ctx, &tenant, &target, percent),
            None => commands::deploy::promote(&ctx, &tenant, &target, watch),
        },
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
        Command::Logs { tenant, limit } => commands::observe::logs(&ctx, &tenant, limit),
        Command::Audit(audit) => commands::observe::audit(
            &ctx,
            &commands::observe::AuditFilter {
                tenant: audit.tenant,
                actor: audit.actor,
                action: audit.action,
                after: audit.after,
                limit: audit.limit,
            },
        ),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;
    use clap::error::ErrorKind;

    use super::*;

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
        assert!(parse(&["serve", "--listen", "nowhere"]).is_err());
    }

    #[test]
    fn rollback_checks_the_version() {
        assert!(parse(&["rollback", "banban", "inventory", "--to", "1.0.0"]).is_ok());
        assert!(parse(&["rollback", "banban", "inventory", "--to", "latest"]).is_err());
    }
}
