//! The Parquet IO manager against the bare `parquet` crate on the same data: a 10-million-row,
//! 10-column table written (content hash included) and read back.
//!
//! Guards "the IO manager costs at most 1.2× the bare writer": hashing, naming by content and
//! the atomic put must stay small next to Parquet encoding itself.
//!
//! `cargo bench -p stemma-io --bench storage` (`STEMMA_BENCH_ROWS` sizes the table; the
//! default is 10,000,000).

use std::fs::File;
use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray};
use criterion::{Criterion, criterion_group, criterion_main};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use stemma::hash::data_version;
use stemma::io::{InputContext, IoManager, OutputContext};
use stemma::spec::AssetSpec;
use stemma::{AssetKey, Metadata, RunId, Table, Value, ValueKind};
use stemma_io::ObjectStoreIoManager;

fn storage(c: &mut Criterion) {
    let rows: usize = std::env::var("STEMMA_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000_000);
    let table = ten_column_table(rows);
    let value = Value::Table(table.clone());
    let dir = tempfile::tempdir().expect("temp dir");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let io = ObjectStoreIoManager::local(dir.path().join("storage")).expect("storage");
    let asset = AssetKey::parse("bench/table").expect("key");
    let spec = AssetSpec::new(asset.clone());
    let bare_path = dir.path().join("bare.parquet");

    let mut group = c.benchmark_group(format!("storage_{}m_rows_10_cols", rows / 1_000_000));
    group.sample_size(10);

    // The bare writer: the same properties the IO manager uses, to a file.
    group.bench_function("parquet_crate_write", |b| {
        b.iter(|| {
            let props = stemma_io::writer_properties(table.schema()).expect("properties");
            let file = File::create(&bare_path).expect("file");
            let mut writer = ArrowWriter::try_new(file, Arc::clone(table.schema()), Some(props))
                .expect("writer");
            for batch in table.batches() {
                writer.write(batch).expect("write");
            }
            writer.close().expect("close");
        });
    });

    // What a materialization does: hash the value, then store it through the IO manager.
    let mut stored = None;
    group.bench_function("io_manager_hash_and_write", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let dv = data_version(&value).expect("hash");
                let out = io
                    .handle_output(
                        &OutputContext {
                            asset: &asset,
                            partition: None,
                            spec: &spec,
                            run_id: &RunId::new(),
                            data_version: &dv,
                            metadata: &Metadata::new(),
                        },
                        &value,
                    )
                    .await
                    .expect("stored");
                stored = Some((out, dv));
            });
        });
    });

    group.bench_function("parquet_crate_read", |b| {
        b.iter(|| {
            let file = File::open(&bare_path).expect("file");
            let reader = ParquetRecordBatchReaderBuilder::try_new(file)
                .expect("reader")
                .build()
                .expect("reader");
            let rows: usize = reader.map(|b| b.expect("batch").num_rows()).sum();
            assert_eq!(rows, table.num_rows());
        });
    });

    let (out, dv) = stored.expect("written above");
    group.bench_function("io_manager_read", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let value = io
                    .load_input(&InputContext {
                        asset: &asset,
                        partition: None,
                        kind: ValueKind::Table,
                        data_version: &dv,
                        location: out.location.as_deref(),
                        downstream: None,
                        spec: None,
                    })
                    .await
                    .expect("loaded");
                assert_eq!(value.num_rows(), Some(table.num_rows()));
            });
        });
    });
    group.finish();
}

/// A table of `rows` rows and ten columns (four integers, three floats, two strings, one
/// boolean), in batches of 64 Ki rows: the shape of the storage benchmark.
pub fn ten_column_table(rows: usize) -> Table {
    let mut batches = Vec::new();
    let mut start = 0;
    while start < rows {
        let n = (rows - start).min(65_536);
        let ids: Vec<i64> = (start as i64..(start + n) as i64).collect();
        let int = |f: fn(i64) -> i64| -> ArrayRef {
            Arc::new(Int64Array::from_iter_values(ids.iter().map(|i| f(*i))))
        };
        let float = |f: fn(i64) -> f64| -> ArrayRef {
            Arc::new(Float64Array::from_iter_values(ids.iter().map(|i| f(*i))))
        };
        batches.push(
            RecordBatch::try_from_iter([
                ("id", int(|i| i)),
                ("customer", int(|i| (i * 7919) % 100_003)),
                ("quantity", int(|i| i % 17)),
                ("ts", int(|i| 1_790_000_000_000 + i * 1_000)),
                ("price", float(|i| (i % 1000) as f64 * 0.25)),
                ("score", float(|i| ((i * 31) as f64).sin())),
                ("weight", float(|i| (i % 97) as f64 / 7.0)),
                (
                    "category",
                    Arc::new(StringArray::from_iter_values(
                        ids.iter()
                            .map(|i| ["alpha", "beta", "gamma", "delta"][(*i % 4) as usize]),
                    )) as ArrayRef,
                ),
                (
                    "sku",
                    Arc::new(StringArray::from_iter_values(
                        ids.iter()
                            .map(|i| format!("SKU-{:08}", (i * 104_729) % 10_000_000)),
                    )) as ArrayRef,
                ),
                (
                    "paid",
                    Arc::new(BooleanArray::from_iter(
                        ids.iter().map(|i| Some(i % 3 != 0)),
                    )) as ArrayRef,
                ),
            ])
            .expect("valid batch"),
        );
        start += n;
    }
    let schema = batches[0].schema();
    Table::new(schema, batches).expect("one schema")
}

criterion_group!(benches, storage);
criterion_main!(benches);
