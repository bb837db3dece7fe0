//! `assets lineage`: an asset's upstream and downstream assets; with `--columns`, where each
//! of its columns comes from (SQL assets record it; shown by the `sql` feature).

use std::process::ExitCode;

use stemma::Engine;

use super::CliResult;
use super::printer::Printer;
use crate::views::assets::{Direction, walk};

pub(crate) fn lineage(engine: &Engine, key: &str, columns: bool, printer: Printer) -> CliResult {
    let graph = engine.graph();
    let node = graph.lookup(key)?;
    let asset = graph.key(node).clone();
    if !columns {
        let named = |direction| -> Vec<(usize, String)> {
            walk(graph, node, direction, None)
                .into_iter()
                .map(|(d, n)| (d, graph.key(n).to_string()))
                .collect()
        };
        let up = named(Direction::Upstream);
        let down = named(Direction::Downstream);
        if printer.json {
            printer.json_pretty(&serde_json::json!({
                "asset": asset.as_str(),
                "upstream": up.iter().map(|(d, k)| serde_json::json!({"asset": k, "depth": d})).collect::<Vec<_>>(),
                "downstream": down.iter().map(|(d, k)| serde_json::json!({"asset": k, "depth": d})).collect::<Vec<_>>(),
            }));
            return Ok(ExitCode::SUCCESS);
        }
        printer.out(format!("{asset}"));
        printer.out("upstream:");
        for (depth, k) in &up {
            printer.out(format!("{}{k}", "  ".repeat(*depth)));
        }
        printer.out("downstream:");
        for (depth, k) in &down {
            printer.out(format!("{}{k}", "  ".repeat(*depth)));
        }
        return Ok(ExitCode::SUCCESS);
    }
    #[cfg(feature = "sql")]
    {
        super::sql::column_lineage(engine, &asset, printer)
    }
    #[cfg(not(feature = "sql"))]
    {
        Err(super::without_sql("lineage --columns").into())
    }
}
