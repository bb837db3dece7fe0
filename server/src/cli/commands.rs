//! `list`, `config`, `graph`, `materialize`, `status` and `wipe`.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, IsTerminal};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use console::style;
use serde_json::json;
use stemma::instance::{CheckStatus, LatestMaterialization};
use stemma::selection::Selection;
use stemma::spec::DepKind;
use stemma::staleness::{brief, cause, explain};
use stemma::status::StatusSnapshot;
use stemma::{AssetGraph, Engine, Materialize, RunStatus};
use tokio_util::sync::CancellationToken;

use super::printer::{Printer, age, count, duration, local_time, plural};
use super::progress::Progress;
use super::{CliResult, Failure, GraphFormat};

/// The assets a selection names, in topological order; every asset without one. `status`
/// is called only when the selection needs the instance (`status:`, `changed:`, ...).
fn selected_nodes(
    graph: &AssetGraph,
    select: Option<&str>,
    status: impl FnOnce() -> stemma::Result<StatusSnapshot>,
) -> Result<Vec<usize>, Failure> {
    let Some(text) = select else {
        return Ok(graph.topo_order().to_vec());
    };
    let selection = Selection::parse(text).map_err(stemma::Error::from)?;
    let snapshot = if selection.needs_status() {
        status()?
    } else {
        StatusSnapshot::unavailable()
    };
    let set = selection
        .resolve(graph, &snapshot)
        .map_err(stemma::Error::from)?;
    Ok(graph
        .topo_order()
        .iter()
        .copied()
        .filter(|&n| set.contains(n))
        .collect())
}

/// The status of a code location's assets when no engine is open: opens the instance (and
/// observes the sources, as `status` does).
fn status_from_home(
    graph: &Arc<AssetGraph>,
    home: &Path,
    config: &[String],
) -> stemma::Result<StatusSnapshot> {
    crate::open_engine_for(
        Arc::clone(graph),
        home,
        &crate::ProjectConfig::default(),
        None,
        stemma::instance::Access::Read,
    )?
    .with_config(config)?
    .status()
}

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
        let assets: Vec<serde_json::Value> = nodes
            .iter()
            .map(|&n| {
                let spec = graph.spec(n);
                let checks: Vec<&str> =
                    graph.checks_of(n).map(|c| c.spec().name.as_str()).collect();
                json!({
                    "key": spec.key,
                    "group": spec.group,
                    "description": spec.description,
                    "deps": spec.deps,
                    "owners": spec.owners,
                    "tags": spec.tags,
                    "kinds": spec.kinds,
                    "code_version": spec.code_version,
                    "metadata": spec.metadata,
                    "io_manager": spec.io_manager,
                    "pool": spec.pool,
                    "partitions": spec.partitions.as_ref().map(|p| json!({
                        "kind": p.kind(),
                        "count": p.len(),
                        "keys": p.keys().take(1000).collect::<Vec<_>>(),
                    })),
                    "retry": spec.retry_policy(),
                    "external": graph.asset(n).is_external(),
                    "checks": checks,
                })
            })
            .collect();
        printer.json_pretty(&assets);
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

pub(crate) fn graph(
    graph: &Arc<AssetGraph>,
    select: Option<&str>,
    home: &Path,
    config: &[String],
    format: GraphFormat,
    printer: Printer,
) -> CliResult {
    let nodes = selected_nodes(graph, select, || status_from_home(graph, home, config))?;
    let included: std::collections::HashSet<usize> = nodes.iter().copied().collect();
    let edges: Vec<(usize, usize, DepKind)> = nodes
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
            let assets: Vec<serde_json::Value> = nodes
                .iter()
                .map(|&n| {
                    let spec = graph.spec(n);
                    json!({
                        "key": spec.key,
                        "group": spec.group,
                        "kinds": spec.kinds,
                        "external": graph.asset(n).is_external(),
                        "layer": graph.layer(n),
                        "deps": spec.deps,
                    })
                })
                .collect();
            printer.json_pretty(&json!({ "assets": assets }));
        }
        GraphFormat::Dot => {
            let mut out = String::from(
                "digraph assets {\n  rankdir=LR;\n  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n",
            );
            let mut groups: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
            for &n in &nodes {
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
            for (u, d, kind) in &edges {
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
            printer.out(out);
        }
        GraphFormat::Mermaid => {
            let mut out = String::from("flowchart LR\n");
            for &n in &nodes {
                let shape = if graph.asset(n).is_external() {
                    format!("n{n}[/\"{}\"/]", graph.key(n))
                } else {
                    format!("n{n}[\"{}\"]", graph.key(n))
                };
                out.push_str(&format!("  {shape}\n"));
            }
            for (u, d, kind) in &edges {
                let arrow = if *kind == DepKind::Order {
                    "-.->"
                } else {
                    "-->"
                };
                out.push_str(&format!("  n{u} {arrow} n{d}\n"));
            }
            printer.out(out.trim_end());
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn materialize(
    engine: &Engine,
    request: Materialize,
    printer: Printer,
) -> CliResult {
    let cancel = CancellationToken::new();
    let watcher = tokio::spawn(watch_ctrl_c(engine.clone(), cancel.clone(), printer));
    let request = request.cancel_token(cancel);
    let selection = request.selection().to_owned();
    let progress = Arc::new(Progress::new(printer));
    let result = engine.materialize(request, progress.clone()).await;
    progress.finish();
    watcher.abort();
    let outcome = result?;
    if outcome.nothing_to_do && !printer.json {
        printer.out(super::versions::nothing_to_do(
            &selection,
            &outcome.left_out,
        ));
        note_left_out(&outcome.left_out, printer);
        return Ok(ExitCode::SUCCESS);
    }
    report_run(&outcome, printer)
}

/// Says (once) when code versions cover only the asset functions' own bodies: the code
/// location has no build step, so a change to a helper an asset calls is not seen.
pub(crate) fn note_body_only_versions(graph: &AssetGraph, printer: Printer) {
    let body_only = graph
        .assets()
        .filter(|(_, a)| a.spec().code_from_body)
        .count();
    if body_only == 0 || printer.json {
        return;
    }
    printer.err(
        style(format!(
            "note: the code versions of {} cover only their own function bodies, not the \
             helpers they call; add a build step to see those too (build.rs: \
             `fn main() {{ stemma_build::code_versions(); }}`, with stemma-build in \
             [build-dependencies])",
            plural(body_only, "asset")
        ))
        .dim()
        .for_stderr(),
    );
}

/// Says which partitioned assets a run left out, and how to run them.
pub(crate) fn note_left_out(left_out: &[stemma::AssetKey], printer: Printer) {
    if left_out.is_empty() {
        return;
    }
    let keys: Vec<&str> = left_out.iter().map(|k| k.as_str()).collect();
    printer.err(
        style(format!(
            "Left out {} (partitioned): choose partitions with --partition, --partition-range \
             or `assets backfill`",
            keys.join(", "),
        ))
        .dim()
        .for_stderr(),
    );
}

/// Prints how a run went (a line, or JSON) and maps it to the exit code.
pub(crate) fn report_run(outcome: &stemma::RunOutcome, printer: Printer) -> CliResult {
    if outcome.nothing_to_do {
        if printer.json {
            printer.json_line(&json!({
                "run_id": null,
                "status": "nothing_to_do",
                "steps": 0,
                "left_out": outcome.left_out,
            }));
        } else {
            printer.out("Nothing to do: the selection matches no assets now; nothing was run");
            note_left_out(&outcome.left_out, printer);
        }
        return Ok(ExitCode::SUCCESS);
    }
    note_left_out(&outcome.left_out, printer);
    let run = outcome.run_id.short().to_owned();
    let elapsed = duration(outcome.duration.as_secs_f64() * 1000.0);
    if printer.json {
        printer.json_line(&json!({
            "run_id": outcome.run_id,
            "status": outcome.status,
            "steps": outcome.steps,
            "succeeded": outcome.succeeded,
            "up_to_date": outcome.up_to_date,
            "failed": outcome.failed,
            "skipped": outcome.skipped,
            "checks_passed": outcome.checks_passed,
            "checks_failed": outcome.checks_failed,
            "duration_ms": outcome.duration.as_secs_f64() * 1000.0,
            "left_out": outcome.left_out,
        }));
    } else {
        let checks = match (outcome.checks_passed, outcome.checks_failed.len()) {
            (0, 0) => String::new(),
            (p, 0) => format!("; checks: {p} passed"),
            (p, f) => format!("; checks: {p} passed, {f} failed"),
        };
        let fresh = match outcome.up_to_date {
            0 => String::new(),
            n => format!(", {n} up to date"),
        };
        match outcome.status {
            RunStatus::Success if outcome.succeeded == 0 && outcome.up_to_date > 0 => {
                printer.out(format!(
                    "{} run {run}: all {} step{} up to date, nothing to materialize ({elapsed}; --force recomputes)",
                    style("Succeeded:").green().bold(),
                    outcome.up_to_date,
                    if outcome.up_to_date == 1 { "" } else { "s" },
                ))
            }
            RunStatus::Success => printer.out(format!(
                "{} run {run} materialized {} asset{}{fresh} in {elapsed}{checks}",
                style("Succeeded:").green().bold(),
                outcome.succeeded,
                if outcome.succeeded == 1 { "" } else { "s" },
            )),
            RunStatus::Canceled => printer.out(format!(
                "{} run {run} after {elapsed}: {} materialized, {} not run",
                style("Canceled:").yellow().bold(),
                outcome.succeeded,
                outcome.skipped
            )),
            _ => {
                printer.out(format!(
                    "{} run {run} after {elapsed}: {} materialized{fresh}, {} failed, {} skipped{checks}",
                    style("Failed:").red().bold(),
                    outcome.succeeded,
                    outcome.failed.len(),
                    outcome.skipped
                ));
                for f in &outcome.failed {
                    printer.out(format!("  {}: {}", f.step, f.error));
                }
                for stemma::execute::CheckFailure { check, description } in &outcome.checks_failed {
                    printer.out(format!("  check {check} failed: {description}"));
                }
                printer.out(style(format!("  details: assets runs show {run}")).dim());
            }
        }
    }
    Ok(match outcome.status {
        RunStatus::Success => ExitCode::SUCCESS,
        RunStatus::Canceled => ExitCode::from(130),
        _ => ExitCode::from(1),
    })
}

/// First Ctrl-C: cancel (no new steps; running ones are abandoned before they commit).
/// Second: record the runs in progress as canceled and exit at once.
pub(crate) async fn watch_ctrl_c(engine: Engine, cancel: CancellationToken, printer: Printer) {
    if tokio::signal::ctrl_c().await.is_err() {
        return;
    }
    cancel.cancel();
    printer.err(
        style("Canceling: no new steps will start; press Ctrl-C again to exit now")
            .yellow()
            .for_stderr(),
    );
    if tokio::signal::ctrl_c().await.is_ok() {
        engine
            .abandon_runs(
                "canceled: the process was told to exit at once (a second Ctrl-C); nothing it \
                 had not committed was kept",
                std::time::Duration::from_secs(2),
            )
            .await;
        std::process::exit(130);
    }
}

pub(crate) fn status(engine: &Engine, select: Option<&str>, printer: Printer) -> CliResult {
    let graph = engine.graph();
    note_body_only_versions(graph, printer);
    let (versions, staleness) = engine.staleness()?;
    let failures = engine.instance().latest_failures()?;
    let snapshot =
        StatusSnapshot::from_state(graph, &versions, &staleness, &failures, engine.now());
    let nodes = selected_nodes(graph, select, || Ok(snapshot.clone()))?;
    // Why each stale asset is stale, in a few words.
    let causes_of = |n: usize| -> Vec<String> {
        let Ok(s) = snapshot.get(n) else {
            return Vec::new();
        };
        let p = s.partitions;
        let Some(def) = &graph.spec(n).partitions else {
            if !s.stale {
                return Vec::new();
            }
            return explain(
                graph,
                &versions,
                &staleness,
                engine.instance(),
                engine.config(),
                n,
                0,
            )
            .map(|e| brief(&e.causes))
            .unwrap_or_else(|e| vec![format!("cannot tell: {e}")]);
        };
        let mut out = Vec::new();
        if p.stale > 0 {
            out.push(format!(
                "{} of {} partitions stale: {}",
                p.stale,
                def.len(),
                cause::describe(p.causes).join(", ")
            ));
        }
        if p.missing > 0 && p.missing < def.len() {
            out.push(format!("{} of {} partitions missing", p.missing, def.len()));
        }
        out
    };
    let mut latest: HashMap<String, Vec<LatestMaterialization>> = HashMap::new();
    for m in engine.instance().latest_materializations(None)? {
        latest.entry(m.asset.to_string()).or_default().push(m);
    }
    let mut checks: HashMap<String, Vec<CheckStatus>> = HashMap::new();
    for c in engine.instance().latest_checks()? {
        checks.entry(c.asset.to_string()).or_default().push(c);
    }
    if printer.json {
        let out: Vec<serde_json::Value> = nodes
            .iter()
            .map(|&n| {
                let key = graph.key(n).to_string();
                let mats: Vec<serde_json::Value> = latest
                    .get(&key)
                    .map(|ms| {
                        ms.iter()
                            .map(|m| {
                                json!({
                                    "partition": m.partition,
                                    "timestamp": chrono::DateTime::from_timestamp_micros(m.timestamp),
                                    "run_id": m.run_id,
                                    "data_version": m.data_version,
                                    "code_version": m.code_version,
                                    "kind": m.value_kind,
                                    "rows": m.rows,
                                    "bytes": m.bytes,
                                    "object": m.location.as_deref().and_then(|l| {
                                        engine.io().get(&m.io_manager).ok().map(|io| io.object_url(l))
                                    }),
                                })
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let cs: Vec<serde_json::Value> = checks
                    .get(&key)
                    .map(|cs| {
                        cs.iter()
                            .map(|c| {
                                json!({
                                    "check": c.check,
                                    "partition": c.partition,
                                    "passed": c.passed,
                                    "severity": c.severity,
                                    "description": c.description,
                                    "run_id": c.run_id,
                                })
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let partitions = snapshot.get(n).ok().map(|s| s.partitions);
                json!({
                    "key": key,
                    "external": graph.asset(n).is_external(),
                    "state": snapshot.get(n).map_or("unknown", |s| s.state().as_str()),
                    "causes": causes_of(n),
                    "partitions": partitions.map(|p| json!({
                        "fresh": p.fresh,
                        "stale": p.stale,
                        "missing": p.missing,
                    })),
                    "materializations": mats,
                    "checks": cs,
                })
            })
            .collect();
        printer.json_pretty(&out);
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
    let mut never = 0;
    for &n in &nodes {
        let key = graph.key(n).to_string();
        let defined = graph.checks_of(n).count();
        let check_cell = check_summary(defined, checks.get(&key).map(Vec::as_slice).unwrap_or(&[]));
        let mats = latest.get(&key);
        let newest = mats.and_then(|ms| ms.iter().max_by_key(|m| m.timestamp));
        let label = match (&graph.spec(n).partitions, mats) {
            (Some(p), Some(ms)) => format!("{key} [{}/{} partitions]", ms.len(), p.len()),
            (Some(p), None) => format!("{key} [0/{} partitions]", p.len()),
            _ if graph.asset(n).is_external() => format!("{key} (external)"),
            _ => key.clone(),
        };
        let state = snapshot.get(n).map_or("unknown", |s| s.state().as_str());
        let state_cell = match state {
            "fresh" => style(state).green().to_string(),
            "stale" | "partial" => style(state).yellow().to_string(),
            "failed" => style(state).red().to_string(),
            other => style(other).dim().to_string(),
        };
        let cause_cell = dash(truncate(&causes_of(n).join("; "), 60));
        // An external asset is observed, not materialized: its cell says so.
        let observed = if graph.asset(n).is_external() {
            "observed "
        } else {
            ""
        };
        match newest {
            Some(m) => table.add_row(vec![
                label,
                state_cell,
                cause_cell,
                format!(
                    "{observed}{} ({})",
                    local_time(m.timestamp),
                    age(m.timestamp)
                ),
                m.run_id
                    .as_ref()
                    .map_or("-".into(), |r| r.short().to_owned()),
                m.data_version.short().to_owned(),
                m.rows.map_or("-".into(), count),
                check_cell,
            ]),
            None => {
                never += 1;
                table.add_row(vec![
                    label,
                    state_cell,
                    cause_cell,
                    style("never").yellow().to_string(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    check_cell,
                ])
            }
        };
    }
    printer.out(table);
    printer.err(
        style(format!(
            "{}, {} never materialized · instance {}",
            plural(nodes.len(), "asset"),
            never,
            engine.instance().db_path().display()
        ))
        .dim()
        .for_stderr(),
    );
    Ok(ExitCode::SUCCESS)
}

fn check_summary(defined: usize, evaluated: &[CheckStatus]) -> String {
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

fn dash(s: String) -> String {
    if s.is_empty() { "-".into() } else { s }
}

fn first_line(s: &str) -> String {
    truncate(s.lines().next().unwrap_or("").trim(), 72)
}

/// At most `width` characters, with an ellipsis when cut.
fn truncate(s: &str, width: usize) -> String {
    if s.chars().count() > width {
        format!("{}…", s.chars().take(width - 1).collect::<String>())
    } else {
        s.to_owned()
    }
}
