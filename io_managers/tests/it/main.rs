//! The IoManager conformance suite, run against every backend this crate ships: local files,
//! memory, and a real S3-compatible server.

use std::collections::BTreeMap;

use stemma::ValueKind;
use stemma::io::IoManager;
use stemma_io::ObjectStoreIoManager;
use stemma_io::conformance::{self, load, sample_table, store};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_files_conform() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("file://{}", dir.path().join("storage").display());
    let io = ObjectStoreIoManager::from_url(&url, &BTreeMap::new()).unwrap();
    conformance::run(&io).await;
    conformance::atomic_writes(io.store().clone(), io.prefix().clone(), &io.describe()).await;
    // Nothing but committed objects is left behind, in Hive-style partition directories.
    let mut stack = vec![dir.path().to_path_buf()];
    let mut partition_dirs = 0;
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                partition_dirs += usize::from(name.starts_with("partition="));
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
    assert!(partition_dirs >= 4, "{partition_dirs}");
    assert!(io.describe().starts_with("file:///"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_conforms() {
    let io = ObjectStoreIoManager::from_url("memory://", &BTreeMap::new()).unwrap();
    conformance::run(&io).await;
    conformance::atomic_writes(io.store().clone(), io.prefix().clone(), "memory://").await;
    assert_eq!(io.describe(), "memory://");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_conforms() {
    let Some(moto) = stemma_io::testing::Moto::start() else {
        return;
    };
    moto.bucket("stemma-conformance");
    let io = ObjectStoreIoManager::from_url("s3://stemma-conformance/lake/dev", &moto.options())
        .unwrap();
    assert_eq!(io.describe(), "s3://stemma-conformance/lake/dev");
    conformance::run(&io).await;

    let (stored, _) = store(&io, "raw/sales", Some("eu"), &sample_table(0, 3))
        .await
        .unwrap();
    let location = stored.location.unwrap();
    assert!(
        location.starts_with("lake/dev/v1/raw/sales/partition=eu/"),
        "{location}"
    );
    assert!(
        io.object_url(&location)
            .starts_with("s3://stemma-conformance/lake/dev/v1/raw/sales/partition=eu/")
    );

    moto.bucket("stemma-atomic");
    let atomic = ObjectStoreIoManager::from_url("s3://stemma-atomic/x", &moto.options()).unwrap();
    conformance::atomic_writes(
        atomic.store().clone(),
        atomic.prefix().clone(),
        "s3://stemma-atomic",
    )
    .await;
}

#[test]
fn storage_urls_are_checked() {
    let none = BTreeMap::new();
    let err = |url: &str, options: &BTreeMap<String, String>| {
        ObjectStoreIoManager::from_url(url, options)
            .unwrap_err()
            .to_string()
    };
    assert!(err("gs://bucket", &none).contains("unsupported scheme gs://"));
    assert!(err("not a url", &none).contains("is not a URL"));
    assert!(err("s3://", &none).contains("names no bucket"));
    let bad: BTreeMap<String, String> = [("endpoit".to_owned(), "x".to_owned())].into();
    let e = err("s3://b/p", &bad);
    assert!(e.contains("unknown S3 storage option \"endpoit\""), "{e}");
    assert!(err("memory://", &bad).contains("does not apply to memory://"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_object_is_reported_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let io = ObjectStoreIoManager::local(dir.path()).unwrap();
    let (stored, dv) = store(&io, "t", None, &sample_table(0, 3)).await.unwrap();
    let path = dir.path().join(stored.location.as_deref().unwrap());
    std::fs::write(&path, b"not parquet at all").unwrap();
    let err = load(&io, "t", ValueKind::Table, &stored, &dv)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("decoding") && err.contains(&path.display().to_string()),
        "{err}"
    );
}
