//! The Stemma side of the Dagster comparison (`benches/peers/dagster/`): a code location whose
//! assets are generated at start-up, the same graphs `dagster_location.py` defines.
//!
//! * `PEER_SHAPE=layered` (default): `PEER_ASSETS` no-op assets in layers of 100, each after
//!   the first layer depending on two or three of the layer before.
//! * `PEER_SHAPE=daily`: one no-op asset partitioned by day, `PEER_PARTITIONS` days up to
//!   2026-01-01.
//! * `PEER_SHAPE=hourly`: one no-op asset `hourly` with a million hourly partitions.
//!
//! Any command line goes to Stemma's CLI, except `probe …`, the in-process timings the
//! harness compares with `probe.py` (one JSON line on stdout):
//!
//! * `probe select QUERY…`: each query parsed and resolved to its sorted asset keys against the
//!   built graph, the median of 20 after a first, untimed resolve (Dagster's resolve returns
//!   the set of keys);
//! * `probe latest`: the latest materialization of every asset read from `$STEMMA_HOME`'s
//!   instance, the first read after opening it;
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
            "unknown probe {other:?}: expected `probe select QUERY…`, `probe latest` or \
             `probe history`"
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
