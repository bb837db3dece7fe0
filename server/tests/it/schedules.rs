//! Schedules and the daemon on an injected clock: nightly partitioned ticks across a
//! daylight-saving change, catch-up after downtime, start/stop, and two daemons on one
//! instance firing each tick exactly once.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use stemma::daemon::Daemon;
use stemma::event::ManualClock;
use stemma::schedule::{CatchUp, ScheduleDef};
use stemma::{AssetDef, AssetGraph, Definitions, Engine};

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().to_utc()
}

fn defs() -> Definitions {
    defs_from("2026-10-01")
}

/// Two assets partitioned by day in Berlin from `start`, and a nightly schedule at 02:00.
fn defs_from(start: &'static str) -> Definitions {
    let days = move || stemma::TimeWindows::daily(start).timezone("Europe/Berlin");
    Definitions::new()
        .assets([
            AssetDef::builder("events")
                .partitions(days())
                .group("nightly")
                .compute_blocking(|ctx, _| {
                    Ok::<_, stemma::Error>(stemma::Json(
                        ctx.partition_key().unwrap_or_default().to_owned(),
                    ))
                })
                .build(),
            AssetDef::builder("daily_summary")
                .partitions(days())
                .group("nightly")
                .input("events")
                .compute_blocking(|_, inputs| {
                    let events: stemma::Json<String> = inputs.get("events")?;
                    Ok::<_, stemma::Error>(events)
                })
                .build(),
        ])
        .schedule(
            ScheduleDef::new("nightly", "0 2 * * *", "Europe/Berlin")
                .select("group:nightly")
                .latest_completed_partition()
                .catch_up(CatchUp::UpTo(2))
                .running_by_default(),
        )
}

fn engine(home: &std::path::Path, clock: &Arc<ManualClock>) -> Engine {
    engine_of(defs(), home, clock)
}

fn engine_of(defs: Definitions, home: &std::path::Path, clock: &Arc<ManualClock>) -> Engine {
    stemma_server::open_engine(AssetGraph::new(defs).unwrap(), home)
        .unwrap()
        .with_clock(clock.clone())
}

/// Both daemons evaluate at the same moment; returns everything they launched.
async fn evaluate_both(a: &Daemon, b: &Daemon) -> Vec<(String, DateTime<Utc>, Option<String>)> {
    let (ra, rb) = tokio::join!(a.evaluate(), b.evaluate());
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    a.wait_runs().await;
    b.wait_runs().await;
    let mut launched = ra.launched;
    launched.extend(rb.launched);
    launched.sort();
    launched
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_daemons_fire_each_nightly_tick_once_across_dst_and_downtime() {
    crate::init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(utc("2026-10-24T12:00:00Z")));
    let (ea, eb) = (engine(dir.path(), &clock), engine(dir.path(), &clock));
    let (a, b) = (Daemon::new(ea.clone()), Daemon::new(eb));
    assert_ne!(a.id(), b.id());

    // First evaluation: the schedule starts owing nothing.
    assert!(evaluate_both(&a, &b).await.is_empty());

    // Over the autumn change (25 October, 03:00 CEST → 02:00 CET): 02:00 fires once each
    // night, at 00:00 UTC in summer time and 01:00 UTC in winter time.
    clock.set(utc("2026-10-26T12:00:00Z"));
    let launched = evaluate_both(&a, &b).await;
    assert_eq!(
        launched
            .iter()
            .map(|(_, t, p)| (*t, p.clone().unwrap()))
            .collect::<Vec<_>>(),
        [
            (utc("2026-10-25T00:00:00Z"), "2026-10-24".to_owned()),
            (utc("2026-10-26T01:00:00Z"), "2026-10-25".to_owned()),
        ]
    );
    // Evaluating again at the same time fires nothing.
    assert!(evaluate_both(&a, &b).await.is_empty());

    // Down for four nights: catch-up fires the latest two, records the others skipped.
    clock.set(utc("2026-10-30T12:00:00Z"));
    let launched = evaluate_both(&a, &b).await;
    let partitions: Vec<String> = launched.iter().map(|l| l.2.clone().unwrap()).collect();
    assert_eq!(partitions, ["2026-10-28", "2026-10-29"]);

    let instance = ea.instance();
    let ticks = instance.ticks(Some("nightly"), 100).unwrap();
    let states: HashMap<String, usize> = ticks.iter().fold(HashMap::new(), |mut m, t| {
        *m.entry(t.state.clone()).or_insert(0) += 1;
        m
    });
    assert_eq!(states.get("succeeded"), Some(&4), "{ticks:?}");
    assert_eq!(states.get("skipped"), Some(&2), "{ticks:?}");
    assert!(
        ticks
            .iter()
            .filter(|t| t.state == "succeeded")
            .all(|t| t.run_id.is_some())
    );
    // Exactly one run per fired tick, each materializing both assets of its night.
    let runs = instance.runs(100).unwrap();
    assert_eq!(runs.len(), 4);
    assert!(
        runs.iter()
            .all(|r| r.status == stemma::RunStatus::Success && r.steps == 2)
    );
    let key = stemma::AssetKey::parse("daily_summary").unwrap();
    for day in ["2026-10-24", "2026-10-25", "2026-10-28", "2026-10-29"] {
        let p = stemma::PartitionKey::new(day).unwrap();
        assert!(instance.latest(&key, Some(&p)).unwrap().is_some(), "{day}");
    }

    // Stopped, nothing fires; started again, the stopped nights are not owed.
    ea.set_schedule_running("nightly", false).await.unwrap();
    clock.set(utc("2026-11-02T12:00:00Z"));
    assert!(evaluate_both(&a, &b).await.is_empty());
    ea.set_schedule_running("nightly", true).await.unwrap();
    assert!(evaluate_both(&a, &b).await.is_empty());
    clock.set(utc("2026-11-03T12:00:00Z"));
    let launched = evaluate_both(&a, &b).await;
    assert_eq!(launched.len(), 1);
    assert_eq!(launched[0].2.as_deref(), Some("2026-11-02"));
    // Both daemons left heartbeats.
    assert_eq!(instance.heartbeats().unwrap().len(), 2);
}

/// Across the spring change (29 March 2026, 02:00 CET → 03:00 CEST) the nightly 02:00 falls
/// in the hour that does not exist: the daemon still fires once that night, for the day
/// before — no night is lost and none fires twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_fires_once_on_the_night_the_clocks_spring_forward() {
    crate::init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(utc("2026-03-27T12:00:00Z")));
    let daemon = Daemon::new(engine_of(defs_from("2026-03-01"), dir.path(), &clock));
    let evaluate = || async {
        let evaluated = daemon.evaluate().await.unwrap();
        daemon.wait_runs().await;
        evaluated
            .launched
            .into_iter()
            .map(|(_, tick, partition)| (tick, partition.unwrap()))
            .collect::<Vec<_>>()
    };
    assert!(
        evaluate().await.is_empty(),
        "the first evaluation owes nothing"
    );
    let mut fired = Vec::new();
    for noon in [
        "2026-03-28T12:00:00Z",
        "2026-03-29T12:00:00Z",
        "2026-03-30T12:00:00Z",
    ] {
        clock.set(utc(noon));
        let launched = evaluate().await;
        assert_eq!(
            launched.len(),
            1,
            "one tick the night before {noon}: {launched:?}"
        );
        fired.extend(launched);
        assert!(evaluate().await.is_empty(), "nothing more at {noon}");
    }
    let partitions: Vec<&str> = fired.iter().map(|(_, p)| p.as_str()).collect();
    assert_eq!(partitions, ["2026-03-27", "2026-03-28", "2026-03-29"]);
    // 02:00 CET is 01:00 UTC; on the night of the change 02:00 does not exist and the tick
    // comes at 03:00 CEST, the next minute that does (also 01:00 UTC); 02:00 CEST is 00:00 UTC.
    assert_eq!(fired[0].0, utc("2026-03-28T01:00:00Z"));
    assert_eq!(fired[1].0, utc("2026-03-29T01:00:00Z"), "{fired:?}");
    assert_eq!(fired[2].0, utc("2026-03-30T00:00:00Z"));
}

#[test]
fn bad_schedules_are_refused_with_their_name() {
    let err = AssetGraph::new(
        defs()
            .schedule(ScheduleDef::new("typo", "0 25 * * *", "Europe/Berlin"))
            .schedule(ScheduleDef::new("unpartitioned", "0 2 * * *", "UTC").select("events")),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("schedule typo: cron expression \"0 25 * * *\""),
        "{err}"
    );
    assert!(
        err.contains("schedule unpartitioned: its selection has partitioned assets"),
        "{err}"
    );
}
