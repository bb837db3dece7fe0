//! Execution: failures, retries, panics, concurrency, cancellation, logs, provenance.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::time::Duration;

use arrow::array::{ArrayRef, Int64Array, RecordBatch};
use stemma::event::EventKind;
use stemma::{AssetDef, Definitions, Json, Materialize, RetryPolicy, RunStatus, Table, Value};
use tokio_util::sync::CancellationToken;

use crate::{Fixture, message, of};

fn ok_asset(key: &str, inputs: &[&str]) -> AssetDef {
    let mut b = AssetDef::builder(key);
    for i in inputs {
        b = b.input(i);
    }
    b.compute_blocking(|ctx, _| Ok::<_, std::io::Error>(Json(ctx.asset_key().to_string())))
        .build()
}

fn numbers(values: Vec<i64>) -> Table {
    Table::from_batch(
        RecordBatch::try_from_iter([("n", Arc::new(Int64Array::from(values)) as ArrayRef)])
            .unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_skips_downstream_and_independent_branches_finish() {
    let fx = Fixture::new(
        Definitions::new().assets([
            ok_asset("a", &[]),
            AssetDef::builder("b")
                .input("a")
                .compute_blocking(|_, _| Err::<(), _>(std::io::Error::other("disk on fire")))
                .build(),
            ok_asset("c", &["b"]),
            ok_asset("d", &["c"]),
            ok_asset("x", &["a"]),
        ]),
    );
    let (outcome, events) = fx.run(Materialize::new("*")).await;
    assert_eq!(outcome.status, RunStatus::Failure);
    assert_eq!(outcome.succeeded, 2);
    assert_eq!(outcome.skipped, 2);
    assert_eq!(
        outcome.failed,
        [stemma::execute::StepFailure::new("b", "disk on fire")]
    );
    for skipped in ["c", "d"] {
        let e = of(&events, skipped, "step_skipped");
        assert!(
            matches!(&e[0].kind, EventKind::StepSkipped { reason } if reason == "upstream b failed")
        );
    }
    assert!(fx.latest("x", None).is_some());
    assert!(fx.latest("c", None).is_none());
    let run = fx
        .engine
        .instance()
        .find_run(outcome.run_id.short())
        .unwrap();
    assert_eq!(run.status, RunStatus::Failure);
    assert!(run.message.unwrap().contains("failed: b"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_follow_the_policy() {
    let tries = Arc::new(AtomicU32::new(0));
    let seen = Arc::clone(&tries);
    let always = Arc::new(AtomicU32::new(0));
    let always_seen = Arc::clone(&always);
    let fx = Fixture::new(
        Definitions::new().assets([
            AssetDef::builder("flaky")
                .retry(RetryPolicy::new(2).delay(Duration::from_millis(10)))
                .compute_blocking(move |_, _| {
                    if seen.fetch_add(1, Ordering::SeqCst) == 0 {
                        Err(std::io::Error::other("429 too many requests"))
                    } else {
                        Ok(Json(1))
                    }
                })
                .build(),
            AssetDef::builder("broken")
                .retry(RetryPolicy::new(1))
                .compute_blocking(move |_, _| {
                    always_seen.fetch_add(1, Ordering::SeqCst);
                    Err::<(), _>(std::io::Error::other("always"))
                })
                .build(),
        ]),
    );
    let (outcome, events) = fx.run(Materialize::new("*")).await;
    assert_eq!(tries.load(Ordering::SeqCst), 2);
    assert_eq!(always.load(Ordering::SeqCst), 2);
    assert_eq!(outcome.failed.len(), 1);
    let flaky_failed = of(&events, "flaky", "step_failed");
    assert!(matches!(
        flaky_failed[0].kind,
        EventKind::StepFailed {
            retrying: true,
            attempt: 1,
            ..
        }
    ));
    assert!(matches!(
        of(&events, "flaky", "step_succeeded")[0].kind,
        EventKind::StepSucceeded { attempts: 2, .. }
    ));
    let broken = of(&events, "broken", "step_failed");
    assert_eq!(broken.len(), 2);
    assert!(matches!(
        broken[1].kind,
        EventKind::StepFailed {
            retrying: false,
            attempt: 2,
            ..
        }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_body_fails_its_step_not_the_process() {
    let fx = Fixture::new(
        Definitions::new().assets([
            AssetDef::builder("sync_panic")
                .compute_blocking(|_, _| -> Result<(), std::io::Error> { panic!("boom") })
                .build(),
            AssetDef::builder("async_panic")
                .compute(|_, _| async {
                    if true {
                        panic!("async boom")
                    }
                    Ok::<_, std::io::Error>(())
                })
                .build(),
            ok_asset("fine", &[]),
        ]),
    );
    let (outcome, _) = fx.run(Materialize::new("*")).await;
    let mut failed = outcome.failed.clone();
    failed.sort();
    assert_eq!(
        failed,
        [
            stemma::execute::StepFailure::new("async_panic", "panicked: async boom"),
            stemma::execute::StepFailure::new("sync_panic", "panicked: boom")
        ]
    );
    assert!(fx.latest("fine", None).is_some());
}

/// At most `limit` steps run at once, and `limit` do: each step waits (a barrier, not a
/// sleep) until `limit` run together or every step has started.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_bounds_the_steps_in_flight() {
    for limit in [1usize, 3, 4] {
        let now = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let started = Arc::new(AtomicUsize::new(0));
        let defs = Definitions::new().assets((0..6).map(|i| {
            let (now, peak, started) = (Arc::clone(&now), Arc::clone(&peak), Arc::clone(&started));
            AssetDef::builder(&format!("s{i}"))
                .compute(move |_, _| {
                    let (now, peak, started) =
                        (Arc::clone(&now), Arc::clone(&peak), Arc::clone(&started));
                    async move {
                        let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                        peak.fetch_max(n, Ordering::SeqCst);
                        started.fetch_add(1, Ordering::SeqCst);
                        crate::until("the steps the limit allows", || {
                            now.load(Ordering::SeqCst) >= limit
                                || started.load(Ordering::SeqCst) == 6
                        })
                        .await;
                        now.fetch_sub(1, Ordering::SeqCst);
                        Ok::<_, std::io::Error>(())
                    }
                })
                .build()
        }));
        let fx = Fixture::new(defs);
        let (outcome, _) = fx.run(Materialize::new("*").concurrency(limit)).await;
        assert_eq!(outcome.status, RunStatus::Success);
        assert_eq!(peak.load(Ordering::SeqCst), limit, "limit {limit}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_ends_the_run_canceled_without_partial_results() {
    let fx = Fixture::new(
        Definitions::new().assets([
            AssetDef::builder("slow")
                .compute(|_, _| async {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    Ok::<_, std::io::Error>(Json(1))
                })
                .build(),
            ok_asset("after", &["slow"]),
        ]),
    );
    let token = CancellationToken::new();
    let trigger = token.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        trigger.cancel();
    });
    let started = std::time::Instant::now();
    let (outcome, _) = fx.run(Materialize::new("*").cancel_token(token)).await;
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(outcome.status, RunStatus::Canceled);
    assert_eq!(outcome.skipped, 2);
    assert!(fx.latest("slow", None).is_none());
    let run = fx
        .engine
        .instance()
        .find_run(outcome.run_id.short())
        .unwrap();
    assert_eq!(run.status, RunStatus::Canceled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_from_ctx_and_tracing_are_captured_per_step() {
    let fx = Fixture::new(
        Definitions::new().assets([
            AssetDef::builder("talks")
                .compute_blocking(|ctx, _| {
                    ctx.log.warn("careful now");
                    tracing::info!(rows = 3, "hello from a blocking body");
                    Ok::<_, std::io::Error>(())
                })
                .build(),
            AssetDef::builder("talks_async")
                .compute(|ctx, _| async move {
                    tokio::task::yield_now().await;
                    tracing::info!("hello from an async body");
                    ctx.log.info("done");
                    Ok::<_, std::io::Error>(())
                })
                .build(),
        ]),
    );
    let (outcome, events) = fx.run(Materialize::new("*")).await;
    assert_eq!(outcome.status, RunStatus::Success);
    let talks: Vec<&str> = of(&events, "talks", "log")
        .into_iter()
        .filter_map(message)
        .collect();
    assert!(talks.contains(&"careful now"), "{talks:?}");
    assert!(
        talks.contains(&"hello from a blocking body rows=3"),
        "{talks:?}"
    );
    let talks_async: Vec<&str> = of(&events, "talks_async", "log")
        .into_iter()
        .filter_map(message)
        .collect();
    assert_eq!(talks_async, ["hello from an async body", "done"]);
    // They are in the event log, not just shown.
    let stored = fx.engine.instance().run_events(&outcome.run_id).unwrap();
    assert_eq!(of(&stored, "talks", "log").len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provenance_records_code_version_inputs_and_the_config_read() {
    let defs = Definitions::new()
        .config(stemma::ConfigField::int("factor", 2))
        .config(stemma::ConfigField::int("unused", 0))
        .assets([
            AssetDef::builder("base")
                .code_version("v1")
                .compute_blocking(|_, _| Ok::<_, std::io::Error>(numbers(vec![1, 2, 3])))
                .build(),
            AssetDef::builder("scaled")
                .input("base")
                .compute_blocking(|ctx, inputs| {
                    let factor: i64 = ctx.config().get("factor")?;
                    let base: Table = inputs.get("base")?;
                    let batch = base.concat()?;
                    let col = batch
                        .column(0)
                        .as_any()
                        .downcast_ref::<Int64Array>()
                        .unwrap();
                    let scaled: Vec<i64> = col.values().iter().map(|v| v * factor).collect();
                    ctx.add_metadata("factor", factor);
                    Ok::<_, stemma::Error>(numbers(scaled))
                })
                .build(),
        ]);
    let fx = Fixture::new(defs);
    let (outcome, _) = fx.run(Materialize::new("*").config(["factor=3"])).await;
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.failed);
    let base = fx.latest("base", None).unwrap();
    let scaled = fx.latest("scaled", None).unwrap();
    assert_eq!(base.provenance.code_version.as_deref(), Some("v1"));
    assert_eq!(scaled.provenance.inputs.len(), 1);
    assert_eq!(scaled.provenance.inputs[0].asset.as_str(), "base");
    assert_eq!(scaled.provenance.inputs[0].data_version, base.data_version);
    assert_eq!(
        scaled.provenance.config.iter().collect::<Vec<_>>(),
        [(&"factor".to_owned(), &Some("3".to_owned()))]
    );
    assert_eq!(scaled.rows, Some(3));
    assert_eq!(scaled.metadata["factor"].as_i64(), Some(3));
    assert_eq!(scaled.metadata["row_count"].as_i64(), Some(3));
    assert!(scaled.metadata.contains_key("columns") && scaled.metadata.contains_key("bytes"));

    // Loading `base` from storage gives the value handed over in memory: same result.
    let (again, _) = fx
        .run(Materialize::new("scaled").config(["factor=3"]))
        .await;
    assert_eq!(again.status, RunStatus::Success);
    assert_eq!(
        fx.latest("scaled", None).unwrap().data_version,
        scaled.data_version
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_boundaries_do_not_change_the_data_version_or_the_object() {
    let split = Arc::new(AtomicU32::new(0));
    let calls = Arc::clone(&split);
    let fx = Fixture::new(
        Definitions::new().asset(
            AssetDef::builder("t")
                .compute_blocking(move |_, _| {
                    let whole = numbers((0..10).collect()).concat()?;
                    let cut = 1 + calls.fetch_add(3, Ordering::SeqCst) as usize;
                    let parts = vec![whole.slice(0, cut), whole.slice(cut, 10 - cut)];
                    Ok::<_, stemma::Error>(Value::Table(Table::new(whole.schema(), parts)?))
                })
                .build(),
        ),
    );
    fx.run(Materialize::new("t")).await;
    let first = fx.latest("t", None).unwrap();
    fx.run(Materialize::new("t")).await;
    let second = fx.latest("t", None).unwrap();
    assert_eq!(first.data_version, second.data_version);
    assert_eq!(first.location, second.location);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_assets_are_never_materialized() {
    let fx = Fixture::new(
        Definitions::new().assets([
            AssetDef::external("vendor_feed")
                .description("delivered nightly by a vendor")
                .build(),
            AssetDef::builder("uses_vendor")
                .dep("vendor_feed")
                .compute_blocking(|_, _| Ok::<_, std::io::Error>(()))
                .build(),
        ]),
    );
    let (outcome, _) = fx.run(Materialize::new("*")).await;
    assert_eq!(outcome.steps, 1);
    let err = fx
        .engine
        .materialize(
            Materialize::new("vendor_feed"),
            Arc::new(stemma::NoObserver),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("only external assets (vendor_feed)"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_step_chain_commits_every_materialization() {
    let defs = Definitions::new().assets((0..1000).map(|i| {
        let b = AssetDef::builder(&format!("n{i:04}"));
        let b = if i > 0 {
            b.dep(&format!("n{:04}", i - 1))
        } else {
            b
        };
        b.compute(|_, _| async { Ok::<_, std::io::Error>(()) })
            .build()
    }));
    let fx = Fixture::new(defs);
    let started = std::time::Instant::now();
    let (outcome, _) = fx.run(Materialize::new("*")).await;
    let elapsed = started.elapsed();
    assert_eq!(outcome.status, RunStatus::Success);
    assert_eq!(outcome.succeeded, 1000);
    let latest = fx.engine.instance().latest_materializations(None).unwrap();
    assert_eq!(latest.len(), 1000);
    let events = fx.engine.instance().run_events(&outcome.run_id).unwrap();
    // run started + (started, materialization, succeeded) per step + run ended.
    assert_eq!(events.len(), 2 + 3 * 1000);
    eprintln!(
        "1000 no-op steps in a chain: {elapsed:?} ({:?}/step)",
        elapsed / 1000
    );
}

#[test]
fn the_cli_exits_2_on_invalid_definitions() {
    let defs = Definitions::new().assets([ok_asset("a", &["b"]), ok_asset("b", &["a"])]);
    let code = stemma_server::cli::run_from(defs, ["assets", "list"]);
    assert_eq!(code, std::process::ExitCode::from(2));
    let err = stemma::AssetGraph::new(
        Definitions::new().assets([ok_asset("a", &["b"]), ok_asset("b", &["a"])]),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("dependency cycle: a → b → a") || err.contains("dependency cycle: b → a → b"),
        "{err}"
    );
}

mod macro_defined {
    use stemma::prelude::*;

    /// Numbers, from an async body.
    #[asset(group = "demo")]
    pub async fn numbers(ctx: &AssetContext) -> AssetResult<Json<Vec<i64>>> {
        tokio::task::yield_now().await;
        ctx.add_metadata("count", 3);
        Ok(Json(vec![1, 2, 3]))
    }

    /// Their sum, from a blocking body.
    #[asset(group = "demo")]
    pub fn total(numbers: Json<Vec<i64>>) -> Json<i64> {
        Json(numbers.iter().sum())
    }

    #[asset_check(asset = total, blocking)]
    pub fn total_is_six(total: Json<i64>) -> CheckResult {
        CheckResult::from_bool(total.0 == 6, format!("total is {}", total.0))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn macro_defined_assets_run_async_and_blocking_bodies() {
    let fx = Fixture::new(
        Definitions::new()
            .assets([macro_defined::numbers(), macro_defined::total()])
            .check(macro_defined::total_is_six()),
    );
    let (outcome, _) = fx.run(Materialize::new("numbers+")).await;
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.failed);
    assert_eq!(outcome.checks_passed, 1);
    let numbers = fx.latest("numbers", None).unwrap();
    assert_eq!(numbers.metadata["count"].as_i64(), Some(3));
    let total = fx.latest("total", None).unwrap();
    assert_eq!(
        total.provenance.inputs[0].data_version,
        numbers.data_version
    );
    assert_eq!(
        total.provenance.code_version.as_deref().map(str::len),
        Some(16)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_records_where_its_time_went() {
    let fx = Fixture::new(
        Definitions::new().assets([
            AssetDef::builder("slow")
                .compute_blocking(|_, _| {
                    std::thread::sleep(Duration::from_millis(60));
                    Ok::<_, std::io::Error>(numbers((0..10_000).collect()))
                })
                .build(),
            AssetDef::builder("reader")
                .input("slow")
                .compute_blocking(|_, inputs| {
                    let t: Table = inputs.get("slow")?;
                    Ok::<_, stemma::BoxError>(Json(t.num_rows()))
                })
                .build(),
        ]),
    );
    let (outcome, events) = fx.run(Materialize::new("*")).await;
    assert_eq!(outcome.succeeded, 2);
    for asset in ["slow", "reader"] {
        let e = of(&events, asset, "step_succeeded");
        let EventKind::StepSucceeded {
            duration_ms,
            phases: Some(p),
            ..
        } = &e[0].kind
        else {
            panic!("{asset}: no phases in {:?}", e[0].kind);
        };
        let parts = p.load_ms + p.compute_ms + p.hash_ms + p.store_ms;
        assert!(parts <= *duration_ms, "{asset}: {p:?} over {duration_ms}");
        assert!(p.store_ms > 0.0 && p.hash_ms > 0.0, "{asset}: {p:?}");
        if asset == "slow" {
            assert!(p.compute_ms >= 60.0, "{p:?}");
        } else {
            assert!(p.compute_ms < 60.0, "{p:?}");
        }
    }
}

/// Errors say what they mean, so a front end can choose: a run that does not exist is
/// `NotFound`, cancelling an ended run a `Conflict`, a partitioned asset without a partition
/// `PartitionRequired`, an upstream never materialized `MissingUpstream` with a selection that
/// would plan, a bad selection `InvalidInput`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_say_what_kind_they_are() {
    use stemma::{Error, ErrorKind, PartitionsDefinition};
    let fx = Fixture::new(
        Definitions::new().assets([
            ok_asset("a", &[]),
            ok_asset("b", &["a"]),
            AssetDef::builder("regional")
                .partitions(PartitionsDefinition::static_keys(["eu", "us"]))
                .compute_blocking(|_, _| Ok::<_, std::io::Error>(Json(1)))
                .build(),
        ]),
    );
    let observer = || Arc::new(stemma::NoObserver);

    let err = fx.engine.cancel_run("deadbeef").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(
        matches!(err.inner(), Error::NotFound { what: "run", id, .. } if id == "deadbeef"),
        "{err:?}"
    );
    // Core says what can be done without speaking one front end's language.
    assert_eq!(err.hint(), Some(&stemma::Hint::ListRuns));
    assert!(!err.to_string().contains("assets "), "{err}");

    let (outcome, _) = fx.run(Materialize::new("a")).await;
    let err = fx
        .engine
        .cancel_run(outcome.run_id.as_str())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    assert!(err.to_string().contains("has already ended"), "{err}");

    let err = fx
        .engine
        .materialize(Materialize::new("regional"), observer())
        .await
        .unwrap_err();
    assert!(
        matches!(err.inner(), Error::PartitionRequired { asset, .. } if asset == "regional"),
        "{err:?}"
    );
    assert_eq!(err.hint(), Some(&stemma::Hint::ChoosePartitions));
    assert!(!err.to_string().contains("--partition"), "{err}");
    assert_eq!(err.kind(), ErrorKind::InvalidInput);

    let fresh =
        Fixture::new(Definitions::new().assets([ok_asset("a", &[]), ok_asset("b", &["a"])]));
    let err = fresh
        .engine
        .materialize(Materialize::new("b"), observer())
        .await
        .unwrap_err();
    let Error::MissingUpstream {
        upstreams,
        suggestion,
        ..
    } = err.inner()
    else {
        panic!("{err:?}")
    };
    assert_eq!(upstreams, &["a".to_owned()]);
    assert_eq!(suggestion.as_deref(), Some("+b"), "{err}");
    assert_eq!(
        err.hint(),
        Some(&stemma::Hint::WidenSelection {
            selection: "+b".into(),
            everything_upstream: Some("*b".into())
        }),
        "{err}"
    );
    assert!(err.to_string().contains("nothing was run"), "{err}");

    let err = fx
        .engine
        .materialize(Materialize::new("a +"), observer())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");

    // In a selection an unknown asset is a bad selection (with its caret); named alone, it is
    // not found.
    let err = fx
        .engine
        .materialize(Materialize::new("nope"), observer())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    let err = fx.engine.graph().lookup("nope").unwrap_err();
    assert!(
        matches!(&err, Error::NotFound { what: "asset", .. }),
        "{err:?}"
    );
}

/// `Engine::read` runs a read off the runtime's thread: on a single-threaded runtime, a read
/// that waits for a task of that same runtime still finishes (a read run in place would
/// deadlock; the wait gives up after 10 s and fails the test instead of hanging).
#[tokio::test(flavor = "current_thread")]
async fn reads_from_async_code_do_not_block_the_runtime() {
    let fx = Fixture::new(Definitions::new().assets([ok_asset("a", &[])]));
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let helper = tokio::spawn(async move {
        tokio::task::yield_now().await;
        tx.send(()).unwrap();
    });
    let status = fx
        .engine
        .read(move |engine| {
            rx.recv_timeout(std::time::Duration::from_secs(10))
                .map_err(|e| stemma::Error::Internal(format!("the runtime was blocked: {e}")))?;
            engine.status()
        })
        .await
        .unwrap();
    helper.await.unwrap();
    let node = fx.engine.graph().node_by_str("a").unwrap();
    assert_eq!(status.get(node).unwrap().state().as_str(), "missing");
}

/// The engine reaches the instance's storage only through `InstanceStore`: an engine on a
/// store handed to `Instance::from_store` runs, records and reads back like one opened the
/// usual way (which is what a second backend will be given to).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_runs_on_a_store_handed_to_the_instance() {
    use stemma::instance::{Instance, InstanceStore, SqliteStore};
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let instance = Instance::from_store(store);
    let graph = stemma::AssetGraph::new(
        Definitions::new().assets([ok_asset("a", &[]), ok_asset("b", &["a"])]),
    )
    .unwrap();
    let io = stemma_server::ProjectConfig::default()
        .io_managers_with(dir.path(), None, graph.io_managers(), graph.io_schemes())
        .unwrap();
    let engine = stemma::Engine::new(graph, instance, io).unwrap();
    let outcome = engine
        .materialize(Materialize::new("*"), Arc::new(stemma::NoObserver))
        .await
        .unwrap();
    assert_eq!(outcome.status, RunStatus::Success);
    assert_eq!(outcome.succeeded, 2);
    let store: &dyn InstanceStore = &**engine.instance();
    assert_eq!(store.runs(10).unwrap().len(), 1);
    assert_eq!(store.latest_materializations(None).unwrap().len(), 2);
}
