//! Static partitions: one step per (asset, partition), identity mapping between partitioned
//! assets, and every partition combined for an unpartitioned reader.

use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, StringArray};
use stemma::{AssetDef, Definitions, Materialize, PartitionsDefinition, RunStatus, Table};

use crate::Fixture;

fn regions() -> PartitionsDefinition {
    PartitionsDefinition::static_keys(["eu", "us", "apac"])
}

/// `sales[p]` has one row per letter of the partition key.
fn defs() -> Definitions {
    Definitions::new().assets([
        AssetDef::builder("sales")
            .partitions(regions())
            .compute_blocking(|ctx, _| {
                let p = ctx.partition_key().unwrap_or("none").to_owned();
                let rows: Vec<String> = p.chars().map(|c| format!("{p}:{c}")).collect();
                let batch = RecordBatch::try_from_iter([(
                    "row",
                    Arc::new(StringArray::from(rows)) as ArrayRef,
                )])?;
                Ok::<_, arrow::error::ArrowError>(Table::from_batch(batch))
            })
            .build(),
        AssetDef::builder("regional_report")
            .partitions(regions())
            .input("sales")
            .compute_blocking(|ctx, inputs| {
                let sales: Table = inputs.get("sales")?;
                ctx.add_metadata("rows_in", sales.num_rows());
                Ok::<_, stemma::Error>(sales)
            })
            .build(),
        AssetDef::builder("global_report")
            .input("sales")
            .compute_blocking(|_, inputs| {
                let sales: Table = inputs.get("sales")?;
                Ok::<_, stemma::Error>(sales)
            })
            .build(),
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitions_materialize_one_key_at_a_time() {
    let fx = Fixture::new(defs());
    let err = fx
        .engine
        .materialize(Materialize::new("sales"), Arc::new(stemma::NoObserver))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("asset sales is partitioned (static (3): eu, us, apac)"),
        "{err}"
    );
    let err = fx
        .engine
        .materialize(
            Materialize::new("sales").partition("usa"),
            Arc::new(stemma::NoObserver),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("did you mean \"us\"?"), "{err}");

    let (outcome, _) = fx
        .run(Materialize::new("sales, regional_report").partition("eu"))
        .await;
    assert_eq!(outcome.status, RunStatus::Success);
    assert_eq!(outcome.steps, 2);
    let eu = fx.latest("sales", Some("eu")).unwrap();
    assert_eq!(eu.rows, Some(2));
    assert!(
        eu.location
            .as_deref()
            .unwrap()
            .contains("/sales/partition=eu/"),
        "{:?}",
        eu.location
    );
    assert!(fx.latest("sales", Some("us")).is_none());
    let report = fx.latest("regional_report", Some("eu")).unwrap();
    assert_eq!(
        report.provenance.inputs[0]
            .partition
            .as_ref()
            .map(|p| p.as_str()),
        Some("eu")
    );
    assert_eq!(report.metadata["rows_in"].as_i64(), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unpartitioned_reader_gets_every_partition() {
    let fx = Fixture::new(defs());
    fx.run(Materialize::new("sales").partition("eu")).await;
    let err = fx
        .engine
        .materialize(
            Materialize::new("global_report"),
            Arc::new(stemma::NoObserver),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("sales[us] (read by global_report)"), "{err}");
    assert!(err.contains("sales[apac] (read by global_report)"), "{err}");

    for p in ["us", "apac"] {
        fx.run(Materialize::new("sales").partition(p)).await;
    }
    let (outcome, _) = fx.run(Materialize::new("global_report")).await;
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.failed);
    let global = fx.latest("global_report", None).unwrap();
    assert_eq!(global.rows, Some(2 + 2 + 4));
    let parts: Vec<&str> = global
        .provenance
        .inputs
        .iter()
        .map(|i| i.partition.as_ref().unwrap().as_str())
        .collect();
    assert_eq!(parts, ["eu", "us", "apac"]);
}

/// Daily time windows: computed keys, identity between two daily assets, every day combined
/// for an unpartitioned reader, and keys checked against the format.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daily_time_windows_materialize_by_day() {
    let days = || {
        stemma::TimeWindows::daily("2026-01-01")
            .timezone("Europe/Berlin")
            .end("2026-04-11")
    };
    let fx = Fixture::new(
        Definitions::new().assets([
            AssetDef::builder("events")
                .partitions(days())
                .code_version("1")
                .compute_blocking(|ctx, _| {
                    let day = ctx.partition_key().unwrap_or_default().to_owned();
                    let batch = RecordBatch::try_from_iter([(
                        "day",
                        Arc::new(StringArray::from(vec![day.clone(), day])) as ArrayRef,
                    )])?;
                    Ok::<_, arrow::error::ArrowError>(Table::from_batch(batch))
                })
                .build(),
            AssetDef::builder("daily_counts")
                .partitions(days())
                .input("events")
                .code_version("1")
                .compute_blocking(|_, inputs| {
                    let events: Table = inputs.get("events")?;
                    Ok::<_, stemma::Error>(stemma::Json(events.num_rows()))
                })
                .build(),
            AssetDef::builder("all_events")
                .input("events")
                .code_version("1")
                .compute_blocking(|_, inputs| {
                    let events: Table = inputs.get("events")?;
                    Ok::<_, stemma::Error>(stemma::Json(events.num_rows()))
                })
                .build(),
        ]),
    );
    let (outcome, _) = fx
        .run(Materialize::new("*").partitions(vec!["*".to_owned()]))
        .await;
    assert_eq!(outcome.status, RunStatus::Success, "{outcome:?}");
    assert_eq!(
        outcome.succeeded,
        100 + 100 + 1,
        "100 days of two assets and one total"
    );
    assert!(fx.latest("daily_counts", Some("2026-03-29")).is_some());
    let total = fx.latest("all_events", None).unwrap();
    assert_eq!(total.rows, None);

    // A key that is not a day of the definition names the format.
    let err = fx
        .engine
        .materialize(
            Materialize::new("events").partition("2026-13-01"),
            Arc::new(stemma::NoObserver),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("2026-13-01") && err.contains("%Y-%m-%d"),
        "{err}"
    );
    let err = fx
        .engine
        .materialize(
            Materialize::new("events").partition("2026-04-11"),
            Arc::new(stemma::NoObserver),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("does not exist"),
        "the end is exclusive: {err}"
    );
}

/// Open-ended daily definitions made separately are one definition: the graph evaluates them at
/// the same moment, so identity between them holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_ended_time_windows_made_apart_share_their_partitions() {
    let fx = Fixture::new(
        Definitions::new().assets([
            AssetDef::builder("up")
                .partitions(stemma::TimeWindows::daily("2026-01-01"))
                .compute(|_, _| async { Ok::<_, std::io::Error>(()) })
                .build(),
            AssetDef::builder("down")
                .partitions(stemma::TimeWindows::daily("2026-01-01"))
                .input("up")
                .compute(|_, _| async { Ok::<_, std::io::Error>(()) })
                .build(),
        ]),
    );
    let (outcome, _) = fx.run(Materialize::new("*").partition("2026-01-02")).await;
    assert_eq!(outcome.status, RunStatus::Success, "{outcome:?}");
    assert_eq!(outcome.succeeded, 2);
}
