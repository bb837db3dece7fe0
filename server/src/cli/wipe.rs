//! `assets wipe`: the selected assets count as never materialized (after a confirmation).

use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;

use serde_json::json;
use stemma::Engine;

use super::printer::Printer;
use super::select::selected_nodes;
use super::{CliResult, Failure};

pub(crate) async fn wipe(engine: &Engine, select: &str, yes: bool, printer: Printer) -> CliResult {
    let nodes = selected_nodes(engine.graph(), Some(select), || engine.status())?;
    let keys: Vec<String> = nodes
        .iter()
        .map(|&n| engine.graph().key(n).to_string())
        .collect();
    if !yes {
        if !std::io::stdin().is_terminal() {
            return Err(Failure {
                code: 2,
                message: format!(
                    "refusing to wipe {} asset{} without confirmation; pass --yes",
                    keys.len(),
                    if keys.len() == 1 { "" } else { "s" }
                ),
            });
        }
        printer.err(format!(
            "Wipe the materializations of {} asset{} ({})? They will count as never materialized. [y/N]",
            keys.len(),
            if keys.len() == 1 { "" } else { "s" },
            keys.join(", ")
        ));
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            printer.err("Nothing wiped.");
            return Ok(ExitCode::SUCCESS);
        }
    }
    let wiped = engine.wipe(select).await?;
    if printer.json {
        printer.json_line(&json!({ "wiped": wiped }));
    } else {
        printer.out(format!(
            "Wiped {} asset{}: {}",
            wiped.len(),
            if wiped.len() == 1 { "" } else { "s" },
            keys.join(", ")
        ));
    }
    Ok(ExitCode::SUCCESS)
}
