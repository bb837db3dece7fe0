//! The IO manager conformance suite: what every [`IoManager`] must do, runnable against any
//! implementation (the way `object_store` runs one suite against every backend).
//!
//! ```no_run
//! # async fn t() {
//! let io = stemma_io::ObjectStoreIoManager::memory();
//! stemma_io::conformance::run(&io).await;
//! # }
//! ```
//!
//! [`run`] checks the contract through the trait alone and expects an empty store: round trips
//! of tables, JSON, bytes and nothing that keep their content hash; partitioned writes and
//! reads; all partitions read as one value (an unpartitioned downstream of a partitioned
//! upstream) and a range of them; a missing partition or object as an error that names it;
//! rewriting an object; listing and deleting. [`atomic_writes`] checks that a write that fails
//! part-way — the connection drops after some bytes, the disk is full — leaves nothing
//! visible, and that a slow store still works; it wraps the store in a
//! [`FaultyStore`](crate::faults::FaultyStore), so it applies to managers over `object_store`.
//!
//! Failures panic with a message saying what was expected, like any test assertion.

use std::sync::Arc;
use std::time::Duration;

use arrow::array::{
    ArrayRef, BooleanArray, Float64Array, Int64Array, ListBuilder, RecordBatch, StringArray,
    StringBuilder, TimestampMicrosecondArray,
};
use bytes::Bytes;
use object_store::ObjectStore;
use object_store::path::Path;
use stemma::hash::data_version;
use stemma::io::{
    InputContext, IoManager, ObjectInfo, OutputContext, PartitionsContext, StoredObject, StoredPart,
};
use stemma::spec::AssetSpec;
use stemma::{AssetKey, DataVersion, Metadata, PartitionKey, RunId, Table, Value, ValueKind};

use crate::ObjectStoreIoManager;
use crate::faults::{Fault, FaultyStore};

/// Runs every contract case against `io`, which must start empty.
pub async fn run(io: &dyn IoManager) {
    round_trips(io).await;
    partitions(io).await;
    rewrites(io).await;
    missing_objects(io).await;
    list_and_delete(io).await;
}

/// A table with `rows` rows starting at `first`, with the column types assets commonly have
/// (integers, floats with nulls, strings, booleans, timestamps, lists), in several batches.
pub fn sample_table(first: i64, rows: usize) -> Value {
    let ids: Vec<i64> = (first..first + rows as i64).collect();
    let mut tags = ListBuilder::new(StringBuilder::new());
    for id in &ids {
        for t in 0..(id % 3) {
            tags.values().append_value(format!("t{t}"));
        }
        tags.append(id % 5 != 0);
    }
    let batch = RecordBatch::try_from_iter([
        ("id", Arc::new(Int64Array::from(ids.clone())) as ArrayRef),
        (
            "score",
            Arc::new(Float64Array::from_iter(
                ids.iter().map(|i| (i % 4 != 0).then(|| *i as f64 / 3.0)),
            )),
        ),
        (
            "name",
            Arc::new(StringArray::from_iter_values(
                ids.iter().map(|i| format!("doc-{i}")),
            )),
        ),
        (
            "ok",
            Arc::new(BooleanArray::from_iter(
                ids.iter().map(|i| Some(i % 2 == 0)),
            )),
        ),
        (
            "at",
            Arc::new(
                TimestampMicrosecondArray::from_iter_values(
                    ids.iter().map(|i| 1_790_000_000_000_000 + i * 1_000_000),
                )
                .with_timezone("UTC"),
            ),
        ),
        ("tags", Arc::new(tags.finish())),
    ])
    .expect("a valid sample batch");
    let split = rows / 2;
    let batches = vec![batch.slice(0, split), batch.slice(split, rows - split)];
    Value::Table(Table::new(batch.schema(), batches).expect("one schema"))
}

/// Stores `value` as `key` (partition `partition`) the way the engine does.
pub async fn store(
    io: &dyn IoManager,
    key: &str,
    partition: Option<&str>,
    value: &Value,
) -> stemma::Result<(StoredObject, DataVersion)> {
    let asset = AssetKey::parse(key)?;
    let partition = partition.map(PartitionKey::new).transpose()?;
    let dv = data_version(value)?;
    let spec = AssetSpec::new(asset.clone());
    let stored = io
        .handle_output(
            &OutputContext {
                asset: &asset,
                partition: partition.as_ref(),
                spec: &spec,
                run_id: &RunId::new(),
                data_version: &dv,
                metadata: &Metadata::new(),
            },
            value,
        )
        .await?;
    Ok((stored, dv))
}

/// Loads what `store` returned.
pub async fn load(
    io: &dyn IoManager,
    key: &str,
    kind: ValueKind,
    stored: &StoredObject,
    dv: &DataVersion,
) -> stemma::Result<Value> {
    let asset = AssetKey::parse(key)?;
    io.load_input(&InputContext {
        asset: &asset,
        partition: None,
        kind,
        data_version: dv,
        location: stored.location.as_deref(),
        downstream: None,
        spec: None,
    })
    .await
}

async fn stored(
    io: &dyn IoManager,
    key: &str,
    partition: Option<&str>,
    value: &Value,
) -> (StoredObject, DataVersion) {
    store(io, key, partition, value)
        .await
        .unwrap_or_else(|e| panic!("storing {key} {partition:?} failed: {e}"))
}

/// Every value kind comes back with the same content hash.
async fn round_trips(io: &dyn IoManager) {
    let big: Vec<u8> = (0..3 << 20).map(|i: u32| (i * 31 % 251) as u8).collect();
    let values = [
        ("conformance/table", sample_table(0, 1000)),
        ("conformance/empty_table", sample_table(0, 0)),
        (
            "conformance/json",
            Value::Json(serde_json::json!({"recall": [0.5, 0.9, 0.1], "ok": true, "n": null})),
        ),
        (
            "conformance/bytes",
            Value::Bytes(Bytes::from_static(b"\x00\x01model\xff")),
        ),
        ("conformance/empty_bytes", Value::Bytes(Bytes::new())),
        ("conformance/big_bytes", Value::Bytes(Bytes::from(big))),
        ("conformance/nothing", Value::Nothing),
    ];
    for (key, value) in &values {
        let (stored, dv) = stored(io, key, None, value).await;
        let back = load(io, key, value.kind(), &stored, &dv)
            .await
            .unwrap_or_else(|e| panic!("loading {key} failed: {e}"));
        assert_eq!(back.kind(), value.kind(), "{key}: the kind changed");
        assert_eq!(
            data_version(&back).unwrap(),
            dv,
            "{key}: the value read back differs from the value written"
        );
        if let (Value::Table(a), Value::Table(b)) = (value, &back) {
            assert_eq!(
                a.schema().fields(),
                b.schema().fields(),
                "{key}: schema changed"
            );
        }
        match value {
            Value::Nothing => assert_eq!(stored.location, None, "nothing is stored for ()"),
            _ => {
                let location = stored.location.as_deref().unwrap_or_else(|| {
                    panic!("{key}: handle_output returned no location for a value")
                });
                assert!(
                    location.contains(dv.as_str()),
                    "{key}: objects are named by content: {location}"
                );
            }
        }
    }
}

fn parts<'a>(stored: &'a [(PartitionKey, StoredObject, DataVersion)]) -> Vec<StoredPart<'a>> {
    stored
        .iter()
        .map(|(p, s, dv)| StoredPart {
            partition: p,
            data_version: dv,
            location: s.location.as_deref(),
        })
        .collect()
}

async fn load_parts(
    io: &dyn IoManager,
    key: &str,
    kind: ValueKind,
    stored: &[(PartitionKey, StoredObject, DataVersion)],
) -> stemma::Result<Value> {
    let asset = AssetKey::parse(key)?;
    let downstream = AssetKey::parse("conformance/downstream")?;
    io.load_partitions(&PartitionsContext {
        asset: &asset,
        kind,
        parts: &parts(stored),
        downstream: Some(&downstream),
        spec: None,
    })
    .await
}

fn ids(value: &Value) -> Vec<i64> {
    let Value::Table(t) = value else {
        panic!("expected a table, got {}", value.kind())
    };
    t.batches()
        .iter()
        .flat_map(|b| {
            b.column_by_name("id")
                .and_then(|c| c.as_any().downcast_ref::<Int64Array>())
                .expect("an id column")
                .values()
                .to_vec()
        })
        .collect()
}

/// Partitions are stored apart and read alone, all together, or as a range.
async fn partitions(io: &dyn IoManager) {
    let key = "conformance/daily";
    let days = ["2026-11-01", "2026-11-02", "2026-11-03", "2026-11-04"];
    let mut written = Vec::new();
    for (i, day) in days.iter().enumerate() {
        let value = sample_table(i as i64 * 100, 10 + i);
        let (s, dv) = stored(io, key, Some(day), &value).await;
        written.push((PartitionKey::new(day).unwrap(), s, dv));
    }
    let locations: std::collections::BTreeSet<_> =
        written.iter().map(|(_, s, _)| s.location.clone()).collect();
    assert_eq!(
        locations.len(),
        days.len(),
        "each partition has its own object"
    );

    // One partition alone.
    let (_, s, dv) = &written[2];
    let one = load(io, key, ValueKind::Table, s, dv).await.unwrap();
    assert_eq!(
        ids(&one),
        (200..212).collect::<Vec<_>>(),
        "partition 3 read alone"
    );

    // All partitions, as an unpartitioned downstream reads them: concatenated in order.
    let all = load_parts(io, key, ValueKind::Table, &written)
        .await
        .unwrap();
    let expected: Vec<i64> = (0..4).flat_map(|i| i * 100..i * 100 + 10 + i).collect();
    assert_eq!(ids(&all), expected, "all partitions, in partition order");

    // A range of partitions.
    let range = load_parts(io, key, ValueKind::Table, &written[1..3])
        .await
        .unwrap();
    let expected: Vec<i64> = (100..111).chain(200..212).collect();
    assert_eq!(ids(&range), expected, "partitions 2..=3");

    // JSON partitions combine into an object keyed by partition.
    let mut json = Vec::new();
    for day in &days[..2] {
        let value = Value::Json(serde_json::json!({ "day": day }));
        let (s, dv) = stored(io, "conformance/daily_json", Some(day), &value).await;
        json.push((PartitionKey::new(day).unwrap(), s, dv));
    }
    let combined = load_parts(io, "conformance/daily_json", ValueKind::Json, &json)
        .await
        .unwrap();
    let Value::Json(obj) = combined else {
        panic!("JSON partitions should combine into JSON")
    };
    assert_eq!(obj["2026-11-02"]["day"], "2026-11-02", "{obj}");

    // A missing partition is an error that names it.
    let (_, gone, _) = &written[1];
    io.delete_object(gone.location.as_deref().unwrap())
        .await
        .unwrap();
    let err = load_parts(io, key, ValueKind::Table, &written)
        .await
        .expect_err("reading a deleted partition must fail")
        .to_string();
    assert!(
        err.contains("2026-11-02") && err.contains(key),
        "the error names the missing partition and asset: {err}"
    );
}

fn modified(objects: &[ObjectInfo], location: &str) -> i64 {
    objects
        .iter()
        .find(|o| o.location == location)
        .map(|o| o.last_modified)
        .unwrap_or_else(|| panic!("{location} is not listed"))
}

/// Objects are named by content, so a second write of a name holds the same content: it is not
/// an error, the object stays readable, and its modification time is refreshed (garbage
/// collection spares recent objects).
async fn rewrites(io: &dyn IoManager) {
    let value = sample_table(7, 20);
    let (first, dv) = stored(io, "conformance/reused", None, &value).await;
    let location = first.location.clone().unwrap();
    let before = modified(&io.list_objects().await.unwrap(), &location);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (second, _) = stored(io, "conformance/reused", None, &value).await;
    assert_eq!(
        second, first,
        "the same value is stored under the same name"
    );
    let after = modified(&io.list_objects().await.unwrap(), &location);
    assert!(
        after > before,
        "rewriting refreshes the modification time: {before} -> {after}"
    );
    let back = load(io, "conformance/reused", ValueKind::Table, &first, &dv)
        .await
        .unwrap();
    assert_eq!(data_version(&back).unwrap(), dv);
}

/// A missing object is a clear error that names it.
async fn missing_objects(io: &dyn IoManager) {
    let dv = DataVersion::from_hex("00000000");
    let missing = StoredObject {
        location: Some("v1/conformance/nowhere/00000000.parquet".into()),
        bytes: None,
    };
    let err = load(io, "conformance/nowhere", ValueKind::Table, &missing, &dv)
        .await
        .expect_err("loading a missing object must fail")
        .to_string();
    assert!(
        err.contains("nowhere/00000000.parquet") && err.contains("missing"),
        "the error names the missing object: {err}"
    );
}

/// Listing shows every stored object with its size; deleting removes one; deleting a missing
/// object is not an error.
async fn list_and_delete(io: &dyn IoManager) {
    let (s, dv) = stored(io, "conformance/listed", None, &sample_table(0, 5)).await;
    let location = s.location.clone().unwrap();
    let listed = io.list_objects().await.unwrap();
    let entry = listed
        .iter()
        .find(|o| o.location == location)
        .unwrap_or_else(|| panic!("{location} is not listed: {listed:?}"));
    assert_eq!(Some(entry.bytes), s.bytes, "listed size = written size");
    io.delete_object(&location).await.unwrap();
    io.delete_object(&location).await.unwrap();
    let after = io.list_objects().await.unwrap();
    assert_eq!(
        after.len(),
        listed.len() - 1,
        "exactly one object was deleted"
    );
    assert!(after.iter().all(|o| o.location != location));
    assert!(
        load(io, "conformance/listed", ValueKind::Table, &s, &dv)
            .await
            .is_err(),
        "a deleted object cannot be loaded"
    );
}

/// A write that fails (the device is full) leaves nothing visible; a later write of the same
/// value works; a slow store still works. (A write cut off part-way by a killed process is
/// tested for real, with SIGKILL, in this crate's `tests/it`.) `object_store` is the manager's store; it must start empty
/// under `prefix`.
pub async fn atomic_writes(object_store: Arc<dyn ObjectStore>, prefix: Path, base: &str) {
    let faulty = Arc::new(FaultyStore::new(object_store, None));
    let io = ObjectStoreIoManager::new(Arc::clone(&faulty) as Arc<dyn ObjectStore>, prefix, base);
    let value = sample_table(0, 50_000);
    let before = io.list_objects().await.unwrap().len();

    for fault in [Fault::OutOfSpace] {
        faulty.set(Some(fault));
        let err = store(&io, "conformance/atomic", Some("p1"), &value)
            .await
            .expect_err("a write through a failing store must fail")
            .to_string();
        assert!(
            err.contains("conformance/atomic"),
            "{fault:?}: the error names the asset: {err}"
        );
        if fault == Fault::OutOfSpace {
            assert!(err.contains("No space left"), "{err}");
        }
        faulty.set(None);
        let listed = io.list_objects().await.unwrap();
        assert_eq!(
            listed.len(),
            before,
            "{fault:?}: a failed write left something visible: {listed:?}"
        );
    }

    // The same value written afterwards is complete.
    let (ok, dv) = stored(&io, "conformance/atomic", Some("p1"), &value).await;
    let back = load(&io, "conformance/atomic", ValueKind::Table, &ok, &dv)
        .await
        .unwrap();
    assert_eq!(data_version(&back).unwrap(), dv);

    // A slow store is slow, not wrong.
    faulty.set(Some(Fault::Slow(Duration::from_millis(50))));
    let started = std::time::Instant::now();
    let (slow, dv) = stored(&io, "conformance/slow", None, &sample_table(3, 30)).await;
    let back = load(&io, "conformance/slow", ValueKind::Table, &slow, &dv)
        .await
        .unwrap();
    assert_eq!(data_version(&back).unwrap(), dv);
    assert!(
        started.elapsed() >= Duration::from_millis(100),
        "the fault delays requests"
    );
    faulty.set(None);
}
