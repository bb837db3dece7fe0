//! The `assets` command line, modelled on `dagster asset …` and `dbt`.
//!
//! Exit codes: 0 success · 1 the run failed (a step failed or a blocking check stopped
//! downstream) · 2 bad input (selection, config, definitions, usage) · 3 the environment
//! (instance, storage, files) · 4 a bug in Stemma · 130 canceled.

mod args;
mod backfill;
mod config;
mod graph;
mod lifecycle;
mod lineage;
mod list;
mod notes;
mod partitions;
mod pools;
mod printer;
mod progress;
mod run;
mod runs;
mod schedules;
mod select;
mod serve;
#[cfg(feature = "sql")]
mod sql;
mod status;
mod versions;
mod wipe;

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use stemma::instance::Access;
use stemma::{AssetGraph, Definitions, Engine, Error, ErrorKind, Hint, StepLogLayer};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

pub(crate) use args::GraphFormat;
#[cfg(feature = "sql")]
pub(crate) use args::QueryFormat;
use args::{
    BackfillCommand, Cli, Command, DynamicCommand, PoolsCommand, RunsCommand, SchedulesCommand,
};
use printer::Printer;

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
            message: with_hint(&e),
        }
    }
}

/// An error's text, and what can be done about it in the command line's terms.
pub(crate) fn with_hint(e: &Error) -> String {
    let Some(hint) = e.hint() else {
        return e.to_string();
    };
    let said = match hint {
        Hint::ChoosePartition => "; choose one with --partition KEY".to_owned(),
        Hint::ChoosePartitions => "; choose partitions with --partition KEY[,KEY...]".to_owned(),
        Hint::NoPartition => "; leave out --partition".to_owned(),
        Hint::BackfillPartitions => {
            ": --from A --to B, or --partition KEY[,KEY...] (`*` for all)".to_owned()
        }
        Hint::ListRuns => " (`assets runs list` shows the recent ones)".to_owned(),
        Hint::ListBackfills => " (`assets backfill list` shows the recent ones)".to_owned(),
        Hint::AddDynamicPartition { definition, key } => {
            format!("; add it with `assets dynamic-partitions add {definition} {key}`")
        }
        Hint::WidenSelection {
            selection,
            everything_upstream,
        } => {
            let or_all = everything_upstream
                .as_ref()
                .map(|all| format!(" (or '{all}' for everything upstream)"))
                .unwrap_or_default();
            format!("; include them in the selection: --select '{selection}'{or_all}")
        }
        Hint::ResumeBackfill { backfill } => format!(" (assets backfill resume {backfill})"),
        // The selection's own help is the last line of its message; these end or follow it.
        Hint::ListAssets => "\n  help: `assets list` shows every asset".to_owned(),
        Hint::SelectionSyntax => " (`assets --help`)".to_owned(),
        _ => String::new(),
    };
    format!("{e}{said}")
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
    let graph = Arc::new(AssetGraph::new(definitions)?);
    // The graph lives until the process exits: freeing 10,000 assets' definitions one by one
    // on the way out costs ~15 ms, as much as listing them.
    std::mem::forget(Arc::clone(&graph));
    let home = cli.home.unwrap_or_else(crate::default_home);
    // What a run launched as a child process of this one is given again.
    let global = serve::child_globals(&home, &cli.project, &cli.storage, &cli.config);
    match cli.command {
        // What needs no instance (the selection may still read one).
        Command::List { select } => {
            list::list(&graph, select.as_deref(), &home, &cli.config, printer)
        }
        Command::Config => config::config(&graph, printer),
        Command::Token { command } => serve::token(command, cli.project.as_deref(), printer),
        Command::Graph { format, select } => {
            let select = select.as_deref();
            graph::graph(&graph, select, &home, &cli.config, format, printer)
        }
        command => {
            // Bad config is refused before the instance is touched.
            graph.config_spec().parse_pairs(&cli.config)?;
            let project = crate::ProjectConfig::load(cli.project.as_deref())?;
            let storage = cli.storage.as_deref();
            let access = access(&command);
            let mut engine = crate::open_engine_for(graph, &home, &project, storage, access)?
                .with_config(&cli.config)?;
            // Pretend it is another instant: replaying a night of schedules, tests.
            if let Some(clock) = crate::project::clock_from_env()? {
                engine = engine.with_clock(clock);
            }
            on_engine(command, &engine, &project, global, printer).await
        }
    }
}

/// Runs a command that needs the instance.
async fn on_engine(
    command: Command,
    engine: &Engine,
    project: &crate::ProjectConfig,
    global: Vec<std::ffi::OsString>,
    printer: Printer,
) -> CliResult {
    match command {
        Command::Materialize {
            targets,
            force,
            concurrency,
            tags,
            run_id,
        } => {
            let mut request = targets.request()?.force(force).tags(args::tags(&tags)?);
            if let Some(n) = concurrency {
                request = request.concurrency(n as usize);
            }
            if let Some(id) = run_id {
                request = request.run_id(stemma::RunId::from_string(&id));
            }
            run::materialize(engine, request, printer).await
        }
        Command::Status { select } => status::status(engine, select.as_deref(), printer),
        Command::WhyStale { key, partition } => {
            versions::why_stale(engine, &key, partition.as_deref(), printer)
        }
        Command::Plan { targets, force } => {
            versions::plan(engine, targets.request()?.force(force), printer)
        }
        Command::Wipe { select, yes } => wipe::wipe(engine, &select, yes, printer).await,
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
            lifecycle::gc(engine, options, printer).await
        }
        Command::Verify { select, all } => {
            lifecycle::verify(engine, select.as_deref(), all, printer).await
        }
        Command::Runs { command } => runs::command(engine, command, printer).await,
        Command::Query {
            sql,
            format,
            output,
        } => {
            #[cfg(feature = "sql")]
            {
                sql::query(engine, &sql, format, output.as_deref(), printer).await
            }
            #[cfg(not(feature = "sql"))]
            {
                let _ = (sql, format, output);
                Err(without_sql("query").into())
            }
        }
        Command::Partitions { key } => partitions::partitions(engine, &key, printer),
        Command::Lineage { key, columns } => lineage::lineage(engine, &key, columns, printer),
        Command::Backfill { command, args } => {
            backfill::command(engine, command, args, printer).await
        }
        Command::Pools { command } => pools::command(engine, project, command, printer),
        Command::DynamicPartitions { command } => {
            partitions::dynamic(engine, command, printer).await
        }
        Command::Schedules { command } => schedules::command(engine, command, printer).await,
        Command::Daemon { interval, once } => {
            let interval = std::time::Duration::from_secs(interval);
            schedules::daemon(engine, interval, once, printer).await
        }
        Command::Serve {
            host,
            port,
            no_daemon,
            daemon_interval,
            insecure,
            read_threads,
        } => {
            let options = serve::Options {
                addr: std::net::SocketAddr::new(host, port),
                daemon: !no_daemon,
                daemon_interval: std::time::Duration::from_secs(daemon_interval),
                insecure,
                read_threads: read_threads.map(|n| n as usize),
            };
            serve::serve(engine, project, options, global).await
        }
        Command::List { .. } | Command::Config | Command::Graph { .. } | Command::Token { .. } => {
            unreachable!("dispatch runs these without an engine")
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
        | Command::Token { .. }
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
    let diagnostics = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .with_target(true)
        .with_filter(EnvFilter::try_from_env("STEMMA_LOG").unwrap_or_else(|_| {
            // `assets serve` logs every request (with its token's name) at info.
            EnvFilter::new(
                "stemma=warn,stemma_io=warn,stemma_server=warn,stemma_server::access=info",
            )
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
        for line in args::SELECT_HELP.lines() {
            assert!(
                help.lines()
                    .any(|h| h.trim_end().ends_with(line.trim_end())),
                "wrapped: {line:?}\n{help}"
            );
        }
        assert!(help.lines().all(|l| l.chars().count() <= 80), "{help}");
    }
}
