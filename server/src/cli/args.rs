//! The command line's arguments (clap): every command, its flags and their help.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use stemma::Materialize;

use super::Failure;

/// What `-h` says of `--select`; `--help` shows [`SELECT_HELP`].
pub(crate) const SELECT_SHORT: &str = "Assets to act on: NAME, NAME+, key:raw/*, group:G, tag:K=V, \
status:stale+, … (--help shows the syntax)";

/// The selection syntax as `--help` shows it, in lines short enough that a terminal of 80
/// columns does not wrap them (clap indents arguments' help by 10).
pub(crate) const SELECT_HELP: &str = "Assets to act on: clauses joined by commas (a union).
A clause is either Dagster's legacy form:
  NAME          one asset (a prefixed key: raw/documents)
  NAME+ NAME++  it and its children, one level per +
  +NAME ++NAME  it and its parents, one level per +
  NAME* *NAME   it and all its descendants / ancestors
  *NAME*        both;  * alone: every materializable asset
or Dagster's selection grammar:
  key:PATTERN   anchored, * matches anything (key:raw/*);
                key:\"*\" matches every key
  tag:K tag:K=V owner:O group:G kind:K
  is:external|materializable
  partitions:none|static|time|dynamic|multi
  and or not ( )  precedence not > and > or
  +X X+ N+X X+N   traversals, unlimited without N
                  (upward keeps materializable assets only)
  roots(X) sinks(X)
and beyond Dagster, resolved against the instance:
  status:materialized|missing|stale|fresh|failed
  changed:code|deps|any
  not_materialized_in_hours:N
  @X            dbt's: X, its descendants, their ancestors
As in Dagster, NAME+ is one hop while key:NAME+ is unlimited,
and tag:K matches only an empty value.";

#[derive(Debug, Parser)]
#[command(
    name = "assets",
    version,
    about = "Materialize, inspect and track the software-defined assets of this code location",
    after_help = "Exit codes: 0 success, 1 run failed, 2 bad input, 3 environment error, 130 canceled.\n\
                  The instance lives in $STEMMA_HOME (default ./.stemma).\n\
                  STEMMA_NOW=2026-11-22T01:30:00Z makes the command act at that instant (replaying schedules)."
)]
pub(crate) struct Cli {
    /// The instance directory (SQLite event log and stored objects).
    #[arg(long, global = true, env = "STEMMA_HOME", value_name = "DIR")]
    pub(crate) home: Option<PathBuf>,

    /// Machine-readable JSON on stdout.
    #[arg(long, global = true)]
    pub(crate) json: bool,

    /// Run configuration, KEY=VALUE (repeatable); `assets config` shows the fields. It is what
    /// runs use and what sources are observed and staleness judged with.
    #[arg(long = "config", short = 'c', global = true, value_name = "KEY=VALUE")]
    pub(crate) config: Vec<String>,

    /// The project config (storage URLs); default ./stemma.toml if it exists.
    #[arg(long, global = true, env = "STEMMA_PROJECT", value_name = "FILE")]
    pub(crate) project: Option<PathBuf>,

    /// Store the default IO manager's objects here instead (file:///abs/path, memory://,
    /// s3://bucket/prefix), overriding the project config.
    #[arg(long, global = true, env = "STEMMA_STORAGE", value_name = "URL")]
    pub(crate) storage: Option<String>,

    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// List the assets this code location defines.
    List {
        #[arg(long, short, help = SELECT_SHORT, long_help = SELECT_HELP)]
        select: Option<String>,
    },
    /// Materialize the selected assets (and run their checks). A step whose code, inputs and
    /// config equal those of its last materialization is skipped as up to date.
    Materialize {
        #[command(flatten)]
        targets: Targets,
        /// Recompute every selected step, even those already up to date.
        #[arg(long)]
        force: bool,
        /// At most N steps at once (default: the number of cores).
        #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
        concurrency: Option<u32>,
        /// A label recorded with the run, KEY=VALUE (repeatable); runs are found by it.
        #[arg(long = "tag", value_name = "KEY=VALUE")]
        tags: Vec<String>,
        /// The run's id, chosen by whoever launched it (`assets serve` does).
        #[arg(long, hide = true)]
        run_id: Option<String>,
    },
    /// Show each asset's state (fresh, stale with its cause, missing, failed), last
    /// materialization and check results.
    Status {
        #[arg(long, short, help = SELECT_SHORT, long_help = SELECT_HELP)]
        select: Option<String>,
    },
    /// Explain why an asset (partition) is stale, as a tree down to the root causes.
    WhyStale {
        /// The asset key (prefixed keys are written raw/documents).
        key: String,
        /// The partition to explain (default: the first stale one).
        #[arg(long, value_name = "KEY")]
        partition: Option<String>,
    },
    /// Show what `materialize` would do with the same arguments — which steps would run and
    /// why, which would be skipped as up to date — without running anything.
    Plan {
        #[command(flatten)]
        targets: Targets,
        /// Plan as if every step were forced.
        #[arg(long)]
        force: bool,
    },
    /// Inspect runs.
    Runs {
        #[command(subcommand)]
        command: RunsCommand,
    },
    /// Print the asset graph.
    Graph {
        /// dot (Graphviz), mermaid, or json (the same as --json).
        #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
        format: GraphFormat,
        #[arg(long, short, help = SELECT_SHORT, long_help = SELECT_HELP)]
        select: Option<String>,
    },
    /// Forget the materializations of the selected assets (they count as never materialized).
    Wipe {
        #[arg(long, short, help = SELECT_SHORT, long_help = SELECT_HELP)]
        select: String,
        /// Do not ask for confirmation.
        #[arg(long, short)]
        yes: bool,
    },
    /// Prune the event log by a retention policy and delete stored objects that no retained
    /// materialization points to.
    Gc {
        /// Keep the latest N materializations of every asset partition (and the runs that made
        /// them).
        #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
        keep_last: u32,
        /// Keep everything younger than this (7d, 12h, 30m, 0s).
        #[arg(long, value_name = "AGE", default_value = "7d", value_parser = super::lifecycle::parse_duration)]
        keep_younger_than: std::time::Duration,
        /// Spare unreferenced objects modified more recently than this (a run in flight may
        /// have written them).
        #[arg(long, value_name = "AGE", default_value = "1h", value_parser = super::lifecycle::parse_duration)]
        grace: std::time::Duration,
        /// Report what would be deleted; delete nothing.
        #[arg(long)]
        dry_run: bool,
        /// Rebuild the database file afterwards to give the freed space back.
        #[arg(long)]
        vacuum: bool,
    },
    /// Re-read and re-hash stored objects; report any whose content no longer matches its
    /// recorded data version (exit 1).
    Verify {
        #[arg(long, short, help = SELECT_SHORT, long_help = SELECT_HELP)]
        select: Option<String>,
        /// Every materialization the event log retains, not only the latest ones.
        #[arg(long)]
        all: bool,
    },
    /// Run a read-only SQL query over the current materializations of the assets it names
    /// (`FROM silver.orders` reads the asset silver/orders; a partitioned asset has a
    /// `partition` column).
    Query {
        /// One SELECT (or WITH … SELECT).
        sql: String,
        /// table (for people), csv, json (one object per row), or parquet (needs --output).
        #[arg(long, short, value_enum, default_value_t = QueryFormat::Table)]
        format: QueryFormat,
        /// Write the result to this file (atomically) instead of stdout.
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Show an asset's upstream and downstream assets, or with --columns where each of its
    /// columns comes from (recorded by SQL assets when they run).
    Lineage {
        /// The asset key (prefixed keys are written raw/documents).
        key: String,
        /// Where each of its columns comes from, column by column (SQL assets record it).
        #[arg(long)]
        columns: bool,
    },
    /// Show which partitions of an asset are materialized, failed or missing, as ranges of
    /// keys and a bar.
    Partitions {
        /// The asset key.
        key: String,
    },
    /// Show the config fields `--config` accepts.
    Config,
    /// Materialize many partitions of a selection in one recorded run: newest partitions
    /// first, only what is not materialized yet (--reprocess), resumable after a crash or a
    /// cancel. Subcommands inspect and steer recorded backfills.
    #[command(args_conflicts_with_subcommands = true)]
    Backfill {
        #[command(subcommand)]
        command: Option<BackfillCommand>,
        #[command(flatten)]
        args: BackfillArgs,
    },
    /// Concurrency pools: limits on how many steps of assets declaring `pool = "NAME"` run at
    /// once, across every run and process on this instance.
    Pools {
        #[command(subcommand)]
        command: PoolsCommand,
    },
    /// Add, remove or list the keys of a dynamic partitions definition.
    DynamicPartitions {
        #[command(subcommand)]
        command: DynamicCommand,
    },
    /// Inspect, start and stop the schedules of this code location.
    Schedules {
        #[command(subcommand)]
        command: SchedulesCommand,
    },
    /// Evaluate the running schedules and launch their runs, until Ctrl-C or SIGTERM (runs in
    /// flight finish first). Several daemons may share an instance: each tick fires once.
    Daemon {
        /// Seconds between evaluations.
        #[arg(long, value_name = "SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
        interval: u64,
        /// Evaluate once, wait for the runs launched, and exit.
        #[arg(long)]
        once: bool,
    },
    /// Serve the HTTP API (/api/v1, its event stream, /metrics) and run the scheduler daemon,
    /// until Ctrl-C or SIGTERM; runs launched from the API keep running after it stops.
    Serve {
        /// The address to listen on. Anything but loopback needs tokens (or --insecure).
        #[arg(long, default_value = "127.0.0.1")]
        host: std::net::IpAddr,
        /// The port (0: any free one; the address is printed).
        #[arg(long, default_value_t = 3000)]
        port: u16,
        /// Do not run the scheduler daemon in this process.
        #[arg(long)]
        no_daemon: bool,
        /// Seconds between the daemon's evaluations.
        #[arg(long, value_name = "SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
        daemon_interval: u64,
        /// Serve without tokens on an address that is not loopback (something in front of
        /// the server authenticates).
        #[arg(long)]
        insecure: bool,
        /// Reads of the instance at once (default: one less than the cores, at least one):
        /// more requests queue, so runs launched on this machine keep their share of it.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
        read_threads: Option<u32>,
    },
    /// Tokens for `assets serve`: stored in stemma.toml as hashes.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum TokenCommand {
    /// Make a token, print it once, and add its hash to stemma.toml.
    Create {
        /// viewer (reads), operator (launch, cancel, resume, report), admin (everything).
        #[arg(long, value_parser = ["viewer", "operator", "admin"])]
        role: String,
        /// Who holds it: the name the access log shows.
        #[arg(long)]
        name: String,
    },
    /// The tokens stemma.toml holds (names and roles; never the tokens).
    List,
}

#[derive(Debug, Subcommand)]
pub(crate) enum PoolsCommand {
    /// Every pool with a limit or a held slot: its limit, and who holds its slots.
    List,
    /// Limit a pool to N steps at once.
    Set {
        /// The pool, as assets name it (`pool = "openai-api"`).
        name: String,
        /// How many of its steps may run at once, across every process.
        #[arg(value_parser = clap::value_parser!(u32).range(1..))]
        slots: u32,
    },
    /// Remove a pool's limit (its steps run unlimited).
    Unset {
        /// The pool.
        name: String,
    },
    /// Limit how many runs run at once on this instance (`none`: no limit); more wait.
    MaxRuns {
        /// A number, or `none`.
        limit: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum DynamicCommand {
    /// Add keys (those already there are left alone).
    Add {
        /// The definition's name (`DynamicPartitions::new("files")`).
        name: String,
        /// The keys to add.
        #[arg(required = true)]
        keys: Vec<String>,
    },
    /// Remove keys; their materializations stay in the instance.
    Remove {
        /// The definition's name.
        name: String,
        /// The keys to remove.
        #[arg(required = true)]
        keys: Vec<String>,
    },
    /// The keys, in the order they were added.
    List {
        /// The definition's name.
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum SchedulesCommand {
    /// Every schedule: running or stopped, its next tick and its last one.
    List,
    /// Recent ticks, newest first: launched, succeeded, failed or skipped, with their runs.
    Ticks {
        /// Only this schedule.
        name: Option<String>,
        /// At most this many ticks.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Start a schedule: the daemon fires its ticks from now on.
    Start {
        /// The schedule (`assets schedules list` shows them).
        name: String,
    },
    /// Stop a schedule.
    Stop {
        /// The schedule.
        name: String,
    },
}

#[derive(Debug, clap::Args)]
pub(crate) struct BackfillArgs {
    #[arg(long, short, help = SELECT_SHORT, long_help = SELECT_HELP)]
    pub(crate) select: Option<String>,
    /// The first partition (inclusive).
    #[arg(long, value_name = "KEY", requires = "to")]
    pub(crate) from: Option<String>,
    /// The last partition (inclusive).
    #[arg(long, value_name = "KEY", requires = "from")]
    pub(crate) to: Option<String>,
    /// Partitions: KEY, or KEY1,KEY2 (repeatable); `*` for all of them.
    #[arg(long, value_name = "KEY", value_delimiter = ',')]
    pub(crate) partition: Vec<String>,
    /// missing: targets not materialized (never, or last attempt failed); failed: only those
    /// whose last attempt failed; all: every target, recomputed.
    #[arg(long, value_enum, default_value_t = ReprocessArg::Missing)]
    pub(crate) reprocess: ReprocessArg,
    /// At most N steps at once (default: the number of cores).
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) concurrency: Option<u32>,
    /// Start the oldest partitions first (default: newest first).
    #[arg(long)]
    pub(crate) oldest_first: bool,
    /// Print what would run, in order; run nothing and record nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// The backfill's id, chosen by whoever launched it (`assets serve` does).
    #[arg(long, hide = true)]
    pub(crate) backfill_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ReprocessArg {
    Missing,
    Failed,
    All,
}

#[derive(Debug, Subcommand)]
pub(crate) enum BackfillCommand {
    /// Recent backfills, newest first.
    List {
        /// At most this many backfills.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// One backfill: what it covers, its state and its runs.
    Show {
        /// A backfill id, a unique prefix of one, or `latest`.
        id: String,
    },
    /// Stop a backfill: its run starts no new steps and ends canceled.
    Cancel {
        /// A backfill id, a unique prefix of one, or `latest`.
        id: String,
    },
    /// Run a crashed, failed or canceled backfill again; what its runs committed is left out.
    Resume {
        /// A backfill id, a unique prefix of one, or `latest`.
        id: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum QueryFormat {
    Table,
    Csv,
    Json,
    Parquet,
}

/// What `materialize` and `plan` act on: a selection and, for partitioned assets, partitions.
#[derive(Debug, clap::Args)]
pub(crate) struct Targets {
    #[arg(long, short, help = SELECT_SHORT, long_help = SELECT_HELP)]
    pub(crate) select: String,
    /// Partitions of the selected partitioned assets: KEY, or KEY1,KEY2 (repeatable); `*`
    /// for all of them.
    #[arg(long, value_name = "KEY", value_delimiter = ',')]
    pub(crate) partition: Vec<String>,
    /// A range of partitions, FROM...TO inclusive (2026-01-01...2026-01-31).
    #[arg(long, value_name = "FROM...TO")]
    pub(crate) partition_range: Vec<String>,
}

impl Targets {
    /// The request, with each `--partition-range` checked for its `...`.
    pub(crate) fn request(self) -> Result<Materialize, Failure> {
        if let Some(v) = self
            .partition_range
            .iter()
            .find(|v| !v.contains(stemma::plan::RANGE_SEPARATOR))
        {
            return Err(Failure {
                code: 2,
                message: format!(
                    "--partition-range {v:?}: write FROM...TO (2026-01-01...2026-01-31)"
                ),
            });
        }
        Ok(Materialize::new(self.select)
            .partitions(self.partition)
            .partitions(self.partition_range))
    }
}

/// `--tag KEY=VALUE` pairs as a map.
pub(crate) fn tags(
    pairs: &[String],
) -> Result<std::collections::BTreeMap<String, String>, Failure> {
    pairs
        .iter()
        .map(|p| match p.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.to_owned())),
            _ => Err(Failure {
                code: 2,
                message: format!("--tag {p:?}: write KEY=VALUE"),
            }),
        })
        .collect()
}

#[derive(Debug, Subcommand)]
pub(crate) enum RunsCommand {
    /// Recent runs, newest first.
    List {
        /// At most this many runs.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// One run: its steps, checks and errors.
    Show {
        /// A run id, a unique prefix of one, or `latest` (the newest run).
        id: String,
    },
    /// Ask a running run to stop (from any terminal): no new steps start, running ones are
    /// canceled, the run ends `canceled`, and nothing uncommitted becomes visible.
    Cancel {
        /// A run id, a unique prefix of one, or `latest` (the newest run).
        id: String,
    },
    /// Run an ended run again — after a crash (kill -9, a reboot), a failure or a cancel —
    /// executing only the steps with no committed result: nothing it committed is recomputed.
    Resume {
        /// A run id, a unique prefix of one, or `latest` (the newest run).
        id: String,
        /// Only for a run that failed: re-execute its failed and skipped steps (the same steps
        /// a resume runs, refused for a run that crashed or was canceled).
        #[arg(long)]
        from_failure: bool,
        /// The new run's id, chosen by whoever launched it (`assets serve` does).
        #[arg(long, hide = true)]
        run_id: Option<String>,
    },
    /// The log lines of a run.
    Logs {
        /// A run id, a unique prefix of one, or `latest` (the newest run).
        id: String,
        /// Only this step (asset key, or asset[partition]).
        #[arg(long)]
        step: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum GraphFormat {
    Dot,
    Mermaid,
    Json,
}
