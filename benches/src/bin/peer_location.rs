//! The Stemma side of the Dagster comparison (`benches/peers/dagster/`): a code location whose
//! assets are generated at start-up, the same graphs `dagster_location.py` defines.
//!
//! * `PEER_SHAPE=layered` (default): `PEER_ASSETS` no-op assets in layers of 100, each after
//!   the first layer depending on two or three of the layer before.
//! * `PEER_SHAPE=daily`: one no-op asset partitioned by day, `PEER_PARTITIONS` days up to
//!   2026-01-01.
//! * `PEER_SHAPE=hourly`: one no-op asset `hourly` with a million hourly partitions.
//! * `PEER_SHAPE=wide|deep|hubs`: the lineage browser's other graph shapes
//!   (`stemma_benches::shape`), `PEER_ASSETS` assets.
//!
//! Any command line goes to Stemma's CLI, except `probe …`, the in-process timings the
//! harness compares with `probe.py` (one JSON line on stdout):
//!
//! * `probe select QUERY…`: each query parsed and resolved to its sorted asset keys against the
//!   built graph, the median of 20 after a first, untimed resolve (Dagster's resolve returns
//!   the set of keys);
//! * `probe latest`: the latest materialization of every asset read from `$STEMMA_HOME`'s
//!   instance, the first read after opening it;
//! * `probe layout SHAPE N`: lays out every asset of a generated graph (`stemma_benches::shape`)
//!   and reports the time, the drawing's quality (crossings, total edge length) and its
//!   stability (the share of assets that move when one asset is added);
//! * `probe history`: writes the million-hour history of `hourly` (all but one hour in a
//!   thousand materialized, some failed) into `$STEMMA_HOME`'s instance.

use std::process::ExitCode;
use std::time::Instant;

use serde_json::json;
use stemma::selection::Selection;
use stemma::{AssetGraph, Definitions, Instance, StatusSnapshot};

/// Timed resolutions of each query after the first.
const REPEAT: usize = 20;

fn main() -> ExitCode {
    let definitions = definitions();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("probe") => match probe(definitions, &args[1..]) {
            Ok(report) => {
                println!("{report}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
        _ => stemma_server::cli::run(definitions),
    }
}

fn definitions() -> Definitions {
    let env = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    match std::env::var("PEER_SHAPE").as_deref() {
        Ok("hourly") => Definitions::new().asset(
            stemma::AssetDef::builder("hourly")
                .partitions(stemma_benches::million_hours())
                .compute(|_, _| async { Ok::<_, std::io::Error>(()) })
                .build(),
        ),
        Ok("daily") => {
            let days = env("PEER_PARTITIONS", 30);
            let end = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).expect("a date");
            let start = end - chrono::Duration::days(days as i64);
            Definitions::new().asset(
                stemma::AssetDef::builder("daily_noop")
                    .partitions(
                        stemma::TimeWindows::daily(&start.to_string()).end(&end.to_string()),
                    )
                    .compute(|_, _| async { Ok::<_, std::io::Error>(()) })
                    .build(),
            )
        }
        Ok(shape @ ("wide" | "deep" | "hubs")) => {
            stemma_benches::shape(shape, env("PEER_ASSETS", 1_000)).expect("a shape")
        }
        _ => stemma_benches::layered(env("PEER_ASSETS", 1_000), 100),
    }
}

fn probe(definitions: Definitions, args: &[String]) -> Result<serde_json::Value, String> {
    match args.first().map(String::as_str) {
        Some("select") => {
            let graph = AssetGraph::new(definitions).map_err(|e| e.to_string())?;
            let status = StatusSnapshot::unavailable();
            let mut metrics = serde_json::Map::new();
            let mut counts = serde_json::Map::new();
            for text in &args[1..] {
                let resolve = || {
                    Selection::parse(text)
                        .map_err(|e| e.to_string())
                        .and_then(|s| s.resolve_keys(&graph, &status).map_err(|e| e.to_string()))
                };
                counts.insert(text.clone(), json!(resolve()?.len()));
                let mut samples = Vec::with_capacity(REPEAT);
                for _ in 0..REPEAT {
                    let start = Instant::now();
                    std::hint::black_box(resolve()?);
                    samples.push(start.elapsed().as_secs_f64());
                }
                samples.sort_by(f64::total_cmp);
                metrics.insert(text.clone(), json!(median(&samples)));
            }
            Ok(json!({ "metrics": metrics, "counts": counts }))
        }
        Some("latest") => {
            let instance =
                Instance::open(stemma_server::default_home()).map_err(|e| e.to_string())?;
            let start = Instant::now();
            let latest = instance
                .latest_materializations(None)
                .map_err(|e| e.to_string())?;
            let seconds = start.elapsed().as_secs_f64();
            Ok(json!({ "metrics": { "latest": seconds }, "counts": { "latest": latest.len() } }))
        }
        Some("layout") => {
            let shape = args.get(1).map(String::as_str).unwrap_or("layered");
            let n: usize = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(10_000);
            layout_report(shape, n)
        }
        Some("history") => {
            let instance =
                Instance::open(stemma_server::default_home()).map_err(|e| e.to_string())?;
            let def = stemma_benches::million_hours().into();
            let asset = stemma::AssetKey::parse("hourly").map_err(|e| e.to_string())?;
            let start = Instant::now();
            let _again = stemma_benches::hourly_history(&instance, &asset, &def)
                .map_err(|e| e.to_string())?;
            let seconds = start.elapsed().as_secs_f64();
            Ok(json!({ "metrics": { "history": seconds } }))
        }
        other => Err(format!(
            "unknown probe {other:?}: expected `probe select QUERY…`, `probe latest`, \
             `probe layout SHAPE N` or `probe history`"
        )),
    }
}

/// The median of sorted samples.
fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

/// Time, quality and stability of the layout of a generated graph.
fn layout_report(shape: &str, n: usize) -> Result<serde_json::Value, String> {
    use stemma_server::layout::{layout, quality};
    let defs = stemma_benches::shape(shape, n).ok_or(format!("unknown shape {shape:?}"))?;
    let graph = AssetGraph::new(defs).map_err(|e| e.to_string())?;
    // Every asset as the layout sees it.
    let unlaid = |graph: &AssetGraph| {
        let nodes: Vec<_> = graph.nodes().collect();
        stemma_server::views::layout::GraphLayout::assets(graph, &nodes)
    };
    let start = Instant::now();
    let drawn = unlaid(&graph).draw();
    let seconds = start.elapsed().as_secs_f64();
    // The drawing measured, then again with one asset more.
    let seen = unlaid(&graph);
    let (dag, keys) = (seen.dag(), seen.keys());
    let before = layout(dag);
    let mut defs = stemma_benches::shape(shape, n).ok_or("a shape")?;
    defs = defs.asset(
        stemma::AssetDef::builder("added")
            .group("g0")
            .dep(&format!("a{}", n / 2))
            .compute(|_, _| async { Ok::<_, std::io::Error>(()) })
            .build(),
    );
    let grown = unlaid(&AssetGraph::new(defs).map_err(|e| e.to_string())?);
    let grown_keys = grown.keys();
    let after = layout(grown.dag());
    let index: std::collections::HashMap<&str, usize> = grown_keys
        .iter()
        .enumerate()
        .map(|(i, k)| (k.as_str(), i))
        .collect();
    let same: Vec<Option<usize>> = keys
        .iter()
        .map(|k| index.get(k.as_str()).copied())
        .collect();
    Ok(json!({
        "shape": shape,
        "assets": n,
        "edges": dag.edges.len(),
        "seconds": seconds,
        "layers": drawn.stats.layers,
        "dummies": drawn.stats.dummies,
        "direct_long_edges": drawn.stats.direct_long_edges,
        "sweeps": drawn.stats.sweeps,
        "crossings": drawn.stats.crossings,
        "edge_length": quality::edge_length(dag, &before).round(),
        "moved_when_one_added": quality::moved_share(&before, &after, &same),
    }))
}
