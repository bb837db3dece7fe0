//! `assets graph`: the lineage graph as Graphviz DOT, Mermaid or JSON.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use stemma::AssetGraph;
use stemma::ids::NodeIx;
use stemma::spec::DepKind;

use super::printer::Printer;
use super::select::{selected_nodes, status_from_home};
use super::{CliResult, GraphFormat};
use crate::views::{self, assets::LineageGraph};

pub(crate) fn graph(
    graph: &Arc<AssetGraph>,
    select: Option<&str>,
    home: &Path,
    config: &[String],
    format: GraphFormat,
    printer: Printer,
) -> CliResult {
    let nodes = selected_nodes(graph, select, || status_from_home(graph, home, config))?;
    let included: std::collections::HashSet<NodeIx> = nodes.iter().copied().collect();
    let edges: Vec<Edge> = nodes
        .iter()
        .flat_map(|&n| {
            graph
                .deps(n)
                .iter()
                .filter(|(u, _)| included.contains(u))
                .map(move |&(u, kind)| (u, n, kind))
        })
        .collect();
    let format = if printer.json {
        GraphFormat::Json
    } else {
        format
    };
    match format {
        GraphFormat::Json => {
            printer.json_pretty(&views::json(&LineageGraph::of(graph, &nodes)));
        }
        GraphFormat::Dot => printer.out(dot(graph, &nodes, &edges)),
        GraphFormat::Mermaid => printer.out(mermaid(graph, &nodes, &edges)),
    }
    Ok(ExitCode::SUCCESS)
}

type Edge = (NodeIx, NodeIx, DepKind);

/// The graph in Graphviz DOT: one cluster per group, order-only deps dashed.
fn dot(graph: &AssetGraph, nodes: &[NodeIx], edges: &[Edge]) -> String {
    let mut out = String::from(
        "digraph assets {\n  rankdir=LR;\n  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n",
    );
    let mut groups: BTreeMap<&str, Vec<NodeIx>> = BTreeMap::new();
    for &n in nodes {
        groups
            .entry(graph.spec(n).group.as_str())
            .or_default()
            .push(n);
    }
    for (i, (group, members)) in groups.iter().enumerate() {
        out.push_str(&format!(
            "  subgraph cluster_{i} {{\n    label=\"{group}\";\n"
        ));
        for &n in members {
            let attrs = if graph.asset(n).is_external() {
                " [style=\"rounded,dashed\"]"
            } else {
                ""
            };
            out.push_str(&format!("    \"{}\"{attrs};\n", graph.key(n)));
        }
        out.push_str("  }\n");
    }
    for (u, d, kind) in edges {
        let attr = if *kind == DepKind::Order {
            " [style=dashed]"
        } else {
            ""
        };
        out.push_str(&format!(
            "  \"{}\" -> \"{}\"{attr};\n",
            graph.key(*u),
            graph.key(*d)
        ));
    }
    out.push('}');
    out
}

/// The graph as a Mermaid flowchart: external assets slanted, order-only deps dotted.
fn mermaid(graph: &AssetGraph, nodes: &[NodeIx], edges: &[Edge]) -> String {
    let mut out = String::from("flowchart LR\n");
    for &n in nodes {
        let shape = if graph.asset(n).is_external() {
            format!("n{n}[/\"{}\"/]", graph.key(n))
        } else {
            format!("n{n}[\"{}\"]", graph.key(n))
        };
        out.push_str(&format!("  {shape}\n"));
    }
    for (u, d, kind) in edges {
        let arrow = if *kind == DepKind::Order {
            "-.->"
        } else {
            "-->"
        };
        out.push_str(&format!("  n{u} {arrow} n{d}\n"));
    }
    out.trim_end().to_owned()
}
