//! The IoManager contract, run against every backend this crate ships (local files, memory).

use std::sync::Arc;

use arrow::array::{ArrayRef, Float32Array, RecordBatch, StringArray};
use bytes::Bytes;
use stemma::hash::data_version;
use stemma::io::{InputContext, IoManager, ObjectInfo, OutputContext, StoredObject};
use stemma::spec::AssetSpec;
use stemma::{AssetKey, DataVersion, PartitionKey, RunId, Table, Value};
use stemma_io::ObjectStoreIoManager;

fn table() -> Value {
    let batch = RecordBatch::try_from_iter([
        (
            "id",
            Arc::new(StringArray::from(vec!["a", "b", "c"])) as ArrayRef,
        ),
        (
            "score",
            Arc::new(Float32Array::from(vec![Some(0.5), None, Some(1.5)])) as ArrayRef,
        ),
    ])
    .unwrap();
    Value::Table(Table::new(batch.schema(), vec![batch.slice(0, 2), batch.slice(2, 1)]).unwrap())
}

async fn store(
    io: &dyn IoManager,
    key: &str,
    partition: Option<&str>,
    value: &Value,
) -> (StoredObject, DataVersion) {
    let asset = AssetKey::parse(key).unwrap();
    let partition = partition.map(|p| PartitionKey::new(p).unwrap());
    let dv = data_version(value).unwrap();
    let spec = AssetSpec::new(asset.clone());
    let stored = io
        .handle_output(
            &OutputContext {
                asset: &asset,
                partition: partition.as_ref(),
                spec: &spec,
                run_id: &RunId::new(),
                data_version: &dv,
            },
            value,
        )
        .await
        .unwrap();
    (stored, dv)
}

async fn load(
    io: &dyn IoManager,
    key: &str,
    value_kind: stemma::ValueKind,
    stored: &StoredObject,
    dv: &DataVersion,
) -> stemma::Result<Value> {
    let asset = AssetKey::parse(key).unwrap();
    io.load_input(&InputContext {
        asset: &asset,
        partition: None,
        kind: value_kind,
        data_version: dv,
        location: stored.location.as_deref(),
        downstream: None,
    })
    .await
}

/// What every IO manager must do.
async fn conformance(io: &dyn IoManager) {
    // Round trips of every value kind keep their content hash.
    let values = [
        ("t", table()),
        (
            "j",
            Value::Json(serde_json::json!({"recall": [0.5, 0.9], "ok": true})),
        ),
        ("b", Value::Bytes(Bytes::from_static(b"\x00\x01model\xff"))),
        ("n", Value::Nothing),
    ];
    for (key, value) in &values {
        let (stored, dv) = store(io, key, None, value).await;
        let back = load(io, key, value.kind(), &stored, &dv).await.unwrap();
        assert_eq!(data_version(&back).unwrap(), dv, "{key}");
        match value {
            Value::Nothing => assert_eq!(stored.location, None),
            _ => {
                let location = stored.location.as_deref().unwrap();
                assert!(
                    location.contains(dv.as_str()),
                    "objects are named by content: {location}"
                );
                assert!(stored.bytes.unwrap() > 0);
            }
        }
    }

    // Partitions get their own Hive-style directory.
    let (eu, _) = store(io, "raw/sales", Some("eu"), &table()).await;
    assert!(
        eu.location
            .as_deref()
            .unwrap()
            .contains("raw/sales/partition=eu/"),
        "{eu:?}"
    );

    // Storing the same content again is not an error and changes nothing.
    let (again, _) = store(io, "raw/sales", Some("eu"), &table()).await;
    assert_eq!(again, eu);

    // Objects are named by content, so writing a name again writes the same content: the
    // object stays readable and its modification time is refreshed (garbage collection spares
    // recent objects, so a run that reuses an old object keeps it alive until it commits).
    let modified = |objects: &[ObjectInfo], location: &str| {
        objects
            .iter()
            .find(|o| o.location == location)
            .map(|o| o.last_modified)
            .unwrap_or_else(|| panic!("{location} is not listed"))
    };
    let (first, dv) = store(io, "reused", None, &table()).await;
    let location = first.location.clone().unwrap();
    let before = modified(&io.list_objects().await.unwrap(), &location);
    std::thread::sleep(std::time::Duration::from_millis(20));
    let (second, _) = store(io, "reused", None, &table()).await;
    assert_eq!(second, first);
    let after = modified(&io.list_objects().await.unwrap(), &location);
    assert!(after > before, "{before} -> {after}");
    let back = load(io, "reused", stemma::ValueKind::Table, &first, &dv)
        .await
        .unwrap();
    assert_eq!(data_version(&back).unwrap(), dv);

    // Listing shows every stored object (nothing for `Nothing`); deleting removes one, and
    // deleting a missing object is not an error.
    let listed = io.list_objects().await.unwrap();
    assert_eq!(listed.len(), 5, "{listed:?}");
    assert!(
        listed
            .iter()
            .all(|o| o.bytes > 0 && o.location.starts_with("v1/"))
    );
    io.delete_object(&location).await.unwrap();
    io.delete_object(&location).await.unwrap();
    let listed = io.list_objects().await.unwrap();
    assert_eq!(listed.len(), 4);
    assert!(listed.iter().all(|o| o.location != location));
    assert!(
        load(io, "reused", stemma::ValueKind::Table, &first, &dv)
            .await
            .is_err()
    );

    // A missing object is a clear error that names it.
    let missing = StoredObject {
        location: Some("v1/nowhere/0000.parquet".into()),
        bytes: None,
    };
    let err = load(io, "nowhere", stemma::ValueKind::Table, &missing, &dv)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("nowhere/0000.parquet") && err.contains("missing"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_files_conform() {
    let dir = tempfile::tempdir().unwrap();
    let io = ObjectStoreIoManager::local(dir.path().join("storage")).unwrap();
    conformance(&io).await;
    // Nothing but committed objects is left behind.
    let mut stack = vec![dir.path().to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
                assert!(
                    matches!(ext, "parquet" | "json" | "bin"),
                    "stray file {}",
                    p.display()
                );
            }
        }
    }
    assert!(io.describe().starts_with("file:///"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_conforms() {
    let io = ObjectStoreIoManager::memory();
    conformance(&io).await;
    assert_eq!(io.describe(), "memory://");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_object_is_reported_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let io = ObjectStoreIoManager::local(dir.path()).unwrap();
    let (stored, dv) = store(&io, "t", None, &table()).await;
    let path = dir.path().join(stored.location.as_deref().unwrap());
    std::fs::write(&path, b"not parquet at all").unwrap();
    let err = load(&io, "t", stemma::ValueKind::Table, &stored, &dv)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("decoding") && err.contains(&path.display().to_string()),
        "{err}"
    );
}
