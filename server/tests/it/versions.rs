//! Versions you can trust: incremental runs, early cutoff, staleness per partition with causes,
//! the plan preview, garbage collection and verification — on a real instance and real files.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use stemma::decision::{Action, Reason};
use stemma::event::{Event, EventKind};
use stemma::lifecycle::GcOptions;
use stemma::staleness::{Cause, Freshness, Staleness, VersionState, cause, why_stale};
use stemma::{AssetDef, Definitions, Json, Materialize, PartitionsDefinition, RunStatus};

use crate::{Fixture, of};

/// Counts how often each asset body ran.
#[derive(Clone, Default)]
struct Calls(Arc<Mutex<HashMap<String, usize>>>);

impl Calls {
    fn hit(&self, key: &str) {
        *self.0.lock().unwrap().entry(key.to_owned()).or_default() += 1;
    }

    fn of(&self, key: &str) -> usize {
        self.0.lock().unwrap().get(key).copied().unwrap_or(0)
    }
}

/// A value the test changes between runs.
#[derive(Clone, Default)]
struct World(Arc<Mutex<HashMap<String, i64>>>);

impl World {
    fn set(&self, key: &str, v: i64) {
        self.0.lock().unwrap().insert(key.to_owned(), v);
    }

    fn get(&self, key: &str) -> i64 {
        self.0.lock().unwrap().get(key).copied().unwrap_or(0)
    }
}

/// An asset with code version "1" whose value is `f(world, inputs)`.
fn asset(
    key: &str,
    inputs: &[&str],
    calls: &Calls,
    f: impl Fn(&[i64]) -> i64 + Send + Sync + 'static,
) -> AssetDef {
    let mut b = AssetDef::builder(key).code_version("1");
    for i in inputs {
        b = b.input(i);
    }
    let calls = calls.clone();
    let name = key.to_owned();
    let n = inputs.len();
    b.compute_blocking(move |_, inputs| {
        calls.hit(&name);
        let values: Vec<i64> = (0..n)
            .map(|i| inputs.at::<Json<i64>>(i).map(|j| j.0))
            .collect::<Result<_, _>>()?;
        Ok::<_, stemma::Error>(Json(f(&values)))
    })
    .build()
}

/// `source` (from the world) → `parity` (source % 2) → `report` (parity * 10); and `other`.
fn cutoff_defs(calls: &Calls, world: &World, volatile: bool) -> Definitions {
    let w = world.clone();
    let c = calls.clone();
    let source = AssetDef::builder("source")
        .code_version("1")
        .volatile(volatile)
        .compute_blocking(move |_, _| {
            c.hit("source");
            Ok::<_, std::io::Error>(Json(w.get("source")))
        })
        .build();
    Definitions::new().assets([
        source,
        asset("parity", &["source"], calls, |v| v[0] % 2),
        asset("report", &["parity"], calls, |v| v[0] * 10),
        asset("other", &[], calls, |_| 7),
    ])
}

fn kinds<'a>(events: &'a [Event], kind: &str) -> Vec<&'a str> {
    events
        .iter()
        .filter(|e| e.kind.name() == kind)
        .filter_map(|e| e.asset.as_ref().map(|a| a.as_str()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_with_nothing_changed_runs_no_body() {
    let calls = Calls::default();
    let world = World::default();
    let fx = Fixture::new(cutoff_defs(&calls, &world, false));
    let (first, _) = fx.run(Materialize::new("*")).await;
    assert_eq!((first.succeeded, first.up_to_date), (4, 0));

    let (second, events) = fx.run(Materialize::new("*")).await;
    assert_eq!(second.status, RunStatus::Success);
    assert_eq!((second.succeeded, second.up_to_date), (0, 4));
    assert_eq!(
        calls.of("source") + calls.of("report"),
        2,
        "no body ran again"
    );
    assert!(kinds(&events, "materialization").is_empty());
    // Each skip names the materialization it reused.
    let reused = of(&events, "report", "step_up_to_date");
    let EventKind::StepUpToDate {
        materialization,
        data_version,
    } = &reused[0].kind
    else {
        panic!()
    };
    let latest = fx
        .engine
        .instance()
        .latest(&stemma::AssetKey::parse("report").unwrap(), None)
        .unwrap()
        .unwrap();
    assert_eq!(
        (*materialization, data_version),
        (latest.event_id, &latest.data_version)
    );

    // --force recomputes everything.
    let (forced, _) = fx.run(Materialize::new("*").force(true)).await;
    assert_eq!((forced.succeeded, forced.up_to_date), (4, 0));
    assert_eq!(calls.of("report"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_identical_recompute_cuts_off_its_downstream() {
    let calls = Calls::default();
    let world = World::default();
    world.set("source", 1);
    // `source` is volatile: it always runs, and only its output decides what follows.
    let fx = Fixture::new(cutoff_defs(&calls, &world, true));
    fx.run(Materialize::new("*")).await;
    assert_eq!(calls.of("parity"), 1);

    // Same world: source runs, produces the same value, everything downstream is up to date.
    let (run, events) = fx.run(Materialize::new("*")).await;
    assert_eq!(calls.of("source"), 2);
    assert_eq!(calls.of("parity"), 1);
    assert_eq!(run.up_to_date, 3);
    assert_eq!(kinds(&events, "materialization"), ["source"]);

    // 1 → 3: source changes, parity runs and comes out the same (odd), report is cut off.
    world.set("source", 3);
    let (run, _) = fx.run(Materialize::new("*")).await;
    assert_eq!((calls.of("parity"), calls.of("report")), (2, 1));
    assert_eq!((run.succeeded, run.up_to_date), (2, 2));
    let (_, staleness) = fx.engine.staleness().unwrap();
    for k in ["source", "parity", "report", "other"] {
        let n = fx.engine.graph().node_by_str(k).unwrap();
        assert_eq!(staleness.state(n, 0).freshness, Freshness::Fresh, "{k}");
    }

    // 3 → 4: parity changes, so report runs.
    world.set("source", 4);
    fx.run(Materialize::new("*")).await;
    assert_eq!(calls.of("report"), 2);
    let report = fx.latest("report", None).unwrap();
    let value: i64 = serde_json::from_str(
        &std::fs::read_to_string(fx.object(report.location.as_deref().unwrap())).unwrap(),
    )
    .unwrap();
    assert_eq!(value, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_and_code_changes_rerun_exactly_what_they_touch() {
    let calls = Calls::default();
    let c = calls.clone();
    let defs = |code: &str| {
        let c = c.clone();
        Definitions::new()
            .assets([
                AssetDef::builder("scaled")
                    .code_version(code)
                    .compute_blocking(move |ctx, _| {
                        c.hit("scaled");
                        Ok::<_, stemma::Error>(Json(ctx.config().get::<i64>("factor")? * 2))
                    })
                    .build(),
                asset("after", &["scaled"], &calls, |v| v[0] + 1),
                asset("plain", &[], &calls, |_| 1),
            ])
            .config(stemma::ConfigField::int("factor", 3))
    };
    let fx = Fixture::new(defs("1"));
    fx.run(Materialize::new("*")).await;
    // Another config value: the asset that read it runs; `plain` does not.
    let (run, _) = fx.run(Materialize::new("*").config(["factor=4"])).await;
    assert_eq!(
        (calls.of("scaled"), calls.of("after"), calls.of("plain")),
        (2, 2, 1)
    );
    assert_eq!(run.up_to_date, 1);
    // Back to the default: it differs from the value last read.
    let (run, _) = fx.run(Materialize::new("*")).await;
    assert_eq!((run.succeeded, run.up_to_date), (2, 1));

    // A new code version of `scaled`, in the same instance: it and its downstream are stale.
    let home = fx.home().to_path_buf();
    let graph = stemma::AssetGraph::new(defs("2")).unwrap();
    let engine = stemma_server::open_engine(graph, &home).unwrap();
    let status = engine.status().unwrap();
    let state = |k: &str| {
        status
            .get(engine.graph().node_by_str(k).unwrap())
            .unwrap()
            .clone()
    };
    assert!(state("scaled").stale && state("scaled").code_changed);
    assert!(state("after").stale && !state("after").code_changed);
    assert!(state("plain").fresh());
    let (_, staleness) = engine.staleness().unwrap();
    let after = engine.graph().node_by_str("after").unwrap();
    assert_eq!(staleness.state(after, 0).causes, cause::UPSTREAM_STALE);
    // The preview: scaled runs because its code changed; after only if scaled's data does.
    let preview = engine.preview(&Materialize::new("*")).unwrap();
    let action = |k: &str| preview.iter().find(|s| s.step == k).unwrap().action.clone();
    assert!(matches!(
        action("scaled"),
        Action::Run { reason: Reason::CodeChanged { recorded: Some(r), current: Some(c), .. } } if r == "1" && c == "2"
    ));
    assert_eq!(
        action("after"),
        Action::RunIfUpstreamChanges {
            upstream: vec!["scaled".into()]
        }
    );
    assert!(matches!(action("plain"), Action::Skip { .. }));
    // Previewing ran nothing and recorded no run.
    assert_eq!(engine.instance().runs(100).unwrap().len(), 3);
    // The new code computes the same value: scaled reruns, after is cut off.
    let outcome = engine
        .materialize(Materialize::new("*"), Arc::new(stemma::NoObserver))
        .await
        .unwrap();
    assert_eq!((outcome.succeeded, outcome.up_to_date), (1, 2));
}

/// `raw[p]` (1,000 partitions, from the world) → `daily[p]` → `summary` (every partition).
fn thousand(world: &World, calls: &Calls) -> (Definitions, PartitionsDefinition) {
    let keys: Vec<String> = (0..1000).map(|i| format!("p{i:04}")).collect();
    let parts = PartitionsDefinition::static_keys(keys.iter().map(String::as_str));
    let w = world.clone();
    let c = calls.clone();
    let defs = Definitions::new().assets([
        AssetDef::builder("raw")
            .code_version("1")
            .partitions(parts.clone())
            .compute_blocking(move |ctx, _| {
                let p = ctx.partition_key().unwrap_or_default().to_owned();
                Ok::<_, std::io::Error>(Json(w.get(&p)))
            })
            .build(),
        AssetDef::builder("daily")
            .code_version("1")
            .partitions(parts.clone())
            .input("raw")
            .compute_blocking(move |_, inputs| {
                c.hit("daily");
                Ok::<_, stemma::Error>(Json(inputs.at::<Json<i64>>(0)?.0 * 2))
            })
            .build(),
        AssetDef::builder("summary")
            .code_version("1")
            .input("daily")
            .compute_blocking(|_, _| Ok::<_, std::io::Error>(Json(0)))
            .build(),
    ]);
    (defs, parts)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_partitions_feeding_an_unpartitioned_asset_are_judged_one_by_one() {
    let world = World::default();
    let calls = Calls::default();
    let (defs, parts) = thousand(&world, &calls);
    let fx = Fixture::new(defs);
    let (all, _) = fx.run(Materialize::new("*").partition("*")).await;
    assert_eq!((all.status, all.succeeded), (RunStatus::Success, 2001));
    let status = fx.engine.status().unwrap();
    let node = |k: &str| fx.engine.graph().node_by_str(k).unwrap();
    assert!(status.get(node("daily")).unwrap().fresh());
    assert_eq!(status.get(node("daily")).unwrap().partitions.fresh, 1000);

    // One raw partition gets new data.
    // The source of one raw partition changes; Stemma cannot see that, so it is re-ingested
    // with --force.
    world.set("p0042", 5);
    let (ingest, _) = fx.run(Materialize::new("raw").partition("p0042")).await;
    assert_eq!(ingest.up_to_date, 1);
    fx.run(Materialize::new("raw").partition("p0042").force(true))
        .await;
    let (versions, staleness) = fx.engine.staleness().unwrap();
    let i = parts.index_of("p0042").unwrap();
    let daily = staleness.summary(node("daily"));
    assert_eq!((daily.fresh, daily.stale, daily.missing), (999, 1, 0));
    assert_eq!(
        staleness.state(node("daily"), i).causes,
        cause::INPUTS_CHANGED
    );
    assert_eq!(
        staleness.state(node("summary"), 0).causes,
        cause::UPSTREAM_STALE
    );
    assert_eq!(staleness.summary(node("raw")).stale, 0);

    // Why is summary stale? Because daily[p0042] read an old raw[p0042].
    let tree = why_stale(
        fx.engine.graph(),
        &versions,
        &staleness,
        fx.engine.instance(),
        fx.engine.config(),
        node("summary"),
        0,
    )
    .unwrap();
    assert!(tree.causes.is_empty());
    assert_eq!(tree.upstream.len(), 1);
    let up = &tree.upstream[0];
    assert_eq!(up.partition.as_ref().map(|p| p.as_str()), Some("p0042"));
    let roots = tree.roots();
    assert_eq!(roots.len(), 1);
    assert!(
        matches!(&roots[0].causes[..], [Cause::InputChanged { asset, partition: Some(p), .. }] if asset.as_str() == "raw" && p.as_str() == "p0042"),
        "{:?}",
        roots[0].causes
    );

    // Materializing every partition of daily again runs only the stale one.
    let daily_calls = calls.of("daily");
    let (run, _) = fx.run(Materialize::new("daily+").partition("*")).await;
    assert_eq!(calls.of("daily"), daily_calls + 1);
    assert_eq!((run.succeeded, run.up_to_date), (2, 999));
    let (_, staleness) = fx.engine.staleness().unwrap();
    assert_eq!(staleness.summary(node("daily")).fresh, 1000);
    assert_eq!(
        staleness.state(node("summary"), 0).freshness,
        Freshness::Fresh
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_observed_source_drives_staleness_and_a_failing_observer_forces_its_readers() {
    let world = World::default();
    let calls = Calls::default();
    let w = world.clone();
    let fx = Fixture::new(
        Definitions::new().assets([
            AssetDef::external("files")
                .observe_blocking(move |_| match w.get("broken") {
                    0 => Ok(format!("listing {}", w.get("files"))),
                    _ => Err(std::io::Error::other("the share is offline")),
                })
                .build(),
            AssetDef::builder("index")
                .code_version("1")
                .dep("files")
                .compute_blocking({
                    let calls = calls.clone();
                    move |_, _| {
                        calls.hit("index");
                        Ok::<_, std::io::Error>(Json(1))
                    }
                })
                .build(),
        ]),
    );
    fx.run(Materialize::new("index")).await;
    let (again, _) = fx.run(Materialize::new("index")).await;
    assert_eq!(again.up_to_date, 1);
    // The files change: index is stale, because of the source.
    world.set("files", 2);
    let (_, staleness) = fx.engine.staleness().unwrap();
    let index = fx.engine.graph().node_by_str("index").unwrap();
    assert_eq!(staleness.state(index, 0).causes, cause::INPUTS_CHANGED);
    fx.run(Materialize::new("index")).await;
    assert_eq!(calls.of("index"), 2);
    // Observations are recorded only when the version changes.
    let observation = |fx: &Fixture| {
        let files = stemma::AssetKey::parse("files").unwrap();
        fx.engine
            .instance()
            .latest(&files, None)
            .unwrap()
            .unwrap()
            .event_id
    };
    let before = observation(&fx);
    fx.engine.status().unwrap();
    fx.engine.status().unwrap();
    assert_eq!(observation(&fx), before);
    // The observer fails: a warning, not an error; the reader is not trusted to be up to date.
    world.set("broken", 1);
    assert!(fx.engine.status().is_ok());
    let (run, _) = fx.run(Materialize::new("index")).await;
    assert_eq!((run.succeeded, run.up_to_date), (1, 0));
    let preview = fx.engine.preview(&Materialize::new("index")).unwrap();
    assert!(matches!(
        &preview[0].action,
        Action::Run { reason: Reason::SourceUnobserved { asset } } if asset.as_str() == "files"
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gc_keeps_what_the_policy_says_and_verify_finds_what_changed_on_disk() {
    let world = World::default();
    let calls = Calls::default();
    let w = world.clone();
    let fx = Fixture::new(
        Definitions::new().assets([
            AssetDef::builder("counter")
                .code_version("1")
                .volatile(true)
                .compute_blocking(move |_, _| Ok::<_, std::io::Error>(Json(w.get("n"))))
                .build(),
            asset("double", &["counter"], &calls, |v| v[0] * 2),
        ]),
    );
    for n in 0..4 {
        world.set("n", n);
        fx.run(Materialize::new("*")).await;
    }
    let objects = || {
        let mut files = Vec::new();
        let mut stack = vec![fx.home().join("storage").join("v1")];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap().flatten() {
                if e.path().is_dir() {
                    stack.push(e.path());
                } else {
                    files.push(e.path());
                }
            }
        }
        files
    };
    assert_eq!(objects().len(), 8);
    let keep_two = GcOptions {
        keep_last: 2,
        keep_younger_than: Duration::ZERO,
        grace: Duration::ZERO,
        dry_run: true,
        vacuum: false,
    };
    // A dry run deletes nothing.
    let dry = fx.engine.gc(&keep_two).await.unwrap();
    assert_eq!((dry.pruned.runs, dry.pruned.materializations), (2, 4));
    assert_eq!((dry.objects_deleted, dry.objects_referenced), (4, 4));
    assert_eq!(objects().len(), 8);
    assert_eq!(fx.engine.instance().runs(100).unwrap().len(), 4);

    // A run in progress: the log is pruned but no object is deleted.
    let newest = fx.engine.instance().runs(1).unwrap()[0].clone();
    let me = stemma::instance::ProcessIdentity::current();
    fx.engine
        .instance()
        .append(vec![
            Event::new(
                fx.engine.now(),
                EventKind::RunStarted {
                    selection: "*".into(),
                    partition: None,
                    steps: 0,
                    config: Default::default(),
                    pid: me.pid,
                    host: me.host,
                    process_start: me.start,
                    backfill: None,
                    resumes: None,
                    tags: Default::default(),
                },
            )
            .run(&stemma::RunId::new()),
        ])
        .await
        .unwrap();
    let report = fx
        .engine
        .gc(&GcOptions {
            dry_run: false,
            ..keep_two.clone()
        })
        .await
        .unwrap();
    assert_eq!(report.live_runs, 1);
    assert_eq!((report.objects_deleted, report.objects_spared), (0, 4));
    assert_eq!(report.pruned.materializations, 4);
    assert_eq!(objects().len(), 8);
    let runs = fx.engine.instance().runs(100).unwrap();
    assert!(runs.iter().any(|r| r.run_id == newest.run_id));
    assert_eq!(runs.len(), 3, "two old runs pruned, the live one added");
    // End the live run; now the unreferenced objects go.
    fx.engine
        .instance()
        .append(vec![
            Event::new(
                fx.engine.now(),
                EventKind::RunEnded {
                    status: RunStatus::Success,
                    message: None,
                },
            )
            .run(&runs[0].run_id),
        ])
        .await
        .unwrap();
    let report = fx
        .engine
        .gc(&GcOptions {
            dry_run: false,
            vacuum: true,
            ..keep_two
        })
        .await
        .unwrap();
    assert_eq!((report.objects_deleted, report.objects_referenced), (4, 4));
    assert_eq!(objects().len(), 4);
    // What is current is intact and loads.
    let (run, _) = fx.run(Materialize::new("double").force(true)).await;
    assert_eq!(run.status, RunStatus::Success);
    // Everything still recorded verifies.
    let ok = fx.engine.verify(None, true).await.unwrap();
    assert_eq!((ok.checked, ok.problems.len()), (4, 0));

    // Bytes changed on disk and an object gone: both reported, by asset.
    let counter = fx.latest("counter", None).unwrap();
    std::fs::write(fx.object(counter.location.as_deref().unwrap()), "41").unwrap();
    let double = fx.latest("double", None).unwrap();
    std::fs::remove_file(fx.object(double.location.as_deref().unwrap())).unwrap();
    let bad = fx.engine.verify(None, false).await.unwrap();
    assert_eq!(bad.checked, 2);
    let problems: Vec<(&str, &str)> = bad
        .problems
        .iter()
        .map(|p| (p.asset.as_str(), p.problem.as_str()))
        .collect();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert_eq!(problems[0].0, "counter");
    assert!(problems[0].1.contains("does not match"), "{problems:?}");
    assert!(bad.problems[0].actual.is_some());
    assert_eq!(problems[1].0, "double");
    assert!(problems[1].1.contains("missing"), "{problems:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_read_in_parallel_ranges_equal_one_sweep() {
    let world = World::default();
    let calls = Calls::default();
    let (defs, _) = thousand(&world, &calls);
    let fx = Fixture::new(defs);
    fx.run(Materialize::new("raw").partition("*")).await;
    world.set("p0007", 3);
    fx.run(Materialize::new("*").partition("*")).await;
    fx.run(Materialize::new("raw").partition("p0999").force(true))
        .await;
    let graph = fx.engine.graph();
    let config = fx.engine.config();
    let one = VersionState::load(graph, fx.engine.instance(), config).unwrap();
    for threads in [2, 3, 7] {
        let many =
            VersionState::load_in_ranges(graph, fx.engine.instance(), config, threads).unwrap();
        for n in graph.nodes() {
            let (a, b) = (one.rows_of(n), many.rows_of(n));
            assert_eq!(a.len(), b.len());
            for (x, y) in a.iter().zip(b) {
                assert_eq!(
                    x.as_ref().map(|r| (r.event_id, one.version(r))),
                    y.as_ref().map(|r| (r.event_id, many.version(r))),
                    "{threads} ranges"
                );
            }
        }
        let (s1, s2) = (
            Staleness::compute(graph, &one),
            Staleness::compute(graph, &many),
        );
        for n in graph.nodes() {
            assert_eq!(s1.states_of(n), s2.states_of(n));
        }
    }
    // The sweep saw every materialized partition.
    let raw = graph.node_by_str("raw").unwrap();
    assert_eq!(one.rows_of(raw).iter().flatten().count(), 1000);
}

/// `changed:code`, `changed:deps` and `changed:any` resolved against a real instance: the
/// same home opened with the next version of the code location (one asset's code edited,
/// another reading one more upstream) selects exactly those.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changed_selections_compare_the_code_with_the_instance() {
    let dir = tempfile::tempdir().unwrap();
    let version = |b_code: &str, c_reads_b: bool| {
        let json = |_: &stemma::AssetContext, _: stemma::Inputs| Ok::<_, std::io::Error>(Json(1));
        let mut c = AssetDef::builder("c").input("a").code_version("1");
        if c_reads_b {
            c = c.input("b");
        }
        Definitions::new().assets([
            AssetDef::builder("a")
                .code_version("1")
                .compute_blocking(json)
                .build(),
            AssetDef::builder("b")
                .input("a")
                .code_version(b_code)
                .compute_blocking(json)
                .build(),
            c.compute_blocking(json).build(),
            AssetDef::builder("d")
                .input("c")
                .code_version("1")
                .compute_blocking(json)
                .build(),
        ])
    };
    let open = |defs| {
        stemma_server::open_engine(stemma::AssetGraph::new(defs).unwrap(), dir.path()).unwrap()
    };
    let before = open(version("1", false));
    let outcome = before
        .materialize(Materialize::new("*"), Arc::new(stemma::NoObserver))
        .await
        .unwrap();
    assert_eq!(outcome.status, RunStatus::Success);
    let keys = |engine: &stemma::Engine, selection: &str| -> Vec<String> {
        let (_, set) = engine.select(selection).unwrap();
        set.ones()
            .map(|n| engine.graph().key(stemma::ids::NodeIx::new(n)).to_string())
            .collect()
    };
    for selection in ["changed:code", "changed:deps", "changed:any"] {
        assert!(keys(&before, selection).is_empty(), "{selection}");
    }

    let after = open(version("2", true));
    assert_eq!(keys(&after, "changed:code"), ["b"]);
    assert_eq!(keys(&after, "changed:deps"), ["c"]);
    let mut any = keys(&after, "changed:any");
    any.sort();
    assert_eq!(any, ["b", "c"]);
    // Combined with the rest of the language: what changed and everything below it.
    let mut below = keys(&after, "changed:any+");
    below.sort();
    assert_eq!(below, ["b", "c", "d"]);
}
