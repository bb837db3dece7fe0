//! Criterion benchmarks of the engine's hot paths. Each names the regression it guards.
//!
//! `cargo bench -p stemma-benches` (add `-- <filter>` to run one group).

use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use stemma::selection::Selection;
use stemma::{AssetGraph, Materialize, NoObserver, Value};
use stemma_benches::{chain, layered, table};

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
/// 10% of materializing a 1 GB table).
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
            stemma_server::open_engine(AssetGraph::new(chain(n)).expect("valid"), dir.path())
                .expect("engine");
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
}

criterion_group!(benches, graph_build, selection, hashing, executor);
criterion_main!(benches);
