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

/// `key`: the number of rows of the table `input` (all of its partitions, or the same one).
fn row_count(key: &str, input: &'static str) -> stemma::AssetBuilder {
    AssetDef::builder(key)
        .input(input)
        .code_version("1")
        .compute_blocking(move |_, inputs| {
            let table: Table = inputs.get(input)?;
            Ok::<_, stemma::Error>(stemma::Json(table.num_rows()))
        })
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
            row_count("daily_counts", "events")
                .partitions(days())
                .build(),
            row_count("all_events", "events").build(),
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

/// Declared mappings: each day reads the day before (nothing for the first day), and an
/// unpartitioned asset reads only the last day.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offset_and_last_partition_mappings() {
    use stemma::spec::PartitionMapping;
    let days = || stemma::TimeWindows::daily("2026-01-01").end("2026-01-11");
    let fx = Fixture::new(
        Definitions::new().assets([
            AssetDef::builder("events")
                .partitions(days())
                .code_version("1")
                .compute_blocking(|ctx, _| {
                    Ok::<_, stemma::Error>(stemma::Json(
                        ctx.partition_key().unwrap_or_default().to_owned(),
                    ))
                })
                .build(),
            AssetDef::builder("yesterday")
                .partitions(days())
                .input_mapped("events", PartitionMapping::Offset(-1))
                .code_version("1")
                .compute_blocking(|_, inputs| {
                    let before: Option<stemma::Json<String>> = inputs.get("events")?;
                    Ok::<_, stemma::Error>(stemma::Json(before.map(|j| j.0)))
                })
                .build(),
            AssetDef::builder("latest")
                .input_mapped("events", PartitionMapping::Last)
                .code_version("1")
                .compute_blocking(|_, inputs| {
                    let last: stemma::Json<String> = inputs.get("events")?;
                    Ok::<_, stemma::Error>(last)
                })
                .build(),
        ]),
    );
    let (outcome, _) = fx
        .run(Materialize::new("*").partitions(vec!["*".to_owned()]))
        .await;
    assert_eq!(outcome.status, RunStatus::Success, "{outcome:?}");
    assert_eq!(outcome.succeeded, 21);
    let json = |asset: &str, p: Option<&str>| -> serde_json::Value {
        let m = fx.latest(asset, p).unwrap();
        let bytes = std::fs::read(fx.object(m.location.as_deref().unwrap())).unwrap();
        serde_json::from_slice(&bytes).unwrap()
    };
    assert_eq!(json("yesterday", Some("2026-01-05")), "2026-01-04");
    assert_eq!(
        json("yesterday", Some("2026-01-01")),
        serde_json::Value::Null
    );
    assert_eq!(json("latest", None), "2026-01-10");

    // Re-materializing one day makes the next day's `yesterday` and `latest` stale only if it
    // is the day they read.
    let (outcome, _) = fx
        .run(
            Materialize::new("events")
                .partition("2026-01-05")
                .force(true),
        )
        .await;
    assert_eq!(outcome.status, RunStatus::Success);
    let plan = fx
        .engine
        .preview(&Materialize::new("yesterday, latest").partitions(vec!["*".to_owned()]))
        .unwrap();
    let runs: Vec<String> = plan
        .iter()
        .filter(|s| !matches!(s.action, stemma::decision::Action::Skip { .. }))
        .map(|s| s.step.clone())
        .collect();
    assert!(
        runs.is_empty(),
        "the same content everywhere, nothing to do: {runs:?}"
    );

    // A mapping that does not fit the definitions is a definition error.
    let err = stemma::AssetGraph::new(
        Definitions::new().assets([
            AssetDef::builder("a")
                .compute(|_, _| async { Ok::<_, std::io::Error>(()) })
                .build(),
            AssetDef::builder("b")
                .input_mapped("a", PartitionMapping::Last)
                .compute(|_, _| async { Ok::<_, std::io::Error>(()) })
                .build(),
        ]),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("a is not partitioned"), "{err}");
}

/// A three-dimensional asset: day × region × device, one step per key, identity into a
/// downstream with the same dimensions, and all 60 keys combined for an unpartitioned reader.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_dimensional_partitions() {
    let dims = || {
        stemma::MultiPartitions::new([
            (
                "day",
                stemma::TimeWindows::daily("2026-01-01")
                    .end("2026-01-11")
                    .into(),
            ),
            (
                "region",
                PartitionsDefinition::static_keys(["eu", "us", "apac"]),
            ),
            (
                "device",
                PartitionsDefinition::static_keys(["web", "mobile"]),
            ),
        ])
    };
    let key_table = |ctx: &stemma::AssetContext, _| {
        let key = ctx.partition_key().unwrap_or_default().to_owned();
        let batch = RecordBatch::try_from_iter([(
            "key",
            Arc::new(StringArray::from(vec![key])) as ArrayRef,
        )])?;
        Ok::<_, arrow::error::ArrowError>(Table::from_batch(batch))
    };
    let fx = Fixture::new(
        Definitions::new().assets([
            AssetDef::builder("visits")
                .partitions(dims())
                .code_version("1")
                .compute_blocking(key_table)
                .build(),
            AssetDef::builder("sessions")
                .partitions(dims())
                .input("visits")
                .code_version("1")
                .compute_blocking(|_, inputs| inputs.get::<Table>("visits"))
                .build(),
            row_count("all_visits", "visits").build(),
        ]),
    );
    let (one, _) = fx
        .run(Materialize::new("visits, sessions").partition("2026-01-03|us|mobile"))
        .await;
    assert_eq!(one.status, RunStatus::Success, "{one:?}");
    assert_eq!(one.succeeded, 2);
    assert!(
        fx.latest("sessions", Some("2026-01-03|us|mobile"))
            .is_some()
    );

    let (all, _) = fx
        .run(Materialize::new("*").partitions(vec!["*".to_owned()]))
        .await;
    assert_eq!(all.status, RunStatus::Success, "{all:?}");
    assert_eq!(all.succeeded + all.up_to_date, 60 + 60 + 1);
    let total = fx.latest("all_visits", None).unwrap();
    let bytes = std::fs::read(fx.object(total.location.as_deref().unwrap())).unwrap();
    assert_eq!(String::from_utf8(bytes).unwrap(), "60");

    let err = fx
        .engine
        .materialize(
            Materialize::new("visits").partition("2026-01-03|mars|mobile"),
            Arc::new(stemma::NoObserver),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("dimension region") && err.contains("mars"),
        "{err}"
    );
}

/// Partition status as ranges: materialized, failed (until a later success), in progress while
/// a run holds the step, missing otherwise; kept between reads and dropped by a wipe.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partition_status_as_ranges() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use stemma::instance::PartitionState;
    static BROKEN: AtomicBool = AtomicBool::new(true);
    static HOLD: AtomicBool = AtomicBool::new(false);
    let days = || stemma::TimeWindows::daily("2026-01-01").end("2026-02-01");
    let fx = Fixture::new(
        Definitions::new().assets([AssetDef::builder("daily")
            .partitions(days())
            .compute_blocking(|ctx, _| {
                let p = ctx.partition_key().unwrap_or_default().to_owned();
                if p == "2026-01-13" && BROKEN.load(Ordering::SeqCst) {
                    return Err(stemma::Error::Plan("the 13th is broken".into()));
                }
                while p == "2026-01-25" && HOLD.load(Ordering::SeqCst) {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                Ok(stemma::Json(p))
            })
            .build()]),
    );
    let key = stemma::AssetKey::parse("daily").unwrap();
    let def = days().into();
    let status = || fx.engine.instance().partition_status(&key, &def).unwrap();
    let ranges = |set: stemma::ranges::RangeSet| {
        set.ranges()
            .map(|r| (*r.start(), *r.end()))
            .collect::<Vec<_>>()
    };

    assert_eq!(ranges(status().missing()), [(0, 30)]);
    let (outcome, _) = fx
        .run(Materialize::new("daily").partition_range("2026-01-01", "2026-01-10"))
        .await;
    assert_eq!(outcome.status, RunStatus::Success);
    assert_eq!(ranges(status().materialized), [(0, 9)]);
    assert_eq!(ranges(status().missing()), [(10, 30)]);

    let (outcome, _) = fx
        .run(Materialize::new("daily").partition_range("2026-01-11", "2026-01-20"))
        .await;
    assert_eq!(outcome.status, RunStatus::Failure);
    let s = status();
    assert_eq!(ranges(s.materialized.clone()), [(0, 11), (13, 19)]);
    assert_eq!(ranges(s.failed.clone()), [(12, 12)]);
    assert_eq!(s.state(12), PartitionState::Failed);

    BROKEN.store(false, Ordering::SeqCst);
    fx.run(Materialize::new("daily").partition("2026-01-13"))
        .await;
    let s = status();
    assert_eq!(ranges(s.materialized.clone()), [(0, 19)]);
    assert!(s.failed.is_empty());

    // In progress while a run holds the 25th.
    HOLD.store(true, Ordering::SeqCst);
    let engine = fx.engine.clone();
    let run = tokio::spawn(async move {
        engine
            .materialize(
                Materialize::new("daily").partition("2026-01-25"),
                Arc::new(stemma::NoObserver),
            )
            .await
    });
    let mut seen = false;
    for _ in 0..400 {
        if status().state(24) == PartitionState::InProgress {
            seen = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    HOLD.store(false, Ordering::SeqCst);
    run.await.unwrap().unwrap();
    assert!(seen, "the 25th never showed as in progress");
    assert_eq!(status().state(24), PartitionState::Materialized);

    // The 13th fails again after its success: failed, over an older materialization.
    BROKEN.store(true, Ordering::SeqCst);
    fx.run(
        Materialize::new("daily")
            .partition("2026-01-13")
            .force(true),
    )
    .await;
    let s = status();
    assert_eq!(ranges(s.failed.clone()), [(12, 12)]);
    assert_eq!(
        ranges(s.materialized.clone()),
        [(0, 11), (13, 19), (24, 24)]
    );

    // A later end keeps what is known (the same positions), and shows the new days missing.
    let longer = stemma::TimeWindows::daily("2026-01-01").end("2026-02-10");
    assert_eq!(longer.fingerprint(), days().fingerprint());
    let s = fx
        .engine
        .instance()
        .partition_status(&key, &longer.into())
        .unwrap();
    assert_eq!(s.total, 40);
    assert_eq!(ranges(s.failed.clone()), [(12, 12)]);
    assert_eq!(ranges(s.missing()), [(20, 23), (25, 39)]);

    // The cache agrees with a fresh fold; a wipe drops it.
    let fresh = {
        let conn = rusqlite::Connection::open(fx.engine.instance().db_path()).unwrap();
        conn.execute("DELETE FROM partition_status_cache", [])
            .unwrap();
        status()
    };
    assert_eq!(fresh, status());
    fx.engine.wipe("daily").await.unwrap();
    assert_eq!(ranges(status().missing()), [(0, 30)]);
}

/// Backfills: newest partitions first, only what is missing (or failed), recorded; a cancel
/// from outside stops the run, and resuming runs every left partition exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfills_reprocess_cancel_and_resume() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use stemma::{Backfill, EventKind, Reprocess};
    static BROKEN: AtomicBool = AtomicBool::new(true);
    static SLOW: AtomicBool = AtomicBool::new(false);
    static CANCEL_SENT: AtomicBool = AtomicBool::new(false);
    static STARTED: AtomicUsize = AtomicUsize::new(0);
    let days = || stemma::TimeWindows::daily("2026-01-01").end("2026-03-02");
    let fx = Fixture::new(
        Definitions::new().assets([
            AssetDef::builder("raw")
                .partitions(days())
                .compute_blocking(|ctx, _| {
                    let p = ctx.partition_key().unwrap_or_default().to_owned();
                    if p == "2026-01-13" && BROKEN.load(Ordering::SeqCst) {
                        return Err(stemma::Error::Plan("the 13th is broken".into()));
                    }
                    let n = STARTED.fetch_add(1, Ordering::SeqCst) + 1;
                    // Slow: after five steps, the backfill cannot end; it can only be canceled.
                    if SLOW.load(Ordering::SeqCst) && n > 5 {
                        let deadline =
                            std::time::Instant::now() + std::time::Duration::from_secs(30);
                        while !CANCEL_SENT.load(Ordering::SeqCst) {
                            assert!(std::time::Instant::now() < deadline, "never canceled");
                            std::thread::sleep(std::time::Duration::from_millis(2));
                        }
                    }
                    Ok(stemma::Json(p))
                })
                .build(),
            AssetDef::builder("clean")
                .partitions(days())
                .input("raw")
                .compute_blocking(|_, inputs| {
                    let raw: stemma::Json<String> = inputs.get("raw")?;
                    Ok::<_, stemma::Error>(raw)
                })
                .build(),
        ]),
    );
    // Some days exist already.
    fx.run(Materialize::new("*").partition_range("2026-01-01", "2026-01-05"))
        .await;

    let backfill = || Backfill::new("*").range("2026-01-01", "2026-01-31");
    let dry = fx.engine.plan_backfill(&backfill()).unwrap();
    assert_eq!((dry.targets, dry.left_out), (62, 10));
    assert_eq!(dry.plan.steps.len(), 52);

    let (outcome, events) = {
        let observer = Arc::new(crate::Collect::default());
        let outcome = fx
            .engine
            .backfill(backfill().concurrency(1), observer.clone())
            .await
            .unwrap();
        let events = observer.0.lock().unwrap().clone();
        (outcome, events)
    };
    assert_eq!(outcome.run.status, RunStatus::Failure);
    assert_eq!(outcome.run.succeeded, 50, "{:?}", outcome.run);
    // Newest first: the 31st of `raw`, then its `clean`, then the 30th.
    let started: Vec<String> = events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::StepStarted { .. }))
        .filter_map(|e| e.step_label())
        .take(3)
        .collect();
    assert_eq!(
        started,
        ["raw[2026-01-31]", "clean[2026-01-31]", "raw[2026-01-30]"]
    );
    let record = fx
        .engine
        .instance()
        .find_backfill(&outcome.backfill)
        .unwrap();
    assert_eq!(record.status.as_str(), "failed");

    // Only the failed day (and what it blocked) is reprocessed.
    BROKEN.store(false, Ordering::SeqCst);
    let failed = fx
        .engine
        .plan_backfill(&backfill().reprocess(Reprocess::Failed))
        .unwrap();
    let labels: Vec<String> = failed.plan.steps.iter().map(|s| s.label()).collect();
    assert_eq!(labels, ["raw[2026-01-13]"]);
    let missing = fx.engine.plan_backfill(&backfill()).unwrap();
    assert_eq!(missing.plan.steps.len(), 2);

    // A long backfill canceled from outside, then resumed.
    SLOW.store(true, Ordering::SeqCst);
    STARTED.store(0, Ordering::SeqCst);
    let engine = fx.engine.clone();
    let long = tokio::spawn(async move {
        engine
            .backfill(
                Backfill::new("*")
                    .range("2026-02-01", "2026-03-01")
                    .reprocess(Reprocess::All)
                    .concurrency(1),
                Arc::new(stemma::NoObserver),
            )
            .await
    });
    crate::until("five steps of the backfill", || {
        STARTED.load(Ordering::SeqCst) >= 5
    })
    .await;
    let id = fx.engine.instance().backfills(1).unwrap()[0].id.clone();
    let asked = fx.engine.cancel_backfill(&id[..8]).await.unwrap();
    assert_eq!(asked.status.as_str(), "canceling");
    let canceled = long.await.unwrap().unwrap();
    // The step the cancel abandoned may end now (its thread was left waiting).
    CANCEL_SENT.store(true, Ordering::SeqCst);
    assert_eq!(canceled.run.status, RunStatus::Canceled);
    assert_eq!(
        fx.engine
            .instance()
            .find_backfill(&id)
            .unwrap()
            .status
            .as_str(),
        "canceled"
    );
    let done_before = canceled.run.succeeded;
    assert!(done_before > 0 && done_before < 58, "{done_before}");

    let resumed = fx
        .engine
        .resume_backfill(&id, Default::default(), Arc::new(stemma::NoObserver))
        .await
        .unwrap();
    assert_eq!(resumed.run.status, RunStatus::Success);
    assert_eq!(resumed.left_out, done_before);
    assert_eq!(resumed.run.succeeded + done_before, 58);
    assert_eq!(
        fx.engine
            .instance()
            .find_backfill(&id)
            .unwrap()
            .status
            .as_str(),
        "completed"
    );
    // Every partition of the backfill was materialized by exactly one of its runs.
    let runs = fx.engine.instance().backfill_runs(&id).unwrap();
    assert_eq!(runs.len(), 2);
    let mut seen = std::collections::HashMap::new();
    for run in &runs {
        for e in fx.engine.instance().run_events(&run.run_id).unwrap() {
            if matches!(e.kind, EventKind::Materialization(_)) {
                *seen.entry(e.step_label().unwrap()).or_insert(0) += 1;
            }
        }
    }
    assert_eq!(seen.len(), 58);
    assert!(seen.values().all(|&n| n == 1), "{seen:?}");
    // A completed backfill is not resumed.
    let err = fx
        .engine
        .resume_backfill(&id, Default::default(), Arc::new(stemma::NoObserver))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("has completed"), "{err}");
}

/// Dynamic partitions: keys added and removed at run time, shared by every asset declaring the
/// definition, checked when materializing, and counted by the status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamic_partitions_added_and_removed() {
    use stemma::spec::DynamicPartitions;
    let files = || DynamicPartitions::new("files");
    let fx = Fixture::new(
        Definitions::new().assets([
            AssetDef::builder("uploads")
                .partitions(files())
                .compute_blocking(|ctx, _| {
                    Ok::<_, stemma::Error>(stemma::Json(
                        ctx.partition_key().unwrap_or_default().len(),
                    ))
                })
                .build(),
            AssetDef::builder("parsed")
                .partitions(files())
                .input("uploads")
                .compute_blocking(|_, inputs| {
                    let n: stemma::Json<usize> = inputs.get("uploads")?;
                    Ok::<_, stemma::Error>(n)
                })
                .build(),
        ]),
    );
    let keys = |k: &[&str]| k.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    // No keys yet: nothing to materialize, and a key is refused with the way to add it.
    let err = fx
        .engine
        .plan(&Materialize::new("*").partition("a.csv"))
        .unwrap_err();
    assert!(
        err.to_string().contains("\"a.csv\" does not exist"),
        "{err}"
    );
    assert_eq!(
        err.hint(),
        Some(&stemma::Hint::AddDynamicPartition {
            definition: "files".into(),
            key: "a.csv".into()
        }),
        "{err}"
    );

    fx.engine
        .add_dynamic_partitions("files", &keys(&["a.csv", "bb.csv"]))
        .await
        .unwrap();
    let (outcome, _) = fx.run(Materialize::new("*").partition("*")).await;
    assert_eq!(outcome.status, RunStatus::Success);
    assert_eq!(outcome.succeeded, 4);

    // A new key is visible at once; adding a key twice keeps one.
    fx.engine
        .add_dynamic_partitions("files", &keys(&["ccc.csv", "a.csv"]))
        .await
        .unwrap();
    assert_eq!(
        fx.engine.dynamic_partitions("files").unwrap(),
        ["a.csv", "bb.csv", "ccc.csv"]
    );
    let key = stemma::AssetKey::parse("parsed").unwrap();
    let node = fx.engine.graph().lookup("parsed").unwrap();
    let def = fx.engine.graph().spec(node).partitions.clone().unwrap();
    let status = fx.engine.instance().partition_status(&key, &def).unwrap();
    assert_eq!((status.total, status.materialized.len()), (3, 2));
    let (outcome, _) = fx.run(Materialize::new("*").partition("ccc.csv")).await;
    assert_eq!(outcome.succeeded, 2);

    // Removed: gone from the definition (its materialization stays in the instance).
    fx.engine
        .remove_dynamic_partitions("files", &keys(&["bb.csv"]))
        .await
        .unwrap();
    assert_eq!(def.len(), 2);
    assert!(
        fx.engine
            .plan(&Materialize::new("*").partition("bb.csv"))
            .is_err()
    );
    assert!(fx.latest("parsed", Some("bb.csv")).is_some());
    let err = fx
        .engine
        .remove_dynamic_partitions("files", &keys(&["zzz"]))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("no key \"zzz\""), "{err}");
    let err = fx
        .engine
        .add_dynamic_partitions("filez", &keys(&["x"]))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("defined: files"), "{err}");
    // `partitions:dynamic` selects them.
    let (_, set) = fx.engine.select("partitions:dynamic").unwrap();
    assert_eq!(set.count_ones(..), 2);
}
