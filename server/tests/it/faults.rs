//! Execution that survives the real world: retries with backoff on the engine's clock,
//! errors that say not to retry, timeouts.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use stemma::event::{EventKind, ManualClock};
use stemma::spec::{Backoff, Jitter};
use stemma::{
    AssetDef, AssetGraph, Definitions, Json, Materialize, NoRetry, RetryPolicy, RunStatus,
};

use crate::{Collect, of, until};

fn engine_at(
    defs: Definitions,
    home: &std::path::Path,
    clock: &Arc<ManualClock>,
) -> stemma::Engine {
    stemma_server::open_engine(AssetGraph::new(defs).unwrap(), home)
        .unwrap()
        .with_clock(clock.clone())
}

/// Fails `failures` times, then succeeds; counts its calls.
fn flaky(name: &str, failures: u32, calls: &Arc<AtomicU32>) -> stemma::AssetBuilder {
    let calls = Arc::clone(calls);
    AssetDef::builder(name).compute_blocking(move |_, _| {
        if calls.fetch_add(1, Ordering::SeqCst) < failures {
            Err(std::io::Error::other("503 service unavailable"))
        } else {
            Ok(Json(1))
        }
    })
}

/// A step that fails twice then succeeds ends `success` with three attempts recorded, and the
/// waits between them follow the policy on the engine's (manual) clock: no real sleeping.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_wait_as_the_policy_says() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new("2026-11-22T10:00:00Z".parse().unwrap()));
    let calls = Arc::new(AtomicU32::new(0));
    let jittered = Arc::new(AtomicU32::new(0));
    let engine = engine_at(
        Definitions::new().assets([
            flaky("api", 2, &calls)
                .retry(
                    RetryPolicy::new(3)
                        .delay(Duration::from_secs(30))
                        .backoff(Backoff::Exponential),
                )
                .build(),
            flaky("spread", 1, &jittered)
                .retry(
                    RetryPolicy::new(1)
                        .delay(Duration::from_secs(100))
                        .jitter(Jitter::PlusMinus(0.25)),
                )
                .build(),
        ]),
        dir.path(),
        &clock,
    );
    let started = std::time::Instant::now();
    let observer = Arc::new(Collect::default());
    // One at a time: the manual clock is shared, and both would move it.
    let outcome = engine
        .materialize(Materialize::new("api"), observer.clone())
        .await
        .unwrap();
    engine
        .materialize(Materialize::new("spread"), observer.clone())
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "no real waiting"
    );
    assert_eq!(outcome.status, RunStatus::Success, "{outcome:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    let events = observer.0.lock().unwrap().clone();

    let starts: Vec<i64> = of(&events, "api", "step_started")
        .iter()
        .map(|e| e.timestamp)
        .collect();
    assert_eq!(starts.len(), 3, "three attempts");
    let gaps: Vec<i64> = starts
        .windows(2)
        .map(|w| (w[1] - w[0]) / 1_000_000)
        .collect();
    assert_eq!(gaps, [30, 60], "exponential: 30 s, then 60 s");
    let failed = of(&events, "api", "step_failed");
    assert!(matches!(
        failed[1].kind,
        EventKind::StepFailed {
            attempt: 2,
            retrying: true,
            retry_in_ms: Some(60_000),
            ..
        }
    ));
    assert!(matches!(
        of(&events, "api", "step_succeeded")[0].kind,
        EventKind::StepSucceeded { attempts: 3, .. }
    ));

    // ±25 % of 100 s.
    let spread: Vec<i64> = of(&events, "spread", "step_started")
        .iter()
        .map(|e| e.timestamp)
        .collect();
    let gap = (spread[1] - spread[0]) as f64 / 1e6;
    assert!((75.0..=125.0).contains(&gap), "{gap}");

    // The instance has every attempt, for `runs show`.
    let recorded = engine
        .instance()
        .run_events(&outcome.run_id)
        .unwrap()
        .into_iter()
        .filter(|e| {
            e.kind.name() == "step_started" && e.asset.as_ref().is_some_and(|a| a.as_str() == "api")
        })
        .count();
    assert_eq!(recorded, 3);
}

/// A body that says retrying cannot help fails at once; a step past its timeout is cancelled,
/// recorded as timed out, and retried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_retry_errors_and_timeouts() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new("2026-11-22T10:00:00Z".parse().unwrap()));
    let bad_calls = Arc::new(AtomicU32::new(0));
    let bc = Arc::clone(&bad_calls);
    let slow_calls = Arc::new(AtomicU32::new(0));
    let sc = Arc::clone(&slow_calls);
    let engine = engine_at(
        Definitions::new().assets([
            AssetDef::builder("bad_request")
                .retry(RetryPolicy::new(5))
                .compute(move |_, _| {
                    bc.fetch_add(1, Ordering::SeqCst);
                    async {
                        Err::<(), _>(NoRetry::new(std::io::Error::other(
                            "400 bad request: the prompt is empty",
                        )))
                    }
                })
                .build(),
            AssetDef::builder("typed")
                .retry(RetryPolicy::new(5))
                .compute(|_, _| async {
                    Err::<(), _>(stemma::Error::NoRetry("no such file".into()))
                })
                .build(),
            AssetDef::builder("slow")
                .timeout(Duration::from_millis(200))
                .retry(RetryPolicy::new(1))
                .compute(move |_, _| {
                    let first = sc.fetch_add(1, Ordering::SeqCst) == 0;
                    async move {
                        if first {
                            tokio::time::sleep(Duration::from_secs(30)).await;
                        }
                        Ok::<_, std::io::Error>(Json(1))
                    }
                })
                .build(),
        ]),
        dir.path(),
        &clock,
    );
    let started = std::time::Instant::now();
    let observer = Arc::new(Collect::default());
    let outcome = engine
        .materialize(Materialize::new("*"), observer.clone())
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(10));
    let events = observer.0.lock().unwrap().clone();
    assert_eq!(bad_calls.load(Ordering::SeqCst), 1, "not retried");
    let mut failed: Vec<&String> = outcome.failed.iter().map(|f| &f.step).collect();
    failed.sort();
    assert_eq!(failed, ["bad_request", "typed"]);
    assert!(matches!(
        &of(&events, "bad_request", "step_failed")[0].kind,
        EventKind::StepFailed { retrying: false, error, .. } if error.contains("400 bad request")
    ));
    assert_eq!(slow_calls.load(Ordering::SeqCst), 2);
    assert!(matches!(
        &of(&events, "slow", "step_failed")[0].kind,
        EventKind::StepFailed { timed_out: true, retrying: true, error, .. }
            if error == "timed out after 200 ms"
    ));
    assert!(
        engine
            .instance()
            .latest(&stemma::AssetKey::parse("slow").unwrap(), None)
            .unwrap()
            .is_some()
    );
}

/// A pool of 2 holds across three engines on one instance (each with its own connections,
/// as separate processes have): never more than 2 pooled steps at once, and 2 do run at once.
/// A slot held by a holder that died frees itself after its lease; a live holder renews its
/// lease for as long as its step runs. Barriers, not sleeps, decide when steps end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pools_hold_across_runs_and_outlive_dead_holders() {
    use std::sync::atomic::{AtomicBool, AtomicUsize};
    let dir = tempfile::tempdir().unwrap();
    // Pooled `api` steps: each waits until two of them run at once (or every one has started:
    // the last may run alone), so that the overlap the pool allows is reached, not hoped for.
    let (running, peak, started) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
    );
    // `long` runs until released; `short` says when it starts.
    let (release_long, long_running, short_started) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let defs = || {
        let call = |i: usize| {
            let (running, peak, started) = (
                Arc::clone(&running),
                Arc::clone(&peak),
                Arc::clone(&started),
            );
            AssetDef::builder(&format!("call_{i}"))
                .pool("api")
                .compute(move |_, _| {
                    let (running, peak, started) = (
                        Arc::clone(&running),
                        Arc::clone(&peak),
                        Arc::clone(&started),
                    );
                    async move {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        peak.fetch_max(now, Ordering::SeqCst);
                        started.fetch_add(1, Ordering::SeqCst);
                        until("two api steps at once", || {
                            running.load(Ordering::SeqCst) >= 2
                                || started.load(Ordering::SeqCst) >= 12
                        })
                        .await;
                        running.fetch_sub(1, Ordering::SeqCst);
                        Ok::<_, std::io::Error>(Json(i))
                    }
                })
                .build()
        };
        let (release, long_running) = (Arc::clone(&release_long), Arc::clone(&long_running));
        let long = AssetDef::builder("long")
            .pool("solo")
            .compute(move |_, _| {
                let (release, long_running) = (Arc::clone(&release), Arc::clone(&long_running));
                async move {
                    long_running.store(true, Ordering::SeqCst);
                    until("the test to release long", || {
                        release.load(Ordering::SeqCst)
                    })
                    .await;
                    Ok::<_, std::io::Error>(Json(1))
                }
            })
            .build();
        let short_started = Arc::clone(&short_started);
        let short = AssetDef::builder("short")
            .pool("solo")
            .compute(move |_, _| {
                let short_started = Arc::clone(&short_started);
                async move {
                    short_started.store(true, Ordering::SeqCst);
                    Ok::<_, std::io::Error>(Json(2))
                }
            })
            .build();
        Definitions::new().assets((0..4).map(call).chain([long, short]))
    };
    let engines: Vec<stemma::Engine> = (0..3)
        .map(|_| {
            stemma_server::open_engine(AssetGraph::new(defs()).unwrap(), dir.path())
                .unwrap()
                .with_pool_lease(Duration::from_secs(1))
        })
        .collect();
    let instance = engines[0].instance();
    instance.set_pool_limit("api", Some(2)).unwrap();
    instance.set_pool_limit("solo", Some(1)).unwrap();

    let request = || Materialize::new("call_0, call_1, call_2, call_3").concurrency(4);
    let observer = || Arc::new(stemma::NoObserver);
    let (a, b, c) = tokio::join!(
        engines[0].materialize(request(), observer()),
        engines[1].materialize(request(), observer()),
        engines[2].materialize(request(), observer())
    );
    for r in [a, b, c] {
        let o = r.unwrap();
        assert_eq!(o.status, RunStatus::Success, "{o:?}");
    }
    assert_eq!(started.load(Ordering::SeqCst), 12);
    assert_eq!(peak.load(Ordering::SeqCst), 2, "the pool's limit, reached");
    assert!(
        instance
            .pools()
            .unwrap()
            .iter()
            .all(|p| p.holders.is_empty()),
        "all released"
    );

    // A live holder keeps its slot past the lease (1 s, renewed every third of it) by renewing
    // it: `short` waits for as long as `long` runs, here three leases.
    let long = engines[1].materialize(Materialize::new("long"), observer());
    let short = async {
        until("long to start", || long_running.load(Ordering::SeqCst)).await;
        let short = engines[2].materialize(Materialize::new("short"), observer());
        let watch = async {
            tokio::time::sleep(Duration::from_secs(3)).await;
            assert!(
                !short_started.load(Ordering::SeqCst),
                "short took the slot of a live holder"
            );
            release_long.store(true, Ordering::SeqCst);
        };
        let (short, ()) = tokio::join!(short, watch);
        short
    };
    let (long, short) = tokio::join!(long, short);
    assert_eq!(long.unwrap().status, RunStatus::Success);
    assert_eq!(short.unwrap().status, RunStatus::Success);

    // Two slots taken by a holder that died (never renewed, never released): the run waits
    // until their lease (800 ms) has passed, timed from before they were taken.
    let started = std::time::Instant::now();
    for _ in 0..2 {
        let slot = instance
            .try_acquire_slot("api", "pid 1 (killed)", Duration::from_millis(800))
            .unwrap();
        assert!(matches!(slot, Some(stemma::instance::Slot::Leased(_))));
    }
    let outcome = engines[1]
        .materialize(Materialize::new("call_0"), Arc::new(stemma::NoObserver))
        .await
        .unwrap();
    let waited = started.elapsed();
    assert_eq!(outcome.status, RunStatus::Success);
    assert!(waited >= Duration::from_millis(800), "waited {waited:?}");
}

/// Writes through the real local IO manager; when armed, tears the object it just wrote in
/// half and reports a failed write (a full disk, a dropped connection).
#[derive(Debug)]
struct TornWrites {
    inner: stemma_io::ObjectStoreIoManager,
    root: std::path::PathBuf,
    armed: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl stemma::io::IoManager for TornWrites {
    async fn handle_output(
        &self,
        ctx: &stemma::io::OutputContext<'_>,
        value: &stemma::Value,
    ) -> stemma::Result<stemma::io::StoredObject> {
        let stored = self.inner.handle_output(ctx, value).await?;
        if !self.armed.load(Ordering::SeqCst) {
            return Ok(stored);
        }
        if let Some(location) = &stored.location {
            let path = self.root.join(location);
            let bytes = std::fs::read(&path).unwrap();
            std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        }
        Err(stemma::Error::storage("no space left on device"))
    }

    async fn load_input(
        &self,
        ctx: &stemma::io::InputContext<'_>,
    ) -> stemma::Result<stemma::Value> {
        self.inner.load_input(ctx).await
    }

    fn describe(&self) -> String {
        "torn writes".into()
    }
}

/// An IO manager failing mid-write leaves the previous materialization current and readable:
/// the failed step commits nothing, and a reader loads the old value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_write_leaves_the_previous_materialization_current() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("storage");
    let io = Arc::new(TornWrites {
        inner: stemma_io::ObjectStoreIoManager::local(&root).unwrap(),
        root: root.clone(),
        armed: std::sync::atomic::AtomicBool::new(false),
    });
    let version = Arc::new(AtomicU32::new(1));
    let v = Arc::clone(&version);
    let defs = Definitions::new().assets([
        AssetDef::builder("prices")
            .compute_blocking(move |_, _| {
                let n = v.load(Ordering::SeqCst);
                Ok::<_, std::io::Error>(stemma::Table::from_batch(
                    arrow::array::RecordBatch::try_from_iter([(
                        "price",
                        Arc::new(arrow::array::Int64Array::from(vec![n as i64; 1000]))
                            as arrow::array::ArrayRef,
                    )])
                    .unwrap(),
                ))
            })
            .build(),
        AssetDef::builder("report")
            .input("prices")
            .compute_blocking(|_, inputs| {
                let t: stemma::Table = inputs.get("prices")?;
                let batch = &t.batches()[0];
                let col = batch
                    .column(0)
                    .as_any()
                    .downcast_ref::<arrow::array::Int64Array>()
                    .unwrap();
                Ok::<_, stemma::Error>(Json(col.value(0)))
            })
            .build(),
    ]);
    let engine = stemma::Engine::new(
        AssetGraph::new(defs).unwrap(),
        stemma::Instance::open(dir.path()).unwrap(),
        stemma::io::IoManagers::new().register("default", io.clone()),
    )
    .unwrap();
    let key = stemma::AssetKey::parse("prices").unwrap();
    let run = |select: &'static str| {
        engine.materialize(Materialize::new(select), Arc::new(stemma::NoObserver))
    };
    assert_eq!(run("prices").await.unwrap().status, RunStatus::Success);
    let before = engine.instance().latest(&key, None).unwrap().unwrap();

    version.store(2, Ordering::SeqCst);
    io.armed.store(true, Ordering::SeqCst);
    let outcome = run("prices").await.unwrap();
    assert_eq!(outcome.status, RunStatus::Failure);
    assert!(
        outcome.failed[0].error.contains("no space left on device"),
        "{outcome:?}"
    );
    let after = engine.instance().latest(&key, None).unwrap().unwrap();
    assert_eq!(
        after, before,
        "the previous materialization is still current"
    );

    // And readable: a reader loads version 1.
    io.armed.store(false, Ordering::SeqCst);
    assert_eq!(run("report").await.unwrap().status, RunStatus::Success);
    let m = engine
        .instance()
        .latest(&stemma::AssetKey::parse("report").unwrap(), None)
        .unwrap()
        .unwrap();
    let bytes = std::fs::read(root.join(m.location.unwrap())).unwrap();
    assert_eq!(serde_json::from_slice::<i64>(&bytes).unwrap(), 1);
}

/// A limit on runs at once holds across engines: the second run starts when the first ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_limit_on_runs_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let defs = || {
        Definitions::new().assets([AssetDef::builder("slow")
            .compute(|_, _| async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                Ok::<_, std::io::Error>(Json(1))
            })
            .build()])
    };
    let open = || stemma_server::open_engine(AssetGraph::new(defs()).unwrap(), dir.path()).unwrap();
    let (a, b) = (open(), open());
    a.instance()
        .set_pool_limit(stemma::instance::RUNS_POOL, Some(1))
        .unwrap();
    let (ra, rb) = tokio::join!(
        a.materialize(Materialize::new("slow"), Arc::new(stemma::NoObserver)),
        b.materialize(Materialize::new("slow"), Arc::new(stemma::NoObserver))
    );
    let span = |id: &stemma::RunId| {
        let r = a.instance().find_run(id.short()).unwrap();
        (r.started_at, r.ended_at.unwrap())
    };
    let (sa, sb) = (span(&ra.unwrap().run_id), span(&rb.unwrap().run_id));
    let (first, second) = if sa.0 < sb.0 { (sa, sb) } else { (sb, sa) };
    assert!(
        second.0 >= first.1,
        "the runs overlapped: {first:?} {second:?}"
    );
}

/// The project's default retry policy applies to every asset that declares none; an asset's
/// own policy (even "no retries") wins.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_project_default_retry_policy() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new("2026-11-22T10:00:00Z".parse().unwrap()));
    let (a, b) = (Arc::new(AtomicU32::new(0)), Arc::new(AtomicU32::new(0)));
    let engine = engine_at(
        Definitions::new()
            .default_retry(RetryPolicy::new(2).delay(Duration::from_secs(5)))
            .assets([
                flaky("inherits", 1, &a).build(),
                flaky("opts_out", 1, &b).retry(RetryPolicy::new(0)).build(),
            ]),
        dir.path(),
        &clock,
    );
    let outcome = engine
        .materialize(Materialize::new("*"), Arc::new(stemma::NoObserver))
        .await
        .unwrap();
    assert_eq!(a.load(Ordering::SeqCst), 2, "retried once, then succeeded");
    assert_eq!(b.load(Ordering::SeqCst), 1, "its own policy: no retries");
    let failed: Vec<&String> = outcome.failed.iter().map(|f| &f.step).collect();
    assert_eq!(failed, ["opts_out"]);
}

/// Garbage collection's window: it lists the stored objects, then runs `hook` (a run starting
/// in the milliseconds between gc's listing and its deletes) before handing the listing back.
struct PausedListing {
    inner: stemma_io::ObjectStoreIoManager,
    hook: std::sync::Mutex<Option<StartRun>>,
}

/// Starts a run; the handle resolves when it has ended.
type StartRun = Box<dyn FnOnce() -> tokio::task::JoinHandle<()> + Send>;

impl std::fmt::Debug for PausedListing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PausedListing").finish()
    }
}

#[async_trait::async_trait]
impl stemma::io::IoManager for PausedListing {
    async fn handle_output(
        &self,
        ctx: &stemma::io::OutputContext<'_>,
        value: &stemma::Value,
    ) -> stemma::Result<stemma::io::StoredObject> {
        self.inner.handle_output(ctx, value).await
    }

    async fn load_input(
        &self,
        ctx: &stemma::io::InputContext<'_>,
    ) -> stemma::Result<stemma::Value> {
        self.inner.load_input(ctx).await
    }

    async fn list_objects(&self) -> stemma::Result<Vec<stemma::io::ObjectInfo>> {
        let listed = self.inner.list_objects().await?;
        let hook = self.hook.lock().unwrap().take();
        if let Some(start) = hook {
            // Give the run a second to go all the way through while gc waits.
            let _ = tokio::time::timeout(Duration::from_secs(1), start()).await;
        }
        Ok(listed)
    }

    async fn delete_object(&self, location: &str) -> stemma::Result<()> {
        self.inner.delete_object(location).await
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }

    fn object_url(&self, location: &str) -> String {
        self.inner.object_url(location)
    }
}

/// A run that starts inside gc's window — after gc listed the objects, before it deletes them
/// — and reuses by content an object gc found unreferenced, does not lose it: the run waits
/// for gc's storage lease, and writes the object again after gc is done.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_started_inside_gcs_window_keeps_the_object_it_reuses() {
    let dir = tempfile::tempdir().unwrap();
    let defs = Definitions::new()
        .assets([AssetDef::builder("a")
            .code_version("1")
            .compute_blocking(|ctx, _| {
                let v: i64 = ctx.config().get("v")?;
                Ok::<_, stemma::Error>(Json(v))
            })
            .build()])
        .config(stemma::ConfigField::int("v", 1));
    let paused = Arc::new(PausedListing {
        inner: stemma_io::ObjectStoreIoManager::local(dir.path().join("storage")).unwrap(),
        hook: std::sync::Mutex::new(None),
    });
    let engine = stemma::Engine::new(
        AssetGraph::new(defs).unwrap(),
        stemma::Instance::open(dir.path()).unwrap(),
        stemma::IoManagers::new().register("default", paused.clone()),
    )
    .unwrap();
    let run = |v: &str| {
        let engine = engine.clone();
        let request = Materialize::new("a").config([format!("v={v}")]);
        async move {
            engine
                .materialize(request, Arc::new(stemma::NoObserver))
                .await
                .unwrap()
        }
    };
    let first = run("1").await;
    assert_eq!(first.succeeded, 1);
    let object = |engine: &stemma::Engine| {
        let key = stemma::AssetKey::parse("a").unwrap();
        let latest = engine.instance().latest(&key, None).unwrap().unwrap();
        dir.path().join("storage").join(latest.location.unwrap())
    };
    let one = object(&engine);
    // v=2 makes the v=1 object unreferenced once its materialization is pruned.
    run("2").await;
    assert_ne!(object(&engine), one);

    // Inside gc's window, a run computes v=1 again: the same content, the same object.
    let again = Arc::new(std::sync::Mutex::new(None));
    {
        let (again, run) = (Arc::clone(&again), run("1"));
        *paused.hook.lock().unwrap() = Some(Box::new(move || {
            let handle = tokio::spawn(run);
            tokio::spawn(async move {
                let outcome = handle.await.unwrap();
                *again.lock().unwrap() = Some(outcome);
            })
        }));
    }
    let gc = engine
        .gc(&stemma::lifecycle::GcOptions {
            keep_last: 1,
            keep_younger_than: Duration::ZERO,
            grace: Duration::ZERO,
            dry_run: false,
            vacuum: false,
        })
        .await
        .unwrap();
    assert_eq!(gc.objects_deleted, 1, "{gc:?}");
    // The run finishes after gc released its lease.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while again.lock().unwrap().is_none() {
        assert!(std::time::Instant::now() < deadline, "the run never ended");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let outcome = again.lock().unwrap().take().unwrap();
    assert_eq!(outcome.status, RunStatus::Success, "{outcome:?}");
    assert_eq!(
        object(&engine),
        one,
        "v=1 is stored under the same name again"
    );
    assert!(one.exists(), "the object the run committed is on disk");
    let verify = engine.verify(None, false).await.unwrap();
    assert!(verify.problems.is_empty(), "{:?}", verify.problems);
}

/// A process told to exit at once (a second Ctrl-C) first records its runs as canceled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abandoned_runs_are_recorded_canceled() {
    let dir = tempfile::tempdir().unwrap();
    let engine = stemma_server::open_engine(
        AssetGraph::new(
            Definitions::new().assets([AssetDef::builder("slow")
                .compute(|_, _| async {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    Ok::<_, std::io::Error>(Json(1))
                })
                .build()]),
        )
        .unwrap(),
        dir.path(),
    )
    .unwrap();
    let cancel = tokio_util::sync::CancellationToken::new();
    let run = tokio::spawn({
        let (engine, cancel) = (engine.clone(), cancel.clone());
        async move {
            engine
                .materialize(
                    Materialize::new("slow").cancel_token(cancel),
                    Arc::new(stemma::NoObserver),
                )
                .await
        }
    });
    let started = loop {
        if let Some(r) = engine.instance().runs(1).unwrap().first() {
            break r.clone();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(started.status, RunStatus::Started);
    engine
        .abandon_runs("told to exit at once", Duration::from_secs(2))
        .await;
    let record = engine.instance().find_run(started.run_id.short()).unwrap();
    assert_eq!(record.status, RunStatus::Canceled);
    assert_eq!(record.message.as_deref(), Some("told to exit at once"));
    cancel.cancel();
    run.await.unwrap().unwrap();
}
