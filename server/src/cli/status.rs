//! `assets status`: each asset's state (and why), its last materialization and its checks.

use std::process::ExitCode;

use console::style;
use stemma::Engine;

use super::CliResult;
use super::notes::note_body_only_versions;
use super::printer::{Printer, Table, age, count, dash, local_time, plural, truncate};
use super::select::selected_nodes;
use crate::views::{self, status::AssetStatusRow, status::CheckView, status::Judged};

pub(crate) fn status(engine: &Engine, select: Option<&str>, printer: Printer) -> CliResult {
    let graph = engine.graph();
    note_body_only_versions(graph, printer);
    let judged = Judged::now(engine)?;
    let nodes = selected_nodes(graph, select, || Ok(judged.snapshot.clone()))?;
    let rows = AssetStatusRow::gather(engine, &nodes, &judged)?;
    if printer.json {
        printer.json_pretty(&views::json(&rows));
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = printer.table(&[
        "ASSET",
        "STATE",
        "CAUSE",
        "LAST MATERIALIZED",
        "RUN",
        "DATA VERSION",
        "ROWS",
        "CHECKS",
    ]);
    for row in &rows {
        add_row(&mut table, row);
    }
    let never = rows
        .iter()
        .filter(|r| r.materializations.is_empty())
        .count();
    printer.out(table);
    printer.err(
        style(format!(
            "{}, {} never materialized · instance {}",
            plural(rows.len(), "asset"),
            never,
            engine.instance().db_path().display()
        ))
        .dim()
        .for_stderr(),
    );
    Ok(ExitCode::SUCCESS)
}

fn add_row(table: &mut Table, row: &AssetStatusRow) {
    let key = &row.key;
    let label = match row.partition_count {
        Some(total) => format!("{key} [{}/{total} partitions]", row.materializations.len()),
        None if row.external => format!("{key} (external)"),
        None => key.clone(),
    };
    let state_cell = match row.state {
        "fresh" => style(row.state).green().to_string(),
        "stale" | "partial" => style(row.state).yellow().to_string(),
        "failed" => style(row.state).red().to_string(),
        other => style(other).dim().to_string(),
    };
    let cause_cell = dash(truncate(&row.causes.join("; "), 60));
    let check_cell = check_summary(row.defined_checks, &row.checks);
    // An external asset is observed, not materialized: its cell says so.
    let observed = if row.external { "observed " } else { "" };
    let newest = row.materializations.iter().max_by_key(|m| m.micros);
    let cells = match newest {
        Some(m) => vec![
            label,
            state_cell,
            cause_cell,
            format!("{observed}{} ({})", local_time(m.micros), age(m.micros)),
            m.run_id
                .as_ref()
                .map_or("-".into(), |r| r.short().to_owned()),
            m.data_version.short().to_owned(),
            m.rows.map_or("-".into(), count),
            check_cell,
        ],
        None => vec![
            label,
            state_cell,
            cause_cell,
            style("never").yellow().to_string(),
            "-".into(),
            "-".into(),
            "-".into(),
            check_cell,
        ],
    };
    table.add_row(cells);
}

fn check_summary(defined: usize, evaluated: &[CheckView]) -> String {
    if defined == 0 && evaluated.is_empty() {
        return "-".into();
    }
    if evaluated.is_empty() {
        return "not run".into();
    }
    let passed = evaluated.iter().filter(|c| c.passed).count();
    let failed: Vec<&str> = evaluated
        .iter()
        .filter(|c| !c.passed)
        .map(|c| c.check.as_str())
        .collect();
    if failed.is_empty() {
        format!("{passed}/{} passed", evaluated.len())
    } else {
        style(format!(
            "{passed}/{} passed ({} failed)",
            evaluated.len(),
            failed.join(", ")
        ))
        .red()
        .to_string()
    }
}
