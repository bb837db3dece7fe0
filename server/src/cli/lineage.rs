//! `assets lineage`: an asset's upstream and downstream assets; with `--columns`, where each
//! of its columns comes from (SQL assets record it; shown by the `sql` feature).

use std::collections::BTreeSet;
use std::process::ExitCode;

use stemma::Engine;
use stemma::ids::NodeIx;

use super::CliResult;
use super::printer::Printer;

/// Which way to walk the graph.
#[derive(Clone, Copy)]
enum Direction {
    Upstream,
    Downstream,
}

pub(crate) fn lineage(engine: &Engine, key: &str, columns: bool, printer: Printer) -> CliResult {
    let graph = engine.graph();
    let node = graph.lookup(key)?;
    let asset = graph.key(node).clone();
    if !columns {
        let up = walk(engine, node, Direction::Upstream);
        let down = walk(engine, node, Direction::Downstream);
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

/// Every asset up- or downstream of `node`, breadth first, with its distance.
fn walk(engine: &Engine, node: NodeIx, direction: Direction) -> Vec<(usize, String)> {
    let graph = engine.graph();
    let mut seen = BTreeSet::from([node]);
    let mut out = Vec::new();
    let mut frontier = vec![node];
    let mut depth = 0;
    while !frontier.is_empty() {
        depth += 1;
        let mut next = Vec::new();
        for n in frontier {
            let neighbours: Vec<NodeIx> = match direction {
                Direction::Upstream => graph.parents(n).collect(),
                Direction::Downstream => graph.children(n).collect(),
            };
            for m in neighbours {
                if seen.insert(m) {
                    out.push((depth, graph.key(m).to_string()));
                    next.push(m);
                }
            }
        }
        frontier = next;
    }
    out
}
