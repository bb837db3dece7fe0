//! `gc` and `verify`: the lifecycle of what the instance stores.

use std::collections::HashSet;
use std::process::ExitCode;
use std::time::Duration;

use console::style;
use serde_json::json;
use stemma::Engine;
use stemma::ids::NodeIx;
use stemma::lifecycle::GcOptions;

use super::printer::{Printer, bytes, count};
use super::{CliResult, Failure};

pub(crate) async fn gc(engine: &Engine, options: GcOptions, printer: Printer) -> CliResult {
    let report = engine.gc(&options).await?;
    if printer.json {
        printer.json_pretty(&report);
        return Ok(ExitCode::SUCCESS);
    }
    let verb = if report.dry_run {
        "Would delete"
    } else {
        "Deleted"
    };
    let p = &report.pruned;
    print_event_log(&report, verb, printer);
    printer.out(storage_line(&report, &options, verb));
    if report.db_bytes_after < report.db_bytes_before || options.vacuum {
        let note = if options.vacuum && !report.dry_run && !report.log_folded {
            " (another process is reading the instance: the rebuilt file is still in the \
             write-ahead log and shrinks at the next checkpoint)"
        } else if report.db_bytes_after >= report.db_bytes_before && options.vacuum {
            " (already compact)"
        } else {
            ""
        };
        printer.out(format!(
            "{} {} → {}{note}",
            style("Database:").bold(),
            bytes(report.db_bytes_before),
            bytes(report.db_bytes_after)
        ));
    }
    for s in &report.skipped {
        printer.err(style(format!("warning: skipped {s}")).yellow().for_stderr());
    }
    if report.dry_run {
        printer.err(style("Nothing was deleted (--dry-run).").dim().for_stderr());
    } else if !options.vacuum && p.events > 0 {
        printer.err(
            style("The database file keeps its size until `assets gc --vacuum`.")
                .dim()
                .for_stderr(),
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// What was (or would be) pruned from the event log.
fn print_event_log(report: &stemma::lifecycle::GcReport, verb: &str, printer: Printer) {
    let p = &report.pruned;
    if report.disk_full {
        printer.out(format!(
            "{} the disk holding the instance is full: the event log could not be pruned \
             (unreferenced objects were still deleted; free space and run `assets gc` again)",
            style("Event log:").bold()
        ));
    } else {
        if report.pruned_after_freeing {
            printer.err(
                style("The disk was full: the event log was pruned once objects had freed space.")
                    .yellow()
                    .for_stderr(),
            );
        }
        printer.out(format!(
            "{} {verb} {} run{}, {} materialization{} and {} observation{} from the event log \
         ({} events; {} left)",
            style("Event log:").bold(),
            count(p.runs),
            plural(p.runs),
            count(p.materializations),
            plural(p.materializations),
            count(p.observations),
            plural(p.observations),
            count(p.events),
            count(p.events_kept),
        ));
    }
}

/// What was (or would be) deleted from storage, and what was spared.
fn storage_line(report: &stemma::lifecycle::GcReport, options: &GcOptions, verb: &str) -> String {
    let mut storage = format!(
        "{} {verb} {} unreferenced object{} ({}); {} referenced",
        style("Storage:").bold(),
        count(report.objects_deleted),
        plural(report.objects_deleted),
        bytes(report.bytes_freed),
        count(report.objects_referenced),
    );
    if report.objects_spared > 0 {
        let why = if report.live_runs > 0 {
            format!(
                "{} run{} in progress",
                report.live_runs,
                plural(report.live_runs)
            )
        } else {
            format!("younger than {}", humantime::format_duration(options.grace))
        };
        storage.push_str(&format!(
            ", {} unreferenced spared ({why})",
            count(report.objects_spared)
        ));
    }
    storage
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

pub(crate) async fn verify(
    engine: &Engine,
    select: Option<&str>,
    all: bool,
    printer: Printer,
) -> CliResult {
    let only: Option<HashSet<stemma::AssetKey>> = match select {
        Some(text) => {
            let (_, set) = engine.select(text)?;
            Some(
                set.ones()
                    .map(|n| engine.graph().key(NodeIx::new(n)).clone())
                    .collect(),
            )
        }
        None => None,
    };
    let report = engine.verify(only.as_ref(), all).await?;
    if printer.json {
        printer.json_pretty(&json!({
            "checked": report.checked,
            "bytes": report.bytes,
            "ok": report.problems.is_empty(),
            "problems": report.problems,
        }));
    } else {
        print_verified(&report, all, only.is_some(), printer);
    }
    if report.problems.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        Err(Failure {
            code: 1,
            message: format!(
                "{} stored object{} failed verification",
                report.problems.len(),
                plural(report.problems.len() as u64)
            ),
        })
    }
}

/// Each object that failed, and a line on how many were checked.
fn print_verified(
    report: &stemma::lifecycle::VerifyReport,
    all: bool,
    selected: bool,
    printer: Printer,
) {
    for p in &report.problems {
        let label = stemma::event::step_label(&p.asset, p.partition.as_ref());
        let actual = p
            .actual
            .as_ref()
            .map(|a| format!(" (recorded {}, stored {})", p.recorded.short(), a.short()))
            .unwrap_or_default();
        printer.out(format!(
            "{} {label}: {}{actual}\n    {}",
            style("✗").red().bold(),
            p.problem,
            p.object
        ));
    }
    let what = if all {
        "every retained materialization"
    } else {
        "the latest materializations"
    };
    if report.checked == 0 {
        printer.out(format!(
            "Nothing to verify: {what} stored no objects{}",
            if selected {
                " for the selected assets"
            } else {
                ""
            }
        ));
    } else if report.problems.is_empty() {
        printer.out(format!(
            "{} {} object{} ({}) of {what}: every one matches its recorded data version",
            style("Verified").green().bold(),
            count(report.checked),
            plural(report.checked),
            bytes(report.bytes)
        ));
    } else {
        printer.out(format!(
            "{} {} of {} object{} of {what} do not match their recorded data version or \
             cannot be read; materialize them again (--force) to repair",
            style("Failed:").red().bold(),
            report.problems.len(),
            count(report.checked),
            plural(report.checked),
        ));
    }
}

/// `7d`, `12h`, `30m`, `0s`, `1h 30m`.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text)
        .map_err(|e| format!("{e}; write a duration like 7d, 12h, 30m or 0s"))
}
