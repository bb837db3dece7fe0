//! `assets pools list|set|unset`: concurrency pool limits and who holds their slots.

use std::process::ExitCode;

use serde_json::json;
use stemma::Engine;

use super::args::PoolsCommand;
use super::printer::{Printer, local_time};
use super::{CliResult, Failure};
use crate::ProjectConfig;

pub(crate) fn command(
    engine: &Engine,
    project: &ProjectConfig,
    command: PoolsCommand,
    printer: Printer,
) -> CliResult {
    match command {
        PoolsCommand::List => list(engine, printer),
        PoolsCommand::Set { name, slots } => set(engine, project, &name, Some(slots), printer),
        PoolsCommand::Unset { name } => set(engine, project, &name, None, printer),
        PoolsCommand::MaxRuns { limit } => max_runs(engine, &limit, printer),
    }
}

pub(crate) fn list(engine: &Engine, printer: Printer) -> CliResult {
    let pools = engine.instance().pools()?;
    // Pools assets declare but nobody limited yet are listed too: they run unlimited.
    let mut declared: Vec<&str> = engine
        .graph()
        .assets()
        .filter_map(|(_, a)| a.spec().pool.as_deref())
        .filter(|p| !pools.iter().any(|r| r.name == *p))
        .collect();
    declared.sort_unstable();
    declared.dedup();
    if printer.json {
        let mut out: Vec<serde_json::Value> = pools
            .iter()
            .map(|p| {
                json!({
                    "pool": p.name,
                    "slots": p.slots,
                    "held": p.holders.len(),
                    "holders": p.holders.iter().map(|(h, exp)| json!({"holder": h, "expires_at": exp})).collect::<Vec<_>>(),
                })
            })
            .collect();
        out.extend(
            declared
                .iter()
                .map(|p| json!({"pool": p, "slots": null, "held": 0, "holders": []})),
        );
        printer.json_pretty(&out);
        return Ok(ExitCode::SUCCESS);
    }
    if pools.is_empty() && declared.is_empty() {
        printer.out("No pools: assets declare one with pool = \"NAME\", `assets pools set NAME N` limits it.");
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = printer.table(&["POOL", "LIMIT", "HELD", "HOLDERS"]);
    for p in &pools {
        let holders: Vec<String> = p
            .holders
            .iter()
            .map(|(h, exp)| format!("{h} (lease until {})", local_time(*exp)))
            .collect();
        table.add_row(vec![
            p.name.clone(),
            p.slots
                .map_or_else(|| "unlimited".into(), |n| n.to_string()),
            p.holders.len().to_string(),
            holders.join("\n"),
        ]);
    }
    for p in declared {
        table.add_row(vec![
            p.to_owned(),
            "unlimited".into(),
            "0".into(),
            String::new(),
        ]);
    }
    printer.out(table);
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn set(
    engine: &Engine,
    project: &ProjectConfig,
    name: &str,
    slots: Option<u32>,
    printer: Printer,
) -> CliResult {
    if let Some(n) = project.pools.get(name) {
        return Err(Failure {
            code: 2,
            message: format!(
                "pool {name} is limited to {n} in the project config (stemma.toml [pools]); change it there"
            ),
        });
    }
    engine.instance().set_pool_limit(name, slots)?;
    if printer.json {
        printer.json_line(&json!({"pool": name, "slots": slots}));
    } else {
        match slots {
            Some(n) => printer.out(format!(
                "Pool {name}: at most {n} step(s) at once, across every run on this instance."
            )),
            None => printer.out(format!("Pool {name}: no limit.")),
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn max_runs(engine: &Engine, limit: &str, printer: Printer) -> CliResult {
    let slots = match limit {
        "none" => None,
        n => match n.parse::<u32>() {
            Ok(n) if n > 0 => Some(n),
            _ => {
                return Err(Failure {
                    code: 2,
                    message: format!("max-runs {n:?}: a positive number, or none"),
                });
            }
        },
    };
    engine
        .instance()
        .set_pool_limit(stemma::instance::RUNS_POOL, slots)?;
    if printer.json {
        printer.json_line(&json!({"max_runs": slots}));
    } else {
        match slots {
            Some(n) => printer.out(format!(
                "At most {n} run(s) at once on this instance; more wait for a slot."
            )),
            None => printer.out("No limit on runs at once."),
        }
    }
    Ok(ExitCode::SUCCESS)
}
