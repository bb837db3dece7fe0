//! Storage chosen by the project config: IO managers by key, relative paths, S3 on a real
//! S3-compatible server, overrides, bad configs, and a full disk mid-run.

use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use stemma::spec::PartitionsDefinition;
use stemma::{
    AssetDef, AssetGraph, Blob, Definitions, Instance, IoManagers, Json, Materialize, NoObserver,
    Table, Value,
};
use stemma_io::ObjectStoreIoManager;
use stemma_io::faults::{Fault, FaultyStore};
use stemma_server::{ProjectConfig, open_engine_with};

/// The stored objects under `dir` (not the manifests of current objects beside them).
fn files_under(dir: &std::path::Path) -> Vec<String> {
    let mut out = all_files_under(dir);
    out.retain(|f| !f.starts_with("current/"));
    out
}

fn all_files_under(dir: &std::path::Path) -> Vec<String> {
    stemma_server::testing::files(dir)
        .iter()
        .map(|p| p.strip_prefix(dir).unwrap().display().to_string())
        .collect()
}

/// Materializes `select` for partitions `partitions`.
async fn run(engine: &stemma::Engine, select: &str, partitions: &str) -> stemma::RunOutcome {
    engine
        .materialize(
            Materialize::new(select).partitions(vec![partitions.to_owned()]),
            Arc::new(NoObserver),
        )
        .await
        .unwrap()
}

fn sales() -> AssetDef {
    AssetDef::builder("sales")
        .partitions(PartitionsDefinition::static_keys(["eu", "us"]))
        .code_version("1")
        .compute_blocking(|ctx, _| {
            let region = ctx.partition_key().unwrap_or_default().to_owned();
            let n = if region == "eu" { 3 } else { 2 };
            let batch = RecordBatch::try_from_iter([
                (
                    "id",
                    Arc::new(Int64Array::from_iter_values(0..n)) as ArrayRef,
                ),
                (
                    "region",
                    Arc::new(StringArray::from(vec![region; n as usize])),
                ),
            ])?;
            Ok::<_, stemma::BoxError>(Value::Table(Table::new(batch.schema(), vec![batch])?))
        })
        .build()
}

fn total() -> AssetDef {
    AssetDef::builder("total")
        .input("sales")
        .code_version("1")
        .compute_blocking(|_, inputs| {
            let sales: Table = inputs.get("sales")?;
            Ok::<_, stemma::BoxError>(Json(sales.num_rows()))
        })
        .build()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn io_manager_keys_route_assets_to_their_storage() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("stemma.toml"),
        "[storage]\nurl = \"lake\"\n\n[io_managers.models]\nurl = \"models-store\"\n",
    )
    .unwrap();
    let project = ProjectConfig::load(Some(&dir.path().join("stemma.toml"))).unwrap();
    let model = AssetDef::builder("model")
        .io_manager("models")
        .input("total")
        .code_version("1")
        .compute_blocking(|_, _| Ok::<_, stemma::BoxError>(Blob(b"weights".to_vec().into())))
        .build();
    let graph = AssetGraph::new(Definitions::new().assets([sales(), total(), model])).unwrap();
    let home = dir.path().join("home");
    let engine = open_engine_with(graph, &home, &project, None).unwrap();
    let outcome = run(&engine, "*", "*").await;
    assert!(outcome.failed.is_empty(), "{outcome:?}");
    let lake = files_under(&dir.path().join("lake"));
    assert_eq!(lake.len(), 3, "{lake:?}");
    // Beside the objects, a manifest of each asset's current ones (the model's goes with it).
    let manifests: Vec<String> = all_files_under(&dir.path().join("lake"))
        .into_iter()
        .filter(|f| f.starts_with("current/"))
        .collect();
    assert_eq!(manifests, ["current/sales.json", "current/total.json"]);
    assert!(dir.path().join("models-store/current/model.json").is_file());
    assert!(
        lake.iter().any(|f| f.starts_with("v1/sales/partition=eu/")),
        "{lake:?}"
    );
    assert!(lake.iter().any(|f| f.starts_with("v1/total/")), "{lake:?}");
    let models = files_under(&dir.path().join("models-store"));
    assert_eq!(models.len(), 1, "{models:?}");
    assert!(models[0].starts_with("v1/model/") && models[0].ends_with(".bin"));
    assert!(files_under(&home.join("storage")).is_empty());

    // An override replaces the default storage only.
    let io = project.io_managers(&home, Some("memory://")).unwrap();
    assert_eq!(io.get("default").unwrap().describe(), "memory://");
    assert!(
        io.get("models")
            .unwrap()
            .describe()
            .ends_with("models-store")
    );
}

#[test]
fn a_bad_project_config_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stemma.toml");
    let error = |text: &str| {
        std::fs::write(&path, text).unwrap();
        match ProjectConfig::load(Some(&path)) {
            Err(e) => e.to_string(),
            Ok(p) => p
                .io_managers(dir.path(), None)
                .map(|_| String::new())
                .unwrap_or_else(|e| e.to_string()),
        }
    };
    let e = error("[storage]\nurl = 5\n");
    assert!(e.contains("stemma.toml") && e.contains("line 2"), "{e}");
    let e = error("[storge]\nurl = \"x\"\n");
    assert!(e.contains("unknown field `storge`"), "{e}");
    let e = error("[storage]\nurl = \"s3://b/p\"\n[storage.options]\nendpiont = \"http://x\"\n");
    assert!(e.contains("unknown S3 storage option \"endpiont\""), "{e}");
    let e = error("[io_managers.models]\nurl = \"gs://b\"\n");
    assert!(
        e.contains("io_managers.models") && e.contains("gs://"),
        "{e}"
    );
    // No file and no --project: the defaults.
    assert_eq!(ProjectConfig::load(None).unwrap(), ProjectConfig::default());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipeline_runs_on_s3_and_is_queried_from_it() {
    let Some(s3) = stemma_io::testing::Moto::start() else {
        return;
    };
    s3.bucket("warehouse");
    let dir = tempfile::tempdir().unwrap();
    let mut toml = String::from("[storage]\nurl = \"s3://warehouse/prod\"\n[storage.options]\n");
    for (k, v) in s3.options() {
        toml.push_str(&format!("{k} = \"{v}\"\n"));
    }
    std::fs::write(dir.path().join("stemma.toml"), toml).unwrap();
    let project = ProjectConfig::load(Some(&dir.path().join("stemma.toml"))).unwrap();
    let graph = AssetGraph::new(Definitions::new().assets([sales(), total()])).unwrap();
    let engine = open_engine_with(graph, dir.path(), &project, None).unwrap();
    let outcome = run(&engine, "*", "*").await;
    assert!(outcome.failed.is_empty(), "{outcome:?}");
    let objects = engine
        .io()
        .get("default")
        .unwrap()
        .list_objects()
        .await
        .unwrap();
    assert_eq!(objects.len(), 3, "{objects:?}");
    assert!(
        objects.iter().all(|o| o.location.starts_with("prod/v1/")),
        "{objects:?}"
    );

    // total read both partitions from S3; a query reads them again.
    let result = stemma_sql::query(
        &engine,
        "SELECT partition, count(*) AS n FROM sales GROUP BY partition ORDER BY partition",
    )
    .await
    .unwrap();
    let batch = arrow::compute::concat_batches(&result.schema, &result.batches).unwrap();
    let n = batch
        .column(1)
        .as_any()
        .downcast_ref::<Int64Array>()
        .unwrap();
    assert_eq!(n.values(), &[3, 2]);

    // verify re-reads and re-hashes every object on S3.
    let report = engine.verify(None, false).await.unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(report.checked, 3, "every object on S3 was read back");
    let stored: u64 = objects.iter().map(|o| o.bytes).sum();
    assert_eq!(report.bytes, stored);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_fails_the_step_and_commits_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let local = ObjectStoreIoManager::local(dir.path().join("storage")).unwrap();
    let faulty = Arc::new(FaultyStore::new(
        Arc::clone(local.store()),
        Some(Fault::OutOfSpace),
    ));
    let io = local.with_store(faulty.clone());
    let graph = AssetGraph::new(Definitions::new().assets([sales(), total()])).unwrap();
    let engine = stemma::Engine::new(
        Arc::new(graph),
        Instance::open(dir.path().join("home")).unwrap(),
        IoManagers::new().register("default", Arc::new(io)),
    )
    .unwrap();
    let outcome = run(&engine, "sales", "eu").await;
    assert_eq!(outcome.failed.len(), 1, "{outcome:?}");
    assert!(
        outcome.failed[0].error.contains("No space left on device"),
        "{outcome:?}"
    );
    assert!(
        engine
            .instance()
            .latest_materializations(None)
            .unwrap()
            .is_empty()
    );
    assert!(files_under(&dir.path().join("storage")).is_empty());

    // Space again: the same run succeeds.
    faulty.set(None);
    let outcome = run(&engine, "sales", "eu").await;
    assert!(outcome.failed.is_empty(), "{outcome:?}");
    assert_eq!(files_under(&dir.path().join("storage")).len(), 1);
}

/// A code location's own IO managers: one registered under a key is used by the assets that
/// name it; a URL scheme it registers is built by its factory when `stemma.toml` names it; the
/// same key in both places, or `default`, is refused with the key named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_location_registers_io_managers_and_url_schemes() {
    let dir = tempfile::tempdir().unwrap();
    let defs = || {
        Definitions::new()
            .asset(
                AssetDef::builder("kept")
                    .io_manager("mine")
                    .code_version("1")
                    .compute_blocking(|_, _| Ok::<_, std::io::Error>(stemma::Json(7)))
                    .build(),
            )
            .asset(
                AssetDef::builder("vectors")
                    .io_manager("vectors")
                    .code_version("1")
                    .compute_blocking(|_, _| Ok::<_, std::io::Error>(stemma::Json(8)))
                    .build(),
            )
            .io_manager("mine", ObjectStoreIoManager::memory())
            .io_manager_scheme("vecdb", |url, options| {
                assert_eq!(url, "vecdb://cluster/db");
                assert_eq!(options.get("token").map(String::as_str), Some("t"));
                Ok(Arc::new(ObjectStoreIoManager::memory()) as Arc<dyn stemma::IoManager>)
            })
    };
    let toml = dir.path().join("stemma.toml");
    std::fs::write(
        &toml,
        "[io_managers.vectors]\nurl = \"vecdb://cluster/db\"\n[io_managers.vectors.options]\ntoken = \"t\"\n",
    )
    .unwrap();
    let project = ProjectConfig::load(Some(&toml)).unwrap();
    let graph = AssetGraph::new(defs()).unwrap();
    let engine = open_engine_with(graph, dir.path(), &project, None).unwrap();
    let outcome = engine
        .materialize(stemma::Materialize::new("*"), Arc::new(stemma::NoObserver))
        .await
        .unwrap();
    assert_eq!(outcome.succeeded, 2, "{outcome:?}");
    for (asset, manager) in [("kept", "mine"), ("vectors", "vectors")] {
        let latest = engine
            .instance()
            .latest(&stemma::AssetKey::parse(asset).unwrap(), None)
            .unwrap()
            .unwrap();
        assert_eq!(latest.io_manager, manager);
        let objects = engine
            .io()
            .get(manager)
            .unwrap()
            .list_objects()
            .await
            .unwrap();
        assert_eq!(objects.len(), 1, "{manager}: {objects:?}");
    }

    // Configured in both places: refused, naming the key.
    std::fs::write(&toml, "[io_managers.mine]\nurl = \"memory://\"\n").unwrap();
    let project = ProjectConfig::load(Some(&toml)).unwrap();
    let err = open_engine_with(AssetGraph::new(defs()).unwrap(), dir.path(), &project, None)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("io_managers.mine") && err.contains("one place"),
        "{err}"
    );
    let err =
        AssetGraph::new(Definitions::new().io_manager("default", ObjectStoreIoManager::memory()))
            .unwrap_err()
            .to_string();
    assert!(err.contains("io_manager \"default\""), "{err}");
}
