//! SQL assets end to end on real parts: `.sql` files in a temporary folder, a real SQLite
//! instance and Parquet files on disk, DataFusion running the queries.

mod lineage;

use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use stemma::spec::PartitionsDefinition;
use stemma::{
    AssetDef, AssetGraph, Definitions, Engine, Instance, IoManagers, Materialize, MetadataValue,
    Table, Value,
};
use stemma_io::ObjectStoreIoManager;

fn write(dir: &Path, file: &str, text: &str) {
    let path = dir.join(file);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// `raw/orders`: a Rust asset partitioned by day.
fn raw_orders() -> AssetDef {
    AssetDef::builder("raw/orders")
        .partitions(PartitionsDefinition::static_keys(["d1", "d2"]))
        .code_version("1")
        .compute_blocking(|ctx, _| {
            let day = ctx.partition_key().unwrap_or_default().to_owned();
            let base: i64 = if day == "d1" { 0 } else { 100 };
            let batch = RecordBatch::try_from_iter([
                (
                    "id",
                    Arc::new(Int64Array::from(vec![base + 1, base + 2, base + 3])) as ArrayRef,
                ),
                (
                    "customer",
                    Arc::new(StringArray::from(vec!["ana", "bo", "ana"])),
                ),
                (
                    "amount",
                    Arc::new(Float64Array::from(vec![10.0, 20.5, 5.0])),
                ),
                (
                    "day",
                    Arc::new(StringArray::from(vec![day.clone(), day.clone(), day])),
                ),
            ])?;
            Ok::<_, stemma::BoxError>(Value::Table(Table::new(batch.schema(), vec![batch])?))
        })
        .build()
}

fn models(dir: &Path) {
    write(
        dir,
        "bronze/orders.sql",
        "-- Typed orders, per day.\n\
         -- group: bronze\n\
         -- partitions: same as raw/orders\n\
         -- checks: not_null(id), expect(cents > 0) AS positive\n\
         SELECT id, customer, amount * 100 AS cents, day FROM raw.orders\n",
    );
    write(
        dir,
        "silver/customers.sql",
        "-- owners: team:analytics\n\
         -- checks: unique(customer), expect(orders < 3) AS few_orders\n\
         SELECT customer, count(*) AS orders, sum(cents) AS total_cents\n\
         FROM bronze.orders GROUP BY customer",
    );
}

fn engine(dir: &Path, definitions: Definitions) -> Engine {
    let graph = AssetGraph::new(definitions).unwrap_or_else(|e| panic!("{e}"));
    let io = IoManagers::new().register(
        "default",
        Arc::new(ObjectStoreIoManager::local(dir.join("storage")).unwrap()),
    );
    Engine::new(
        Arc::new(graph),
        Instance::open(dir.join("home")).unwrap(),
        io,
    )
    .unwrap()
}

#[test]
fn dependencies_come_from_the_query() {
    let dir = tempfile::tempdir().unwrap();
    models(&dir.path().join("models"));
    let defs = stemma_sql::with_sql_assets(
        Definitions::new().asset(raw_orders()),
        dir.path().join("models"),
    );
    let graph = AssetGraph::new(defs).unwrap();
    let deps = |key: &str| -> Vec<String> {
        let n = graph.lookup(key).unwrap();
        graph.spec(n).data_deps().map(|k| k.to_string()).collect()
    };
    assert_eq!(deps("bronze/orders"), ["raw/orders"]);
    assert_eq!(deps("silver/customers"), ["bronze/orders"]);
    let bronze = graph.spec(graph.lookup("bronze/orders").unwrap());
    assert_eq!(bronze.group, "bronze");
    assert_eq!(
        bronze.description.as_deref(),
        Some("Typed orders, per day.")
    );
    assert!(bronze.kinds.contains("sql"));
    assert_eq!(bronze.partitions.as_ref().map(|p| p.len()), Some(2));
    let silver = graph.spec(graph.lookup("silver/customers").unwrap());
    assert_eq!(silver.owners, ["team:analytics"]);
    assert!(silver.partitions.is_none());
    let checks: Vec<String> = graph
        .checks()
        .iter()
        .map(|c| c.spec().name.clone())
        .collect();
    assert!(checks.contains(&"few_orders".to_owned()), "{checks:?}");
}

#[test]
fn an_unknown_table_is_reported_at_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    write(&models, "bronze/orders.sql", "SELECT * FROM raw.orders");
    write(
        &models,
        "gold/report.sql",
        "-- group: gold\nSELECT o.id\nFROM bronze.ordrs o\nJOIN nowhere n ON n.id = o.id",
    );
    write(&models, "gold/broken.sql", "SELECT id,\n  FROM");
    let defs = stemma_sql::with_sql_assets(Definitions::new().asset(raw_orders()), &models);
    let err = AssetGraph::new(defs).unwrap_err().to_string();
    let report = models.join("gold/report.sql").display().to_string();
    assert!(
        err.contains(&format!(
            "{report}:3:6: unknown table bronze.ordrs (no asset bronze/ordrs); did you mean bronze.orders?"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!("{report}:4:6: unknown table nowhere")),
        "{err}"
    );
    let broken = models.join("gold/broken.sql").display().to_string();
    assert!(err.contains(&format!("{broken}:2:")), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_assets_materialize_with_checks_and_lineage_and_can_be_queried() {
    let dir = tempfile::tempdir().unwrap();
    models(&dir.path().join("models"));
    let defs = stemma_sql::with_sql_assets(
        Definitions::new().asset(raw_orders()),
        dir.path().join("models"),
    );
    let engine = engine(dir.path(), defs);
    let outcome = engine
        .materialize(
            Materialize::new("*").partitions(vec!["*".to_owned()]),
            Arc::new(stemma::NoObserver),
        )
        .await
        .unwrap();
    assert!(outcome.failed.is_empty(), "{outcome:?}");

    // The SQL asset's result is a stored table, queryable with the Rust asset it came from.
    let result = stemma_sql::query(
        &engine,
        "SELECT c.customer, c.orders, c.total_cents, sum(r.amount) * 100 AS check_cents
         FROM silver.customers c JOIN raw.orders r ON r.customer = c.customer
         GROUP BY c.customer, c.orders, c.total_cents ORDER BY c.customer",
    )
    .await
    .unwrap();
    assert_eq!(result.num_rows(), 2);
    let batch = arrow::compute::concat_batches(&result.schema, &result.batches).unwrap();
    let customers = batch
        .column(0)
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap();
    let orders = batch
        .column(1)
        .as_any()
        .downcast_ref::<Int64Array>()
        .unwrap();
    let cents = batch
        .column(2)
        .as_any()
        .downcast_ref::<Float64Array>()
        .unwrap();
    let check = batch
        .column(3)
        .as_any()
        .downcast_ref::<Float64Array>()
        .unwrap();
    assert_eq!(customers.value(0), "ana");
    assert_eq!(orders.value(0), 4, "ana ordered twice on each of two days");
    assert_eq!(cents.value(0), 3000.0);
    assert_eq!(cents.value(0), check.value(0));
    assert_eq!(cents.value(1), 4100.0);

    // A partitioned asset has a partition column when queried.
    let days = stemma_sql::query(
        &engine,
        "SELECT partition, count(*) AS n FROM bronze.orders GROUP BY partition ORDER BY partition",
    )
    .await
    .unwrap();
    assert_eq!(days.num_rows(), 2);

    // Checks ran on the SQL assets: ana has 4 orders, so few_orders fails.
    let checks = engine.instance().latest_checks().unwrap();
    let find = |name: &str| {
        checks
            .iter()
            .find(|c| c.check == name)
            .unwrap_or_else(|| panic!("{name}: {checks:?}"))
    };
    assert!(find("unique_customer").passed);
    assert!(!find("few_orders").passed);
    assert!(find("positive").passed);

    // The materialization recorded where each column comes from.
    let latest = engine
        .instance()
        .latest(&stemma::AssetKey::parse("silver/customers").unwrap(), None)
        .unwrap()
        .unwrap();
    let m = engine
        .instance()
        .materialization(latest.event_id)
        .unwrap()
        .unwrap();
    let Some(MetadataValue::Json(lineage)) = m.metadata.get(stemma_sql::COLUMN_LINEAGE) else {
        panic!("no column lineage: {:?}", m.metadata)
    };
    assert_eq!(
        lineage[2],
        serde_json::json!({
            "column": "total_cents",
            "transform": "aggregate",
            "from": [{"asset": "bronze/orders", "column": "cents"}]
        })
    );

    // Nothing changed: a second run skips everything, code versions included.
    let again = engine
        .materialize(
            Materialize::new("*").partitions(vec!["*".to_owned()]),
            Arc::new(stemma::NoObserver),
        )
        .await
        .unwrap();
    assert!(again.failed.is_empty());
    assert_eq!(again.up_to_date, 5, "{again:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_column_fails_the_step_at_its_position_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    write(
        &models,
        "bronze/orders.sql",
        "-- partitions: same as raw/orders\nSELECT id,\n       amont FROM raw.orders",
    );
    let engine = engine(
        dir.path(),
        stemma_sql::with_sql_assets(Definitions::new().asset(raw_orders()), &models),
    );
    let outcome = engine
        .materialize(
            Materialize::new("*").partitions(vec!["d1".to_owned()]),
            Arc::new(stemma::NoObserver),
        )
        .await
        .unwrap();
    assert!(!outcome.failed.is_empty(), "{outcome:?}");
    let failures = engine.instance().latest_failures().unwrap();
    let error = &failures
        .iter()
        .find(|f| f.asset.as_str() == "bronze/orders")
        .expect("bronze/orders failed")
        .error;
    let file = models.join("bronze/orders.sql").display().to_string();
    assert!(error.contains(&format!("{file}:3:8")), "{error}");
    assert!(error.contains("amont"), "{error}");
    assert!(
        engine
            .instance()
            .latest(
                &stemma::AssetKey::parse("bronze/orders").unwrap(),
                Some(&stemma::PartitionKey::new("d1").unwrap())
            )
            .unwrap()
            .is_none()
    );
}

/// A declared schema is enforced before anything is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_that_breaks_its_declared_schema_is_not_stored() {
    use arrow::datatypes::{DataType, Field, Schema};
    let dir = tempfile::tempdir().unwrap();
    let declared = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("customer", DataType::Utf8, false),
        Field::new("amount", DataType::Int64, true),
        Field::new("region", DataType::Utf8, true),
    ]));
    let defs = Definitions::new().asset(
        AssetDef::builder("orders")
            .schema(declared)
            .compute_blocking(|_, _| {
                let batch = RecordBatch::try_from_iter([
                    (
                        "id",
                        Arc::new(Int64Array::from(vec![Some(1), None])) as ArrayRef,
                    ),
                    ("customer", Arc::new(StringArray::from(vec!["a", "b"]))),
                    ("amount", Arc::new(Float64Array::from(vec![1.0, 2.0]))),
                    ("day", Arc::new(StringArray::from(vec!["d", "d"]))),
                ])?;
                Ok::<_, stemma::BoxError>(Value::Table(Table::new(batch.schema(), vec![batch])?))
            })
            .build(),
    );
    let engine = engine(dir.path(), defs);
    let outcome = engine
        .materialize(Materialize::new("orders"), Arc::new(stemma::NoObserver))
        .await
        .unwrap();
    assert!(!outcome.failed.is_empty(), "{outcome:?}");
    let failures = engine.instance().latest_failures().unwrap();
    let error = &failures[0].error;
    for expected in [
        "missing column(s) region (Utf8)",
        "unexpected column(s) day",
        "amount is Float64 but is declared Int64",
        "id has 1 null(s) but is declared NOT NULL",
    ] {
        assert!(error.contains(expected), "{expected}: {error}");
    }
    assert!(
        engine
            .io()
            .get("default")
            .unwrap()
            .list_objects()
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        engine
            .instance()
            .latest_materializations(None)
            .unwrap()
            .is_empty()
    );
}

/// Editing a SQL asset's header checks changes those checks' versions, not the asset's: the
/// query does not run again, the edited check is evaluated again on the stored table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_header_check_runs_again_without_the_query() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    let write_customers = |check: &str| {
        write(
            &models,
            "silver/customers.sql",
            &format!(
                "-- checks: unique(customer), {check} AS few_orders\n\
                 SELECT customer, count(*) AS orders FROM raw.orders GROUP BY customer"
            ),
        )
    };
    write_customers("expect(orders < 10)");
    let run = |label: &str| {
        let engine = engine(
            dir.path(),
            stemma_sql::with_sql_assets(Definitions::new().asset(raw_orders()), &models),
        );
        let label = label.to_owned();
        async move {
            let outcome = engine
                .materialize(
                    Materialize::new("silver/customers"),
                    Arc::new(stemma::NoObserver),
                )
                .await
                .unwrap();
            let version = engine
                .graph()
                .spec(engine.graph().lookup("silver/customers").unwrap())
                .code_version
                .clone();
            (label, outcome, version)
        }
    };
    // raw/orders first (both days), then the SQL asset.
    let engine0 = engine(
        dir.path(),
        stemma_sql::with_sql_assets(Definitions::new().asset(raw_orders()), &models),
    );
    engine0
        .materialize(
            Materialize::new("raw/orders").partition("*"),
            Arc::new(stemma::NoObserver),
        )
        .await
        .unwrap();
    drop(engine0);
    let (_, first, v1) = run("first").await;
    assert_eq!((first.succeeded, first.checks_passed), (1, 2), "{first:?}");
    write_customers("expect(orders < 3)");
    let (_, edited, v2) = run("edited").await;
    assert_eq!(
        v1, v2,
        "the asset's version covers its query, not its header"
    );
    assert_eq!(
        edited.up_to_date, 1,
        "the query did not run again: {edited:?}"
    );
    assert_eq!(
        edited.checks_failed.len(),
        1,
        "only the edited check ran again (ana has 4 orders): {edited:?}"
    );
    assert!(
        edited.checks_failed[0].check.ends_with("few_orders"),
        "{edited:?}"
    );
    assert_eq!(
        edited.checks_passed, 0,
        "the unchanged check did not run: {edited:?}"
    );
}
