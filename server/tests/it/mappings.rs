//! Partition mappings beyond identity: static key maps, per-dimension mappings between
//! multi-dimensional assets (and between one and an asset partitioned like one of its
//! dimensions), an asset reading its own earlier partitions, dynamic keys as a dimension, and
//! cron-cadence windows feeding daily ones.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use stemma::spec::{DynamicPartitions, PartitionMapping};
use stemma::staleness::Freshness;
use stemma::{
    AssetDef, Definitions, Json, Materialize, MultiPartitions, PartitionsDefinition, RunStatus,
    TimeWindows,
};

use crate::Fixture;

/// Stores its partition key as JSON.
fn key_echo(name: &str, partitions: impl Into<PartitionsDefinition>) -> stemma::AssetBuilder {
    AssetDef::builder(name)
        .partitions(partitions.into())
        .code_version("1")
        .compute_blocking(|ctx, _| {
            Ok::<_, stemma::Error>(Json(ctx.partition_key().unwrap_or_default().to_owned()))
        })
}

/// Passes its one input through.
fn pass_through(name: &str, input: &'static str) -> stemma::AssetBuilder {
    AssetDef::builder(name)
        .code_version("1")
        .compute_blocking(move |_, inputs| {
            // Nothing (null) when the mapping reads no partition.
            let v: Option<Json<serde_json::Value>> = inputs.get(input)?;
            Ok::<_, stemma::Error>(Json(v.map(|j| j.0)))
        })
}

fn json(fx: &Fixture, asset: &str, partition: Option<&str>) -> serde_json::Value {
    let m = fx
        .latest(asset, partition)
        .unwrap_or_else(|| panic!("{asset} {partition:?} is not materialized"));
    let bytes = std::fs::read(fx.object(m.location.as_deref().unwrap())).unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn graph_error(defs: Definitions) -> String {
    stemma::AssetGraph::new(defs).unwrap_err().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_maps_feed_named_keys() {
    let sites = || PartitionsDefinition::static_keys(["eu-west", "eu-central", "us-east"]);
    let regions = || PartitionsDefinition::static_keys(["eu", "us", "apac"]);
    let map = || {
        PartitionMapping::static_map([("eu-west", "eu"), ("eu-central", "eu"), ("us-east", "us")])
    };
    let fx = Fixture::new(
        Definitions::new().assets([
            key_echo("site_logs", sites()).build(),
            pass_through("region_logs", "site_logs")
                .partitions(regions())
                .input_mapped("site_logs", map())
                .build(),
        ]),
    );
    let (outcome, _) = fx.run(Materialize::new("*").partition("*")).await;
    assert_eq!(outcome.status, RunStatus::Success, "{outcome:?}");
    assert_eq!(outcome.succeeded, 6);
    assert_eq!(
        json(&fx, "region_logs", Some("eu")),
        serde_json::json!({"eu-west": "eu-west", "eu-central": "eu-central"})
    );
    assert_eq!(
        json(&fx, "region_logs", Some("us")),
        serde_json::json!({"us-east": "us-east"})
    );
    assert_eq!(
        json(&fx, "region_logs", Some("apac")),
        serde_json::Value::Null,
        "nobody feeds apac"
    );

    // A key that is not a partition is named when the definitions load.
    let err = graph_error(
        Definitions::new().assets([
            key_echo("site_logs", sites()).build(),
            pass_through("region_logs", "site_logs")
                .partitions(regions())
                .input_mapped(
                    "site_logs",
                    PartitionMapping::static_map([("eu-north", "eu"), ("us-east", "usa")]),
                )
                .build(),
        ]),
    );
    assert!(
        err.contains("asset region_logs: reads site_logs through a static mapping where upstream key \"eu-north\" is not one of its partitions, downstream key \"usa\""),
        "{err}"
    );
}

/// Three dimensions (day × region × device): each dimension mapped on its own — yesterday of
/// the same region and device; every device of a day and region; a daily asset reading every
/// key of its day; a day × region asset reading a daily one by its day.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_dimension_mappings() {
    let days = || TimeWindows::daily("2026-01-01").end("2026-01-04");
    let regions = || PartitionsDefinition::static_keys(["eu", "us"]);
    let devices = || PartitionsDefinition::static_keys(["ios", "web"]);
    let three = || {
        MultiPartitions::new([
            ("day", days().into()),
            ("region", regions()),
            ("device", devices()),
        ])
    };
    let two = || MultiPartitions::new([("day", days().into()), ("region", regions())]);
    // Its key, with a suffix once the test changes the data.
    let suffix = Arc::new(std::sync::Mutex::new(String::new()));
    let s = Arc::clone(&suffix);
    let fx = Fixture::new(
        Definitions::new().assets([
            AssetDef::builder("events")
                .partitions(three())
                .code_version("1")
                .compute_blocking(move |ctx, _| {
                    let key = ctx.partition_key().unwrap_or_default();
                    Ok::<_, stemma::Error>(Json(format!("{key}{}", s.lock().unwrap())))
                })
                .build(),
            pass_through("lagged", "events")
                .partitions(three())
                .input_mapped(
                    "events",
                    PartitionMapping::dimensions([
                        ("day", "day", PartitionMapping::Offset(-1)),
                        ("region", "region", PartitionMapping::Identity),
                        ("device", "device", PartitionMapping::Identity),
                    ]),
                )
                .build(),
            pass_through("by_region", "events")
                .partitions(two())
                .input_mapped(
                    "events",
                    PartitionMapping::dimensions([
                        ("day", "day", PartitionMapping::Identity),
                        ("region", "region", PartitionMapping::Identity),
                    ]),
                )
                .build(),
            // No mapping declared: a daily asset reads the `day` dimension.
            pass_through("daily", "events")
                .partitions(days())
                .input("events")
                .build(),
            key_echo("weather", days()).build(),
            pass_through("weather_by_region", "weather")
                .partitions(two())
                .input("weather")
                .build(),
        ]),
    );
    let (outcome, _) = fx.run(Materialize::new("*").partition("*")).await;
    assert_eq!(outcome.status, RunStatus::Success, "{outcome:?}");
    assert_eq!(outcome.succeeded, 12 + 12 + 6 + 3 + 3 + 6);

    assert_eq!(
        json(&fx, "lagged", Some("2026-01-03|us|web")),
        "2026-01-02|us|web"
    );
    assert_eq!(
        json(&fx, "lagged", Some("2026-01-01|us|web")),
        serde_json::Value::Null
    );
    assert_eq!(
        json(&fx, "by_region", Some("2026-01-02|eu")),
        serde_json::json!({"2026-01-02|eu|ios": "2026-01-02|eu|ios", "2026-01-02|eu|web": "2026-01-02|eu|web"})
    );
    let daily = json(&fx, "daily", Some("2026-01-03"));
    let keys: Vec<&String> = daily.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "2026-01-03|eu|ios",
            "2026-01-03|eu|web",
            "2026-01-03|us|ios",
            "2026-01-03|us|web"
        ]
    );
    assert_eq!(
        json(&fx, "weather_by_region", Some("2026-01-02|us")),
        "2026-01-02"
    );

    // Changing one key makes exactly the partitions that read it stale.
    suffix.lock().unwrap().push_str(" v2");
    let (outcome, _) = fx
        .run(
            Materialize::new("events")
                .partition("2026-01-02|eu|web")
                .force(true),
        )
        .await;
    assert_eq!(outcome.status, RunStatus::Success);
    let (_, staleness) = fx.engine.staleness().unwrap();
    let stale = |asset: &str| -> Vec<String> {
        let node = fx.engine.graph().lookup(asset).unwrap();
        let def = fx.engine.graph().spec(node).partitions.clone().unwrap();
        staleness
            .states_of(node)
            .iter()
            .enumerate()
            .filter(|(_, s)| s.freshness == Freshness::Stale)
            .map(|(i, _)| def.key_at(i).unwrap().to_string())
            .collect()
    };
    assert_eq!(stale("lagged"), ["2026-01-03|eu|web"]);
    assert_eq!(stale("by_region"), ["2026-01-02|eu"]);
    assert_eq!(stale("daily"), ["2026-01-02"]);
    assert!(stale("weather_by_region").is_empty());

    // A mapping naming a dimension that does not exist is a definition error.
    let err = graph_error(
        Definitions::new().assets([
            key_echo("events", three()).build(),
            pass_through("by_region", "events")
                .partitions(two())
                .input_mapped(
                    "events",
                    PartitionMapping::dimensions([("day", "date", PartitionMapping::Identity)]),
                )
                .build(),
        ]),
    );
    assert!(
        err.contains("reads events through a per-dimension mapping where it has no downstream dimension \"date\""),
        "{err}"
    );
    // Two dimensions partitioned like the reader: which one is not guessed.
    let err = graph_error(
        Definitions::new().assets([
            key_echo(
                "pairs",
                MultiPartitions::new([("from", regions()), ("to", regions())]),
            )
            .build(),
            pass_through("per_region", "pairs")
                .partitions(regions())
                .input("pairs")
                .build(),
        ]),
    );
    assert!(
        err.contains("assets that depend on each other must share their partitions"),
        "{err}"
    );
}

/// A cumulative asset: each day is the previous day's total plus that day's events. It runs
/// day after day within one run, reads the stored day before a partial backfill, and goes
/// stale from the first changed day on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_asset_reads_its_own_earlier_partitions() {
    let days = || TimeWindows::daily("2026-01-01").end("2026-01-06");
    let bump = Arc::new(AtomicI64::new(0));
    let b = Arc::clone(&bump);
    let defs = move |b: Arc<AtomicI64>| {
        Definitions::new().assets([
            AssetDef::builder("events")
                .partitions(days())
                .code_version("1")
                .compute_blocking(move |ctx, _| {
                    let day = ctx.partition_key().unwrap_or_default();
                    let n: i64 = day[8..].parse().unwrap();
                    Ok::<_, stemma::Error>(Json(n * 10 + b.load(Ordering::SeqCst)))
                })
                .build(),
            AssetDef::builder("total")
                .partitions(days())
                .code_version("1")
                .input("events")
                .input_mapped("total", PartitionMapping::Offset(-1))
                .compute_blocking(|_, inputs| {
                    let today: Json<i64> = inputs.get("events")?;
                    let before: Option<Json<i64>> = inputs.get("total")?;
                    Ok::<_, stemma::Error>(Json(today.0 + before.map_or(0, |j| j.0)))
                })
                .build(),
        ])
    };
    let fx = Fixture::new(defs(b));
    let (outcome, _) = fx.run(Materialize::new("*").partition("*")).await;
    assert_eq!(outcome.status, RunStatus::Success, "{outcome:?}");
    assert_eq!(json(&fx, "total", Some("2026-01-05")), 150);
    assert_eq!(json(&fx, "total", Some("2026-01-01")), 10);

    // Day 3 changes: days 3–5 of the total are stale (4 and 5 through the total itself).
    bump.store(1, Ordering::SeqCst);
    let (outcome, _) = fx
        .run(
            Materialize::new("events")
                .partition("2026-01-03")
                .force(true),
        )
        .await;
    assert_eq!(outcome.status, RunStatus::Success);
    let (_, staleness) = fx.engine.staleness().unwrap();
    let node = fx.engine.graph().lookup("total").unwrap();
    let fresh: Vec<Freshness> = staleness
        .states_of(node)
        .iter()
        .map(|s| s.freshness)
        .collect();
    assert_eq!(
        fresh,
        [
            Freshness::Fresh,
            Freshness::Fresh,
            Freshness::Stale,
            Freshness::Stale,
            Freshness::Stale
        ]
    );

    // A backfill from day 3 reads the stored day 2 and runs the days in order.
    let (outcome, _) = fx
        .run(Materialize::new("total").partition_range("2026-01-03", "2026-01-05"))
        .await;
    assert_eq!(outcome.status, RunStatus::Success, "{outcome:?}");
    assert_eq!(json(&fx, "total", Some("2026-01-05")), 151);
    let (_, staleness) = fx.engine.staleness().unwrap();
    assert!(
        staleness
            .states_of(node)
            .iter()
            .all(|s| s.freshness == Freshness::Fresh)
    );

    // Reading itself other than through a negative offset is refused.
    let err = graph_error(
        Definitions::new().assets([AssetDef::builder("loop")
            .partitions(days())
            .input("loop")
            .compute_blocking(|_, _| Ok::<_, stemma::Error>(()))
            .build()]),
    );
    assert!(
        err.contains(
            "asset loop: depends on itself; an asset may read only its own earlier partitions"
        ),
        "{err}"
    );
}

/// Dynamic keys as one dimension of a multi-dimensional asset: the product grows as keys are
/// added.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamic_keys_as_a_dimension() {
    let parts = || {
        MultiPartitions::new([
            (
                "day",
                TimeWindows::daily("2026-01-01").end("2026-01-03").into(),
            ),
            ("customer", DynamicPartitions::new("customers").into()),
        ])
    };
    let fx = Fixture::new(Definitions::new().assets([key_echo("orders", parts()).build()]));
    let keys = |k: &[&str]| k.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    fx.engine
        .add_dynamic_partitions("customers", &keys(&["acme", "globex"]))
        .await
        .unwrap();
    let (outcome, _) = fx.run(Materialize::new("orders").partition("*")).await;
    assert_eq!(outcome.status, RunStatus::Success, "{outcome:?}");
    assert_eq!(outcome.succeeded, 4);
    assert_eq!(
        json(&fx, "orders", Some("2026-01-02|globex")),
        "2026-01-02|globex"
    );

    fx.engine
        .add_dynamic_partitions("customers", &keys(&["initech"]))
        .await
        .unwrap();
    let (outcome, _) = fx
        .run(Materialize::new("orders").partition("2026-01-01|initech"))
        .await;
    assert_eq!(outcome.succeeded, 1);
    let err = fx
        .engine
        .plan(&Materialize::new("orders").partition("2026-01-01|hooli"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("dimension customer"), "{err}");
}

/// Weekday windows at 06:00 (a cron cadence) read by daily windows: each day reads the
/// weekday windows overlapping it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cron_windows_feed_daily_windows() {
    let shifts = || {
        TimeWindows::cron("0 6 * * MON-FRI", "2026-01-01")
            .timezone("Europe/Berlin")
            .end("2026-01-10")
    };
    let days = || {
        TimeWindows::daily("2026-01-02")
            .timezone("Europe/Berlin")
            .end("2026-01-07")
    };
    let fx = Fixture::new(
        Definitions::new().assets([
            key_echo("shift_report", shifts()).build(),
            pass_through("daily_report", "shift_report")
                .partitions(days())
                .input("shift_report")
                .build(),
        ]),
    );
    let (outcome, _) = fx.run(Materialize::new("*").partition("*")).await;
    assert_eq!(outcome.status, RunStatus::Success, "{outcome:?}");
    // 1, 2, 5, 6, 7, 8 January (the window from the 9th ends on the 12th).
    assert_eq!(outcome.succeeded, 6 + 5);
    let sat = json(&fx, "daily_report", Some("2026-01-03"));
    assert_eq!(
        sat,
        serde_json::json!({"2026-01-02-06:00": "2026-01-02-06:00"})
    );
    let mon = json(&fx, "daily_report", Some("2026-01-05"));
    assert_eq!(
        mon,
        serde_json::json!({"2026-01-02-06:00": "2026-01-02-06:00", "2026-01-05-06:00": "2026-01-05-06:00"})
    );
}
