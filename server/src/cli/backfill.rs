//! `assets backfill`: many partitions of a selection in one recorded, resumable run; and
//! `backfill list|show|cancel|resume`.

use std::collections::BTreeMap;
use std::process::ExitCode;

use crate::views::backfills::BackfillView;
use console::style;
use serde_json::json;
use stemma::backfill::{BackfillOutcome, BackfillPlan, short};
use stemma::{Backfill, Engine};

use super::args::{BackfillArgs, BackfillCommand, ReprocessArg};
use super::printer::{Printer, age, local_time};
use super::run::{report_run, run_with_progress};
use super::{CliResult, Failure};

pub(crate) async fn command(
    engine: &Engine,
    command: Option<BackfillCommand>,
    args: BackfillArgs,
    printer: Printer,
) -> CliResult {
    match command {
        Some(BackfillCommand::List { limit }) => list(engine, limit, printer),
        Some(BackfillCommand::Show { id }) => show(engine, &id, printer),
        Some(BackfillCommand::Cancel { id }) => cancel(engine, &id, printer).await,
        Some(BackfillCommand::Resume { id }) => resume(engine, &id, printer).await,
        None => {
            let dry = args.dry_run;
            let request = request(args)?;
            if dry {
                dry_run(engine, &request, printer)
            } else {
                start(engine, request, printer).await
            }
        }
    }
}

/// The backfill `assets backfill --select …` asks for.
fn request(args: BackfillArgs) -> Result<Backfill, Failure> {
    let Some(select) = args.select else {
        return Err(Failure {
            code: 2,
            message: "assets backfill needs --select (or a subcommand: list, show, cancel, resume)"
                .into(),
        });
    };
    let partitions = partitions(args.from, args.to, args.partition)?;
    let mut request = Backfill::new(select)
        .partitions(partitions)
        .reprocess(match args.reprocess {
            ReprocessArg::Missing => stemma::Reprocess::Missing,
            ReprocessArg::Failed => stemma::Reprocess::Failed,
            ReprocessArg::All => stemma::Reprocess::All,
        })
        .newest_first(!args.oldest_first);
    if let Some(id) = &args.backfill_id {
        request = request.id(stemma::BackfillId::from_string(id));
    }
    if let Some(n) = args.concurrency {
        request = request.concurrency(n as usize);
    }
    Ok(request)
}

/// Steps of a dry run listed before "… and N more".
const SHOWN_STEPS: usize = 12;

pub(crate) fn dry_run(engine: &Engine, backfill: &Backfill, printer: Printer) -> CliResult {
    let plan = engine.plan_backfill(backfill)?;
    let per_asset = per_asset(&plan);
    if printer.json {
        printer.json_pretty(&json!({
            "targets": plan.targets,
            "left_out": plan.left_out,
            "steps": plan.plan.steps.len(),
            "assets": per_asset.iter().map(|(a, n)| json!({"asset": a, "steps": n})).collect::<Vec<_>>(),
        }));
        return Ok(ExitCode::SUCCESS);
    }
    printer.out(format!(
        "Backfill would run {} step{} of {} targets ({} left out: already materialized):",
        plan.plan.steps.len(),
        if plan.plan.steps.len() == 1 { "" } else { "s" },
        plan.targets,
        plan.left_out
    ));
    for (asset, n) in &per_asset {
        printer.out(format!("  {asset:<30} {n:>8}"));
    }
    let order: Vec<String> = plan
        .plan
        .start_order(backfill.is_newest_first())
        .into_iter()
        .map(|i| plan.plan.steps[i].label())
        .collect();
    if !order.is_empty() {
        printer.out("First steps, in the order they would start:");
        for label in order.iter().take(SHOWN_STEPS) {
            printer.out(format!("  {label}"));
        }
        if order.len() > SHOWN_STEPS {
            printer.out(format!("  … and {} more", order.len() - SHOWN_STEPS));
        }
    }
    printer.out(style("Nothing was run (--dry-run).").dim());
    Ok(ExitCode::SUCCESS)
}

fn per_asset(plan: &BackfillPlan) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for step in &plan.plan.steps {
        *out.entry(step.asset.to_string()).or_insert(0) += 1;
    }
    out
}

pub(crate) async fn start(engine: &Engine, backfill: Backfill, printer: Printer) -> CliResult {
    let outcome = run_with_progress(engine, printer, |cancel, progress| {
        engine.backfill(backfill.cancel_token(cancel), progress)
    })
    .await?;
    report(&outcome, printer)
}

pub(crate) async fn resume(engine: &Engine, id: &str, printer: Printer) -> CliResult {
    let outcome = run_with_progress(engine, printer, |cancel, progress| {
        engine.resume_backfill(id, cancel, progress)
    })
    .await?;
    report(&outcome, printer)
}

fn report(outcome: &BackfillOutcome, printer: Printer) -> CliResult {
    let id = short(&outcome.backfill);
    if !printer.json {
        printer.out(format!(
            "Backfill {id}: {} targets, {} left out (already materialized), {} to run",
            outcome.targets,
            outcome.left_out,
            outcome.targets - outcome.left_out
        ));
    } else {
        printer.json_line(&json!({
            "backfill": outcome.backfill,
            "targets": outcome.targets,
            "left_out": outcome.left_out,
        }));
    }
    if outcome.run.steps == 0 {
        if !printer.json {
            printer.out("Nothing left to run.");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let code = report_run(&outcome.run, printer)?;
    if code != ExitCode::SUCCESS && !printer.json {
        printer.out(style(format!("  resume with: assets backfill resume {id}")).dim());
    }
    Ok(code)
}

pub(crate) fn list(engine: &Engine, limit: usize, printer: Printer) -> CliResult {
    let backfills = engine.instance().backfills(limit)?;
    if printer.json {
        let views: Vec<BackfillView> = backfills.iter().map(BackfillView::from).collect();
        printer.json_pretty(&crate::views::json(&views));
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = printer.table(&["BACKFILL", "STATUS", "CREATED", "SELECTION", "PARTITIONS"]);
    for b in &backfills {
        table.add_row(vec![
            short(&b.id).to_owned(),
            b.status.to_string(),
            format!("{} ({})", local_time(b.created_at), age(b.created_at)),
            b.selection.clone(),
            format!("{} ({})", b.partitions.join(","), b.reprocess),
        ]);
    }
    printer.out(table);
    if backfills.is_empty() {
        printer.err("No backfills yet: `assets backfill --select S --from A --to B` starts one.");
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn show(engine: &Engine, id: &str, printer: Printer) -> CliResult {
    let record = engine.instance().find_backfill(id)?;
    let runs = engine.instance().backfill_runs(&record.id)?;
    if printer.json {
        let view = BackfillView::with_runs(&record, &runs);
        printer.json_pretty(&crate::views::json(&view));
        return Ok(ExitCode::SUCCESS);
    }
    printer.out(format!("Backfill {}  {}", record.id, record.status));
    printer.out(format!("  selection   {}", record.selection));
    printer.out(format!(
        "  partitions  {}  (reprocess {}, {})",
        record.partitions.join(", "),
        record.reprocess,
        if record.newest_first {
            "newest first"
        } else {
            "oldest first"
        }
    ));
    printer.out(format!(
        "  created     {} ({})",
        local_time(record.created_at),
        age(record.created_at)
    ));
    if let Some(m) = &record.message {
        printer.out(format!("  message     {m}"));
    }
    for r in &runs {
        printer.out(format!(
            "  run {}  {}  {} steps",
            r.run_id.short(),
            r.status.as_str(),
            r.steps
        ));
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn cancel(engine: &Engine, id: &str, printer: Printer) -> CliResult {
    let record = engine.cancel_backfill(id).await?;
    if printer.json {
        printer.json_line(&crate::views::json(&BackfillView::from(&record)));
    } else if record.status == stemma::instance::BackfillStatus::Canceling {
        printer.out(format!(
            "Backfill {}: asked its run to stop (no new steps start).",
            short(&record.id)
        ));
    } else {
        printer.out(format!("Backfill {} canceled.", short(&record.id)));
    }
    Ok(ExitCode::SUCCESS)
}

/// The partitions of `--from/--to` and `--partition`.
pub(crate) fn partitions(
    from: Option<String>,
    to: Option<String>,
    keys: Vec<String>,
) -> Result<Vec<String>, Failure> {
    let mut out = keys;
    match (from, to) {
        (Some(a), Some(b)) => out.push(format!("{a}{}{b}", stemma::plan::RANGE_SEPARATOR)),
        (None, None) => {}
        _ => {
            return Err(Failure {
                code: 2,
                message: "--from and --to go together".into(),
            });
        }
    }
    if out.is_empty() {
        return Err(Failure {
            code: 2,
            message: "which partitions? --from A --to B, or --partition KEY[,KEY...] (`*` for all)"
                .into(),
        });
    }
    Ok(out)
}
