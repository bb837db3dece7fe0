//! Criterion benchmarks of the engine's hot paths. Each names the regression it guards.
//!
//! `cargo bench -p stemma-benches` (add `-- <filter>` to run one group).

use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use stemma::selection::Selection;
use stemma::staleness::{Staleness, VersionState};
use stemma::{AssetGraph, EventKind, Instance, Materialize, NoObserver, Value};
use stemma_benches::{chain, consistent_history, layered, partitioned_chains, table, wide_table};

/// Guards "definitions for 10,000 assets load in milliseconds" (Dagster: 27 s): building and
/// validating the graph must stay linear and allocation-light.
fn graph_build(c: &mut Criterion) {
    let mut group = c.benchmark_group("graph_build");
    for n in [1_000, 10_000] {
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, &n| {
            b.iter_batched(
                || layered(n, 100),
                |defs| AssetGraph::new(defs).expect("valid"),
                criterion::BatchSize::LargeInput,
            );
        });
    }
    group.finish();
}

/// Guards the selection language's speed: parse + resolve must stay under 10 ms at 100,000
/// assets for traversals, attribute filters, boolean combinations and graph functions
/// (Dagster's resolver takes seconds on graphs this size).
fn selection(c: &mut Criterion) {
    for n in [1_000usize, 10_000, 100_000] {
        let graph = AssetGraph::new(layered(n, 100)).expect("valid");
        let status = stemma::StatusSnapshot::unavailable();
        let mid = format!("a{}", n / 2);
        let cases = [
            format!("key:{mid}+"),
            format!("+key:{mid}"),
            "tag:t=x".to_owned(),
            "group:g3 and not kind:k1".to_owned(),
            "roots(*)".to_owned(),
            format!("@key:{mid}"),
            format!("{mid}++"),
        ];
        let mut group = c.benchmark_group(format!("selection_{n}"));
        if n >= 100_000 {
            group.sample_size(20);
        }
        for text in &cases {
            group.bench_function(text.as_str(), |b| {
                b.iter(|| {
                    Selection::parse(text)
                        .and_then(|s| s.resolve(&graph, &status))
                        .expect("resolves")
                });
            });
        }
        group.finish();
    }
    // The first query of a process, caches cold (the graph was just built).
    let mut group = c.benchmark_group("selection_first_query");
    group.sample_size(10);
    for text in ["tag:t=x", "group:g3 and not kind:k1"] {
        group.bench_function(format!("{text}, first query on a fresh 100k graph"), |b| {
            b.iter_batched_ref(
                || AssetGraph::new(layered(100_000, 100)).expect("valid"),
                |graph| {
                    Selection::parse(text)
                        .and_then(|s| s.resolve(graph, &stemma::StatusSnapshot::unavailable()))
                        .expect("resolves")
                },
                criterion::BatchSize::LargeInput,
            );
        });
    }
    group.finish();
}

/// Guards the content hash: it must stay a small fraction of a Parquet write (target: under
/// 10% of materializing a 1 GB table). `STEMMA_BENCH_TABLE_MB` sizes the big table (default
/// 256; the figure is 1024).
fn hashing(c: &mut Criterion) {
    let value = Value::Table(table(1_000_000));
    let mut group = c.benchmark_group("hash");
    group.sample_size(10);
    group.bench_function("table_1m_rows", |b| {
        b.iter(|| stemma::hash::data_version(&value).expect("hashes"));
    });
    group.bench_function("parquet_encode_1m_rows", |b| {
        b.iter(|| stemma_io::encode(&value).expect("encodes"));
    });
    let mb: usize = std::env::var("STEMMA_BENCH_TABLE_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    let big = Value::Table(wide_table(mb));
    let size = match &big {
        Value::Table(t) => t
            .batches()
            .iter()
            .map(|b| b.get_array_memory_size())
            .sum::<usize>(),
        _ => 0,
    };
    group.throughput(Throughput::Bytes(size as u64));
    group.bench_function(format!("table_{mb}mb"), |b| {
        b.iter(|| stemma::hash::data_version(&big).expect("hashes"));
    });
    group.bench_function(format!("parquet_encode_{mb}mb"), |b| {
        b.iter(|| stemma_io::encode(&big).expect("encodes"));
    });
    group.finish();
}

/// Guards staleness at scale (target: under 100 ms for each shape): every asset partition of
/// a 10,000-asset graph with one materialization each, and of 100 assets × 10,000 partitions,
/// judged after one root changed. `compute` is the pass over versions in memory;
/// `load_and_compute` reads them from the SQLite instance first, as `assets status` does.
fn staleness(c: &mut Criterion) {
    let mut group = c.benchmark_group("staleness");
    group.sample_size(10);
    // The last shape's materializations each read a config value, which staleness judges
    // under the config given (guards that per-row cost: one lookup per distinct recorded
    // config, not a JSON parse per row).
    let shapes = [
        ("10k_assets", layered(10_000, 100), false),
        (
            "100_assets_x_10k_partitions",
            partitioned_chains(10, 10, 10_000),
            false,
        ),
        (
            "100_assets_x_10k_partitions_reading_config",
            partitioned_chains(10, 10, 10_000)
                .config(stemma::ConfigField::int("epochs", 30).min(1)),
            true,
        ),
    ];
    for (name, defs, reads_config) in shapes {
        let graph = AssetGraph::new(defs).expect("valid");
        let dir = tempfile::tempdir().expect("temp dir");
        let instance = Instance::open(dir.path()).expect("instance");
        let mut events = consistent_history(&graph);
        if reads_config {
            for e in &mut events {
                if let EventKind::Materialization(m) = &mut e.kind {
                    m.provenance.config = [("epochs".to_owned(), Some("30".to_owned()))].into();
                }
            }
        }
        // The first root (partition) changes afterwards: everything downstream of it is stale.
        let mut changed = events[0].clone();
        if let EventKind::Materialization(m) = &mut changed.kind {
            m.data_version = stemma::DataVersion::from_hex("0123456789abcdef");
        }
        events.push(changed);
        for chunk in events.chunks(20_000) {
            instance.append_blocking(chunk.to_vec()).expect("appends");
        }
        let config = stemma::config::RunConfig::defaults(graph.config_spec().clone());
        let versions = VersionState::load(&graph, &instance, &config).expect("loads");
        let judged = Staleness::compute(&graph, &versions);
        let stale: usize = graph.nodes().map(|n| judged.summary(n).stale).sum();
        assert!(stale > 0, "the changed root makes something stale");
        group.bench_function(format!("compute/{name}"), |b| {
            b.iter(|| Staleness::compute(&graph, &versions));
        });
        group.bench_function(format!("load_and_compute/{name}"), |b| {
            b.iter(|| {
                let versions = VersionState::load(&graph, &instance, &config).expect("loads");
                Staleness::compute(&graph, &versions)
            });
        });
    }
    group.finish();
}

/// An engine over an instance and file storage in `dir`.
fn open_engine(graph: AssetGraph, dir: &std::path::Path) -> stemma::Result<stemma::Engine> {
    let storage = stemma_io::ObjectStoreIoManager::local(dir.join("storage"))?;
    stemma::Engine::new(
        Arc::new(graph),
        Instance::open(dir)?,
        stemma::IoManagers::new().register("default", Arc::new(storage)),
    )
}

/// One daily no-op asset over ten years, on a fresh instance in a temporary directory.
fn fresh_daily_engine() -> (tempfile::TempDir, stemma::Engine) {
    let dir = tempfile::tempdir().expect("temp dir");
    let engine =
        open_engine(AssetGraph::new(daily_chain(1)).expect("valid"), dir.path()).expect("engine");
    (dir, engine)
}

/// `n` chained no-op assets partitioned by the same 3,650 days (ten years).
fn daily_chain(n: usize) -> stemma::Definitions {
    let days = || stemma::TimeWindows::daily("2016-01-01").end("2025-12-29");
    stemma::Definitions::new().assets((0..n).map(|i| {
        let b = stemma::AssetDef::builder(&format!("d{i}")).partitions(days());
        let b = if i > 0 {
            b.input(&format!("d{}", i - 1))
        } else {
            b
        };
        b.compute(|_, _| async { Ok::<_, std::io::Error>(()) })
            .build()
    }))
}

/// Guards partitions at scale (Dagster: ~230 ms a partition, ~14 minutes for 3,650 days one run
/// each): planning ten years of daily partitions of five assets, running ten years of a no-op
/// asset in one run with the instance on disk, and time-window key arithmetic at a million
/// hourly partitions.
fn partitions(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let mut group = c.benchmark_group("partitions");
    group.sample_size(10);
    let dir = tempfile::tempdir().expect("temp dir");
    let engine =
        open_engine(AssetGraph::new(daily_chain(5)).expect("valid"), dir.path()).expect("engine");
    group.bench_function("plan_3650_days_x_5_assets", |b| {
        b.iter(|| {
            let plan = engine
                .plan(&Materialize::new("*").partition("*"))
                .expect("plans");
            assert_eq!(plan.steps.len(), 5 * 3650);
        });
    });
    group.bench_function("materialize_3650_days_noop_on_disk", |b| {
        b.iter_batched(
            fresh_daily_engine,
            |(_dir, engine)| {
                let outcome =
                    runtime
                        .block_on(engine.materialize(
                            Materialize::new("*").partition("*"),
                            Arc::new(NoObserver),
                        ))
                        .expect("runs");
                assert_eq!(outcome.succeeded, 3650);
            },
            criterion::BatchSize::PerIteration,
        );
    });
    group.bench_function("plan_backfill_3650_days_x_5_assets", |b| {
        b.iter(|| {
            let plan = engine
                .plan_backfill(&stemma::Backfill::new("*").partitions(["*"]))
                .expect("plans");
            assert_eq!(plan.plan.steps.len(), 5 * 3650);
        });
    });
    group.bench_function("backfill_3650_days_noop_on_disk", |b| {
        b.iter_batched(
            fresh_daily_engine,
            |(_dir, engine)| {
                let outcome = runtime
                    .block_on(engine.backfill(
                        stemma::Backfill::new("*").range("2016-01-01", "2025-12-28"),
                        Arc::new(NoObserver),
                    ))
                    .expect("runs");
                assert_eq!(outcome.run.succeeded, 3650);
            },
            criterion::BatchSize::PerIteration,
        );
    });
    let hourly = stemma::TimeWindows::hourly("1910-01-01").end("2024-01-29 16:00");
    group.bench_function("time_window_key_and_position_1m_hourly", |b| {
        let mut i = 0usize;
        b.iter(|| {
            i = (i + 7919) % hourly.len();
            let key = hourly.key_at(i).expect("in range");
            assert_eq!(hourly.index_of(key.as_str()), Some(i));
        });
    });
    group.finish();
    partition_status(c);
}

/// Guards partition status at scale (Dagster's UI freezes above ~40,000 partitions): an
/// hourly asset with 1,000,000 partitions, materialized but for one hour in a thousand, with
/// some failures. `warm`: the ranges kept from the last read, one new materialization since;
/// `cold`: rebuilt from the million rows (after a definition change that moves positions).
fn partition_status(c: &mut Criterion) {
    let mut group = c.benchmark_group("partitions");
    group.sample_size(10);
    let def: stemma::PartitionsDefinition = stemma_benches::million_hours().into();
    assert_eq!(def.len(), 1_000_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let instance = Instance::open(dir.path()).expect("instance");
    let asset = stemma::AssetKey::parse("hourly").expect("key");
    let materialization = stemma_benches::hourly_history(&instance, &asset, &def).expect("history");
    let status = instance.partition_status(&asset, &def).expect("status");
    assert_eq!(status.missing().len(), 1000 - 20);
    assert_eq!(status.failed.len(), 20);

    let mut next = 0usize;
    group.bench_function("status_1m_hourly_warm", |b| {
        b.iter_batched(
            || {
                // One partition rematerialized since the last read.
                next = (next + 7919) % 999_000;
                instance
                    .append_blocking(vec![materialization(next)])
                    .expect("appends");
            },
            |()| {
                let status = instance.partition_status(&asset, &def).expect("status");
                assert!(status.missing().len() <= 1000);
            },
            criterion::BatchSize::PerIteration,
        );
    });
    let mut offset = 0;
    let first = chrono::NaiveDate::from_ymd_opt(1910, 1, 1)
        .expect("a date")
        .and_time(chrono::NaiveTime::MIN);
    group.bench_function("status_1m_hourly_cold", |b| {
        b.iter(|| {
            // Another definition each time (the windows start an hour later): nothing kept
            // applies. (A moved end keeps the positions, so it reads warm.)
            offset += 1;
            let start = (first + chrono::Duration::hours(offset)).format("%Y-%m-%d %H:%M");
            let def: stemma::PartitionsDefinition = stemma::TimeWindows::hourly(&start.to_string())
                .end("2024-01-29 16:00")
                .into();
            let status = instance.partition_status(&asset, &def).expect("status");
            assert!(status.missing().len() >= 900);
        });
    });
    group.finish();
}

/// Guards per-step orchestration overhead (Dagster: ~190 ms per no-op asset): a chain of
/// no-op assets, each step waiting for the previous one's commit.
fn executor(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let mut group = c.benchmark_group("materialize_noop_chain");
    group.sample_size(10);
    for n in [100, 1_000] {
        let dir = tempfile::tempdir().expect("temp dir");
        let engine =
            open_engine(AssetGraph::new(chain(n)).expect("valid"), dir.path()).expect("engine");
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| {
                runtime
                    .block_on(engine.materialize(Materialize::new("*"), Arc::new(NoObserver)))
                    .expect("runs")
            });
        });
    }
    group.finish();

    // The same chain with code versions, already materialized: every step is up to date, so
    // this is the cost of deciding to skip (Dagster has no such path: it re-runs).
    let mut group = c.benchmark_group("materialize_up_to_date_chain");
    group.sample_size(10);
    let n = 1_000;
    let dir = tempfile::tempdir().expect("temp dir");
    let defs = chain(n).map_assets(|a| a.with_code_version("1"));
    let engine = open_engine(AssetGraph::new(defs).expect("valid"), dir.path()).expect("engine");
    runtime
        .block_on(engine.materialize(Materialize::new("*"), Arc::new(NoObserver)))
        .expect("runs");
    group.throughput(Throughput::Elements(n as u64));
    group.bench_function(BenchmarkId::from_parameter(n), |b| {
        b.iter(|| {
            let outcome = runtime
                .block_on(engine.materialize(Materialize::new("*"), Arc::new(NoObserver)))
                .expect("runs");
            assert_eq!(outcome.up_to_date, n);
        });
    });
    group.finish();
}

/// Guards the event log's write path (a fsync costs 11–20 ms on this machine's disk, so one
/// commit per event would cap a run at ~50–90 events a second): appends from many concurrent
/// writers are grouped into one transaction by the instance's writer thread. `one_by_one`
/// waits for each commit before the next (the latency a lone step sees); `concurrent_1000`
/// has 1,000 waiters at once (the throughput of a wide run), which must stay far below 1,000
/// separate commits.
fn event_log(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let instance = Arc::new(Instance::open(dir.path()).expect("instance"));
    let graph = AssetGraph::new(layered(1_000, 100)).expect("valid");
    let events = consistent_history(&graph);
    let mut group = c.benchmark_group("event_log_append");
    group.sample_size(20);
    group.throughput(Throughput::Elements(1));
    let mut next = events.iter().cycle();
    group.bench_function("one_by_one", |b| {
        b.iter(|| {
            let event = next.next().expect("cycles").clone();
            runtime
                .block_on(instance.append(vec![event]))
                .expect("committed")
        });
    });
    group.throughput(Throughput::Elements(events.len() as u64));
    group.bench_function("concurrent_1000", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let waiters: Vec<_> = events
                    .iter()
                    .map(|e| {
                        let instance = instance.clone();
                        let event = e.clone();
                        tokio::spawn(async move { instance.append(vec![event]).await })
                    })
                    .collect();
                for w in waiters {
                    w.await.expect("joined").expect("committed");
                }
            })
        });
    });
    group.finish();
}

/// Guards planning at scale: what `materialize`/`plan` decide for every asset of a
/// 10,000-asset graph with nothing materialized yet (a plan must stay a few milliseconds, well
/// under Dagster's per-run set-up alone).
fn planning(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let engine = open_engine(
        AssetGraph::new(layered(10_000, 100)).expect("valid"),
        dir.path(),
    )
    .expect("engine");
    let mut group = c.benchmark_group("planning");
    group.sample_size(20);
    group.bench_function("plan_10000_assets", |b| {
        b.iter(|| {
            let plan = engine.plan(&Materialize::new("*")).expect("plans");
            assert_eq!(plan.steps.len(), 10_000);
        });
    });
    group.bench_function("plan_10000_assets_select_downstream_of_one", |b| {
        b.iter(|| engine.plan(&Materialize::new("a5000*")).expect("plans"));
    });
    group.finish();
}

/// Guards the lineage browser's server-side layout (Dagster's graph needs a selection above a
/// few hundred nodes and refuses past 10,000): every asset of a generated graph laid out, from
/// the asset graph to the columns the API sends. Target: 10,000 assets ≤ 300 ms.
fn layout(c: &mut Criterion) {
    let mut group = c.benchmark_group("layout");
    group.sample_size(10);
    let cases = [
        ("layered", 1_000),
        ("layered", 10_000),
        ("wide", 10_000),
        ("deep", 10_000),
        ("hubs", 10_000),
        ("layered", 30_000),
        ("layered", 100_000),
    ];
    for (shape, n) in cases {
        let graph =
            AssetGraph::new(stemma_benches::shape(shape, n).expect("a shape")).expect("valid");
        let nodes: Vec<stemma::ids::NodeIx> = graph.nodes().collect();
        group.bench_function(BenchmarkId::new(shape, n), |b| {
            b.iter(|| stemma_server::views::layout::GraphLayout::assets(&graph, &nodes).draw());
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    layout,
    event_log,
    planning,
    graph_build,
    selection,
    hashing,
    staleness,
    executor,
    partitions
);
criterion_main!(benches);
