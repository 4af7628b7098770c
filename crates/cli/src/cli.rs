//! The command line: every `modhost` command and its arguments, as clap parses them.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use modhost_api::TenantKind;

use crate::args::{ConfigPair, ModuleRef, parse_config_pair, parse_header, parse_module_ref, parse_version};
use crate::commands;

/// Run and manage a modhost server: tenants, modules, deployments, config, tokens.
#[derive(Debug, Parser)]
#[command(name = "modhost", version, propagate_version = true, max_term_width = 100)]
pub(crate) struct Cli {
    /// The modhost server to talk to.
    #[arg(
        long,
        global = true,
        env = "MODHOST_URL",
        default_value = "http://127.0.0.1:8080",
        value_name = "URL"
    )]
    pub(crate) server: String,

    /// The API token (`mh_…`) to authenticate with.
    #[arg(
        long,
        global = true,
        env = "MODHOST_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub(crate) token: Option<String>,

    /// Print the server's JSON instead of tables. On an error answer its JSON
    /// body is printed too, and the exit code is still non-zero.
    #[arg(long, global = true)]
    pub(crate) json: bool,

    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run the modhost server in this process.
    Serve(ServeArgs),
    /// Create a module crate from the template, ready to build anywhere (no checkout needed).
    New {
        /// The module id, e.g. `banban-grid`; also the folder name unless --dir is given.
        name: String,
        /// A custom module (owned by one tenant) instead of a standard one.
        #[arg(long, value_enum, default_value = "standard")]
        kind: ScaffoldKind,
        /// Where to create it (default: ./NAME).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Build a module crate to a component and check it as the server will.
    Build {
        /// The module's folder (default: the current one).
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
    /// Build, check and publish a module; `--promote` also makes it the tenant's active version.
    Deploy {
        /// The module's folder (default: the current one).
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// The tenant: owner of a custom module, and where `--promote` promotes.
        #[arg(long, value_name = "TENANT")]
        tenant: Option<String>,
        /// Promote the published version for --tenant.
        #[arg(long)]
        promote: bool,
    },
    /// Watch a module's sources; on every change build, publish a dev version and promote it.
    Dev {
        /// The module's folder (default: the current one).
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// The tenant to promote to.
        #[arg(long, value_name = "TENANT")]
        tenant: String,
        /// How often to look for changes and new log records, in milliseconds.
        #[arg(long, value_name = "MS", default_value_t = 500)]
        interval_ms: u64,
    },
    /// Create, list, show, suspend, resume and delete tenants.
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
        /// Only run every check a promote makes before it switches, and print them; change nothing.
        #[arg(long, conflicts_with_all = ["watch", "canary"])]
        dry_run: bool,
    },
    /// End a canary: every request goes to the active version again.
    #[command(subcommand)]
    Canary(CanaryCommand),
    /// Roll a module version out over rings of tenants (operator).
    #[command(subcommand)]
    Rollout(RolloutCommand),
    /// Alert rules and alerts: list, acknowledge, silence (`--tenant T` for a tenant's own).
    #[command(subcommand)]
    Alert(AlertCommand),
    /// Notification channels: webhook, Slack, email (`--tenant T` for a tenant's own).
    #[command(subcommand)]
    Channel(ChannelCommand),
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
    /// Show a tenant's module log records (filtered), or follow them live with -f.
    Logs(crate::cli_logs::LogsArgs),
    /// Print a tenant's Prometheus metrics: its own series only.
    Metrics(crate::cli_metrics::MetricsArgs),
    /// Show the audit log, or write it as CSV with --csv.
    Audit(crate::cli_debug::AuditArgs),
    /// Run a version's smoke tests for a tenant as a promote would, changing nothing.
    Smoke(crate::cli_debug::SmokeArgs),
    /// Tenant backups: scheduled backups and the backups stored on the host.
    #[command(subcommand)]
    Backup(crate::cli_backup::BackupCommand),
    Gc(commands::gc::GcArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// The address to listen on, e.g. 127.0.0.1:8080.
    #[arg(long, value_name = "ADDR")]
    pub(crate) listen: Option<SocketAddr>,
    /// The data directory (registry database, artifacts, compile cache).
    #[arg(long, value_name = "DIR")]
    pub(crate) data: Option<PathBuf>,
    /// The server's config file.
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// How host log lines are written to stderr: `text` for people, `json` (one object per line) for collectors.
    #[arg(long, value_enum, env = "MODHOST_LOG_FORMAT", default_value = "text")]
    pub(crate) log_format: LogFormat,
}

/// The format of the server's log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line: `timestamp`, `level`, `target`, `fields`.
    Json,
}

#[derive(Debug, Subcommand)]
pub(crate) enum TenantCommand {
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
    #[command(flatten)]
    Lifecycle(commands::tenant::Lifecycle),
}

#[derive(Debug, Subcommand)]
pub(crate) enum AlertCommand {
    /// Add, replace, list and remove alert rules.
    #[command(subcommand)]
    Rule(RuleCommand),
    /// List alerts, newest first.
    List {
        /// A tenant's alerts (its own rules' and the operators').
        #[arg(long)]
        tenant: Option<String>,
        /// Only `firing`, `acknowledged` or `resolved` ones.
        #[arg(long)]
        state: Option<String>,
        /// At most this many.
        #[arg(long, value_name = "N")]
        limit: Option<u32>,
    },
    /// Acknowledge a firing alert: it stops escalating.
    Ack {
        /// The alert id.
        id: u64,
        /// The tenant whose rule fired it.
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Hold notifications about an alert's rule and subject for a while.
    Silence {
        /// The alert id.
        id: u64,
        /// How long: 90, 30s, 10m, 2h.
        #[arg(long = "for", value_parser = commands::rollout::parse_duration)]
        duration: u64,
        /// The tenant whose rule fired it.
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Recent notification deliveries and their outcome.
    Deliveries {
        /// A tenant's channels' deliveries.
        #[arg(long)]
        tenant: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum RuleCommand {
    /// Add a rule, or replace the one with this name.
    Add(RuleArgs),
    /// List the rules of a scope.
    List {
        /// A tenant's rules.
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Remove a rule (its open alerts resolve).
    Rm {
        /// The rule's name.
        name: String,
        /// A tenant's rule.
        #[arg(long)]
        tenant: Option<String>,
    },
}

#[derive(Debug, Args)]
pub(crate) struct RuleArgs {
    /// The rule's name (kebab-case).
    pub(crate) name: String,
    /// A tenant's own rule (default: a global rule, operators only).
    #[arg(long)]
    pub(crate) tenant: Option<String>,
    /// What it measures: error-rate, p99-ms, traps, deadlines, limit-hits,
    /// storage-errors, quota-use, fallbacks, failed-promotes,
    /// automatic-rollbacks, anomaly, backup-failures, overdue-milestones.
    #[arg(long)]
    pub(crate) kind: String,
    /// For `anomaly`: requests, error-rate or p99-ms.
    #[arg(long)]
    pub(crate) series: Option<String>,
    /// Only this module.
    #[arg(long)]
    pub(crate) module: Option<String>,
    /// Fires at or past this value (for `anomaly`: standard deviations).
    #[arg(long)]
    pub(crate) threshold: f64,
    /// The span measured: 90, 30s, 10m (at most 10 minutes).
    #[arg(long, value_parser = commands::rollout::parse_duration)]
    pub(crate) window: u64,
    /// The least evidence before judging (requests, or anomaly samples).
    #[arg(long, default_value_t = 1)]
    pub(crate) min_count: u64,
    /// info, warning or critical.
    #[arg(long, default_value = "warning")]
    pub(crate) severity: String,
    /// The escalation chain, in order, comma-separated: the first is told when it fires.
    #[arg(long = "channel", value_delimiter = ',')]
    pub(crate) channels: Vec<String>,
    /// Tell the next channel after this long unacknowledged: 90, 30s, 10m.
    #[arg(long, value_parser = commands::rollout::parse_duration, default_value = "0")]
    pub(crate) escalate_after: u64,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ChannelCommand {
    /// Add a channel: exactly one of --webhook, --slack, --email.
    Add {
        /// The channel's name (kebab-case).
        name: String,
        /// A tenant's own channel.
        #[arg(long)]
        tenant: Option<String>,
        /// A webhook URL: signed JSON POSTs (the secret is printed once).
        #[arg(long, group = "target")]
        webhook: Option<String>,
        /// A Slack incoming-webhook URL.
        #[arg(long, group = "target")]
        slack: Option<String>,
        /// Email recipients, comma-separated.
        #[arg(long, group = "target", value_delimiter = ',')]
        email: Vec<String>,
    },
    /// List the channels of a scope.
    List {
        /// A tenant's channels.
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Send a test notification through a channel.
    Test {
        /// The channel's name.
        name: String,
        /// A tenant's channel.
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Remove a channel no rule uses.
    Rm {
        /// The channel's name.
        name: String,
        /// A tenant's channel.
        #[arg(long)]
        tenant: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum RolloutCommand {
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
pub(crate) enum ModuleCommand {
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
pub(crate) enum CanaryCommand {
    /// End the tenant's canary of a module.
    Abort {
        /// The tenant.
        tenant: String,
        /// The module.
        module: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum ConfigCommand {
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
pub(crate) enum TokenCommand {
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

/// What kind of module `modhost new` creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ScaffoldKind {
    /// Published by operators for every tenant.
    Standard,
    /// Owned by one tenant.
    Custom,
}

/// A token's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Role {
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
pub(crate) struct CallArgs {
    /// The tenant.
    pub(crate) tenant: String,
    /// The module.
    pub(crate) module: String,
    /// The path inside the module, e.g. `/items/TS-01?verbose=1`.
    pub(crate) path: String,
    /// The HTTP method; default GET, or POST with --data.
    #[arg(long, short = 'X', value_name = "METHOD")]
    pub(crate) method: Option<String>,
    /// The request body; `@file` reads a file, `@-` standard input.
    #[arg(long, short = 'd', value_name = "BODY|@FILE")]
    pub(crate) data: Option<String>,
    /// A request header `name: value`; repeat for more.
    #[arg(long = "header", short = 'H', value_name = "NAME: VALUE", value_parser = parse_header)]
    pub(crate) headers: Vec<(String, String)>,
}
