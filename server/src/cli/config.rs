//! `assets config`: the run config fields the code location declares.

use std::process::ExitCode;

use stemma::AssetGraph;

use super::CliResult;
use super::printer::Printer;

pub(crate) fn config(graph: &AssetGraph, printer: Printer) -> CliResult {
    let fields: Vec<_> = graph.config_spec().fields().collect();
    if printer.json {
        printer.json_pretty(&fields);
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = printer.table(&["FIELD", "TYPE", "DEFAULT", "DESCRIPTION"]);
    for f in fields {
        table.add_row(vec![
            f.name.clone(),
            {
                let mut kind = if f.secret {
                    "secret".to_owned()
                } else {
                    f.kind.to_string()
                };
                if let Some(c) = f.constraint() {
                    kind.push_str(&format!(" {c}"));
                }
                if let Some(var) = &f.env {
                    kind.push_str(&format!(" (${var})"));
                }
                kind
            },
            f.default.clone().unwrap_or_else(|| "-".into()),
            f.description.clone().unwrap_or_default(),
        ]);
    }
    printer.out(table);
    Ok(ExitCode::SUCCESS)
}
