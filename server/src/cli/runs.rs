//! `runs list`, `runs show ID`, `runs logs ID [--step KEY]`.

use std::process::ExitCode;

use console::style;
use serde_json::json;
use stemma::event::{Event, EventKind, StepPhases};
use stemma::{Engine, RunStatus};

use super::args::RunsCommand;
use super::printer::{Printer, age, count, duration, local_time};
use super::{CliResult, Failure};
use crate::views::{self, runs::RunDetail, runs::RunView};

pub(crate) async fn command(engine: &Engine, command: RunsCommand, printer: Printer) -> CliResult {
    match command {
        RunsCommand::List { limit } => list(engine, limit, printer),
        RunsCommand::Show { id } => show(engine, &id, printer),
        RunsCommand::Cancel { id } => cancel(engine, &id, printer).await,
        RunsCommand::Resume {
            id,
            from_failure,
            run_id,
        } => {
            let run_id = run_id.as_deref().map(stemma::RunId::from_string);
            resume(engine, &id, from_failure, run_id, printer).await
        }
        RunsCommand::Logs { id, step } => logs(engine, &id, step.as_deref(), printer),
    }
}

fn status_cell(status: RunStatus) -> String {
    match status {
        RunStatus::Success => style("success").green().to_string(),
        RunStatus::Failure => style("failure").red().to_string(),
        RunStatus::Canceled => style("canceled").yellow().to_string(),
        RunStatus::Started => style("running").cyan().to_string(),
    }
}

fn run_duration(started: i64, ended: Option<i64>) -> String {
    match ended {
        Some(e) => duration((e - started) as f64 / 1000.0),
        None => "-".into(),
    }
}

pub(crate) fn list(engine: &Engine, limit: usize, printer: Printer) -> CliResult {
    let runs = engine.instance().runs(limit)?;
    if printer.json {
        let out: Vec<RunView> = runs.iter().map(RunView::from).collect();
        printer.json_pretty(&views::json(&out));
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = printer.table(&["RUN", "STATUS", "STARTED", "DURATION", "STEPS", "SELECTION"]);
    for r in &runs {
        let mut selection = r.selection.clone();
        if let Some(p) = &r.partition {
            selection.push_str(&format!(" [{p}]"));
        }
        table.add_row(vec![
            r.run_id.short().to_owned(),
            status_cell(r.status),
            format!("{} ({})", local_time(r.started_at), age(r.started_at)),
            run_duration(r.started_at, r.ended_at),
            r.steps.to_string(),
            selection,
        ]);
    }
    printer.out(table);
    if runs.is_empty() {
        printer.err("No runs yet: `assets materialize --select '*'` starts one.");
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn show(engine: &Engine, id: &str, printer: Printer) -> CliResult {
    let run = engine.instance().find_run(id)?;
    let events = engine.instance().run_events(&run.run_id)?;
    let detail = RunDetail::of(&run, &events);
    if printer.json {
        printer.json_pretty(&views::json(&detail));
        return Ok(ExitCode::SUCCESS);
    }
    let steps = detail.steps;
    print_header(&run, printer);
    printer.out("");
    let mut table = printer.table(&[
        "STEP",
        "STATUS",
        "TRIES",
        "DURATION",
        "IN CODE",
        "ROWS",
        "DATA VERSION",
        "CHECKS",
        "NOTE",
    ]);
    for v in &steps {
        let status = match v.status {
            "succeeded" => style(v.status).green().to_string(),
            "failed" | "interrupted" => style(v.status).red().to_string(),
            "skipped" => style(v.status).yellow().to_string(),
            "up_to_date" => style("up to date").dim().to_string(),
            other => other.to_owned(),
        };
        table.add_row(vec![
            v.step.clone(),
            status,
            v.attempts.to_string(),
            v.duration_ms.map_or("-".into(), duration),
            v.phases.map_or("-".into(), |p| duration(p.compute_ms)),
            v.rows.map_or("-".into(), count),
            v.data_version.clone().unwrap_or_else(|| "-".into()),
            if v.checks.is_empty() {
                "-".into()
            } else {
                v.checks.join(", ")
            },
            v.error.clone().unwrap_or_default(),
        ]);
    }
    printer.out(table);
    let phases: Vec<StepPhases> = steps.iter().filter_map(|v| v.phases).collect();
    if !phases.is_empty() {
        let total = |f: fn(&StepPhases) -> f64| phases.iter().map(f).sum::<f64>();
        printer.out(format!(
            "\n  in asset code {}; loading inputs {}, hashing {}, storing {}",
            duration(total(|p| p.compute_ms)),
            duration(total(|p| p.load_ms)),
            duration(total(|p| p.hash_ms)),
            duration(total(|p| p.store_ms)),
        ));
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn logs(engine: &Engine, id: &str, step: Option<&str>, printer: Printer) -> CliResult {
    let run = engine.instance().find_run(id)?;
    let events = engine.instance().run_events(&run.run_id)?;
    if let Some(step) = step {
        let known = events.iter().any(|e| {
            e.step_label().as_deref() == Some(step)
                || e.asset.as_ref().is_some_and(|a| a.as_str() == step)
        });
        if !known {
            return Err(Failure {
                code: 2,
                message: format!("run {} has no step {step:?}", run.run_id.short()),
            });
        }
    }
    let wanted = |e: &Event| {
        step.is_none_or(|s| {
            e.step_label().as_deref() == Some(s)
                || e.asset.as_ref().is_some_and(|a| a.as_str() == s)
        })
    };
    for e in events.iter().filter(|e| wanted(e)) {
        if printer.json {
            printer.json_line(e);
            continue;
        }
        let time = chrono::DateTime::from_timestamp_micros(e.timestamp)
            .map(|t| {
                t.with_timezone(&chrono::Local)
                    .format("%H:%M:%S%.3f")
                    .to_string()
            })
            .unwrap_or_default();
        let label = e.step_label().unwrap_or_else(|| "run".into());
        let Some(line) = log_line(&e.kind) else {
            continue;
        };
        printer.out(format!("{time} {label:<20} {line}"));
    }
    Ok(ExitCode::SUCCESS)
}

/// What a run was asked to do, when and where it ran, and how it ended.
fn print_header(run: &stemma::instance::RunRecord, printer: Printer) {
    printer.out(format!(
        "{} {}  {}",
        style("Run").bold(),
        run.run_id,
        status_cell(run.status)
    ));
    printer.out(format!("  selection  {}", run.selection));
    if let Some(p) = &run.partition {
        printer.out(format!("  partition  {p}"));
    }
    if !run.config.is_empty() {
        let pairs: Vec<String> = run.config.iter().map(|(k, v)| format!("{k}={v}")).collect();
        printer.out(format!("  config     {}", pairs.join(" ")));
    }
    printer.out(format!(
        "  started    {} ({}), took {}",
        local_time(run.started_at),
        age(run.started_at),
        run_duration(run.started_at, run.ended_at)
    ));
    if let (Some(pid), Some(host)) = (run.pid, &run.host) {
        printer.out(format!("  process    {pid} on {host}"));
    }
    if let Some(m) = &run.message {
        printer.out(format!("  message    {m}"));
    }
}

/// An event as one line of `runs logs` (none for events it does not show).
fn log_line(kind: &EventKind) -> Option<String> {
    let line = match kind {
        EventKind::Log { level, message } => format!("{level:<5} {message}"),
        EventKind::StepStarted { attempt } => format!("START attempt {attempt}"),
        EventKind::StepSucceeded { duration_ms, .. } => {
            format!("DONE  in {}", duration(*duration_ms))
        }
        EventKind::StepFailed {
            error,
            attempt,
            retrying,
            timed_out,
            retry_in_ms,
            ..
        } => {
            let what = if *timed_out { "TIMEOUT" } else { "FAIL " };
            let next = match (retrying, retry_in_ms) {
                (true, Some(ms)) => {
                    format!(" (attempt {attempt}; retrying in {})", duration(*ms as f64))
                }
                (true, None) => format!(" (attempt {attempt}; retrying)"),
                _ => String::new(),
            };
            format!("{what} {error}{next}")
        }
        EventKind::StepSkipped { reason } => format!("SKIP  {reason}"),
        EventKind::StepUpToDate { data_version, .. } => {
            format!("UP TO DATE {}", data_version.short())
        }
        EventKind::Materialization(m) => format!(
            "MATERIALIZED {} {}",
            m.data_version.short(),
            m.rows
                .map(|r| format!("({} rows)", count(r)))
                .unwrap_or_default()
        ),
        EventKind::CheckEvaluation(c) => format!(
            "CHECK {} {}{}",
            c.check,
            if c.passed { "passed" } else { "failed" },
            c.description
                .as_deref()
                .map(|d| format!(": {d}"))
                .unwrap_or_default()
        ),
        EventKind::RunStarted { selection, .. } => format!("RUN STARTED {selection:?}"),
        EventKind::RunEnded { status, message } => format!(
            "RUN ENDED {status}{}",
            message
                .as_deref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default()
        ),
        _ => return None,
    };
    Some(line)
}

pub(crate) async fn cancel(engine: &Engine, id: &str, printer: Printer) -> CliResult {
    let record = engine.cancel_run(id).await?;
    if printer.json {
        printer.json_line(&json!({"run_id": record.run_id, "cancel_requested": true}));
    } else {
        printer.out(format!(
            "Asked run {} to stop: its process (pid {}) cancels it within a second.",
            record.run_id.short(),
            record.pid.map_or_else(|| "?".into(), |p| p.to_string())
        ));
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn resume(
    engine: &Engine,
    id: &str,
    from_failure: bool,
    run_id: Option<stemma::RunId>,
    printer: Printer,
) -> CliResult {
    if from_failure {
        let record = engine.instance().find_run(id)?;
        if record.crashed() {
            return Err(Failure {
                code: 2,
                message: format!(
                    "run {} did not fail: its process died before it ended ({}); --from-failure \
                     is for a run whose steps failed — resume it without --from-failure",
                    record.run_id.short(),
                    record.message.as_deref().unwrap_or("crashed")
                ),
            });
        }
        if record.status != RunStatus::Failure {
            return Err(Failure {
                code: 2,
                message: format!(
                    "run {} did not fail (it is {}); --from-failure needs a failed run",
                    record.run_id.short(),
                    record.status.as_str()
                ),
            });
        }
    }
    let outcome = super::run::run_with_progress(engine, printer, |cancel, progress| {
        engine.resume_run_as(id, run_id, cancel, progress)
    })
    .await?;
    super::run::report_run(&outcome, printer)
}
