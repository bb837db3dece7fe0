//! `why-stale` and `plan`: what is out of date, why, and what a materialization would do.

use std::process::ExitCode;

use console::style;
use serde_json::json;
use stemma::decision::{Action, Preview, StepPreview};
use stemma::ids::NodeIx;
use stemma::staleness::{Freshness, WhyNode, why_stale as explain_tree};
use stemma::{Engine, Materialize};

use super::CliResult;
use super::printer::Printer;

pub(crate) fn why_stale(
    engine: &Engine,
    key: &str,
    partition: Option<&str>,
    printer: Printer,
) -> CliResult {
    let graph = engine.graph();
    let node = graph.lookup(key)?;
    let (versions, staleness) = engine.staleness()?;
    let (i, note) = match (&graph.spec(node).partitions, partition) {
        (Some(def), None) => match first_stale(key, def, &staleness, node) {
            Ok(chosen) => chosen,
            Err(text) => {
                if printer.json {
                    printer.json_pretty(&json!({ "asset": key, "stale_partitions": [] }));
                } else {
                    printer.out(text);
                }
                return Ok(ExitCode::SUCCESS);
            }
        },
        _ => (graph.partition_index(node, partition)?, None),
    };
    let tree = explain_tree(
        graph,
        &versions,
        &staleness,
        engine.instance(),
        engine.config(),
        node,
        i,
    )?;
    if printer.json {
        let roots: Vec<&WhyNode> = tree.roots();
        printer.json_pretty(&json!({ "tree": tree, "root_causes": roots }));
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(note) = note {
        printer.out(style(note).dim());
    }
    print_tree(&tree, printer);
    Ok(ExitCode::SUCCESS)
}

/// A partitioned asset without `--partition`: the first stale partition, and a note saying
/// which partitions are stale; or, when none is, the line that says so.
fn first_stale(
    key: &str,
    def: &stemma::spec::PartitionsDefinition,
    staleness: &stemma::staleness::Staleness,
    node: NodeIx,
) -> Result<(usize, Option<String>), String> {
    let states = staleness.states_of(node);
    let stale: Vec<usize> = (0..states.len())
        .filter(|&i| states[i].freshness == Freshness::Stale)
        .collect();
    let Some(&first) = stale.first() else {
        let s = staleness.summary(node);
        return Err(format!(
            "{key}: no stale partitions ({} fresh, {} missing of {})",
            s.fresh,
            s.missing,
            def.len()
        ));
    };
    let names: Vec<String> = stale
        .iter()
        .take(5)
        .filter_map(|&i| def.key_at(i).map(|k| k.to_string()))
        .collect();
    let more = if stale.len() > names.len() {
        ", …"
    } else {
        ""
    };
    let note = format!(
        "{} of {} partitions of {key} are stale ({}{more}); the first is explained \
         (--partition KEY for another):",
        stale.len(),
        def.len(),
        names.join(", ")
    );
    Ok((first, Some(note)))
}

/// The tree of why an asset is stale, down to its root causes.
fn print_tree(tree: &WhyNode, printer: Printer) {
    let label = stemma::event::step_label(&tree.asset, tree.partition.as_ref());
    match tree.state {
        Freshness::Fresh => {
            printer.out(format!(
                "{label} is {}: it was computed by this code from the inputs it would read now",
                style("fresh").green()
            ));
            return;
        }
        Freshness::Missing => {
            printer.out(format!(
                "{label} is {}: it was never materialized",
                style("missing").yellow()
            ));
            return;
        }
        Freshness::Stale => {}
    }
    let mut lines = vec![format!(
        "{} is {}{}",
        style(&label).bold(),
        style("stale").yellow(),
        node_causes(tree)
    )];
    render(tree, "", &mut lines);
    for line in lines {
        printer.out(line);
    }
    let roots = tree.roots();
    printer.out("");
    let heading = if roots.len() == 1 {
        "Root cause:"
    } else {
        "Root causes:"
    };
    printer.out(style(heading).bold());
    for r in roots {
        let label = stemma::event::step_label(&r.asset, r.partition.as_ref());
        for c in &r.causes {
            printer.out(format!("  {label}: {c}"));
        }
    }
}

/// `: cause; cause` for a node with causes of its own.
fn node_causes(n: &WhyNode) -> String {
    if n.causes.is_empty() {
        return String::new();
    }
    let causes: Vec<String> = n.causes.iter().map(ToString::to_string).collect();
    format!(": {}", causes.join("; "))
}

fn render(n: &WhyNode, prefix: &str, lines: &mut Vec<String>) {
    let count = n.upstream.len() + usize::from(n.more > 0);
    for (k, up) in n.upstream.iter().enumerate() {
        let last = k + 1 == count;
        let (branch, next) = if last {
            ("└─ ", "   ")
        } else {
            ("├─ ", "│  ")
        };
        let label = stemma::event::step_label(&up.asset, up.partition.as_ref());
        let tail = if up.repeated {
            style(" (explained above)").dim().to_string()
        } else {
            node_causes(up)
        };
        lines.push(format!(
            "{prefix}{branch}upstream {} is stale{tail}",
            style(label).bold()
        ));
        if !up.repeated {
            render(up, &format!("{prefix}{next}"), lines);
        }
    }
    if n.more > 0 {
        lines.push(format!(
            "{prefix}└─ {}",
            style(format!("… and {} more stale upstream partitions", n.more)).dim()
        ));
    }
}

pub(crate) fn plan(engine: &Engine, request: Materialize, printer: Printer) -> CliResult {
    super::notes::note_body_only_versions(engine.graph(), printer);
    let Preview { steps, left_out } = engine.preview_plan(&request)?;
    let (mut run, mut maybe, mut skip) = (0, 0, 0);
    for s in &steps {
        match s.action {
            Action::Run { .. } => run += 1,
            Action::RunIfUpstreamChanges { .. } => maybe += 1,
            Action::Skip { .. } => skip += 1,
        }
    }
    if printer.json {
        printer.json_pretty(&json!({
            "selection": request.selection(),
            "steps": steps,
            "run": run,
            "run_if_upstream_changes": maybe,
            "skip": skip,
            "left_out": left_out,
        }));
        return Ok(ExitCode::SUCCESS);
    }
    if steps.is_empty() {
        printer.out(super::notes::nothing_to_do(request.selection(), &left_out));
        super::notes::note_left_out(&left_out, printer);
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = printer.table(&["STEP", "WOULD", "WHY"]);
    for s in &steps {
        let (action, why) = describe(s);
        table.add_row(vec![s.step.clone(), action, why]);
    }
    printer.out(table);
    printer.err(
        style(format!(
            "{} step{}: {run} would run, {maybe} would run only if an upstream step produces new \
             data, {skip} up to date · nothing was run",
            steps.len(),
            if steps.len() == 1 { "" } else { "s" },
        ))
        .dim()
        .for_stderr(),
    );
    super::notes::note_left_out(&left_out, printer);
    Ok(ExitCode::SUCCESS)
}

fn describe(s: &StepPreview) -> (String, String) {
    match &s.action {
        Action::Run { reason } => (style("run").cyan().to_string(), reason.to_string()),
        Action::RunIfUpstreamChanges { upstream } => (
            style("run if changed").yellow().to_string(),
            format!(
                "runs only if {} produce{} new data",
                upstream.join(", "),
                if upstream.len() == 1 { "s" } else { "" }
            ),
        ),
        Action::Skip { data_version } => (
            style("skip").dim().to_string(),
            format!("up to date ({})", data_version.short()),
        ),
    }
}
