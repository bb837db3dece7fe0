//! `assets schedules list|ticks|start|stop` and `assets daemon`.

use std::process::ExitCode;
use std::time::Duration;

use chrono::DateTime;
use console::style;
use serde_json::json;
use stemma::Engine;
use stemma::daemon::Daemon;
use tokio_util::sync::CancellationToken;

use super::CliResult;
use super::args::SchedulesCommand;
use super::printer::{Printer, age, local_time};

pub(crate) async fn command(
    engine: &Engine,
    command: SchedulesCommand,
    printer: Printer,
) -> CliResult {
    match command {
        SchedulesCommand::List => list(engine, printer),
        SchedulesCommand::Ticks { name, limit } => ticks(engine, name.as_deref(), limit, printer),
        SchedulesCommand::Start { name } => set_running(engine, &name, true, printer).await,
        SchedulesCommand::Stop { name } => set_running(engine, &name, false, printer).await,
    }
}

pub(crate) fn list(engine: &Engine, printer: Printer) -> CliResult {
    let now = DateTime::from_timestamp_micros(engine.now()).unwrap_or_default();
    let mut rows = Vec::new();
    for s in engine.graph().schedules() {
        let running = engine
            .instance()
            .schedule_running(s.name(), s.is_running_by_default())?;
        let cron = s.cron()?;
        let next = cron.next_after(now);
        let last = engine
            .instance()
            .ticks(Some(s.name()), 1)?
            .into_iter()
            .next();
        rows.push((s, cron, running, next, last));
    }
    if printer.json {
        let out: Vec<_> = rows
            .iter()
            .map(|(s, cron, running, next, last)| {
                json!({
                    "name": s.name(),
                    "cron": cron.expression(),
                    "timezone": cron.tz().name(),
                    "selection": s.selection(),
                    "running": running,
                    "next_tick": next.map(|t| t.to_rfc3339()),
                    "last_tick": last.as_ref().map(|t| json!({"tick": t.tick, "state": t.state, "run_id": t.run_id, "partition": t.partition})),
                })
            })
            .collect();
        printer.json_pretty(&out);
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = printer.table(&[
        "SCHEDULE",
        "STATE",
        "CRON",
        "NEXT TICK",
        "LAST TICK",
        "SELECTION",
    ]);
    for (s, cron, running, next, last) in &rows {
        table.add_row(vec![
            s.name().to_owned(),
            if *running { "running" } else { "stopped" }.to_owned(),
            format!("{} {}", cron.expression(), cron.tz().name()),
            match next {
                Some(t) if *running => t
                    .with_timezone(&cron.tz())
                    .format("%Y-%m-%d %H:%M %Z")
                    .to_string(),
                _ => "–".into(),
            },
            last.as_ref().map_or("–".into(), |t| {
                format!(
                    "{} {}{}",
                    in_zone(t.tick, Some(cron.tz())),
                    t.state,
                    t.partition
                        .as_ref()
                        .map(|p| format!(" [{p}]"))
                        .unwrap_or_default()
                )
            }),
            s.selection().to_owned(),
        ]);
    }
    printer.out(table);
    if rows.is_empty() {
        printer.err("This code location defines no schedules (Definitions::schedule).");
    }
    note_daemon(engine, printer)?;
    Ok(ExitCode::SUCCESS)
}

/// Whether a daemon is running (and when it was last seen): schedules fire only under one.
fn note_daemon(engine: &Engine, printer: Printer) -> stemma::Result<()> {
    let beats = engine.instance().heartbeats()?;
    match beats.iter().find(|b| b.stopped_at.is_none()) {
        Some(b) => printer.err(format!(
            "daemon {} last seen {}",
            b.daemon,
            age(b.last_heartbeat)
        )),
        None => printer
            .err(style("No daemon is running: `assets daemon` fires the running schedules.").dim()),
    }
    Ok(())
}

pub(crate) fn ticks(
    engine: &Engine,
    schedule: Option<&str>,
    limit: usize,
    printer: Printer,
) -> CliResult {
    if let Some(name) = schedule {
        engine.graph().schedule(name)?;
    }
    let ticks = engine.instance().ticks(schedule, limit)?;
    if printer.json {
        let out: Vec<_> = ticks
            .iter()
            .map(|t| {
                json!({
                    "schedule": t.schedule,
                    "tick": DateTime::from_timestamp_micros(t.tick).map(|d| d.to_rfc3339()),
                    "state": t.state,
                    "run_id": t.run_id,
                    "partition": t.partition,
                    "daemon": t.daemon,
                    "message": t.message,
                })
            })
            .collect();
        printer.json_pretty(&out);
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = printer.table(&["SCHEDULE", "TICK", "STATE", "PARTITION", "RUN", "MESSAGE"]);
    let zone = |name: &str| {
        engine
            .graph()
            .schedules()
            .iter()
            .find(|s| s.name() == name)
            .and_then(|s| s.cron().ok())
            .map(|c| c.tz())
    };
    for t in &ticks {
        table.add_row(vec![
            t.schedule.clone(),
            in_zone(t.tick, zone(&t.schedule)),
            t.state.clone(),
            t.partition.clone().unwrap_or_default(),
            t.run_id
                .as_deref()
                .map(|r| r[..r.len().min(8)].to_owned())
                .unwrap_or_default(),
            t.message.clone().unwrap_or_default(),
        ]);
    }
    printer.out(table);
    if ticks.is_empty() {
        printer.err("No ticks yet.");
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn set_running(
    engine: &Engine,
    name: &str,
    running: bool,
    printer: Printer,
) -> CliResult {
    engine.set_schedule_running(name, running).await?;
    if printer.json {
        printer.json_line(&json!({"schedule": name, "running": running}));
    } else {
        printer.out(format!(
            "Schedule {name} {}.",
            if running {
                "started: a running daemon fires its next tick"
            } else {
                "stopped"
            }
        ));
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs the daemon until Ctrl-C (or, with `once`, for one evaluation).
pub(crate) async fn daemon(
    engine: &Engine,
    interval: Duration,
    once: bool,
    printer: Printer,
) -> CliResult {
    let daemon = Daemon::new(engine.clone());
    if once {
        let report = daemon.evaluate().await?;
        daemon.wait_runs().await;
        if printer.json {
            printer.json_line(&json!({
                "daemon": daemon.id(),
                "launched": report.launched.iter().map(|(s, t, p)| json!({"schedule": s, "tick": t.to_rfc3339(), "partition": p})).collect::<Vec<_>>(),
                "skipped": report.skipped.len(),
            }));
        } else {
            printer.out(format!(
                "Daemon {}: {} run{} launched, {} tick{} skipped.",
                daemon.id(),
                report.launched.len(),
                if report.launched.len() == 1 { "" } else { "s" },
                report.skipped.len(),
                if report.skipped.len() == 1 { "" } else { "s" },
            ));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let shutdown = CancellationToken::new();
    {
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let _ = tokio::signal::ctrl_c().await;
            shutdown.cancel();
        });
    }
    #[cfg(unix)]
    {
        let shutdown = shutdown.clone();
        if let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            tokio::spawn(async move {
                term.recv().await;
                shutdown.cancel();
            });
        }
    }
    printer.err(format!(
        "Daemon {} evaluating {} schedule{} every {}s; Ctrl-C stops it after the runs in flight.",
        daemon.id(),
        engine.graph().schedules().len(),
        if engine.graph().schedules().len() == 1 {
            ""
        } else {
            "s"
        },
        interval.as_secs_f64()
    ));
    daemon.run(interval, shutdown).await?;
    printer.err("Daemon stopped.");
    Ok(ExitCode::SUCCESS)
}

/// A tick as its schedule reads it (`2026-12-06 01:00 CET`), or in local time when the
/// schedule is gone from the code location.
fn in_zone(micros: i64, tz: Option<chrono_tz::Tz>) -> String {
    match (tz, DateTime::from_timestamp_micros(micros)) {
        (Some(tz), Some(t)) => t.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z").to_string(),
        _ => local_time(micros),
    }
}
