//! Shared generators for Stemma's benchmarks: synthetic asset graphs and tables.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use stemma::event::{InputVersion, Materialization, Provenance};
use stemma::hash::StableHasher;
use stemma::ids::NodeIx;
use stemma::spec::{PartitionKey, PartitionMapping};
use stemma::{
    AssetDef, AssetGraph, DataVersion, Definitions, Event, EventKind, PartitionsDefinition, Table,
    ValueKind,
};

/// `n` no-op assets in layers of `width`; each asset after the first layer depends on two or
/// three assets of the layer before (the shape of the Dagster comparison's graphs). Assets
/// spread over 20 groups and 5 kinds; one in ten has tag `t=x`, the rest `t=y`.
pub fn layered(n: usize, width: usize) -> Definitions {
    let width = width.max(1);
    Definitions::new().assets((0..n).map(|i| {
        let mut b = AssetDef::builder(&format!("a{i}"))
            .tag("t", if i % 10 == 0 { "x" } else { "y" })
            .group(format!("g{}", i % 20))
            .kind(format!("k{}", i % 5));
        if i >= width {
            let layer_start = (i / width - 1) * width;
            let deps = 2 + i % 2;
            for k in 0..deps {
                b = b.dep(&format!("a{}", layer_start + (i + k * 7) % width));
            }
        }
        b.compute(|_, _| async { Ok::<_, std::io::Error>(()) })
            .build()
    }))
}

/// The graphs the lineage browser is measured on, by name: `wide` (layers of 1,000),
/// `deep` (1,000 layers), `hubs` (layers of 100, and 20 hub assets each read by one asset in
/// twenty), `layered` (layers of 100).
pub fn shape(name: &str, n: usize) -> Option<Definitions> {
    Some(match name {
        "wide" => layered(n, 1_000),
        "deep" => layered(n, n.div_ceil(1_000)),
        "layered" => layered(n, 100),
        "hubs" => {
            let hubs = 20.min(n);
            Definitions::new().assets((0..n).map(|i| {
                let mut b = AssetDef::builder(&format!("a{i}"))
                    .group(format!("g{}", i % 20))
                    .kind(format!("k{}", i % 5));
                if i >= hubs {
                    // One in twenty reads a hub; the rest read the layer before, as in `layered`.
                    if i % 20 == 0 {
                        b = b.dep(&format!("a{}", (i / 20) % hubs));
                    }
                    let layer_start = (i / 100).saturating_sub(1) * 100;
                    if layer_start + 100 <= i {
                        b = b.dep(&format!("a{}", layer_start.max(hubs) + (i * 7) % 80));
                    }
                }
                b.compute(|_, _| async { Ok::<_, std::io::Error>(()) })
                    .build()
            }))
        }
        _ => return None,
    })
}

/// A chain of `n` no-op assets: the worst case for per-step latency.
pub fn chain(n: usize) -> Definitions {
    Definitions::new().assets((0..n).map(|i| {
        let b = AssetDef::builder(&format!("c{i}"));
        let b = if i > 0 {
            b.dep(&format!("c{}", i - 1))
        } else {
            b
        };
        b.compute(|_, _| async { Ok::<_, std::io::Error>(()) })
            .build()
    }))
}

/// A table of `rows` rows: an id, a float and a short string, in batches of 64 Ki rows.
pub fn table(rows: usize) -> Table {
    let mut batches = Vec::new();
    let mut start = 0;
    while start < rows {
        let n = (rows - start).min(65_536);
        let ids: Vec<i64> = (start as i64..(start + n) as i64).collect();
        let values: Vec<f64> = ids.iter().map(|i| *i as f64 * 0.5).collect();
        let names: Vec<String> = ids.iter().map(|i| format!("row-{i}")).collect();
        batches.push(
            RecordBatch::try_from_iter([
                ("id", Arc::new(Int64Array::from(ids)) as ArrayRef),
                ("value", Arc::new(Float64Array::from(values)) as ArrayRef),
                ("name", Arc::new(StringArray::from(names)) as ArrayRef),
            ])
            .expect("valid batch"),
        );
        start += n;
    }
    let schema = batches[0].schema();
    Table::new(schema, batches).expect("one schema")
}

/// `chains` chains of `length` assets (code version "1"), every asset partitioned by the same
/// `partitions` static keys, each reading the one before it partition by partition.
pub fn partitioned_chains(chains: usize, length: usize, partitions: usize) -> Definitions {
    let keys: Vec<String> = (0..partitions).map(|i| format!("p{i:06}")).collect();
    let parts = PartitionsDefinition::static_keys(keys.iter().map(String::as_str));
    Definitions::new().assets((0..chains * length).map(|i| {
        let (chain, pos) = (i / length, i % length);
        let b = AssetDef::builder(&format!("c{chain}_{pos}"))
            .code_version("1")
            .partitions(parts.clone());
        let b = if pos > 0 {
            b.input(&format!("c{chain}_{}", pos - 1))
        } else {
            b
        };
        b.compute(|_, _| async { Ok::<_, std::io::Error>(()) })
            .build()
    }))
}

/// Materialization events for every asset partition of `graph`, upstream first, each recording
/// the versions it read: a history in which everything is fresh.
pub fn consistent_history(graph: &AssetGraph) -> Vec<Event> {
    let mut current: HashMap<(NodeIx, Option<PartitionKey>), DataVersion> = HashMap::new();
    let mut events = Vec::new();
    for &node in graph.topo_order() {
        let spec = graph.spec(node);
        let partitions: Vec<Option<PartitionKey>> = match &spec.partitions {
            Some(def) => def.keys().map(Some).collect(),
            None => vec![None],
        };
        for p in partitions {
            let mut inputs = Vec::new();
            for &(up, _) in graph.deps(node) {
                let up_parts = graph.spec(up).partitions.as_ref();
                let mapping = PartitionMapping::between(up_parts, spec.partitions.as_ref());
                for q in mapping.upstream_keys(up_parts, spec.partitions.as_ref(), p.as_ref()) {
                    inputs.push(InputVersion {
                        asset: graph.key(up).clone(),
                        data_version: current[&(up, q.clone())].clone(),
                        partition: q,
                    });
                }
            }
            let mut h = StableHasher::new("stemma.bench.v1");
            h.str(spec.key.as_str())
                .opt_str(p.as_ref().map(PartitionKey::as_str));
            let dv = DataVersion::from_hex(&h.finish_hex());
            events.push(
                Event::new(
                    0,
                    EventKind::Materialization(Materialization {
                        data_version: dv.clone(),
                        value_kind: ValueKind::Json,
                        io_manager: "default".into(),
                        location: None,
                        rows: None,
                        bytes: None,
                        provenance: Provenance {
                            code_version: spec.code_version.clone(),
                            inputs,
                            deps: spec.deps.iter().map(|d| d.key.clone()).collect(),
                            config: Default::default(),
                        },
                        metadata: Default::default(),
                    }),
                )
                .asset(&spec.key, p.as_ref()),
            );
            current.insert((node, p), dv);
        }
    }
    events
}

/// A table of about `megabytes` MB in memory: an id, a float, a low-cardinality category and
/// a text column, in batches of 64 Ki rows (about 60 bytes a row).
pub fn wide_table(megabytes: usize) -> Table {
    let rows = megabytes * 1_000_000 / 60;
    let mut batches = Vec::new();
    let mut start = 0;
    while start < rows {
        let n = (rows - start).min(65_536);
        let ids: Vec<i64> = (start as i64..(start + n) as i64).collect();
        let values: Vec<f64> = ids.iter().map(|i| (*i as f64).sqrt()).collect();
        let categories: Vec<&str> = ids
            .iter()
            .map(|i| ["alpha", "beta", "gamma", "delta"][(*i % 4) as usize])
            .collect();
        let texts: Vec<String> = ids
            .iter()
            .map(|i| format!("document {i} chunk {} of the corpus", i % 97))
            .collect();
        batches.push(
            RecordBatch::try_from_iter([
                ("id", Arc::new(Int64Array::from(ids)) as ArrayRef),
                ("value", Arc::new(Float64Array::from(values)) as ArrayRef),
                (
                    "category",
                    Arc::new(StringArray::from(categories)) as ArrayRef,
                ),
                ("text", Arc::new(StringArray::from(texts)) as ArrayRef),
            ])
            .expect("valid batch"),
        );
        start += n;
    }
    let schema = batches[0].schema();
    Table::new(schema, batches).expect("one schema")
}

/// The million hourly windows the partition-status measurements use: 1910-01-01 up to
/// 2024-01-29 16:00.
pub fn million_hours() -> stemma::TimeWindows {
    stemma::TimeWindows::hourly("1910-01-01").end("2024-01-29 16:00")
}

/// Writes the history of `asset` over `def` into `instance`: every partition materialized but
/// one hour in a thousand, and 20 of those missing hours failed (their last attempt). Returns
/// how to make the materialization of position `i` again.
pub fn hourly_history(
    instance: &stemma::Instance,
    asset: &stemma::AssetKey,
    def: &PartitionsDefinition,
) -> stemma::Result<impl Fn(usize) -> Event + use<>> {
    let (key, windows) = (asset.clone(), def.clone());
    let materialization = move |i: usize| {
        Event::new(
            i as i64,
            EventKind::Materialization(Materialization {
                data_version: DataVersion::from_hex(&format!("{i:016x}")),
                value_kind: ValueKind::Nothing,
                io_manager: "default".into(),
                location: None,
                rows: None,
                bytes: None,
                provenance: Provenance::default(),
                metadata: Default::default(),
            }),
        )
        .asset(&key, windows.key_at(i).as_ref())
    };
    let kept: Vec<usize> = (0..def.len()).filter(|i| i % 1000 != 999).collect();
    for chunk in kept.chunks(20_000) {
        instance.append_blocking(chunk.iter().map(|&i| materialization(i)).collect())?;
    }
    let failures: Vec<Event> = (0..def.len())
        .step_by(50_000)
        .map(|i| {
            Event::new(
                i as i64,
                EventKind::StepFailed {
                    error: "boom".into(),
                    attempt: 1,
                    duration_ms: 1.0,
                    retrying: false,
                    timed_out: false,
                    retry_in_ms: None,
                },
            )
            .asset(asset, def.key_at(i + 999).as_ref())
        })
        .collect();
    instance.append_blocking(failures)?;
    Ok(materialization)
}
