//! The warehouse example through its real command line: materialize everything, query Rust and
//! SQL assets, show column lineage, and read the stored Parquet with DuckDB and pyarrow.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

struct Home(tempfile::TempDir);

impl Home {
    fn new() -> Self {
        Home(tempfile::tempdir().unwrap())
    }

    fn run(&self, args: &[&str]) -> Output {
        stemma_server::testing::command(env!("CARGO_BIN_EXE_warehouse"), self.0.path())
            .args(args)
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "warehouse {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn query(&self, sql: &str) -> Value {
        serde_json::from_str(&self.ok(&["query", sql, "--format", "json"])).unwrap()
    }

    fn storage(&self) -> PathBuf {
        self.0.path().join("storage")
    }
}

fn parquet_files(dir: &Path) -> Vec<PathBuf> {
    stemma_server::testing::files_with_extension(dir, "parquet")
}

#[test]
fn the_warehouse_materializes_and_is_queried_and_traced() {
    let home = Home::new();
    let out = home.run(&["materialize", "--select", "*", "--partition", "*"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("materialized 18 assets"), "{stdout}");
    assert!(
        !stdout.contains("datafusion"),
        "library logs leak into step logs:\n{stdout}"
    );

    // A Rust asset and the SQL assets built on it agree.
    let raw = home.query("SELECT count(DISTINCT order_id) AS n FROM raw.orders");
    let silver = home.query("SELECT count(*) AS n FROM silver.orders");
    assert_eq!(raw[0]["n"], silver[0]["n"], "silver has every order once");
    let paid = home
        .query("SELECT count(DISTINCT order_id) AS n FROM raw.orders WHERE lower(status) = 'paid'");
    let daily = home.query("SELECT sum(orders) AS n FROM gold.daily_revenue");
    assert_eq!(paid[0]["n"], daily[0]["n"]);

    // Column lineage, followed back to the Rust asset.
    let lineage: Value = serde_json::from_str(&home.ok(&[
        "lineage",
        "gold/revenue_by_region",
        "--columns",
        "--json",
    ]))
    .unwrap();
    let revenue = lineage["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["column"] == "revenue")
        .unwrap();
    assert_eq!(revenue["transform"], "aggregate");
    assert_eq!(revenue["from"][0]["asset"], "silver/orders");
    assert_eq!(revenue["from"][0]["from"][0]["asset"], "bronze/orders");
    assert_eq!(
        revenue["from"][0]["from"][0]["from"][0]["asset"],
        "raw/orders"
    );
    assert_eq!(revenue["from"][0]["from"][0]["from"][0]["column"], "amount");
    let text = home.ok(&["lineage", "gold/revenue_by_region", "--columns"]);
    assert!(text.contains("region  (rename)"), "{text}");

    // Read-only, and bad SQL is a clear error with its position.
    let out = home.run(&["query", "DELETE FROM gold.daily_revenue"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("read-only"));
    let out = home.run(&["query", "SELECT nope FROM gold.daily_revenue"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("query:1:8: No field named nope"));

    // A second run has nothing to do.
    let again = home.ok(&["materialize", "--select", "*", "--partition", "*"]);
    assert!(
        again.contains("all 18 steps up to date, nothing to materialize"),
        "{again}"
    );

    // CSV and Parquet output; the Parquet file is written whole.
    let csv = home.ok(&[
        "query",
        "SELECT region FROM gold.revenue_by_region ORDER BY 1",
        "--format",
        "csv",
    ]);
    assert_eq!(csv, "region\nAsia-Pacific\nEurope\nUnited States\n");
    let out_file = home.0.path().join("revenue.parquet");
    home.ok(&[
        "query",
        "SELECT * FROM gold.revenue_by_region",
        "--format",
        "parquet",
        "--output",
        out_file.to_str().unwrap(),
    ]);
    // What the file holds, read back with the parquet crate: the query's rows and columns.
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
        std::fs::File::open(&out_file).unwrap(),
    )
    .unwrap();
    let columns: Vec<String> = reader
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let rows: usize = reader.build().unwrap().map(|b| b.unwrap().num_rows()).sum();
    let expected = home.query("SELECT * FROM gold.revenue_by_region");
    let expected = expected.as_array().unwrap();
    assert_eq!(rows, expected.len());
    assert_eq!(rows, 3, "one row per region");
    let mut expected_columns: Vec<String> =
        expected[0].as_object().unwrap().keys().cloned().collect();
    let mut sorted = columns.clone();
    sorted.sort();
    expected_columns.sort();
    assert_eq!(sorted, expected_columns, "{columns:?}");

    independent_readers_agree(&home);
}

/// Daily partitions by range, and their status as ranges.
#[test]
fn day_ranges_materialize_and_show_as_ranges() {
    let home = Home::new();
    home.ok(&[
        "materialize",
        "--select",
        "raw/orders+",
        "--partition-range",
        "2026-11-02...2026-11-04",
    ]);
    let status: Value =
        serde_json::from_str(&home.ok(&["partitions", "bronze/orders", "--json"])).unwrap();
    assert_eq!(status["total"], 7);
    assert_eq!(status["materialized"]["count"], 3);
    assert_eq!(
        status["materialized"]["ranges"],
        serde_json::json!([["2026-11-02", "2026-11-04"]])
    );
    assert_eq!(
        status["missing"]["ranges"],
        serde_json::json!([["2026-11-01", "2026-11-01"], ["2026-11-05", "2026-11-07"]])
    );
    let text = home.ok(&["partitions", "raw/orders"]);
    assert!(text.contains("daily in Europe/Berlin (7)"), "{text}");
    assert!(text.contains("[·███···]"), "{text}");
    let out = home.run(&[
        "materialize",
        "--select",
        "raw/orders",
        "--partition-range",
        "2026-11-05...2026-11-02",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("ends before it starts"));
    let out = home.run(&[
        "materialize",
        "--select",
        "raw/orders",
        "--partition",
        "2026-11-09",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not exist"));
}

/// DuckDB and pyarrow, from PyPI, read the stored Parquet — the raw day partitions as a
/// Hive-partitioned dataset — with the contents `assets query` shows.
fn independent_readers_agree(home: &Home) {
    let Some(python) = stemma_io::testing::test_python() else {
        return;
    };
    let storage = home.storage();
    let daily = parquet_files(&storage.join("v1/gold/daily_revenue"));
    assert_eq!(daily.len(), 1, "{daily:?}");
    let script = r#"
import json, sys
import duckdb, pyarrow.parquet as pq
storage, daily = sys.argv[1], sys.argv[2]
con = duckdb.connect()
rows = con.execute(
    f"SELECT CAST(order_date AS VARCHAR), orders, CAST(revenue AS DOUBLE) FROM read_parquet('{daily}') ORDER BY 1"
).fetchall()
per_day = con.execute(
    f"SELECT CAST(partition AS VARCHAR), count(*) FROM read_parquet('{storage}/v1/raw/orders/*/*.parquet', hive_partitioning = true) GROUP BY 1 ORDER BY 1"
).fetchall()
table = pq.read_table(daily)
print(json.dumps({"daily": rows, "per_day": per_day, "pyarrow_rows": table.num_rows, "columns": table.column_names}))
"#;
    let out = Command::new(&python)
        .arg("-c")
        .arg(script)
        .arg(&storage)
        .arg(&daily[0])
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let read: Value = serde_json::from_slice(&out.stdout).unwrap();

    let ours = home.query(
        "SELECT CAST(order_date AS VARCHAR) AS d, orders, CAST(revenue AS DOUBLE) AS r \
         FROM gold.daily_revenue ORDER BY 1",
    );
    let ours: Vec<Value> = ours
        .as_array()
        .unwrap()
        .iter()
        .map(|r| serde_json::json!([r["d"], r["orders"], r["r"]]))
        .collect();
    assert_eq!(
        read["daily"],
        Value::Array(ours),
        "DuckDB reads what Stemma stored"
    );
    assert_eq!(read["pyarrow_rows"], 7);
    assert_eq!(
        read["columns"],
        serde_json::json!(["order_date", "orders", "revenue"])
    );

    let per_day =
        home.query("SELECT partition, count(*) AS n FROM raw.orders GROUP BY partition ORDER BY 1");
    let per_day: Vec<Value> = per_day
        .as_array()
        .unwrap()
        .iter()
        .map(|r| serde_json::json!([r["partition"], r["n"]]))
        .collect();
    assert_eq!(
        read["per_day"],
        Value::Array(per_day),
        "the stored tree is a Hive dataset"
    );
}

/// A SQL asset's OpenLineage COMPLETE event carries its column lineage: each column with the
/// columns of the datasets it is made from; openlineage-python's classes load every event.
#[test]
fn sql_assets_send_their_column_lineage_to_openlineage() {
    let home = Home::new();
    let project = home.0.path().join("stemma.toml");
    std::fs::write(&project, "[openlineage]\nfile = \"lineage.jsonl\"\n").unwrap();
    let project = project.to_str().unwrap();
    home.ok(&[
        "--project",
        project,
        "materialize",
        "--select",
        "*",
        "--partition",
        "*",
    ]);
    let text = std::fs::read_to_string(home.0.path().join("lineage.jsonl")).unwrap();
    let events: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let complete = events
        .iter()
        .find(|e| e["eventType"] == "COMPLETE" && e["job"]["name"] == "gold/revenue_by_region")
        .unwrap_or_else(|| panic!("no COMPLETE for gold/revenue_by_region in {text}"));
    let fields = complete["outputs"][0]["facets"]["columnLineage"]["fields"]
        .as_object()
        .unwrap_or_else(|| panic!("no column lineage: {complete}"));
    assert!(!fields.is_empty());
    let inputs: Vec<&Value> = fields
        .values()
        .flat_map(|f| f["inputFields"].as_array().unwrap())
        .collect();
    assert!(!inputs.is_empty(), "{fields:?}");
    // Each input names a dataset that is one of the run's inputs of that step.
    let datasets: Vec<&Value> = complete["inputs"].as_array().unwrap().iter().collect();
    for input in &inputs {
        assert!(
            datasets
                .iter()
                .any(|d| d["namespace"] == input["namespace"] && d["name"] == input["name"]),
            "{input} is not among {datasets:?}"
        );
        assert!(input["field"].as_str().is_some_and(|f| !f.is_empty()));
    }
    let Some(python) = stemma_io::testing::test_python() else {
        return;
    };
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/e2e/python/openlineage_check.py"
    );
    let output = Command::new(python)
        .arg(script)
        .arg(home.0.path().join("lineage.jsonl"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        events.len().to_string()
    );
}
