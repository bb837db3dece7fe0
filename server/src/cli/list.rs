//! `assets list`: the assets of the code location, as their code defines them.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use console::style;
use stemma::AssetGraph;
use stemma::spec::DepKind;

use super::CliResult;
use super::printer::{Printer, dash, first_line, plural};
use super::select::{selected_nodes, status_from_home};
use crate::views::{self, assets::AssetDefinition};

pub(crate) fn list(
    graph: &Arc<AssetGraph>,
    select: Option<&str>,
    home: &Path,
    config: &[String],
    printer: Printer,
) -> CliResult {
    let mut nodes = selected_nodes(graph, select, || status_from_home(graph, home, config))?;
    nodes.sort_by(|&a, &b| graph.key(a).cmp(graph.key(b)));
    if printer.json {
        let assets: Vec<AssetDefinition> = nodes
            .iter()
            .map(|&n| AssetDefinition::of(graph, n))
            .collect();
        printer.json_pretty(&views::json(&assets));
        return Ok(ExitCode::SUCCESS);
    }
    let partitioned = nodes.iter().any(|&n| graph.spec(n).partitions.is_some());
    let mut header = vec!["ASSET", "GROUP", "KINDS", "DEPS", "CHECKS"];
    if partitioned {
        header.push("PARTITIONS");
    }
    header.push("DESCRIPTION");
    let mut table = printer.table(&header);
    for &n in &nodes {
        let spec = graph.spec(n);
        let mut key = spec.key.to_string();
        if graph.asset(n).is_external() {
            key.push_str(" (external)");
        }
        let deps: Vec<String> = spec
            .deps
            .iter()
            .map(|d| match d.kind {
                DepKind::Data => d.key.to_string(),
                DepKind::Order => format!("({})", d.key),
            })
            .collect();
        let checks: Vec<&str> = graph.checks_of(n).map(|c| c.spec().name.as_str()).collect();
        let kinds: Vec<&str> = spec.kinds.iter().map(String::as_str).collect();
        let mut row = vec![
            key,
            spec.group.clone(),
            dash(kinds.join(", ")),
            dash(deps.join(", ")),
            dash(checks.join(", ")),
        ];
        if partitioned {
            row.push(
                spec.partitions
                    .as_ref()
                    .map_or("-".into(), |p| p.describe()),
            );
        }
        row.push(first_line(spec.description.as_deref().unwrap_or("")));
        table.add_row(row);
    }
    if !nodes.is_empty() {
        printer.out(table);
    }
    printer.err(style(plural(nodes.len(), "asset")).dim().for_stderr());
    Ok(ExitCode::SUCCESS)
}
