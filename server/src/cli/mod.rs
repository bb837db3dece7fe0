//! The `assets` command line, modelled on `dagster asset …` and `dbt`.
//!
//! Exit codes: 0 success · 1 the run failed (a step failed or a blocking check stopped
//! downstream) · 2 bad input (selection, config, definitions, usage) · 3 the environment
//! (instance, storage, files) · 4 a bug in Stemma · 130 canceled.

mod backfill;
mod commands;
mod lifecycle;
mod lineage;
mod partitions;
mod pools;
mod printer;
mod progress;
mod runs;
mod schedules;
#[cfg(feature = "sql")]
mod sql;
mod versions;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use stemma::instance::Access;
use stemma::{AssetGraph, Definitions, Error, ErrorKind, Materialize, StepLogLayer};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use printer::Printer;

/// What `-h` says of `--select`; `--help` shows [`SELECT_HELP`].
const SELECT_SHORT: &str = "Assets to act on: NAME, NAME+, key:raw/*, group:G, tag:K=V, \
status:stale+, … (--help shows the syntax)";

/// The selection syntax as `--help` shows it, in lines short enough that a terminal of 80
/// columns does not wrap them (clap indents arguments' help by 10).
const SELECT_HELP: &str = "Assets to act on: clauses joined by commas (a union).
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
struct Cli {
    /// The instance directory (SQLite event log and stored objects).
    #[arg(long, global = true, env = "STEMMA_HOME", value_name = "DIR")]
    home: Option<PathBuf>,

    /// Machine-readable JSON on stdout.
    #[arg(long, global = true)]
    json: bool,

    /// Run configuration, KEY=VALUE (repeatable); `assets config` shows the fields. It is what
    /// runs use and what sources are observed and staleness judged with.
    #[arg(long = "config", short = 'c', global = true, value_name = "KEY=VALUE")]
    config: Vec<String>,

    /// The project config (storage URLs); default ./stemma.toml if it exists.
    #[arg(long, global = true, env = "STEMMA_PROJECT", value_name = "FILE")]
    project: Option<PathBuf>,

    /// Store the default IO manager's objects here instead (file:///abs/path, memory://,
    /// s3://bucket/prefix), overriding the project config.
    #[arg(long, global = true, env = "STEMMA_STORAGE", value_name = "URL")]
    storage: Option<String>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
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
        #[arg(long, value_name = "AGE", default_value = "7d", value_parser = lifecycle::parse_duration)]
        keep_younger_than: std::time::Duration,
        /// Spare unreferenced objects modified more recently than this (a run in flight may
        /// have written them).
        #[arg(long, value_name = "AGE", default_value = "1h", value_parser = lifecycle::parse_duration)]
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
}

#[derive(Debug, Subcommand)]
enum PoolsCommand {
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
enum DynamicCommand {
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
enum SchedulesCommand {
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
struct BackfillArgs {
    #[arg(long, short, help = SELECT_SHORT, long_help = SELECT_HELP)]
    select: Option<String>,
    /// The first partition (inclusive).
    #[arg(long, value_name = "KEY", requires = "to")]
    from: Option<String>,
    /// The last partition (inclusive).
    #[arg(long, value_name = "KEY", requires = "from")]
    to: Option<String>,
    /// Partitions: KEY, or KEY1,KEY2 (repeatable); `*` for all of them.
    #[arg(long, value_name = "KEY", value_delimiter = ',')]
    partition: Vec<String>,
    /// missing: targets not materialized (never, or last attempt failed); failed: only those
    /// whose last attempt failed; all: every target, recomputed.
    #[arg(long, value_enum, default_value_t = ReprocessArg::Missing)]
    reprocess: ReprocessArg,
    /// At most N steps at once (default: the number of cores).
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    concurrency: Option<u32>,
    /// Start the oldest partitions first (default: newest first).
    #[arg(long)]
    oldest_first: bool,
    /// Print what would run, in order; run nothing and record nothing.
    #[arg(long)]
    dry_run: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ReprocessArg {
    Missing,
    Failed,
    All,
}

#[derive(Debug, Subcommand)]
enum BackfillCommand {
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
struct Targets {
    #[arg(long, short, help = SELECT_SHORT, long_help = SELECT_HELP)]
    select: String,
    /// Partitions of the selected partitioned assets: KEY, or KEY1,KEY2 (repeatable); `*`
    /// for all of them.
    #[arg(long, value_name = "KEY", value_delimiter = ',')]
    partition: Vec<String>,
    /// A range of partitions, FROM...TO inclusive (2026-01-01...2026-01-31).
    #[arg(long, value_name = "FROM...TO")]
    partition_range: Vec<String>,
}

impl Targets {
    /// The request, with each `--partition-range` checked for its `...`.
    fn request(self) -> Result<Materialize, Failure> {
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

#[derive(Debug, Subcommand)]
enum RunsCommand {
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
enum GraphFormat {
    Dot,
    Mermaid,
    Json,
}

/// A failure of a command, with the exit code it maps to.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) code: u8,
    pub(crate) message: String,
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        // The one place errors become exit codes.
        let code = match e.kind() {
            ErrorKind::InvalidInput | ErrorKind::NotFound | ErrorKind::Conflict => 2,
            ErrorKind::Unavailable => 3,
            ErrorKind::Canceled => 130,
            ErrorKind::Failed | ErrorKind::Internal => 4,
            _ => 4,
        };
        Failure {
            code,
            message: e.to_string(),
        }
    }
}

pub(crate) type CliResult = Result<ExitCode, Failure>;

/// The error of a command that needs SQL in a code location built without it.
#[cfg(not(feature = "sql"))]
pub(crate) fn without_sql(command: &str) -> Error {
    Error::Config(format!(
        "`{command}` needs SQL (DataFusion), which this code location was built without: \
         enable stemma-server's `sql` feature in its Cargo.toml"
    ))
}

/// Parses `std::env::args` and runs the command against `definitions`.
pub fn run(definitions: Definitions) -> ExitCode {
    run_from(definitions, std::env::args_os())
}

/// Like [`run`], with explicit arguments (the first is the program name).
pub fn run_from<I, T>(definitions: Definitions, args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    init_tracing();
    let printer = Printer::new(cli.json);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            printer.error(format!("cannot start the async runtime: {e}"));
            return ExitCode::from(3);
        }
    };
    let result = runtime.block_on(dispatch(cli, definitions, printer));
    // Blocking bodies abandoned by a cancel must not keep the process alive.
    runtime.shutdown_background();
    match result {
        Ok(code) => code,
        Err(failure) => {
            printer.failure(&failure.message, failure.code);
            ExitCode::from(failure.code)
        }
    }
}

async fn dispatch(cli: Cli, definitions: Definitions, printer: Printer) -> CliResult {
    let graph = std::sync::Arc::new(AssetGraph::new(definitions)?);
    // The graph lives until the process exits: freeing 10,000 assets' definitions one by one
    // on the way out costs ~15 ms, as much as listing them.
    std::mem::forget(std::sync::Arc::clone(&graph));
    let home = cli.home.unwrap_or_else(crate::default_home);
    match cli.command {
        Command::List { select } => {
            commands::list(&graph, select.as_deref(), &home, &cli.config, printer)
        }
        Command::Config => commands::config(&graph, printer),
        Command::Graph { format, select } => commands::graph(
            &graph,
            select.as_deref(),
            &home,
            &cli.config,
            format,
            printer,
        ),
        command => {
            // Bad config is refused before the instance is touched.
            graph.config_spec().parse_pairs(&cli.config)?;
            let project = crate::ProjectConfig::load(cli.project.as_deref())?;
            let mut engine = crate::open_engine_for(
                graph,
                &home,
                &project,
                cli.storage.as_deref(),
                access(&command),
            )?
            .with_config(&cli.config)?;
            // Pretend it is another instant: replaying a night of schedules, tests.
            if let Some(now) = std::env::var_os("STEMMA_NOW") {
                let text = now.to_string_lossy();
                let at = chrono::DateTime::parse_from_rfc3339(&text).map_err(|e| Failure {
                    code: 2,
                    message: format!(
                        "STEMMA_NOW={text:?}: expected an RFC 3339 instant (2026-11-22T01:30:00Z): {e}"
                    ),
                })?;
                engine = engine.with_clock(std::sync::Arc::new(stemma::event::ManualClock::new(
                    at.to_utc(),
                )));
            }
            match command {
                Command::Materialize {
                    targets,
                    force,
                    concurrency,
                } => {
                    let request = targets.request()?.force(force);
                    let request = match concurrency {
                        Some(n) => request.concurrency(n as usize),
                        None => request,
                    };
                    commands::materialize(&engine, request, printer).await
                }
                Command::Status { select } => commands::status(&engine, select.as_deref(), printer),
                Command::WhyStale { key, partition } => {
                    versions::why_stale(&engine, &key, partition.as_deref(), printer)
                }
                Command::Plan { targets, force } => {
                    let request = targets.request()?.force(force);
                    versions::plan(&engine, request, printer)
                }
                Command::Wipe { select, yes } => {
                    commands::wipe(&engine, &select, yes, printer).await
                }
                Command::Gc {
                    keep_last,
                    keep_younger_than,
                    grace,
                    dry_run,
                    vacuum,
                } => {
                    let options = stemma::lifecycle::GcOptions {
                        keep_last: keep_last as usize,
                        keep_younger_than,
                        grace,
                        dry_run,
                        vacuum,
                    };
                    lifecycle::gc(&engine, options, printer).await
                }
                Command::Verify { select, all } => {
                    lifecycle::verify(&engine, select.as_deref(), all, printer).await
                }
                Command::Runs { command } => match command {
                    RunsCommand::List { limit } => runs::list(&engine, limit, printer),
                    RunsCommand::Show { id } => runs::show(&engine, &id, printer),
                    RunsCommand::Cancel { id } => runs::cancel(&engine, &id, printer).await,
                    RunsCommand::Resume { id, from_failure } => {
                        runs::resume(&engine, &id, from_failure, printer).await
                    }
                    RunsCommand::Logs { id, step } => {
                        runs::logs(&engine, &id, step.as_deref(), printer)
                    }
                },
                Command::Query {
                    sql,
                    format,
                    output,
                } => {
                    #[cfg(feature = "sql")]
                    {
                        sql::query(&engine, &sql, format, output.as_deref(), printer).await
                    }
                    #[cfg(not(feature = "sql"))]
                    {
                        let _ = (sql, format, output);
                        Err(without_sql("query").into())
                    }
                }
                Command::Partitions { key } => partitions::partitions(&engine, &key, printer),
                Command::Lineage { key, columns } => {
                    lineage::lineage(&engine, &key, columns, printer)
                }
                Command::Backfill { command, args } => match command {
                    Some(BackfillCommand::List { limit }) => {
                        backfill::list(&engine, limit, printer)
                    }
                    Some(BackfillCommand::Show { id }) => backfill::show(&engine, &id, printer),
                    Some(BackfillCommand::Cancel { id }) => {
                        backfill::cancel(&engine, &id, printer).await
                    }
                    Some(BackfillCommand::Resume { id }) => {
                        backfill::resume(&engine, &id, printer).await
                    }
                    None => {
                        let Some(select) = args.select else {
                            return Err(Failure {
                                code: 2,
                                message: "assets backfill needs --select (or a subcommand: list, show, cancel, resume)".into(),
                            });
                        };
                        let partitions = backfill::partitions(args.from, args.to, args.partition)?;
                        let mut request = stemma::Backfill::new(select)
                            .partitions(partitions)
                            .reprocess(match args.reprocess {
                                ReprocessArg::Missing => stemma::Reprocess::Missing,
                                ReprocessArg::Failed => stemma::Reprocess::Failed,
                                ReprocessArg::All => stemma::Reprocess::All,
                            })
                            .newest_first(!args.oldest_first);
                        if let Some(n) = args.concurrency {
                            request = request.concurrency(n as usize);
                        }
                        if args.dry_run {
                            backfill::dry_run(&engine, &request, printer)
                        } else {
                            backfill::start(&engine, request, printer).await
                        }
                    }
                },
                Command::Pools { command } => match command {
                    PoolsCommand::List => pools::list(&engine, printer),
                    PoolsCommand::Set { name, slots } => {
                        pools::set(&engine, &project, &name, Some(slots), printer)
                    }
                    PoolsCommand::Unset { name } => {
                        pools::set(&engine, &project, &name, None, printer)
                    }
                    PoolsCommand::MaxRuns { limit } => pools::max_runs(&engine, &limit, printer),
                },
                Command::DynamicPartitions { command } => match command {
                    DynamicCommand::Add { name, keys } => {
                        engine.add_dynamic_partitions(&name, &keys).await?;
                        printer.out(format!("{name}: {} key(s) added", keys.len()));
                        Ok(ExitCode::SUCCESS)
                    }
                    DynamicCommand::Remove { name, keys } => {
                        engine.remove_dynamic_partitions(&name, &keys).await?;
                        printer.out(format!("{name}: {} key(s) removed", keys.len()));
                        Ok(ExitCode::SUCCESS)
                    }
                    DynamicCommand::List { name } => {
                        let keys = engine.dynamic_partitions(&name)?;
                        if printer.json {
                            printer.json_pretty(&keys);
                        } else {
                            for k in &keys {
                                printer.out(k);
                            }
                        }
                        Ok(ExitCode::SUCCESS)
                    }
                },
                Command::Schedules { command } => match command {
                    SchedulesCommand::List => schedules::list(&engine, printer),
                    SchedulesCommand::Ticks { name, limit } => {
                        schedules::ticks(&engine, name.as_deref(), limit, printer)
                    }
                    SchedulesCommand::Start { name } => {
                        schedules::set_running(&engine, &name, true, printer).await
                    }
                    SchedulesCommand::Stop { name } => {
                        schedules::set_running(&engine, &name, false, printer).await
                    }
                },
                Command::Daemon { interval, once } => {
                    schedules::daemon(
                        &engine,
                        std::time::Duration::from_secs(interval),
                        once,
                        printer,
                    )
                    .await
                }
                Command::List { .. } | Command::Config | Command::Graph { .. } => {
                    unreachable!("handled above")
                }
            }
        }
    }
}

/// What a command needs of the instance: those that only read still work when it cannot be
/// written (a read-only directory, a full disk), and `gc` works on a full disk.
fn access(command: &Command) -> Access {
    match command {
        Command::List { .. }
        | Command::Config
        | Command::Graph { .. }
        | Command::Status { .. }
        | Command::WhyStale { .. }
        | Command::Plan { .. }
        | Command::Verify { .. }
        | Command::Query { .. }
        | Command::Lineage { .. }
        | Command::Partitions { .. }
        | Command::Runs {
            command: RunsCommand::List { .. } | RunsCommand::Show { .. } | RunsCommand::Logs { .. },
        }
        | Command::Backfill {
            command: Some(BackfillCommand::List { .. } | BackfillCommand::Show { .. }),
            ..
        }
        | Command::Schedules {
            command: SchedulesCommand::List | SchedulesCommand::Ticks { .. },
        }
        | Command::Pools {
            command: PoolsCommand::List,
        }
        | Command::DynamicPartitions {
            command: DynamicCommand::List { .. },
        } => Access::Read,
        Command::Backfill {
            command: None,
            args,
        } if args.dry_run => Access::Read,
        Command::Gc { .. } => Access::Reclaim,
        _ => Access::ReadWrite,
    }
}

/// Step logs are captured by [`StepLogLayer`]; Stemma's own diagnostics go to stderr at the
/// level `STEMMA_LOG` asks for (default: warnings).
fn init_tracing() {
    // Colour only on a terminal (and not under NO_COLOR): piped output is plain.
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let diagnostics =
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(colour)
            .with_target(true)
            .with_filter(EnvFilter::try_from_env("STEMMA_LOG").unwrap_or_else(|_| {
                EnvFilter::new("stemma=warn,stemma_io=warn,stemma_server=warn")
            }));
    // A step's log is what the asset's code says, not the chatter of the libraries it runs
    // (DataFusion logs every plan at debug level).
    let steps = StepLogLayer::new().with_filter(
        tracing_subscriber::filter::Targets::new()
            .with_default(tracing::Level::DEBUG)
            .with_targets(
                [
                    "datafusion",
                    "sqlparser",
                    "object_store",
                    "hyper",
                    "reqwest",
                    "h2",
                    "rustls",
                ]
                .map(|t| (t, tracing::Level::WARN)),
            ),
    );
    let _ = tracing_subscriber::registry()
        .with(steps)
        .with(diagnostics)
        .try_init();
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    /// Every command and argument a user can type says what it is for.
    #[test]
    fn every_argument_has_help() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if matches!(id, "help" | "version") {
                    continue;
                }
                if arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{path} {id}"));
                }
            }
            for sub in cmd.get_subcommands() {
                if sub.get_about().is_none() && sub.get_long_about().is_none() {
                    missing.push(format!("{path} {}", sub.get_name()));
                }
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "assets", &mut missing);
        assert!(missing.is_empty(), "no help text: {missing:?}");
    }

    /// The selection syntax keeps its columns in an 80-column terminal.
    #[test]
    fn the_selection_help_does_not_wrap_at_80_columns() {
        let mut cmd = Cli::command().term_width(80);
        cmd.build();
        let materialize = cmd.find_subcommand_mut("materialize").unwrap();
        let help = materialize.render_long_help().to_string();
        for line in SELECT_HELP.lines() {
            assert!(
                help.lines()
                    .any(|h| h.trim_end().ends_with(line.trim_end())),
                "wrapped: {line:?}\n{help}"
            );
        }
        assert!(help.lines().all(|l| l.chars().count() <= 80), "{help}");
    }
}
