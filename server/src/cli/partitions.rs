//! `assets partitions KEY`: which partitions of an asset are materialized, failed or missing,
//! as ranges of keys and a bar.

use std::process::ExitCode;

use stemma::instance::{PartitionState, PartitionStatus};
use stemma::ranges::RangeSet;
use stemma::{Engine, Error};

use super::CliResult;
use super::args::DynamicCommand;
use super::printer::Printer;
use crate::views::{self, partitions::PartitionsView, partitions::STATES};

/// Bar width in characters.
const BAR: u64 = 60;
/// Ranges printed per state before "… and N more".
const SHOWN_RANGES: usize = 8;

pub(crate) fn partitions(engine: &Engine, key: &str, printer: Printer) -> CliResult {
    let graph = engine.graph();
    let node = graph.lookup(key)?;
    let asset = graph.key(node).clone();
    let Some(def) = graph.spec(node).partitions.as_ref() else {
        return Err(Error::Plan(format!("{asset} is not partitioned")).into());
    };
    let status = engine.instance().partition_status(&asset, def)?;
    let key_of = |i: u64| {
        def.key_at(i as usize)
            .map(|k| k.to_string())
            .unwrap_or_default()
    };
    let label = |r: &std::ops::RangeInclusive<u64>| {
        if r.start() == r.end() {
            key_of(*r.start())
        } else {
            format!("{}…{}", key_of(*r.start()), key_of(*r.end()))
        }
    };
    let sets: Vec<(PartitionState, RangeSet)> = STATES.iter().map(|&s| (s, status.of(s))).collect();
    if printer.json {
        let view = PartitionsView::of(asset.as_str(), def, &status);
        printer.json_pretty(&views::json(&view));
        return Ok(ExitCode::SUCCESS);
    }
    printer.out(format!("{asset}  {}", def.describe()));
    printer.out(format!("  [{}]", bar(&status)));
    for (state, set) in &sets {
        if *state == PartitionState::InProgress && set.is_empty() {
            continue;
        }
        let mut shown: Vec<String> = set.ranges().take(SHOWN_RANGES).map(|r| label(&r)).collect();
        if set.range_count() > SHOWN_RANGES {
            shown.push(format!(
                "… and {} more ranges",
                set.range_count() - SHOWN_RANGES
            ));
        }
        printer.out(format!(
            "  {:<13}{:>9}  {}",
            state.name().replace('_', " "),
            set.len(),
            shown.join(", ")
        ));
    }
    Ok(ExitCode::SUCCESS)
}

/// One character per slice of the partitions: `█` all materialized, `▒` some, `·` none,
/// `x` any failed, `>` any in progress. Counted on the ranges, never per partition.
fn bar(status: &PartitionStatus) -> String {
    let n = status.total;
    let width = n.clamp(1, BAR);
    (0..width)
        .map(|c| {
            let a = c * n / width;
            let b = ((c + 1) * n / width).max(a + 1).min(n.max(1)) - 1;
            if n == 0 {
                '·'
            } else if status.failed.count_in(a, b) > 0 {
                'x'
            } else if status.in_progress.count_in(a, b) > 0 {
                '>'
            } else {
                match status.materialized.count_in(a, b) {
                    0 => '·',
                    m if m == b - a + 1 => '█',
                    _ => '▒',
                }
            }
        })
        .collect()
}

/// `assets dynamic-partitions add|remove|list`.
pub(crate) async fn dynamic(
    engine: &Engine,
    command: DynamicCommand,
    printer: Printer,
) -> CliResult {
    match command {
        DynamicCommand::Add { name, keys } => {
            engine.add_dynamic_partitions(&name, &keys).await?;
            printer.out(format!("{name}: {} key(s) added", keys.len()));
        }
        DynamicCommand::Remove { name, keys } => {
            engine.remove_dynamic_partitions(&name, &keys).await?;
            printer.out(format!("{name}: {} key(s) removed", keys.len()));
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
        }
    }
    Ok(ExitCode::SUCCESS)
}
