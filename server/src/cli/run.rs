//! `assets materialize`, and what every command that runs steps shares: the live progress
//! view with its Ctrl-C watcher ([`run_with_progress`]) and the report of how a run went.

use std::process::ExitCode;
use std::sync::Arc;

use console::style;
use serde_json::json;
use stemma::{Engine, Materialize, RunObserver, RunStatus};
use tokio_util::sync::CancellationToken;

use super::CliResult;
use super::notes::note_left_out;
use super::printer::{Printer, duration};
use super::progress::Progress;

/// Runs `start` (a materialize, a resume, a backfill) with the live progress view, and the
/// Ctrl-C watcher that cancels it: the one way the command line runs anything.
pub(crate) async fn run_with_progress<T, F, Fut>(
    engine: &Engine,
    printer: Printer,
    start: F,
) -> stemma::Result<T>
where
    F: FnOnce(CancellationToken, Arc<dyn RunObserver>) -> Fut,
    Fut: std::future::Future<Output = stemma::Result<T>>,
{
    let cancel = CancellationToken::new();
    let watcher = tokio::spawn(watch_ctrl_c(engine.clone(), cancel.clone(), printer));
    let progress = Arc::new(Progress::new(printer));
    let result = start(cancel, progress.clone()).await;
    progress.finish();
    watcher.abort();
    result
}

pub(crate) async fn materialize(
    engine: &Engine,
    request: Materialize,
    printer: Printer,
) -> CliResult {
    let selection = request.selection().to_owned();
    let outcome = run_with_progress(engine, printer, |cancel, progress| {
        engine.materialize(request.cancel_token(cancel), progress)
    })
    .await?;
    if outcome.nothing_to_do && !printer.json {
        printer.out(super::notes::nothing_to_do(&selection, &outcome.left_out));
        note_left_out(&outcome.left_out, printer);
        return Ok(ExitCode::SUCCESS);
    }
    report_run(&outcome, printer)
}

/// Prints how a run went (a line, or JSON) and maps it to the exit code.
pub(crate) fn report_run(outcome: &stemma::RunOutcome, printer: Printer) -> CliResult {
    if outcome.nothing_to_do {
        if printer.json {
            printer.json_line(&json!({
                "run_id": null,
                "status": "nothing_to_do",
                "steps": 0,
                "left_out": outcome.left_out,
            }));
        } else {
            printer.out("Nothing to do: the selection matches no assets now; nothing was run");
            note_left_out(&outcome.left_out, printer);
        }
        return Ok(ExitCode::SUCCESS);
    }
    note_left_out(&outcome.left_out, printer);
    let run = outcome.run_id.short().to_owned();
    let elapsed = duration(outcome.duration.as_secs_f64() * 1000.0);
    if printer.json {
        printer.json_line(&json!({
            "run_id": outcome.run_id,
            "status": outcome.status,
            "steps": outcome.steps,
            "succeeded": outcome.succeeded,
            "up_to_date": outcome.up_to_date,
            "failed": outcome.failed,
            "skipped": outcome.skipped,
            "checks_passed": outcome.checks_passed,
            "checks_failed": outcome.checks_failed,
            "duration_ms": outcome.duration.as_secs_f64() * 1000.0,
            "left_out": outcome.left_out,
        }));
    } else {
        print_summary(outcome, &run, &elapsed, printer);
    }
    Ok(match outcome.status {
        RunStatus::Success => ExitCode::SUCCESS,
        RunStatus::Canceled => ExitCode::from(130),
        _ => ExitCode::from(1),
    })
}

/// The run's summary line (and, for a failed run, what failed).
fn print_summary(outcome: &stemma::RunOutcome, run: &str, elapsed: &str, printer: Printer) {
    let checks = match (outcome.checks_passed, outcome.checks_failed.len()) {
        (0, 0) => String::new(),
        (p, 0) => format!("; checks: {p} passed"),
        (p, f) => format!("; checks: {p} passed, {f} failed"),
    };
    let fresh = match outcome.up_to_date {
        0 => String::new(),
        n => format!(", {n} up to date"),
    };
    match outcome.status {
        RunStatus::Success if outcome.succeeded == 0 && outcome.up_to_date > 0 => {
            printer.out(format!(
                "{} run {run}: all {} step{} up to date, nothing to materialize ({elapsed}; --force recomputes)",
                style("Succeeded:").green().bold(),
                outcome.up_to_date,
                if outcome.up_to_date == 1 { "" } else { "s" },
            ))
        }
        RunStatus::Success => printer.out(format!(
            "{} run {run} materialized {} asset{}{fresh} in {elapsed}{checks}",
            style("Succeeded:").green().bold(),
            outcome.succeeded,
            if outcome.succeeded == 1 { "" } else { "s" },
        )),
        RunStatus::Canceled => printer.out(format!(
            "{} run {run} after {elapsed}: {} materialized, {} not run",
            style("Canceled:").yellow().bold(),
            outcome.succeeded,
            outcome.skipped
        )),
        _ => {
            printer.out(format!(
                "{} run {run} after {elapsed}: {} materialized{fresh}, {} failed, {} skipped{checks}",
                style("Failed:").red().bold(),
                outcome.succeeded,
                outcome.failed.len(),
                outcome.skipped
            ));
            for f in &outcome.failed {
                printer.out(format!("  {}: {}", f.step, f.error));
            }
            for stemma::execute::CheckFailure { check, description } in &outcome.checks_failed {
                printer.out(format!("  check {check} failed: {description}"));
            }
            printer.out(style(format!("  details: assets runs show {run}")).dim());
        }
    }
}

/// First Ctrl-C: cancel (no new steps; running ones are abandoned before they commit).
/// Second: record the runs in progress as canceled and exit at once.
pub(crate) async fn watch_ctrl_c(engine: Engine, cancel: CancellationToken, printer: Printer) {
    if tokio::signal::ctrl_c().await.is_err() {
        return;
    }
    cancel.cancel();
    printer.err(
        style("Canceling: no new steps will start; press Ctrl-C again to exit now")
            .yellow()
            .for_stderr(),
    );
    if tokio::signal::ctrl_c().await.is_ok() {
        engine
            .abandon_runs(
                "canceled: the process was told to exit at once (a second Ctrl-C); nothing it \
                 had not committed was kept",
                std::time::Duration::from_secs(2),
            )
            .await;
        std::process::exit(130);
    }
}
